"""EmnistDataset end to end over HTTP on a generated matlab.zip in the upstream structure, its failure modes,
and the seed experiment config through the experiment code path."""
import hashlib, importlib.util, io, zipfile
from pathlib import Path

import numpy as np
import pytest

from hwr.data.base import CHAR_TO_INDEX, MAPPING, get_dataset, load_metadata
from hwr.data.emnist import EMNIST_MEMBER, EmnistDataset, read_emnist_mat, write_emnist_zip
from hwr.util import DownloadError

EMNIST62 = ''.join(MAPPING[:62])


def _images(n, seed):
    "Asymmetric random blobs: a transposition or a mirror changes every image."
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 4:10, 2:20] = rng.integers(100, 256, (n, 1, 1), dtype=np.uint8)   # a bar near the top, off-centre
    x[:, 12:24, 18:22] = rng.integers(0, 256, (n, 12, 4), dtype=np.uint8)  # noise on the right
    return x


def _labels(n, seed, counts=None):
    "EMNIST label indices: unbalanced, digits frequent (like ByClass)."
    rng = np.random.default_rng(seed)
    p = np.r_[np.full(10, 5.0), np.ones(52)]
    return rng.choice(62, n, p=p / p.sum()).astype(np.uint8)


def _write_metadata(data_root, url, sha256, member=EMNIST_MEMBER):
    d = data_root/'raw'/'emnist'
    d.mkdir(parents=True, exist_ok=True)
    (d/'metadata.toml').write_text(f'name = "emnist"\nfilename = "matlab.zip"\nurls = ["{url}"]\n'
                                   f'sha256 = "{sha256}"\nmember = "{member}"\nsplit = "byclass"\n')


