"""IAM end to end on a generated archive in IAM's real layout: download from 127.0.0.1 -> parse -> crop -> cache -> load,
and the ways it can go wrong (wrong hash, offline, missing files, broken XML) with nothing half-written left behind."""
import shutil, zipfile
from pathlib import Path

import numpy as np
import pytest
import toml

from hwr.data.base import decode, get_dataset, get_dataset_class, load_metadata
from hwr.data.iam import IamArchive, IamDataset, IamFormatError, iam_available, make_fake_iamdb
from hwr.data.iam_lines import IamLinesDataset, SPLIT_NAMES
from hwr.util import DownloadError, sha256sum

SHIPPED_META = load_metadata('iam')  # the checkout's copy, read before any test points HWR_DATA_DIR elsewhere


@pytest.fixture(scope='module')
def fake_zip(tmp_path_factory):
    "One generated iamdb.zip (10 forms: official test/val forms and train-like ones), shared by the tests."
    return make_fake_iamdb(tmp_path_factory.mktemp('fake')/'iamdb.zip', num_forms=10, lines_per_form=4, seed=3)


def write_metadata(data_root: Path, urls, sha256):
    "A raw/iam/metadata.toml under the test data root (load_metadata prefers it), keeping the shipped split lists."
    meta = dict(SHIPPED_META, urls=list(urls), sha256=sha256)
    (data_root/'raw'/'iam').mkdir(parents=True, exist_ok=True)
    (data_root/'raw'/'iam'/'metadata.toml').write_text(toml.dumps(meta))


def rewrite_zip(src: Path, dest: Path, drop=(), replace=None) -> Path:
    "Copy a zip without the members ending in `drop`, replacing those ending in a key of `replace`."
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, 'w') as zout:
        for n in zin.namelist():
            if any(n.endswith(d) for d in drop): continue
            new = next((v for k, v in (replace or {}).items() if n.endswith(k)), None)
            zout.writestr(n, zin.read(n) if new is None else new)
    return dest


def leftovers(folder: Path) -> list:
    "Everything under `folder` (recursively), as names relative to it."
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*')) if folder.exists() else []


def test_download_parse_crop_cache_load(data_root, http_dir, fake_zip):
    www, url = http_dir
    shutil.copy(fake_zip, www/'iamdb.zip')
    write_metadata(data_root, [f'{url}/missing-mirror.zip', f'{url}/iamdb.zip'], sha256sum(fake_zip))
    assert not iam_available()
    ds = IamLinesDataset().load_or_generate_data()
    assert iam_available()
    assert leftovers(data_root/'raw'/'iam') == ['iamdb.zip', 'metadata.toml']  # the mirror that 404s left nothing
    assert sorted(p.name for p in (data_root/'processed').iterdir()) == sorted(f'{ds.cache_name}_{s}.h5' for s in SPLIT_NAMES)
    assert ds.cache_name == 'IamLinesDataset_official_forms_h28_w952_l97_drop_line'
    assert ds.input_shape == (28, 952) and ds.output_shape == (97, 80)

    # Every line of the XML made it, in the split its form belongs to, with its text as label.
    with IamArchive(fake_zip) as arch:
        forms = [arch.parse_form(f) for f in arch.form_ids]
    truth = {ln.id: ln.text for f in forms for ln in f.lines}
    split_meta = SHIPPED_META['split']
    for s in SPLIT_NAMES:
        x, y, ids, texts = (getattr(ds, f'{k}_{s}') for k in ('x', 'y', 'id', 'text'))
        assert len(x) > 0 and x.dtype == np.uint8 and y.dtype == np.int32
        assert [truth[i] for i in ids] == texts == [decode(r) for r in y]
        for i in ids:
            form = i.rsplit('-', 1)[0]
            expected = 'test' if form in split_meta['test_forms'] else 'val' if form in split_meta['val_forms'] else 'train'
            assert expected == s
        assert all(img.max() > 150 for img in x), "every crop has ink"
    assert sum(len(getattr(ds, f'x_{s}')) for s in SPLIT_NAMES) == len(truth)
    assert not set(ds.writer_train) & (set(ds.writer_val) | set(ds.writer_test))

    # Loading again reads only the caches: no archive, no server needed.
    (data_root/'raw'/'iam'/'iamdb.zip').unlink()
    again = IamLinesDataset().load_or_generate_data()
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    assert again.text_val == ds.text_val


def test_wrong_hash_is_refused_and_leaves_nothing(data_root, http_dir, fake_zip):
    www, url = http_dir
    shutil.copy(fake_zip, www/'iamdb.zip')
    write_metadata(data_root, [f'{url}/iamdb.zip'], '0' * 64)
    with pytest.raises(DownloadError, match='sha256 mismatch') as e:
        IamLinesDataset().load_or_generate_data()
    assert str(data_root/'raw'/'iam'/'iamdb.zip') in str(e.value)   # where to put a manual download
    assert 'pass path=' in str(e.value)                                # and the other ways to provide IAM
    assert leftovers(data_root/'raw'/'iam') == ['metadata.toml']
    assert leftovers(data_root/'processed') == []


