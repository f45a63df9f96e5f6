"""Experiment groups and sweeps from the command line: prepare/run groups, local grid/random sweeps, papermill reports."""
import json, os, shlex, subprocess, sys
from pathlib import Path

import pytest
import yaml

from hwr.training.sweeps import load_sweep, propose_trials

ROOT = Path(__file__).resolve().parent.parent
TINY = {"dataset": "SyntheticCharactersDataset", "model": "CharacterModel", "network": "mlp",
        "dataset_args": {"num_train": 300, "num_test": 100}, "train_args": {"batch_size": 64, "epochs": 1}}


def _env(tmp_path, **kw):
    return {**os.environ, 'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3', 'HWR_GPU_LOCK_DIR': str(tmp_path/'locks'),
            'HWR_DATA_DIR': str(tmp_path/'data'), **kw}


def _run(module, args, tmp_path, timeout=300):
    return subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=timeout)


def test_prepare_experiments_prints_one_command_each(tmp_path):
    r = _run('hwr.training.experiments', [str(ROOT/'nbs/experiments/sample.json'), '--save'], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    sample = json.loads((ROOT/'nbs/experiments/sample.json').read_text())['experiments']
    assert len(lines) == len(sample)
    for line, cfg in zip(lines, sample):
        argv = shlex.split(line)
        assert argv[1:4] == ['-m', 'hwr.training.run_experiment', '--gpu=-1'] and '--save' in argv
        got = json.loads(argv[-1])
        assert got['experiment_group'] == 'sample' and got['network'] == cfg['network']


def test_run_experiment_group_concurrently(tmp_path):
    group = [TINY, {**TINY, 'network': 'lenet', 'network_args': {'layer_size': 16}}]
    (tmp_path/'g.json').write_text(json.dumps(group))
    r = _run('hwr.training.experiments', ['g.json', '--run', '-j', '2', '--out', 'out', '--no-wandb'], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((tmp_path/'out'/'summary.json').read_text())
    assert [s['returncode'] for s in summary] == [0, 0]
    assert all(0 <= s['test_accuracy'] <= 1 for s in summary)
    assert 'training on the CPU' in (tmp_path/'out'/'exp_00.log').read_text()   # went through the GPU manager


def test_sweep_file_parses_and_bayes_is_refused_offline(tmp_path):
    sweep = load_sweep(ROOT/'nbs/experiments/sweep_emnist.yaml')
    assert len(propose_trials(sweep)) == 6
    bayes = {**yaml.safe_load((ROOT/'nbs/experiments/sweep_emnist.yaml').read_text()), 'method': 'bayes'}
    (tmp_path/'b.yaml').write_text(yaml.safe_dump(bayes))
    r = _run('hwr.training.sweeps', ['b.yaml'], tmp_path)
    assert r.returncode == 2 and '--method random --count N' in r.stderr
    r = _run('hwr.training.sweeps', ['b.yaml', '--method', 'random'], tmp_path)
    assert r.returncode == 2 and 'give --count N' in r.stderr


def test_local_sweep_leaderboard(tmp_path):
    sweep = {'name': 'tiny', 'method': 'grid', 'metric': {'name': 'test_accuracy', 'goal': 'maximize'},
             'parameters': {**{k: {'value': v} for k, v in TINY.items() if k in ('dataset', 'model', 'network')},
                            'dataset_args': {'parameters': {'num_train': {'value': 300}, 'num_test': {'value': 100}}},
                            'network_args.layer_size': {'values': [8, 64]}, 'train_args.epochs': {'value': 1}}}
    (tmp_path/'s.yaml').write_text(yaml.safe_dump(sweep))
    r = _run('hwr.training.sweeps', ['s.yaml', '--out', 'out', '-j', '2'], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'rank' in r.stdout and 'layer_size' in r.stdout
    recs = [json.loads(l) for l in (tmp_path/'out'/'results.jsonl').read_text().splitlines()]
    assert sorted(r['parameters']['network_args.layer_size'] for r in recs) == [8, 64]
    assert (tmp_path/'out'/'leaderboard.png').stat().st_size > 1000


def test_sweep_with_papermill_reports(tmp_path):
    sweep = {'name': 'nb', 'method': 'random', 'run_cap': 1, 'metric': {'name': 'test_accuracy', 'goal': 'maximize'},
             'parameters': {**{k: {'value': v} for k, v in TINY.items() if k in ('dataset', 'model', 'network')},
                            'dataset_args.num_train': {'value': 300}, 'dataset_args.num_test': {'value': 100},
                            'network_args.dropout_amount': {'min': 0.0, 'max': 0.5}, 'train_args.epochs': {'value': 1}}}
    (tmp_path/'s.yaml').write_text(yaml.safe_dump(sweep))
    r = _run('hwr.training.sweeps', ['s.yaml', '--out', 'out', '--runner', 'papermill'], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    nb = json.loads((tmp_path/'out'/'trial_000.ipynb').read_text())
    assert any('injected-parameters' in c['metadata'].get('tags', []) for c in nb['cells'])
    assert any(o.get('output_type') == 'display_data' for c in nb['cells'] for o in c.get('outputs', []))  # the plots


def test_papermill_template_from_the_command_line(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'papermill', '--no-progress-bar', str(ROOT/'nbs/experiments/train.ipynb'),
                        str(tmp_path/'x.ipynb'), '-p', 'network', 'lenet', '-y',
                        json.dumps({'dataset_args': {'num_train': 300, 'num_test': 100}, 'train_args': {'epochs': 1},
                                    'results_path': str(tmp_path/'x.json')})],
                       capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((tmp_path/'x.json').read_text())
    assert res['config']['network'] == 'lenet' and 0 <= res['test_accuracy'] <= 1


@pytest.mark.parametrize('change, message', [
    ({'metric': {'name': 'test_acc', 'goal': 'maximize'}}, "metric 'test_acc' is not in a trial's results (did you mean 'test_accuracy'?)"),
    ({'parameters.network_args.layer_size': {'values': [8, -5]}}, "network_args 'layer_size' must be at least 1"),
    ({'parameters.dataset_args.subsample_fraction': {'value': 2.0}}, "'subsample_fraction' must be a number in (0, 1]"),
])
def test_bad_sweep_fails_before_the_first_trial(tmp_path, change, message):
    sweep = {'name': 'bad', 'method': 'grid', 'metric': {'name': 'test_accuracy', 'goal': 'maximize'},
             'parameters': {**{k: {'value': v} for k, v in TINY.items() if k in ('dataset', 'model', 'network')},
                            'train_args.epochs': {'value': 1}}}
    for k, v in change.items():
        if k.startswith('parameters.'): sweep['parameters'][k[len('parameters.'):]] = v
        else: sweep[k] = v
    (tmp_path/'s.yaml').write_text(yaml.safe_dump(sweep))
    r = _run('hwr.training.sweeps', ['s.yaml', '--out', 'out'], tmp_path)
    assert r.returncode == 2 and message in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'out').exists() or not list((tmp_path/'out').glob('trial_*'))   # nothing ran


def test_bad_group_value_fails_before_the_first_run(tmp_path):
    (tmp_path/'g.json').write_text(json.dumps([TINY, {**TINY, 'network_args': {'layer_size': -5}}]))
    r = _run('hwr.training.experiments', ['g.json', '--run', '--out', 'out', '--no-wandb'], tmp_path)
    assert r.returncode == 2 and "'layer_size' must be at least 1" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'out'/'exp_00.log').exists()


def test_ctrl_c_stops_a_group_at_once_and_writes_its_summary(tmp_path):
    import signal, time
    slow = {**TINY, 'dataset_args': {'num_train': 3000, 'num_test': 100}, 'train_args': {'batch_size': 8, 'epochs': 50}}
    (tmp_path/'g.json').write_text(json.dumps([slow, slow]))
    p = subprocess.Popen([sys.executable, '-m', 'hwr.training.experiments', 'g.json', '--run', '--out', 'out', '--no-wandb'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path), cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path/'out'/'exp_00.log').exists(): time.sleep(0.2)
    time.sleep(8)
    t0 = time.time(); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert time.time() - t0 < 30, 'the running experiment is stopped, not waited for'
    assert p.returncode == 130 and 'Traceback' not in err and 'interrupted: 0 of 2 experiments had finished' in err, err
    summary = json.loads((tmp_path/'out'/'summary.json').read_text())
    assert len(summary) == 2 and summary[0]['returncode'] != 0 and summary[1].get('not_run')


def test_ctrl_c_stops_a_group_run_and_writes_its_summary(tmp_path):
    "SIGINT to `hwr-prepare-experiments --run`: the running experiment is stopped, one line says where the summary is, exit 130."
    import signal, time
    long = {**TINY, "dataset_args": {"num_train": 20000, "num_test": 500}, "train_args": {"batch_size": 32, "epochs": 50}}
    (tmp_path/'g.json').write_text(json.dumps({'experiment_group': 'stopme', 'experiments': [long, long]}))
    p = subprocess.Popen([sys.executable, '-m', 'hwr.training.experiments', 'g.json', '--run', '--gpu', '-1'], cwd=tmp_path,
                         env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240                                  # wait until the first experiment is training
    while time.time() < deadline and not list((tmp_path/'runs'/'stopme').glob('*.log')): time.sleep(1)
    time.sleep(20)
    t = time.time(); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    assert time.time() - t < 60, 'the group stops its children rather than waiting for them to finish'
    assert 'Traceback' not in err and 'Traceback' not in out, err
    assert 'interrupted: 0 of 2 experiments had finished; summary in' in err, err
    summary = err.rsplit('summary in', 1)[1].strip().split()[0]
    assert (tmp_path/summary).is_file() or Path(summary).is_file(), summary
