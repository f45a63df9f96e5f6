"""Line recognition outside the notebooks: the benchmark script end to end, on a tiny dataset."""
import json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_lines_runs(data_root, tmp_path):
    out = tmp_path/'res.json'
    env = {**os.environ, 'HWR_ARTIFACTS_DIR': str(tmp_path/'art')}
    cmd = [sys.executable, str(ROOT/'bench'/'bench_lines.py'), '--budget', '3', '--infer-lines', '8', '--beam-width', '3',
           '--dataset-args', json.dumps({'num_train': 64, 'num_test': 16}),
           '--network-args', json.dumps({'conv_filters': [8, 16], 'lstm_dim': 16, 'lstm_layers': 1}),
           '--emnist-lines-budget', '3',
           '--emnist-lines-args', json.dumps({'num_train': 32, 'num_test': 8, 'max_length': 8,
                                              'char_dataset_args': {'num_train': 790, 'num_test': 158}}),
           '--emnist-network-args', json.dumps({'conv_filters': [8, 16, 16], 'width_downsample': 8, 'lstm_layers': 0}),
           '--json', str(out)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert 'test greedy' in res.stdout and 'test beam 3' in res.stdout
    results = json.loads(out.read_text())
    assert [r['dataset'] for r in results] == ['SyntheticLinesDataset', 'EmnistLinesDataset']
    for r in results:
        for strategy in ('greedy', 'beam_search'):
            assert r[strategy]['cer'] >= 0 and r[strategy]['ms_per_line'] > 0
        assert r['train_lines_per_s'] > 0


def test_bench_lines_bad_network(data_root):
    res = subprocess.run([sys.executable, str(ROOT/'bench'/'bench_lines.py'), '--network', 'crnnn', '--budget', '1',
                          '--dataset-args', json.dumps({'num_train': 8, 'num_test': 4})],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert 'valid names' in res.stderr and 'crnn' in res.stderr
