"""What each change to the synthetic lines buys on real handwriting: a leave-one-out ablation.

    python bench/bench_ablation.py [--num-train 5000] [--epochs 3] [--budget 0] [--parallel 2] [--only NAME ...] [--json PATH]

Every variant trains the line recipe's network in its quick version (`RECIPES['line']`, `quick=True`: one cosine of
the learning rate; from random weights) on
its own `SyntheticLinesDataset` of `--num-train` lines for `--epochs` epochs (or, with `--budget`,
for that many minutes at most: a time budget ranks recipes unfairly when other work shares the
CPU, a fixed number of lines seen does not), then reads the real
dev lines in `../shared/realink-dev` (greedy and beam 10, per source and overall; see
bench_realink.py) and its own held-out synthetic test lines. The variants are the recipe itself,
the recipe with one of its four changes undone (fonts, ink, text, resolution), and all four undone
(the first renderer's recipe, for reference). Small runs rank recipes; they do not reach the
figures of the quick recipe (3 epochs of 30,000 lines, 70 minutes). `--parallel 2` runs two variants at a time, one CPU thread
each. Without the dev lines it prints the skip message and exits 0.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')
sys.path.insert(0, str(Path(__file__).resolve().parent))

OLD_FONTS = ['caveat', 'dancing_script', 'delius', 'indie_flower', 'permanent_marker', 'shadows_into_light', 'zeyada']
VARIANTS = {   # name -> (dataset arguments changed from the recipe's, what that undoes)
    'recipe': ({}, 'all four changes: 127 fonts, ink, English prose, 64 px'),
    'fonts': ({'train_fonts': OLD_FONTS}, "the 7 training fonts of the first recipe instead of every available one"),
    'ink': ({'style': 'clean', 'image_height': 64, 'max_length': 64, 'min_length': 8, 'image_width': 1488},   # the clean style's own defaults are 28 px, 32 characters
            "the first renderer (clean glyphs, one jitter per line, no preprocessing) at 64 px"),
    'text': ({'corpus': 'pydoc'}, "Python's documentation instead of English prose"),
    'resolution': ({'image_height': 28}, "28-pixel lines instead of 64"),
    'resolution48': ({'image_height': 48}, "48-pixel lines instead of 64"),
    'before': ({'style': 'clean', 'train_fonts': OLD_FONTS, 'corpus': 'pydoc', 'image_height': 28, 'max_length': 64,
                'image_width': 640}, "all four undone: the first recipe's data"),
}


def run_one(name: str, budget: float, num_train: int, out: Path, epochs: int | None = None) -> dict:
    "Train and score one variant in this process; writes and returns its result."
    from hwr.registry import SHIPPED
    from hwr.training.recipes import RECIPES, train_shipped_weights
    import bench_realink as rl
    args, undoes = VARIANTS[name]
    # every variant renders its own `num_train` lines: the recipe's dataset arguments with this variant's changes
    dataset_args = {**RECIPES['line']['dataset_args'], 'num_train': num_train, 'num_test': 300, 'workers': 1, **args}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.time()
        info = train_shipped_weights('line', d, epochs=epochs, dataset_args=dataset_args, max_minutes=budget, n_check=100, verbose=0, quick=True)
        weights = Path(d)/f"{SHIPPED['line']}.weights.h5"
        lines = rl.load_realink()
        real = rl.evaluate_hwr(lines, weights, beam_widths=(1, 10)) if lines else None
    res = {'variant': name, 'undoes': undoes, 'dataset_args': dataset_args, 'budget_minutes': budget, 'epochs': len(info['history']['loss']),
           'train_seconds': info['train_seconds'], 'wall_seconds': round(time.time() - t0), 'params': info['params'],
           'synthetic_test': info['metrics'], 'realink': real, 'history': info['history']}
    out.write_text(json.dumps(res, indent=1))
    return res


def overall(res: dict, decoder: str) -> float | None:
    r = res.get('realink')
    return None if not r else r['runs'][decoder]['overall']['cer']


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description='Leave-one-out ablation of the line recipe on the real dev lines.')
    ap.add_argument('--budget', type=float, default=0.0, help='most training minutes per variant (0: no limit, train --epochs)')
    ap.add_argument('--epochs', type=int, default=None, help="epochs per variant (default: the recipe's)")
    ap.add_argument('--num-train', type=int, default=5000)
    ap.add_argument('--parallel', type=int, default=2)
    ap.add_argument('--only', nargs='*', choices=list(VARIANTS))
    ap.add_argument('--json', default=None, help='write all results here')
    ap.add_argument('--one', choices=list(VARIANTS), help=argparse.SUPPRESS)
    ap.add_argument('--out', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        run_one(a.one, a.budget, a.num_train, Path(a.out), a.epochs); return 0
    import bench_realink as rl
    msg = rl.missing_message()
    if msg: print(msg); return 0
    names = a.only or list(VARIANTS)
    tmp = Path(tempfile.mkdtemp(prefix='hwr-ablation-'))
    env = {**os.environ, 'TF_NUM_INTRAOP_THREADS': '1', 'TF_NUM_INTEROP_THREADS': '1', 'OMP_NUM_THREADS': '1'}
    def launch(name):
        out = tmp/f'{name}.json'
        with open(tmp/f'{name}.log', 'w') as log:
            subprocess.run([sys.executable, __file__, '--one', name, '--out', str(out), '--budget', str(a.budget),
                            '--num-train', str(a.num_train)] + (['--epochs', str(a.epochs)] if a.epochs else []), env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if not out.exists(): print(f"{name}: failed, see {tmp/f'{name}.log'}", flush=True); return None
        r = json.loads(out.read_text())
        print(f"{name:11s} dev CER greedy {overall(r, 'greedy'):.3f}  beam {overall(r, 'beam 10'):.3f}  "
              f"synthetic test CER {r['synthetic_test']['test_cer']:.3f}", flush=True)
        return r
    with ThreadPoolExecutor(a.parallel) as pool: results = [r for r in pool.map(launch, names) if r]
    print(f"\n| variant | what it changes | dev CER greedy | dev CER beam 10 | synthetic test CER |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['variant']} | {r['undoes']} | {overall(r, 'greedy'):.3f} | {overall(r, 'beam 10'):.3f} | {r['synthetic_test']['test_cer']:.3f} |")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps({'date': time.strftime('%Y-%m-%d'), 'budget_minutes': a.budget, 'epochs': a.epochs,
                                            'num_train': a.num_train, 'results': results}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
