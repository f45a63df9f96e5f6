"""Test-time augmentation: does reading each line several ways, then combining, pay for its time? (`bench_tta.py` tried widths.)

    python bench/bench_tta_variants.py [--weights FILE] [--json OUT]

Every line is prepared the shipped way (`preprocess_line`) and in six variants of it: strokes thickened to
three quarters of the shipped pen width and to 1.35 times it (`preprocess_line` only thickens, so the first
changes only lines written with a thinner pen than that; both have the base's width in frames, so the network's outputs line up
frame by frame), the ink's core a tenth smaller and larger, and the writing sheared about 8.5 degrees either way
from the slant hwr estimates (these four have other numbers of frames). The readings combined:

- **mean strokes**: the average of the three stroke variants' per-frame probabilities, decoded once;
- **most confident**: of all seven, the reading the network is surest of (`line_confidence` of its greedy path);
- **most confident + mean strokes**: the same choice, with the stroke average as an eighth candidate.

Each is decoded greedy and with beam `LM_BEAM_WIDTH` + the shipped LM (the LM decodes only the chosen
probabilities, so its cost per line does not grow). Read on the real dev lines (../shared/realink-dev) and on
the kept lines of the CSAFE LND test pages; the cost is the network's time per line for all variants against one.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys, time
from pathlib import Path
from typing import Sequence

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_realink import LM_BEAM_WIDTH, LM_RUN, load_realink   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# each variant: preprocess_line's arguments, as factors of the shipped stroke width and core height
# and, for 'slant', a shear added to the estimated slant (x shift per row: 0.15 is about 8.5 degrees)
VARIANTS = {'base': {}, 'thin': {'stroke': 0.75}, 'thick': {'stroke': 1.35}, 'small': {'core': 0.9}, 'large': {'core': 1.1},
            'lean left': {'slant': -0.15}, 'lean right': {'slant': 0.15}}
STROKES = ('base', 'thin', 'thick')      # the variants of the same width, averaged frame by frame


def prepare_variants(image, invert, height: int) -> dict[str, np.ndarray]:
    "The uint8 line image of `image` in every variant of VARIANTS."
    import hwr.preprocess as pre
    core = pre.LINE_CORE_FRACTION * height
    stroke = max(pre.LINE_STROKE, pre.LINE_STROKE_FRACTION * core)
    img = pre.load_image(image)
    slant = pre.line_slant(img, invert)                  # estimated once; each variant reads at it plus its own shear
    return {name: pre.preprocess_line(img, invert, height=height, core_height=core * v.get('core', 1.0), stroke=stroke * v.get('stroke', 1.0),
                                      slant=slant + v.get('slant', 0.0))
            for name, v in VARIANTS.items()}


def network_outputs(lp, lines: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    "Each variant's (frames, classes) probabilities, padding frames dropped."
    from hwr.models.line import prepare_lines
    out = {}
    for name, a in lines.items():
        x = prepare_lines([a], lp.height)
        p = np.asarray(lp._run(x))[0]
        out[name] = p[:int(np.ceil(a.shape[1] * p.shape[0] / x.shape[2]))]
    return out


def combine(probs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    "The probabilities each combination decodes: the base alone, the stroke mean, and the most confident of the candidates."
    from hwr.decode import decode_lines, line_confidence
    mean = np.mean([probs[k] for k in STROKES], axis=0) if len({probs[k].shape for k in STROKES}) == 1 else probs['base']
    def surest(cands):
        conf = [line_confidence(p, chars) for p, (_, chars) in zip(cands, decode_lines(cands, 'greedy'))]
        return cands[int(np.argmax(conf))]
    return {'base': probs['base'], 'mean strokes': mean, 'most confident': surest(list(probs.values())),
            'most confident + mean strokes': surest([*probs.values(), mean])}


def read(lp, images: Sequence, texts: Sequence[str], lm) -> dict:
    "CER of every combination, greedy and with the LM, and the network's time per line (one variant, all of them)."
    from hwr.decode import decode_lines
    from hwr.metrics import cer
    chosen, t_net, n = {}, 0.0, 0
    for image in images:
        lines = prepare_variants(image, lp.invert, lp.height)
        t = time.perf_counter()
        probs = network_outputs(lp, lines)
        t_net += time.perf_counter() - t; n += 1
        for k, p in combine(probs).items(): chosen.setdefault(k, []).append(p)
    out = {'lines': n, 'network_ms_per_line': {'one variant': round(1000 * t_net / n / len(VARIANTS), 1),
                                               'all variants': round(1000 * t_net / n, 1)}}
    for k, ps in chosen.items():
        greedy = [t for t, _ in decode_lines(ps, 'greedy')]
        with_lm = [t for t, _ in decode_lines(ps, 'beam_search', LM_BEAM_WIDTH, lm)]
        out[k] = {'greedy': round(float(cer(list(texts), greedy)), 4), LM_RUN: round(float(cer(list(texts), with_lm)), 4)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--weights', default=None, help='line weights (default: the shipped ones)')
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'tta_variants.json'), help='results file')
    a = ap.parse_args(argv)
    from hwr.lm import load_lm
    from hwr.predict import LinePredictor
    lp, lm = LinePredictor(a.weights), load_lm('shipped')
    res = {'date': datetime.date.today().isoformat(), 'weights': a.weights or 'shipped', 'variants': VARIANTS}
    dev = load_realink()
    if dev is not None:
        res['dev_lines'] = read(lp, [l['path'] for l in dev], [l['text'] for l in dev], lm)
        print('dev lines', json.dumps(res['dev_lines']), flush=True)
    from bench.bench_csafe import test_lines, test_pages
    pages = test_pages()
    if pages is not None:
        rows = test_lines(pages)
        res['csafe_lines'] = read(lp, [r[0] for r in rows], [r[1] for r in rows], lm)
        print('CSAFE LND test lines', json.dumps(res['csafe_lines']), flush=True)
    path = Path(a.json)
    tmp = path.with_suffix('.part'); tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
