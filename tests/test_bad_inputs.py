"""Bad and odd inputs, one table (issue 14): every case names what it feeds hwr and what must come back.

Each case runs in a fresh folder beside a set of files a user keeps (a saved run, a labelled
folder, a dataset cache, a downloaded file). It asserts
- the exit status (CLI cases) or the exception type (library cases), or that it works;
- that the message names the problem (a substring of it);
- that no traceback is printed;
- that the kept files are byte for byte what they were.

CLIs are called in this process through their `main(argv)`, exactly as the console scripts call
them, so the table runs in about a minute. `test_count_table` prints the counts the closing note
quotes (inputs tried, clear errors, worked, tracebacks, data lost).
"""
from __future__ import annotations
import hashlib, http.server, json, os, socket, threading, zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')

from hwr.training.run_experiment import main as run_main, ConfigError     # noqa: E402
from hwr.training.experiments import main as group_main                 # noqa: E402
from hwr.training.sweeps import main as sweep_main                      # noqa: E402
from hwr.cli import main as predict_main                               # noqa: E402
from hwr.export import main as export_main                              # noqa: E402
from hwr.training.recipes import main as recipe_main                   # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT/'hwr'/'weights'
OUTCOMES = []                 # (case id, outcome) for the count table


@dataclass
class Case:
    id: str
    run: Callable[[Path], object]        # gets the case folder; CLI cases return their exit status
    expect: object                       # an exit status (int), an exception type, or 'ok'
    says: str | tuple = ()               # substrings the message (stderr + stdout, or the exception) must hold
    check: Callable | None = None        # extra check on (folder, output text)


# ---------------------------------------------------------------- inputs the cases use

def _line_image(path: Path, mode: str = 'L', bits16=False):
    "A handwriting-like line (dark ink on light paper) in several encodings."
    from PIL import ImageDraw, ImageFont
    im = Image.new('L', (360, 60), 235)
    d = ImageDraw.Draw(im)
    d.text((12, 8), 'hello world', fill=20, font=ImageFont.load_default(size=36))
    a = np.asarray(im)
    if bits16: Image.fromarray(a.astype(np.uint16) * 257).save(path); return path
    if mode == 'RGBA-white':                 # white ink on a transparent background
        rgba = np.zeros(a.shape + (4,), np.uint8); rgba[..., :3] = 255; rgba[..., 3] = 255 - a
        Image.fromarray(rgba, 'RGBA').save(path); return path
    im = Image.fromarray(a)
    (im.convert(mode) if mode != 'L' else im).save(path)
    return path


def _write(path: Path, data: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def _cfg(**kw) -> str:
    base = {"dataset": "SyntheticCharactersDataset", "dataset_args": {"num_train": 158, "num_test": 79},
            "model": "CharacterModel", "network": "mlp", "train_args": {"epochs": 1}}
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict): base[k] = {**base[k], **v}
        elif v is None: base.pop(k, None)
        else: base[k] = v
    return json.dumps(base)


def _group(folder: Path, experiments) -> str:
    return str(_write(folder/'group.json', json.dumps({'experiment_group': 'g', 'experiments': experiments})))


def _sweep(folder: Path, text: str) -> str:
    return str(_write(folder/'sweep.yaml', text))


SWEEP_OK = """name: s
method: grid
metric: {name: test_accuracy, goal: maximize}
parameters:
  dataset: {value: SyntheticCharactersDataset}
  dataset_args.num_train: {value: 158}
  dataset_args.num_test: {value: 79}
  model: {value: CharacterModel}
  network: {value: mlp}
  train_args.epochs: {value: 1}
"""


def _labels(folder: Path, rows: list[tuple[str, str]], images=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f, _ in rows:
        if images and not (folder/f).exists(): _line_image(folder/f)
    (folder/'labels.tsv').write_text('file\ttext\n' + ''.join(f'{f}\t{t}\n' for f, t in rows), encoding='utf-8')
    return folder


def _folder_dataset(folder: Path, **kw):
    from hwr.data.line_folder import LineFolderDataset
    return LineFolderDataset(folder, **kw).load_or_generate_data()


def _predict(*args):
    "hwr-predict --model line with `args` (argument errors: refused before any file is read)."
    return lambda d: predict_main(['--model', 'line', *args])


def _image_case(id, make, expect, says, model='line', check=None):
    "A hwr-predict case on one image made by `make(path)`."
    def run(d):
        p = make(d/'in.png')
        return predict_main(['--model', model, '--json', str(p)])
    return Case(id, run, expect, says, check)


def _json_record(d, out):
    "The --json output holds one record for the input."
    start = out.index('[')
    recs = json.loads(out[start:out.rindex(']') + 1])
    assert len(recs) == 1, recs


def _serve(folder: Path, routes: dict):
    "An HTTP server on 127.0.0.1 answering `routes` (path -> (status, body, headers)); returns its base URL."
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body, headers = routes.get(self.path, (404, b'not found', {}))
            self.send_response(status)
            for k, v in headers.items(): self.send_header(k, v)
            self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _SERVERS.append(srv)
    return f'http://127.0.0.1:{srv.server_address[1]}'


_SERVERS = []


def _download(d, path, body=b'x' * 100, status=200, headers=None, **kw):
    from hwr.util import download_url
    url = _serve(d, {path: (status, body, headers or {})})
    return download_url(url + path, d/'got.bin', progress=False, **kw)


def _closed_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _truncated_cache(d):
    "A dataset cache cut in half: the dataset names it, moves it aside and rebuilds."
    from hwr.data.synthetic import SyntheticCharactersDataset
    ds = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat'])
    ds.load_or_generate_data()
    p = ds.processed_path; data = p.read_bytes(); p.write_bytes(data[:len(data) // 2])
    again = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat']).load_or_generate_data()
    assert again.x_train.shape == (79, 28, 28)
    aside = list(p.parent.glob(p.name + '.corrupt-*'))
    assert aside, 'the unreadable cache is kept aside, not deleted'
    return 0


def _garbage_cache(d):
    from hwr.data.synthetic import SyntheticCharactersDataset
    ds = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat'])
    ds.processed_path.parent.mkdir(parents=True, exist_ok=True); ds.processed_path.write_bytes(b'not an hdf5 file')
    ds.load_or_generate_data()
    assert ds.x_train.shape == (79, 28, 28)
    return 0


def _stale_parts(d):
    from hwr.data.synthetic import SyntheticCharactersDataset
    ds = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat'])
    ds.processed_path.parent.mkdir(parents=True, exist_ok=True)
    stale = ds.processed_path.parent/f'.{ds.processed_path.name}.abc123.part'
    stale.write_bytes(b'half a file'); os.utime(stale, (1, 1))
    ds.load_or_generate_data()
    assert not stale.exists(), 'a killed write leaves no .part file behind for ever'
    return 0


def _lm_case(content: bytes | None, name='lm.npz'):
    def run(d):
        p = d/name
        if content is not None: p.write_bytes(content)
        return predict_main(['--model', 'line', '--lm', str(p), str(_line_image(d/'ok.png'))])
    return run


def _bad_npz(d):
    p = d/'lm.npz'; np.savez(p, nothing=np.zeros(3)); return p.read_bytes()


def _weights_case(make):
    def run(d):
        w = make(d)
        return predict_main(['--model', 'line', '--weights', str(w), str(_line_image(d/'ok.png'))])
    return run


def _copy_shipped(d, kind='line'):
    import shutil
    stem = {'line': 'LineModelCtc_SyntheticLinesDataset_crnn', 'char': 'CharacterModel_SyntheticCharactersDataset_lenet'}[kind]
    for f in SHIPPED.glob(stem + '*'): shutil.copy(f, d/f.name)
    return d/(stem + '.weights.h5')


def _lock_symlink_dir(d):
    from hwr.training.gpu_manager import ensure_lock_dir
    (d/'real').mkdir(); (d/'link').symlink_to(d/'real')
    return ensure_lock_dir(d/'link')


def _lock_gpu_missing(d):
    from hwr.training.gpu_manager import GPUManager, select_gpu
    return select_gpu(3, manager=GPUManager(lambda: [dict(index=0)], d/'locks', verbose=False))


class _QuickReaders:
    "Stands in for hwr-serve's predictors where a case is about the request, not the reading."
    def read(self, image, model='auto', beam=1): return {'model': 'char', 'text': 'a', 'confidence': 1.0}


def _serve_call(method='post', path='/api/read', readers=None, limits=None, **kw):
    "One request to hwr-serve's app through Flask's test client; the answer must be JSON. Prints its error, returns the status."
    from hwr.serve import create_app
    r = getattr(create_app(readers, limits=limits).test_client(), method)(path, **kw)
    assert r.is_json, f'{r.status_code} answered as {r.content_type}, not JSON: {r.get_data()[:200]!r}'
    print(r.get_json().get('error', ''))
    return r.status_code


def _serve_json(text: str, **kw):
    "POST `text` as a JSON body, exactly as written (1e400, NaN and the like included)."
    return _serve_call(data=text.encode() if isinstance(text, str) else text, content_type='application/json', **kw)


def _assert_absent(text: str, wrong: str):
    assert wrong not in text, f'the message blames {wrong!r}, not the real cause:\n{text[-500:]}'


def _png(w=60, h=20) -> bytes:
    import io
    out = io.BytesIO(); Image.new('L', (w, h), 255).save(out, 'PNG'); return out.getvalue()


def _b64(data: bytes) -> str:
    import base64
    return base64.b64encode(data).decode()


def _multipart(*fields, boundary='XyZ') -> dict:
    "A multipart body built by hand as any client could: (name, text) fields and (name, bytes, filename) files."
    body = b''
    for f in fields:
        disp = f'--{boundary}\r\nContent-Disposition: form-data; name="{f[0]}"' + (f'; filename="{f[2]}"' if len(f) > 2 else '')
        body += disp.encode() + b'\r\n\r\n' + (f[1] if isinstance(f[1], bytes) else f[1].encode()) + b'\r\n'
    return {'data': body + f'--{boundary}--\r\n'.encode(), 'content_type': f'multipart/form-data; boundary={boundary}'}


def _serve_busy(d):
    "A heavy read (beam 5) while every heavy slot is taken: 503 at once, nothing read."
    from hwr.serve import Readers
    readers = Readers(heavy_reads=1)
    readers._heavy.acquire()
    return _serve_call(readers=readers, json={'image': _b64(_png(200, 40)), 'model': 'line', 'beam': 5})


def _serve_raw(data: bytes, **limits) -> int:
    "Send `data` to a real hwr-serve (waitress, hwr's limits) on 127.0.0.1 as a client would; prints the JSON error, returns the status."
    import select
    from hwr.serve import Limits, create_app, make_server
    lim = Limits(**{'max_bytes': 100_000, 'header_timeout': 1, 'idle_timeout': 1, **limits})
    port = _closed_port()
    server = make_server(create_app(_QuickReaders(), limits=lim), '127.0.0.1', port, lim)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=10) as c:
            for i in range(0, len(data), 4096):
                if select.select([c], [], [], 0)[0]: break     # answered already: stop sending
                c.sendall(data[i:i + 4096])
            reply = b''
            while chunk := c.recv(65536): reply += chunk
    finally:
        server.close(); server.task_dispatcher.shutdown(timeout=5)
    head, _, body = reply.partition(b'\r\n\r\n')
    assert b'application/json' in head, f'not a JSON answer: {reply[:300]!r}'
    print(json.loads(body)['error'])
    return int(head.split()[1])


def _serve_cli(*args):
    "hwr-serve with `args`: each bad one is refused (exit 2) before anything listens."
    from hwr.serve import main
    return main(list(args))


def _serve_port_taken(d):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen()
        return _serve_cli('--port', str(s.getsockname()[1]))


_POST = b'POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n'


# ---------------------------------------------------------------- images, labels, LM and weights files (issue 26)

EXIF_STORED = {2: np.fliplr, 3: lambda a: np.rot90(a, 2), 4: np.flipud, 5: lambda a: a.T,      # the stored pixels of an upright
               6: lambda a: np.rot90(a, 1), 7: lambda a: np.rot90(a, 2).T, 8: lambda a: np.rot90(a, -1)}   # image, per EXIF orientation


def _exif_photo(orientation: int, suffix='.jpg'):
    "A line stored as a camera stores it, with the EXIF orientation that turns it upright."
    def make(p):
        a = np.asarray(Image.open(_line_image(p.with_name('upright.png'))))
        exif = Image.Exif(); exif[0x0112] = orientation
        out = p.with_suffix(suffix)
        Image.fromarray(np.ascontiguousarray(EXIF_STORED[orientation](a))).save(out, exif=exif)
        return out
    return make


def _frames(fmt: str, n: int):
    "A file of `n` frames of the line (a multi-page TIFF, an animated GIF or WebP, a camera's MPO)."
    def make(p):
        im = Image.open(_line_image(p.with_name('one.png'))).convert('RGB' if fmt in ('WEBP', 'MPO') else 'L')
        out = p.with_suffix({'TIFF': '.tif', 'GIF': '.gif', 'WEBP': '.webp', 'MPO': '.jpg'}[fmt])
        im.save(out, fmt, save_all=True, append_images=[im.point(lambda v: 255 - v) for _ in range(n - 1)])
        return out
    return make


def _png_header(w: int, h: int) -> bytes:
    "A PNG of a few bytes whose header says w × h pixels: a decompression bomb's shape without its memory."
    import struct, zlib
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 1, 0, 0, 0, 0))
            + chunk(b'IDAT', __import__('zlib').compress(b'\x00' * 64)) + chunk(b'IEND', b''))


