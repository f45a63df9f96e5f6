"""Fine-tuning on one writer's real lines: CER on that writer's other lines before and after.

    python bench/bench_finetune.py [--writers cvl iam013] [--train 6] [--epochs N] [--json OUT]

For each writer of the real dev set (../shared/realink-dev) with enough lines (the CVL writer's
11 lines of Flatland; IAM writer 013's 11 lines of form a01-063), the first `--train` lines (in
file-name order) are the training lines and the rest the test lines. The shipped line model reads
the test lines (greedy, and beam search with the language model), is fine-tuned from the shipped
weights with `hwr.data.line_folder.fine_tune_config` (a `LineFolderDataset` over a labels file in a
temporary folder that points at the dev images; nothing is copied) through `run_experiment`, and
reads them again. This is the one use of the dev lines for training that their README allows; the
lines trained on here are not used by any other figure.
"""
from __future__ import annotations
import argparse, json, os, sys, tempfile, time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_realink import load_realink                     # noqa: E402

WRITERS = {'cvl': lambda l: l['group'] == 'CVL', 'iam013': lambda l: l['group'] == 'IAM a01-063'}


def finetune_writer(lines: list[dict], n_train: int, epochs: int | None = None, freeze_conv: bool = False,
                    learning_rate: float | None = None) -> dict:
    "Fine-tune on the first `n_train` of `lines`, score on the rest: CER before and after, greedy and with the LM."
    from hwr.data.line_folder import fine_tune_config
    from hwr.metrics import cer
    from hwr.predict import LinePredictor
    from hwr.training.run_experiment import run_experiment
    lines = sorted(lines, key=lambda l: l['filename'])
    train, test = lines[:n_train], lines[n_train:]
    truth = [l['text'] for l in test]
    paths = [str(l['path']) for l in test]
    def read(weights=None):
        out = {}
        for name, lm in (('greedy', None), ('beam+LM', 'shipped')):
            out[name] = cer(truth, [t for t, _ in LinePredictor(weights, lm=lm).predict_batch(paths)])
        return out
    before = read()
    with tempfile.TemporaryDirectory() as d:
        (Path(d)/'labels.tsv').write_text('file\ttext\n' + ''.join(f"{l['path']}\t{l['text']}\n" for l in lines), encoding='utf-8')
        config = fine_tune_config(d, test_files=[l['filename'] for l in test])
        if epochs: config['train_args']['epochs'] = epochs
        config['train_args']['freeze_conv'] = freeze_conv
        if learning_rate: config['train_args']['learning_rate'] = learning_rate
        t = time.time()
        res = run_experiment(config, save=True, save_dir=Path(d)/'run', use_wandb=False, verbose=False)
        minutes = (time.time() - t) / 60
        after = read(res.saved['weights'])
    return {'train_lines': len(train), 'test_lines': len(test), 'test_chars': sum(map(len, truth)), 'before': before, 'after': after,
            'minutes': round(minutes, 1), 'train_args': config['train_args'],
            'relative_change_greedy': (after['greedy'] - before['greedy']) / before['greedy']}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--writers', nargs='+', default=list(WRITERS), choices=list(WRITERS))
    ap.add_argument('--train', type=int, default=6, help='training lines per writer (the rest are test lines)')
    ap.add_argument('--epochs', type=int, default=None, help='override FINE_TUNE_TRAIN_ARGS epochs')
    ap.add_argument('--lr', type=float, default=None, help='override FINE_TUNE_TRAIN_ARGS learning_rate')
    ap.add_argument('--freeze-conv', action='store_true', help='train only the recurrent layers and the classifier')
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    lines = load_realink()
    if lines is None: return 0
    out = {}
    for w in a.writers:
        mine = [l for l in lines if WRITERS[w](l)]
        r = out[w] = finetune_writer(mine, a.train, a.epochs, a.freeze_conv, a.lr)
        print(f"{w}: {r['train_lines']} lines to train, {r['test_lines']} to test ({r['test_chars']} characters), {r['minutes']} min: "
              f"CER greedy {r['before']['greedy']:.3f} -> {r['after']['greedy']:.3f} ({100 * r['relative_change_greedy']:+.0f} %), "
              f"beam+LM {r['before']['beam+LM']:.3f} -> {r['after']['beam+LM']:.3f}", flush=True)
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
