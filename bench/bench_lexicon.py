"""Words that exist: does a lexicon on top of the character LM read real lines better?

    python bench/bench_lexicon.py [--json OUT]

The shipped line model reads each line once; its frames are then decoded by prefix beam search (`hwr.decode`) with:

- **chars**: the shipped character 6-gram alone (what `lm='shipped'` does), at the shipped alpha and at 0.5, beam 16 and 32;
- **mix**: inside a word, the 6-gram's next-letter guess mixed (weight lambda) with the share of the lexicon's words, by
  frequency, that begin with the letters so far and go on with each letter (a unigram word model spelled out letter by letter);
  before a word and outside the lexicon the 6-gram alone, so every text stays readable;
- **penalty**: the 6-gram, with a cost (in log units) for a word that ends outside the lexicon and for the letter at which a
  word leaves the lexicon's prefix tree (a soft form of lexicon-constrained search: out-of-vocabulary words cost more, but read).

The lexicon is every run of letters in the corpus's training sentences seen at least twice (lower-cased; about 24,000 words).
Each variant is read on the 400 synthetic validation lines (seed 1, held-out fonts and sentences: where weights are chosen)
and, for measuring only, on the real dev lines (../shared/realink-dev) and the 417 CSAFE test-writer lines. ms per line is the
decoding alone, on this machine.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys, time
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ROOT = Path(__file__).resolve().parents[1]
LOWER, UPPER = 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'


def lexicon(texts, min_count: int = 2) -> dict[str, int]:
    "Every run of letters in `texts`, lower-cased, seen at least `min_count` times, with its count."
    import re
    from collections import Counter
    counts = Counter(w.lower() for t in texts for w in re.findall(r'[A-Za-z]+', t))
    return {w: n for w, n in counts.items() if n >= min_count}


class _WordLM:
    "The character LM with word knowledge: subclasses change `_adjust` for the word being written."
    def __init__(self, lm, words: dict[str, int]):
        from hwr.data.base import CHAR_TO_INDEX
        from hwr.lm import V
        self.lm, self.words, self.meta, self._memo = lm, words, lm.meta, {}
        self.prefixes = {w[:i] for w in words for i in range(1, len(w) + 1)}
        self.lower = np.array([CHAR_TO_INDEX[c] for c in LOWER]); self.upper = np.array([CHAR_TO_INDEX[c] for c in UPPER])
        self.others = np.array(sorted(set(range(V)) - set(self.lower) - set(self.upper)))

    def log_probs(self, context: str) -> list[float]:
        i = len(context)
        while i and context[i - 1].isascii() and context[i - 1].isalpha(): i -= 1
        word = context[i:].lower()
        if not word or word not in self.prefixes: return self.lm.log_probs(context)   # between words, or already outside the lexicon
        key = (context[-(self.lm.order - 1):], word)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self._adjust(np.array(self.lm.log_probs(context)), word).tolist()
        return got


class MixLM(_WordLM):
    "Inside a word: lambda x the lexicon's next-letter shares (by word frequency) + (1 - lambda) x the character LM."
    def __init__(self, lm, words, weight: float):
        super().__init__(lm, words)
        from collections import Counter, defaultdict
        self.weight, nxt = weight, defaultdict(Counter)
        for w, n in words.items():
            for k in range(1, len(w)): nxt[w[:k]][w[k]] += n
            nxt[w][''] += n
        self.next = {p: ({ch: n / sum(c.values()) for ch, n in c.items()}) for p, c in nxt.items()}

    def _adjust(self, logp, word):
        pc, pw, share = np.exp(logp), np.zeros(len(logp)), self.next[word]
        for ch, s in share.items():
            if not ch: continue
            lo, up = self.lower[ord(ch) - 97], self.upper[ord(ch) - 97]
            pw[lo], pw[up] = s * pc[lo] / (pc[lo] + pc[up]), s * pc[up] / (pc[lo] + pc[up])
        if share.get(''): pw[self.others] = share[''] * pc[self.others] / pc[self.others].sum()
        return np.log(self.weight * pw + (1 - self.weight) * pc)


class PenaltyLM(_WordLM):
    "The character LM, less `end` for ending a word outside the lexicon and `leave` for the letter that leaves its prefix tree."
    def __init__(self, lm, words, end: float, leave: float):
        super().__init__(lm, words); self.end, self.leave = end, leave

    def _adjust(self, logp, word):
        if word not in self.words: logp[self.others] -= self.end
        if self.leave:
            out = np.array([word + ch not in self.prefixes for ch in LOWER])
            logp[self.lower[out]] -= self.leave; logp[self.upper[out]] -= self.leave
        return logp


def _frames(reader, images) -> list[np.ndarray]:
    "The network's frames for each image, read one by one (so each keeps its own width)."
    from hwr.predict import LinePredictor
    class Grab(LinePredictor):
        def _decode(self, probs, beam_width, details=False):
            self.got.extend(probs); return [('', 0.0)] * len(probs)
    g = Grab.__new__(Grab); g.__dict__.update(reader.__dict__); g.lm, g.got = None, []
    for im in images: g.predict_batch([im])
    return g.got


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'lexicon.json'))
    a = ap.parse_args(argv)
    from bench.bench_csafe import test_lines, test_pages
    from bench.bench_realink import load_realink
    from hwr.data.base import decode
    from hwr.data.corpus import load_corpus
    from hwr.data.synthetic import SyntheticLinesDataset
    from hwr.decode import greedy_readings, lm_decode
    from hwr.lm import load_lm
    from hwr.metrics import cer
    from hwr.predict import LinePredictor
    reader, lm = LinePredictor(), load_lm('shipped')
    sets = {}
    val = SyntheticLinesDataset(num_train=1, num_test=400, seed=1).load_or_generate_data()
    sets['synthetic_val'] = ([p for p in np.concatenate([reader._run(val.x_test[s:s + 50].astype(np.float32) / 255)
                                                         for s in range(0, 400, 50)])], [decode(y) for y in val.y_test])
    dev = load_realink()
    if dev: sets['dev_lines'] = (_frames(reader, [l['path'] for l in dev]), [l['text'] for l in dev])
    pages = test_pages()
    if pages:
        rows = test_lines(pages)
        sets['csafe_lines'] = (_frames(reader, [r[0] for r in rows]), [r[1] for r in rows])
    words = lexicon(load_corpus('english')['train'])
    alpha, beta = lm.meta['alpha'], lm.meta['beta']
    variants = [('chars', lm, alpha, 16), ('chars', lm, 0.5, 16), ('chars', lm, alpha, 32), ('chars', lm, 0.5, 32)]
    from hwr.decode import tune_lm       # alpha and beta chosen afresh for a 32-wide beam, on the synthetic validation lines only
    probs, truth = sets['synthetic_val']
    tuned32 = tune_lm(probs, truth, lm, beam_width=32)
    print('tuned at beam 32:', {k: tuned32[k] for k in ('alpha', 'beta', 'cer')}, flush=True)
    variants += [(f'mix lambda={w}', MixLM(lm, words, w), alpha, 16) for w in (0.3, 0.6)]
    variants += [(f'penalty end={e} leave={l}', PenaltyLM(lm, words, e, l), al, bw)
                 for e, l, al, bw in ((8, 0, alpha, 16), (8, 0, 0.5, 16), (8, 8, 0.5, 16), (8, 0, 0.5, 32))]
    variants.append(('chars, tuned at beam 32', lm, tuned32['alpha'], 32, tuned32['beta']))
    rows = []
    for name, model, al, bw, *b in variants:
        be = b[0] if b else beta
        row = {'decoder': name, 'alpha': al, 'beta': be, 'beam': bw}
        for s, (probs, truth) in sets.items():
            t = time.perf_counter()
            texts = lm_decode(probs, model, al, be, beam_width=bw)[0]
            row[s] = {'cer': round(cer(truth, texts), 4), 'ms_per_line': round(1000 * (time.perf_counter() - t) / len(truth), 1)}
        rows.append(row); print(json.dumps(row), flush=True)
    greedy = {s: round(cer(truth, [t for t, _ in greedy_readings(probs)]), 4) for s, (probs, truth) in sets.items()}
    out = {'date': datetime.date.today().isoformat(), 'load': round(os.getloadavg()[0], 1), 'tuned_beam32': tuned32, 'lexicon_words': len(words), 'lines': {s: len(v[1]) for s, v in sets.items()},
           'greedy': greedy, 'runs': rows}
    tmp = Path(a.json).with_suffix('.part'); tmp.write_text(json.dumps(out, indent=1)); os.replace(tmp, a.json)
    print('greedy', greedy)
    return 0


if __name__ == '__main__':
    sys.exit(main())
