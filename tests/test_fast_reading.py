"""The fast paths of reading: ONNX Runtime on the shipped exports, batches of similar widths, the vectorised
preprocessing (the same results as the SciPy reference it replaced), and confidences a user can threshold."""
from __future__ import annotations
import json, shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from hwr import preprocess as P
from hwr.predict import LinePredictor, PagePredictor, onnx_export_of
from hwr.registry import SHIPPED, WEIGHTS_DIR


def written(text: str, width: int = 700, size: int = 48, slant: float = 0.0) -> np.ndarray:
    "Dark handwriting-font text on light paper, sheared by `slant` (x shift per row up)."
    from hwr.data.render import load_font
    im = Image.new('L', (width, 120), 230)
    ImageDraw.Draw(im).text((30, 25), text, font=load_font('kalam', size), fill=30)
    a = np.asarray(im, np.float32) / 255
    if slant: a = 1 - ndi.affine_transform(1 - a, np.array([[1.0, 0.0], [-slant, 1.0]]), offset=(0.0, slant * 60), order=1)
    return a


@pytest.fixture(scope='module')
def reader():
    return LinePredictor()


@pytest.mark.parametrize('kind', ['line', 'char'])
def test_shipped_onnx_exports_are_of_the_shipped_weights(kind):
    weights = WEIGHTS_DIR/f'{SHIPPED[kind]}.weights.h5'
    onnx = onnx_export_of(weights)
    assert onnx is not None, f're-export: hwr-export shipped-{kind} --force'   # retrained weights need a new export
    record = json.loads(onnx.with_name(onnx.name + '.json').read_text())
    assert record['weights'] == weights.name and record['check']['same_text'] == record['check']['images']


def test_runtimes_read_alike(reader):
    assert reader.runtime == 'onnx'
    tf_reader = LinePredictor(runtime='keras')
    lines = [written('hello world'), written('the quick brown fox', 900), written('read', 300)]
    x = [reader.preprocess(a) for a in lines]
    from hwr.models.line import prepare_lines
    b = prepare_lines(x, reader.height)
    assert np.abs(reader._run(b) - tf_reader._run(b)).max() < 1e-4
    assert [t for t, _ in reader.predict_batch(lines)] == [t for t, _ in tf_reader.predict_batch(lines)]
    with pytest.raises(ValueError, match='valid: auto, onnx, keras'): LinePredictor(runtime='tflite')


def test_stale_export_is_never_used(tmp_path):
    stem = SHIPPED['line']
    for f in (f'{stem}.weights.h5', f'{stem}.json', f'{stem}.onnx', f'{stem}.onnx.json'): shutil.copy(WEIGHTS_DIR/f, tmp_path/f)
    weights = tmp_path/f'{stem}.weights.h5'
    assert onnx_export_of(weights) == tmp_path/f'{stem}.onnx'
    record = json.loads((tmp_path/f'{stem}.onnx.json').read_text())
    record['weights_sha256'] = '0' * 64                                   # an export of other weights
    (tmp_path/f'{stem}.onnx.json').write_text(json.dumps(record))
    assert onnx_export_of(weights) is None
    assert LinePredictor(weights).runtime == 'keras'
    with pytest.raises(ValueError, match='hwr-export'): LinePredictor(weights, runtime='onnx')
    (tmp_path/f'{stem}.onnx.json').write_text('{not json')
    assert onnx_export_of(weights) is None


def test_batches_keep_the_input_order_and_match_single_reads(reader):
    texts = ['one', 'a much longer line of words', 'mid length', 'tiny', 'another fairly long line']
    lines = [written(t, 180 + 28 * len(t)) for t in texts]
    batched = reader.predict_batch(lines, batch_size=2)                  # sorted by width inside, returned in input order
    single = [reader.predict(a) for a in lines]
    assert batched == single                                             # ONNX Runtime reads each line alone: no padding, the same result
    tf_reader = LinePredictor(runtime='keras')                           # TensorFlow reads batches: padded, nearly the same
    tf_batched, tf_single = tf_reader.predict_batch(lines, batch_size=2), [tf_reader.predict(a) for a in lines]
    assert np.allclose([c for _, c in tf_batched], [c for _, c in tf_single], atol=0.05)
    with pytest.raises(ValueError, match='batch_size must be an integer from 1 to 4096'): reader.predict_batch(lines, batch_size=0)
    with pytest.raises(ValueError, match=r'expected line images \(64, width\)'): reader.read_prepared([np.zeros((28, 50), np.uint8)])


