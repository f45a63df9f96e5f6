"""Scale-out: two MultiWorkerMirroredStrategy workers on 127.0.0.1 (CPU) must end with identical weights."""
import json, os, socket, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

CONFIG = {"dataset": "SyntheticCharactersDataset", "model": "CharacterModel", "network": "mlp",
          "dataset_args": {"num_train": 512, "num_test": 128},
          "network_args": {"layer_size": 32, "num_layers": 1},
          "train_args": {"batch_size": 64, "epochs": 2, "strategy": "multi_worker"}}


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks: s.bind(('127.0.0.1', 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks: s.close()
    return ports


def _weights(path):
    import h5py
    out = {}
    with h5py.File(path, 'r') as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if hasattr(obj, 'shape') else None)
    return out


def test_two_workers_end_with_identical_weights(tmp_path):
    workers = [f'127.0.0.1:{p}' for p in _free_ports(2)]
    procs = []
    for i, seed in enumerate((1, 2)):  # different local seeds: the strategy must still keep them in sync
        cfg = {**CONFIG, 'train_args': {**CONFIG['train_args'], 'seed': seed}}
        env = {**os.environ, 'TF_CONFIG': json.dumps({'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': i}}),
               'CUDA_VISIBLE_DEVICES': '', 'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3', 'TF_NUM_INTRAOP_THREADS': '1',
               'HWR_DATA_DIR': str(tmp_path/'data')}
        log = open(tmp_path/f'worker{i}.log', 'w')
        procs.append((subprocess.Popen([sys.executable, '-m', 'hwr.training.run_experiment', '--save', f'--save-dir={tmp_path}/out',
                                        f'--results={tmp_path}/res{i}.json', json.dumps(cfg)],
                                       stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path), log))
    try:
        for p, log in procs:
            p.wait(timeout=400)
            log.close()
    finally:
        for p, _ in procs:
            if p.poll() is None: p.kill()
    logs = [(tmp_path/f'worker{i}.log').read_text()[-3000:] for i in range(2)]
    assert [p.returncode for p, _ in procs] == [0, 0], '\n\n'.join(logs)
    chief = list((tmp_path/'out').glob('*.weights.h5'))
    other = list((tmp_path/'out'/'worker_1').glob('*.weights.h5'))
    assert len(chief) == 1 and len(other) == 1, (chief, other)
    w0, w1 = _weights(chief[0]), _weights(other[0])
    assert w0.keys() == w1.keys() and len(w0) >= 2
    for k in w0: np.testing.assert_array_equal(w0[k], w1[k], err_msg=k)
    r0, r1 = (json.loads((tmp_path/f'res{i}.json').read_text()) for i in range(2))
    assert r0['replicas'] == r1['replicas'] == 2
    assert r0['history']['loss'] == r1['history']['loss']   # metrics are averaged over both workers
    assert r0['history']['loss'][-1] < r0['history']['loss'][0]
