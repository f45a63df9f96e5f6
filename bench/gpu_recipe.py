"""The shipped line recipe on a GPU: both stages with mixed precision and larger batches, then read like the shipped weights.

    python bench/gpu_recipe.py [--out-dir DIR] [--line-height H] [--batch-size 128] [--max-minutes 8] [--json OUT]
    python bench/gpu_recipe.py --tiny --out-dir /tmp/gpu_smoke      # the same path on a CPU, with tiny data (the test)

What changes against the CPU recipe, and why:

- **mixed precision**: convolutions and LSTMs in 16 bits on the tensor cores, the weights, the softmax and the CTC loss
  in float32. `--precision bfloat16` (the default: A100, H100 and later; no loss scaling needed) or `float16` (V100, T4:
  Keras then scales the loss so small gradients survive). On a CPU float16 is emulated and some 25 times slower than
  float32; bfloat16 runs at about half float32's speed on one with AVX-512 BF16, which is how the test runs;
- **batches of 128 lines** instead of 16, the learning rate scaled by the square root of the batch ratio
  (1e-3 -> 2.8e-3; the real stage 3e-4 -> 8.5e-4), annealed to zero as in the recipe;
- the same lines and schedule (9 epochs of 30,000 synthetic lines in three cosines, then the real stage; the
  first stage within `--max-minutes`, its cosines spread over the budget if it ends first), with checkpoints every
  2 minutes and `resume`, so a lease that ends mid-run loses at most two minutes.

It trains the first stage, then the `real` stage (the CSAFE training writers' lines in a mix, when they can be had),
and writes the weights and their JSON to `--out-dir` (never over hwr's own weights unless `--out-dir` names them).
The figures (minutes per stage, synthetic test CER) go to stdout and `--json`. Read the result on real lines with
`python bench/bench_realink.py --weights OUT_DIR/LineModelCtc_SyntheticLinesDataset_crnn.weights.h5`.
"""
from __future__ import annotations
import argparse, json, math, os, sys, time
from pathlib import Path

os.environ.setdefault('WANDB_MODE', 'disabled')
import hwr  # noqa: E402,F401  (first: hwr keeps TensorFlow's start-up log off stderr)

BASE_BATCH, BASE_LR, REAL_LR = 16, 1e-3, 3e-4       # the CPU recipe's batch size and learning rates
TINY = {'num_train': 48, 'num_test': 8}


def _gpus() -> list:
    import tensorflow as tf
    return tf.config.list_physical_devices('GPU')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out-dir', required=True, help='where the weights go (a folder; created if missing)')
    ap.add_argument('--line-height', type=int, default=None, help='the network\'s input height (default: the recipe\'s)')
    ap.add_argument('--batch-size', type=int, default=128, help='lines per batch (default 128)')
    ap.add_argument('--max-minutes', type=float, default=8.0, help='time budget of the first stage in minutes (default 8; 0: none)')
    ap.add_argument('--precision', choices=('bfloat16', 'float16'), default='bfloat16', help='16-bit type (default bfloat16)')
    ap.add_argument('--json', default=None, help='also write the figures to this JSON file')
    ap.add_argument('--tiny', action='store_true', help='tiny data, one epoch a stage: the whole path on a CPU in a minute (a test)')
    a = ap.parse_args(argv)
    if not 1 <= a.batch_size <= 4096: ap.error(f"--batch-size must be between 1 and 4096, got {a.batch_size}")
    if not 0 <= a.max_minutes <= 600: ap.error(f"--max-minutes must be between 0 and 600, got {a.max_minutes}")
    gpus = _gpus()
    if not gpus and not a.tiny:
        print("gpu_recipe: TensorFlow sees no GPU here (tensorflow[and-cuda] and an NVIDIA driver are needed); "
              "on a CPU train with: hwr-train-recipe line", file=sys.stderr)
        return 1
    from hwr.training.recipes import train_shipped_weights
    scale = math.sqrt(a.batch_size / BASE_BATCH)
    common = dict(precision=f'mixed_{a.precision}', onnx=False, resume=True, checkpoint_minutes=2.0, line_height=a.line_height, verbose=2,
                  n_check=4 if a.tiny else None)
    out, figures = Path(a.out_dir), {'device': [g.name for g in gpus] or ['cpu'], 'batch_size': a.batch_size, 'tiny': a.tiny}
    stages = (('synthetic', dict(max_minutes=a.max_minutes, train_args={'batch_size': a.batch_size, 'learning_rate': BASE_LR * scale},
                                 **({'dataset_args': TINY, 'epochs': 1} if a.tiny else {}))),
              ('real', dict(stage='real', max_minutes=0, train_args={'batch_size': a.batch_size, 'learning_rate': REAL_LR * scale},
                            **({'dataset_args': {'parts': [{'dataset': 'SyntheticLinesDataset', 'dataset_args': TINY, 'take': 32},
                                                           {'dataset': 'SyntheticLinesDataset', 'dataset_args': {**TINY, 'seed': 3}, 'repeat': 2}]},
                                'epochs': 1} if a.tiny else {}))))
    for name, args in stages:
        t = time.perf_counter()
        try: info = train_shipped_weights('line', out, **common, **args)
        except (OSError, ValueError, RuntimeError) as e:
            print(f"gpu_recipe: the {name} stage stopped: {e}", file=sys.stderr); return 2
        figures[name] = {'minutes': round((time.perf_counter() - t) / 60, 2), 'train_seconds': info['train_seconds'],
                         'stopped_early': info['stopped_early'], 'precision': info['precision'],
                         'learning_rate': info['train_args']['learning_rate'], 'test_cer': info['metrics']['test_cer']}
        print(name, json.dumps(figures[name]), flush=True)
    if a.json:
        tmp = Path(a.json).with_suffix('.part'); tmp.write_text(json.dumps(figures, indent=1)); os.replace(tmp, a.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
