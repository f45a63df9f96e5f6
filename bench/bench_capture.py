"""Pages as people capture them: the CSAFE test pages read again after the changes a scanner, a phone or the paper makes.

    python bench/bench_capture.py [--pages N] [--only NAME ...] [--json OUT]

Every condition is made from the first `--pages` LND test pages of the CSAFE mirror (writers outside every training
split, 12 by default), read whole by `hwr.predict.PagePredictor`, greedy and beam + LM, and scored like
`bench_csafe.py` (the page's lines joined by spaces against the prompt the writer copied), as hwr reads today
(`hwr` in the record) and, for some conditions, with one of its steps switched off or on:

- **resolution**: the page scaled to a half, a third and a quarter (300 dpi scans read as 150, 100 and 75 dpi);
- **a page put on the scanner askew**: turned 2° and -4°;
- **compression and noise**: JPEG at quality 20; Gaussian noise (sigma 15 of 255);
- **light and colour**: light that fades across the page to 55% (a phone photo), grey paper and weak ink (low
  contrast), and a warm-tinted colour photo;
- **ruled paper**: two-pixel grey rules every 90 rows; the same turned 2°; three-pixel dark rules every 85 rows;
  the grey rules with a margin line down the left. Ruled conditions are also read with `remove_rules` switched off
  (`rules left`), to show what taking the rules out buys;
- **a page photographed on a table**: a dark frame (60 of 255) 150 pixels wide all round; the page turned 3° on
  it (the table in the corners); the table along the left side only. These are also read with `fill_surroundings`
  switched off (`surroundings left`);
- **a page that does not lie flat**: rows displaced by up to 40 and 80 pixels, most in the middle of the page
  (a sine across its width, as a curled page photographed from above). hwr undoes each line's bend (`estimate_bend`,
  `unbend`); these, and the page as scanned, are also read with `LINE_UNBEND` off (`left bent`).

`--only NAME ...` with `--json` keeps the other conditions already recorded in the file.

Nothing here trains or tunes on these pages.
"""
from __future__ import annotations
import argparse, contextlib, datetime, io, json, os, sys, time
from unittest import mock
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_csafe import _cer, line_counts, test_pages   # noqa: E402
from bench.bench_realink import LM_BEAM_WIDTH, LM_RUN            # noqa: E402



def scaled(f: float):
    return lambda im: im.resize((round(im.width * f), round(im.height * f)), Image.LANCZOS)

def turned(degrees: float, fill: int = 255):
    "Turned by `degrees`, the corners it uncovers `fill` (white paper; a table's grey when the photo is turned)."
    return lambda im: im.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=fill)

