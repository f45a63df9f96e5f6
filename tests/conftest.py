"""Shared pytest fixtures: a throw-away data root and a web server on 127.0.0.1."""
import os
from pathlib import Path

import pytest

os.environ.setdefault('WANDB_MODE', 'disabled')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    "An empty HWR_DATA_DIR for one test."
    root = tmp_path/'data'
    monkeypatch.setenv('HWR_DATA_DIR', str(root))
    return root


@pytest.fixture
def http_dir(tmp_path):
    "Serve a fresh folder over HTTP on 127.0.0.1; yields (folder, base_url)."
    folder = tmp_path/'www'
    folder.mkdir()
    from hwr.util import serve_folder
    with serve_folder(folder) as url: yield folder, url
