"""Ordinary real pages: hwr and Tesseract on the CSAFE test pages (the London Letter, writers outside every training set).

    python bench/bench_csafe.py [--pages N] [--weights FILE] [--no-tesseract] [--json OUT]

For every LND page of the CSAFE mirror (reserved writers left out; `--pages N` takes the first N):

- **page CER**: `hwr.predict.PagePredictor` (segmentation + the line model) reads the page, greedy and with
  beam search + hwr's language model; the lines it finds are joined by spaces and compared with the
  prompt the writer copied (total edits over total prompt characters). Writers sometimes skip, repeat or
  misspell a word, so even a perfect reader scores a little above 0; the same holds for every engine here.
- **line CER**: the kept lines of `hwr.data.csafe.CsafeDataset`'s test split (labels by forced alignment,
  `hwr.training.align`), read one by one, greedy and with the LM.
- **line count right**: the pages the segmentation cut into as many lines as a person counts on them
  (`bench/csafe_line_counts.tsv`, counted by eye on the page images).
- **Tesseract 5** side by side, when `tesseract` is on PATH: the whole page (`--psm 4`, a column of text),
  and each line crop (`--psm 7`), outputs normalised like hwr's (single spaces, ASCII quotes).

The pages come through hwr's own pipeline (`fetch_csafe`: downloaded, or from a local mirror such as
`../shared/csafe`). When they cannot be had, the script says so and exits without error.
"""
from __future__ import annotations
import argparse, datetime, json, os, shutil, subprocess, sys, time
from pathlib import Path
from typing import Sequence

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_realink import LM_BEAM_WIDTH, LM_RUN, normalise, tesseract_missing   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_pages(n: int | None = None) -> list[dict] | None:
    "The LND pages outside the reserved writers (the first `n`), fetched; None (after saying why) when they cannot be had."
    from hwr.data.csafe import csafe_pages, fetch_csafe
    from hwr.util import DownloadError
    pages = csafe_pages('LND')[:n] if n else csafe_pages('LND')
    try: fetch_csafe(pages, progress=False)
    except DownloadError as e:
        print(f"CSAFE pages not available: {str(e)[:300]}; skipping"); return None
    return pages


def line_counts() -> dict[str, int]:
    "Lines of writing on each LND test page, counted by eye (`bench/csafe_line_counts.tsv`)."
    rows = [l.split('\t') for l in (ROOT/'bench'/'csafe_line_counts.tsv').read_text().splitlines() if l and not l.startswith('#')]
    return {page: int(n) for page, n in rows[1:]}


def _cer(truths: Sequence[str], preds: Sequence[str]) -> float:
    from hwr.metrics import cer
    return float(cer(list(truths), list(preds)))


def evaluate_hwr_pages(pages: Sequence[dict], weights=None) -> dict:
    "Page CER of `PagePredictor`, greedy and beam `LM_BEAM_WIDTH` + LM, and the lines it finds on each page."
    from hwr.lm import load_lm
    from hwr.predict import PagePredictor
    counted = line_counts()
    reader = PagePredictor(weights)
    reader.predict(pages[0]['path'])                            # warm-up: traces the network once
    runs = {}
    for name, beam, lm in (('greedy', 1, None), (LM_RUN, LM_BEAM_WIDTH, load_lm('shipped'))):
        reader.lines.lm = lm
        texts, found, t = [], [], time.perf_counter()
        for p in pages:
            out = reader.predict(p['path'], beam)
            texts.append(' '.join(l['text'] for l in out['lines'])); found.append(len(out['lines']))
        seconds = time.perf_counter() - t
        runs[name] = {'page_cer': _cer([p['text'] for p in pages], texts),
                      'page_cer_each': {p['page']: _cer([p['text']], [tx]) for p, tx in zip(pages, texts)},
                      'readings': {p['page']: tx for p, tx in zip(pages, texts)},
                      'lines_found': dict(zip([p['page'] for p in pages], found)),
                      'line_count_right': sum(f == counted.get(p['page']) for p, f in zip(pages, found)),
                      'line_count_wrong': {p['page']: [f, counted.get(p['page'])] for p, f in zip(pages, found) if f != counted.get(p['page'])},
                      'seconds_per_page': seconds / len(pages)}
    reader.lines.lm = None
    return runs


def test_lines(pages: Sequence[dict]) -> list[tuple]:
    "The kept, labelled lines of those pages (CsafeDataset's test split): (image path, text, page) rows."
    from hwr.data.csafe import CsafeDataset
    from hwr.data.line_folder import read_labels_tsv
    names = {p['page'] for p in pages}
    return [r for r in read_labels_tsv(CsafeDataset().build()/'labels.tsv') if r[2] in names]


def evaluate_hwr_lines(pages: Sequence[dict], weights=None) -> dict | None:
    "Line CER on the kept, labelled lines of those pages (CsafeDataset's test split), greedy and beam `LM_BEAM_WIDTH` + LM."
    from hwr.lm import load_lm
    from hwr.predict import LinePredictor
    rows = test_lines(pages)
    if not rows: return None
    lp = LinePredictor(weights)
    out = {'lines': len(rows), 'chars': sum(len(r[1]) for r in rows)}
    for name, beam, lm in (('greedy', 1, None), (LM_RUN, LM_BEAM_WIDTH, load_lm('shipped'))):
        lp.lm = lm
        t = time.perf_counter()
        preds = [tx for tx, _ in lp.predict_batch([r[0] for r in rows], beam_width=beam)]
        out[name] = {'cer': _cer([r[1] for r in rows], preds), 'ms_per_line': 1000 * (time.perf_counter() - t) / len(rows)}
    return {**out, 'files': [str(r[0].name) for r in rows]}


