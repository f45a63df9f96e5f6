"""Images as users' cameras and scanners store them: a phone photo's EXIF orientation (all eight values) reads upright."""
from __future__ import annotations
import os

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

from hwr.preprocess import load_image          # noqa: E402

# How the EXIF standard lays out each orientation: the stored pixels, given the upright image `a`.
# A viewer (and hwr) undoes this; `np` spells each one out so the test does not lean on PIL's own table.
STORED = {1: lambda a: a, 2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud, 5: lambda a: a.T,
          6: lambda a: np.rot90(a, 1), 7: lambda a: np.rot90(a, 2).T, 8: lambda a: np.rot90(a, -1)}


def _upright() -> np.ndarray:
    im = Image.new('L', (360, 60), 235)
    ImageDraw.Draw(im).text((12, 8), 'hello world', fill=20, font=ImageFont.load_default(size=36))
    return np.asarray(im)


def _save(a: np.ndarray, orientation: int, path):
    exif = Image.Exif(); exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(STORED[orientation](a))).save(path, exif=exif, **({'quality': 95} if path.suffix == '.jpg' else {}))
    return path


@pytest.mark.parametrize('orientation', range(1, 9))
def test_every_exif_orientation_reads_upright(tmp_path, orientation):
    a = _upright()
    want = load_image(a)
    got = load_image(_save(a, orientation, tmp_path/f'o{orientation}.png'))
    assert got.shape == want.shape == (60, 360)
    np.testing.assert_array_equal(got, want)                                    # lossless: exactly the upright image
    with open(tmp_path/f'o{orientation}.png', 'rb') as f:                       # bytes on standard input or an upload, too
        np.testing.assert_array_equal(load_image(f), want)
    with Image.open(tmp_path/f'o{orientation}.png') as im:                      # and a PIL image the caller opened
        np.testing.assert_array_equal(load_image(im), want)


def test_phone_jpegs_read_the_same_text_in_all_eight_orientations(tmp_path):
    from hwr.predict import LinePredictor
    a = _upright()
    reader = LinePredictor()
    upright_text, _ = reader.predict(a)
    paths = [_save(a, o, tmp_path/f'o{o}.jpg') for o in STORED]
    texts = [t for t, _ in reader.predict_batch([load_image(p) for p in paths])]
    assert texts == [upright_text] * 8, (upright_text, texts)
    assert 'hello' in upright_text
