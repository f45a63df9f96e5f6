"""hwr-predict over folders, lists and long runs: inputs found in order, lines read in chunks, JSON Lines out, a stopped run resumed."""
from __future__ import annotations
import io, json, os, re, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
import hwr.cli as cli                                                  # noqa: E402

TEXTS = ['hello world', 'good morning', 'thank you', 'see you soon', 'the cat sat', 'on the mat', 'read me']


def _line(path: Path, text: str, width: int = 900) -> Path:
    from hwr.data.render import load_font
    im = Image.new('L', (width, 140), 225)
    ImageDraw.Draw(im).text((60, 20), text, font=load_font('kalam', 60), fill=30)
    path.parent.mkdir(parents=True, exist_ok=True); im.save(path)
    return path


@pytest.fixture(scope='module')
def shared_line_predictor():
    "The shipped line model, loaded once for the module."
    from hwr.predict import LinePredictor
    return LinePredictor()


@pytest.fixture
def reader(shared_line_predictor, monkeypatch):
    "hwr-predict in this process with the shared line model; returns (exit status, stdout, stderr)."
    calls = []
    real = shared_line_predictor.predict_batch
    def spy(images, beam_width=1, **kw): calls.append(len(images)); return real(images, beam_width, **kw)
    monkeypatch.setattr(shared_line_predictor, 'predict_batch', spy)
    monkeypatch.setattr(cli, 'LinePredictor', lambda *a, **k: shared_line_predictor)
    def run(*args, stdin: bytes | None = None, capsys=None):
        if stdin is not None: monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(stdin)))
        try: rc = cli.main([str(a) for a in args])
        except SystemExit as e: rc = e.code
        out = capsys.readouterr()
        assert 'Traceback' not in out.err, out.err
        return rc, out.out, out.err
    run.calls = calls
    return run


@pytest.fixture(scope='module')
def scans(tmp_path_factory):
    "Seven line images in a folder tree (names in any case), a bad image, and files that are not read."
    d = tmp_path_factory.mktemp('scans')
    for k, t in enumerate(TEXTS): _line(d/('b' if k % 2 else 'a')/f'line{k}.{"PNG" if k == 3 else "png"}', t, 700 + 60 * ((k * 5) % 7))
    (d/'a'/'notes.txt').write_text('not read')
    (d/'.hidden').mkdir(); (d/'.hidden'/'x.png').write_text('not read')
    (d/'a'/'._line0.png').write_bytes(b'\0\5not read')
    return d


def _jsonl(text: str) -> list[dict]:
    return [json.loads(l) for l in text.splitlines()]


def _expected(scans: Path) -> list[str]:
    return sorted(str(p) for p in scans.rglob('line*') if not p.name.startswith('.'))


