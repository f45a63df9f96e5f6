"""The capture study (bench/bench_capture.py): each condition makes the page it says, rules can be left in for the comparison, rows from a record."""
import importlib.util, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location('bench_capture', ROOT/'bench'/'bench_capture.py')
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)


def page(w: int = 900, h: int = 400) -> Image.Image:
    "Dark handwriting-font text on white paper, two lines."
    from hwr.data.render import load_font
    im = Image.new('L', (w, h), 255)
    d = ImageDraw.Draw(im)
    for i, text in enumerate(['a page of writing to', 'read in every way']):
        d.text((40, 60 + 150 * i), text, font=load_font('kalam', 60), fill=40)
    return im


def test_every_condition_makes_a_readable_page():
    from hwr.preprocess import load_image
    im = page()
    for name, make in capture.CONDITIONS.items():
        out = make(im)
        g = load_image(out)
        assert g.ndim == 2 and 0 <= g.min() < 0.6 < g.max() <= 1, name
    assert capture.CONDITIONS['half size'](im).size == (450, 200)
    assert capture.CONDITIONS['turned 2°'](im).size[1] > im.size[1]          # expanded, not cropped
    assert capture.CONDITIONS['colour photo'](im).mode == 'RGB'
    assert np.array_equal(np.asarray(capture.CONDITIONS['original'](im)), np.asarray(im))


def test_rules_and_margin_are_drawn_under_the_ink():
    im = page()
    a = np.asarray(capture.ruled(im))
    assert (a[0::90] <= 170).all() and (a[1::90] <= 170).all() and (a[2::90] == 255).mean() > 0.9
    assert np.array_equal(np.minimum(np.asarray(im), a), a)                 # only ever darker: the ink stays on top
    m = np.asarray(capture.with_margin(im))
    assert (m[:, 150:152] <= 150).all() and (m[:, 152] == np.asarray(im)[:, 152]).all()


def test_rules_left_switches_the_removal_off_and_back_on():
    import hwr.preprocess as pre, hwr.segment as seg
    from hwr.preprocess import preprocess_line
    line = np.asarray(capture.ruled(page(1400, 160), every=200, first=95, thick=2, grey=120))
    taken_out = preprocess_line(line)
    with capture.rules_left():
        ink = np.ones((5, 5), np.float32)
        assert pre.remove_rules(ink) is ink and seg.remove_rules(ink) is ink
        left_in = preprocess_line(line)
    assert pre.remove_rules.__name__ == 'remove_rules' and seg.remove_rules is pre.remove_rules
    assert not np.array_equal(taken_out, left_in)
    assert np.array_equal(preprocess_line(line), taken_out)


def test_rows_come_from_a_record():
    run = {'greedy': 0.17, capture.LM_RUN: 0.13, 'line_count_right': 11, 'seconds_per_page': 1.2}
    res = {'date': '2026-12-07 22:00', 'pages': 12,
           'conditions': {'original': {'hwr': run}, 'ruled': {'hwr': run, 'rules left': {**run, 'greedy': 0.42}}}}
    rows = capture.rows(res)
    assert [r['figure'] for r in rows] == ['capture, original: page CER greedy', 'capture, ruled: page CER greedy',
                                           'capture, ruled, rules left: page CER greedy']
    assert rows[2]['value'] == 0.42 and 'beam + LM 0.130' in rows[0]['how'] and 'first 12 CSAFE LND pages' in rows[0]['how']


def test_page_count_is_bounded():
    with pytest.raises(SystemExit):
        capture.main(['--pages', '0'])
    with pytest.raises(SystemExit):
        capture.main(['--pages', '48'])


def test_the_table_conditions_and_their_switch():
    import hwr.preprocess as pre
    im = page()
    framed = np.asarray(capture.CONDITIONS['on a table'](im))
    assert framed.shape == (700, 1200) and (framed[:150] == 60).all() and np.array_equal(framed[150:550, 150:1050], np.asarray(im))
    side = np.asarray(capture.CONDITIONS['table along one side'](im))
    assert side.shape == (400, 1100) and (side[:, :200] == 50).all()
    assert set(capture.TABLE) == {'on a table', 'on a table, turned 3°', 'table along one side'}
    g = framed.astype(np.float32) / 255
    assert (pre.fill_surroundings(g)[:150] > 0.9).all()                    # filled with the paper's level
    with capture.surroundings_left():
        assert pre.fill_surroundings(g) is g
    assert (pre.fill_surroundings(g)[:150] > 0.9).all()                    # and back


def test_a_refused_page_reads_as_nothing():
    class Reader:
        class lines: lm = None
        def predict(self, image, beam):
            if image.mean() < 100: raise pre_blank("no ink found: the image is blank")
            return {'lines': [{'text': 'ab'}]}
    from hwr.preprocess import BlankImageError as pre_blank
    out = capture.read(Reader(), None, [np.full((4, 4), 255), np.zeros((4, 4))], ['ab', 'cd'], [1, 1])
    assert out['pages_refused'] == 1 and out['greedy'] == 0.5 and out['line_count_right'] == 1 and 'blank' in out['error']


def test_curled_pages_and_unbending():
    import hwr.preprocess as pre
    a = np.asarray(page())
    bowed = np.asarray(capture.CONDITIONS['curled 40 px'](page()))
    assert bowed.shape == a.shape and np.array_equal(bowed[:, 0], a[:, 0])          # the left edge stays
    rows = lambda img: np.flatnonzero((img[:, 450] < 128))
    assert abs(rows(a).min() - rows(bowed).min() - 40) <= 2                          # the middle moves up 40 rows
    assert set(capture.BENT) == {'original', 'curled 40 px', 'curled 80 px'}
    with capture.left_bent():
        assert pre.LINE_UNBEND is False
    assert pre.LINE_UNBEND is True


def test_only_keeps_what_is_recorded(tmp_path, monkeypatch):
    run = {'greedy': 0.2, capture.LM_RUN: 0.1, 'line_count_right': 12, 'seconds_per_page': 1.0, 'pages_refused': 0}
    f = tmp_path/'capture.json'
    f.write_text('{"date": "2026-12-07 20:00", "pages": 12, "conditions": {"ruled": {"hwr": {"greedy": 0.3}}}}')
    monkeypatch.setattr(capture, 'evaluate', lambda n, only: {'date': '2026-12-07 22:00', 'pages': 12, 'conditions': {'shaded': {'hwr': run}}})
    capture.main(['--only', 'shaded', '--json', str(f)])
    import json
    rec = json.loads(f.read_text())
    assert set(rec['conditions']) == {'ruled', 'shaded'} and rec['dates'] == {'ruled': '2026-12-07 20:00', 'shaded': '2026-12-07 22:00'}
