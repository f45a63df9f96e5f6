"""hwr as a user gets it: a wheel installed outside the checkout."""
import os, subprocess, sys, zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out), str(ROOT)],
                   check=True, cwd=out)
    (whl,) = out.glob('hwr-*.whl')
    return whl


def test_wheel_ships_metadata_and_modules(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert 'hwr/metadata/emnist/metadata.toml' in names and 'hwr/metadata/iam/metadata.toml' in names
    assert 'hwr/data/base.py' in names and 'hwr/util.py' in names
    assert not [n for n in names if n.endswith(('.zip', '.mat', '.gz', '.tgz'))], 'no datasets or archives in the wheel'
    h5 = [n for n in names if n.endswith('.h5')]
    assert h5 and all(n.startswith('hwr/weights/') and n.endswith('.weights.h5') for n in h5), \
        f'the only .h5 files in the wheel are the shipped predictor weights, got {h5}'
    weights = zipfile.ZipFile(wheel)
    assert sum(weights.getinfo(n).file_size for n in h5) < 20e6, 'shipped weights stay small'
    for n in h5: assert n.replace('.weights.h5', '.json') in names, f'{n} ships with its config'
    assert 'hwr/weights/lm_english_char6.npz' in names, 'the shipped language model is in the wheel'
    assert 'hwr/weights/LineModelCtc_SyntheticLinesDataset_crnn_synthetic.weights.h5' in names, \
        "the line recipe's first-stage weights (the real-ink labs start from them) are in the wheel"
    eps = next(n for n in names if n.endswith('entry_points.txt'))
    eps = zipfile.ZipFile(wheel).read(eps).decode()
    assert 'hwr-run-experiment' in eps and 'hwr-predict = hwr.cli:main' in eps and 'hwr-setup = hwr.data.setup:main' in eps


def test_installed_package_finds_its_metadata(wheel, tmp_path):
    site = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), str(wheel)], check=True)
    home = tmp_path/'home'; home.mkdir()
    code = ("import hwr, hwr.data.base as b; from pathlib import Path;"
            "print(hwr.__file__); print(b.data_dir()); print(b.load_metadata('emnist')['filename'])")
    env = {'PYTHONPATH': str(site), 'HOME': str(home), 'PATH': '/usr/bin:/bin'}
    out = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split('\n')
    assert out[0].startswith(str(site)), 'the installed copy, not the checkout, was imported'
    assert out[1] == str(home/'.cache'/'hwr'/'data'), 'a pip install keeps data in ~/.cache/hwr/data'
    assert out[2] == 'matlab.zip'


def test_wheel_metadata_has_no_placeholders(wheel):
    z = zipfile.ZipFile(wheel)
    meta = z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode()
    assert 'Classifier: Development Status :: 3 - Alpha' in meta           # settings.ini says status 3
    assert 'example.org' not in meta and 'github.com/hwr/hwr' not in meta, 'no placeholder e-mail or URL'
    requires = [l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Requires-Dist:') and 'extra ==' not in l]
    names = {r.split(';')[0].split('>')[0].split('<')[0].split('=')[0].strip().lower() for r in requires}
    course = [l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Requires-Dist:') and 'extra == "course"' in l]
    assert any(r.startswith('fonttools') for r in course), 'hwr imports fontTools for its fonts, so the course extra declares it'
    assert 'scikit-learn' not in names and not any('scikit-learn' in r for r in course), 'hwr/ never imports scikit-learn'
    assert not names & {'matplotlib', 'wandb', 'papermill', 'ipywidgets', 'mlxtend'}, 'reading needs none of the course tooling'
    extras = {l.split(':', 1)[1].strip() for l in meta.splitlines() if l.startswith('Provides-Extra:')}
    assert {'course', 'export', 'serve', 'dev'} <= extras, extras
    assert any(r.replace(' ', '').startswith('keras<4,>=3.3') or r.replace(' ', '').startswith('keras>=3.3,<4') for r in requires), requires


def test_wheel_ships_the_papermill_template_and_it_runs(wheel, tmp_path):
    "A pip install finds the template in hwr.templates, and papermill runs it (IN_TEST: a small slice)."
    assert 'hwr/templates/train.ipynb' in zipfile.ZipFile(wheel).namelist()
    site = tmp_path/'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), str(wheel)], check=True)
    work = tmp_path/'elsewhere'; work.mkdir()
    env = {**os.environ, 'PYTHONPATH': str(site), 'IN_TEST': '1', 'HWR_DATA_DIR': str(tmp_path/'data'), 'WANDB_MODE': 'disabled'}
    where = subprocess.run([sys.executable, '-c', 'from hwr.training.sweeps import default_template; print(default_template())'],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site)) and Path(where).is_file(), where
    r = subprocess.run([sys.executable, '-m', 'papermill', where, 'report.ipynb', '--no-progress-bar',
                        '-y', '{"train_args": {"epochs": 1}, "dataset_args": {"num_train": 300, "num_test": 100}}'],
                       cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (work/'report.ipynb').is_file()
