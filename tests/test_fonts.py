"""hwr.data.fonts: catalog downloads from a web server on 127.0.0.1, the npm route with a stand-in `npm`,
what is available with nothing downloaded, the caps-only check, and the command line."""
import hashlib, os, socket, stat, subprocess, sys, textwrap
from pathlib import Path

import pytest

from hwr.data import fonts
from hwr.util import DownloadError


def _sha(b): return hashlib.sha256(b).hexdigest()


@pytest.fixture
def fonts_home(tmp_path, monkeypatch):
    "An empty HWR_FONTS_DIR."
    d = tmp_path/'fonts'
    monkeypatch.setenv('HWR_FONTS_DIR', str(d))
    return d


@pytest.fixture
def served(http_dir, monkeypatch):
    "A one-family catalog whose file (a copy of a PyPI font) is served on 127.0.0.1."
    folder, url = http_dir
    data = fonts._pypi_file('zeyada').read_bytes()
    (folder/'zeyada-test.ttf').write_bytes(data)
    entry = {'name': 'zeyada_test', 'family': 'Zeyada (test copy)', 'filename': 'zeyada-test.ttf',
             'url': f'{url}/zeyada-test.ttf', 'sha256': _sha(data), 'licence': 'OFL-1.1',
             'source': 'npm:@fontsource/zeyada-test@1.0.0 files/zeyada-test.ttf', 'missing': '', 'caps_only': False}
    monkeypatch.setattr(fonts, 'FONT_CATALOG', {'zeyada_test': entry})
    return entry, data, folder


def test_download_lands_verified_file_and_is_available(served, fonts_home):
    entry, data, folder = served
    assert 'zeyada_test' not in fonts.available_fonts()
    with pytest.raises(FileNotFoundError, match='python -m hwr.data.fonts download zeyada_test'):
        fonts.font_path('zeyada_test')
    paths = fonts.download_fonts(progress=False)
    dest = fonts_home/'zeyada-test.ttf'
    assert paths == [dest] and dest.read_bytes() == data
    assert sorted(p.name for p in fonts_home.iterdir()) == ['zeyada-test.ttf'], 'no temporary file left behind'
    assert fonts.available_fonts()['zeyada_test'] == dest
    assert fonts.font_path('zeyada-test') == dest and fonts.font_sha256('zeyada_test') == _sha(data)
    info = fonts.font_info('zeyada_test')
    assert (info['path'], info['kind'], info['missing'], info['caps_only']) == (dest, 'download', '', False)
    (folder/'zeyada-test.ttf').unlink()  # a file already there and correct is not fetched again
    assert fonts.download_fonts(['zeyada_test'], progress=False) == [dest]


def test_wrong_sha256_leaves_nothing(served, fonts_home):
    entry, data, _ = served
    entry['sha256'] = 'ab' * 32
    with pytest.raises(DownloadError) as e:
        fonts.download_fonts(progress=False)
    msg = str(e.value)
    assert 'sha256 mismatch' in msg and 'ab' * 32 in msg and _sha(data) in msg
    assert str(fonts_home/'zeyada-test.ttf') in msg and entry['url'] in msg
    assert not (fonts_home/'zeyada-test.ttf').exists() and list(fonts_home.iterdir()) == []


def test_corrupt_file_is_not_available(served, fonts_home):
    fonts_home.mkdir()
    (fonts_home/'zeyada-test.ttf').write_bytes(b'not a font')
    assert 'zeyada_test' not in fonts.available_fonts()
    with pytest.raises(FileNotFoundError, match='exists but its sha256 is'):
        fonts.font_path('zeyada_test')
    with pytest.raises(DownloadError, match='delete it'):
        fonts.download_fonts(progress=False)


def test_offline_error_names_url_and_path(served, fonts_home):
    entry, _, _ = served
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    entry['url'] = f'http://127.0.0.1:{port}/zeyada-test.ttf'
    with pytest.raises(DownloadError) as e:
        fonts.download_fonts(progress=False)
    msg = str(e.value)
    assert entry['url'] in msg and str(fonts_home/'zeyada-test.ttf') in msg and 'hwr.data.fonts npm zeyada_test' in msg


def test_unknown_names_say_did_you_mean(served, fonts_home):
    with pytest.raises(ValueError, match="did you mean 'zeyada_test'"):
        fonts.download_fonts(['zeyada_tset'], progress=False)
    with pytest.raises(ValueError, match="did you mean 'caveat'"):
        fonts.font_path('cavaet')
    with pytest.raises(ValueError, match='pip install fontpkg-caveat'):
        fonts.download_fonts(['caveat'], progress=False)


def test_pypi_fonts_alone_with_nothing_downloaded(fonts_home, monkeypatch):
    avail = fonts.available_fonts()
    assert set(fonts.FONT_PACKAGES) <= set(avail)
    assert not any(fonts_home in p.parents for p in avail.values())
    monkeypatch.setattr(fonts, 'SYSTEM_FONTS', {})  # as on CI: no Debian fonts
    assert set(fonts.available_fonts()) == set(fonts.FONT_PACKAGES)
    for name, path in fonts.available_fonts().items():
        assert path.suffix in ('.ttf', '.otf') and fonts.font_path(name) == path