def jpeg(quality: int):
    def f(im):
        buf = io.BytesIO(); im.save(buf, 'JPEG', quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert('L')
    return f

def shaded(im):
    "Light that fades from 95% at the bottom right to 55% at the top left, on paper at 210 of 255."
    a = np.asarray(im, np.float32) / 255
    yy, xx = np.mgrid[0:im.height, 0:im.width]
    light = 0.55 + 0.4 * (0.6 * xx / im.width + 0.4 * yy / im.height)
    return Image.fromarray(np.clip(a * 210 * light, 0, 255).astype(np.uint8))

def low_contrast(im):
    "Paper at 200, the darkest ink at 110."
    return Image.fromarray((110 + np.asarray(im, np.float32) / 255 * 90).astype(np.uint8))

def noisy(im, sigma: float = 15.0, seed: int = 0):
    a = np.asarray(im, np.float32) + np.random.default_rng(seed).normal(0, sigma, (im.height, im.width))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

def colour_photo(im):
    "The shaded page, tinted warm (RGB)."
    a = np.asarray(shaded(im), np.float32)
    return Image.fromarray(np.clip(np.stack([a, 0.95 * a, 0.85 * a], -1), 0, 255).astype(np.uint8), 'RGB')

def ruled(im, every: int = 90, thick: int = 2, grey: int = 170, first: int = 0):
    "Rules `thick` rows thick, `grey` dark, every `every` rows, across the whole page (ink stays on top)."
    a = np.asarray(im).copy()
    for d in range(thick): a[first + d::every] = np.minimum(a[first + d::every], grey)
    return Image.fromarray(a)

def on_a_table(im, pad: int = 150, grey: int = 60, sides: str = 'all'):
    "The page on a dark table: `pad` pixels of `grey` all round, or along the left side only (`sides='left'`)."
    a = np.asarray(im)
    top, left = (pad, pad) if sides == 'all' else (0, pad)
    out = np.full((a.shape[0] + 2 * top, a.shape[1] + (2 * pad if sides == 'all' else pad)), grey, np.uint8)
    out[top:top + a.shape[0], left:left + a.shape[1]] = a
    return Image.fromarray(out)

def curled(amp: float):
    "Each column moved up by `amp` × sin(pi x / width) rows: the page bowed, most in the middle."
    def f(im):
        a = np.asarray(im).astype(np.float32)
        xx, yy = np.meshgrid(np.arange(a.shape[1], dtype=np.float32), np.arange(a.shape[0], dtype=np.float32))
        return Image.fromarray(cv2.remap(a, xx, yy + amp * np.sin(np.pi * xx / a.shape[1]), cv2.INTER_LINEAR, borderValue=255).astype(np.uint8))
    return f

def with_margin(im, x: int = 150, grey: int = 150):
    "A two-pixel margin line down the page at column `x`."
    a = np.asarray(im).copy(); a[:, x:x + 2] = np.minimum(a[:, x:x + 2], grey)
    return Image.fromarray(a)

CONDITIONS = {
    'original': lambda im: im,
    'half size': scaled(1 / 2), 'a third the size': scaled(1 / 3), 'a quarter the size': scaled(1 / 4),
    'turned 2°': turned(2), 'turned -4°': turned(-4),
    'JPEG 20': jpeg(20), 'noise 15': noisy,
    'shaded': shaded, 'low contrast': low_contrast, 'colour photo': colour_photo,
    'ruled': ruled, 'ruled, turned 2°': lambda im: turned(2)(ruled(im)),
    'ruled dark': lambda im: ruled(im, every=85, thick=3, grey=110), 'ruled with a margin line': lambda im: with_margin(ruled(im)),
    'on a table': on_a_table, 'on a table, turned 3°': turned(3, fill=60),
    'table along one side': lambda im: on_a_table(im, pad=200, grey=50, sides='left'),
    'curled 40 px': curled(40), 'curled 80 px': curled(80),
}
RULED = [k for k in CONDITIONS if k.startswith('ruled')]
TABLE = [k for k in CONDITIONS if 'table' in k]
BENT = ['original'] + [k for k in CONDITIONS if k.startswith('curled')]


def _switched(*targets) -> contextlib.ExitStack:
    "Inside: each (module, name, value) of `targets` set to its value; as it was after."
    stack = contextlib.ExitStack()
    for module, name, value in targets: stack.enter_context(mock.patch.object(module, name, value))
    return stack


def rules_left():
    "Inside: `segment_lines` and `preprocess_line` leave rules in (`remove_rules` does nothing), as before it existed."
    import hwr.preprocess as pre, hwr.segment as seg
    return _switched(*((m, 'remove_rules', _unchanged) for m in (pre, seg)))


def left_bent():
    "Inside: `preprocess_line` levels lines but leaves their bends (`LINE_UNBEND` off), as before unbending was on."
    import hwr.preprocess as pre
    return _switched((pre, 'LINE_UNBEND', False))


def surroundings_left():
    "Inside: `ink_on_black` leaves dark surroundings as they are (`fill_surroundings` does nothing), as before it existed."
    import hwr.preprocess as pre
    return _switched((pre, 'fill_surroundings', _unchanged))


def _unchanged(image, *args, **kwargs): return image


def read(reader, lm, images: list, truths: list[str], counted: list) -> dict:
    "Page CER greedy and beam + LM, lines found against lines counted, seconds per page."
    out, t = {}, time.perf_counter()
    for name, beam, model in (('greedy', 1, None), (LM_RUN, LM_BEAM_WIDTH, lm)):
        reader.lines.lm = model
        texts, found, failed = [], [], 0
        for im in images:
            try: r = reader.predict(np.asarray(im), beam)
            except ValueError as e:                             # e.g. BlankImageError: the page refused, read as nothing
                r, failed = {'lines': []}, failed + 1
                out.setdefault('error', f"{type(e).__name__}: {str(e)[:200]}")
            texts.append(' '.join(l['text'] for l in r['lines'])); found.append(len(r['lines']))
        out[name] = _cer(truths, texts)
    reader.lines.lm = None
    out['pages_refused'] = failed
    out['line_count_right'] = sum(f == c for f, c in zip(found, counted))
    out['seconds_per_page'] = (time.perf_counter() - t) / len(images) / 2
    return out


def evaluate(n_pages: int = 12, only: list[str] | None = None) -> dict | None:
    pages = test_pages(n_pages)
    if pages is None: return None
    from hwr.lm import load_lm
    from hwr.predict import PagePredictor
    reader, lm = PagePredictor(), load_lm('shipped')
    scans = [Image.open(p['path']).convert('L') for p in pages]
    truths, counts = [p['text'] for p in pages], line_counts()
    counted = [counts.get(p['page']) for p in pages]
    res = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'pages': len(pages), 'conditions': {}}
    for name, make in CONDITIONS.items():
        if only and name not in only: continue
        images = [make(im) for im in scans]
        row = {'hwr': read(reader, lm, images, truths, counted)}
        if name in RULED:
            with rules_left(): row['rules left'] = read(reader, lm, images, truths, counted)
        if name in TABLE:
            with surroundings_left(): row['surroundings left'] = read(reader, lm, images, truths, counted)
        if name in BENT:
            with left_bent(): row['left bent'] = read(reader, lm, images, truths, counted)
        res['conditions'][name] = row
        print(name, json.dumps(row), flush=True)
    return res


