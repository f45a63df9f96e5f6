"""hwr-predict on PDFs: pages read in order with the text of the images they were made from, and bad PDFs refused in one line."""
from __future__ import annotations

import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import pytest                                                   # noqa: E402
from PIL import Image, ImageDraw, ImageFont                     # noqa: E402

from hwr import util                                            # noqa: E402
from hwr.cli import main                                        # noqa: E402
from hwr.pdf import _tiny_pdf, pdf_of_images                    # noqa: E402

TEXTS = [('hello world', 'good morning'), ('thank you', 'see you soon'), ('one more', 'page here')]


def _page(lines) -> Image.Image:
    "A small page of dark printed lines on light paper."
    im = Image.new('L', (520, 80 + 70 * len(lines)), 235)
    d = ImageDraw.Draw(im)
    for k, t in enumerate(lines): d.text((20, 30 + 70 * k), t, fill=20, font=ImageFont.load_default(size=36))
    return im


@pytest.fixture(scope='module')
def pages(tmp_path_factory):
    d = tmp_path_factory.mktemp('pdf')
    ims = [_page(t) for t in TEXTS]
    for k, im in enumerate(ims): im.save(d/f'p{k}.png')
    (d/'scan.pdf').write_bytes(pdf_of_images(ims, dpi=100))
    return d


def _run(args, capsys):
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_pages_in_order_with_the_text_of_the_pngs(pages, capsys):
    rc, out, err = _run([str(pages/f'p{k}.png') for k in range(3)] + ['--json'], capsys)
    assert rc == 0, err
    png = [r['text'] for r in json.loads(out)]
    rc, out, err = _run([str(pages/'scan.pdf'), '--json', '--dpi', '100'], capsys)
    assert rc == 0, err
    res = json.loads(out)
    assert [r['pdf_page'] for r in res] == [1, 2, 3] and all(r['path'] == str(pages/'scan.pdf') for r in res)
    assert [r['text'] for r in res] == png
    assert all(len(r['lines']) == 2 for r in res)
    rc, out, err = _run([str(pages/'scan.pdf'), '--dpi', '100'], capsys)      # text: one row per line, the PDF page named
    rows = out.splitlines()
    assert rc == 0 and len(rows) == 6 and rows[0].endswith('\tpage 1/2\tpdf page 1/3') and rows[-1].endswith('\tpage 2/2\tpdf page 3/3')


def test_scanned_pages_are_read_as_their_own_pixels(pages, capsys):
    "Without --dpi, a page that is one scan is its image, pixel for pixel, and reads as the PNG does."
    import numpy as np
    from hwr.pdf import pdf_pages
    got = list(pdf_pages(pages/'scan.pdf'))
    assert [k for k, _ in got] == [1, 2, 3]
    for k, im in got:
        assert im.info['scanned'] and im.info['dpi'] == (100, 100)
        assert np.array_equal(np.asarray(im), np.asarray(Image.open(pages/f'p{k - 1}.png').convert('L')))
    rc, out, err = _run([str(pages/f'p{k}.png') for k in range(3)] + ['--json'], capsys)
    png = [r['text'] for r in json.loads(out)]
    rc, out, err = _run([str(pages/'scan.pdf'), '--json'], capsys)
    assert rc == 0 and [r['text'] for r in json.loads(out)] == png, err
    blank = list(pdf_pages(__import__('io').BytesIO(_tiny_pdf(1))))          # a page with no image is drawn, at 300 DPI
    assert not blank[0][1].info.get('scanned') and blank[0][1].info['dpi'] == (300, 300)


def test_a_pdf_without_the_name(pages, capsys):
    (pages/'scan.bin').write_bytes((pages/'scan.pdf').read_bytes())
    rc, out, err = _run([str(pages/'scan.bin'), '--json', '--dpi', '100', '--model', 'page'], capsys)
    assert rc == 0 and [r['pdf_page'] for r in json.loads(out)] == [1, 2, 3]


def _bad(tmp_path, capsys, data: bytes | None, says: str, args=(), rc_expected=1, patch=None):
    p = tmp_path/'bad.pdf'
    if data is not None: p.write_bytes(data)
    try:
        if patch: old = util.LIMITS['pdf_pages']; util.LIMITS['pdf_pages'] = patch
        try: rc = main([str(p), *args])
        except SystemExit as e: rc = e.code
    finally:
        if patch: util.LIMITS['pdf_pages'] = old
    out = capsys.readouterr()
    text = out.out + out.err
    assert rc == rc_expected and says in text and 'Traceback' not in text, text
    assert sum('error' in l for l in out.err.splitlines()) == 1, out.err   # one error line (argparse prints its usage above its own)
    return text


def test_not_a_pdf(tmp_path, capsys): _bad(tmp_path, capsys, b'just some text', 'is not a PDF')
def test_empty(tmp_path, capsys): _bad(tmp_path, capsys, b'', 'is empty')
def test_cut_short(tmp_path, capsys, pages): _bad(tmp_path, capsys, (pages/'scan.pdf').read_bytes()[:5000], 'is cut short')
def test_encrypted(tmp_path, capsys): _bad(tmp_path, capsys, _tiny_pdf(encrypt=True), 'is encrypted with a password')
def test_over_the_page_limit(tmp_path, capsys):
    _bad(tmp_path, capsys, _tiny_pdf(4), "over hwr's limit of 3", patch=(3, 'pages of one PDF'))
def test_dpi_5000(tmp_path, capsys): _bad(tmp_path, capsys, _tiny_pdf(1), '--dpi must be from 50 to 600, got 5000', ['--dpi', '5000'], 2)
def test_a_blank_page_is_that_pages_error(tmp_path, capsys):
    _bad(tmp_path, capsys, _tiny_pdf(1), 'pdf page 1/1: error:')