def test_offline_error_says_how_to_fix(data_root):
    write_metadata(data_root, ['http://127.0.0.1:9/iamdb.zip'], SHIPPED_META['sha256'])
    with pytest.raises(DownloadError) as e:
        IamDataset().load_or_generate_data()
    msg = str(e.value)
    assert 'cannot connect' in msg and str(data_root/'raw'/'iam'/'iamdb.zip') in msg
    assert str(data_root/'raw'/'iam'/'iamdb') in msg and 'register' in msg
    assert leftovers(data_root/'raw'/'iam') == ['metadata.toml']


def test_manually_placed_archive_and_unpacked_folder(data_root, fake_zip, tmp_path):
    write_metadata(data_root, ['http://127.0.0.1:9/iamdb.zip'], sha256sum(fake_zip))   # offline: must not be needed
    shutil.copy(fake_zip, data_root/'raw'/'iam'/'iamdb.zip')
    placed = IamDataset().load_or_generate_data()
    assert len(placed.lines) == 40
    # A placed archive that is not the expected file: refused, with the way out.
    rewrite_zip(fake_zip, data_root/'raw'/'iam'/'iamdb.zip', drop=['.jpg'])
    with pytest.raises(DownloadError, match='exists but its sha256') as e:
        IamDataset().load_or_generate_data()
    assert 'delete it' in str(e.value) and 'pass path=' in str(e.value)
    (data_root/'raw'/'iam'/'iamdb.zip').unlink()
    # An unpacked folder (official forms are PNGs at full resolution) wins over the archive.
    make_fake_iamdb(data_root/'raw'/'iam'/'iamdb', num_forms=4, lines_per_form=3, leading_folder=False, as_folder=True,
                    image_format='png', scale=1.0)
    unpacked = IamDataset().load_or_generate_data()
    assert unpacked._archive.path == data_root/'raw'/'iam'/'iamdb'
    ln, crop = next(unpacked.iter_line_images('train'))
    assert 40 < crop.shape[0] < 200 and crop.max() > 150   # full-resolution crop of one line


@pytest.mark.parametrize('damage, message', [
    ('drop_image', r"form image\(s\) missing from"),
    ('bad_xml', 'is not well-formed XML'),
    ('no_xml', 'no IAM XML files'),
    ('not_zip', 'is not a zip archive'),
])
def test_damaged_archives_fail_clearly(data_root, fake_zip, tmp_path, damage, message):
    victim = IamArchive(fake_zip).form_ids[2]
    bad = tmp_path/'iamdb.zip'
    if damage == 'drop_image': rewrite_zip(fake_zip, bad, drop=[f'forms/{victim}.jpg'])
    elif damage == 'bad_xml': rewrite_zip(fake_zip, bad, replace={f'xml/{victim}.xml': b'<?xml version="1.0"?>\n<form id="x" writer-id="1"><handwr'})
    elif damage == 'no_xml': rewrite_zip(fake_zip, bad, drop=['.xml'])
    else: bad.write_bytes(b'<html>Service Unavailable</html>')
    with pytest.raises(IamFormatError, match=message) as e:
        IamLinesDataset(path=bad).load_or_generate_data()
    if damage in ('drop_image', 'bad_xml'): assert victim in str(e.value)
    assert leftovers(data_root/'processed') == []   # nothing half-written


def test_official_lines_reads_task_files(data_root, fake_zip, tmp_path):
    with IamArchive(fake_zip) as arch:
        lines = [ln for f in arch.form_ids for ln in arch.parse_form(f).lines]
    task = tmp_path/'task'; task.mkdir()
    chosen = {'trainset.txt': [lines[0].id, lines[1].id], 'validationset1.txt': [lines[4].id], 'validationset2.txt': [],
              'testset.txt': [lines[8].id, lines[9].id]}
    for name, ids in chosen.items(): (task/name).write_text(''.join(i + '\n' for i in ids))
    iam = IamDataset(split='official_lines', path=fake_zip, task_dir=task).load_or_generate_data()
    assert [ln.id for ln in iam.lines_in('train')] == chosen['trainset.txt']
    assert [ln.id for ln in iam.lines_in('test')] == chosen['testset.txt']
    assert iam.skipped['not in the task lists'] == len(lines) - 5
    (task/'validationset2.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r"\['validationset2.txt'\]"):
        IamDataset(split='official_lines', path=fake_zip, task_dir=task).load_or_generate_data()


def test_configs_find_the_classes(data_root, fake_zip):
    assert get_dataset_class('IamDataset') is IamDataset
    ds = get_dataset('IamLinesDataset', {'path': str(fake_zip), 'height': 32, 'subsample_fraction': 0.5})
    ds.load_or_generate_data()
    assert ds.input_shape == (32, 34 * 32)
    with pytest.raises(TypeError, match='train on IamLinesDataset'):
        get_dataset('IamDataset', {'path': str(fake_zip)}).input_shape
    with pytest.raises(ValueError, match='valid: official_forms, official_lines, writers'):
        get_dataset('IamLinesDataset', {'split': 'aachen'})
