"""GPU locks and downloads that cannot be turned against their user (issue 14).

Locks: a private lock folder, lock files never followed through links, no lock for a GPU that is
not there, no lock kept by a forked child of a dead parent, no dead pid named as a holder, and a
`filelock` fallback where `fcntl` is missing. Downloads: https stays https, redirects keep their
scheme, a size cap, nothing partial left behind. Every server here listens on 127.0.0.1, and a
guard fails any test that tries to connect anywhere else.
"""
import hashlib, http.server, os, shutil, signal, socket, ssl, subprocess, sys, threading, time
from pathlib import Path

import pytest

import hwr.training.gpu_manager as gm
from hwr.training.gpu_manager import GPULockError, GPUManager, ensure_lock_dir, lock_holder, select_gpu, try_lock
from hwr.util import DownloadError, download_url

LOOPBACK = {'127.0.0.1', 'localhost', '::1'}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    "No proxy, and any connection to a host other than this machine fails the test."
    for k in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(k, raising=False)
    real = socket.create_connection
    def guarded(address, *a, **kw):
        assert address[0] in LOOPBACK, f"a test tried to contact {address[0]}"
        return real(address, *a, **kw)
    monkeypatch.setattr(socket, 'create_connection', guarded)


def _env(**extra):
    return {**os.environ, 'PYTHONDONTWRITEBYTECODE': '1', 'TF_CPP_MIN_LOG_LEVEL': '3', **extra}


def _dead_pid() -> int:
    "The pid of a process that has run and been reaped."
    p = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    return int(p.stdout)


# ---------------------------------------------------------------- lock folder and lock files

def test_default_lock_dir_is_private_and_per_user(tmp_path, monkeypatch):
    monkeypatch.delenv('HWR_GPU_LOCK_DIR', raising=False)
    monkeypatch.setattr(gm.tempfile, 'tempdir', str(tmp_path))
    d = gm.default_lock_dir()
    assert d == tmp_path/f'hwr-gpu-locks-{os.getuid()}'
    assert ensure_lock_dir() == d and (d.stat().st_mode & 0o777) == 0o700
    os.chmod(d, 0o777)                           # ours, but opened up: tightened again
    ensure_lock_dir()
    assert (d.stat().st_mode & 0o777) == 0o700
    m = GPUManager(lambda: [dict(index=0)], verbose=False)
    assert m.acquire(timeout=0) == 0 and (d/'gpu_0.lock').exists()
    assert (os.stat(d/'gpu_0.lock').st_mode & 0o777) == 0o600
    m.release()


def test_refuses_symlinked_or_foreign_or_non_folder(tmp_path, monkeypatch):
    real = tmp_path/'real'; real.mkdir()
    (tmp_path/'link').symlink_to(real)
    with pytest.raises(GPULockError, match='is a symbolic link; refusing to follow it.*HWR_GPU_LOCK_DIR'):
        GPUManager(lambda: [dict(index=0)], tmp_path/'link', verbose=False).acquire(timeout=0)
    assert list(real.iterdir()) == []
    (tmp_path/'file').write_text('x')
    with pytest.raises(GPULockError, match='not a folder'):
        ensure_lock_dir(tmp_path/'file')
    monkeypatch.setattr(gm, '_uid', lambda: os.getuid() + 1)   # as if the folder were another user's
    with pytest.raises(GPULockError, match='belongs to another user'):
        try_lock(real, 0)
    assert list(real.iterdir()) == []


def test_lock_file_links_are_never_followed_or_truncated(tmp_path):
    locks = ensure_lock_dir(tmp_path/'locks')
    victim = tmp_path/'thesis.tex'; victim.write_text('three years of work')
    (locks/'gpu_0.lock').symlink_to(victim)
    os.link(victim, locks/'gpu_1.lock')                         # a hard link to it
    m = GPUManager(lambda: [dict(index=0)], locks, verbose=False)
    with pytest.raises(GPULockError, match='symbolic link'):
        m.acquire(timeout=0)
    with pytest.raises(GPULockError, match='not a plain file of your own'):
        try_lock(locks, 1)
    assert victim.read_text() == 'three years of work'
    with pytest.raises(ValueError, match='whole number'):
        try_lock(locks, '../thesis')


def test_no_lock_for_a_gpu_that_is_not_there(tmp_path):
    locks = tmp_path/'locks'
    with pytest.raises(ValueError, match=r'GPU 3 does not exist here \(GPUs: none\)'):
        select_gpu(3, manager=GPUManager(lambda: [], locks, verbose=False))
    with pytest.raises(ValueError, match=r'GPU 3 does not exist here \(GPUs: 0, 1\)'):
        select_gpu(3, manager=GPUManager(lambda: [dict(index=0), dict(index=1)], locks, verbose=False))
    assert not locks.exists() or list(locks.iterdir()) == []


