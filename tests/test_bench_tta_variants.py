"""The test-time augmentation study (bench/bench_tta_variants.py): its variants, how it combines them, a 2-line reading."""
import importlib.util, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location('bench_tta_variants', ROOT/'bench'/'bench_tta_variants.py')
tta = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tta)


def written(text: str, thin: bool = False) -> Image.Image:
    "Dark handwriting-font text on light paper (kalam, a font the line model never trained on); `thin`: a fine pen."
    from PIL import ImageFilter
    from hwr.data.render import load_font
    im = Image.new('L', (700, 120), 230)
    ImageDraw.Draw(im).text((20, 20), text, font=load_font('kalam', 56), fill=30)
    return im.filter(ImageFilter.MaxFilter(5)) if thin else im


@pytest.fixture(scope='module')
def predictor():
    from hwr.predict import LinePredictor
    return LinePredictor()


def test_variants_keep_the_height_and_the_stroke_ones_the_width(predictor):
    import hwr.preprocess as pre
    estimate = pre.estimate_slant
    lines = tta.prepare_variants(written('the quick fox', thin=True), predictor.invert, predictor.height)
    assert set(lines) == set(tta.VARIANTS)
    assert pre.estimate_slant is estimate                       # the slant estimate is put back after the variants
    assert np.array_equal(lines['base'], predictor.preprocess(written('the quick fox', thin=True)))   # 'base' is what hwr reads
    assert {a.shape[0] for a in lines.values()} == {predictor.height}
    assert len({lines[k].shape for k in tta.STROKES}) == 1      # frame-aligned, so they can be averaged
    assert lines['small'].shape[1] < lines['base'].shape[1] < lines['large'].shape[1]
    ink = {k: float(lines[k].mean()) for k in tta.STROKES}
    assert ink['thin'] < ink['base'] < ink['thick']             # a fine pen is thickened less, or more, than hwr does
    assert not np.array_equal(lines['lean left'], lines['lean right'])


def test_combine_averages_strokes_and_picks_the_surest():
    from hwr.data.base import BLANK_INDEX, MAPPING
    def probs(path, sure):
        p = np.full((len(path), len(MAPPING)), (1 - sure) / (len(MAPPING) - 1), np.float32)
        p[np.arange(len(path)), path] = sure
        return p
    b = BLANK_INDEX
    path = [1, b, 2, b, 3, b]
    cands = {k: probs(path, 0.6) for k in tta.VARIANTS}
    cands['thick'] = probs(path, 0.9)
    cands['small'] = probs([2, b, 2, b, 3, b, b], 0.99)
    out = tta.combine(cands)
    assert np.allclose(out['mean strokes'], (2 * probs(path, 0.6) + probs(path, 0.9)) / 3)
    assert out['base'] is cands['base']
    assert out['most confident'] is cands['small']              # the surest reading wins, whatever its width
    cands['thin'] = probs(path + [b], 0.6)                # strokes of another width: no average, the base stands in
    assert tta.combine(cands)['mean strokes'] is cands['base']


def test_read_scores_every_combination(predictor):
    from hwr.lm import load_lm
    texts = ['hello world', 'the quick fox']
    res = tta.read(predictor, [written(t) for t in texts], texts, load_lm('shipped'))
    assert res['lines'] == 2
    assert res['network_ms_per_line']['all variants'] > res['network_ms_per_line']['one variant'] > 0
    for k in ('base', 'mean strokes', 'most confident', 'most confident + mean strokes'):
        assert set(res[k]) == {'greedy', tta.LM_RUN}
        assert all(0 <= v < 0.5 for v in res[k].values()), res[k]   # a clear printed-like line reads nearly right
