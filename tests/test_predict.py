"""hwr-predict as a user runs it (a subprocess on image files), and the shipped weights."""
from __future__ import annotations
import json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from hwr.registry import SHIPPED, WEIGHTS_DIR, weights_info

ENV = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3', 'WANDB_MODE': 'disabled'}


def _cli() -> list[str]:
    "The installed console script if there is one, else the module."
    script = Path(sys.executable).with_name('hwr-predict')
    return [str(script)] if script.exists() else [sys.executable, '-m', 'hwr.cli']


def run(*args, timeout=300):
    return subprocess.run(_cli() + [str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=timeout)


def written(text: str, size, font_size: int, at=(40, 25), ink=35, paper=228) -> Image.Image:
    "Dark handwriting-font text on light paper, a font the models never trained on (kalam)."
    from hwr.data.render import load_font
    im = Image.new('L', size, paper)
    ImageDraw.Draw(im).text(at, text, font=load_font('kalam', font_size), fill=ink)
    return im


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('imgs')
    written('A', (170, 200), 100).save(d/'A.png')
    written('7', (170, 200), 100).convert('RGB').save(d/'seven.jpg', quality=95)
    written('hello world', (900, 150), 60).save(d/'hello.png')
    Image.new('L', (120, 120), 235).save(d/'blank.png')
    (d/'notes.png').write_text('this is not an image')
    return d


@pytest.mark.parametrize('kind', ['char', 'line'])
def test_shipped_weights_small_and_documented(kind):
    path = WEIGHTS_DIR/f'{SHIPPED[kind]}.weights.h5'
    assert path.exists(), f'missing shipped weights {path}'
    assert path.stat().st_size < 5 * 2**20, f'{path.name} is {path.stat().st_size / 2**20:.1f} MiB; keep shipped weights under 5 MiB'
    info = weights_info(kind)
    assert info['kind'] == kind and info['metrics'] and 'train_shipped_weights' in info['retrain']
    config = set(info['experiment_config'])                # a recipe's later stage also says where it starts from
    assert {'dataset', 'model', 'network', 'dataset_args', 'network_args', 'train_args'} <= config <= {
        'dataset', 'model', 'network', 'dataset_args', 'network_args', 'train_args', 'init_weights'}, config


def test_cli_prints_only_the_reading(images):
    "No TensorFlow start-up lines: stdout holds the reading, stderr nothing (HWR_VERBOSE=1 brings the log back)."
    env = {k: v for k, v in ENV.items() if k not in ('TF_CPP_MIN_LOG_LEVEL', 'HWR_VERBOSE')}
    r = subprocess.run(_cli() + [str(images/'hello.png'), '--model', 'line'], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stderr == '', r.stderr
    assert len(r.stdout.splitlines()) == 1 and r.stdout.startswith(str(images/'hello.png') + '\t')
    r = subprocess.run(_cli() + [str(images/'hello.png'), '--model', 'line', '--json'], capture_output=True, text=True, env=env, timeout=300)
    assert r.stderr == '' and json.loads(r.stdout)[0]['model'] == 'line'
    loud = subprocess.run(_cli() + [str(images/'hello.png'), '--model', 'line'], capture_output=True, text=True, env={**env, 'HWR_VERBOSE': '1'}, timeout=300)
    raw = subprocess.run([sys.executable, '-c', 'import tensorflow'], capture_output=True, text=True, env=env, timeout=300)
    assert loud.returncode == 0 and loud.stdout.split('\t')[1] == json.loads(r.stdout)[0]['text']
    assert bool(loud.stderr.strip()) == bool(raw.stderr.strip()), 'HWR_VERBOSE=1 shows what TensorFlow prints at start-up'


def test_cli_characters_and_lines(images):
    r = run(images/'A.png', images/'seven.jpg', images/'hello.png')
    assert r.returncode == 0, r.stderr
    rows = [line.split('\t') for line in r.stdout.strip().splitlines()]
    assert [row[0] for row in rows] == [str(images/f) for f in ('A.png', 'seven.jpg', 'hello.png')]
    assert [row[3] for row in rows] == ['char', 'char', 'line']          # --model auto: the wide image is a line
    assert rows[0][1] == 'A' and rows[1][1] == '7', rows
    import editdistance
    assert editdistance.eval(rows[2][1], 'hello world') <= 4, rows[2]
    assert all(0 < float(row[2]) <= 1 for row in rows)


def test_cli_json_beam_and_forced_model(images):
    r = run(images/'hello.png', '--model', 'line', '--beam', '5', '--json')
    assert r.returncode == 0, r.stderr
    (res,) = json.loads(r.stdout)
    assert res['model'] == 'line' and res['path'] == str(images/'hello.png') and 0 < res['confidence'] <= 1
    assert isinstance(res['text'], str) and res['text']


def test_cli_errors(images):
    r = run(images/'A.png', images/'notes.png', images/'blank.png', '--json')
    assert r.returncode == 1
    res = json.loads(r.stdout)
    assert res[0]['text'] == 'A'
    assert 'not an image file' in res[1]['error']
    assert 'blank' in res[2]['error']
    gone = run(images/'A.png', images/'missing.png', '--json')            # a path that is not there: said before any file is read
    assert gone.returncode == 2 and gone.stdout == '' and 'no such file or folder: ' + str(images/'missing.png') in gone.stderr
    assert 'notes.png: error:' in r.stderr and 'blank.png: error:' in r.stderr
    bad = run(images/'A.png', '--beam', '0')
    assert bad.returncode == 2 and '--beam' in bad.stderr
    bad = run(images/'A.png', '--weights', 'x.weights.h5')
    assert bad.returncode == 2 and '--model char or --model line' in bad.stderr


@pytest.mark.parametrize('kind', ['char', 'line'])
def test_shipped_weights_record_their_fonts(kind):
    from hwr.data.fonts import font_names
    info = weights_info(kind)
    fonts = info['fonts']
    assert len(fonts) >= 15 and 'kalam' in fonts, 'the training fonts and the held-out test font are recorded'
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in fonts.values()), 'each with the sha256 of its file'
    assert set(fonts) <= set(font_names()), 'every recorded font is one hwr knows how to get'


def test_retraining_with_missing_fonts_says_which_and_how(tmp_path):
    from hwr.training.recipes import train_shipped_weights
    info = weights_info('line')
    (tmp_path/f"{SHIPPED['line']}.json").write_text(json.dumps({**info, 'fonts': {'kalam': '0' * 64, 'reenie_beanie': '1' * 64,
                                                                                 'no_such_font': '2' * 64}}))
    env_dir = os.environ.get('HWR_FONTS_DIR')
    os.environ['HWR_FONTS_DIR'] = str(tmp_path/'empty-fonts')         # no downloaded fonts here
    try:
        with pytest.raises(RuntimeError) as e: train_shipped_weights('line', tmp_path, epochs=1)
    finally:
        if env_dir is None: os.environ.pop('HWR_FONTS_DIR', None)
        else: os.environ['HWR_FONTS_DIR'] = env_dir
    msg = str(e.value)
    assert 'reenie_beanie' in msg and 'download' in msg and "'no_such_font': unknown font" in msg and 'kalam' not in msg.split('\n', 1)[1]


# ---------------------------------------------------------------- bad and odd inputs: bounded, per file, never a traceback
@pytest.fixture(scope='module')
def odd_images(tmp_path_factory):
    from hwr.data.render import load_font
    d = tmp_path_factory.mktemp('odd')
    Image.new('L', (10000, 9000), 255).save(d/'huge.png')                        # 90 million pixels: refused
    big = Image.new('L', (9000, 1200), 228)                                      # a wide photo of a line: read reduced
    ImageDraw.Draw(big).text((300, 200), 'hello world', font=load_font('kalam', 600), fill=35)
    big.save(d/'big_line.png')
    deep = (np.asarray(written('hello world', (900, 150), 60), np.uint16) * 257)   # the same line as a 16-bit PNG
    Image.fromarray(deep).save(d/'deep16.png')
    rgba = Image.new('RGBA', (900, 150), (255, 255, 255, 0))                     # white ink on a transparent background
    ImageDraw.Draw(rgba).text((40, 25), 'hello world', font=load_font('kalam', 60), fill=(255, 255, 255, 255))
    rgba.save(d/'white_on_clear.png')
    return d


@pytest.mark.parametrize('beam', ['0', '-3', '101', '2147483647', '99999999999'])
def test_cli_beam_is_bounded(images, beam):
    r = run('--beam', beam, images/'hello.png', timeout=120)
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert '--beam must be from 1 to 100' in r.stderr


def test_cli_batch_goes_on_past_bad_files_and_json_has_every_input(images, odd_images):
    paths = [odd_images/'huge.png', images/'hello.png', images/'notes.png', images/'blank.png', images/'A.png']
    r = run('--json', *paths)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    out = json.loads(r.stdout)
    assert [o['path'] for o in out] == [str(p) for p in paths]
    assert 'crop it to the writing' in out[0]['error'] and '90 million' in out[0]['error']
    assert out[1]['text'] == 'hello world' and 'not an image file' in out[2]['error'] and 'blank' in out[3]['error']
    assert out[4]['text'] == 'A'


def test_cli_reads_16_bit_transparent_and_large_images(odd_images):
    r = run('--model', 'line', odd_images/'deep16.png', odd_images/'white_on_clear.png', odd_images/'big_line.png')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    texts = [line.split('\t')[1] for line in r.stdout.strip().splitlines()]
    assert texts == ['hello world'] * 3, texts


def test_cli_reads_lines_with_the_language_model(images, tmp_path):
    r = run(images/'hello.png', '--model', 'line', '--lm', '--json')
    assert r.returncode == 0, r.stderr
    (res,) = json.loads(r.stdout)
    import editdistance
    assert editdistance.eval(res['text'], 'hello world') <= 4 and 0 < res['confidence'] <= 1, res
    auto = run(images/'A.png', images/'hello.png', '--lm')                 # --model auto: the LM reads the line only
    assert auto.returncode == 0 and [row.split('\t')[3] for row in auto.stdout.strip().splitlines()] == ['char', 'line'], auto
    for args, says in [(['--lm', tmp_path/'none.npz'], 'no language model at'),
                       (['--lm', images/'notes.png'], 'is not a language model saved by hwr'),
                       (['--lm', '--model', 'char'], 'does not apply to --model char')]:
        bad = run(images/'hello.png', *args)
        assert bad.returncode == 2 and says in bad.stderr and 'Traceback' not in bad.stderr, (args, bad.stderr)


def test_shipped_language_model_is_small_and_tuned():
    from hwr.lm import LM_DIR, LM_FILE, load_lm
    path = LM_DIR/LM_FILE
    assert path.stat().st_size < 5 * 2**20, f'{path.name} is {path.stat().st_size / 2**20:.1f} MiB; keep it under 5 MiB'
    lm = load_lm('shipped')
    assert lm.order == 6 and {'alpha', 'beta', 'corpus', 'val_cer', 'val_cer_no_lm'} <= set(lm.meta)
    assert lm.meta['val_cer'] <= lm.meta['val_cer_no_lm'], 'the chosen weights do no worse than no LM on validation lines'
    assert lm.score('the') > lm.score('tbe')


@pytest.fixture(scope='module')
def page_image(tmp_path_factory):
    from hwr.data.ink import render_page
    page = render_page(['The quick brown fox jumps', 'over the lazy dog, and', 'then it reads a page.'], seed=2, angle=1.5)
    path = tmp_path_factory.mktemp('page')/'page.png'
    Image.fromarray(np.round(page * 255).astype(np.uint8)).save(path)
    return path


def test_cli_reads_a_page_line_by_line(page_image, images):
    r = run(page_image, images/'hello.png', '--json')                    # --model auto: the page is a page, the line a line
    assert r.returncode == 0, r.stderr
    page, line = json.loads(r.stdout)
    assert page['model'] == 'page' and line['model'] == 'line'
    assert len(page['lines']) == 3 and page['text'].count('\n') == 2
    assert all(len(l['box']) == 4 and 0 < l['confidence'] <= 1 for l in page['lines'])
    assert [l['box'][1] for l in page['lines']] == sorted(l['box'][1] for l in page['lines'])   # top to bottom
    import editdistance
    assert editdistance.eval(page['lines'][0]['text'], 'The quick brown fox jumps') <= 8, page
    tsv = run(page_image, '--model', 'page')
    assert tsv.returncode == 0 and [row.split('\t')[3] for row in tsv.stdout.strip().splitlines()] == ['page 1/3', 'page 2/3', 'page 3/3']
