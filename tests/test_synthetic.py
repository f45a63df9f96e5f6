"""Synthetic data across processes: the same seed gives the same bytes in a fresh interpreter,
generation does not pull in TensorFlow, and configs resolve the embedded datasets by name."""
import hashlib, json, subprocess, sys

import numpy as np

from hwr.data.base import get_dataset

_SNIPPET = r'''
import hashlib, json, sys
from hwr.data.synthetic import synthetic_characters, synthetic_lines, ink_lines
x, y = synthetic_characters(237, ['caveat', 'zeyada', 'permanent_marker'], seed=5)
lx, _, _ = synthetic_lines(['a line of text', 'Another one, 42!'], ['delius', 'kalam'], seed=5)
ix, _, _, _ = ink_lines(['a line of text', 'Another one, 42!'], ['delius', 'kalam'], seed=5, workers=1, chunk=1)
print(json.dumps({'chars': hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest(),
                  'lines': hashlib.sha256(lx.tobytes() + ix.tobytes()).hexdigest(),
                  'tensorflow': 'tensorflow' in sys.modules}))
'''


def _digests():
    from hwr.data.synthetic import synthetic_characters, synthetic_lines, ink_lines
    x, y = synthetic_characters(237, ['caveat', 'zeyada', 'permanent_marker'], seed=5)
    lx, _, _ = synthetic_lines(['a line of text', 'Another one, 42!'], ['delius', 'kalam'], seed=5)
    ix, _, _, _ = ink_lines(['a line of text', 'Another one, 42!'], ['delius', 'kalam'], seed=5, workers=2, chunk=1)
    return hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest(), hashlib.sha256(lx.tobytes() + ix.tobytes()).hexdigest()


def test_same_seed_same_bytes_in_a_fresh_process():
    out = subprocess.run([sys.executable, '-c', _SNIPPET], capture_output=True, text=True, check=True)
    child = json.loads(out.stdout.strip().splitlines()[-1])
    chars, lines = _digests()
    assert (child['chars'], child['lines']) == (chars, lines)
    assert not child['tensorflow'], "generating synthetic data must not import TensorFlow"


def test_embedded_datasets_from_config(data_root):
    chars = get_dataset('SyntheticCharactersDataset', {'num_train': 158, 'num_test': 79, 'test_fonts': ['zeyada']})
    chars.load_or_generate_data()
    assert chars.x_train.shape == (158, 28, 28) and 'zeyada' not in chars.train_fonts
    assert np.bincount(chars.y_test, minlength=80)[:79].tolist() == [1] * 79
    lines = get_dataset('SyntheticLinesDataset', {'num_train': 8, 'num_test': 4, 'max_length': 24})
    lines.load_or_generate_data()
    assert lines.x_train.shape == (8, 64, 560) and lines.y_test.shape == (4, 24)   # 'ink' lines, 64 px high
    assert lines.w_train.shape == (8,) and (lines.w_train <= 560).all() and lines.attrs['style'] == 'ink'
    assert sorted(p.name for p in (data_root/'processed').iterdir()) == sorted([chars.processed_path.name, lines.processed_path.name])
    digits = get_dataset('MnistDigitsDataset', {'num_train': 20}).load_or_generate_data()
    assert digits.x_train.shape == (20, 28, 28) and len(digits.x_test) == 4980


def test_corrupt_cache_is_moved_aside_and_rebuilt_and_stale_parts_go(data_root, capsys):
    import os, time
    from hwr.data.synthetic import SyntheticCharactersDataset
    d = SyntheticCharactersDataset(num_train=40, num_test=20).load_or_generate_data()
    good_x = d.x_train.copy()
    cache = d.processed_path
    cache.write_bytes(cache.read_bytes()[:200])                         # a write cut short by a crash or a full disk
    stale, fresh = cache.parent/f'.{cache.name}.abc.part', cache.parent/f'.{cache.name}.def.part'
    stale.write_bytes(b'old'); fresh.write_bytes(b'being written')
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    again = SyntheticCharactersDataset(num_train=40, num_test=20).load_or_generate_data()
    err = capsys.readouterr().err
    assert str(cache) in err and 'moved it to' in err and 'building it again' in err
    assert np.array_equal(again.x_train, good_x)                        # rebuilt, the same bytes (same seed)
    assert len(list(cache.parent.glob(f'{cache.name}.corrupt-*'))) == 1   # kept for a look, not deleted
    assert not stale.exists() and fresh.exists()
