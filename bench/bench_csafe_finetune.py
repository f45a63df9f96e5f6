"""Real ink as training data: the line model trained on fonts (the recipe's first stage) fine-tuned on the CSAFE training writers' lines, read on other hands.

    python bench/bench_csafe_finetune.py [--variants NAME ...] [--pages N] [--json OUT]

Each variant starts from the first-stage line weights (`first_stage_weights('line')`, synthetic lines only) and trains through `run_experiment` on the kept,
labelled lines of the CSAFE WOZ pages (`CsafeDataset`'s training split: 49 writers copying one
text), alone or mixed into the shipped recipe's synthetic lines (`MixedLinesDataset`), then reads hands it never saw:

- the **CSAFE test writers**: the kept lines of the LND pages (other writers, another text), and
  the first `--pages` LND pages whole (segmentation + the line model), greedy and beam + LM
  (`LM_BEAM_WIDTH` wide: 16 in the runs before 2026-12-07, 32 since);
- the **real dev lines** (../shared/realink-dev, when present): other writers, other texts, other
  scanners, greedy and beam + LM.

The first-stage model is read the same way (`synthetic`), so every figure has its before beside it; `shipped` reads
the shipped model (since 2026-12-06 the `mix_real3` recipe, as the recipe's `real` stage).
Training time is in CPU minutes (this process's CPU time over the CPUs it may use) and wall minutes.
Nothing here trains on an LND page or a dev line.
"""
from __future__ import annotations
import argparse, copy, datetime, json, os, sys
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_csafe import evaluate_hwr_lines, evaluate_hwr_pages, test_pages   # noqa: E402
from bench.bench_realink import evaluate_hwr, load_realink                         # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CSAFE = {'dataset': 'CsafeDataset', 'dataset_args': {}}
# the shipped recipe's synthetic lines (its 2,000 test lines, in unseen fonts, are the mix's test split), 3,000 of its training lines
SYNTH = {'dataset': 'SyntheticLinesDataset', 'dataset_args': {'num_train': 30_000, 'num_test': 2_000}, 'take': 3000}

def _config(parts=None, **train) -> dict:
    from hwr.training.recipes import first_stage_weights
    c = {'model': 'LineModelCtc', 'network': 'crnn', 'init_weights': str(first_stage_weights('line')),
         'train_args': {'batch_size': 16, 'epochs': 3, 'learning_rate': 3e-4, 'lr_decay': True, 'augment': True,
                        'validation_fraction': 0, 'freeze_conv': False, **train}}
    if parts is None: c.update(dataset='CsafeDataset', dataset_args={})
    else: c.update(dataset='MixedLinesDataset', dataset_args={'parts': parts})
    return c

VARIANTS = {
    # real lines alone, let in gently: convolutions frozen, a low learning rate
    'real_frozen': _config(None, batch_size=4, epochs=10, learning_rate=1e-4, freeze_conv=True),
    # real lines as about 28 % of a mix with 3,000 synthetic lines, the whole network at a tenth of the recipe's learning rate
    'mix_real3': _config([SYNTH, {**CSAFE, 'repeat': 3}]),
    # the same mix with the convolutions frozen
    'mix_real3_frozen': _config([SYNTH, {**CSAFE, 'repeat': 3}], freeze_conv=True),
    # synthetic lines alone, same budget: does any gain come from the real ink, or from more training?
    'synth_only': _config([{**SYNTH, 'take': 4146}]),
}


def read_all(weights, pages, n_pages: int) -> dict:
    "CSAFE test lines and the first `n_pages` test pages, and the dev lines when present: CER greedy and beam `LM_BEAM_WIDTH` + LM."
    out = {}
    lines = evaluate_hwr_lines(pages, weights)
    if lines: out['csafe_lines'] = {k: round(v['cer'], 4) for k, v in lines.items() if isinstance(v, dict)}
    runs = evaluate_hwr_pages(pages[:n_pages], weights)
    out[f'csafe_pages_first{n_pages}'] = {k: round(v['page_cer'], 4) for k, v in runs.items()}
    dev = load_realink()
    if dev is not None:
        runs = evaluate_hwr(dev, weights, beam_widths=(1,))['runs']
        out['dev_lines'] = {k: round(v['overall']['cer'], 4) for k, v in runs.items()}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=['synthetic', 'shipped', *VARIANTS])
    ap.add_argument('--pages', type=int, default=12, help='LND pages read whole (default 12; all lines of the 47 are read regardless)')
    ap.add_argument('--json', default=str(ROOT/'bench'/'results'/'csafe_finetune.json'), help='results file (updated variant by variant)')
    ap.add_argument('--runs', default=str(ROOT/'data'/'runs'/'csafe_finetune'), help='where the fine-tuned weights are written')
    a = ap.parse_args(argv)
    pages = test_pages()
    if pages is None: return 0
    from hwr.models.base import elapsed_clock
    from hwr.training.run_experiment import run_experiment
    path = Path(a.json)
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in a.variants:
        rec = {'date': datetime.date.today().isoformat()}
        weights = None
        if name == 'synthetic':
            from hwr.training.recipes import first_stage_weights
            weights = first_stage_weights('line')
        elif name != 'shipped':
            config = copy.deepcopy(VARIANTS[name])
            wall, cpu = elapsed_clock('wall'), elapsed_clock('cpu')
            res = run_experiment(config, save=True, save_dir=Path(a.runs)/name, use_wandb=False, verbose=False)
            rec.update(config=config, train_wall_min=round(wall() / 60, 1), train_cpu_min=round(cpu() / 60, 1),
                       train_lines=int(len(res.dataset.x_train)), history={k: [round(x, 4) for x in v] for k, v in res.history.items()}
                       if isinstance(res.history, dict) else None, weights=str(res.saved['weights']))
            if hasattr(res.dataset, 'describe'): rec['data'] = res.dataset.describe()
            rec['test_cer'] = round(float(res.test_metric), 4)      # on the first part's test split (synthetic lines in unseen fonts for a mix)
            weights = res.saved['weights']
        rec.update(read_all(weights, pages, a.pages))
        results[name] = rec
        tmp = path.with_suffix('.part'); tmp.write_text(json.dumps(results, indent=1)); os.replace(tmp, path)
        print(name, json.dumps({k: v for k, v in rec.items() if k not in ('config', 'history')}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