# ---------------------------------------------------------------- forks and dead holders

FORKER = '''
import os, sys, time
import hwr.training.gpu_manager as gm
if sys.argv[2] == 'no-hook':                     # a child that keeps its copy of the lock, as the hook prevents
    gm.GPULock._drop_after_fork = lambda self: None
    gm.GPULock.__del__ = lambda self: None
m = gm.GPUManager(lambda: [dict(index=0)], sys.argv[1], verbose=False)
assert m.acquire(timeout=5) == 0
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(r); os.write(w, b'x'); os.close(w)
    devnull = os.open(os.devnull, os.O_WRONLY); os.dup2(devnull, 1); os.dup2(devnull, 2)
    time.sleep(120); os._exit(0)
os.close(w); os.read(r, 1)          # the child is running (and its fork hook has run)
print(child, flush=True)
os._exit(0)                         # the parent dies, holding GPU 0
'''


@pytest.fixture
def orphaned_child(tmp_path):
    "Run FORKER; yield a function giving (lock folder, parent pid, child pid) for a hook mode."
    children = []
    def run(mode):
        locks = tmp_path/mode
        p = subprocess.Popen([sys.executable, '-c', FORKER, str(locks), mode], stdout=subprocess.PIPE, text=True, env=_env())
        child = int(p.stdout.readline()); children.append(child)
        assert p.wait(timeout=60) == 0
        os.kill(child, 0)                                          # the child outlives its parent
        return locks, p.pid, child
    yield run
    for c in children:
        try: os.kill(c, signal.SIGKILL)
        except ProcessLookupError: pass


def test_forked_child_does_not_keep_a_dead_parents_lock(orphaned_child):
    locks, parent, child = orphaned_child('hook')
    assert lock_holder(locks, 0) is None
    assert GPUManager(lambda: [dict(index=0)], locks, verbose=False).acquire(timeout=1) == 0


def test_timeout_never_names_a_dead_pid(orphaned_child):
    "Without the hook the child keeps the lock: the message must not blame the dead parent."
    locks, parent, child = orphaned_child('no-hook')
    assert lock_holder(locks, 0) == -1
    with pytest.raises(TimeoutError) as e:
        GPUManager(lambda: [dict(index=0)], locks, poll_interval=0.01, verbose=False).acquire(timeout=0.1)
    msg = str(e.value)
    assert str(parent) not in msg and 'no longer running' in msg and 'lsof' in msg


def test_dead_pid_in_lock_file_is_not_named(tmp_path):
    held = try_lock(tmp_path, 0)
    (tmp_path/'gpu_0.lock').write_text(f'{_dead_pid()}\n')
    try:
        assert lock_holder(tmp_path, 0) == -1
        s = GPUManager(lambda: [dict(index=0)], tmp_path, verbose=False).status()
        assert s[0]['holder'] == -1 and not s[0]['free']
    finally: held.close()


# ---------------------------------------------------------------- without fcntl (Windows)

def test_filelock_fallback_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(gm, 'fcntl', None)
    a = try_lock(tmp_path, 0)
    assert a is not None and a._filelock is not None
    assert try_lock(tmp_path, 0) is None
    assert lock_holder(tmp_path, 0) == os.getpid()
    m = GPUManager(lambda: [dict(index=0), dict(index=1)], tmp_path, verbose=False)
    assert m.acquire(timeout=0) == 1
    m.release(); a.close()
    assert lock_holder(tmp_path, 0) is None and not (tmp_path/'gpu_0.pid').exists()
    (tmp_path/'gpu_2.lock').symlink_to(tmp_path/'victim')
    with pytest.raises(GPULockError, match='symbolic link'):
        try_lock(tmp_path, 2)
    assert not (tmp_path/'victim').exists()


NO_FCNTL = '''
import sys, warnings
sys.modules['fcntl'] = None            # `import fcntl` now fails, as on Windows
warnings.simplefilter('ignore')        # filelock warns that only a soft lock is left
import hwr.training.gpu_manager as gm
assert gm.fcntl is None
m = gm.GPUManager(lambda: [dict(index=0)], sys.argv[1], poll_interval=0.02, verbose=False)
if sys.argv[2] == 'hold':
    import time
    print(m.acquire(timeout=5), flush=True); time.sleep(120)
try: print('got', m.acquire(timeout=float(sys.argv[3])))
except TimeoutError as e: print('timeout:', e)
'''


