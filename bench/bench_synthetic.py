"""Throughput of hwr's synthetic handwriting generators on this machine.

    python bench/bench_synthetic.py [--chars N] [--lines N] [--repeat R]

Prints characters/s (28x28, `synthetic_characters`), lines/s of the first renderer (28x320, up to
32 characters, `synthetic_lines`) and of written-looking lines (64 px, 8-64 characters, drawn and
preprocessed by `ink_lines`, a tenth as many lines per run), the best of R runs, after a warm-up
that builds the glyph banks and loads the corpus (reported separately: a one-off cost per
process). Single process (the line datasets use one process per CPU).
Two rates are printed: per wall-clock second (what you wait) and per CPU second used by this
process (what the code costs; the same on a busy shared machine, where wall-clock rates drop).
"""
from __future__ import annotations
import argparse, os, platform, time

import numpy as np


def best_rate(fn, n, repeat):
    "Items per wall-clock second and per CPU second of this process, best of `repeat` calls of fn()."
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time(); fn()
        wall.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
    return n / min(wall), n / min(cpu)


def measure(n_chars: int = 20_000, n_lines: int = 1_000, repeat: int = 3) -> dict:
    "Setup seconds, and (wall, CPU) rates for characters and lines: what `main` prints and `python -m bench` tabulates."
    from hwr.data.render import glyph_bank, list_fonts, line_font
    from hwr.data.corpus import load_corpus, sample_lines
    from hwr.data.synthetic import synthetic_characters, synthetic_lines, ink_lines

    fonts = [f for f in list_fonts() if f != 'kalam']
    t0 = time.perf_counter()
    glyph_bank(); [line_font(f) for f in list_fonts()]
    texts = sample_lines(load_corpus()['train'], n_lines, max_length=32, seed=0)
    ink_texts = sample_lines(load_corpus()['train'], max(1, n_lines // 10), max_length=64, min_length=8, seed=0)
    glyph_bank(tuple(sorted(fonts))); ink_lines(ink_texts[:len(fonts)], fonts, seed=0, workers=1)   # every font's glyphs, once
    setup = time.perf_counter() - t0
    return {'setup': setup,
            'chars': best_rate(lambda: synthetic_characters(n_chars, fonts, seed=0), n_chars, repeat),
            'lines': best_rate(lambda: synthetic_lines(texts, fonts, seed=0), n_lines, repeat),
            'ink_lines': best_rate(lambda: ink_lines(ink_texts, fonts, seed=0, workers=1), len(ink_texts), repeat),
            'n_ink': len(ink_texts)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--chars', type=int, default=20_000, help='characters per run')
    p.add_argument('--lines', type=int, default=1_000, help='lines per run')
    p.add_argument('--repeat', type=int, default=3, help='runs; the best is reported')
    a = p.parse_args(argv)
    m = measure(a.chars, a.lines, a.repeat)
    setup, chars, lines = m['setup'], m['chars'], m['lines']
    print(f'machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, numpy {np.__version__}')
    print(f'setup (glyph banks + corpus, once per process): {setup:.1f} s')
    print(f'load average: {", ".join(f"{l:.1f}" for l in os.getloadavg())}')
    print(f'characters/s: {chars[0]:,.0f} wall, {chars[1]:,.0f} per CPU second   (28x28, {a.chars:,} per run, best of {a.repeat})')
    print(f'lines/s:      {lines[0]:,.0f} wall, {lines[1]:,.0f} per CPU second   (clean, 28x320, max_length 32, {a.lines:,} per run, best of {a.repeat})')
    print(f"ink lines/s:  {m['ink_lines'][0]:,.1f} wall, {m['ink_lines'][1]:,.1f} per CPU second   (ink, 64 px, 8-64 chars, {m['n_ink']:,} per run, one process)")


if __name__ == '__main__':
    main()
