"""Real handwriting: hwr's line reader (greedy and beam search) and Tesseract on real handwritten lines.

    python bench/bench_realink.py [--weights FILE] [--beam 10] [--json OUT] [--show-worst N]
                                  [--no-tesseract] [--lm FILE | --no-lm] [--limit N] [--root DIR]

Reads every line of the real-ink dev set (49 handwritten English lines: IAM writers, H. Scheidl,
a CVL page, the Bentham papers) with `hwr.predict.LinePredictor` (the shipped weights, or
`--weights`), greedy, with beam search, and with beam search and hwr's language model (`hwr.lm`), and with `tesseract IMG stdout --psm 7 -l eng` when
the `tesseract` binary is on PATH (its output normalised: single spaces, ASCII quotes), and
prints the character and word error rates (`hwr.metrics`: total edits over total reference
characters or words) per source and overall, with the time per line. Lines a reader refuses
(no ink found, a Tesseract error or timeout) count as empty readings and are counted.

The set is not part of the repository: it lives in `../shared/realink-dev` beside the project
root and is for measuring only (never train on it, never copy it into the project). When it is
absent, the script says so and exits without error.
"""
from __future__ import annotations
import argparse, datetime, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
from typing import Sequence

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
from hwr.decode import LM_BEAM_WIDTH  # noqa: E402
LM_RUN = f'beam {LM_BEAM_WIDTH} + LM'   # the key of the LM's readings in every bench record (the shipped width)

ROOT = Path(__file__).resolve().parents[1]                 # the project root
REALINK = ROOT.parent/'shared'/'realink-dev'               # ../shared/realink-dev
GROUPS = ('IAM a01-063', 'IAM r06-137', 'IAM lines', 'Scheidl', 'CVL', 'Bentham')
TESSERACT_ARGS = ('--psm', '7', '-l', 'eng')
QUOTES = str.maketrans({'\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"'})   # the labels use ASCII quotes


def missing_message(root: Path | str | None = None) -> str | None:
    "The skip message when the dev set (its labels.tsv) is not at `root`, else None."
    root = REALINK if root is None else Path(root)
    if (root/'labels.tsv').is_file(): return None
    shown = '../shared/realink-dev' if root == REALINK else str(root)
    return f"real handwriting dev set not found at {shown} (it is not part of the repository); skipping"


def read_labels(path: Path | str, need: Sequence[str] = ('filename', 'transcription')) -> list[dict[str, str]]:
    "The rows of a tab-separated labels file with a header row and no quoting (transcriptions hold `\"` and `'`)."
    lines = Path(path).read_text(encoding='utf-8').splitlines()
    if not lines: raise ValueError(f"{path} is empty; expected a header row")
    header = lines[0].split('\t')
    for col in need:
        if col not in header: raise ValueError(f"{path}: the header has no {col!r} column (got {header})")
    rows = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip(): continue
        cells = line.split('\t')
        if len(cells) != len(header):
            raise ValueError(f"{path}, line {n}: {len(cells)} tab-separated fields, the header has {len(header)}")
        rows.append(dict(zip(header, cells)))
    return rows


def group_of(filename: str, source: str = '') -> str:
    "A short name for where a line comes from (the filename prefix, else the source repository)."
    name = filename.lower()
    if 'bentham' in name: return 'Bentham'
    if 'cvl' in name: return 'CVL'
    if 'a01-063' in name: return 'IAM a01-063'               # lines cut from one IAM form (writer 013)
    if 'r06-137' in name: return 'IAM r06-137'               # lines cut from one IAM form (writer 671)
    if 'sample1' in name or 'random' in name: return 'Scheidl'  # the repository author's page and note
    if re.search(r'[a-z]\d\d-\d{3}[a-z]?-\d\d', name): return 'IAM lines'   # single IAM line images
    return source.split('@')[0].split('/')[-1] or 'other'


def load_realink(root: Path | str | None = None) -> list[dict] | None:
    "The dev set's lines as dicts (filename, path, text, group, source), or None (after printing why) when it is absent."
    msg = missing_message(root)
    if msg:
        print(msg)
        return None
    root = REALINK if root is None else Path(root)
    lines = []
    for r in read_labels(root/'labels.tsv'):
        path = root/r['filename']
        if not path.is_file(): raise FileNotFoundError(f"{root/'labels.tsv'} lists {r['filename']}, which is not in {root}")
        lines.append({'filename': r['filename'], 'path': path, 'text': r['transcription'],
                      'group': group_of(r['filename'], r.get('source', '')), 'source': r.get('source', '')})
    return lines