def test_filelock_fallback_across_processes(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, '-c', NO_FCNTL, str(tmp_path), *args], capture_output=True, text=True,
                              timeout=120, env=_env())
    holder = subprocess.Popen([sys.executable, '-c', NO_FCNTL, str(tmp_path), 'hold'], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == '0'
        out = run('wait', '0.3')
        assert out.returncode == 0, out.stderr
        assert f'locked by pid {holder.pid}' in out.stdout
        holder.kill(); holder.wait(timeout=10)
        out = run('wait', '10')                                     # the dead holder's lock does not stay
        assert out.returncode == 0 and 'got 0' in out.stdout, out.stdout + out.stderr
    finally:
        if holder.poll() is None: holder.kill(); holder.wait()


# ---------------------------------------------------------------- download servers on 127.0.0.1

def _serve(handler, tls: ssl.SSLContext | None = None):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    if tls is not None: server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _url(server, path='/file.bin', scheme='http'): return f'{scheme}://127.0.0.1:{server.server_port}{path}'


class _Quiet(http.server.BaseHTTPRequestHandler):
    hits = 0
    def log_message(self, *a): pass
    def handle(self):
        try: super().handle()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError): pass


def _file_handler(data: bytes, length: bool = True, endless: bool = False):
    class H(_Quiet):
        protocol_version = 'HTTP/1.0'
        def do_GET(self):
            type(self).hits += 1
            self.send_response(200)
            if length and not endless: self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if endless:
                for _ in range(2000):                     # 128 MB at most, should the client not stop
                    self.wfile.write(b'x' * 65536)
            else: self.wfile.write(data)
    return H


def _redirect_handler(target: str):
    class H(_Quiet):
        def do_GET(self):
            type(self).hits += 1
            self.send_response(302); self.send_header('Location', target)
            self.send_header('Content-Length', '0'); self.end_headers()
    return H


class _Listener:
    "A TCP port that only counts who connects to it."
    def __init__(self):
        self.sock = socket.socket(); self.sock.bind(('127.0.0.1', 0)); self.sock.listen(8)
        self.port, self.accepted = self.sock.getsockname()[1], 0
        threading.Thread(target=self._run, daemon=True).start()
    def _run(self):
        while True:
            try: conn, _ = self.sock.accept()
            except OSError: return
            self.accepted += 1; conn.close()
    def close(self): self.sock.close()


@pytest.fixture
def servers():
    started = []
    def start(handler, tls=None):
        s = _serve(handler, tls); started.append(s); return s
    yield start
    for s in started: s.shutdown(); s.server_close()


def _left(folder: Path): return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()


# ---------------------------------------------------------------- schemes and redirects

def test_only_https_or_http(tmp_path):
    for url in ['file:///etc/passwd', 'ftp://127.0.0.1/x', '127.0.0.1/x']:
        with pytest.raises(DownloadError, match='only https://') as e:
            download_url(url, tmp_path/'x.bin', progress=False)
        assert str(tmp_path/'x.bin') in str(e.value)
    assert _left(tmp_path) == []


def test_redirect_to_another_port_keeping_the_scheme_is_followed(servers, tmp_path):
    real = servers(_file_handler(DATA))
    hop = servers(_redirect_handler(_url(real)))
    dest = tmp_path/'file.bin'
    assert download_url(_url(hop), dest, sha256=SHA, progress=False).read_bytes() == DATA
    assert real.RequestHandlerClass.hits == 1 and _left(tmp_path) == ['file.bin']


def test_http_redirected_to_https_is_refused(servers, tmp_path):
    listener = _Listener()
    try:
        hop = servers(_redirect_handler(f'https://127.0.0.1:{listener.port}/file.bin'))
        dest = tmp_path/'file.bin'
        with pytest.raises(DownloadError, match='refused the redirect') as e:
            download_url(_url(hop), dest, progress=False)
        assert f'https://127.0.0.1:{listener.port}/file.bin' in str(e.value)
        assert listener.accepted == 0, 'the redirect target must never be contacted'
        assert _left(tmp_path) == []
    finally: listener.close()


@pytest.fixture
def tls(tmp_path, monkeypatch):
    "A server context with a self-signed certificate for 127.0.0.1 that this process trusts."
    if shutil.which('openssl') is None: pytest.skip('openssl is needed to make a test certificate')
    key, cert = tmp_path/'key.pem', tmp_path/'cert.pem'
    r = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(cert),
                        '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                       capture_output=True, text=True)
    if r.returncode != 0: pytest.skip(f'openssl could not make a certificate: {r.stderr[-200:]}')
    monkeypatch.setenv('SSL_CERT_FILE', str(cert))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
    return ctx


