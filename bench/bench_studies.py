"""The full-size studies of the line recipe: line height, network size, with and without the CSAFE training lines.

    python bench/bench_studies.py [--studies NAME ...] [--pages N] [--json OUT] [--runs DIR]

Each study is the line recipe's quick version (`hwr.training.recipes.RECIPES['line']` with `quick=True`: 3 epochs of
its 30,000 synthetic lines, one cosine, no time budget: every study sees 90,000 lines) with one thing changed, then its
`real` stage (the CSAFE training writers' lines mixed into 3,000 synthetic ones). `h64` is that recipe unchanged: the
weights shipped before 2026-12-07, kept in `bench/weights/h64`. The `_more` studies instead go on from a first stage
already trained (another study's) for 3 epochs more, at half the last rate: longer training, paid for in steps; the
full recipe (`lr_decay=3`, 9 epochs) trains what `h64_more2` trained in one run. Both stages are
read on hands no stage trained on:

- the **real dev lines** (../shared/realink-dev, when present), greedy and beam + LM (`LM_BEAM_WIDTH` wide: the studies before 2026-12-07 read at 16);
- the **CSAFE test writers**: the kept lines of the LND pages, and the first `--pages` LND pages whole;
- the synthetic test lines in unseen fonts (the recipe's own score).

`synthetic` rows are the first stage (no real ink), `real` rows the same network after the real stage. Since
2026-12-07 `preprocess_line` levels each line (the real stage trains on levelled lines, and every reading levels them);
the studies recorded before were trained and read without it, so compare a new study with a re-read of the old. Times are
CPU minutes (this process's CPU time over the CPUs it may use) and wall minutes; for a stage that was stopped and
resumed, the wall minutes include the training time of the runs before (from the checkpoint), the CPU minutes only
the last run's. Each study writes its weights under
`--runs` and its figures into the results file as soon as a stage is read; a study whose figures are recorded is
skipped (`--again` trains it anew); a stage that was stopped goes on from its checkpoint (saved every 5 minutes). The LM's weights (alpha, beta) are the shipped ones, tuned for the shipped model.

Shipping a study that beats the shipped model on the dev lines and the CSAFE test writers (same decoder):
keep its weights in `bench/weights/NAME` (they are lost with the data folder otherwise; keep the shipped ones there
too, under their study's name, if they are not yet), copy its four files into
`hwr/weights`, make the recipe (`RECIPES['line']`) train what it trained, run `hwr-export` for the ONNX,
`evaluate_shipped_weights('line')`, `train_shipped_lm()` (it re-tunes alpha and beta for the new network),
`python -m bench --only realink csafe speed`, then re-run every notebook that reads the line weights
(`tests/nbrun.py`) and mend the quotes `check_figures()` lists.
"""
from __future__ import annotations
import argparse, datetime, json, os, sys
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_csafe import test_pages              # noqa: E402
from bench.bench_csafe_finetune import read_all       # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# what each study changes in the recipe (`train_shipped_weights` arguments); the recipe itself is 64 px, 1.1 M parameters
STUDIES = {
    'h64': {},                 # the quick recipe as it was shipped until 2026-12-07: its two stages' weights (bench/weights/h64) are read, not trained again
    'h32': {'line_height': 32},
    'h48': {'line_height': 48},
    'h32_wide': {'line_height': 32, 'network_args': {'conv_filters': [32, 64, 96, 128], 'lstm_dim': 192}},
    'h64_wide': {'network_args': {'conv_filters': [32, 64, 96, 128], 'lstm_dim': 192}},
    'h32_long': {'line_height': 32, 'epochs': 6},
    'h64_long': {'epochs': 6},
    # longer training at half the cost of h64_long: h64's first stage trained 3 epochs more (a warm restart of the
    # cosine schedule from half the recipe's learning rate), so its first stage has seen 180,000 lines in all
    'h64_more': {'init_weights': 'h64', 'train_args': {'learning_rate': 5e-4}},
    # and 3 more again from h64_more's first stage at half its rate again: 270,000 lines seen in three cosine cycles
    # (shipped on 2026-12-07; the full recipe's lr_decay=3 trains the same schedule in one run)
    'h64_more2': {'init_weights': 'h64_more', 'train_args': {'learning_rate': 2.5e-4}},
    # a fourth cosine, from h64_more2's first stage at 1.25e-4: where longer training stops paying
    'h64_more3': {'init_weights': 'h64_more2', 'train_args': {'learning_rate': 1.25e-4}},
    # h64_more3's schedule on 30,000 lines it has not seen (another seed: other sentences of the corpus's training
    # split, drawn again in the training fonts; the same held-out fonts and sentences for its test): new data or more epochs?
    'h64_fresh': {'init_weights': 'h64_more2', 'train_args': {'learning_rate': 1.25e-4}, 'dataset_args': {'seed': 1}},
}
FIRST_STAGE_ONLY = ('epochs', 'init_weights', 'train_args', 'dataset_args')   # the real stage keeps its own recipe for these