def test_folder_recursion_glob_and_order(scans, reader, capsys, monkeypatch):
    monkeypatch.setattr(cli, 'CHUNK', 3)                               # 7 lines: chunks of 3, 3 and 1
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', scans, capsys=capsys)
    assert rc == 0, err
    recs = _jsonl(out)
    assert [r['path'] for r in recs] == _expected(scans), 'a folder: every image at any depth, sorted, nothing hidden'
    assert reader.calls == [3, 3, 1]
    import editdistance
    want = {f'line{k}': t for k, t in enumerate(TEXTS)}
    assert all(editdistance.eval(r['text'], want[Path(r['path']).stem]) <= 3 for r in recs), recs
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', '--glob', '*.txt', '--glob', 'b/*3.png', scans, capsys=capsys)
    assert [Path(r['path']).name for r in _jsonl(out)] == ['notes.txt', 'line3.PNG'], 'any case; a pattern with / matches the path inside'
    assert 'error' in _jsonl(out)[0]
    rc, out, err = reader('--model', 'line', '--glob', '*.heic', scans, capsys=capsys)
    assert rc == 2 and 'holds no file named *.heic' in err and '--glob' in err and out == ''


def test_files_from_standard_input(scans, reader, capsys):
    a, b = _expected(scans)[:2]
    listing = f'\ufeff{b}\r\n\r\n{scans}/a\r\n{a}\n   \n{b}\n'.encode()   # a BOM, CRLF, blank lines, the folder, a duplicate
    rc, out, err = reader('--model', 'line', '--files-from', '-', capsys=capsys, stdin=listing)
    assert rc == 0, err
    rows = [row.split('\t') for row in out.splitlines()]
    assert [r[0] for r in rows] == [b] + [p for p in sorted(str(p) for p in (scans/'a').glob('line*')) if p != b], 'as listed, each file once'
    rc, out, err = reader('--files-from', '-', capsys=capsys, stdin=b'a.png\n' + b'x' * 20_000)
    assert rc == 2 and 'line 2 of standard input is longer than any path' in err
    rc, out, err = reader('--files-from', '-', capsys=capsys, stdin=f'{a}\n{scans}/nope.png\n'.encode())
    assert rc == 2 and f'no such file or folder: {scans}/nope.png (line 2 of standard input)' in err


def test_one_bad_file_in_a_chunk(scans, reader, capsys, tmp_path):
    paths = _expected(scans)[:3]
    bad = tmp_path/'bad.png'; bad.write_text('not an image')
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', paths[0], bad, *paths[1:], capsys=capsys)
    assert rc == 1
    recs = _jsonl(out)
    assert [r['path'] for r in recs] == [paths[0], str(bad), *paths[1:]]
    assert 'not an image file' in recs[1]['error'] and all(r['text'] for r in recs[:1] + recs[2:])
    assert f'{bad}: error: ' in err


def test_resume_after_a_killed_run(scans, reader, capsys, tmp_path):
    out_file = tmp_path/'out.jsonl'
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', '--output', out_file, scans, capsys=capsys)
    assert rc == 0 and out == '' and re.search(r'^7 files \(7 lines\) in [\d.]+ s: [\d.]+ lines/s; 0 failed; peak memory \d+ MB$', err, re.M), err
    whole = out_file.read_text()
    cut = whole.index('\n', whole.index('\n') + 1) + 25              # killed while writing the third record
    out_file.write_text(whole[:cut])
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', '--output', out_file, '--resume', scans, capsys=capsys)
    assert rc == 0 and '2 of 7 inputs done, reading the other 5' in err, err
    again = _jsonl(out_file.read_text())
    assert [r['path'] for r in again] == _expected(scans), 'the cut line read again, nothing twice'
    rc, out, err = reader('--model', 'line', '--format', 'jsonl', '--output', out_file, '--resume', scans, capsys=capsys)
    assert rc == 0 and '7 of 7 inputs done' in err and _jsonl(out_file.read_text()) == again


def test_output_files_are_never_lost(scans, reader, capsys, tmp_path):
    mine = tmp_path/'mine.jsonl'
    mine.write_text('{"path": "a.png", "text": "mine"}\nmy notes\n')
    a = _expected(scans)[0]
    for extra in ([], ['--force'], ['--resume', '--format', 'jsonl']):
        rc, out, err = reader('--model', 'line', '--output', mine, a, *extra, capsys=capsys)
        assert rc == 2 and str(mine) in err and 'Traceback' not in err, (extra, err)
    assert mine.read_text() == '{"path": "a.png", "text": "mine"}\nmy notes\n'
    own = tmp_path/'own.txt'
    assert reader('--model', 'line', '--output', own, a, capsys=capsys)[0] == 0
    assert reader('--model', 'line', '--output', own, a, capsys=capsys)[0] == 2
    assert reader('--model', 'line', '--output', own, a, '--force', '--format', 'json', capsys=capsys)[0] == 0   # hwr's own: replaced
    assert json.loads(own.read_text())[0]['path'] == a
    for args, says in [(['--resume'], '--resume needs --output FILE'), (['--output', tmp_path], 'is a folder'),
                       (['--output', tmp_path/'no'/'x.jsonl'], 'does not exist'), (['--resume', '--output', own], '--format jsonl'),
                       (['--json', '--format', 'jsonl'], '--json is --format json'), ([tmp_path/'gone.png'], 'no such file or folder')]:
        rc, out, err = reader('--model', 'line', a, *args, capsys=capsys)
        assert rc == 2 and says in err, (args, err)


def test_jsonl_json_and_text_agree(scans, reader, capsys):
    paths = _expected(scans)[:2]
    rc, jl, _ = reader('--model', 'line', '--format', 'jsonl', *paths, capsys=capsys)
    rc, js, _ = reader('--model', 'line', '--json', *paths, capsys=capsys)
    rc, tx, _ = reader('--model', 'line', *paths, capsys=capsys)
    assert _jsonl(jl) == json.loads(js) and all(set(r) == {'path', 'model', 'text', 'confidence'} for r in _jsonl(jl))
    assert [row.split('\t')[:2] for row in tx.splitlines()] == [[r['path'], r['text']] for r in _jsonl(jl)]


def test_progress_bar_and_summary_when_asked(scans, reader, capsys):
    rc, out, err = reader('--model', 'line', '--progress', _expected(scans)[0], capsys=capsys)
    assert rc == 0 and '1/1' in err and re.search(r'1 file \(1 line\) in .*; 0 failed; peak memory \d+ MB', err)
    rc, out, err = reader('--model', 'line', _expected(scans)[0], capsys=capsys)
    assert err == '', 'not a terminal, no --output: stderr stays quiet'


def test_sigterm_leaves_whole_lines(scans, tmp_path):
    "A kill while a long run writes JSON Lines: exit status 130, the file holds whole records only."
    import signal, time
    many = tmp_path/'many'; many.mkdir()
    for k in range(100): os.link(_expected(scans)[k % 7], many/f'{k:03d}.png')
    out_file = tmp_path/'out.jsonl'
    p = subprocess.Popen([sys.executable, '-m', 'hwr.cli', '--model', 'line', '--format', 'jsonl', '--output', str(out_file), str(many)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})
    t0 = time.time()
    while (not out_file.exists() or out_file.stat().st_size == 0) and p.poll() is None and time.time() - t0 < 120: time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode in (130, 0), err
    text = out_file.read_text()
    assert text.endswith('\n') and all('path' in json.loads(l) for l in text.splitlines())
    if p.returncode == 130: assert 'interrupted after' in err and 'Traceback' not in err