def test_https_download_and_https_redirected_to_http_is_refused(servers, tls, tmp_path):
    secure = servers(_file_handler(DATA), tls)
    dest = tmp_path/'ok'/'file.bin'
    assert download_url(_url(secure, scheme='https'), dest, sha256=SHA, progress=False).read_bytes() == DATA
    plain = servers(_file_handler(DATA))
    downgrade = servers(_redirect_handler(_url(plain)), tls)
    dest = tmp_path/'down'/'file.bin'
    with pytest.raises(DownloadError, match='https:// to http:// would send the file unencrypted'):
        download_url(_url(downgrade, scheme='https'), dest, sha256=SHA, progress=False)
    assert downgrade.RequestHandlerClass.hits == 1 and plain.RequestHandlerClass.hits == 0
    assert _left(dest.parent) == []


# ---------------------------------------------------------------- size caps

def test_oversized_with_content_length_is_refused_before_reading(servers, tmp_path):
    big = servers(_file_handler(DATA))
    dest = tmp_path/'file.bin'
    with pytest.raises(DownloadError, match='announces 200,000 bytes, more than the 1,000 allowed') as e:
        download_url(_url(big), dest, max_bytes=1000, progress=False)
    assert str(dest) in str(e.value)
    with pytest.raises(DownloadError, match='announces 200,000 bytes but the file should have 1,000'):
        download_url(_url(big), dest, size=1000, progress=False)
    assert _left(tmp_path) == []


@pytest.mark.parametrize('endless', [False, True])
def test_oversized_without_content_length_is_cut_off(servers, tmp_path, endless):
    big = servers(_file_handler(DATA, length=False, endless=endless))
    dest = tmp_path/'file.bin'
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match='sent more than the 50,000 bytes expected; stopped'):
        download_url(_url(big), dest, max_bytes=50_000, progress=False)
    assert time.monotonic() - t0 < 30
    with pytest.raises(DownloadError, match='sent more than the 1,000 bytes'):
        download_url(_url(big), dest, size=1000, max_bytes=10**9, progress=False)
    assert _left(tmp_path) == []


def test_exact_size_and_cap_that_fit(servers, tmp_path):
    ok = servers(_file_handler(DATA, length=False))
    dest = tmp_path/'file.bin'
    assert download_url(_url(ok), dest, sha256=SHA, size=len(DATA), max_bytes=len(DATA), progress=False).read_bytes() == DATA
    short = tmp_path/'short.bin'
    with pytest.raises(DownloadError, match='received 200000 of the 300000 bytes expected'):
        download_url(_url(ok), short, size=300_000, progress=False)
    assert _left(tmp_path) == ['file.bin']


def test_existing_good_file_is_never_replaced(servers, tmp_path):
    other = servers(_file_handler(b'something else entirely'))
    dest = tmp_path/'file.bin'; dest.write_bytes(DATA)
    assert download_url(_url(other), dest, sha256=SHA, size=len(DATA), progress=False) == dest
    assert other.RequestHandlerClass.hits == 0 and dest.read_bytes() == DATA
    with pytest.raises(DownloadError, match=r'(?s)has 200,000 bytes, expected 5.*delete it'):
        download_url(_url(other), dest, size=5, progress=False)
    assert dest.read_bytes() == DATA and _left(tmp_path) == ['file.bin']


# ---------------------------------------------------------------- leftovers of killed downloads

def _stalling_handler(data: bytes):
    "The first request sends half the file and stalls; later ones send it all."
    class H(_Quiet):
        protocol_version = 'HTTP/1.0'
        def do_GET(self):
            type(self).hits += 1
            self.send_response(200); self.send_header('Content-Length', str(len(data))); self.end_headers()
            if type(self).hits == 1:
                self.wfile.write(data[:len(data) // 2]); self.wfile.flush(); time.sleep(60)
            else: self.wfile.write(data)
    return H


def test_killed_download_leaves_a_part_the_next_one_deletes(servers, tmp_path):
    srv = servers(_stalling_handler(DATA))
    dest = tmp_path/'file.bin'
    code = f"from hwr.util import download_url; download_url({_url(srv)!r}, {str(dest)!r}, progress=False, timeout=120)"
    p = subprocess.Popen([sys.executable, '-c', code], env=_env())
    try:
        deadline = time.monotonic() + 60
        while not any(n.endswith('.part') and (tmp_path/n).stat().st_size > 0 for n in _left(tmp_path)):
            assert time.monotonic() < deadline and p.poll() is None, 'the download never started'
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL); p.wait(timeout=10)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    left = _left(tmp_path)
    assert len(left) == 1 and left[0].startswith(f'.file.bin.{p.pid}-') and left[0].endswith('.part')
    live = tmp_path/f'.file.bin.{os.getpid()}-inflight.part'; live.write_bytes(b'busy')   # a download still running
    assert download_url(_url(srv), dest, sha256=SHA, progress=False).read_bytes() == DATA
    assert _left(tmp_path) == [live.name, 'file.bin']