def _save(path: Path, name: str, record: dict):
    "Write one study's record into the results file, keeping the others (several runs may share the file)."
    from filelock import FileLock
    with FileLock(str(path) + '.lock', timeout=60):
        results = json.loads(path.read_text()) if path.is_file() else {}
        results[name] = record
        tmp = path.with_suffix(f'.part{os.getpid()}'); tmp.write_text(json.dumps(results, indent=1)); os.replace(tmp, path)


def study_weights(name: str, runs: Path) -> Path:
    "The folder of study `name`'s weights: where this machine trained it (`runs`), else the copy kept in `bench/weights`."
    from hwr.training.recipes import first_stage_weights
    try: first_stage_weights('line', runs/name); return runs/name    # its first stage is there
    except FileNotFoundError: return ROOT/'bench'/'weights'/name


def run_study(name: str, out_dir: Path, pages, n_pages: int, record: dict, save) -> dict:
    "Train both stages of study `name` into `out_dir`, reading each; `save()` is called after every stage."
    from hwr.models.base import elapsed_clock
    from hwr.registry import SHIPPED
    from hwr.training.recipes import train_shipped_weights
    from hwr.util import sigterm_as_interrupt
    args = STUDIES[name]
    for stage in ('synthetic', 'real'):
        if stage in record: continue
        if name == 'h64':                          # the quick recipe itself: its kept weights of each stage, read the same way
            from hwr.registry import weights_info
            from hwr.training.recipes import first_stage_weights
            kept = study_weights(name, out_dir.parent)
            weights = first_stage_weights('line', kept) if stage == 'synthetic' else kept/f"{SHIPPED['line']}.weights.h5"
            info = weights_info('line', weights)
            record[stage] = {'train_cpu_min': None, 'train_wall_min': round(info['train_seconds'] / 60, 1), 'params': info['params'], 'input_height': info['input_shape'][0],
                             'train_seconds': info['train_seconds'], 'history': info['history'],
                             'synthetic_test_cer': info['metrics']['test_cer'], **read_all(weights, pages, n_pages)}
            save(); print(name, stage, json.dumps({k: v for k, v in record[stage].items() if k != 'history'}), flush=True)
            continue
        wall, cpu = elapsed_clock('wall'), elapsed_clock('cpu')
        stage_args = dict(args) if stage == 'synthetic' else {k: v for k, v in args.items() if k not in FIRST_STAGE_ONLY}
        if 'init_weights' in stage_args:       # another study's name: that one's first stage goes on
            from hwr.training.recipes import first_stage_weights
            stage_args['init_weights'] = first_stage_weights('line', study_weights(stage_args['init_weights'], out_dir.parent))
        with sigterm_as_interrupt():               # a kill saves the checkpoint at once, as Ctrl-C does
            info = train_shipped_weights('line', out_dir, max_minutes=0, onnx=False, verbose=0, resume=True, quick=stage == 'synthetic',
                                         stage=None if stage == 'synthetic' else 'real', **stage_args)
        rec = {'train_cpu_min': round(cpu() / 60, 1), 'train_wall_min': round(max(wall(), info['train_seconds']) / 60, 1), 'params': info['params'],
               'input_height': info['input_shape'][0], 'train_seconds': info['train_seconds'],
               'history': info['history'], 'synthetic_test_cer': info['metrics']['test_cer']}
        rec.update(read_all(out_dir/f"{SHIPPED['line']}.weights.h5", pages, n_pages))
        record[stage] = rec
        save()
        print(name, stage, json.dumps({k: v for k, v in rec.items() if k != 'history'}), flush=True)
    return record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--studies', nargs='+', default=['h32', 'h48', 'h64_long', 'h64_wide'], choices=list(STUDIES))
    ap.add_argument('--pages', type=int, default=12, help='LND pages read whole (default 12; all their lines are read regardless)')
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'studies.json'), help='results file (updated stage by stage)')
    ap.add_argument('--runs', default=str(ROOT/'data'/'runs'/'studies'), help='where each study writes its weights')
    ap.add_argument('--again', action='store_true', help='train studies whose figures are already recorded anew')
    a = ap.parse_args(argv)
    from hwr.training.recipes import check_recipe_fonts
    try: check_recipe_fonts('line')          # a study trains on the shipped recipe's fonts, or it is no comparison
    except RuntimeError as e:
        print(f"a study would train on other data than the shipped recipe: {e}", file=sys.stderr)
        return 2
    pages = test_pages()
    if pages is None: return 0
    path = Path(a.json)
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in a.studies:
        record = {} if a.again else results.get(name, {})
        record.update(date=datetime.date.today().isoformat(), changes=STUDIES[name])
        try: run_study(name, Path(a.runs)/name, pages, a.pages, record, lambda: _save(path, name, record))
        except KeyboardInterrupt:
            print(f"stopped during {name}; its checkpoint is saved and the same command goes on from it", file=sys.stderr, flush=True)
            return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
