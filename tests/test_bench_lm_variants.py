"""The LM study (bench/bench_lm_variants.py): variants parsed and checked, pages read alone and as running text."""
import argparse, importlib.util, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location('bench_lm_variants', ROOT/'bench'/'bench_lm_variants.py')
lmv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lmv)


def frames(*rows):
    "(frames, classes) outputs: each row {char: probability}, the rest blank."
    from hwr.data.base import BLANK_INDEX, CHAR_TO_INDEX, MAPPING
    p = np.zeros((len(rows), len(MAPPING)))
    for t, row in enumerate(rows):
        for ch, q in row.items(): p[t, CHAR_TO_INDEX[ch]] = q
        p[t, BLANK_INDEX] = 1 - p[t].sum()
    return p


def test_variants_are_checked():
    assert lmv.parse_variant('7:1') == (7, 1)
    for bad in ('7', '7:x', '0:2', '6:0', '11:1'):
        with pytest.raises(argparse.ArgumentTypeError): lmv.parse_variant(bad)


def test_pages_are_read_alone_and_as_running_text():
    from hwr.data.base import BLANK_INDEX, CHAR_TO_INDEX
    class AfterTo:                       # after "to " the next word begins with b, far more than with h
        meta = {'alpha': 0.5, 'beta': 1.0}
        def log_probs(self, context):
            p = np.ones(BLANK_INDEX)
            if context.endswith('to '): p[CHAR_TO_INDEX['b']], p[CHAR_TO_INDEX['h']] = 30.0, 0.1
            return np.log(p / p.sum()).tolist()
    to, be = frames({'t': .95}, {}, {'o': .95}), frames({'h': .5, 'b': .45}, {}, {'e': .9})
    lines = lmv.read([to, be], ['to', 'be'], None, AfterTo())
    assert lines['cer'] == pytest.approx(0.25) and lines['ms_per_line'] >= 0      # "he" for "be": 1 of 4 characters
    pages = lmv.read([to, be, to], ['to be', 'to'], [2, 1], AfterTo())           # two pages: the first has two lines
    assert pages['alone'] == pytest.approx(1 / 7, abs=1e-4) and pages['running'] == 0.0
    pages = lmv.read([to, be], ['to', 'he'], [1, 1], AfterTo())                  # a page does not go on from the page before
    assert pages['alone'] == pages['running'] == 0.0
