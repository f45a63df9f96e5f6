"""hwr.util.download_url against a real HTTP server on 127.0.0.1."""
import hashlib, os, socket, threading, http.server

import pytest

from hwr.util import DownloadError, download_url


def _sha(b): return hashlib.sha256(b).hexdigest()


@pytest.fixture
def payload(http_dir):
    folder, url = http_dir
    data = os.urandom(300_000)
    (folder/'file.bin').write_bytes(data)
    return data, url


def test_success_and_cached(payload, tmp_path):
    data, url = payload
    dest = tmp_path/'out'/'file.bin'
    assert download_url(f'{url}/file.bin', dest, sha256=_sha(data), progress=False) == dest
    assert dest.read_bytes() == data
    # a second call finds the verified file and does not need the server
    assert download_url('http://127.0.0.1:9/nothing', dest, sha256=_sha(data), progress=False) == dest
    assert sorted(p.name for p in dest.parent.iterdir()) == ['file.bin']


def test_hash_mismatch_leaves_nothing(payload, tmp_path):
    data, url = payload
    dest = tmp_path/'out'/'file.bin'
    with pytest.raises(DownloadError) as e:
        download_url(f'{url}/file.bin', dest, sha256='ab' * 32, progress=False)
    msg = str(e.value)
    assert 'sha256 mismatch' in msg and 'ab' * 32 in msg and _sha(data) in msg
    assert str(dest) in msg, 'the message names where a manual download goes'
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_existing_corrupt_file_is_reported_not_trusted(payload, tmp_path):
    data, url = payload
    dest = tmp_path/'file.bin'
    dest.write_bytes(b'not it')
    with pytest.raises(DownloadError, match='delete it'):
        download_url(f'{url}/file.bin', dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == b'not it'


def test_404(http_dir, tmp_path):
    _, url = http_dir
    dest = tmp_path/'x.bin'
    with pytest.raises(DownloadError, match='HTTP 404') as e:
        download_url(f'{url}/missing.bin', dest, progress=False)
    assert f'{url}/missing.bin' in str(e.value) and str(dest) in str(e.value)
    assert not dest.exists()


def test_connection_refused(tmp_path):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    with pytest.raises(DownloadError, match='cannot connect'):
        download_url(f'http://127.0.0.1:{port}/x.bin', tmp_path/'x.bin', progress=False)
    assert list(tmp_path.iterdir()) == []


def test_mirrors_in_order(payload, tmp_path):
    data, url = payload
    dest = tmp_path/'file.bin'
    download_url([f'{url}/gone.bin', f'{url}/file.bin'], dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data


def test_transfer_cut_short(tmp_path):
    "The server promises 100,000 bytes and closes after 1,000: nothing partial may remain."
    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header('Content-Length', '100000'); self.end_headers()
            self.wfile.write(b'x' * 1000); self.wfile.flush()
            self.close_connection = True
        def log_message(self, *a): pass
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Short)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dest = tmp_path/'short.bin'
        with pytest.raises(DownloadError) as e:
            download_url(f'http://127.0.0.1:{server.server_port}/short.bin', dest, progress=False)
        assert 'transfer cut short: received 1000 of 100000 bytes' in str(e.value)
        assert not dest.exists() and list(tmp_path.iterdir()) == []
    finally:
        server.shutdown(); server.server_close()