@pytest.fixture
def emnist_server(data_root, http_dir):
    "A generated matlab.zip served over HTTP, with metadata.toml in the test data root pointing at it."
    folder, url = http_dir
    x_train, y_train, x_test, y_test = _images(600, 0), _labels(600, 0), _images(150, 1), _labels(150, 1)
    path = write_emnist_zip(folder/'matlab.zip', x_train, y_train, x_test, y_test)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    _write_metadata(data_root, f'{url}/matlab.zip', sha)
    return dict(folder=folder, url=url, sha=sha, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def test_generated_archive_has_upstream_structure(tmp_path):
    x, y = _images(5, 0), np.arange(5, dtype=np.uint8)
    path = write_emnist_zip(tmp_path/'matlab.zip', x, y, x[:2], y[:2])
    assert zipfile.ZipFile(path).namelist() == ['matlab/emnist-byclass.mat']
    mat = read_emnist_mat(path)
    train = mat['dataset'][0][0]['train'][0][0]
    images, labels = train['images'], train['labels']
    assert images.shape == (5, 784) and images.dtype == np.uint8 and labels.shape == (5, 1)
    assert (images.reshape(5, 28, 28) == x.transpose(0, 2, 1)).all()  # stored transposed
    mapping = mat['dataset'][0][0]['mapping']
    assert mapping.shape == (62, 2) and ''.join(chr(c) for c in mapping[:, 1]) == EMNIST62


def test_download_verify_read_cache_load(emnist_server, data_root):
    s = emnist_server
    assert load_metadata('emnist')['urls'] == [f"{s['url']}/matlab.zip"]   # the data root's metadata wins
    ds = EmnistDataset().load_or_generate_data()
    raw = data_root/'raw'/'emnist'/'matlab.zip'
    assert raw.exists() and hashlib.sha256(raw.read_bytes()).hexdigest() == s['sha']
    assert (ds.x_train == s['x_train']).all() and (ds.x_test == s['x_test']).all()   # upright again
    # EMNIST's indices went through the file's mapping into hwr's 80-class MAPPING
    assert ds.y_train.dtype == np.int32 and (ds.y_train == s['y_train']).all()
    assert ''.join(MAPPING[i] for i in ds.y_test[:20]) == ''.join(EMNIST62[i] for i in s['y_test'][:20])
    assert ds.num_classes == 80 and ds.mapping[-1] == '_' and ds.input_shape == (28, 28) and ds.output_shape == (80,)
    assert ds.processed_path.exists() and ds.processed_path.parent == data_root/'processed'
    # later loads need neither the server nor the archive
    (s['folder']/'matlab.zip').unlink(); raw.unlink()
    again = EmnistDataset().load_or_generate_data()
    assert (again.x_train == ds.x_train).all()


def test_mapping_comes_from_the_file(data_root, http_dir):
    folder, url = http_dir
    x = _images(4, 0)
    order = 'abcdefghijklmnopqrstuvwxyz'  # like EMNIST's letters split: index 0 is 'a'
    path = write_emnist_zip(folder/'matlab.zip', x, [0, 1, 25, 2], x[:2], [3, 4], mapping=order)
    _write_metadata(data_root, f'{url}/matlab.zip', hashlib.sha256(path.read_bytes()).hexdigest())
    ds = EmnistDataset().load_or_generate_data()
    assert [MAPPING[i] for i in ds.y_train] == ['a', 'b', 'z', 'c'] and [MAPPING[i] for i in ds.y_test] == ['d', 'e']


def test_balance_and_shuffled_subsample(emnist_server):
    s = emnist_server
    full = EmnistDataset().load_or_generate_data()
    bal = EmnistDataset(balance=True).load_or_generate_data()
    counts = np.bincount(bal.y_train)
    present = counts[counts > 0]
    assert len(present) == len(np.unique(s['y_train'])) and present.min() == present.max()   # every class equally often
    assert (bal.y_test == full.y_test).all()                     # the test split is never resampled
    assert bal.cache_name != full.cache_name and bal.processed_path.exists() and full.processed_path.exists()
    sub = EmnistDataset(subsample_fraction=0.1).load_or_generate_data()
    assert len(sub.x_train) == 60 and len(sub.x_test) == 15
    # shuffled: drawn from the whole split, not its first 10% (FSDL's bug with label-sorted data)
    pos = [next(i for i, r in enumerate(full.x_train) if (r == q).all()) for q in sub.x_train]
    assert max(pos) > 300
    other = EmnistDataset(subsample_fraction=0.1, seed=1).load_or_generate_data()
    assert not np.array_equal(other.y_train, sub.y_train)


def test_bad_sha_leaves_nothing(emnist_server, data_root):
    _write_metadata(data_root, f"{emnist_server['url']}/matlab.zip", '0' * 64)
    with pytest.raises(DownloadError, match='sha256 mismatch'):
        EmnistDataset().load_or_generate_data()
    assert not any((data_root/'raw'/'emnist').glob('matlab.zip*'))


def test_offline_says_where_to_put_the_file(data_root):
    _write_metadata(data_root, 'http://127.0.0.1:9/matlab.zip', '0' * 64)
    with pytest.raises(DownloadError) as e:
        EmnistDataset().load_or_generate_data()
    assert str(data_root/'raw'/'emnist'/'matlab.zip') in str(e.value) and 'place it at exactly' in str(e.value)


def test_corrupt_zip(data_root, http_dir):
    folder, url = http_dir
    blob = b'PK\x03\x04 this is not really a zip file' * 100
    (folder/'matlab.zip').write_bytes(blob)
    _write_metadata(data_root, f'{url}/matlab.zip', hashlib.sha256(blob).hexdigest())
    with pytest.raises(ValueError, match=r'not a valid zip archive.*Delete it'):
        EmnistDataset().load_or_generate_data()
    assert not EmnistDataset().processed_path.exists()   # no cache from a bad source


def test_missing_member(data_root, http_dir):
    folder, url = http_dir
    with zipfile.ZipFile(folder/'matlab.zip', 'w') as zf: zf.writestr('matlab/emnist-letters.mat', b'x')
    _write_metadata(data_root, f'{url}/matlab.zip', hashlib.sha256((folder/'matlab.zip').read_bytes()).hexdigest())
    with pytest.raises(KeyError, match=r"no member 'matlab/emnist-byclass.mat'.*emnist-letters.mat"):
        EmnistDataset().load_or_generate_data()


def test_member_that_is_not_matlab(data_root, http_dir):
    folder, url = http_dir
    with zipfile.ZipFile(folder/'matlab.zip', 'w') as zf: zf.writestr(EMNIST_MEMBER, b'not a mat file at all')
    _write_metadata(data_root, f'{url}/matlab.zip', hashlib.sha256((folder/'matlab.zip').read_bytes()).hexdigest())
    with pytest.raises(ValueError, match='not a MATLAB file'):
        EmnistDataset().load_or_generate_data()


def test_unknown_dataset_args():
    with pytest.raises(ValueError, match=r"\['fraction'\]"):
        get_dataset('EmnistDataset', {'fraction': 0.1})


# --- the seed config through the experiment code path ---
SEED_CONFIG = {"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp", "train_args": {"batch_size": 256}}
needs_runner = pytest.mark.skipif(importlib.util.find_spec('hwr.training.run_experiment') is None,
                                  reason='hwr.training.run_experiment is not built yet')


@needs_runner
def test_seed_config_runs_verbatim(emnist_server, tmp_path, monkeypatch):
    from hwr.training.run_experiment import run_experiment
    monkeypatch.setenv('HWR_ARTIFACTS_DIR', str(tmp_path/'artifacts'))
    res = run_experiment(dict(SEED_CONFIG), use_wandb=False, verbose=False)
    assert res.metric_name == 'accuracy' and 0 <= res.test_metric <= 1
    assert len(res.history['loss']) == 10                  # train_args default epochs
    assert type(res.dataset) is EmnistDataset and len(res.dataset.x_train) == 600


@needs_runner
def test_seed_config_with_synthetic_characters(data_root, tmp_path, monkeypatch):
    "The same config with the synthetic dataset (small sizes so the test stays quick)."
    from hwr.training.run_experiment import run_experiment
    monkeypatch.setenv('HWR_ARTIFACTS_DIR', str(tmp_path/'artifacts'))
    config = {**SEED_CONFIG, 'dataset': 'SyntheticCharactersDataset', 'dataset_args': {'num_train': 79 * 20, 'num_test': 79 * 4},
              'train_args': {'batch_size': 256, 'epochs': 3}}
    res = run_experiment(config, use_wandb=False, verbose=False)
    assert res.test_metric > 3 / 79   # learns something about a font it never saw
