"""The studies' bookkeeping: every study that goes on from another one's weights can find them, and the kept copies load."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
bs = pytest.importorskip('bench.bench_studies')


def test_every_continued_study_starts_from_weights_that_exist(tmp_path):
    from hwr.registry import weights_info
    from hwr.training.recipes import first_stage_weights
    for name, args in bs.STUDIES.items():
        start = args.get('init_weights')
        if start is None: continue
        assert start in bs.STUDIES, f"{name} goes on from {start!r}, which is no study"
        folder = bs.study_weights(start, tmp_path)                  # nothing trained here: the kept copy
        assert folder == ROOT/'bench'/'weights'/start
        info = weights_info('line', first_stage_weights('line', folder))
        assert info.get('stage') is None and info['input_shape'][0] == 64


def test_a_study_trained_here_is_preferred_to_the_kept_copy(tmp_path):
    mine = tmp_path/'h64_more'
    mine.mkdir()
    assert bs.study_weights('h64_more', tmp_path) == ROOT/'bench'/'weights'/'h64_more'   # an empty folder is not a study
    (mine/'LineModelCtc_SyntheticLinesDataset_crnn_synthetic.weights.h5').write_bytes(b'')
    assert bs.study_weights('h64_more', tmp_path) == mine


def test_the_first_stage_of_a_study_is_the_quick_recipe():
    from hwr.training.recipes import RECIPES
    quick = RECIPES['line']['quick']
    assert quick['train_args'] == {'epochs': 3, 'lr_decay': True}      # what h64 and every 3-epoch study trained
    assert RECIPES['line']['train_args']['epochs'] == 9 and RECIPES['line']['train_args']['lr_decay'] == 3