def test_confidence_per_character_and_calibrated(reader):
    r = reader.predict(written('hello world'), details=True)
    assert r['text'] and len(r['chars']) == len(r['text']) and ''.join(c['char'] for c in r['chars']) == r['text']
    assert all(0 < c['confidence'] <= 1 for c in r['chars'])
    assert 0 < r['raw_confidence'] <= 1 and 0 <= r['confidence'] <= 1
    cal = reader.calibration
    assert cal is not None and cal['lines'] >= 1000 and np.all(np.diff(cal['calibrated']) >= 0)
    clean, smudged = written('hello world'), written('hello world')
    smudged[40:80, 60:400] = np.clip(smudged[40:80, 60:400] - 0.5 * np.random.default_rng(0).random((40, 340)), 0, 1)
    assert reader.predict(clean)[1] > reader.predict(smudged)[1]         # noise that hurts the reading lowers the confidence
    lm = reader.predict(written('hello world'), beam_width=4, details=True)
    assert len(lm['chars']) == len(lm['text'])


def test_page_reports_its_size_and_boxes_on_the_image_as_stored(reader, tmp_path):
    from hwr.data.ink import render_page
    page = render_page(['The quick brown fox jumps', 'over the lazy dog'], font='kalam', seed=2)
    page = np.asarray(page)
    page = (page * 255).round().astype(np.uint8) if page.dtype != np.uint8 else page
    r = PagePredictor().predict(page)
    assert (r['width'], r['height']) == (page.shape[1], page.shape[0]) and len(r['lines']) == 2
    big = Image.fromarray(page).resize((page.shape[1] * 9, page.shape[0] * 9))   # over READ_MAX_SIDE: read reduced
    big.save(tmp_path/'big.png')
    rb = PagePredictor().predict(tmp_path/'big.png')
    assert (rb['width'], rb['height']) == big.size
    for a, b in zip(r['lines'], rb['lines']): assert np.allclose(np.array(b['box']) / 9, a['box'], atol=6)


def _shear_reference(ink, slant, centre):
    return ndi.affine_transform(ink, np.array([[1.0, 0.0], [-slant, 1.0]]), offset=(0.0, slant * centre), order=1)


def _slant_reference(ink, shears=P.SHEARS, threshold=0.3, shrink=1.0):
    "estimate_slant as it was written first: one SciPy shear per candidate."
    if shrink > 1: ink = ndi.zoom(ink, 1 / shrink, order=1)
    if not (ink > threshold).any(): return 0.0
    h = ink.shape[0]
    a = np.pad(ink, ((0, 0), (int(np.ceil(np.abs(shears).max() * h / 2)) + 2,) * 2))
    def score(s):
        t = _shear_reference(a, s, h / 2) > threshold
        n = t.sum(0); first, last = np.argmax(t, 0), t.shape[0] - np.argmax(t[::-1], 0)
        return float(np.sum(n[(n > 0) & (last - first == n)].astype(np.float64) ** 2))
    best = max(sorted(shears, key=abs), key=score)
    step = np.min(np.diff(np.sort(shears))) / 2
    return float(np.round(max([best, best - step, best + step], key=score), 3))


@pytest.mark.parametrize('slant', [0.0, 0.35, -0.3])
def test_vectorised_preprocessing_matches_the_scipy_reference(slant):
    ink = P.ink_on_black(written('Slanted writing stands up', 900, slant=slant))
    t, b, l, r = P.ink_box(ink)
    labels, n = ndi.label(ink > 0.3)                                     # the box from SciPy's labelling
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.isin(labels, np.flatnonzero(sizes >= max(3, 0.002 * sizes.max())) + 1)
    rows, cols = np.flatnonzero(keep.any(1)), np.flatnonzero(keep.any(0))
    assert (t, b, l, r) == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    crop = ink[t:b, l:r]
    # the same slant, or one half step away when two candidates score within a pixel's rounding of each other
    # (a + f (b - a) and (1 - f) a + f b differ in the last bit at a pixel right on the threshold); the 49 dev lines all agree
    assert abs(P.estimate_slant(crop) - _slant_reference(crop)) <= 0.05 + 1e-9
    upright = P.ink_on_black(written('Slanted writing stands up', 900))
    t0, b0, l0, r0 = P.ink_box(upright)
    font_lean = P.estimate_slant(upright[t0:b0, l0:r0])                   # the font leans a little by itself
    assert abs(P.estimate_slant(crop) - (font_lean - slant)) < 0.11        # `written` shears the top left: a back lean
    padded = np.pad(crop, ((0, 0), (40, 40)))
    assert np.abs(P._shear(padded, 0.3, 20.5) - _shear_reference(padded, 0.3, 20.5)).max() < 1e-5
    for m in (crop, np.ones((5, 5), np.float32), np.zeros((4, 4), np.float32)):
        ref = ndi.distance_transform_edt(m > 0.5)
        assert P.stroke_width(m) == pytest.approx(float(4 * ref[m > 0.5].mean() - 2) if (m > 0.5).any() else 0.0, abs=1e-4)
