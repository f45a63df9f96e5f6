"""The levelling study (bench/bench_level.py): both ways of preparing a line, page readings joined per page, the tilt summary."""
import importlib.util, json, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location('bench_level', ROOT/'bench'/'bench_level.py')
level = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(level)


def written(text: str, turn: float = 0.0) -> Image.Image:
    "Dark handwriting-font text on light paper, turned `turn` degrees (counter-clockwise: it climbs to the right)."
    from hwr.data.render import load_font
    im = Image.new('L', (1500, 260), 230)
    ImageDraw.Draw(im).text((30, 90), text, font=load_font('kalam', 56), fill=30)
    return im.rotate(turn, resample=Image.BILINEAR, fillcolor=230) if turn else im


@pytest.fixture(scope='module')
def predictor():
    from hwr.predict import LinePredictor
    return LinePredictor()


def test_the_two_ways_differ_much_only_on_a_tilted_line(predictor):
    text = 'a line long enough to have a tilt of its own'
    level_line, climbing = written(text), written(text, 3)
    flat = level.prepare(predictor, [level_line, climbing], False)
    levelled = level.prepare(predictor, [level_line, climbing], True)
    assert abs(flat[0].shape[1] - levelled[0].shape[1]) <= 0.01 * flat[0].shape[1]   # a level line: about the same image
    assert np.array_equal(levelled[1], predictor.preprocess(climbing))   # 'levelled' is what hwr reads
    # measured on the diagonal, the core is too tall and the line is scaled small: fewer columns
    assert flat[1].shape[1] < 0.8 * levelled[1].shape[1], (flat[1].shape, levelled[1].shape)
    t = level.tilts([level_line, climbing])
    assert t['lines'] == 2 and 1.0 < t['p90_deg'] < 3.5 and t['median_deg'] < t['p90_deg']


def test_pages_are_their_lines_joined(predictor, monkeypatch):
    read = {False: ['ab', 'cd', 'ef'], True: ['ab', 'cx', 'ef']}
    monkeypatch.setattr(level, 'prepare', lambda lp, images, lv: lv)
    monkeypatch.setattr(level, 'read', lambda lp, lm, lv: {'greedy': read[lv], level.LM_RUN: read[lv]})
    out = level.page_cer(predictor, None, [['l1', 'l2'], ['l3']], ['ab cd', 'ef'])
    assert out['not levelled'] == {'greedy': 0.0, level.LM_RUN: 0.0}
    assert out['levelled']['greedy'] == pytest.approx(1 / 7, abs=1e-4)   # one character wrong of 7 ("ab cd" + "ef")


def test_bench_reports_a_recorded_study(tmp_path, monkeypatch):
    import bench.__main__ as bm
    rec = {'date': '2026-12-07', 'weights': 'shipped',
           'csafe_lines': {'not levelled': {'greedy': 0.23, 'beam 32 + LM': 0.18}, 'levelled': {'greedy': 0.16, 'beam 32 + LM': 0.11},
                           'tilt': {'lines': 417, 'median_deg': 1.0, 'p90_deg': 2.4}},
           'csafe_pages': {'pages': 47, 'not levelled': {'greedy': 0.28, 'beam 32 + LM': 0.24}, 'levelled': {'greedy': 0.18, 'beam 32 + LM': 0.13}}}
    (tmp_path/'level.json').write_text(json.dumps(rec))
    monkeypatch.setattr(bm, 'RESULTS_DIR', tmp_path)
    rows = bm.level_rows()
    assert [r['value'] for r in rows] == [0.24, 0.13, 0.18, 0.11]
    assert '47 pages' in rows[0]['how'] and 'median 1.0°' in rows[2]['how']
