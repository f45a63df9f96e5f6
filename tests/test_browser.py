"""The drawing pad in a real JupyterLab in a real browser.

Starts JupyterLab on 127.0.0.1 in a temporary folder holding two small widgets notebooks, opens
them in Debian's chromium driven by Playwright and runs all cells:
- the drawing pad: draws an "L" on the canvas with mouse events and checks the prediction shown;
- the line labeller: types a correction over the shipped model's proposed text of a line, clicks
  Save, and checks the `labels.tsv` written on disk.
Saves a screenshot of each page.

It needs /usr/bin/chromium (`apt-get install chromium`) and Playwright's Python package
(`pip install playwright`; never `playwright install`: we use the system chromium). It takes a
minute or two, so it runs only when asked:

    HWR_BROWSER_TESTS=1 pytest tests/test_browser.py

Set HWR_BROWSER_SCREENSHOTS=/some/folder to keep a copy of the screenshots.
"""
from __future__ import annotations
import contextlib, json, os, shutil, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync']

if os.environ.get('HWR_BROWSER_TESTS') != '1':
    pytest.skip('browser test: run it with HWR_BROWSER_TESTS=1 pytest tests/test_browser.py', allow_module_level=True)
if not Path(CHROMIUM).exists():
    pytest.skip(f'browser test: {CHROMIUM} is missing (apt-get install chromium)', allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    pytest.skip('browser test: the playwright package is missing (pip install playwright; no browser download needed)',
                allow_module_level=True)

CELLS = [
    "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nfrom hwr.widgets import DrawingPad",
    "pad = DrawingPad('char')\npad",
]


LABEL_CELLS = [
    "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nfrom hwr.widgets import LineLabeller\nfrom hwr.predict import LinePredictor",
    "labeller = LineLabeller('lines', reader=LinePredictor())\nlabeller",
]


def _notebook(path: Path, cells: list[str] = CELLS):
    "A small widgets notebook with kernelspec metadata (so JupyterLab does not ask for a kernel)."
    nb = {'nbformat': 4, 'nbformat_minor': 5,
          'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                       'language_info': {'name': 'python'}},
          'cells': [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'execution_count': None, 'outputs': [],
                     'source': src} for i, src in enumerate(cells)]}
    path.write_text(json.dumps(nb, indent=1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    "JupyterLab serving tmp_path/work on a free port; yields its base URL."
    work = tmp_path/'work'; work.mkdir()
    _notebook(work/'draw.ipynb')
    _notebook(work/'label.ipynb', LABEL_CELLS)
    from hwr.data.line_folder import write_stand_in
    write_stand_in(work/'lines', n=2, seed=3)
    (work/'lines'/'labels.tsv').unlink()          # unlabelled lines: the labeller proposes the model's reading
    news = tmp_path/'settings'/'@jupyterlab'/'apputils-extension'/'notification.jupyterlab-settings'
    news.parent.mkdir(parents=True); news.write_text('{"fetchNews": "false"}')   # no news pop-up over the page
    port = _free_port()
    env = {**os.environ, 'JUPYTER_CONFIG_DIR': str(tmp_path/'config'), 'JUPYTER_RUNTIME_DIR': str(tmp_path/'runtime'),
           'JUPYTERLAB_SETTINGS_DIR': str(tmp_path/'settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(tmp_path/'workspaces'),
           'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3', 'PYTHONUNBUFFERED': '1'}
    log = open(tmp_path/'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
                             '--IdentityProvider.token=', '--ServerApp.password=', '--allow-root',
                             f'--ServerApp.root_dir={work}', '--LabApp.expose_app_in_browser=True'],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None: pytest.fail(f'JupyterLab exited: {(tmp_path/"jupyterlab.log").read_text()[-3000:]}')
            try:
                urllib.request.urlopen(f'{url}/api/status', timeout=2); break
            except OSError:
                if time.time() > deadline: pytest.fail('JupyterLab did not start within 120 s')
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()


def _open_and_run(page, url: str):
    "Open a notebook in JupyterLab, wait for its kernel, run all its cells."
    page.goto(url, wait_until='domcontentloaded')
    page.wait_for_function('() => window.jupyterapp && window.jupyterapp.shell.currentWidget'
                           ' && window.jupyterapp.shell.currentWidget.sessionContext', timeout=120_000)
    page.wait_for_function('() => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel;'
                           ' return k && k.status === "idle"; }', timeout=120_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _screenshot(page, tmp_path: Path, name: str):
    shot = tmp_path/name                             # also on failure: what did the page show?
    page.screenshot(path=str(shot), full_page=True)
    print(f'screenshot: {shot}')
    keep = os.environ.get('HWR_BROWSER_SCREENSHOTS')
    if keep: Path(keep).mkdir(parents=True, exist_ok=True); shutil.copy(shot, Path(keep)/name)


@contextlib.contextmanager
def _page(tmp_path: Path, shot: str, viewport=(1200, 900)):
    "A Chromium page (with the list of its JavaScript errors); its screenshot is kept as `shot`, also on failure."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={'width': viewport[0], 'height': viewport[1]})
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        try: yield page, errors
        finally:
            _screenshot(page, tmp_path, shot)
            browser.close()


def test_drawing_pad_in_jupyterlab(jupyterlab, tmp_path):
    t0 = time.time()
    with _page(tmp_path, 'drawing_pad.png') as (page, errors):
        _open_and_run(page, f'{jupyterlab}/lab/tree/draw.ipynb')
        canvas = page.locator('canvas.hwr-canvas, .hwr-canvas canvas').first
        canvas.wait_for(state='visible', timeout=180_000)
        result = page.locator('.hwr-prediction')
        result.wait_for(state='visible', timeout=60_000)
        assert 'draw a character' in result.inner_text()
        box = canvas.bounding_box()
        at = lambda x, y: (box['x'] + x * box['width'] / 280, box['y'] + y * box['height'] / 280)
        # an "L": down the left side, then along the bottom, in one stroke
        page.mouse.move(*at(90, 40)); page.mouse.down()
        for y in range(40, 236, 8): page.mouse.move(*at(90, y))
        for x in range(90, 206, 8): page.mouse.move(*at(x, 235))
        page.mouse.up()
        text = page.locator('.hwr-prediction .hwr-text')
        text.wait_for(state='visible', timeout=60_000)
        shown, conf = text.inner_text().strip(), float(page.locator('.hwr-prediction .hwr-conf').inner_text())
        assert shown == 'L', f'the page shows {shown!r} for an L'
        assert 0 < conf <= 1
        # the preview of what the network saw is shown too
        assert page.locator('.hwr-prediction + img, .widget-image').count() >= 1
        assert not [e for e in errors if 'ipycanvas' in e.lower()], errors
    print(f'browser test took {time.time() - t0:.0f} s')


def test_line_labeller_in_jupyterlab(jupyterlab, tmp_path):
    "Type one correction into the labeller in the browser, save, and find it in labels.tsv."
    from hwr.data.line_folder import read_labels_tsv
    t0, folder = time.time(), tmp_path/'work'/'lines'
    correction = 'my own corrected words, 42.'
    with _page(tmp_path, 'line_labeller.png') as (page, errors):
        _open_and_run(page, f'{jupyterlab}/lab/tree/label.ipynb')
        box = page.locator('.hwr-label input').first
        box.wait_for(state='visible', timeout=180_000)
        page.wait_for_function("() => document.querySelector('.hwr-label input').value.length > 0", timeout=60_000)
        proposed = box.input_value()                  # the shipped model's reading of line 1
        assert proposed.strip() and proposed != correction
        box.fill('')
        box.type(correction)                          # typed key by key, as a person would
        page.locator('button.jupyter-button', has_text='Next').click()
        page.locator('text=line 2 of 2').wait_for(timeout=30_000)
        page.locator('button.jupyter-button', has_text='Save').click()
        page.locator('text=saved 2 labels').wait_for(timeout=30_000)
        assert not errors, errors
    rows = read_labels_tsv(folder/'labels.tsv')
    assert [r[0].name for r in rows] == ['line_00.png', 'line_01.png']
    assert rows[0][1] == correction, rows                 # the correction typed in the browser
    assert rows[1][1].strip()                             # the model's proposal for the line left alone
    print(f'browser test took {time.time() - t0:.0f} s')


@pytest.fixture
def hwr_serve(tmp_path):
    "hwr-serve on a free port of 127.0.0.1; yields its base URL."
    port = _free_port()
    log = open(tmp_path/'serve.log', 'w')
    env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3', 'HWR_DATA_DIR': str(tmp_path/'data')}
    proc = subprocess.Popen([sys.executable, '-m', 'hwr.serve', '--port', str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None: pytest.fail(f'hwr-serve exited: {(tmp_path/"serve.log").read_text()[-3000:]}')
            try: urllib.request.urlopen(f'{url}/api/health', timeout=2); break
            except OSError:
                if time.time() > deadline: pytest.fail('hwr-serve did not start within 120 s')
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait()
        log.close()


def test_web_app_reads_a_drawing_and_an_upload(hwr_serve, tmp_path):
    "The hwr-serve page in Chromium: draw an L and read it as a character, upload a line and read it."
    from hwr.data.line_folder import write_stand_in
    from hwr.predict import LinePredictor
    line = write_stand_in(tmp_path/'lines', n=1, seed=3)/'line_00.png'
    expected = LinePredictor().predict(str(line))[0]
    with _page(tmp_path, 'web_app.png', (900, 700)) as (page, errors):
        page.goto(hwr_serve, wait_until='load')
        canvas = page.locator('#pad')
        box = canvas.bounding_box()
        at = lambda x, y: (box['x'] + x * box['width'] / 720, box['y'] + y * box['height'] / 200)
        page.mouse.move(*at(330, 30)); page.mouse.down()           # an "L", 140 px high, in one stroke
        for y in range(30, 171, 6): page.mouse.move(*at(330, y))
        for x in range(330, 421, 6): page.mouse.move(*at(x, 170))
        page.mouse.up()
        page.select_option('#model', 'char')
        page.click('#read')
        page.wait_for_function("() => document.querySelector('#conf').textContent.includes('confidence')", timeout=60_000)
        assert page.inner_text('#result').strip() == 'L', page.inner_text('#result')
        assert page.inner_text('#conf').startswith('char, confidence')
        page.select_option('#model', 'line')
        page.set_input_files('#file', str(line))
        page.wait_for_function("() => document.querySelector('#conf').textContent.startsWith('line,')", timeout=60_000)
        assert page.inner_text('#result').strip() == expected, (page.inner_text('#result'), expected)
        assert not errors and not page.inner_text('#error').strip(), (errors, page.inner_text('#error'))