def _gif_header(w: int, h: int) -> bytes:
    "A GIF of a few bytes whose screen and image say w × h pixels."
    import struct
    return (b'GIF89a' + struct.pack('<HHBBB', w, h, 0, 0, 0) + b',' + struct.pack('<HHHHB', 0, 0, w, h, 0)
            + b'\x02\x02\x44\x01\x00;')


def _fifo(p: Path) -> Path:
    os.mkfifo(p); return p


def _bad_png_crc(p):
    data = bytearray(_line_image(p).read_bytes()); data[29] ^= 0xFF          # a byte of the IHDR's CRC
    return _write(p, bytes(data))


class _Patched:
    "Set module attributes for the length of a `with` block (limits made small so a case stays fast)."
    def __init__(self, module: str, **values): self.module, self.values, self.old = __import__('importlib').import_module(module), values, {}
    def __enter__(self):
        for k, v in self.values.items(): self.old[k] = getattr(self.module, k); setattr(self.module, k, v)
    def __exit__(self, *exc):
        for k, v in self.old.items(): setattr(self.module, k, v)


class _Endless:
    "A stream that never ends (as /dev/zero or a stuck pipe would be): hands back whatever is asked for."
    name = '<stdin>'
    def read(self, n=-1):
        if n is None or n < 0: raise AssertionError('an unbounded read of an endless stream')
        return b'\x00' * n


def _stdin_case(stream, limit: int):
    "hwr-predict - with `stream` on standard input and the image byte limit set to `limit`."
    def run(d):
        import sys, types
        old = sys.stdin
        sys.stdin = types.SimpleNamespace(buffer=stream)
        try:
            with _Patched('hwr.util', IMAGE_MAX_BYTES=limit): return predict_main(['--model', 'line', '--json', '-'])
        finally: sys.stdin = old
    return run


def _labels_bytes(data: bytes, images=('a.png', 'b.png')):
    "A folder whose labels.tsv holds exactly `data`; its rows are read and checked (nothing is prepared)."
    def run(d):
        folder = d/'lines'; folder.mkdir()
        for f in images: _line_image(folder/f)
        (folder/'labels.tsv').write_bytes(data)
        from hwr.data.line_folder import LineFolderDataset
        rows = LineFolderDataset(folder).rows
        print('rows:', [(r[0].name, r[1]) for r in rows])
        return 'ok'
    return run


_LM_BYTES = []


def _spoilt_lm(**change) -> bytes:
    "The bytes of a small LM saved by hwr, with some of its arrays replaced (a callable gets the old array)."
    import io
    if not _LM_BYTES:
        from hwr.lm import CharNgramLM
        import tempfile
        with tempfile.TemporaryDirectory() as t:
            p = CharNgramLM.train(['the quick brown fox jumps over the lazy dog'] * 4 + ['hello world'], meta={'alpha': 0.5, 'beta': 1.0}).save(Path(t)/'lm.npz')
            _LM_BYTES.append(p.read_bytes())
    with np.load(io.BytesIO(_LM_BYTES[0])) as z: arrays = {k: z[k] for k in z.files}
    for k, v in change.items(): arrays[k] = v(arrays[k]) if callable(v) else v
    buf = io.BytesIO(); np.savez(buf, **arrays)
    return buf.getvalue()


def _lm_meta(**kw):
    return lambda m: np.array(json.dumps({**json.loads(str(m)), **kw}))


def _weights_json(change: Callable[[dict], object]):
    "The shipped line weights with their JSON changed by `change(info)` (which returns what is written)."
    def make(d):
        w = _copy_shipped(d)
        j = d/'LineModelCtc_SyntheticLinesDataset_crnn.json'
        new = change(json.loads(j.read_text()))
        (j.write_bytes if isinstance(new, bytes) else j.write_text)(new if isinstance(new, (bytes, str)) else json.dumps(new))
        return w
    return make


