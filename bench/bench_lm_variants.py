"""The character LM, built other ways, and pages read as running text: what each reads on real lines and pages.

    python bench/bench_lm_variants.py [--variants 6:2 6:1 7:1 ...] [--json OUT]

Each variant is `order:min_count`: a `CharNgramLM` of that order trained on the corpus's training sentences, keeping
n-grams of 3 or more characters seen at least `min_count` times (`6:2` is the shipped recipe). Each is measured the
way `train_shipped_lm` builds the shipped one:

- **bits per character** on 1,000 of the corpus's test sentences;
- **alpha and beta chosen on real held-out lines** (`tune_lm` on the CSAFE lines of the last `LM_TUNING_PAGES`
  training pages, read by `lm_tuning_weights()`, the real stage trained again without them);
- then, with that pair, beam `LM_BEAM_WIDTH` over the shipped network's outputs: the real dev lines and pages
  (../shared/realink-dev, when present), the kept lines of the CSAFE LND test pages and all 47 pages (cut by
  `hwr.segment`). Pages are read two ways: each line alone (the LM starts every line after a space) and as
  running text (`running_text`: each line's search starts from the end of the line before instead of a bare space;
  `PagePredictor` reads each line alone). ms per line is the decoding alone, on this machine, under whatever else runs.

The network reads every line once (the shipped weights, through `LinePredictor`); only the decoding changes.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys, time
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_realink import load_pages, load_realink   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WAYS = {'alone': False, 'running': True}


def parse_variant(text: str) -> tuple[int, int]:
    "'6:2' -> (6, 2), checked."
    try: order, min_count = (int(v) for v in text.split(':'))
    except ValueError: raise argparse.ArgumentTypeError(f"a variant is order:min_count, e.g. 6:2; got {text!r}") from None
    if not 1 <= order <= 10 or not 1 <= min_count <= 100:
        raise argparse.ArgumentTypeError(f"order must be 1 to 10 and min_count 1 to 100; got {text!r}")
    return order, min_count


def outputs(lp, images) -> list[np.ndarray]:
    "The network's (frames, classes) outputs for each line image (`LinePredictor.probabilities`)."
    return [lp.probabilities(im) for im in images]


def eval_sets() -> dict:
    "{name: (per-line outputs, truths, page sizes or None)} for the sets present on this machine."
    from hwr.predict import LinePredictor
    from hwr.preprocess import load_image
    from hwr.segment import segment_lines
    from bench.bench_csafe import test_lines, test_pages
    lp, sets = LinePredictor(runtime='keras'), {}
    dev = load_realink()
    if dev is not None:
        sets['dev_lines'] = (outputs(lp, [load_image(l['path']) for l in dev]), [l['text'] for l in dev], None)
        pages = load_pages()
        if pages:
            cut = [[l.image for l in segment_lines(p['path'])] for p in pages]
            sets['dev_pages'] = (outputs(lp, [im for pg in cut for im in pg]), [' '.join(p['texts']) for p in pages], [len(pg) for pg in cut])
    pages = test_pages()
    if pages is not None:
        rows = test_lines(pages)
        sets['csafe_lines'] = (outputs(lp, [load_image(r[0]) for r in rows]), [r[1] for r in rows], None)
        cut = [[l.image for l in segment_lines(p['path'])] for p in pages]
        sets['csafe_pages'] = (outputs(lp, [im for pg in cut for im in pg]), [p['text'] for p in pages], [len(pg) for pg in cut])
    return sets


def tuning_lines() -> tuple[list, list[str], str]:
    "The held-out CSAFE training lines `train_shipped_lm` tunes on, as its tuning network reads them."
    from hwr.data.csafe import CsafeDataset, csafe_line_crops, fetch_csafe
    from hwr.predict import LinePredictor
    from hwr.training.recipes import LM_TUNING_PAGES, lm_tuning_weights
    ds = CsafeDataset(hold_out=LM_TUNING_PAGES)
    fetch_csafe(ds.held_out_pages, progress=False)
    reader = LinePredictor(lm_tuning_weights(hold_out=LM_TUNING_PAGES), runtime='keras')
    lines = list(csafe_line_crops(ds.held_out_pages))
    return outputs(reader, [im for _, _, im, _ in lines]), [t for *_, t in lines], f"{len(lines)} lines of the last {LM_TUNING_PAGES} CSAFE training pages"


def running_text(probs, lm) -> list[str]:
    "One page's lines decoded in order, each after the end of the line before (its last words and a space; none after a hyphen)."
    from hwr.decode import ctc_beam_search_lm
    texts, context = [], ' '
    for p in probs:
        text = ctc_beam_search_lm(p, lm, lm.meta['alpha'], lm.meta['beta'], context=context)[0][0]
        texts.append(text)
        if text.strip(): context = text.rstrip() + ('' if text.rstrip().endswith('-') else ' ')
    return texts


def read(probs, truths, sizes, lm) -> dict:
    "CER (lines, or pages each way) and decoding ms per line with `lm` at its stored alpha and beta."
    from hwr.decode import lm_decode
    from hwr.metrics import cer
    if sizes is None:
        t = time.perf_counter(); texts = lm_decode(probs, lm)[0]
        return {'cer': round(float(cer(list(truths), texts)), 4), 'ms_per_line': round((time.perf_counter() - t) / len(probs) * 1000, 1)}
    out, ends = {}, np.cumsum(sizes)
    for way, running in WAYS.items():
        t = time.perf_counter()
        pages = [' '.join(running_text(probs[s - n:s], lm) if running else lm_decode(probs[s - n:s], lm)[0])
                 for s, n in zip(ends, sizes)]   # each page a text of its own
        out[way] = round(float(cer(list(truths), pages)), 4)
        out['ms_per_line'] = round((time.perf_counter() - t) / len(probs) * 1000, 1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variants', nargs='+', type=parse_variant, default=[(6, 2), (6, 1), (7, 1), (5, 1)], help='order:min_count, e.g. 6:2 (shipped)')
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'lm_variants.json'), help='results file')
    a = ap.parse_args(argv)
    from hwr.data.corpus import load_corpus
    from hwr.decode import tune_lm
    from hwr.lm import CharNgramLM
    corpus = load_corpus('english')
    tune_probs, tune_truths, tuned_on = tuning_lines()
    sets = eval_sets()
    res = {'date': datetime.date.today().isoformat(), 'tuned_on': tuned_on, 'lines': {k: len(v[0]) for k, v in sets.items()}, 'variants': {}}
    for order, min_count in a.variants:
        t = time.time()
        lm = CharNgramLM.train(corpus['train'], order, min_count)
        tuned = tune_lm(tune_probs, tune_truths, lm)
        lm.meta.update(alpha=tuned['alpha'], beta=tuned['beta'])
        rec = {'ngrams': lm.size, 'bits_per_char_test': round(lm.bits_per_char(corpus['test'][:1000]), 3),
               'alpha': tuned['alpha'], 'beta': tuned['beta'], 'tuning_cer': round(tuned['cer'], 4), 'tuning_cer_no_lm': round(tuned['cer_no_lm'], 4),
               **{k: read(*v, lm) for k, v in sets.items()}, 'minutes': round((time.time() - t) / 60, 1)}
        res['variants'][f'{order}:{min_count}'] = rec
        print(f'{order}:{min_count}', json.dumps(rec), flush=True)
    path = Path(a.json)
    tmp = path.with_suffix('.part'); tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
