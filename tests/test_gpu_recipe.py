"""The GPU recipe (bench/gpu_recipe.py) run end to end on a CPU with tiny data: both stages under mixed precision,
weights a float32 predictor reads, its arguments checked, and no run without a GPU unless asked for."""
from __future__ import annotations
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT/'bench'/'gpu_recipe.py'


def _run(*args, timeout=900):
    env = {**os.environ, 'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3'}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_tiny_run_both_stages(tmp_path):
    out, figures = tmp_path/'w', tmp_path/'gpu.json'
    p = _run('--tiny', '--out-dir', str(out), '--json', str(figures))
    assert p.returncode == 0, p.stderr[-2000:]
    f = json.loads(figures.read_text())
    assert f['tiny'] and f['batch_size'] == 128
    for stage in ('synthetic', 'real'):
        assert f[stage]['precision'] == 'mixed_bfloat16'
        assert 0 <= f[stage]['test_cer'] <= 1.5
    assert f['synthetic']['learning_rate'] == pytest.approx(1e-3 * (128 / 16) ** 0.5)   # scaled with the batch
    assert f['real']['learning_rate'] == pytest.approx(3e-4 * (128 / 16) ** 0.5)
    info = json.loads((out/'LineModelCtc_SyntheticLinesDataset_crnn.json').read_text())
    assert info['stage'] == 'real' and info['precision'] == 'mixed_bfloat16' and info['continued_from']['precision'] == 'mixed_bfloat16'
    assert not (out/'checkpoints').exists()                          # both stages ran to their end
    import keras
    assert keras.config.dtype_policy().name == 'float32'            # this process untouched; the weights load in float32
    from hwr.predict import LinePredictor
    lp = LinePredictor(out/'LineModelCtc_SyntheticLinesDataset_crnn.weights.h5', runtime='keras')
    probs = lp._run(np.random.default_rng(0).random((1, lp.height, 400), np.float32))
    assert probs.dtype == np.float32 and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-4)


def test_refuses_without_gpu_and_bad_arguments(tmp_path):
    p = _run('--out-dir', str(tmp_path), timeout=300)
    assert p.returncode == 1 and 'sees no GPU' in p.stderr and 'hwr-train-recipe line' in p.stderr
    p = _run('--out-dir', str(tmp_path), '--batch-size', '0', timeout=300)
    assert p.returncode == 2 and '--batch-size must be between 1 and 4096' in p.stderr
    assert not any(tmp_path.iterdir())                               # nothing written
