"""hwr's rooms and the one direction imports run between them.

`LAYERS` is the declared order, lowest first, with a sentence per layer: a module may import
modules of its own layer or of a lower one, never of a higher one, not even inside a function,
and no set of modules may import each other in a circle. A name that moved to a higher room can
still be served from its old home through `hwr.util.moved_names` (imported only when used, with a
DeprecationWarning); those aliases are listed, checked to point at a real name, and are the only
upward references allowed.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'hwr'

LAYERS: list[tuple[str, list[str], str]] = [
    ('basics', ['hwr', 'hwr.util', 'hwr.metrics', 'hwr.figures'],
     'Downloads, files, image display, error rates and the recorded figures the prose quotes: nothing of hwr below them.'),
    ('images', ['hwr.preprocess', 'hwr.segment', 'hwr.pdf'],
     'What every image goes through, real or synthetic: grayscale, ink on black, framing, pen width, '
     'deslanting, line height, cutting a page into lines, and drawing the pages of a PDF.'),
    ('data', ['hwr.data.*'],
     'Datasets, their downloads and caches, fonts, corpora and the renderers that draw synthetic handwriting.'),
    ('decoding', ['hwr.decode'],
     "From a CTC network's frames to text: greedy, beam search, prefix beam search with any language model."),
    ('language', ['hwr.lm'],
     'The character n-gram model of English: train, save, load, score.'),
    ('networks', ['hwr.networks.*'],
     'Keras network builders and their registry.'),
    ('models', ['hwr.models.*'],
     'A dataset joined with a network: losses, training, evaluation.'),
    ('registry', ['hwr.registry'],
     'Where weights come from (shipped, saved runs, W&B) and the network they describe.'),
    ('reading', ['hwr.predict', 'hwr.formats', 'hwr.export'],
     'The predictors for characters, lines and pages, composed from the rooms below, the PAGE XML and ALTO files a page is written as, '
     'and the ONNX, TFLite and SavedModel exports of their networks (the ONNX one is what predictors run).'),
    ('training', ['hwr.training.*'],
     'Running experiments, groups and sweeps, the GPU manager, and the recipes that build the shipped artifacts.'),
    ('apps', ['hwr.cli', 'hwr.serve', 'hwr.widgets'],
     'What users run: the command line, the web app and the notebook widgets.'),
]
IGNORED = {'hwr._modidx'}   # nbdev's index of names: no imports


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] == '__init__': parts = parts[:-1]
    return '.'.join(parts)


def layer_of(module: str, layers=LAYERS) -> int:
    "Index in `layers` of the layer that holds `module` (a pattern 'pkg.*' holds every module under pkg)."
    for k, (_, patterns, _) in enumerate(layers):
        for pat in patterns:
            if module == pat or (pat.endswith('.*') and (module == pat[:-2] or module.startswith(pat[:-1]))): return k
    raise LookupError(f"{module} is in no layer of LAYERS: add it to the layer it belongs to, with its job")


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level: return node.module or ''
    base = module.split('.') if is_pkg else module.split('.')[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> tuple[set[str], dict[str, str]]:
    """The hwr modules `path` imports anywhere (module level, functions, classes), and the names it serves
    from elsewhere through `moved_names` (name -> module)."""
    module, is_pkg = module_name(path), path.name == '__init__.py'
    tree = ast.parse(path.read_text(encoding='utf-8'))
    found, moved = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split('.')[0] == 'hwr'}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_pkg, node)
            if target.split('.')[0] != 'hwr': continue
            for a in node.names:                       # `from hwr.data import fonts` imports the module hwr.data.fonts
                sub = f'{target}.{a.name}'
                found.add(sub if (PKG.parent / (sub.replace('.', '/') + '.py')).exists() else target)
        elif isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'moved_names' and len(node.args) == 2:
            if isinstance(node.args[1], ast.Dict):
                moved.update({ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(node.args[1].keys, node.args[1].values)})
    return found - {module}, moved


def import_graph(pkg: Path = PKG) -> tuple[dict[str, set[str]], dict[str, dict[str, str]]]:
    graph, moved = {}, {}
    for path in sorted(pkg.rglob('*.py')):
        name = module_name(path)
        if name in IGNORED: continue
        graph[name], moved[name] = imports_of(path)
    return graph, moved


def upward(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    "Every import that runs to a higher layer, as 'a (layer) imports b (layer)'."
    bad = []
    for a, targets in graph.items():
        for b in sorted(targets):
            if b == 'hwr': continue                    # the package itself: only __version__
            if layer_of(b, layers) > layer_of(a, layers):
                bad.append(f"{a} ({layers[layer_of(a, layers)][0]}) imports {b} ({layers[layer_of(b, layers)][0]})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    "The import circles among hwr's modules (each found once, from a depth-first search)."
    seen, stack, found = set(), [], []
    def visit(m):
        if m in stack:
            found.append(stack[stack.index(m):] + [m]); return
        if m in seen: return
        seen.add(m); stack.append(m)
        for n in sorted(graph.get(m, ())): visit(n)
        stack.pop()
    for m in sorted(graph): visit(m)
    return found


def test_every_module_has_a_layer():
    graph, _ = import_graph()
    for m in graph: layer_of(m)


def test_imports_run_downward_only():
    graph, _ = import_graph()
    assert upward(graph) == [], "imports against the order of LAYERS (tests/test_layers.py):\n" + "\n".join(upward(graph))


def test_no_import_circles():
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_moved_names_point_at_real_names():
    _, moved = import_graph()
    pairs = [(old, name, new) for old, names in moved.items() for name, new in names.items()]
    assert pairs, "expected the aliases of names that moved (hwr.predict.train_shipped_weights, ...)"
    for old, name, new in pairs:
        assert hasattr(importlib.import_module(new), name), f"{old}.{name} points at {new}.{name}, which does not exist"
        with pytest.warns(DeprecationWarning, match=f"moved to {new}.{name}"):
            assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_predict_is_small_and_only_apps_import_it():
    graph, _ = import_graph()
    lines = len((PKG / 'predict.py').read_text().splitlines())
    assert lines < 250, f"hwr/predict.py has {lines} lines"
    users = sorted(m for m, t in graph.items() if 'hwr.predict' in t)
    assert set(users) <= {'hwr.cli', 'hwr.export', 'hwr.serve', 'hwr.widgets', 'hwr.training.recipes', 'hwr.training.align'}, users


def test_the_check_fails_on_an_upward_import_and_a_circle(tmp_path):
    "A copy of the package with one import added against the order: the check names it; two modules importing each other: a circle."
    pkg = tmp_path / 'hwr'
    for path in PKG.rglob('*.py'):
        dest = pkg / path.relative_to(PKG); dest.parent.mkdir(parents=True, exist_ok=True); dest.write_text(path.read_text())
    (pkg / 'preprocess.py').write_text((pkg / 'preprocess.py').read_text() + '\ndef _late():\n    from hwr.predict import LinePredictor\n')
    global ROOT
    old_root, ROOT = ROOT, tmp_path
    try:
        graph, _ = import_graph(pkg)
        assert upward(graph) == ['hwr.preprocess (images) imports hwr.predict (reading)']
        assert cycles(graph) == [['hwr.predict', 'hwr.preprocess', 'hwr.predict']]   # predict imports preprocess: now a circle too
    finally:
        ROOT = old_root
    with pytest.raises(LookupError, match='in no layer'): layer_of('hwr.newroom')