# ---------------------------------------------------------------- scoring
def _scores(truths: list[str], preds: list[str]) -> dict:
    from hwr.metrics import text_scores
    return {'lines': len(truths), 'chars': sum(map(len, truths)), 'words': sum(len(t.split()) for t in truths),
            **text_scores(truths, preds)}


def group_order(lines: Sequence[dict]) -> list[str]:
    "The groups present in `lines`, in the order of GROUPS (any others after them, sorted)."
    have = {l['group'] for l in lines}
    return [g for g in GROUPS if g in have] + sorted(have - set(GROUPS))


def score(lines: Sequence[dict], preds: Sequence[str]) -> dict:
    "CER, WER and counts overall and per group, and each line's CER, for one reading of `lines`."
    from hwr.metrics import line_cers
    truths = [l['text'] for l in lines]
    per = {g: _scores([l['text'] for l in lines if l['group'] == g], [p for l, p in zip(lines, preds) if l['group'] == g])
           for g in group_order(lines)}
    return {'overall': _scores(truths, list(preds)), 'groups': per,
            'predictions': {l['filename']: p for l, p in zip(lines, preds)},
            'line_cer': {l['filename']: float(c) for l, c in zip(lines, line_cers(truths, list(preds)))}}


def decoder_name(beam_width: int) -> str: return 'greedy' if beam_width == 1 else f'beam {beam_width}'


# ---------------------------------------------------------------- readers
def evaluate_hwr(lines: Sequence[dict], weights: str | Path | None = None, beam_widths: Sequence[int] = (1, 10),
                 lm: str | Path | None = 'shipped') -> dict:
    "Read every line with `LinePredictor(weights)` at each beam width, then with the language model `lm`; scores per decoder under 'runs'."
    from hwr.predict import LinePredictor
    from hwr.registry import SHIPPED
    lp = LinePredictor(weights)
    refused, ok = {}, []
    for l in lines:                                        # one refused image must not sink a whole batch
        try: lp.preprocess(l['path']); ok.append(l)
        except ValueError as e: refused[l['filename']] = f'{type(e).__name__}: {e}'
    paths = [str(l['path']) for l in ok]
    if paths: lp.predict_batch(paths[:1])                  # warm-up: traces the network's graph once
    runs = {}
    decoders = [(decoder_name(b), b, None) for b in beam_widths]
    if lm:
        from hwr.lm import load_lm
        decoders.append((LM_RUN, LM_BEAM_WIDTH, load_lm(lm)))
    for name, beam, model in decoders:
        lp.lm = model
        t = time.perf_counter()
        read = dict(zip([l['filename'] for l in ok], [text for text, _ in lp.predict_batch(paths, beam_width=beam)]))
        seconds = time.perf_counter() - t
        rec = score(lines, [read.get(l['filename'], '') for l in lines])
        runs[name] = {'beam_width': beam, 'lm': str(lm) if model is not None else None, **rec, 'seconds': seconds,
                      'ms_per_line': 1000 * seconds / max(len(ok), 1),
                      'refused': len(refused), 'refused_lines': refused}
    lp.lm = None
    decode_ms = _decode_times(lp, paths, beam_widths, decoders[-1][2] if lm else None)
    for name, ms in decode_ms.items(): runs[name]['decode_ms_per_line'] = ms
    return {'weights': str(weights) if weights else f'shipped ({SHIPPED["line"]})', 'network': lp.info.get('network'),
            'input_height': int(lp.network.input_shape[1]), 'params': int(lp.network.count_params()), 'runs': runs}


def _decode_times(lp, paths: Sequence[str], beam_widths: Sequence[int], lm) -> dict:
    "Milliseconds per line of decoding alone (the network's outputs computed once, line by line): greedy, beam, beam + LM."
    from hwr.decode import ctc_decode, lm_decode
    if not paths: return {}
    probs = [lp.probabilities(p) for p in paths]
    out = {}
    for b in beam_widths:
        t = time.perf_counter()
        for p in probs: ctc_decode(p[None], 'greedy' if b == 1 else 'beam_search', b)
        out[decoder_name(b)] = 1000 * (time.perf_counter() - t) / len(probs)
    if lm is not None:
        t = time.perf_counter(); lm_decode(probs, lm, beam_width=LM_BEAM_WIDTH)
        out[LM_RUN] = 1000 * (time.perf_counter() - t) / len(probs)
    return out


