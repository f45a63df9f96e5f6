"""Line recognition on this machine: test CER within a training-time budget, and the speed of training and reading.

    python bench/bench_lines.py [--dataset SyntheticLinesDataset] [--dataset-args JSON]
                                [--network crnn] [--network-args JSON] [--budget 1200]
                                [--batch-size 32] [--learning-rate LR] [--beam-width 10] [--infer-lines 256]
                                [--emnist-lines-budget 0] [--save] [--json PATH]

1. Trains `LineModelCtc` with `--network` on `--dataset` (default `SyntheticLinesDataset`:
   20,000 training lines in 7 fonts; 2,000 test lines of unseen sentences in the held-out font
   Kalam) for at most `--budget` seconds of `fit` (5% of the training lines held out for
   validation; the learning rate is cosine-annealed to zero over the budget), then prints the test CER with greedy and with beam-search decoding (plus WER,
   line accuracy and FSDL's per-line character accuracy), training lines/s and inference
   ms/line for both decoders (network forward pass plus decoding, batches of 64).
2. With `--emnist-lines-budget S > 0`, does the same on `EmnistLinesDataset` built from
   synthetic characters (28 × 952 lines, glyphs overlapped by up to 0.33), training for S seconds.

Data generation and loading are not part of the timed numbers. The machine may be shared: the
load average is printed with the results, and timings move with it.
"""
from __future__ import annotations
import argparse, json, os, platform, time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('WANDB_MODE', 'disabled')

import numpy as np


def load(): return os.getloadavg()[0]


def bench(dataset: str, dataset_args: dict, network: str, network_args: dict, budget: float, a) -> dict:
    from hwr.data.base import decode, get_dataset
    from hwr.models.line import LineModelCtc
    from hwr.metrics import text_scores

    t0 = time.perf_counter()
    data = get_dataset(dataset, dataset_args).load_or_generate_data()
    print(f"\n== {dataset} {dataset_args or ''}: train {data.x_train.shape}, test {data.x_test.shape} "
          f"({time.perf_counter() - t0:.0f} s to generate or load)", flush=True)
    if a.learning_rate: LineModelCtc.learning_rate = a.learning_rate
    model = LineModelCtc(None, network, dataset=data, network_args=network_args)
    print(model, flush=True)
    counter = BatchCounter()
    t0 = time.perf_counter()
    hist = model.fit(batch_size=a.batch_size, epochs=1000, validation_fraction=0.05, time_limit=budget, verbose=2,
                     callbacks=[counter], lr_decay=not a.no_lr_decay)
    train_s = time.perf_counter() - t0
    steps = len(hist.epoch)  # epochs started
    lines_seen = counter.batches * a.batch_size
    print(f"trained {train_s:.0f} s (budget {budget:.0f} s), {steps} epoch(s) started, about {lines_seen:,} lines seen, "
          f"{lines_seen / train_s:.1f} lines/s including validation (load average {load():.1f})", flush=True)

    truths = [decode(y) for y in data.y_test]
    res = {'dataset': dataset, 'dataset_args': dataset_args, 'network': network, 'network_args': network_args,
           'params': model.network.count_params(), 'train_seconds': train_s, 'epochs_started': steps,
           'train_lines_per_s': lines_seen / train_s, 'batch_size': a.batch_size, 'test_lines': len(truths),
           'date': time.strftime('%Y-%m-%d'), 'load_average': load()}
    for strategy in ('greedy', 'beam_search'):
        texts, _ = model.predict_text(data.x_test, strategy=strategy, beam_width=a.beam_width)
        res[strategy] = text_scores(truths, texts)
        x = data.x_test[:a.infer_lines]
        model.predict_text(x[:64], strategy=strategy, beam_width=a.beam_width)        # warm up
        t = time.perf_counter(); model.predict_text(x, strategy=strategy, beam_width=a.beam_width)
        res[strategy]['ms_per_line'] = 1000 * (time.perf_counter() - t) / len(x)
    for strategy in ('greedy', 'beam_search'):
        s = res[strategy]
        name = strategy if strategy == 'greedy' else f'beam {a.beam_width}'
        print(f"  test {name:8s}: CER {s['cer']:.4f}  WER {s['wer']:.4f}  lines right {s['line_accuracy']:.3f}  "
              f"FSDL char acc {s['fsdl_char_accuracy']:.4f}  inference {s['ms_per_line']:.2f} ms/line", flush=True)
    examples = [(t, p) for t, p in zip(truths[:200], model.predict_text(data.x_test[:200])[0]) if t != p][:5]
    for t, p in examples: print(f"    true {t!r}\n    read {p!r}")
    if a.save: print('weights:', model.save_weights())
    return res


def BatchCounter():
    "A Keras callback counting training batches."
    import keras
    class _BatchCounter(keras.callbacks.Callback):
        batches = 0
        def on_train_batch_end(self, batch, logs=None): self.batches += 1
    return _BatchCounter()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', default='SyntheticLinesDataset')
    ap.add_argument('--dataset-args', type=json.loads, default={})
    ap.add_argument('--network', default='crnn')
    ap.add_argument('--network-args', type=json.loads, default={})
    ap.add_argument('--budget', type=float, default=1200, help='seconds of training (default 1200 = 20 minutes)')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--learning-rate', type=float, default=None, help='Adam learning rate (default: LineModelCtc.learning_rate)')
    ap.add_argument('--no-lr-decay', action='store_true', help='keep the learning rate constant (default: cosine-anneal it to zero over the budget)')
    ap.add_argument('--beam-width', type=int, default=10)
    ap.add_argument('--infer-lines', type=int, default=256, help='test lines timed for inference')
    ap.add_argument('--emnist-lines-budget', type=float, default=0, help='also train on EmnistLinesDataset for this many seconds')
    ap.add_argument('--emnist-lines-args', type=json.loads, default={})
    ap.add_argument('--emnist-network-args', type=json.loads, default={'width_downsample': 8})
    ap.add_argument('--save', action='store_true', help='save the trained weights (artifacts/)')
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    a = ap.parse_args()

    import keras
    print(f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {load():.1f}; Keras {keras.__version__}", flush=True)
    results = [bench(a.dataset, a.dataset_args, a.network, a.network_args, a.budget, a)]
    if a.emnist_lines_budget > 0:
        results.append(bench('EmnistLinesDataset', a.emnist_lines_args, a.network, a.emnist_network_args, a.emnist_lines_budget, a))
    if a.json:
        with open(a.json, 'w') as f: json.dump(results, f, indent=1)
        print('results:', a.json)


if __name__ == '__main__':
    main()
