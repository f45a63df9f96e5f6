"""run_experiment: config validation, the command line, --save, W&B offline, the GPU manager path."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from hwr.training.run_experiment import TRAIN_ARGS, ConfigError, parse_config, unflatten, validate_config

TINY = {"dataset": "SyntheticCharactersDataset", "model": "CharacterModel", "network": "mlp",
        "dataset_args": {"num_train": 300, "num_test": 100},
        "network_args": {"layer_size": 32}, "train_args": {"batch_size": 64, "epochs": 1}}
SEED = {"dataset": "EmnistDataset", "model": "CharacterModel", "network": "mlp",
        "dataset_args": {"subsample_fraction": 0.1},
        "network_args": {"num_layers": 3, "layer_size": 128, "dropout_amount": 0.2},
        "train_args": {"batch_size": 256, "epochs": 2}}


def _cli(args, tmp_path, **env):
    e = {**os.environ, 'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3', 'HWR_GPU_LOCK_DIR': str(tmp_path/'locks'),
         'HWR_DATA_DIR': str(tmp_path/'data'), **env}
    return subprocess.run([sys.executable, '-m', 'hwr.training.run_experiment', *args], capture_output=True, text=True,
                          env=e, cwd=tmp_path, timeout=300)


def test_seed_config_is_valid_verbatim():
    full = validate_config(SEED)
    assert full['train_args'] == {**TRAIN_ARGS, 'batch_size': 256, 'epochs': 2}
    assert full['dataset_args'] == SEED['dataset_args'] and full['experiment_group'] is None


def test_invalid_json_says_where():
    with pytest.raises(ConfigError, match=r'line 2, column 3'):
        parse_config('{"dataset": "x",\n  }')
    with pytest.raises(ConfigError, match='double quotes'):
        parse_config("{'dataset': 'x'}")


@pytest.mark.parametrize('change, message', [
    ({'netwrok': 'mlp'}, "unknown key 'netwrok' (did you mean 'network'?)"),
    ({'network': 'lenett'}, "unknown network 'lenett'; valid names: "),
    ({'dataset': 'Emnist'}, "unknown dataset 'Emnist'; valid names: "),
    ({'model': 'CharModel'}, "valid"),
    ({'train_args': {'batch_size': 0}}, "'batch_size' must be a positive integer"),
    ({'train_args': {'epochs': 1.5}}, "'epochs' must be a positive integer"),
    ({'train_args': {'lr': 0.1}}, "unknown train_args key 'lr'"),
    ({'train_args': {'strategy': 'tpu'}}, "unknown train_args strategy 'tpu'"),
    ({'network_args': [1]}, "'network_args' must be an object"),
    ({'network_args': {'layer_size': '64'}}, "'layer_size' must be an integer"),
    ({'network_args': {'dropout_amount': 'high'}}, "'dropout_amount' must be a number"),
    ({'network_args': {'layers': 2}}, "unknown network_args 'layers'"),
    ({'dataset_args': {'num_trains': 2}}, "unknown dataset_args 'num_trains'"),
    ({'experiment_group': 3}, "'experiment_group' must be a string"),
    ({'dataset_args': {'subsample_fraction': 2.0}}, "'subsample_fraction' must be a number in (0, 1], got number 2.0"),
    ({'dataset_args': {'subsample_fraction': 0}}, "'subsample_fraction' must be a number in (0, 1]"),
    ({'dataset_args': {'num_train': -5}}, "'num_train' must be at least 1"),
    ({'dataset_args': {'num_test': 0}}, "'num_test' must be at least 1"),
    ({'network_args': {'layer_size': -5}}, "'layer_size' must be at least 1"),
    ({'network_args': {'num_layers': 0}}, "'num_layers' must be at least 1"),
    ({'network_args': {'dropout_amount': 1.0}}, "'dropout_amount' must be a number in [0, 1)"),
    ({'network': 'crnn', 'model': 'LineModelCtc', 'dataset': 'SyntheticLinesDataset', 'dataset_args': {},
      'network_args': {'conv_filters': []}}, "'conv_filters' must be a non-empty list of positive integers"),
])
def test_bad_configs_are_named(change, message):
    "Each bad value is named before anything is built or generated (validate_config only reads signatures)."
    with pytest.raises(ConfigError) as e:
        validate_config({**TINY, **change})
    assert message in str(e.value), str(e.value)


def test_missing_keys_and_dotted_keys():
    with pytest.raises(ConfigError, match="missing key 'network'"):
        validate_config({'dataset': 'SyntheticCharactersDataset', 'model': 'CharacterModel'})
    flat = {'dataset': 'SyntheticCharactersDataset', 'model': 'CharacterModel', 'network': 'mlp', 'network_args.layer_size': 16}
    assert validate_config(flat)['network_args'] == {'layer_size': 16}
    assert unflatten({'a.b.c': 1, 'a.d': 2}) == {'a': {'b': {'c': 1}, 'd': 2}}


def test_cli_errors_exit_2_without_traceback(tmp_path):
    r = _cli(['{"dataset": "SyntheticCharactersDataset",}'], tmp_path)
    assert r.returncode == 2 and 'invalid JSON at line 1, column' in r.stderr and 'Traceback' not in r.stderr
    r = _cli(['no_such_file.json'], tmp_path)
    assert r.returncode == 2 and 'path of a JSON file' in r.stderr
    r = _cli(['--gpu=7', json.dumps(TINY)], tmp_path)   # this machine has no GPU 7 (nor any)
    assert r.returncode == 2 and '--gpu=7' in r.stderr and 'does not exist' in r.stderr, r.stderr


def test_cli_trains_saves_and_logs_offline(tmp_path):
    r = _cli(['--save', f'--save-dir={tmp_path}/out', f'--results={tmp_path}/res.json', '--gpu=-1', '--wandb', json.dumps(TINY)],
             tmp_path, WANDB_MODE='offline', WANDB_DIR=str(tmp_path), WANDB_SILENT='true')
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count('training on the CPU') == 1          # no GPU here: said once
    assert 'test accuracy: ' in r.stdout
    files = sorted(p.name for p in (tmp_path/'out').iterdir())
    assert any(f.endswith('.weights.h5') for f in files), files
    metrics = json.loads(next((tmp_path/'out').glob('*.metrics.json')).read_text())
    config = json.loads(next((tmp_path/'out').glob('*.config.json')).read_text())
    assert config == validate_config(TINY)
    res = json.loads((tmp_path/'res.json').read_text())
    assert res['test_accuracy'] == metrics['test_accuracy'] == res['test_metric']
    assert f"test accuracy: {res['test_metric']:.4f}" in r.stdout
    assert len(res['history']['loss']) == 1
    runs = list((tmp_path/'wandb').glob('offline-run-*'))
    assert len(runs) == 1 and str(runs[0]) in r.stdout      # says where the offline run went


def test_a_saved_run_is_read_by_hwr_predict(tmp_path):
    "What --save writes (weights, metrics, config and the predictor's .json) is read back by hwr-predict --weights."
    r = _cli(['--save', f'--save-dir={tmp_path}/out', '--no-wandb', json.dumps(TINY)], tmp_path)
    assert r.returncode == 0, r.stderr
    stem = next((tmp_path/'out').glob('*.config.json')).name[:-len('.config.json')]
    info = json.loads((tmp_path/'out'/f'{stem}.json').read_text())
    assert info['kind'] == 'char' and info['network'] == 'mlp' and info['network_args']['layer_size'] == 32
    from PIL import Image, ImageDraw
    im = Image.new('L', (120, 120), 230); ImageDraw.Draw(im).rectangle((40, 20, 60, 100), fill=30); im.save(tmp_path/'i.png')
    env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3', 'WANDB_MODE': 'disabled'}
    for weights in (tmp_path/'out'/stem, tmp_path/'out'/f'{stem}.weights.h5', tmp_path/'out'/f'{stem}.config.json'):
        p = subprocess.run([sys.executable, '-m', 'hwr.cli', str(tmp_path/'i.png'), '--model', 'char', '--weights', str(weights), '--json'],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        (res,) = json.loads(p.stdout)
        assert len(res['text']) == 1 and 0 < res['confidence'] <= 1


def test_config_from_file(tmp_path):
    (tmp_path/'c.json').write_text(json.dumps({**TINY, 'train_args': {'batch_size': 64, 'epochs': 1, 'strategy': 'mirrored'}}))
    r = _cli(['c.json', '--no-wandb'], tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'test accuracy: ' in r.stdout and 'W&B off (--no-wandb)' in r.stdout


def test_save_never_overwrites_and_a_killed_save_keeps_the_old_weights(tmp_path, monkeypatch):
    "A second --save keeps the first run's files; a save that dies half-way leaves the previous weights loadable."
    os.environ.setdefault('HWR_DATA_DIR', str(tmp_path/'data'))
    from hwr.training.run_experiment import run_experiment
    first = run_experiment(TINY, save=True, save_dir=tmp_path/'out', use_wandb=False)
    second = run_experiment(TINY, save=True, save_dir=tmp_path/'out', use_wandb=False)
    w1, w2 = Path(first.saved['weights']), Path(second.saved['weights'])
    assert w1 != w2 and w1.exists() and w2.exists() and w2.name.endswith('-2.weights.h5')
    assert json.loads(Path(second.saved['config']).read_text()) == second.config
    good = w1.read_bytes()
    net = first.model.network
    def dies_half_way(path, *a, **kw):
        Path(path).write_bytes(b'half a file'); raise KeyboardInterrupt
    monkeypatch.setattr(net, 'save_weights', dies_half_way)
    with pytest.raises(KeyboardInterrupt): first.model.save_weights(w1)
    assert w1.read_bytes() == good and not [p for p in w1.parent.iterdir() if '.part' in p.name]
    monkeypatch.undo()
    first.model.load_weights(w1)                                      # still a file Keras can open


def test_ctrl_c_during_training_is_one_line(tmp_path):
    "SIGINT while training: exit 130, one line on stderr, no traceback, nothing saved."
    import signal, time
    # 1000 epochs (hwr's limit): minutes even on a fast idle CPU, so the signal always lands in training, never after it
    cfg = {**TINY, 'dataset_args': {'num_train': 3000, 'num_test': 100}, 'train_args': {'batch_size': 8, 'epochs': 1000}}
    e = {**os.environ, 'WANDB_MODE': 'disabled', 'TF_CPP_MIN_LOG_LEVEL': '3', 'HWR_DATA_DIR': str(tmp_path/'data'),
         'HWR_GPU_LOCK_DIR': str(tmp_path/'locks')}
    p = subprocess.Popen([sys.executable, '-m', 'hwr.training.run_experiment', '--save', f'--save-dir={tmp_path}/out', json.dumps(cfg)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=tmp_path,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # Ctrl-C as in a terminal, even when
                                                                                             # this suite runs as a background job (which ignores SIGINT)
    deadline = time.time() + 240
    while time.time() < deadline and not (tmp_path/'data').exists(): time.sleep(0.5)
    time.sleep(25)                                             # well into training
    p.send_signal(signal.SIGINT)
    try: out, err = p.communicate(timeout=120)
    finally: p.kill()                                          # a run the signal did not stop must not outlive the test
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert 'Traceback' not in err and 'interrupted; nothing of this run was saved' in err
    assert not (tmp_path/'out').exists() or not list((tmp_path/'out').glob('*.weights.h5'))


def test_save_logs_a_wandb_model_artifact_offline_and_predict_says_it_needs_wandb(tmp_path, monkeypatch):
    "--save with W&B (offline, no key) logs weights, predictor JSON, config and metrics as a model artifact for `wandb sync`."
    import hashlib
    for k, v in {'WANDB_MODE': 'offline', 'WANDB_DIR': str(tmp_path), 'WANDB_DATA_DIR': str(tmp_path/'wbdata'),
                 'WANDB_CACHE_DIR': str(tmp_path/'wbcache'), 'WANDB_SILENT': 'true', 'HWR_DATA_DIR': str(tmp_path/'data')}.items():
        monkeypatch.setenv(k, v)
    from hwr.training.run_experiment import run_experiment, artifact_name
    cfg = {"dataset": "SyntheticCharactersDataset", "dataset_args": {"num_train": 158, "num_test": 79},
           "model": "CharacterModel", "network": "mlp", "train_args": {"epochs": 1}}
    r = run_experiment(cfg, save=True, use_wandb=True, save_dir=tmp_path/'runs', verbose=False)
    (log,) = Path(r.wandb_dir).glob('*.wandb')
    name = artifact_name(r.config)
    assert name == 'CharacterModel-SyntheticCharactersDataset-mlp' and name.encode() in log.read_bytes()
    staged = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path/'wbdata').rglob('*') if p.is_file()}
    for kind in ('weights', 'predictor', 'config', 'metrics'):
        assert hashlib.sha256(Path(r.saved[kind]).read_bytes()).hexdigest() in staged, f'the {kind} file is in the artifact'
    from hwr.cli import main
    with pytest.raises(SystemExit) as e:
        main(['--model', 'char', '--weights', f'wandb:me/hwr/{name}:latest', str(tmp_path/'x.png')])
    assert e.value.code == 2
