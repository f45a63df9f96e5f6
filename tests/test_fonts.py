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


def _deb(members: dict[str, bytes]) -> bytes:
    "A Debian package as Debian builds it: an ar archive of debian-binary, control.tar.xz and data.tar.xz."
    import io, tarfile
    def tar(files):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w:xz') as tf:
            for name, data in files.items():
                info = tarfile.TarInfo('.' + name); info.size = len(data); tf.addfile(info, io.BytesIO(data))
        return buf.getvalue()
    parts = [('debian-binary', b'2.0\n'), ('control.tar.xz', tar({'/control': b'Package: fonts-test\n'})), ('data.tar.xz', tar(members))]
    out = b'!<arch>\n'
    for name, data in parts:
        out += f'{name + "/":16}{0:<12}{0:<6}{0:<6}{"100644":<8}{len(data):<10}`\n'.encode() + data + (b'\n' if len(data) % 2 else b'')
    return out


@pytest.fixture
def served_deb(http_dir, monkeypatch):
    "A one-font Debian package served on 127.0.0.1, and the catalog entries that point at it."
    folder, url = http_dir
    font = fonts._pypi_file('zeyada').read_bytes()
    deb = _deb({'/usr/share/fonts/truetype/test/Zeyada-Test.ttf': font, '/usr/share/doc/fonts-test/copyright': b'OFL-1.1\n'})
    (folder/'fonts-test_1.0_all.deb').write_bytes(deb)
    entry = {'name': 'zeyada_deb', 'family': 'Zeyada (test)', 'source': 'debian:fonts-test', 'licence': 'OFL-1.1',
             'path': '/usr/share/fonts/truetype/test/Zeyada-Test.ttf', 'sha256': _sha(font), 'missing': '', 'caps_only': False}
    monkeypatch.setattr(fonts, 'SYSTEM_FONTS', {'zeyada_deb': entry})
    monkeypatch.setattr(fonts, 'DEBIAN_DEBS', {'fonts-test': (f'{url}/fonts-test_1.0_all.deb', len(deb), _sha(deb))})
    return entry, font, folder


def test_debian_font_comes_out_of_its_package(served_deb, fonts_home):
    entry, font, folder = served_deb
    assert 'zeyada_deb' not in fonts.available_fonts()
    with pytest.raises(FileNotFoundError, match='python -m hwr.data.fonts debian zeyada_deb'):
        fonts.font_path('zeyada_deb')
    got = fonts.install_debian_fonts(progress=False)
    assert got == [fonts_home/'debian'/'Zeyada-Test.ttf'] and got[0].read_bytes() == font
    assert fonts.font_path('zeyada_deb') == got[0] and sorted(p.name for p in (fonts_home/'debian').iterdir()) == ['Zeyada-Test.ttf']
    (folder/'fonts-test_1.0_all.deb').unlink()                   # a second run needs no server: the font is there
    assert fonts.install_debian_fonts(progress=False) == got


def test_debian_package_that_differs_writes_nothing(served_deb, fonts_home, monkeypatch):
    entry, font, folder = served_deb
    monkeypatch.setitem(fonts.SYSTEM_FONTS, 'zeyada_deb', {**entry, 'sha256': '0' * 64})
    with pytest.raises(DownloadError, match='the catalog expects 0000'):
        fonts.install_debian_fonts(progress=False)
    assert not any((fonts_home/'debian').iterdir())
    (folder/'fonts-test_1.0_all.deb').write_bytes(b'!<arch>\n' + b'x' * 100)   # a package that is not what DEBIAN_DEBS pins
    monkeypatch.setitem(fonts.SYSTEM_FONTS, 'zeyada_deb', entry)
    with pytest.raises(DownloadError, match='sha256|size'):
        fonts.install_debian_fonts(progress=False)
    assert not any((fonts_home/'debian').iterdir())


def test_system_font_folders_are_not_read(fonts_home, monkeypatch):
    "A Debian font installed in the system's folders is not picked up: hwr reads only its own fonts folder."
    name = next(n for n in fonts.SYSTEM_FONTS if n not in fonts.FONT_PACKAGES and n not in fonts.FONT_CATALOG)
    there = fonts._pypi_file('zeyada')                           # stands for the file apt would have installed
    monkeypatch.setitem(fonts.SYSTEM_FONTS, name, {**fonts.SYSTEM_FONTS[name], 'path': str(there), 'sha256': _sha(there.read_bytes())})
    assert fonts._locate(name) == (None, None) and name not in fonts.available_fonts()
