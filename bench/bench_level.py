"""Levelling lines before reading them: what `preprocess_line`'s `level` step is worth, with the same weights.

    python bench/bench_level.py [--weights FILE] [--json OUT]

`preprocess_line` levels each line first (`estimate_tilt`, `untilt`: a line cut from an unruled page climbs or drops a
few degrees, and measured tilted its core is too tall, so its letters are scaled too small). This reads the same lines
and pages twice with the same network, once with `level=False` (hwr before 2026-12-07) and once as shipped, greedy
and with beam `LM_BEAM_WIDTH` + the shipped LM:

- the real dev lines and pages (../shared/realink-dev, when present);
- the kept lines of the CSAFE LND test pages, and all 47 LND test pages whole (`hwr.segment` cuts them: the cut
  does not depend on the levelling, so each page's lines are cut once and prepared both ways);
- how far the lines tilt: the median and the 90th percentile of `estimate_tilt`'s answer, in degrees.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys
from pathlib import Path
from typing import Sequence

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_realink import LM_BEAM_WIDTH, LM_RUN, load_pages, load_realink   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WAYS = {'not levelled': False, 'levelled': True}   # level=False is hwr before 2026-12-07


def prepare(lp, images: Sequence, level: bool) -> list[np.ndarray]:
    "Each image as the network sees it, levelled or not."
    from hwr.preprocess import preprocess_line
    return [preprocess_line(im, lp.invert, height=lp.height, level=level) for im in images]


def read(lp, lm, lines: Sequence[np.ndarray]) -> dict[str, list[str]]:
    "Greedy and beam + LM readings of prepared lines."
    out = {}
    for name, beam, model in (('greedy', 1, None), (LM_RUN, LM_BEAM_WIDTH, lm)):
        lp.lm = model
        out[name] = [t for t, _ in lp.read_prepared(lines, beam)]
    lp.lm = None
    return out


def line_cer(lp, lm, images: Sequence, texts: Sequence[str]) -> dict:
    from hwr.metrics import cer
    return {way: {k: round(float(cer(list(texts), v)), 4) for k, v in read(lp, lm, prepare(lp, images, level)).items()}
            for way, level in WAYS.items()}


def page_cer(lp, lm, pages: Sequence[Sequence], truths: Sequence[str]) -> dict:
    "`pages`: each page's line images (cut once); its reading is its lines joined by spaces."
    from hwr.metrics import cer
    out = {}
    for way, level in WAYS.items():
        flat = prepare(lp, [im for pg in pages for im in pg], level)
        readings = read(lp, lm, flat)
        out[way] = {}
        for k, texts in readings.items():
            joined, i = [], 0
            for pg in pages: joined.append(' '.join(texts[i:i + len(pg)])); i += len(pg)
            out[way][k] = round(float(cer(list(truths), joined)), 4)
    return out


def tilts(images: Sequence) -> dict:
    from hwr.preprocess import estimate_tilt, ink_box, ink_on_black, load_image
    deg = []
    for im in images:
        ink = ink_on_black(load_image(im))
        t, b, l, r = ink_box(ink)
        deg.append(abs(np.degrees(np.arctan(estimate_tilt(ink[t:b, l:r])))))
    return {'lines': len(deg), 'median_deg': round(float(np.median(deg)), 2), 'p90_deg': round(float(np.quantile(deg, 0.9)), 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--weights', default=None, help='line weights (default: the shipped ones)')
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'level.json'), help='results file')
    a = ap.parse_args(argv)
    from hwr.lm import load_lm
    from hwr.predict import LinePredictor
    from hwr.segment import segment_lines
    lp, lm = LinePredictor(a.weights), load_lm('shipped')
    res = {'date': datetime.date.today().isoformat(), 'weights': a.weights or 'shipped'}
    from hwr.preprocess import load_image          # each line file read once, then prepared both ways and measured
    dev = load_realink()
    if dev is not None:
        images = [load_image(l['path']) for l in dev]
        res['dev_lines'] = {**line_cer(lp, lm, images, [l['text'] for l in dev]), 'tilt': tilts(images)}
        print('dev lines', json.dumps(res['dev_lines']), flush=True)
        pages = load_pages()
        if pages:
            cut = [[l.image for l in segment_lines(p['path'])] for p in pages]
            res['dev_pages'] = page_cer(lp, lm, cut, [' '.join(p['texts']) for p in pages])
            print('dev pages', json.dumps(res['dev_pages']), flush=True)
    from bench.bench_csafe import test_lines, test_pages
    pages = test_pages()
    if pages is not None:
        rows = test_lines(pages)
        images = [load_image(r[0]) for r in rows]
        res['csafe_lines'] = {**line_cer(lp, lm, images, [r[1] for r in rows]), 'tilt': tilts(images)}
        print('CSAFE LND test lines', json.dumps(res['csafe_lines']), flush=True)
        cut = [[l.image for l in segment_lines(p['path'])] for p in pages]
        res['csafe_pages'] = {'pages': len(pages), **page_cer(lp, lm, cut, [p['text'] for p in pages])}
        print('CSAFE LND test pages', json.dumps(res['csafe_pages']), flush=True)
    path = Path(a.json)
    tmp = path.with_suffix('.part'); tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
