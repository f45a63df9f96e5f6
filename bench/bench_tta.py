"""Test-time augmentation: does reading each line at several widths, and keeping the surest reading, pay for its time?

    python bench/bench_tta.py [--json OUT]

Each real line (the dev lines in ../shared/realink-dev, and the 417 CSAFE test-writer lines) is preprocessed once, then
stretched or squeezed horizontally (x0.8 to x1.25: handwriting is wider or narrower than the fonts the network learnt) and
read greedily by the shipped line model at each width. A group of widths keeps, per line, the reading whose raw confidence
(`hwr.decode.line_confidence`, the mean of its characters' peak posteriors) is highest; the `oracle` keeps the one with the
lowest CER, what a perfect chooser would reach. The cost is one network pass per width (the network's ms per line on
this machine are given; preprocessing is done once and not counted).
"""
from __future__ import annotations
import argparse, datetime, json, os, sys, time
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]
SCALES = (0.8, 0.9, 1.0, 1.1, 1.25)
GROUPS = ((0.9, 1.0, 1.1), (0.8, 1.0, 1.25), SCALES)


def read_at_widths(reader, lines: list[np.ndarray]) -> tuple[dict, float]:
    "Greedy text and raw confidence of every preprocessed line at every width; and the network's ms per line and width."
    from PIL import Image
    from hwr.decode import greedy_readings, line_confidence
    reads, seconds = {s: [] for s in SCALES}, 0.0
    for x in lines:
        for s in SCALES:
            y = np.asarray(Image.fromarray(x).resize((max(16, round(x.shape[1] * s)), x.shape[0]), Image.BILINEAR))
            t = time.perf_counter(); p = reader._run(y[None].astype(np.float32) / 255)[0]; seconds += time.perf_counter() - t
            (text, chars), = greedy_readings([p])
            reads[s].append((text, line_confidence(p, chars)))
    return reads, 1000 * seconds / (len(lines) * len(SCALES))


def score(reads: dict, truth: list[str]) -> dict:
    from hwr.metrics import cer
    out = {f'x{s}': round(cer(truth, [t for t, _ in reads[s]]), 4) for s in SCALES}
    for g in GROUPS:
        name = '+'.join(f'x{s}' for s in g)
        pick = [max((reads[s][i] for s in g), key=lambda r: r[1])[0] for i in range(len(truth))]
        best = [min((reads[s][i][0] for s in g), key=lambda t: cer([truth[i]], [t])) for i in range(len(truth))]
        out[name] = {'by_confidence': round(cer(truth, pick), 4), 'oracle': round(cer(truth, best), 4)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'tta.json'))
    a = ap.parse_args(argv)
    from bench.bench_csafe import test_lines, test_pages
    from bench.bench_realink import load_realink
    from hwr.predict import LinePredictor
    reader = LinePredictor()
    sets = {}
    dev = load_realink()
    if dev: sets['dev_lines'] = ([l['path'] for l in dev], [l['text'] for l in dev])
    pages = test_pages()
    if pages:
        rows = test_lines(pages)
        sets['csafe_lines'] = ([r[0] for r in rows], [r[1] for r in rows])
    out = {'date': datetime.date.today().isoformat(), 'load': round(os.getloadavg()[0], 1), 'runtime': reader.runtime}
    for name, (paths, truth) in sets.items():
        reads, ms = read_at_widths(reader, [reader.preprocess(p) for p in paths])
        out[name] = {'lines': len(truth), 'network_ms_per_line_and_width': round(ms, 1), **score(reads, truth)}
        print(name, json.dumps(out[name]), flush=True)
    tmp = Path(a.json).with_suffix('.part'); tmp.write_text(json.dumps(out, indent=1)); os.replace(tmp, a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