def test_caps_only():
    assert fonts.font_problems('permanent_marker') == {'missing': '', 'caps_only': True}
    assert fonts.font_problems('caveat') == {'missing': '', 'caps_only': False}
    assert fonts.font_info('permanent_marker')['caps_only'] is True


def test_check_fonts_available(fonts_home, monkeypatch):
    monkeypatch.setattr(fonts, 'SYSTEM_FONTS', {})
    fonts.check_fonts_available(['caveat', 'kalam'])
    with pytest.raises(FileNotFoundError) as e:
        fonts.check_fonts_available(['caveat', 'homemade_apple', 'reenie_beanie', 'kalma'])
    msg = str(e.value)
    assert '3 of 4' in msg and 'download homemade_apple' in msg and 'download reenie_beanie' in msg and "did you mean 'kalam'" in msg


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    "A stand-in `npm` first on PATH: `npm pack ... SPEC` writes a tarball holding FAKE_NPM_FILE as package/FAKE_NPM_MEMBER."
    bin_dir = tmp_path/'bin'; bin_dir.mkdir()
    script = bin_dir/'npm'
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent("""\
        import os, sys, tarfile
        args = sys.argv[1:]
        assert args[0] == 'pack', args
        dest = args[args.index('--pack-destination') + 1]
        name = 'fontsource-' + args[-1].split('/')[-1].replace('@', '-') + '.tgz'
        with tarfile.open(os.path.join(dest, name), 'w:gz') as tf:
            tf.add(os.environ['FAKE_NPM_FILE'], arcname='package/' + os.environ['FAKE_NPM_MEMBER'])
        print(name)
        """))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv('PATH', f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return script


def test_npm_route(served, fonts_home, fake_npm, monkeypatch, tmp_path):
    entry, data, _ = served
    src = tmp_path/'zeyada-test.ttf'; src.write_bytes(data)
    monkeypatch.setenv('FAKE_NPM_FILE', str(src)); monkeypatch.setenv('FAKE_NPM_MEMBER', 'files/zeyada-test.ttf')
    assert fonts.install_fonts_from_npm(progress=False) == [fonts_home/'zeyada-test.ttf']
    assert (fonts_home/'zeyada-test.ttf').read_bytes() == data
    assert sorted(p.name for p in fonts_home.iterdir()) == ['zeyada-test.ttf'], 'the temporary folder is gone'
    assert fonts.available_fonts()['zeyada_test'] == fonts_home/'zeyada-test.ttf'


def test_npm_route_wrong_sha256_writes_nothing(served, fonts_home, fake_npm, monkeypatch, tmp_path):
    entry, data, _ = served
    src = tmp_path/'other.ttf'; src.write_bytes(data + b'tampered')
    monkeypatch.setenv('FAKE_NPM_FILE', str(src)); monkeypatch.setenv('FAKE_NPM_MEMBER', 'files/zeyada-test.ttf')
    with pytest.raises(DownloadError, match='the catalog expects'):
        fonts.install_fonts_from_npm(progress=False)
    assert list(fonts_home.iterdir()) == []
    monkeypatch.setenv('FAKE_NPM_MEMBER', 'files/something-else.ttf')
    with pytest.raises(RuntimeError, match='has no file files/zeyada-test.ttf'):
        fonts.install_fonts_from_npm(progress=False)


def test_npm_not_on_path(served, fonts_home, monkeypatch):
    monkeypatch.setenv('PATH', '')
    with pytest.raises(RuntimeError, match='npm is not on PATH'):
        fonts.install_fonts_from_npm(progress=False)


def test_catalog_file():
    "The shipped catalog: enough families, only OFL/Apache, none lacking letters or digits, PyPI fonts recorded."
    cat = fonts.font_catalog()
    assert len(cat) >= 60 and cat == fonts.FONT_CATALOG
    assert {e['licence'] for e in cat.values()} <= {'OFL-1.1', 'Apache-2.0'}
    assert not any(c.isalnum() for e in [*cat.values(), *fonts.SYSTEM_FONTS.values()] for c in e['missing'])
    assert sorted(fonts.font_catalog('pypi')) == sorted(fonts.FONT_PACKAGES)
    assert cat['rock_salt']['caps_only'] and not cat['homemade_apple']['caps_only']


def test_cli(tmp_path):
    env = {**os.environ, 'HWR_FONTS_DIR': str(tmp_path/'fonts')}
    r = subprocess.run([sys.executable, '-m', 'hwr.data.fonts', 'list'], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ['name', 'kind', 'here']
    row = {l.split()[0]: l.split() for l in lines[1:] if l.strip()}
    assert row['caveat'][1:3] == ['pypi', 'yes'] and row['homemade_apple'][1:3] == ['download', 'no']
    r = subprocess.run([sys.executable, '-m', 'hwr.data.fonts', 'download', 'homemade_aple'], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and "did you mean 'homemade_apple'" in r.stderr
