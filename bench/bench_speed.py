"""How fast hwr reads real images, phase by phase, with Tesseract timed in the same run.

    python bench/bench_speed.py [--repeat 3] [--json bench/results/speed.json]
    python -m bench --only speed

On the 49 dev lines of ../shared/realink-dev (image files as a user has them):

- one line per call, end to end (`LinePredictor.predict(path)`: decoding the file, preprocessing,
  the network, greedy decoding), and the same split into its phases, each timed over all lines:
  load (`load_image`), preprocess (the rest of `preprocess_line`), network (one line per call),
  decode (greedy, with each character's confidence);
- batched: `predict_batch(paths)` (preprocessing on every core, batches of similar widths);
- with the language model: beam `LM_BEAM_WIDTH` + LM (the shipped width), one line per call;
- Tesseract 5 (`--psm 7 -l eng`, one process per line, as `bench_realink` runs it) on the same
  files in the same run, and the ratio;
- whole dev pages of 11 lines through `PagePredictor` (greedy, and with the LM);
- the greedy CER of each reading, so a speed-up that changes what hwr reads shows;
- how the calibrated line confidence (fitted on synthetic lines in held-out fonts) holds on these
  real lines: mean confidence against mean accuracy (1 − CER), bin by bin, and their rank correlation.

Each timing is the best of `--repeat` passes over all lines (the first pass also warms up). The
figures depend on the machine and its load: the load average is printed with them.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hwr  # noqa: E402,F401

import numpy as np  # noqa: E402

from bench import bench_realink as rl  # noqa: E402
from bench.bench_realink import LM_RUN as LM  # noqa: E402
from bench.bench_synthetic import best_rate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def best_ms(fn, items, repeat: int) -> float:
    "Milliseconds per item of `fn` over all `items`, the best of `repeat` passes."
    return 1000 / best_rate(lambda: [fn(it) for it in items], max(len(items), 1), repeat)[0]


def evaluate(repeat: int = 3, root=None) -> dict | None:
    "Every figure of this benchmark, or None (after printing why) when the dev set is absent."
    from hwr.decode import greedy_readings
    from hwr.metrics import cer
    from hwr.models.line import prepare_lines
    from hwr.predict import LinePredictor, PagePredictor
    from hwr.preprocess import load_image, preprocess_line
    lines = rl.load_realink(root)
    if lines is None: return None
    paths, truths = [str(l['path']) for l in lines], [l['text'] for l in lines]
    lp = LinePredictor()
    lp.predict(paths[0])                                                 # warm up
    res = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'load_average': round(os.getloadavg()[0], 1),
           'cpus': os.cpu_count(), 'lines': len(paths), 'runtime': lp.runtime, 'repeat': repeat}
    images = [load_image(p) for p in paths]
    prepared = [lp.preprocess(g) for g in images]
    batches = [prepare_lines([x], lp.height) for x in prepared]
    probs = [lp._run(b)[0] for b in batches]
    res['one_line_ms'] = {
        'end to end': best_ms(lp.predict, paths, repeat),
        'load': best_ms(load_image, paths, repeat),
        'preprocess': best_ms(lambda g: preprocess_line(g, height=lp.height), images, repeat),
        'network': best_ms(lp._run, batches, repeat),
        'decode': best_ms(lambda p: greedy_readings([p]), probs, repeat)}
    res['median_width'] = int(np.median([x.shape[1] for x in prepared]))
    res['batched_ms'] = best_ms(lambda ps: lp.predict_batch(ps), [paths], repeat) / len(paths)
    one = [lp.predict(p) for p in paths]
    batched = [t for t, _ in lp.predict_batch(paths)]
    res['cer'] = {'one line per call': cer(truths, [t for t, _ in one]), 'batched': cer(truths, batched)}
    res["batched_texts_differing"] = sum(a != b for (a, _), b in zip(one, batched))   # TensorFlow batches are padded; ONNX Runtime reads each line alone
    from hwr.decode import calibration_table
    acc = [max(0.0, 1 - cer([truth], [t])) for truth, (t, _) in zip(truths, one)]
    conf = [c for _, c in one]
    res['calibration'] = {'table': calibration_table(conf, acc), 'mean_confidence': float(np.mean(conf)), 'mean_accuracy': float(np.mean(acc)),
                          'rank_correlation': float(np.corrcoef(np.argsort(np.argsort(conf)), np.argsort(np.argsort(acc)))[0, 1])}
    lm = LinePredictor(lm='shipped')
    lm.predict(paths[0])
    res['one_line_ms'][f'end to end, {LM}'] = best_ms(lm.predict, paths, 1)
    res['cer'][LM] = cer(truths, [lm.predict(p)[0] for p in paths])
    t = rl.evaluate_tesseract(lines)
    res['tesseract'] = ({'version': t['version'], 'ms_per_line': t['ms_per_line'], 'cer': t['overall']['cer']} if t else None)
    pages = [p for p in (rl.load_pages(root) or []) if p['lines'] >= 10]
    res['pages'] = []
    for p in pages:
        row = {'page': p['filename'], 'lines': p['lines']}
        for name, reader in (('greedy', PagePredictor()), (LM, PagePredictor(lm='shipped'))):
            reader.predict(p['path'])
            row[f'{name} s'] = best_ms(reader.predict, [p['path']], repeat) / 1000
            row[f'{name} lines found'] = len(reader.predict(p['path'])['lines'])
        res['pages'].append(row)
    res['folder'] = folder_run(paths)
    return res


def folder_run(paths: list[str], n: int = 1000) -> dict:
    "`hwr-predict --model line` on a folder of `n` line images (the dev lines copied over and over), as a user runs it: lines/s, peak memory."
    import shutil, subprocess, tempfile
    with tempfile.TemporaryDirectory() as d:
        for i in range(n): shutil.copy(paths[i % len(paths)], Path(d, f'line{i:05d}.png'))
        out = Path(d)/'out.jsonl'
        cmd = [sys.executable, '-m', 'hwr.cli', '--model', 'line', d, '--format', 'jsonl', '--output', str(out), '--progress']
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'}, timeout=3600)
        wall = time.perf_counter() - t
        records = [json.loads(l) for l in out.read_text().splitlines()]
    summary = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''
    return {'files': n, 'records': len(records), 'failed': sum('error' in r for r in records), 'exit': p.returncode, 'wall_s': wall,
            'summary': summary, 'progress_bar_shown': '%|' in p.stderr, 'command': 'hwr-predict --model line DIR --format jsonl --output OUT --progress'}


def table(res: dict) -> str:
    o = res['one_line_ms']
    t = res.get('tesseract')
    out = [f"{res['lines']} dev lines (median width {res['median_width']} px at 64 px), runtime {res['runtime']}, {res['cpus']} CPUs, "
           f"load {res['load_average']}, {res['date']}; best of {res['repeat']}",
           '| one line per call | ms/line |', '|---|---:|']
    out += [f'| {k} | {v:.1f} |' for k, v in o.items()]
    out += [f"| batched (`predict_batch`) | {res['batched_ms']:.1f} |"]
    if t: out += [f"| Tesseract ({t['version']}) | {t['ms_per_line']:.1f} |",
                  f"| Tesseract / hwr end to end | {t['ms_per_line'] / o['end to end']:.1f}× |"]
    out += ['', 'CER: ' + ', '.join(f'{k} {v:.4f}' for k, v in res['cer'].items()) + (f"; Tesseract {t['cer']:.4f}" if t else '')]
    f = res.get('folder')
    if f: out.append(f"folder of {f['files']} line images through hwr-predict: {f['summary']} (exit {f['exit']}, {f['wall_s']:.0f} s wall with start-up)")
    out.append(f"batched against one per call: {res['batched_texts_differing']} of {res['lines']} texts differ")
    c = res.get('calibration')
    if c:
        out.append(f"confidence on these real lines: mean {c['mean_confidence']:.3f} against mean accuracy (1 - CER) {c['mean_accuracy']:.3f}; "
                   f"rank correlation {c['rank_correlation']:.2f}")
        out += [f"  confidence {r['bin']}: {r['lines']} lines, mean confidence {r['mean_confidence']:.3f}, accuracy {r['accuracy']:.3f}" for r in c['table']]
    for p in res['pages']:
        out.append(f"page {p['page']} ({p['lines']} lines): greedy {p['greedy s']:.2f} s ({p['greedy lines found']} lines found), "
                   f"{LM} {p[f'{LM} s']:.2f} s")
    return '\n'.join(out)


def rows(res: dict) -> list[dict]:
    "The figures as `python -m bench` tables them."
    o, t = res['one_line_ms'], res.get('tesseract')
    how = f"{res['lines']} dev lines, median width {res['median_width']} px; {res['runtime']} runtime; load {res['load_average']}; {res['date']}"
    out = [{'figure': f'real line, one per call: {k}', 'value': v, 'unit': 'ms/line', 'how': how if k == 'end to end' else 'the same lines'}
           for k, v in o.items()]
    out.append({'figure': 'real lines, batched (predict_batch)', 'value': res['batched_ms'], 'unit': 'ms/line',
                'how': f"greedy CER {res['cer']['batched']:.4f} (one per call {res['cer']['one line per call']:.4f})"})
    if t: out.append({'figure': 'Tesseract, same lines, same run', 'value': t['ms_per_line'], 'unit': 'ms/line',
                      'how': f"{t['version']}; {t['ms_per_line'] / o['end to end']:.1f}× hwr's time per line; CER {t['cer']:.4f}"})
    f = res.get('folder')
    if f: out.append({'figure': f"hwr-predict on a folder of {f['files']} line images", 'value': f['wall_s'], 'unit': 's',
                      'how': f"{f['command']}: {f['summary']}; start-up included in the seconds, not in its lines/s"})
    for p in res['pages']:
        out.append({'figure': f"dev page {p['page']} ({p['lines']} lines), greedy", 'value': p['greedy s'], 'unit': 's/page',
                    'how': f"PagePredictor, {p['greedy lines found']} lines found; with {LM} {p[f'{LM} s']:.2f} s"})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'speed.json'))
    a = ap.parse_args(argv)
    res = evaluate(a.repeat)
    if res is None: return 1
    print(table(res))
    if a.json != '-':
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(a.json + '.tmp'); tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