def rows(res: dict) -> list[dict]:
    "The figures `python -m bench` prints."
    out = []
    for name, r in res['conditions'].items():
        for way, m in r.items():
            label = f"capture, {name}" + ('' if way == 'hwr' else f', {way}')
            out.append({'figure': f'{label}: page CER greedy', 'value': m['greedy'], 'unit': 'CER',
                        'how': f"first {res['pages']} CSAFE LND pages; beam + LM {m[LM_RUN]:.3f}; line count right on "
                               f"{m['line_count_right']}" + (f"; {m['pages_refused']} pages refused ({m['error']})" if m.get('pages_refused') else '')
                               + f"; {m['seconds_per_page']:.1f} s/page per decoder; run {res.get('dates', {}).get(name, res['date'])} (bench/bench_capture.py)"})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--pages', type=int, default=12, help='the first N test pages (1 to 47; default 12)')
    ap.add_argument('--only', nargs='+', choices=list(CONDITIONS), help='these conditions only')
    ap.add_argument('--json', help='write the raw results here')
    a = ap.parse_args(argv)
    if not 1 <= a.pages <= 47: ap.error(f"--pages must be from 1 to 47, got {a.pages}")
    res = evaluate(a.pages, a.only)
    if res is None: return 0
    for r in rows(res): print(f"  {r['figure']:62} {r['value']:.3f} {r['unit']:4} {r['how']}")
    if a.json:
        if a.only and Path(a.json).is_file():                  # the other conditions stay as recorded
            old = json.loads(Path(a.json).read_text())
            res['conditions'] = {**old.get('conditions', {}), **res['conditions']}
            res['dates'] = {**old.get('dates', {name: old['date'] for name in old.get('conditions', {})}), **dict.fromkeys(a.only, res['date'])}
        tmp = Path(a.json).with_suffix('.json.tmp'); tmp.write_text(json.dumps(res, indent=1)); tmp.replace(a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
