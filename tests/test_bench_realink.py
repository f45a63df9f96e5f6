"""The real-ink benchmark (bench/bench_realink.py): the labels parser, skipping when the set is absent, a 5-line run."""
import importlib.util, math, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]          # the project root
REALINK = ROOT.parent / "shared" / "realink-dev"
SKIP = "real handwriting dev set not found at ../shared/realink-dev (it is not part of the repository); skipping"

_spec = importlib.util.spec_from_file_location('bench_realink', ROOT/'bench'/'bench_realink.py')
rl = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rl)


def need_realink():
    if not (REALINK / "labels.tsv").is_file():
        pytest.skip(SKIP)


def test_labels_split_on_tabs_only(tmp_path):
    f = tmp_path/'labels.tsv'
    f.write_text('filename\ttranscription\tsource\n'
                 'a.png\tBut he said discussions "on a higher\tx/y@1:a.png\n'
                 'b.png\t"my universe": but now\tx/y@1:b.png\n'
                 "c.png\tsaid, her eyes wet again: 'I think its all\tx/y@1:c.png\n", encoding='utf-8')
    rows = rl.read_labels(f)
    assert [r['transcription'] for r in rows] == ['But he said discussions "on a higher', '"my universe": but now',
                                                  "said, her eyes wet again: 'I think its all"]
    assert rows[1] == {'filename': 'b.png', 'transcription': '"my universe": but now', 'source': 'x/y@1:b.png'}
    f.write_text('filename\ttranscription\na.png\tone\textra\n', encoding='utf-8')
    with pytest.raises(ValueError, match='line 2'): rl.read_labels(f)


def test_groups_from_filenames():
    assert rl.group_of('A_htrp_a01-063-06.png') == 'IAM a01-063'
    assert rl.group_of('A_htrp_r06-137-10.png') == 'IAM r06-137'
    assert rl.group_of('A_wd_line2_a01-068u-01.png') == rl.group_of('A_ctcwbs_iam_img0_r03-053-08.png') == 'IAM lines'
    assert rl.group_of('A_htrp_sample1-03.png') == rl.group_of('A_wdnn_random-01.png') == 'Scheidl'
    assert rl.group_of('A_wdnn_cvl-10.png') == 'CVL'
    assert rl.group_of('A_deslant_test4_bentham.png') == rl.group_of('A_ctcwbs_bentham_img2.png') == 'Bentham'


def test_absent_folder_gives_the_skip_message(tmp_path, capsys):
    absent = tmp_path/'realink-dev'
    assert 'not found' in rl.missing_message(absent) and 'skipping' in rl.missing_message(absent)
    assert rl.load_realink(absent) is None and rl.evaluate(absent) is None
    assert 'not found' in capsys.readouterr().out
    p = subprocess.run([sys.executable, str(ROOT/'bench'/'bench_realink.py'), '--root', str(absent)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert 'not found' in p.stdout and 'skipping' in p.stdout


def test_no_tesseract_gives_none(monkeypatch, capsys):
    monkeypatch.setattr(rl.shutil, 'which', lambda name: None)
    assert rl.evaluate_tesseract([]) is None
    assert 'not on PATH' in capsys.readouterr().out


def test_real_lines_load():
    need_realink()
    lines = rl.load_realink()
    assert len(lines) == 49 and sum(len(l['text']) for l in lines) == 1888
    assert {l['group'] for l in lines} == set(rl.GROUPS)
    assert all(l['path'].is_file() and l['text'] for l in lines)


def _subset():
    "The first line of five different sources."
    first = {}
    for l in rl.load_realink(): first.setdefault(l['group'], l)
    return list(first.values())[:5]


def test_real_lines_greedy_subset():
    need_realink()
    from hwr.decode import LM_BEAM_WIDTH
    from hwr.metrics import cer
    lines = _subset()
    res = rl.evaluate_hwr(lines, beam_widths=(1,))
    assert res['input_height'] > 0 and list(res['runs']) == ['greedy', f'beam {LM_BEAM_WIDTH} + LM']
    assert res['runs']['greedy']['lm'] is None and res['runs'][f'beam {LM_BEAM_WIDTH} + LM']['lm'] == 'shipped'
    run = res['runs']['greedy']
    assert set(run['groups']) == {l['group'] for l in lines} and len(run['groups']) == 5
    for s in [run['overall'], *run['groups'].values()]:
        assert isinstance(s['cer'], float) and 0 <= s['cer'] < math.inf
        assert isinstance(s['wer'], float) and 0 <= s['wer'] < math.inf
    assert run['overall']['lines'] == 5 and run['refused'] == 0 and run['ms_per_line'] > 0
    preds = [run['predictions'][l['filename']] for l in lines]
    assert all(isinstance(p, str) for p in preds)
    assert run['overall']['cer'] == pytest.approx(cer([l['text'] for l in lines], preds))


def test_real_lines_tesseract_two_lines():
    need_realink()
    if rl.tesseract_missing(): pytest.skip(rl.tesseract_missing())
    res = rl.evaluate_tesseract(_subset()[:2])
    assert res['refused'] == 0 and 0 <= res['overall']['cer'] < math.inf
    assert all(p == ' '.join(p.split()) for p in res['predictions'].values())


def test_real_pages_load_and_the_note_is_cut_into_its_two_lines():
    need_realink()
    pages = rl.load_pages()
    if pages is None: pytest.skip("no pages/ in the dev set")
    assert len(pages) == 4 and all(p['lines'] == len(p['texts']) == len(p['line_images']) for p in pages)
    assert all(p['path'].is_file() and all(x.is_file() for x in p['line_images']) for p in pages)
    from hwr.segment import segment_lines
    note = next(p for p in pages if p['lines'] == 2)
    assert len(segment_lines(note['path'])) == 2
