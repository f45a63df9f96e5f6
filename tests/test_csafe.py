"""hwr.data.csafe: pages downloaded from a server on 127.0.0.1 (upstream layout), checked and cached; a local mirror
when the server is gone; reserved writers left out; CsafeDataset built from pages and a lines.tsv, split by text."""
import hashlib, os, shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hwr.data import csafe
from hwr.util import DownloadError


def _pages(folder: Path, texts: dict) -> list[dict]:
    "Pages drawn like scans (dark ink, light paper), named as CSAFE names them, with metadata entries."
    from hwr.data.ink import render_page
    out = []
    for i, (name, lines) in enumerate(texts.items()):
        Image.fromarray(np.round(render_page(lines, seed=i, x_height=24) * 255).astype(np.uint8)).save(folder/f'{name}.png')
        b = (folder/f'{name}.png').read_bytes()
        writer, _, prompt, _ = name.split('_')
        out.append({'filename': f'{name}.png', 'writer': writer, 'prompt': prompt[1:], 'bytes': len(b), 'sha256': hashlib.sha256(b).hexdigest()})
    return out


@pytest.fixture
def site(http_dir, tmp_path, monkeypatch):
    "Four pages (two WOZ, one LND, one reserved writer's) served on 127.0.0.1, and metadata pointing at them."
    folder, url = http_dir
    texts = {'w9001_s01_pWOZ_r01': ['the sun shone bright', 'and the birds sang'],
             'w9002_s01_pWOZ_r01': ['within a short time', 'she was walking'],
             'w9003_s01_pLND_r01': ['our london business', 'is good but quiet'],
             'w9004_s01_pLND_r01': ['a reserved writer', 'out of everything']}
    files = _pages(folder, texts)
    meta = {'files': [{**f, 'url': f'{url}/{f["filename"]}'} for f in files], 'reserved': ['w9004'], 'licence': 'test',
            'prompts': {'WOZ': 'the sun shone bright and the birds sang', 'LND': 'our london business is good but quiet'}}
    monkeypatch.setattr(csafe, 'csafe_metadata', lambda: meta)
    monkeypatch.setenv('HWR_DATA_DIR', str(tmp_path/'data'))
    monkeypatch.setenv('HWR_CSAFE_MIRROR', str(tmp_path/'mirror'))
    (tmp_path/'mirror').mkdir()
    return meta, folder, texts


def test_pages_leave_out_reserved_writers(site):
    meta, _, _ = site
    assert [p['writer'] for p in csafe.csafe_pages()] == ['w9001', 'w9002', 'w9003']
    assert [p['writer'] for p in csafe.csafe_pages('LND', include_reserved=True)] == ['w9003', 'w9004']
    assert csafe.csafe_pages('WOZ')[0]['text'] == meta['prompts']['WOZ']


def test_download_checks_and_keeps(site, tmp_path):
    meta, folder, _ = site
    got = csafe.fetch_csafe(progress=False)
    assert [p.read_bytes() for p in got] == [(folder/f['filename']).read_bytes() for f in meta['files'][:3]]
    (folder/meta['files'][0]['filename']).unlink()                  # a second run needs no server for pages already there
    assert csafe.fetch_csafe(progress=False) == got


def test_wrong_bytes_are_refused_and_nothing_is_left(site, tmp_path):
    meta, folder, _ = site
    (folder/meta['files'][0]['filename']).write_bytes(b'\x89PNG not the page')
    with pytest.raises(DownloadError, match='HWR_CSAFE_MIRROR'):
        csafe.fetch_csafe(csafe.csafe_pages()[:1], progress=False)
    assert not any(p.is_file() for p in (tmp_path/'data'/'raw'/'csafe').glob('*')), 'no partial or wrong file left'


def test_mirror_when_the_server_is_gone(site, tmp_path, monkeypatch):
    meta, folder, _ = site
    gone = {**meta, 'files': [{**f, 'url': 'http://127.0.0.1:9/' + f['filename']} for f in meta['files']]}
    monkeypatch.setattr(csafe, 'csafe_metadata', lambda: gone)
    for f in meta['files'][:2]: shutil.copy(folder/f['filename'], tmp_path/'mirror')
    (tmp_path/'mirror'/meta['files'][1]['filename']).write_bytes(b'a damaged copy')   # a mirror is checked too
    assert csafe.fetch_csafe(csafe.csafe_pages()[:1], progress=False)[0].read_bytes() == (folder/meta['files'][0]['filename']).read_bytes()
    with pytest.raises(DownloadError, match='no local mirror holds it'):
        csafe.fetch_csafe(csafe.csafe_pages()[1:2], progress=False)


def test_dataset_from_pages_and_labels(site, tmp_path):
    "Lines cut from the pages, labelled from lines.tsv, split by text: WOZ lines train, LND lines test; stale boxes refused."
    from hwr.segment import segment_lines
    meta, folder, texts = site
    csafe.fetch_csafe(progress=False)
    rows = []
    for p in csafe.csafe_pages():
        for i, l in enumerate(segment_lines(p['path'])):
            rows.append({'page': p['page'], 'line': i, 'x0': l.box[0], 'y0': l.box[1], 'x1': l.box[2], 'y1': l.box[3],
                         'score': 0.9, 'kept': i == 0 or p['prompt'] == 'LND', 'text': texts[p['page']][i], 'reading': ''})
    labels = csafe.write_line_labels(rows, tmp_path/'lines.tsv')
    data = csafe.CsafeDataset(labels=labels).load_or_generate_data()
    assert len(data.x_train) == 2 and len(data.x_test) == 2             # the WOZ pages' first lines; both LND lines
    assert list(data.files_test) == ['w9003_s01_pLND_r01_line00.png', 'w9003_s01_pLND_r01_line01.png']
    assert data.x_train.shape[1] == 64 and data.x_train.dtype == np.uint8
    rows[0]['x0'] += 5
    csafe.write_line_labels(rows, tmp_path/'stale.tsv')
    with pytest.raises(ValueError, match='labels are stale'):
        csafe.CsafeDataset(labels=tmp_path/'stale.tsv', min_score=0.5).load_or_generate_data()
    with pytest.raises(ValueError, match='num_pages must be an integer from 1 to 50'):
        csafe.CsafeDataset(num_pages=0)
    with pytest.raises(ValueError, match='tab or newline'):
        csafe.write_line_labels([{**rows[0], 'text': 'a\tb'}], tmp_path/'bad.tsv')