def _tesseract(path, psm: str, timeout: float = 120) -> str:
    exe = shutil.which('tesseract')
    p = subprocess.run([exe, str(path), 'stdout', '--psm', psm, '-l', 'eng'], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'OMP_THREAD_LIMIT': '1'})
    return normalise(p.stdout) if p.returncode == 0 else ''


def evaluate_tesseract(pages: Sequence[dict], lines: dict | None) -> dict | None:
    "Tesseract on the same pages (--psm 4) and the same line crops (--psm 7)."
    msg = tesseract_missing()
    if msg: print(msg); return None
    exe = shutil.which('tesseract')
    version = subprocess.run([exe, '--version'], capture_output=True, text=True).stdout.split('\n')[0].strip()
    t = time.perf_counter()
    texts = [_tesseract(p['path'], '4') for p in pages]
    out = {'version': version, 'page_cer': _cer([p['text'] for p in pages], texts),
           'page_cer_each': {p['page']: _cer([p['text']], [tx]) for p, tx in zip(pages, texts)},
           'seconds_per_page': (time.perf_counter() - t) / len(pages)}
    if lines:
        from hwr.data.csafe import CsafeDataset
        from hwr.data.line_folder import read_labels_tsv
        rows = {r[0].name: r for r in read_labels_tsv(CsafeDataset().build()/'labels.tsv')}
        rows = [rows[f] for f in lines['files']]
        t = time.perf_counter()
        out['line_cer'] = _cer([r[1] for r in rows], [_tesseract(r[0], '7') for r in rows])
        out['ms_per_line'] = 1000 * (time.perf_counter() - t) / len(rows)
    return out


def evaluate(n_pages: int | None = None, weights=None, tesseract: bool = True) -> dict | None:
    pages = test_pages(n_pages)
    if pages is None: return None
    res = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'pages': len(pages),
           'prompt_chars': sum(len(p['text']) for p in pages), 'weights': str(weights) if weights else 'shipped'}
    res['hwr_pages'] = evaluate_hwr_pages(pages, weights)
    res['hwr_lines'] = evaluate_hwr_lines(pages, weights)
    res['first12'] = {name: _cer([p['text'] for p in pages[:12]], [r['readings'][p['page']] for p in pages[:12]])
                      for name, r in res['hwr_pages'].items()}
    res['tesseract'] = evaluate_tesseract(pages, res['hwr_lines']) if tesseract else None
    if res['tesseract']:
        te = res['tesseract']['page_cer_each']
        res['first12']['tesseract'] = sum(te[p['page']] * len(p['text']) for p in pages[:12]) / sum(len(p['text']) for p in pages[:12])
    return res


def rows(res: dict) -> list[dict]:
    "The figures `python -m bench` prints."
    out = []
    for name, r in res['hwr_pages'].items():
        out.append({'figure': f'CSAFE LND pages: hwr {name}, page CER', 'value': r['page_cer'], 'unit': 'CER',
                    'how': f"{res['pages']} pages, {res['prompt_chars']:,} prompt characters; first 12 pages {res['first12'][name]:.3f}; "
                           f"line count right on {r['line_count_right']} (counted by eye); {r['seconds_per_page']:.1f} s/page; run {res['date']}"})
    t = res.get('tesseract')
    out.append({'figure': 'CSAFE LND pages: Tesseract' + (f" {t['version'].split()[-1]} (--psm 4), page CER" if t else ''),
                'value': t['page_cer'] if t else float('nan'), 'unit': 'CER',
                'how': (f"the same pages; first 12 pages {res['first12']['tesseract']:.3f}; {t['seconds_per_page']:.1f} s/page") if t else 'tesseract not on PATH'})
    ln = res.get('hwr_lines')
    if ln:
        for name in [k for k in ln if k not in ('lines', 'chars', 'files')]:
            out.append({'figure': f'CSAFE LND lines: hwr {name}, line CER', 'value': ln[name]['cer'], 'unit': 'CER',
                        'how': f"{ln['lines']} kept lines, {ln['chars']:,} characters (labels by forced alignment); {ln[name]['ms_per_line']:.0f} ms/line"})
        if t and 'line_cer' in t:
            out.append({'figure': 'CSAFE LND lines: Tesseract (--psm 7), line CER', 'value': t['line_cer'], 'unit': 'CER',
                        'how': f"the same line crops; {t['ms_per_line']:.0f} ms/line"})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--pages', type=int, help='the first N test pages only')
    ap.add_argument('--weights', help='line weights instead of the shipped ones')
    ap.add_argument('--no-tesseract', action='store_true')
    ap.add_argument('--json', help='write the raw results here')
    a = ap.parse_args(argv)
    res = evaluate(a.pages, a.weights, not a.no_tesseract)
    if res is None: return 0
    for r in rows(res): print(f"  {r['figure']:58} {r['value']:.3f} {r['unit']:4} {r['how']}")
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