def tesseract_missing() -> str | None:
    "Why Tesseract cannot run here (no binary, no English model), else None."
    exe = shutil.which('tesseract')
    if exe is None: return "tesseract is not on PATH (Debian: apt-get install tesseract-ocr); skipping the Tesseract column"
    try: langs = subprocess.run([exe, '--list-langs'], capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError) as e: return f"tesseract does not run ({e}); skipping the Tesseract column"
    if 'eng' not in langs: return "tesseract has no English model (Debian: tesseract-ocr-eng); skipping the Tesseract column"
    return None


def normalise(text: str) -> str:
    "Tesseract's output as one line: whitespace runs to single spaces, typographic quotes to ASCII ones."
    return ' '.join(text.translate(QUOTES).split())


def evaluate_tesseract(lines: Sequence[dict], timeout: float = 60) -> dict | None:
    "Read every line with `tesseract IMG stdout --psm 7 -l eng` (one process per line, see `normalise`), or None when it is absent."
    msg = tesseract_missing()
    if msg:
        print(msg)
        return None
    exe = shutil.which('tesseract')
    version = subprocess.run([exe, '--version'], capture_output=True, text=True).stdout.split('\n')[0].strip()
    env = {**os.environ, 'OMP_THREAD_LIMIT': '1'}          # one thread per line: the machine may be shared
    preds, failed = [], {}
    t = time.perf_counter()
    for l in lines:
        try:
            p = subprocess.run([exe, str(l['path']), 'stdout', *TESSERACT_ARGS], capture_output=True, text=True,
                               timeout=timeout, env=env)
            if p.returncode: failed[l['filename']] = f'exit status {p.returncode}: {p.stderr.strip()[-200:]}'
            preds.append(normalise(p.stdout) if p.returncode == 0 else '')
        except subprocess.TimeoutExpired:
            failed[l['filename']] = f'timed out after {timeout:g} s'; preds.append('')
    seconds = time.perf_counter() - t
    return {'version': version, 'command': f'tesseract IMG stdout {" ".join(TESSERACT_ARGS)}', **score(lines, preds),
            'seconds': seconds, 'ms_per_line': 1000 * seconds / max(len(lines), 1), 'refused': len(failed), 'refused_lines': failed}


def evaluate(root: Path | str | None = None, weights: str | Path | None = None, beam: int = 10,
             tesseract: bool = True, limit: int | None = None, lines: Sequence[dict] | None = None,
             lm: str | Path | None = 'shipped', pages: bool = True) -> dict | None:
    "Everything the CLI and `python -m bench` report: hwr greedy, beam and beam + LM, Tesseract; None when the set is absent."
    if lines is None: lines = load_realink(root)
    if lines is None: return None
    lines = list(lines)[:limit] if limit else list(lines)
    res = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'root': '../shared/realink-dev' if root is None else str(root),
           'lines': len(lines), 'chars': sum(len(l['text']) for l in lines),
           'group_lines': {g: sum(l['group'] == g for l in lines) for g in group_order(lines)},
           'line_groups': {l['filename']: l['group'] for l in lines},
           'hwr': evaluate_hwr(lines, weights, tuple(dict.fromkeys((1, beam))), lm),
           'tesseract': evaluate_tesseract(lines) if tesseract else None}
    if res['tesseract'] is None: res['tesseract_note'] = tesseract_missing() if tesseract else 'not run (--no-tesseract)'
    if pages and not limit: res['page_reading'] = evaluate_pages(root, weights, lm)
    return res


def load_pages(root: Path | str | None = None) -> list[dict] | None:
    "The dev set's whole pages (filename, path, lines expected, their texts and cut-out line images), or None when absent."
    root = REALINK if root is None else Path(root)
    f = root/'pages'/'pages.tsv'
    if not f.is_file(): return None
    pages = []
    for r in read_labels(f, ('filename', 'lines', 'text', 'line_images')):
        texts = r['text'].split('\\n')                 # the file joins the lines with the two characters \n
        pages.append({'filename': r['filename'], 'path': root/'pages'/r['filename'], 'lines': int(r['lines']), 'texts': texts,
                      'line_images': [root/n for n in r['line_images'].split()]})
    return pages