def _weights_values(value: float):
    "The shipped line weights with one array's values set to `value` (NaN, inf: a run whose loss diverged)."
    def make(d):
        import h5py
        w = _copy_shipped(d)
        with h5py.File(w, 'r+') as f:
            arrays = []; f['layers'].visititems(lambda n, o: arrays.append(o) if isinstance(o, h5py.Dataset) else None)
            arrays[len(arrays) // 2][...] = value
        return w
    return make


def _weights_json_fifo(d):
    w = _copy_shipped(d)
    j = d/'LineModelCtc_SyntheticLinesDataset_crnn.json'; j.unlink(); _fifo(j)
    return w


def _with_limit(d):
    "hwr-predict on a line image larger than a (small) byte limit."
    p = _line_image(d/'in.png')
    with _Patched('hwr.util', IMAGE_MAX_BYTES=1000): return predict_main(['--model', 'line', str(p)])


def _with_labels_limit(d):
    with _Patched('hwr.data.line_folder', LABELS_MAX_BYTES=100):
        return _folder_dataset(_labels(d/'lines', [('a.png', 'hello world ' * 5), ('b.png', 'good bye ' * 5)]))


def _with_json_limit(d):
    with _Patched('hwr.registry', WEIGHTS_JSON_MAX_BYTES=1000): return _weights_case(_copy_shipped)(d)


# ---------------------------------------------------------------- the table

ERR, USAGE, BAD_FILE = 2, 2, 1     # hwr-run-experiment: 2 for a bad config; argparse: 2; hwr-predict: 1 when a file failed

CASES = [
    # --- hwr-predict: arguments (checked before any model is loaded)
    Case('predict beam 0', _predict('--beam', '0', 'x.png'), USAGE, '--beam must be from 1 to'),
    Case('predict beam negative', _predict('--beam', '-3', 'x.png'), USAGE, '--beam must be from 1 to'),
    Case('predict beam 2**31-1', _predict('--beam', '2147483647', 'x.png'), USAGE, '--beam must be from 1 to 100'),
    Case('predict beam 99999999999', _predict('--beam', '99999999999', 'x.png'), USAGE, '--beam must be from 1 to 100'),
    Case('predict beam not a number', _predict('--beam', 'wide', 'x.png'), USAGE, "invalid int value: 'wide'"),
    Case('predict unknown model', lambda d: predict_main(['--model', 'word', 'x.png']), USAGE, "invalid choice: 'word'"),
    Case('predict unknown invert', lambda d: predict_main(['--invert', 'maybe', 'x.png']), USAGE, "invalid choice: 'maybe'"),
    Case('predict no paths', lambda d: predict_main([]), USAGE, 'the following arguments are required: PATH'),
    Case('predict weights with auto', lambda d: predict_main(['--weights', 'w.h5', 'x.png']), USAGE, '--weights needs --model char or --model line'),
    Case('predict lm with char', lambda d: predict_main(['--model', 'char', 'x.png', '--lm']), USAGE, '--lm reads lines'),
    Case('predict lm missing file', _lm_case(None), USAGE, 'lm.npz'),
    Case('predict lm empty file', _lm_case(b''), USAGE, 'lm.npz'),
    Case('predict lm garbage', _lm_case(b'\x00garbage' * 50), USAGE, 'lm.npz'),
    Case('predict lm npz without a model', lambda d: _lm_case(_bad_npz(d))(d), USAGE, 'lm.npz'),
    Case('predict lm is a folder', lambda d: ((d/'lmdir').mkdir(), predict_main(['--model', 'line', '--lm', str(d/'lmdir'), 'x.png']))[1],
         USAGE, 'lmdir'),
    # --- hwr-predict: weights
    Case('predict weights missing', _weights_case(lambda d: d/'nothere.weights.h5'), USAGE, 'nothere'),
    Case('predict weights without json', _weights_case(lambda d: (_copy_shipped(d), (d/'LineModelCtc_SyntheticLinesDataset_crnn.json').unlink())[0]),
         USAGE, '.json'),
    Case('predict weights truncated', _weights_case(lambda d: (lambda w: (w.write_bytes(w.read_bytes()[:5000]), w)[1])(_copy_shipped(d))),
         USAGE, ('LineModelCtc_SyntheticLinesDataset_crnn.weights.h5', 'cannot be read as Keras weights')),
    Case('predict weights not hdf5', _weights_case(lambda d: (lambda w: (w.write_bytes(b'junk'), w)[1])(_copy_shipped(d))),
         USAGE, ('LineModelCtc_SyntheticLinesDataset_crnn.weights.h5', 'cannot be read as Keras weights')),
    Case('predict char weights as line', lambda d: predict_main(['--model', 'line', '--weights', str(_copy_shipped(d, 'char')),
                                                                 str(_line_image(d/'ok.png'))]), USAGE, 'CharacterModel'),
    Case('predict weights json garbage', _weights_case(lambda d: (_copy_shipped(d), _write(d/'LineModelCtc_SyntheticLinesDataset_crnn.json', '{oops'))[0]),
         USAGE, ('LineModelCtc_SyntheticLinesDataset_crnn.json', 'is not the JSON')),
    Case('predict wandb artifact offline', lambda d: predict_main(['--model', 'line', '--weights', 'wandb:me/hwr/model:latest', str(_line_image(d/'ok.png'))]),
         USAGE, 'keeps hwr off the network'),
    # --- hwr-predict: images (each file's error is its own; --json prints one record per input)
    _image_case('image missing', lambda p: p, USAGE, 'no such file or folder: '),     # said before any file is read
    _image_case('image is a folder', lambda p: (p.mkdir(), p)[1], USAGE, ('the folder', 'in.png', 'holds no file named')),  # a folder is read: empty
    _image_case('image zero bytes', lambda p: _write(p, b''), BAD_FILE, 'in.png', check=_json_record),
    _image_case('image is text', lambda p: _write(p, 'hello, I am not a picture\n'), BAD_FILE, 'in.png', check=_json_record),
    _image_case('image truncated png', lambda p: _write(p, _line_image(p).read_bytes()[:200]), BAD_FILE, 'in.png', check=_json_record),
    _image_case('image 14000x14000', lambda p: (Image.new('L', (14000, 14000), 255).save(p), p)[1], BAD_FILE,
                'far too large to read', check=_json_record),
    _image_case('image 10000x10000', lambda p: (Image.new('L', (10000, 10000), 255).save(p), p)[1], BAD_FILE,
                'up to 80 million pixels', check=_json_record),
    _image_case('image 1x1', lambda p: (Image.new('L', (1, 1), 0).save(p), p)[1], BAD_FILE, 'in.png', check=_json_record),
    _image_case('image blank white', lambda p: (Image.new('L', (300, 60), 255).save(p), p)[1], BAD_FILE, 'no ink', check=_json_record),
    _image_case('image blank black', lambda p: (Image.new('L', (300, 60), 0).save(p), p)[1], BAD_FILE, 'no ink', check=_json_record),
    _image_case('image 16-bit png', lambda p: _line_image(p, bits16=True), 0, 'hello', check=_json_record),
    _image_case('image white ink on transparent', lambda p: _line_image(p, 'RGBA-white'), 0, 'hello', check=_json_record),
    _image_case('image palette png', lambda p: _line_image(p, 'P'), 0, 'hello', check=_json_record),
    _image_case('image rgb png', lambda p: _line_image(p, 'RGB'), 0, 'hello', check=_json_record),
    _image_case('image cmyk jpeg', lambda p: (Image.open(_line_image(p)).convert('CMYK').save(p.with_suffix('.jpg')), p.with_suffix('.jpg'))[1],
                0, 'hello', check=_json_record),
    _image_case('image 2 px high', lambda p: (Image.new('L', (300, 2), 0).save(p), p)[1], BAD_FILE, 'in.png', check=_json_record),
    _image_case('image 40000x30 strip', lambda p: (Image.new('L', (40000, 30), 255).save(p), p)[1], BAD_FILE, 'in.png', check=_json_record),
    _image_case('image svg', lambda p: _write(p.with_suffix('.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>'), BAD_FILE, 'in.svg',
                check=_json_record),
    _image_case('char model on blank', lambda p: (Image.new('L', (28, 28), 255).save(p), p)[1], BAD_FILE, 'no ink', model='char',
                check=_json_record),
    _image_case('page model on blank', lambda p: (Image.new('L', (800, 600), 255).save(p), p)[1], BAD_FILE, 'in.png', model='page',
                check=_json_record),
    Case('predict batch goes on past bad files',
         lambda d: predict_main(['--model', 'line', '--json', str(_line_image(d/'a.png')), str(_write(d/'gone.png', b'')), str(_write(d/'b.png', b'x')),
                                 str(_line_image(d/'c.png'))]), BAD_FILE, ('"error"', 'gone.png'),
         check=lambda d, out: _check_batch(out)),
    # --- hwr-run-experiment: the config, all problems before any work
    Case('config broken json', lambda d: run_main(['{"dataset": ']), ERR, 'invalid JSON at line 1'),
    Case('config file broken json', lambda d: run_main([str(_write(d/'c.json', '{"dataset": '))]), ERR, 'invalid JSON'),
    Case('config empty file', lambda d: run_main([str(_write(d/'c.json', ''))]), ERR, 'c.json'),
    Case('config not an object', lambda d: run_main(['[1, 2]']), ERR, 'expected a JSON config such as'),
    Case('config missing file', lambda d: run_main(['nothere.json']), ERR, 'nothere.json'),
    Case('config unknown key', lambda d: run_main([json.dumps({**json.loads(_cfg()), 'netwrok': 'mlp'})]), ERR, "unknown key 'netwrok'"),
    Case('config missing dataset', lambda d: run_main([_cfg(dataset=None)]), ERR, "missing key 'dataset'"),
    Case('config unknown dataset', lambda d: run_main([_cfg(dataset='EmnistDatset')]), ERR, "unknown dataset 'EmnistDatset'"),
    Case('config unknown network', lambda d: run_main([_cfg(network='lenett')]), ERR, "unknown network 'lenett'"),
    Case('config unknown model', lambda d: run_main([_cfg(model='CharModel')]), ERR, "unknown model 'CharModel'"),
    Case('config subsample 2.0', lambda d: run_main([_cfg(dataset_args={'subsample_fraction': 2.0})]), ERR, "'subsample_fraction' must be a number in (0, 1]"),
    Case('config subsample 0', lambda d: run_main([_cfg(dataset_args={'subsample_fraction': 0})]), ERR, "'subsample_fraction'"),
    Case('config num_train -5', lambda d: run_main([_cfg(dataset_args={'num_train': -5})]), ERR, "'num_train' must be at least 1"),
    Case('config num_train string', lambda d: run_main([_cfg(dataset_args={'num_train': 'many'})]), ERR, "'num_train' must be an integer"),
    Case('config num_train huge', lambda d: run_main([_cfg(dataset_args={'num_train': 10 ** 12})]), ERR, ('num_train=1,000,000,000,000', 'ask for fewer')),
    Case('config layer_size -5', lambda d: run_main([_cfg(network_args={'layer_size': -5})]), ERR, "'layer_size' must be at least 1"),
    Case('config layer_size 1.5', lambda d: run_main([_cfg(network_args={'layer_size': 1.5})]), ERR, "'layer_size' must be an integer"),
    Case('config dropout 2', lambda d: run_main([_cfg(network_args={'dropout_amount': 2})]), ERR, "'dropout_amount'"),
    Case('config unknown network arg', lambda d: run_main([_cfg(network_args={'num_layer': 2})]), ERR, "unknown network_args 'num_layer'"),
    Case('config unknown dataset arg', lambda d: run_main([_cfg(dataset_args={'subsample': 0.1})]), ERR, "unknown dataset_args 'subsample'"),
    Case('config batch 0', lambda d: run_main([_cfg(train_args={'batch_size': 0})]), ERR, "'batch_size' must be a positive integer"),
    Case('config epochs string', lambda d: run_main([_cfg(train_args={'epochs': 'two'})]), ERR, "'epochs' must be a positive integer"),
    Case('config epochs bool', lambda d: run_main([_cfg(train_args={'epochs': True})]), ERR, "'epochs' must be a positive integer"),
    Case('config validation 1.0', lambda d: run_main([_cfg(train_args={'validation_fraction': 1.0})]), ERR, "'validation_fraction'"),
    Case('config learning rate 5', lambda d: run_main([_cfg(train_args={'learning_rate': 5})]), ERR, "'learning_rate' must be a number in (0, 1)"),
    Case('config strategy tpu', lambda d: run_main([_cfg(train_args={'strategy': 'tpu'})]), ERR, "unknown train_args strategy 'tpu'"),
    Case('config early stopping -1', lambda d: run_main([_cfg(train_args={'early_stopping': -1})]), ERR, "'early_stopping'"),
    Case('config augment string', lambda d: run_main([_cfg(train_args={'augment': 'yes'})]), ERR, "'augment' must be true or false"),
    Case('config lr_decay 1.5', lambda d: run_main([_cfg(train_args={'lr_decay': 1.5})]), ERR, "'lr_decay' must be true, false or a number of cosine cycles"),
    Case('config lr_decay 101 cycles', lambda d: run_main([_cfg(train_args={'lr_decay': 101})]), ERR, "cosine cycles from 1 to 100"),
    Case('config unknown train arg', lambda d: run_main([_cfg(train_args={'epoch': 2})]), ERR, "did you mean 'epochs'"),
    Case('config dataset_args a list', lambda d: run_main([_cfg(dataset_args=None) [:-1] + ', "dataset_args": [1]}']), ERR, "'dataset_args' must be"),
    Case('config many problems at once', lambda d: run_main([_cfg(network='lenett', train_args={'batch_size': -1, 'epochs': 0})]), ERR,
         ('problems in the experiment config', 'batch_size', 'epochs')),
    Case('config line_lstm_ctc too few frames', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "dataset_args": {"style": "clean"}, "model": "LineModelCtc", "network": "line_lstm_ctc"})]), ERR,
         ('21 output frames', 'use window_stride=8 or less')),
    Case('config crnn too few frames', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "dataset_args": {"style": "clean"}, "model": "LineModelCtc", "network": "crnn",
        "network_args": {"width_downsample": 16}})]), ERR, 'use width_downsample=8 or less'),
    Case('config crnn downsample 3', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "model": "LineModelCtc", "network": "crnn", "network_args": {"width_downsample": 3}})]), ERR,
         'width_downsample must be a power of 2'),
    Case('config lines min > max', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "dataset_args": {"min_length": 80}, "model": "LineModelCtc", "network": "crnn"})]), ERR,
         'min_length <= max_length'),
    Case('config init_weights missing', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "model": "LineModelCtc", "network": "crnn", "init_weights": str(d/'none.weights.h5')})]), ERR,
         'none.weights.h5'),
    Case('config init_weights and pretrain', lambda d: run_main([json.dumps({
        "dataset": "SyntheticLinesDataset", "model": "LineModelCtc", "network": "crnn", "init_weights": "shipped",
        "pretrain": {"dataset": "SyntheticLinesDataset"}})]), ERR, 'init_weights and pretrain'),
    Case('config pretrain unknown key', lambda d: run_main([json.dumps({**json.loads(_cfg()), 'pretrain': {'datset': 'SyntheticCharactersDataset'}})]),
         ERR, "unknown pretrain key 'datset'"),
    Case('config unknown font', lambda d: run_main([_cfg(dataset_args={'train_fonts': ['arial']})]), ERR, 'arial'),
    Case('config overlapping fonts', lambda d: run_main([_cfg(dataset_args={'train_fonts': ['kalam', 'caveat']})]), ERR, 'overlap'),
    Case('config class weights unknown', lambda d: run_main([_cfg(dataset_args={'class_weights': 'emnist'})]), ERR, 'emnist'),
    Case('config line folder missing', lambda d: run_main([json.dumps({
        "dataset": "LineFolderDataset", "dataset_args": {"path": str(d/'my_lines')}, "model": "LineModelCtc", "network": "crnn",
        "init_weights": "shipped"})]), ERR, ('no labels.tsv', 'my_lines')),
    Case('config save-dir is a file', lambda d: run_main([_cfg(), '--save', '--save-dir', str(_write(d/'afile', 'x'))]), USAGE, 'afile is a file, not a folder'),
    Case('config gpu 7 on a machine without it', lambda d: run_main([_cfg(), '--gpu', '7']), ERR, 'GPU 7'),
    # --- hwr-prepare-experiments: every experiment checked before the first runs
    Case('group file missing', lambda d: group_main([str(d/'none.json')]), ERR, 'none.json'),
    Case('group broken json', lambda d: group_main([str(_write(d/'g.json', '{"experiments": ['))]), ERR, 'g.json'),
    Case('group not a list', lambda d: group_main([str(_write(d/'g.json', '{"experiments": 3}'))]), ERR, 'expected a non-empty list of experiment configs'),
    Case('group empty', lambda d: group_main([str(_write(d/'g.json', '{"experiment_group": "g", "experiments": []}'))]), ERR, 'expected a non-empty list'),
    Case('group bad value in the second', lambda d: group_main([_group(d, [json.loads(_cfg()), json.loads(_cfg(train_args={'epochs': -1}))]), '--run']),
         ERR, ('experiment 1:', "'epochs' must be a positive integer"), check=lambda d, out: _nothing_ran(d)),
    Case('group bad name in the third', lambda d: group_main([_group(d, [json.loads(_cfg())] * 2 + [json.loads(_cfg(network='lenett'))]), '--run']),
         ERR, ('experiment 2:', "unknown network 'lenett'"), check=lambda d, out: _nothing_ran(d)),
    Case('group jobs 0', lambda d: group_main([_group(d, [json.loads(_cfg())]), '--run', '-j', '0']), USAGE, '-j/--jobs must be at least 1'),
    # --- hwr-sweep: the file, its values and its metric, before the first trial
    Case('sweep file missing', lambda d: sweep_main([str(d/'none.yaml'), '--local']), ERR, 'none.yaml'),
    Case('sweep broken yaml', lambda d: sweep_main([_sweep(d, 'method: grid\nparameters: [\n'), '--local']), ERR, 'sweep.yaml'),
    Case('sweep unknown method', lambda d: sweep_main([_sweep(d, SWEEP_OK.replace('method: grid', 'method: genetic')), '--local']), ERR, 'genetic'),
    Case('sweep no metric', lambda d: sweep_main([_sweep(d, SWEEP_OK.replace('metric: {name: test_accuracy, goal: maximize}\n', '')), '--local']),
         ERR, 'metric'),
    Case('sweep unknown metric name', lambda d: sweep_main([_sweep(d, SWEEP_OK.replace('name: test_accuracy', 'name: test_acc')), '--local']),
         ERR, 'test_acc', check=lambda d, out: _nothing_ran(d)),
    Case('sweep bad goal', lambda d: sweep_main([_sweep(d, SWEEP_OK.replace('goal: maximize', 'goal: best')), '--local']), ERR, 'best'),
    Case('sweep bad value in a grid', lambda d: sweep_main([_sweep(d, SWEEP_OK + '  network_args.layer_size: {values: [64, -1]}\n'), '--local']),
         ERR, "'layer_size' must be at least 1", check=lambda d, out: _nothing_ran(d)),
    Case('sweep unknown parameter', lambda d: sweep_main([_sweep(d, SWEEP_OK + '  network_args.num_layer: {values: [1, 2]}\n'), '--local']),
         ERR, "num_layer", check=lambda d, out: _nothing_ran(d)),
    Case('sweep jobs 0', lambda d: sweep_main([_sweep(d, SWEEP_OK), '--local', '-j', '0']), USAGE, '-j/--jobs must be at least 1'),
    Case('sweep count 0', lambda d: sweep_main([_sweep(d, SWEEP_OK), '--local', '--count', '0']), USAGE, '--count must be at least 1'),
    Case('sweep random without count', lambda d: sweep_main([_sweep(d, SWEEP_OK.replace('method: grid', 'method: random')), '--local']),
         ERR, 'count'),
    # --- hwr-export
    Case('export unknown format', lambda d: export_main(['shipped-line', '--format', 'pickle']), USAGE, "invalid choice: 'pickle'"),
    Case('export missing run', lambda d: export_main([str(d/'none'), '--format', 'onnx']), 1, 'none.weights.h5'),
    Case('export out in a missing folder', lambda d: export_main(['shipped-char', '--format', 'onnx', '--out', str(d/'no'/'x.onnx')]), 1, 'no folder'),
    Case('export over an existing file', lambda d: export_main(['shipped-char', '--format', 'onnx', '--out', str(_write(d/'mine.onnx', b'keep'))]),
         1, 'exists; pass force=True', check=lambda d, out: _assert_text(d/'mine.onnx', 'keep')),
    Case('export --out with two formats', lambda d: export_main(['shipped-char', '--format', 'onnx', '--format', 'tflite', '--out', 'x']),
         USAGE, '--out names one export'),
    # --- hwr-serve's API (Flask's test client; the status code stands for the exit status)
    Case('serve not base64', lambda d: _serve_post(json={'image': 'not base64!'}), 400, "is not base64"),
    Case('serve not an image', lambda d: _serve_post(json={'image': 'aGVsbG8='}), 400, 'not an image file'),
    Case('serve beam 10**9', lambda d: _serve_post(json={'image': 'aGVsbG8=', 'beam': 10 ** 9}), 400, 'beam must be an integer from 1 to 100'),
    Case('serve too large', lambda d: _serve_post(max_bytes=100, data={'image': (__import__('io').BytesIO(b'x' * 1000), 'x.png')}), 413,
         'larger than the 100 bytes'),
    Case('serve port 0', lambda d: __import__('hwr.serve').serve.main(['--port', '0']), USAGE, '--port must be from 1 to 65535'),
    # --- labelled folders of your own lines
    Case('folder without labels', lambda d: _folder_dataset((d/'lines').mkdir() or d/'lines'), FileNotFoundError, 'no labels.tsv'),
    Case('folder missing image', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hello'), ('gone.png', 'there')], images=False)
                                                           if _line_image((d/'lines').mkdir() or d/'lines'/'a.png') else None),
         ValueError, 'gone.png'),
    Case('folder empty text', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hello'), ('b.png', '   ')])), ValueError, 'b.png'),
    Case('folder unknown characters', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hello'), ('b.png', 'café ½')])), ValueError, 'é'),
    Case('folder all problems at once', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', ''), ('b.png', 'naïve')])), ValueError, ('a.png', 'b.png')),
    Case('folder test_fraction 1.5', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hi')]), test_fraction=1.5), ValueError, 'test_fraction'),
    Case('folder split_by writer', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hi')]), split_by='writer'), ValueError, 'split_by'),
    Case('folder max_length too short', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hello world')]), max_length=3), ValueError, 'max_length'),
    Case('folder image unreadable', lambda d: _folder_dataset(_labels(d/'lines', [('a.png', 'hi'), ('b.png', 'yo')]) if _write(d/'lines'/'b.png', b'junk') else None),
         ValueError, 'b.png'),
    # --- caches and data folders
    Case('cache truncated', _truncated_cache, 0, ()),
    Case('cache not hdf5', _garbage_cache, 0, ()),
    Case('cache stale part files', _stale_parts, 0, ()),
    # --- downloads (127.0.0.1 only)
    Case('download ftp url', lambda d: __import__('hwr.util').util.download_url('ftp://127.0.0.1/x', d/'got.bin', progress=False),
         Exception, 'not ftp://'),
    Case('download 404', lambda d: _download(d, '/missing', status=404), Exception, '404'),
    Case('download refused', lambda d: __import__('hwr.util').util.download_url(f'http://127.0.0.1:{_closed_port()}/x', d/'got.bin', progress=False),
         Exception, '127.0.0.1'),
    Case('download wrong sha256', lambda d: _download(d, '/f', sha256='0' * 64), Exception, 'sha256',
         check=lambda d, out: _no_file(d/'got.bin')),
    Case('download over the size cap', lambda d: _download(d, '/f', body=b'x' * 5000, max_bytes=1000), Exception, '1,000 allowed',
         check=lambda d, out: _no_file(d/'got.bin')),
    Case('download wrong size', lambda d: _download(d, '/f', body=b'x' * 50, size=60), Exception, '60',
         check=lambda d, out: _no_file(d/'got.bin')),
    # --- GPU locks
    Case('lock folder is a symlink', _lock_symlink_dir, Exception, 'link'),
    Case('lock for a GPU that is not there', _lock_gpu_missing, ValueError, 'GPU 3 does not exist here (GPUs: 0)',
         check=lambda d, out: _no_file(d/'locks'/'gpu3.lock')),
    Case('lock file is a symlink', lambda d: _lock_file_symlink(d), Exception, 'symbolic link',
         check=lambda d, out: _assert_text(d/'target.txt', 'keep me')),
    Case('lock folder is a file', lambda d: __import__('hwr.training.gpu_manager').training.gpu_manager.ensure_lock_dir(_write(d/'lockfile', 'x')),
         Exception, 'not a folder'),
    # --- language-model files
    Case('lm api garbage', lambda d: __import__('hwr.lm').lm.load_lm(_write(d/'x.npz', b'garbage')), ValueError, 'x.npz'),
    Case('lm api missing', lambda d: __import__('hwr.lm').lm.load_lm(d/'none.npz'), ValueError, 'none.npz'),
    # ---- server limits (issue 26)
    Case('serve json nested 100000 deep', lambda d: _serve_json('[' * 100_000 + ']' * 100_000), 400, 'nests 100,000 levels deep'),
    Case('serve json nested 9 deep in a field', lambda d: _serve_json('{"image": "", "beam": [[[[[[[[1]]]]]]]]}'), 400, 'hwr-serve takes at most 8'),
    Case('serve json 8 MiB of brackets', lambda d: _serve_json(b'{' * (8 * 2**20)), 400, 'levels deep'),
    Case('serve beam 1e400', lambda d: _serve_json('{"image": "%s", "beam": 1e400}' % _b64(_png())), 400, 'got inf (not a finite number)'),
    Case('serve beam -1e400', lambda d: _serve_json('{"image": "%s", "beam": -1e400}' % _b64(_png())), 400, 'got -inf (not a finite number)'),
    Case('serve beam NaN', lambda d: _serve_json('{"image": "%s", "beam": NaN}' % _b64(_png())), 400, 'NaN, which is not a JSON number'),
    Case('serve beam Infinity', lambda d: _serve_json('{"image": "%s", "beam": Infinity}' % _b64(_png())), 400, 'Infinity, which is not'),
    Case('serve beam negative', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': -3}), 400, 'beam must be an integer from 1 to 100, got -3'),
    Case('serve beam 0', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': 0}), 400, 'got 0'),
    Case('serve beam 2.5', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': 2.5}), 400, 'got 2.5 (not a whole number)'),
    Case('serve beam a string', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': '10'}), 400, "got the string '10'"),
    Case('serve beam true', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': True}), 400, 'got true'),
    Case('serve beam 5000 digits', lambda d: _serve_json('{"image": "", "beam": %s}' % ('9' * 5000)), 400, '5,000-digit number'),
    Case('serve beam a list', lambda d: _serve_call(json={'image': _b64(_png()), 'beam': [10]}), 400, 'got a list'),
    Case('serve model a list', lambda d: _serve_call(json={'image': _b64(_png()), 'model': ['line']}), 400, 'model must be one of auto, char, line, page'),
    Case('serve model null', lambda d: _serve_call(json={'image': _b64(_png()), 'model': None}), 400, 'got null'),
    Case('serve image a number', lambda d: _serve_call(json={'image': 12345}), 400, "'image' must be base64 text, got a number"),
    Case('serve json a list', lambda d: _serve_call(json=[_b64(_png())]), 400, 'the JSON body is a list'),
    Case('serve json unknown field', lambda d: _serve_call(json={'image': _b64(_png()), 'beem': 10}), 400, "unknown field 'beem'"),
    Case('serve json truncated', lambda d: _serve_json('{"image": "iVBO'), 400, 'not valid JSON'),
    Case('serve json not utf-8', lambda d: _serve_json(b'{"image": "\xff\xfe\xfa"}'), 400, 'not valid JSON'),
    Case('serve plain text body', lambda d: _serve_call(data='hello', content_type='text/plain'), 415, 'Content-Type is text/plain'),
    Case('serve no content type', lambda d: _serve_call(data=b'\x89PNG'), 415, 'Content-Type is missing'),
    Case('serve multipart without boundary', lambda d: _serve_call(data=b'--XyZ--\r\n', content_type='multipart/form-data'), 400, 'no boundary'),
    Case('serve multipart malformed', lambda d: _serve_call(data=b'--XyZ\r\nno headers and no end', content_type='multipart/form-data; boundary=XyZ'),
         400, 'the multipart body is malformed'),
    Case('serve multipart 5000 fields', lambda d: _serve_call(**_multipart(*[(f'f{i}', 'x') for i in range(5000)])), 400,
         'the form has 5,000 parts; hwr-serve takes at most 8', check=lambda d, out: _assert_absent(out, 'larger than')),
    Case('serve multipart field of 5000 bytes', lambda d: _serve_call(**_multipart(('image', _png(), 'a.png'), ('model', 'l' * 5000))), 400,
         "the form field 'model' is 5,000 bytes long"),
    Case('serve multipart image as text', lambda d: _serve_call(**_multipart(('image', _b64(_png())))), 400, "'image' must be a file part"),
    Case('serve multipart two images', lambda d: _serve_call(**_multipart(('image', _png(), 'a.png'), ('image', _png(), 'b.png'))), 400,
         "the form field 'image' is sent 2 times"),
    Case('serve multipart unknown field', lambda d: _serve_call(**_multipart(('picture', _png(), 'a.png'))), 400, "unknown form field 'picture'"),
    Case('serve multipart beam inf', lambda d: _serve_call(**_multipart(('image', _png(), 'a.png'), ('beam', 'inf'))), 400, "got 'inf'"),
    Case('serve multipart beam 10**30', lambda d: _serve_call(**_multipart(('image', _png(), 'a.png'), ('beam', '1' + '0' * 30))), 400,
         'beam must be an integer from 1 to 100'),
    Case('serve image of 30 megapixels', lambda d: _serve_call(json={'image': _b64(_png(6000, 5000))}), 400, '30.0 million pixels'),
    Case('serve heavy read while busy', _serve_busy, 503, 'already running 1 heavy read'),
    Case('serve unknown route', lambda d: _serve_call('get', '/admin'), 404, 'no such page /admin'),
    Case('serve GET on the API', lambda d: _serve_call('get', '/api/read'), 405, 'use POST'),
    Case('serve PUT on health', lambda d: _serve_call('put', '/api/health'), 405, 'use GET'),
    Case('serve json over the cap', lambda d: _serve_call(limits=__import__('hwr.serve').serve.Limits(max_bytes=100), json={'image': 'A' * 200}),
         413, 'larger than the 100 bytes'),
    Case('serve live content-length 10 GB', lambda d: _serve_raw(_POST + b'Content-Length: 10000000000\r\n\r\n{'), 413, 'larger than the 100,000 bytes'),
    Case('serve live chunked past the cap', lambda d: _serve_raw(_POST + b'Transfer-Encoding: chunked\r\n\r\n20000\r\n' + b' ' * 100_000), 413,
         'larger than the 100,000 bytes'),
    Case('serve live broken chunk', lambda d: _serve_raw(_POST + b'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'), 400,
         'the HTTP request is malformed'),
    Case('serve live gzip transfer encoding', lambda d: _serve_raw(_POST + b'Transfer-Encoding: gzip\r\n\r\nxx'), 501, 'Content-Length or chunked'),
    Case('serve live headers of 32 KiB', lambda d: _serve_raw((_POST + b'X-Big: ' + b'a' * 40_000)[:32 * 1024]), 431, 'headers are larger than 32,768'),
    Case('serve live headers never end', lambda d: _serve_raw(_POST + b'X-Slow: aaa'), 408, "headers took more than 1 s"),
    Case('serve live body stalls', lambda d: _serve_raw(_POST + b'Content-Length: 100\r\n\r\n{"image": '), 408, 'stopped arriving'),
    Case('serve live unknown route', lambda d: _serve_raw(b'GET /admin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), 404, 'no such page'),
    Case('serve cli host 999.1.1.1', lambda d: _serve_cli('--host', '999.1.1.1'), USAGE, "--host '999.1.1.1' is not a valid IP address"),
    Case('serve cli host not a name', lambda d: _serve_cli('--host', 'no such host!'), USAGE, 'is not an IP address or a host name'),
    Case('serve cli host empty', lambda d: _serve_cli('--host', ''), USAGE, "--host ''"),
    Case('serve cli host not on this machine', lambda d: _serve_cli('--host', '203.0.113.7'), USAGE, 'not an address of this machine'),
    Case('serve cli port in use', _serve_port_taken, USAGE, 'is already in use'),
    Case('serve cli port 70000', lambda d: _serve_cli('--port', '70000'), USAGE, '--port must be from 1 to 65535'),
    Case('serve cli threads 1', lambda d: _serve_cli('--threads', '1'), USAGE, '--threads must be from 2 to 64'),
    Case('serve cli header timeout nan', lambda d: _serve_cli('--header-timeout', 'nan'), USAGE, '--header-timeout must be from 1 to 300'),
    Case('serve cli request timeout below header timeout', lambda d: _serve_cli('--request-timeout', '5'), USAGE, '--request-timeout must be from'),
    Case('serve cli max connections 0', lambda d: _serve_cli('--max-connections', '0'), USAGE, '--max-connections must be from 10'),
    Case('serve cli max megapixels inf', lambda d: _serve_cli('--max-megapixels', 'inf'), USAGE, '--max-megapixels must be from 0.01 to 80'),
    Case('serve cli max mb nan', lambda d: _serve_cli('--max-mb', 'nan'), USAGE, '--max-mb must be more than 0'),
    # ---- images, labels, LM and weights files (issue 26)
    # images: phone photos turned by EXIF, one frame per file, regular files only, decoded size from the header, bounded bytes
    _image_case('image exif 6 phone jpeg', _exif_photo(6), 0, 'hello', check=_json_record),
    _image_case('image exif 8 phone jpeg', _exif_photo(8), 0, 'hello', check=_json_record),
    _image_case('image exif 3 upside down png', _exif_photo(3, '.png'), 0, 'hello', check=_json_record),
    _image_case('image exif 2 mirrored png', _exif_photo(2, '.png'), 0, 'hello', check=_json_record),
    _image_case('image exif 5 transposed png', _exif_photo(5, '.png'), 0, 'hello', check=_json_record),
    _image_case('image exif 7 transverse png', _exif_photo(7, '.png'), 0, 'hello', check=_json_record),
    _image_case('image multi-page tiff', _frames('TIFF', 3), BAD_FILE, ('in.tif holds 3 frames', 'frame=k (0 to 2)'), check=_json_record),
    _image_case('image animated gif', _frames('GIF', 2), BAD_FILE, ('in.gif holds 2 frames', 'as its own file'), check=_json_record),
    _image_case('image animated webp', _frames('WEBP', 2), BAD_FILE, 'in.webp holds 2 frames', check=_json_record),
    _image_case('image camera mpo reads its photo', _frames('MPO', 2), 0, 'hello', check=_json_record),
    _image_case('image fifo', _fifo, BAD_FILE, ('in.png is a named pipe (FIFO), not an image file', 'save the image to a file'),
                check=_json_record),
    _image_case('image symlink to a fifo', lambda p: (_fifo(p.with_name('pipe')), p.symlink_to(p.with_name('pipe')), p)[2], BAD_FILE,
                'is a named pipe (FIFO)', check=_json_record),
    Case('image /dev/zero', lambda d: predict_main(['--model', 'line', '--json', '/dev/zero']), BAD_FILE,
         '/dev/zero is a character device, not an image file', check=_json_record),
    Case('image /dev/null', lambda d: predict_main(['--model', 'line', '/dev/null']), BAD_FILE, '/dev/null is a character device'),
    _image_case('image png bomb 40000x40000', lambda p: _write(p, _png_header(40000, 40000)), BAD_FILE,
                ('far too large to read', 'decompression bomb', 'up to 80 million pixels'), check=_json_record),
    _image_case('image png header 9000x9000', lambda p: _write(p, _png_header(9000, 9000)), BAD_FILE,
                ('9000×9000 pixels (81 million) when decoded', 'crop it to the writing'), check=_json_record),
    _image_case('image gif bomb 65535x65535', lambda p: _write(p.with_suffix('.gif'), _gif_header(65535, 65535)), BAD_FILE,
                ('in.gif is far too large to read'), check=_json_record),
    _image_case('image truncated jpeg', lambda p: _write(p.with_suffix('.jpg'), (lambda j: (Image.open(_line_image(p)).save(j), j.read_bytes()[:600])[1])(
                p.with_suffix('.jpg'))), BAD_FILE, ('in.jpg is damaged or cut short', 'copy it again'), check=_json_record),
    _image_case('image truncated tiff', lambda p: _write(p.with_suffix('.tif'), (lambda t: (Image.open(_line_image(p)).save(t), t.read_bytes()[:3000])[1])(
                p.with_suffix('.tif'))), BAD_FILE, 'in.tif is damaged or cut short', check=_json_record),
    _image_case('image png bad crc', _bad_png_crc, BAD_FILE, 'in.png is damaged or cut short', check=_json_record),
    _image_case('image eps (runs ghostscript)', lambda p: _write(p.with_suffix('.eps'), '%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n'),
                BAD_FILE, 'in.eps is not an image file that hwr can read', check=_json_record),
    Case('image file over the byte limit', lambda d: _with_limit(d), BAD_FILE, ('bytes, more than the 1,000 hwr reads from an image file', 'save it smaller')),
    Case('image stdin over the byte limit', _stdin_case(__import__('io').BytesIO(b'\x89PNG' + b'\x00' * 5000), 1000), BAD_FILE,
         ('standard input holds more than 1,000 bytes', 'send a smaller image'), check=_json_record),
    Case('image stdin endless stream', _stdin_case(_Endless(), 100_000), BAD_FILE, 'standard input holds more than 100,000 bytes',
         check=_json_record),
    Case('image api frame out of range', lambda d: __import__('hwr.preprocess').preprocess.load_image(_frames('TIFF', 3)(d/'in.png'), frame=3),
         ValueError, 'frame must be an integer from 0 to 2, got 3'),
    Case('image api frame chosen', lambda d: __import__('hwr.preprocess').preprocess.load_image(_frames('TIFF', 3)(d/'in.png'), frame=2).shape,
         'ok', ()),
    Case('image api stream bomb', lambda d: __import__('hwr.preprocess').preprocess.load_image(__import__('io').BytesIO(_png_header(40000, 40000))),
         ValueError, 'the image stream is far too large to read'),
    Case('image read_image fifo', lambda d: __import__('hwr.util').util.read_image(_fifo(d/'p.png')), ValueError, 'p.png is a named pipe'),
    # labels.tsv as editors save it
    Case('labels utf-8 bom with header', _labels_bytes('\ufefffile\ttext\na.png\thello\nb.png\tworld\n'.encode()), 'ok',
         "rows: [('a.png', 'hello'), ('b.png', 'world')]"),
    Case('labels utf-8 bom no header', _labels_bytes('\ufeffa.png\thello\r\nb.png\tworld\r\n'.encode()), 'ok', "('a.png', 'hello')"),
    Case('labels tab inside a text', _labels_bytes(b'file\ttext\na.png\thello\tworld\nb.png\tok\n'), ValueError,
         ('line 2: 3 tab-separated cells, expected at most 2', 'replace it with a space')),
    Case('labels tab inside a text no header', _labels_bytes(b'a.png\thello\tthere\tworld\n'), ValueError,
         ('line 1: 4 tab-separated cells', 'a tab inside the text')),
    Case('labels utf-16 (excel unicode text)', _labels_bytes('file\ttext\na.png\thello\n'.encode('utf-16')), ValueError,
         ('labels.tsv is saved as UTF-16', 'save it as UTF-8')),
    Case('labels utf-16 without bom', _labels_bytes('file\ttext\na.png\thello\n'.encode('utf-16-le')), ValueError,
         ('holds NUL bytes (line 1)', 'save it as UTF-8')),
    Case('labels utf-32', _labels_bytes('file\ttext\na.png\thello\n'.encode('utf-32')), ValueError, 'saved as UTF-32'),
    Case('labels latin-1', _labels_bytes('file\ttext\na.png\thello\nb.png\tcaf\u00e9\n'.encode('latin-1')), ValueError,
         ("is not UTF-8: line 3 has the byte 0xe9", "'é'", 'save it as UTF-8')),
    Case('labels windows-1252 quote', _labels_bytes('a.png\tit\u2019s\n'.encode('cp1252')), ValueError, ('line 1 has the byte 0x92', '\u2019')),
    Case('labels path ../', _labels_bytes(b'../kept/my_lines/l1.png\thello\n'), ValueError,
         ("line 1: '../kept/my_lines/l1.png' lies outside the folder", 'stay inside it')),
    Case('labels absolute path', _labels_bytes(b'a.png\thello\n/etc/hostname\tsecret\n'), ValueError, "line 2: '/etc/hostname' lies outside the folder"),
    Case('labels windows path ..\\', _labels_bytes(b'..\\x.png\thello\n'), ValueError, 'lies outside the folder'),
    Case('labels windows drive path', _labels_bytes(b'C:\\x.png\thello\n'), ValueError, 'lies outside the folder'),
    Case('labels path climbs out of a subfolder', _labels_bytes(b'sub/../../x.png\thello\n'), ValueError, 'lies outside the folder'),
    Case('labels invisible character in a name', _labels_bytes('a\u200b.png\thello\n'.encode()), ValueError, ('1 image(s) not found', 'a\\u200b.png')),
    Case('labels file is a fifo', lambda d: (_line_image(((d/'lines').mkdir() or d/'lines')/'a.png'), _fifo(d/'lines'/'labels.tsv'),
                                              _folder_dataset(d/'lines'))[2], ValueError, 'labels.tsv is not a regular file'),
    Case('labels file over the size limit', lambda d: _with_labels_limit(d), ValueError, ('bytes, over the 100 a labels file may have', 'split')),
    Case('labels iam id climbing out', lambda d: __import__('hwr.data.line_folder').data.line_folder.read_iam_lines(
         _write(d/'iam'/'lines.txt', 'a01/../../x-000u-00 ok 154 19 408 746 1661 89 A|MOVE\n')), ValueError, 'is not an IAM id'),
    # language-model files: checked on load
    Case('lm nan counts', lambda d: _lm_case(_spoilt_lm(counts1=lambda c: np.where(np.arange(len(c)) == 1, np.nan, c.astype(float))))(d), USAGE,
         ('lm.npz is not a usable language model: counts1 holds NaN', 'save it again')),
    Case('lm infinite counts', lambda d: _lm_case(_spoilt_lm(counts0=lambda c: np.full(len(c), np.inf)))(d), USAGE, 'counts0 holds NaN or infinite'),
    Case('lm negative counts', lambda d: _lm_case(_spoilt_lm(counts2=lambda c: c.astype(np.int64) - 100))(d), USAGE, 'counts2 holds negative counts'),
    Case('lm counts of another length', lambda d: _lm_case(_spoilt_lm(counts1=lambda c: c[:-2]))(d), USAGE, 'chars1 and counts1 differ in length'),
    Case('lm counts 2-D', lambda d: _lm_case(_spoilt_lm(counts1=np.ones((3, 3))))(d), USAGE, 'counts1 has shape (3, 3), expected one dimension'),
    Case('lm counts as text', lambda d: _lm_case(_spoilt_lm(counts1=lambda c: c.astype(str)))(d), USAGE, 'expected numbers'),
    Case('lm chars out of range', lambda d: _lm_case(_spoilt_lm(chars1=lambda c: c + 200))(d), USAGE, 'chars1 holds indices outside 0..78'),
    Case('lm starts out of order', lambda d: _lm_case(_spoilt_lm(starts1=lambda s: s[::-1].copy()))(d), USAGE, 'starts1 are not offsets'),
    Case('lm starts past the end', lambda d: _lm_case(_spoilt_lm(starts2=lambda s: s + 5))(d), USAGE, 'starts2 are not offsets'),
    Case('lm contexts of the wrong length', lambda d: _lm_case(_spoilt_lm(ctx2=lambda c: np.array(['x'] * len(c))))(d), USAGE,
         'ctx2 holds contexts that are not 2 characters long'),
    Case('lm order 99', lambda d: _lm_case(_spoilt_lm(meta=_lm_meta(order=99)))(d), USAGE, 'its order is 99, expected an integer from 1 to 10'),
    Case('lm alpha nan', lambda d: _lm_case(_spoilt_lm(meta=_lm_meta(alpha=float('nan'))))(d), USAGE, 'its alpha is nan, expected a finite number'),
    Case('lm meta a list', lambda d: _lm_case(_spoilt_lm(meta=np.array('[1, 2]')))(d), USAGE, 'its meta is list, expected a JSON object'),
    Case('lm api fifo', lambda d: __import__('hwr.lm').lm.load_lm(_fifo(d/'lm.npz')), ValueError, 'lm.npz is not a file (a folder, pipe or device)'),
    # weights files: the JSON beside them, and the arrays
    Case('weights json without network', _weights_case(_weights_json(lambda j: {k: v for k, v in j.items() if k != 'network'})), USAGE,
         ("does not describe a network hwr can build: the key 'network' is missing", 'save the run again')),
    Case('weights json a list', _weights_case(_weights_json(lambda j: [j])), USAGE, 'it holds a JSON list, expected an object'),
    Case('weights json output_shape negative', _weights_case(_weights_json(lambda j: {**j, 'output_shape': [64, -80]})), USAGE,
         'output_shape is [64, -80], expected 1 or 2 sizes'),
    Case('weights json input_shape text', _weights_case(_weights_json(lambda j: {**j, 'input_shape': '64xN'})), USAGE,
         'input_shape is "64xN", expected a list'),
    Case('weights json input_shape huge', _weights_case(_weights_json(lambda j: {**j, 'input_shape': [10 ** 9, None]})), USAGE,
         'expected 1 to 3 sizes from 1 to 65,536'),
    Case('weights json mapping too short', _weights_case(_weights_json(lambda j: {**j, 'mapping': 'abc'})), USAGE,
         'mapping has 3 characters, the output 80 classes'),
    Case('weights json lstm_dim huge', _weights_case(_weights_json(lambda j: {**j, 'network_args': {**j['network_args'], 'lstm_dim': 10 ** 9}})),
         USAGE, 'network_args.lstm_dim is 1,000,000,000, over 65,536'),
    Case('weights json NaN in network_args', _weights_case(_weights_json(lambda j: json.dumps({**j, 'network_args': {**j['network_args'],
         'dropout_amount': float('nan')}}))), USAGE, 'network_args.dropout_amount is nan, expected a finite number'),
    Case('weights json unknown network', _weights_case(_weights_json(lambda j: {**j, 'network': 'crnnn'})), USAGE, "unknown network 'crnnn'"),
    Case('weights json kind word', _weights_case(_weights_json(lambda j: {**j, 'kind': 'word'})), USAGE, "kind is 'word', expected 'char' or 'line'"),
    Case('weights json latin-1', _weights_case(_weights_json(lambda j: json.dumps({**j, 'note': 'caf\u00e9'}, ensure_ascii=False).encode('latin-1'))),
         USAGE, 'is not the JSON that --save writes'),
    Case('weights json is a fifo', _weights_case(_weights_json_fifo), USAGE, 'LineModelCtc_SyntheticLinesDataset_crnn.json is not a regular file'),
    Case('weights nan arrays', _weights_case(_weights_values(np.nan)), USAGE,
         ('holds NaN or infinite weights', 'the training diverged or the file is damaged')),
    Case('weights infinite arrays', _weights_case(_weights_values(np.inf)), USAGE, 'holds NaN or infinite weights'),
    Case('weights json over the size limit', lambda d: _with_json_limit(d), USAGE, 'over the 1,000 the JSON beside weights may have'),
]


def _serve_post(max_bytes=None, **kw):
    "POST /api/read through Flask's test client; prints the answer's error and returns the status code."
    from hwr.serve import create_app, MAX_UPLOAD_BYTES
    r = create_app(max_bytes=max_bytes or MAX_UPLOAD_BYTES).test_client().post('/api/read', **kw)
    print(r.get_json().get('error', ''))
    return r.status_code


def _check_batch(out):
    start = out.index('[')
    recs = json.loads(out[start:out.rindex(']') + 1])
    assert [Path(r['path']).name for r in recs] == ['a.png', 'gone.png', 'b.png', 'c.png'], recs
    assert 'text' in recs[0] and 'text' in recs[3] and 'error' in recs[1] and 'error' in recs[2]


def _nothing_ran(d):
    runs = [p for p in Path(d).rglob('*.weights.h5') if 'kept' not in p.parts]
    assert not runs, f'an experiment ran before the bad one was found: {runs}'


def _lock_file_symlink(d):
    from hwr.training.gpu_manager import ensure_lock_dir, try_lock
    locks = ensure_lock_dir(d/'locks')
    _write(d/'target.txt', 'keep me')
    (locks/'gpu_0.lock').symlink_to(d/'target.txt')
    return try_lock(locks, 0)


def _assert_text(p, text):
    assert Path(p).read_text() == text, f'{p} was changed'


def _no_file(p):
    assert not Path(p).exists(), f'{p} was left behind'


# ---------------------------------------------------------------- issue 26: limits, deadlines and safe writes

def _deep_json(n: int) -> str: return '{"dataset": ' + '[' * n + ']' * n + '}'


def _stdin_case(text: bytes, run):
    "Run `run` with `text` on standard input (as `cat file | hwr-... -` would give it)."
    def go(d):
        import io, sys
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(text), encoding='utf-8')
        try: return run(d)
        finally: sys.stdin = old
    return go


def _pipe_in(d, name='pipe'):
    p = d/name
    if not hasattr(os, 'mkfifo'): pytest.skip('no named pipes here')
    os.mkfifo(p)
    return p


def _trickle_server(d, every=0.3, length=100_000):
    "A server on 127.0.0.1 that sends one byte every `every` seconds."
    import time
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header('Content-Length', str(length)); self.end_headers()
            try:
                for _ in range(length): self.wfile.write(b'x'); self.wfile.flush(); time.sleep(every)
            except OSError: pass
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _SERVERS.append(srv)
    return f'http://127.0.0.1:{srv.server_address[1]}/x'


def _foreign_cache(d):
    "Another dataset's cache file under this dataset's cache name: noticed, moved aside and rebuilt, never trusted."
    from hwr.data.base import save_h5
    from hwr.data.synthetic import SyntheticCharactersDataset
    ds = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat'])
    save_h5(ds.processed_path, {'x_train': np.zeros((5, 64, 300), np.uint8), 'y_train': np.zeros((5, 30)),
                                'x_test': np.zeros((5, 64, 300), np.uint8), 'y_test': np.zeros((5, 30))}, {'hwr_cache': 'emnist_lines'})
    again = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat']).load_or_generate_data()
    assert again.x_train.shape == (79, 28, 28), again.x_train.shape
    assert list(ds.processed_path.parent.glob(ds.processed_path.name + '.corrupt-*')), 'the foreign file is kept aside, not deleted'
    return 0


def _unmarked_foreign_cache(d):
    "A cache without hwr's mark whose images are not this dataset's shape: rebuilt too."
    from hwr.data.base import save_h5
    from hwr.data.synthetic import SyntheticCharactersDataset
    ds = SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat'])
    save_h5(ds.processed_path, {'x_train': np.zeros((5, 32, 32), np.uint8), 'y_train': np.zeros(5),
                                'x_test': np.zeros((5, 32, 32), np.uint8), 'y_test': np.zeros(5)})
    return 0 if SyntheticCharactersDataset(num_train=79, num_test=79, train_fonts=['caveat']).load_or_generate_data().x_train.shape == (79, 28, 28) else 1


def _export_force(target_maker):
    def run(d):
        target = target_maker(d)
        return export_main(['shipped-char', '--format', 'onnx', '--out', str(target), '--force'])
    return run


def _user_folder(d):
    f = d/'mydocs'; f.mkdir(); _write(f/'thesis.txt', 'years of work'); _write(f/'sub'/'data.csv', '1,2,3')
    return f


def _check_user_folder(d, out):
    _assert_text(d/'mydocs'/'thesis.txt', 'years of work'); _assert_text(d/'mydocs'/'sub'/'data.csv', '1,2,3')


def _grid_sweep(d, params: str) -> str:
    return _sweep(d, 'method: grid\nmetric: {name: test_accuracy, goal: maximize}\nparameters:\n' + params)


def _proposed(d, text, count=None):
    from hwr.training.sweeps import load_sweep, propose_trials
    trials = propose_trials(load_sweep(_sweep(d, text)), count)
    assert count is None or len(trials) == count
    return 0


_BIG_GRID = ''.join(f'  network_args.p{i}: {{values: [{", ".join(map(str, range(100)))}]}}\n' for i in range(5))   # 10**10 combinations
_LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + ''.join(
    f'{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n' for p, c in zip('abcdefgh', 'bcdefghi'))


CASES += [
    # ---- configs: cut short, nested, too large, not text, not a file (issue 26)
    Case('config cut in the middle with a newline', lambda d: run_main(['{"dataset": \n']), ERR, 'ends too soon'),
    Case('config file cut in the middle', lambda d: run_main([str(_write(d/'c.json', '{"dataset": "SyntheticCharactersDataset",\n "model": '))]),
         ERR, ('c.json', 'ends too soon')),
    Case('config nested 100,000 deep', lambda d: run_main([_deep_json(100_000)]), ERR, 'deeper than 32 levels'),
    Case('config file nested 5,000 deep', lambda d: run_main([str(_write(d/'c.json', _deep_json(5000)))]), ERR, 'deeper than 32 levels'),
    Case('config deep object in dataset_args', lambda d: run_main([_cfg(dataset_args={'x': json.loads('{"a":' * 40 + '1' + '}' * 40)})]),
         ERR, 'deeper than 32 levels'),
    Case('config file of 2 MB', lambda d: run_main([str(_write(d/'c.json', '{"dataset": "' + 'x' * 2_000_000 + '"}'))]), ERR, "over hwr's limit"),
    Case('config file with a BOM', lambda d: run_main([str(_write(d/'c.json', b'\xef\xbb\xbf' + _cfg(netwrk='mlp').encode()))]),
         ERR, "unknown key 'netwrk'"),
    Case('config file in UTF-16', lambda d: run_main([str(_write(d/'c.json', _cfg().encode('utf-16')))]), ERR, 'not UTF-8'),
    Case('config file is a named pipe', lambda d: run_main([str(_pipe_in(d))]), ERR, 'not a regular file'),
    Case('config file is a folder', lambda d: run_main([str((d/'cfgdir').mkdir() or d/'cfgdir')]), ERR, 'not a regular file'),
    Case('config on stdin nested deep', _stdin_case(_deep_json(50_000).encode(), lambda d: run_main(['-'])), ERR,
         ('standard input', 'deeper than 32 levels')),
    Case('config on stdin of 5 MB', _stdin_case(b'{' + b' ' * 5_000_000 + b'}', lambda d: run_main(['-'])), ERR, ('standard input', "over hwr's limit")),
    Case('config on stdin cut short', _stdin_case(b'{"dataset": ', lambda d: run_main(['-'])), ERR, 'ends too soon'),
    Case('config learning rate NaN', lambda d: run_main([_cfg(train_args={'learning_rate': 1}).replace('"learning_rate": 1', '"learning_rate": NaN')]),
         ERR, "'learning_rate' must be a number in (0, 1)"),
    Case('config epochs 1e400', lambda d: run_main([_cfg().replace('"epochs": 1', '"epochs": 1e400')]), ERR, "'epochs' must be a positive integer"),
    # ---- configs: sizes over the limits, refused before any work
    Case('config epochs 10**9', lambda d: run_main([_cfg(train_args={'epochs': 10 ** 9})]), ERR, ("epochs is 1,000,000,000", "LIMITS['epochs']")),
    Case('config batch 10**7', lambda d: run_main([_cfg(train_args={'batch_size': 10 ** 7})]), ERR, "LIMITS['batch_size']"),
    Case('config mlp num_layers 100000', lambda d: run_main([_cfg(network_args={'num_layers': 100_000})]), ERR, "LIMITS['layers']"),
    Case('config mlp layer_size 10**6', lambda d: run_main([_cfg(network_args={'layer_size': 10 ** 6})]), ERR, "LIMITS['units']"),
    Case('config lenet layer_size 10**9', lambda d: run_main([_cfg(network='lenet', network_args={'layer_size': 10 ** 9})]), ERR, "LIMITS['units']"),
    Case('config crnn lstm_layers 100000', lambda d: run_main([json.dumps({"dataset": "SyntheticLinesDataset", "model": "LineModelCtc",
         "network": "crnn", "network_args": {"lstm_layers": 100_000}})]), ERR, "LIMITS['layers']"),
    Case('config crnn lstm_dim 10**5', lambda d: run_main([json.dumps({"dataset": "SyntheticLinesDataset", "model": "LineModelCtc",
         "network": "crnn", "network_args": {"lstm_dim": 100_000}})]), ERR, "LIMITS['units']"),
    Case('config crnn too many weights', lambda d: run_main([json.dumps({"dataset": "SyntheticLinesDataset", "model": "LineModelCtc",
         "network": "crnn", "network_args": {"lstm_layers": 10, "lstm_dim": 1024}})]), ERR, ("its weight count is", "LIMITS['params']")),
    Case('config line_cnn window 10**6', lambda d: run_main([json.dumps({"dataset": "SyntheticLinesDataset", "model": "LineModelCtc",
         "network": "line_lstm_ctc", "network_args": {"window_width": 10 ** 6}})]), ERR, "LIMITS['window']"),
    Case('config pretrain epochs 10**9', lambda d: run_main([json.dumps({**json.loads(_cfg()), 'pretrain': {
         'dataset': 'SyntheticCharactersDataset', 'train_args': {'epochs': 10 ** 9}}})]), ERR, ('pretrain', "LIMITS['epochs']")),
    # ---- experiment groups
    Case('group file cut short', lambda d: group_main([str(_write(d/'g.json', '{"experiments": [{"dataset": '))]), ERR, ('g.json', 'ends too soon')),
    Case('group nested 10,000 deep', lambda d: group_main([str(_write(d/'g.json', '[' * 10_000 + ']' * 10_000))]), ERR, 'deeper than 32 levels'),
    Case('group of 5,000 experiments', lambda d: group_main([_group(d, [json.loads(_cfg())] * 5000)]), ERR, ("5,000 experiments", "LIMITS['experiments']")),
    Case('group file is a named pipe', lambda d: group_main([str(_pipe_in(d))]), ERR, 'not a regular file'),
    Case('group epochs 10**9 in the second', lambda d: group_main([_group(d, [json.loads(_cfg()), json.loads(_cfg(train_args={'epochs': 10 ** 9}))]), '--run']),
         ERR, ('experiment 1:', "LIMITS['epochs']"), check=lambda d, out: _nothing_ran(d)),
    Case('group on stdin nested deep', _stdin_case(b'[' * 5000, lambda d: group_main(['-'])), ERR, ('standard input', 'deeper than 32')),
    # ---- sweeps: counted before anything is built
    Case('sweep count 10**10', lambda d: sweep_main([_sweep(d, SWEEP_OK), '--local', '--count', str(10 ** 10)]), USAGE, "over hwr's limit of 10,000"),
    Case('sweep grid of 10**10 combinations', lambda d: sweep_main([_grid_sweep(d, _BIG_GRID), '--local']), ERR,
         ('10,000,000,000 combinations', '--count N'), check=lambda d, out: _nothing_ran(d)),
    Case('sweep grid int range of 10**12 values', lambda d: sweep_main([_grid_sweep(d, '  train_args.epochs: {min: 1, max: 1000000000000}\n'), '--local', '--count', '3']),
         ERR, "takes 1,000,000,000,000 values", check=lambda d, out: _nothing_ran(d)),
    Case('sweep grid q_uniform of 10**9 values', lambda d: sweep_main([_grid_sweep(d, '  train_args.learning_rate: {distribution: q_uniform, min: 0, max: 1, q: 0.000000001}\n'),
         '--local']), ERR, ('combinations', "LIMITS['sweep_trials']")),
    Case('sweep huge grid, first 3 only', lambda d: _proposed(d, 'method: grid\nmetric: {name: test_accuracy}\nparameters:\n' + _BIG_GRID, 3), 0, ()),
    Case('sweep run_cap 10**9', lambda d: sweep_main([_sweep(d, SWEEP_OK + 'run_cap: 1000000000\n'), '--local']), ERR, 'run_cap must be a whole number'),
    Case('sweep run_cap string', lambda d: sweep_main([_sweep(d, SWEEP_OK + 'run_cap: lots\n'), '--local']), ERR, 'run_cap must be a whole number'),
    Case('sweep nested 100 deep', lambda d: sweep_main([_sweep(d, 'method: grid\nx: ' + '[' * 100 + ']' * 100 + '\n'), '--local']), ERR, 'deeper than 32'),
    Case('sweep billion laughs', lambda d: sweep_main([_sweep(d, _LAUGHS), '--local']), ERR, 'more than 100,000 values'),
    Case('sweep file is a named pipe', lambda d: sweep_main([str(_pipe_in(d)), '--local']), ERR, 'not a regular file'),
    Case('sweep file of 3 MB', lambda d: sweep_main([_sweep(d, SWEEP_OK + '# ' + 'x' * 3_000_000 + '\n'), '--local']), ERR, "over hwr's limit"),
    Case('sweep on stdin nested deep', _stdin_case(b'[' * 5000, lambda d: sweep_main(['-', '--local'])), ERR, 'deeper than 32'),
    # ---- exports: --force replaces only what hwr made
    Case('export --force onto a folder of the user', _export_force(_user_folder), 1, 'is not an export hwr made', check=_check_user_folder),
    Case('export --force onto a file of the user', _export_force(lambda d: _write(d/'notes.onnx', 'my notes')), 1, 'is not an export hwr made',
         check=lambda d, out: _assert_text(d/'notes.onnx', 'my notes')),
    Case('export --force where only a JSON of the user is', _export_force(lambda d: (_write(d/'m.onnx.json', '{"mine": 1}'), d/'m.onnx')[1]), 1,
         'is not an export hwr made', check=lambda d, out: (_assert_text(d/'m.onnx.json', '{"mine": 1}'), _no_file(d/'m.onnx'))),
    Case('export --force onto a link to a file of the user', _export_force(lambda d: ((d/'l.onnx').symlink_to(_write(d/'real.txt', 'mine')), d/'l.onnx')[1]),
         1, 'is not an export hwr made', check=lambda d, out: _assert_text(d/'real.txt', 'mine')),
    Case('export --force onto a folder with a fake record', _export_force(lambda d: (_write(d/'sm.json', json.dumps({'format': 'savedmodel', 'weights_sha256': 'x'})),
         _user_folder(d).rename(d/'sm'), d/'sm')[2]), 1, 'is not an export hwr made', check=lambda d, out: _assert_text(d/'sm'/'thesis.txt', 'years of work')),
    # ---- downloads: deadlines, minimum rate, what the target is
    Case('download trickling one byte at a time', lambda d: __import__('hwr.util').util.download_url(_trickle_server(d), d/'got.bin', timeout=1,
         min_rate=1000, progress=False), Exception, 'bytes/s minimum', check=lambda d, out: _no_file(d/'got.bin')),
    Case('download past its deadline', lambda d: __import__('hwr.util').util.download_url(_trickle_server(d, every=0.05), d/'got.bin', timeout=30,
         deadline=1, progress=False), Exception, 'longer than the 1 s allowed', check=lambda d, out: _no_file(d/'got.bin')),
    Case('download onto an existing folder', lambda d: __import__('hwr.util').util.download_url('http://127.0.0.1:9/x', (d/'dl').mkdir() or d/'dl',
         progress=False), Exception, 'is not a file'),
    Case('download onto a named pipe', lambda d: __import__('hwr.util').util.download_url('http://127.0.0.1:9/x', _pipe_in(d), progress=False),
         Exception, 'is not a file'),
    # ---- caches: what is cached must be what is asked
    Case('cache of another dataset', _foreign_cache, 0, ()),
    Case('cache without a mark, other shapes', _unmarked_foreign_cache, 0, ()),
    # ---- the limits themselves
    Case('limits api epochs 10**9', lambda d: __import__('hwr.util').util.check_limit('epochs', 10 ** 9), ValueError, "LIMITS['epochs']"),
    Case('structured yaml billion laughs api', lambda d: __import__('hwr.util').util.read_structured(_LAUGHS, 'yaml'), ValueError, 'more than 100,000 values'),
    Case('structured unknown format', lambda d: __import__('hwr.util').util.read_structured('{}', 'toml'), ValueError, "fmt must be 'json' or 'yaml'"),
    # ---- PDFs: not a PDF, cut short, damaged, locked, too many or too large pages (issue 27)
    Case('pdf named .pdf holding text', lambda d: predict_main([str(_write(d/'scan.pdf', 'my notes'))]), BAD_FILE, ('scan.pdf', 'is not a PDF')),
    Case('pdf empty file', lambda d: predict_main([str(_write(d/'scan.pdf', b''))]), BAD_FILE, 'is empty'),
    Case('pdf cut short', lambda d: predict_main([str(_write(d/'scan.pdf', _pdf()[:300]))]), BAD_FILE, 'is cut short'),
    Case('pdf damaged in the middle', lambda d: predict_main([str(_write(d/'scan.pdf', _pdf()[:20] + b'\x00' * 200 + _pdf()[-40:]))]),
         BAD_FILE, 'is damaged'),
    Case('pdf encrypted with a password', lambda d: predict_main([str(_write(d/'scan.pdf', _pdf(encrypt=True)))]), BAD_FILE,
         'is encrypted with a password'),
    Case('pdf over the page limit', lambda d: _pdf_limited(d, 3, _pdf(4)), BAD_FILE, ("4 pages", "LIMITS['pdf_pages']")),
    Case('pdf page 200 inches square', lambda d: predict_main([str(_write(d/'scan.pdf', _pdf(size=(14400, 14400))))]), BAD_FILE,
         'too large to read even at 50 DPI'),
    Case('pdf dpi 5000', lambda d: predict_main([str(_write(d/'scan.pdf', _pdf())), '--dpi', '5000']), USAGE, '--dpi must be from 50 to 600'),
    Case('pdf is a named pipe', lambda d: predict_main([str(_pipe_in(d, 'scan.pdf'))]), BAD_FILE, 'not a PDF file'),
    Case('pdf without the name, then an image', lambda d: predict_main(['--json', str(_write(d/'scan.bin', _pdf()[:300])),
         str(_line_image(d/'ok.png'))]), BAD_FILE, 'is cut short', check=lambda d, out: _assert('"text"' in out)),
]


def _pdf(pages: int = 1, **kw) -> bytes:
    from hwr.pdf import _tiny_pdf
    return _tiny_pdf(pages, **kw)


def _pdf_limited(d, limit: int, data: bytes):
    limits = __import__('hwr.util').util.LIMITS                     # the one table every module reads: changed in place
    old = limits['pdf_pages']; limits['pdf_pages'] = (limit, old[1])
    try: return predict_main([str(_write(d/'scan.pdf', data))])
    finally: limits['pdf_pages'] = old


def _assert(ok: bool):
    assert ok


# ---------------------------------------------------------------- the files a user keeps

def _digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def kept_src(tmp_path_factory):
    "A saved run, a labelled folder and a downloaded file, as a user keeps them."
    root = tmp_path_factory.mktemp('kept')
    _copy_shipped(root)
    _labels(root/'my_lines', [('l1.png', 'hello world'), ('l2.png', 'good bye')])
    _write(root/'downloads'/'fonts.zip', b'PK\x05\x06' + b'\x00' * 18)
    return root


@pytest.fixture
def folder(tmp_path, monkeypatch, kept_src):
    import shutil
    work = tmp_path/'case'; work.mkdir()
    kept = work/'kept'; shutil.copytree(kept_src, kept)
    monkeypatch.chdir(work)
    monkeypatch.setenv('HWR_DATA_DIR', str(work/'data'))
    monkeypatch.setenv('HWR_GPU_LOCK_DIR', str(work/'gpu-locks'))
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    return work


CASE_SECONDS = 120          # a case still running after this long counts as a hang


class CaseHung(BaseException):
    "Raised in a case that ran past CASE_SECONDS (BaseException: hwr's own error handling must not swallow it)."


def _unfinished(d: Path, text: str = '{"epoch": 1, "batch": 40}') -> Path:
    "An out-dir holding the checkpoint of an unfinished first stage of the line recipe."
    ckpt = d/'out'/'checkpoints'/'line_synthetic'; ckpt.mkdir(parents=True)
    (ckpt/'checkpoint.json').write_text(text)
    return d/'out'

CASES += [
    # ---- hwr-train-recipe: arguments and checkpoints, all refused before any data is made
    Case('recipe unknown kind', lambda d: recipe_main(['word']), USAGE, "invalid choice: 'word'"),
    Case('recipe --epochs 0', lambda d: recipe_main(['char', '--epochs', '0', '--out-dir', str(d/'o')]), USAGE, '--epochs must be between 1 and 1000'),
    Case('recipe --max-minutes -1', lambda d: recipe_main(['char', '--max-minutes', '-1', '--out-dir', str(d/'o')]), USAGE,
         '--max-minutes must be between 0 and 10080'),
    Case('recipe --checkpoint-minutes 0', lambda d: recipe_main(['line', '--checkpoint-minutes', '0', '--out-dir', str(d/'o')]), USAGE,
         '--checkpoint-minutes must be in (0, 1440]'),
    Case('recipe --out-dir is a file', lambda d: recipe_main(['line', '--out-dir', str(_write(d/'f.txt', 'x'))]), USAGE, 'is a file, not a folder'),
    Case('recipe --line-height 8', lambda d: recipe_main(['line', '--line-height', '8', '--out-dir', str(d/'o')]), ERR,
         'line_height must be between 16 and 128'),
    Case('recipe --line-height for characters', lambda d: recipe_main(['char', '--line-height', '32', '--out-dir', str(d/'o')]), ERR,
         'line_height is for the line recipe'),
    Case('recipe unknown stage', lambda d: recipe_main(['line', '--stage', 'ink', '--out-dir', str(d/'o')]), ERR, "no stage 'ink'; its stages: real"),
    Case('recipe over an unfinished training, no --resume', lambda d: recipe_main(['line', '--out-dir', str(_unfinished(d))]), ERR,
         ('holds the checkpoint of an unfinished training (epoch 2, batch 40)', '--resume')),
    Case('recipe --resume from a checkpoint cut short', lambda d: recipe_main(['line', '--resume', '--out-dir', str(_unfinished(d, '{"epoch": 1, "ba'))]),
         ERR, ('cannot be read', 'to start afresh')),
]


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, folder, capsys):
    import signal
    before = _digest(folder/'kept')
    raised = None
    def _hang(signum, frame): raise CaseHung(f'still running after {CASE_SECONDS} s')
    old = signal.signal(signal.SIGALRM, _hang); signal.alarm(CASE_SECONDS)   # every case is bounded in time
    try:
        result = case.run(folder)
    except CaseHung:
        OUTCOMES.append((case.id, 'hang')); raise
    except SystemExit as e:                         # argparse's exit: a CLI case
        result = e.code
    except Exception as e:                          # library cases raise; a CLI must never
        raised = e
    finally:
        signal.alarm(0); signal.signal(signal.SIGALRM, old)
    out = capsys.readouterr()
    text = out.out + out.err
    outcome = 'clear error'
    try:
        assert 'Traceback (most recent call last)' not in text, f'a traceback was printed:\n{text[-2000:]}'
        if isinstance(case.expect, type):
            assert raised is not None, f'expected {case.expect.__name__}, got {result!r}'
            assert isinstance(raised, case.expect), f'expected {case.expect.__name__}, got {type(raised).__name__}: {raised}'
            text = f'{raised}\n{text}'
        else:
            assert raised is None, f'{type(raised).__name__} escaped: {raised}'
            assert result == case.expect or (case.expect == 'ok'), f'exit status {result!r}, expected {case.expect!r}; output:\n{text[-2000:]}'
            if result == 0: outcome = 'worked'
        for s in ([case.says] if isinstance(case.says, str) else case.says):
            assert s in text, f'the message does not say {s!r}:\n{text[-2000:]}'
        if case.check: case.check(folder, text)
    except AssertionError:
        OUTCOMES.append((case.id, 'traceback' if 'Traceback' in text or (raised is not None and not isinstance(case.expect, type)) else 'wrong'))
        raise
    after = _digest(folder/'kept')
    if after != before:
        OUTCOMES.append((case.id, 'data lost'))
    assert after == before, 'a file the user keeps changed'
    OUTCOMES.append((case.id, outcome))


def test_count_table():
    "The counts the closing note quotes (the table above must have run first, in this session)."
    assert len(CASES) >= 100, len(CASES)
    assert len({c.id for c in CASES}) == len(CASES), 'case ids must be unique'
    if not OUTCOMES: pytest.skip('run with the table (pytest tests/test_bad_inputs.py) to see the counts')
    counts = {k: sum(1 for _, o in OUTCOMES if o == k) for k in ('clear error', 'worked', 'traceback', 'wrong', 'hang', 'data lost')}
    print(f"\ninputs tried {len(OUTCOMES)}: " + ', '.join(f'{k} {v}' for k, v in counts.items()))
    assert counts['traceback'] == 0 and counts['data lost'] == 0 and counts['hang'] == 0


# ---------------------------------------------------------------- fault injection: kill a write at random points

WRITER = r'''
import os, sys, time
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import numpy as np
what, path = sys.argv[1], sys.argv[2]
if what == 'weights':
    import keras
    from types import SimpleNamespace
    from hwr.models.base import Model
    net = keras.Sequential([keras.Input((256,)), keras.layers.Dense(4096), keras.layers.Dense(2048)])
    for w in net.weights: w.assign(np.full(w.shape, 1.0, 'float32'))          # the new version: all ones
    print('ready', flush=True)
    while True: Model.save_weights(SimpleNamespace(network=net, weights_path=None), path)
else:
    from hwr.data.base import save_h5
    x = np.ones((400, 256, 256), np.uint8)
    print('ready', flush=True)
    while True: save_h5(path, {'x_train': x, 'text_train': ['new'] * 400}, {'version': 'new'})
'''


def _killed_writes(tmp_path, what, path, trials=6, seed=0):
    "Start a process that writes `path` over and over, SIGKILL it at random moments; yields after each kill."
    import signal, subprocess, sys, time
    script = tmp_path/'writer.py'; script.write_text(WRITER)
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        p = subprocess.Popen([sys.executable, str(script), what, str(path)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, 'CUDA_VISIBLE_DEVICES': ''})
        assert p.stdout.readline().strip() == 'ready'
        time.sleep(float(rng.uniform(0.02, 1.5)))
        p.send_signal(signal.SIGKILL); p.wait()
        yield


def test_a_killed_weights_save_never_breaks_the_saved_file(tmp_path):
    import keras
    from types import SimpleNamespace
    from hwr.models.base import Model
    net = keras.Sequential([keras.Input((256,)), keras.layers.Dense(4096), keras.layers.Dense(2048)])
    for w in net.weights: w.assign(np.zeros(w.shape, 'float32'))              # the earlier good version: all zeros
    path = tmp_path/'run.weights.h5'
    Model.save_weights(SimpleNamespace(network=net, weights_path=None), path)
    kinds = set()
    for _ in _killed_writes(tmp_path, 'weights', path):
        net.load_weights(path)                                                  # loads after every kill ...
        v = {float(np.asarray(w).flat[0]) for w in net.weights}
        assert v in ({0.0}, {1.0}), v                                           # ... and is one whole version
        kinds.add(v.pop())
    leftovers = list(tmp_path.glob('.run.*.part.weights.h5'))
    for f in leftovers: os.utime(f, (1, 1))                                     # as if from yesterday
    Model.save_weights(SimpleNamespace(network=net, weights_path=None), path)
    assert not list(tmp_path.glob('.run.*.part.weights.h5')), 'old leftovers of killed saves are cleaned up by the next save'
    print(f'versions seen after kills: {sorted(kinds)}; leftovers cleaned: {len(leftovers)}')


def test_a_killed_cache_write_never_breaks_the_cache(tmp_path):
    from hwr.data.base import save_h5, load_h5, _remove_stale_parts
    path = tmp_path/'cache.h5'
    save_h5(path, {'x_train': np.zeros((4, 8, 8), np.uint8), 'text_train': ['old'] * 4}, {'version': 'old'})
    seen = set()
    for _ in _killed_writes(tmp_path, 'cache', path, seed=1):
        arrays, attrs = load_h5(path)                                           # readable after every kill
        assert attrs['version'] in ('old', 'new') and arrays['text_train'][0] == attrs['version']
        seen.add(attrs['version'])
    for f in tmp_path.glob('.cache.h5.*.part'): os.utime(f, (1, 1))
    _remove_stale_parts(path)
    assert not list(tmp_path.glob('.cache.h5.*.part'))
    print(f'versions seen after kills: {sorted(seen)}')


# ---------------------------------------------------------------- fault injection: a full disk, a kill signal

FULL_DISK = r'''
import os, resource, signal, sys
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)                 # past the limit a write fails with EFBIG, as on a full disk
limit = int(sys.argv[1]); resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from hwr.training.run_experiment import main
sys.exit(main(sys.argv[2:]))
'''


@pytest.mark.parametrize('limit', [20_000, 200_000])
def test_a_full_disk_while_saving_is_one_clear_line(tmp_path, limit):
    "hwr-run-experiment --save onto a disk with room for only part of the weights: one line, no traceback, no crash, nothing half-written."
    import subprocess, sys
    script = tmp_path/'full.py'; script.write_text(FULL_DISK)
    out = tmp_path/'runs'; out.mkdir(); _write(out/'keep.txt', 'earlier run')
    config = _cfg(network_args={'layer_size': 256})
    p = subprocess.run([sys.executable, str(script), str(limit), config, '--save', '--save-dir', str(out), '--no-wandb'],
                       capture_output=True, text=True, timeout=600, env={**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'HWR_DATA_DIR': str(tmp_path/'data')})
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])      # not -11 (a segmentation fault), not 0
    assert 'Traceback' not in p.stderr and 'no room to write' in p.stderr, p.stderr[-2000:]
    assert len([l for l in p.stderr.splitlines() if 'no room to write' in l]) == 1
    assert sorted(f.name for f in out.iterdir()) == ['keep.txt'], 'a half-written file was left behind'
    assert (out/'keep.txt').read_text() == 'earlier run'


def test_a_full_disk_while_caching_leaves_the_old_cache(tmp_path):
    from hwr.data.base import load_h5, save_h5
    from hwr.util import DiskFullError
    import resource, signal
    path = tmp_path/'cache.h5'
    save_h5(path, {'x_train': np.zeros((4, 8, 8), np.uint8)}, {'version': 'old'})
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, hard))
    try:
        with pytest.raises(DiskFullError, match='no room to write .*cache.h5'):
            save_h5(path, {'x_train': np.random.default_rng(0).integers(0, 255, (50, 64, 64), np.uint8)}, {'version': 'new'})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard)); signal.signal(signal.SIGXFSZ, old_handler)
    assert load_h5(path)[1]['version'] == 'old' and [f.name for f in tmp_path.iterdir()] == ['cache.h5']


def _sigterm_caught(pid: int) -> bool:
    "Whether process `pid` has installed a handler for SIGTERM (Linux: SigCgt in /proc)."
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('SigCgt:'): return bool(int(line.split()[1], 16) & (1 << 14))
    return False


@pytest.mark.skipif(not Path('/proc/self/status').exists(), reason='needs /proc to see when the handler is in place')
def test_sigterm_stops_a_run_like_ctrl_c(tmp_path):
    "A kill (SIGTERM) during training: the one-line 'interrupted' message, exit status 130, no traceback, nothing saved."
    import signal, subprocess, sys, time
    config = _cfg(dataset_args={'num_train': 79 * 40}, train_args={'epochs': 1000})
    p = subprocess.Popen([sys.executable, '-m', 'hwr.training.run_experiment', config, '--save', '--save-dir', str(tmp_path/'runs'), '--no-wandb'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'HWR_DATA_DIR': str(tmp_path/'data')})
    t0 = time.time()
    while not _sigterm_caught(p.pid) and p.poll() is None and time.time() - t0 < 300: time.sleep(0.2)
    time.sleep(3)                                                # into the run
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert 'interrupted' in err and 'Traceback' not in err, err[-2000:]
    assert not list((tmp_path/'runs').glob('*.weights.h5')) if (tmp_path/'runs').exists() else True
