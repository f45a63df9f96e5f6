"""The shipped line model exported to SavedModel, TFLite and ONNX, reading the real dev lines.

    python bench/bench_export.py [--lm]

Exports the shipped line weights in each format (`hwr.export.export_model`, into a temporary
folder), reads the 49 lines of ../shared/realink-dev through the Keras `LinePredictor` and through
each export (same preprocessing and decoding: only the network's runtime differs), and prints
CER, WER, how many lines read exactly as Keras reads them, and ms per line. Results go to
bench/results/export.json. Without the dev folder it says so and stops.
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_realink import LM_RUN, load_realink, score      # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--lm', action='store_true', help="decode with the shipped language model (beam `LM_BEAM_WIDTH` wide) instead of greedily")
    ap.add_argument('--out', default=str(ROOT/'bench'/'results'/'export.json'))
    a = ap.parse_args(argv)
    lines = load_realink()
    if lines is None: return 0
    from hwr.export import FORMATS, export_model, load_exported
    from hwr.predict import LinePredictor
    from hwr.util import move_into_place
    lm = 'shipped' if a.lm else None
    readers = {'keras': LinePredictor(lm=lm)}
    with tempfile.TemporaryDirectory() as d:
        for fmt in FORMATS:
            export_model('shipped-line', fmt, out=Path(d)/f'line{FORMATS[fmt]}')
            readers[fmt] = load_exported(Path(d)/f'line{FORMATS[fmt]}', lm=lm)
        paths = [str(l['path']) for l in lines]
        rows, texts = {}, {}
        for name, r in readers.items():
            r.predict_batch(paths[:2])                               # warm up (graph tracing, sessions)
            t = time.perf_counter(); got = [t_ for t_, _ in r.predict_batch(paths)]
            ms = 1000 * (time.perf_counter() - t) / len(paths)
            s = score(lines, got)['overall']
            texts[name] = got
            rows[name] = {'cer': s['cer'], 'wer': s['wer'], 'ms_per_line': ms,
                          'same_as_keras': sum(g == k for g, k in zip(got, texts['keras']))}
    decoder = LM_RUN if a.lm else 'greedy'
    print(f"shipped line model on {len(lines)} real dev lines, {decoder}")
    print(f"{'runtime':12s} {'CER':>7s} {'WER':>7s} {'same as Keras':>14s} {'ms/line':>8s}")
    for name, r in rows.items():
        print(f"{name:12s} {r['cer']:7.4f} {r['wer']:7.4f} {r['same_as_keras']:>8d}/{len(lines):<5d} {r['ms_per_line']:8.1f}")
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(out.read_text()) if out.is_file() else {}
    record[decoder] = {'date': time.strftime('%Y-%m-%d'), 'lines': len(lines), 'runtimes': rows}
    tmp = out.with_name(f'.{out.name}.part'); tmp.write_text(json.dumps(record, indent=1))
    move_into_place(tmp, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