def evaluate_pages(root: Path | str | None = None, weights: str | Path | None = None,
                   lm: str | Path | None = 'shipped') -> dict | None:
    """Read every dev page with `PagePredictor` (greedy, and beam + LM): lines found against lines written, and the page's
    CER against the CER of the same lines cut by hand (both over the page's lines joined by spaces)."""
    pages = load_pages(root)
    if pages is None: return None
    from hwr.metrics import cer
    from hwr.predict import PagePredictor
    decoders = [('greedy', 1, None)]
    if lm:
        from hwr.lm import load_lm
        decoders.append((LM_RUN, LM_BEAM_WIDTH, load_lm(lm)))
    out = {'pages': len(pages), 'runs': {}}
    for name, beam, model in decoders:
        pp = PagePredictor(weights, None, model)
        hand = pp.lines                                   # the same line reader, on the lines cut by hand
        rows = []
        for pg in pages:
            t = time.perf_counter()
            read = pp.predict(str(pg['path']), beam)
            seconds = time.perf_counter() - t
            got = [l['text'] for l in read['lines']]
            cut = ([text for text, _ in hand.predict_batch([str(x) for x in pg['line_images']], beam)]
                   if all(x.is_file() for x in pg['line_images']) else None)
            truth = ' '.join(pg['texts'])
            rows.append({'page': pg['filename'], 'lines': pg['lines'], 'found': len(got), 'seconds': seconds,
                         'page_cer': cer(truth, ' '.join(got)), 'hand_cut_cer': cer(truth, ' '.join(cut)) if cut is not None else None,
                         'reading': got, 'hand_cut_reading': cut})
        truth_all = [' '.join(pg['texts']) for pg in pages]
        have = [r['hand_cut_reading'] is not None for r in rows]
        out['runs'][name] = {'pages': rows, 'right_line_count': sum(r['lines'] == r['found'] for r in rows),
                             'page_cer': cer(truth_all, [' '.join(r['reading']) for r in rows]),
                             'hand_cut_cer': cer([t for t, h in zip(truth_all, have) if h],
                                                 [' '.join(r['hand_cut_reading']) for r in rows if r['hand_cut_reading'] is not None])
                                             if any(have) else None,
                             'seconds_per_page': sum(r['seconds'] for r in rows) / len(rows)}
    return out


def pages_table(res: dict) -> str:
    "One row per page and decoder: lines written and found, page CER, CER of the lines cut by hand, seconds."
    out = [f"{'page':22s} {'decoder':15s} {'lines':>5s} {'found':>5s} {'page CER':>9s} {'hand-cut':>9s} {'diff':>7s} {'s/page':>7s}"]
    for name, run in res['runs'].items():
        for r in run['pages']:
            hc = r['hand_cut_cer']
            out.append(f"{r['page']:22s} {name:15s} {r['lines']:5d} {r['found']:5d} {r['page_cer']:9.3f} "
                       + (f"{hc:9.3f} {r['page_cer'] - hc:+7.3f}" if hc is not None else f"{'-':>9s} {'-':>7s}") + f" {r['seconds']:7.1f}")
        hc = run['hand_cut_cer']
        out.append(f"{'all pages':22s} {name:15s} {'right':>5s} {run['right_line_count']:>3d}/{len(run['pages'])} {run['page_cer']:9.3f} "
                   + (f"{hc:9.3f} {run['page_cer'] - hc:+7.3f}" if hc is not None else f"{'-':>9s} {'-':>7s}") + f" {run['seconds_per_page']:7.1f}")
    return '\n'.join(out)


def readings(res: dict) -> list[tuple[str, dict]]:
    "(label, scores) of every reading in an `evaluate` result, hwr's decoders first."
    out = [(f'hwr {k}', v) for k, v in res['hwr']['runs'].items()]
    return out + ([('tesseract', res['tesseract'])] if res.get('tesseract') else [])


