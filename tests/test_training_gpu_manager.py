"""The GPU manager across real processes: contention for simulated GPUs, and a crashed holder."""
import json, os, signal, subprocess, sys, time

import pytest

from hwr.training.gpu_manager import GPUManager, lock_holder

TWO_GPUS = "lambda: [dict(index=0), dict(index=1)]"

WORKER = f'''
import json, sys, time
from hwr.training.gpu_manager import GPUManager
m = GPUManager({TWO_GPUS}, sys.argv[1], poll_interval=0.01, verbose=False)
i = m.acquire(timeout=60)
t0 = time.time(); time.sleep(float(sys.argv[2])); t1 = time.time()
m.release()
print(json.dumps([i, t0, t1]))
'''


def _env():
    return {**os.environ, 'PYTHONDONTWRITEBYTECODE': '1'}


def test_eight_processes_two_gpus_never_overlap(tmp_path):
    procs = [subprocess.Popen([sys.executable, '-c', WORKER, str(tmp_path), '0.15'], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_env()) for _ in range(8)]
    spans = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            spans.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None: p.kill()
    assert len(spans) == 8
    assert {i for i, _, _ in spans} == {0, 1}, f"both GPUs should be used: {spans}"
    for g in (0, 1):
        s = sorted((a, b) for i, a, b in spans if i == g)
        for (a1, b1), (a2, b2) in zip(s, s[1:]):
            assert b1 <= a2, f"GPU {g} held by two processes at once: {(a1, b1)} and {(a2, b2)}"
    # 8 holds of 0.15 s on 2 GPUs cannot take less than 4 rounds
    assert max(b for _, _, b in spans) - min(a for _, a, _ in spans) >= 4 * 0.15 - 0.01


HOLDER = f'''
import sys, time
from hwr.training.gpu_manager import GPUManager
m = GPUManager({TWO_GPUS}, sys.argv[1], verbose=False)
print(m.acquire(timeout=10), flush=True)
time.sleep(600)
'''


def test_killed_holder_frees_its_gpu(tmp_path):
    p = subprocess.Popen([sys.executable, '-c', HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        held = int(p.stdout.readline())
        assert lock_holder(tmp_path, held) == p.pid
        # while it lives, we get the other GPU and then nothing
        m = GPUManager(lambda: [dict(index=0), dict(index=1)], tmp_path, poll_interval=0.01, verbose=False)
        other = m.acquire(timeout=1)
        assert other == 1 - held
        m2 = GPUManager(lambda: [dict(index=0), dict(index=1)], tmp_path, poll_interval=0.01, verbose=False)
        with pytest.raises(TimeoutError, match=f'pid {p.pid}'):
            m2.acquire(timeout=0.2)
        p.send_signal(signal.SIGKILL); p.wait(timeout=10)
        # the kernel dropped the dead process's lock: its GPU is free at once
        assert lock_holder(tmp_path, held) is None
        assert m2.acquire(timeout=1) == held
        m.release(); m2.release()
    finally:
        if p.poll() is None: p.kill(); p.wait()


def test_no_gpu_means_cpu_said_once(tmp_path):
    code = ("from hwr.training.gpu_manager import GPUManager as G\n"
            f"print(G(lambda: [], {str(tmp_path)!r}).acquire(), G(lambda: [], {str(tmp_path)!r}).acquire())")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('training on the CPU') == 1
    assert out.stdout.strip().endswith('None None')
