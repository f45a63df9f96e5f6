"""Shared pytest fixtures: a throw-away data root and a web server on 127.0.0.1."""
import functools, http.server, os, threading
from pathlib import Path

import pytest

os.environ.setdefault('WANDB_MODE', 'disabled')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


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
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try: yield folder, f'http://127.0.0.1:{server.server_port}'
    finally:
        server.shutdown(); server.server_close()