# ---------------------------------------------------------------- output
def table(res: dict) -> str:
    "Rows per group and overall; CER and WER of every reading; line and character counts; time per line."
    runs = readings(res)
    groups = list(runs[0][1]['groups'])
    head1 = f"{'':14s} {'lines':>5s} {'chars':>6s}" + ''.join(f" | {label:^13s}" for label, _ in runs)
    head2 = f"{'':14s} {'':5s} {'':6s}" + ' |   CER    WER ' * len(runs)
    def row(name, pick):
        s0 = pick(runs[0][1])
        return f"{name:14s} {s0['lines']:5d} {s0['chars']:6d}" + ''.join(f" | {pick(r)['cer']:6.3f} {pick(r)['wer']:6.3f}" for _, r in runs)
    out = [head1, head2, '-' * len(head2)]
    out += [row(g, lambda r, g=g: r['groups'][g]) for g in groups]
    out += ['-' * len(head2), row('overall', lambda r: r['overall'])]
    out.append(f"{'ms/line':27s}" + ''.join(f" | {r['ms_per_line']:13.0f}" for _, r in runs))
    out.append(f"{'  of which decoding':27s}" + ''.join(f" | {r['decode_ms_per_line']:13.1f}" if 'decode_ms_per_line' in r else f" | {'-':>13s}"
                                                     for _, r in runs))
    out.append(f"{'refused lines':27s}" + ''.join(f" | {r['refused']:13d}" for _, r in runs))
    return '\n'.join(out)


def worst(res: dict, lines: Sequence[dict], n: int) -> str:
    "The `n` lines hwr reads worst (by its last decoder's per-line CER): truth against every reading."
    runs = readings(res)
    key = runs[len(res['hwr']['runs']) - 1][1]['line_cer']
    width = max(len(label) for label, _ in runs)
    out = []
    for l in sorted(lines, key=lambda l: -key[l['filename']])[:n]:
        out.append(f"{l['filename']} ({l['group']})\n  {'truth':{width}s}        {l['text']!r}")
        out += [f"  {label:{width}s}  {r['line_cer'][l['filename']]:5.2f}  {r['predictions'][l['filename']]!r}" for label, r in runs]
    return '\n'.join(out)


def summary(res: dict) -> str:
    h, t = res['hwr'], res.get('tesseract')
    return (f"real handwriting ({res['root']}): {res['lines']} lines, {res['chars']:,} characters\n"
            f"hwr: {h['network']}, {h['params']:,} parameters, input height {h['input_height']}, weights {h['weights']}\n"
            + (f"tesseract: {t['version']}, {t['command']}" if t else f"tesseract: {res.get('tesseract_note')}"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--weights', default=None, help='a line .weights.h5 file with its .json beside it (default: the shipped weights)')
    ap.add_argument('--beam', type=int, default=10, help='beam width of the beam-search reading (default 10)')
    ap.add_argument('--json', default=None, help='also write the results (scores, readings; no transcriptions) to this JSON file')
    ap.add_argument('--show-worst', type=int, default=0, metavar='N', help="print the N lines hwr reads worst")
    ap.add_argument('--no-tesseract', action='store_true', help='skip the Tesseract column')
    ap.add_argument('--lm', default='shipped', help="language model of the beam + LM reading: 'shipped' or a file saved by hwr.lm")
    ap.add_argument('--no-lm', action='store_true', help='skip the beam + LM reading')
    ap.add_argument('--no-pages', action='store_true', help='skip reading the whole pages (pages/ in the dev set)')
    ap.add_argument('--limit', type=int, default=None, help='read only the first N lines (a quick check)')
    ap.add_argument('--root', default=None, help='the dev set folder (default: ../shared/realink-dev beside the project root)')
    a = ap.parse_args(argv)
    if a.beam < 1: ap.error('--beam must be a positive integer')
    lines = load_realink(a.root)
    if lines is None: return 0
    if a.limit: lines = lines[:a.limit]
    res = evaluate(a.root, a.weights, a.beam, not a.no_tesseract, lines=lines, lm=None if a.no_lm else a.lm, pages=not a.no_pages)
    print(summary(res), '\n', table(res), sep='\n')
    if res.get('page_reading'): print('\nwhole pages (../shared/realink-dev/pages), cut into lines by hwr.segment:', pages_table(res['page_reading']), sep='\n')
    if a.show_worst: print(f"\n{a.show_worst} worst lines (per-line CER, reading):\n" + worst(res, lines, a.show_worst))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1)); print('\nresults:', a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
