"""hwr-serve under load it must survive (issue 26): slow clients by the hundred, and a heavy read beside quick ones.

Each test starts the real server (waitress with hwr's limits, `hwr.serve.make_server`) in a thread on a
free port of 127.0.0.1 and talks to it over sockets, as clients on a network would. Every wait is
bounded: sockets have timeouts, and each test finishes in well under a minute.
"""
from __future__ import annotations
import base64, contextlib, io, json, os, select, socket, threading, time, urllib.request
from pathlib import Path

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
pytest.importorskip('waitress')

from hwr.serve import Limits, Readers, create_app, make_server   # noqa: E402


@contextlib.contextmanager
def running(app, limits: Limits):
    "`app` served by hwr's waitress server on a free port of 127.0.0.1; yields the port."
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    server = make_server(app, '127.0.0.1', port, limits)
    thread = threading.Thread(target=server.run, daemon=True); thread.start()
    try: yield port
    finally:
        server.close(); server.task_dispatcher.shutdown(timeout=5)


def call(port: int, path: str, body: dict | None = None, timeout: float = 5) -> tuple[int, dict, float]:
    "GET `path`, or POST `body` as JSON; the status, the JSON answer and the seconds it took."
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f'http://127.0.0.1:{port}{path}', data=data, headers={'Content-Type': 'application/json'})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res: return res.status, json.load(res), time.perf_counter() - t
    except urllib.error.HTTPError as e: return e.code, json.load(e), time.perf_counter() - t


class QuickReaders:
    "Stands in for the predictors where the test is about connections, not reading: answers at once."
    def read(self, image, model='auto', beam=1): return {'model': 'char', 'text': 'a', 'confidence': 1.0}


def test_150_slow_connections_do_not_lock_out_normal_requests():
    limits = Limits(header_timeout=4, idle_timeout=4)
    with running(create_app(QuickReaders(), limits=limits), limits) as port:
        slow = []
        for _ in range(150):                                       # a slow loris: a request line, then a header a byte at a time
            c = socket.create_connection(('127.0.0.1', port), timeout=10)
            c.sendall(b'POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
            slow.append(c)
        silent = [socket.create_connection(('127.0.0.1', port), timeout=10) for _ in range(20)]   # connect, send nothing
        opened = time.monotonic()
        stop = threading.Event()

        def trickle():                                             # one more byte on each slow socket every half second
            while not stop.is_set():
                answered = set(select.select(slow, [], [], 0)[0])   # the server has spoken: stop sending there
                for c in slow:
                    if c not in answered:
                        with contextlib.suppress(OSError): c.send(b'a')
                stop.wait(0.5)
        t = threading.Thread(target=trickle, daemon=True); t.start()
        try:
            time.sleep(0.5)
            answers = [call(port, '/api/health') if i % 2 else call(port, '/api/read', {'image': base64.b64encode(b'x').decode()})
                       for i in range(30)]
            took = time.monotonic() - opened
            assert [s for s, _, _ in answers] == [200] * 30, answers
            worst = max(dt for _, _, dt in answers)
            print(f'30 normal requests beside 150 slow and 20 silent connections: all 200, slowest {worst:.2f} s, all done {took:.1f} s after they opened')
            assert worst < 3 and took < 10
            # the slow ones are answered 408 once their headers are 4 s late, and closed; the silent ones are closed
            replies = []
            for c in slow:
                data = b''
                with contextlib.suppress(OSError):
                    while chunk := c.recv(4096): data += chunk
                replies.append(data)
            cut_after = time.monotonic() - opened
            closed = []
            for c in silent:
                try: closed.append(c.recv(1) == b'')
                except OSError: closed.append(True)
            silent_after = time.monotonic() - opened
        finally:
            stop.set(); t.join(5)
            for c in slow + silent: c.close()
    timed_out = [r for r in replies if r.startswith(b'HTTP/1.1 408') and b'"error"' in r]
    print(f'{len(timed_out)} of 150 slow connections answered 408 with JSON and closed within {cut_after:.1f} s; '
          f'{sum(closed)} of 20 silent ones closed within {silent_after:.1f} s')
    assert len(timed_out) == 150, [r[:80] for r in replies if r not in timed_out][:5]
    assert cut_after < 15 and all(closed) and silent_after < 15


def _page(line_png: bytes, rows: int, copies: int) -> bytes:
    "A page of `rows` lines, each `copies` copies of one line image side by side."
    from PIL import Image
    im = Image.open(io.BytesIO(line_png)).convert('L')
    page = Image.new('L', (im.width * copies, (im.height + 12) * rows), 255)
    for j in range(rows):
        for i in range(copies): page.paste(im, (i * im.width, j * (im.height + 12) + 6))
    out = io.BytesIO(); page.save(out, 'PNG'); return out.getvalue()


def test_a_heavy_read_does_not_stall_quick_ones(tmp_path):
    from hwr.data.line_folder import write_stand_in
    folder = write_stand_in(Path(tmp_path)/'lines', n=1, seed=3)
    line = base64.b64encode((folder/'line_00.png').read_bytes()).decode()
    page = base64.b64encode(_page((folder/'line_00.png').read_bytes(), rows=16, copies=4)).decode()
    small_page = base64.b64encode(_page((folder/'line_00.png').read_bytes(), rows=2, copies=1)).decode()
    limits = Limits()
    with running(create_app(Readers(lm='shipped', heavy_reads=limits.heavy_reads), limits=limits), limits) as port:
        for body in ({'image': line, 'model': 'line'}, {'image': small_page, 'model': 'page'}):   # build and trace the predictors
            assert call(port, '/api/read', body, timeout=120)[0] == 200
        heavy = {}
        def read_heavy():
            heavy['status'], heavy['answer'], heavy['took'] = call(port, '/api/read', {'image': page, 'model': 'page', 'beam': 100}, timeout=120)
            heavy['done'] = time.perf_counter()
        t = threading.Thread(target=read_heavy); t.start()
        time.sleep(0.5)
        quick = [call(port, '/api/read', {'image': line, 'model': 'line'}, timeout=30) for _ in range(5)]
        quick_done = time.perf_counter()
        t.join(120)
    assert not t.is_alive(), 'the heavy read did not finish within 120 s'
    assert heavy['status'] == 200 and len(heavy['answer']['lines']) >= 10, heavy
    assert [s for s, _, _ in quick] == [200] * 5, quick
    worst = max(dt for _, _, dt in quick)
    print(f"a page of {len(heavy['answer']['lines'])} lines with the LM and beam 100 took {heavy['took']:.1f} s; "
          f"5 greedy line reads beside it took at most {worst:.2f} s each, all done {heavy['done'] - quick_done:.1f} s before it")
    assert quick_done < heavy['done'], 'the quick reads waited for the heavy one'
    assert worst < 5
