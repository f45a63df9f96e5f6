"""Run a course notebook top to bottom the way it is committed, and check committed notebooks.

    python tests/nbrun.py nbs/25_models.line.ipynb [...]   # run, keep outputs, record what ran, nbdev_clean
    python tests/nbrun.py --check [nbs/*.ipynb]            # list what is wrong with committed notebooks

`nbdev_clean` drops execution counts, so a committed notebook cannot show by itself which cells
ran. The runner records, in the notebook's `hwr` metadata (kept by nbdev_clean, see settings.ini),
a short hash of every code cell's source in the order the cells ran. `problems` then finds a
cell that was added or edited after the run, cells run out of order, error outputs, placeholder
text, and TensorFlow start-up noise left in outputs.

Notebooks run without IN_TEST: the figures a lab quotes are the full ones its outputs show.
"""
from __future__ import annotations

import argparse, hashlib, json, os, re, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDERS = re.compile(r"\b(TODO|FIXME|XXX|TBD|CLOSING_NOTE|PLACEHOLDER)\b|lorem ipsum", re.I)
# C++ log lines TensorFlow's libraries print at start-up (absl format: I0000 00:00:1796243998.925 5558 port.cc:153] ...),
# jupyter_client's warning when a kernel that papermill starts listens on local TCP, TFLite's note that it uses XNNPACK,
# and the INFO lines of TensorFlow's Python logger (e.g. which devices a MirroredStrategy uses)
NOISE = re.compile(r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] .*"
                   r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                   r"|.*triggered tf\.function retracing.*|.*retracing\. Tracing is expensive.*"
                   r"|\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption.*"
                   r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
                   r"|INFO:tensorflow:.*)$")
# what a reader should not have to wade through in a committed output
DEBRIS = [("a traceback", re.compile(r"Traceback \(most recent call last\)"), "catch it, or silence what prints it"),
          ("terminal colour codes", re.compile("\x1b\\["), "show a Keras summary as a table"),
          ("a progress bar", re.compile(r"\d+%\|"), "pass progress=False")]
MAX_OUTPUT = 4000
SKIP_DIRECTIVE = re.compile(r"^\s*#\|\s*eval:\s*false\s*$", re.M)


def cell_hash(source: str | list) -> str:
    "A short hash of a cell's source."
    return hashlib.sha1(("".join(source)).encode()).hexdigest()[:12]


def skipped(cell: dict) -> bool:
    "A cell the notebook says not to run (`#| eval: false` or the `skip-execution` tag)."
    return bool(SKIP_DIRECTIVE.search("".join(cell["source"]))) or "skip-execution" in cell.get("metadata", {}).get("tags", [])


WIDGET_NOTE = "(an interactive widget: run the notebook in JupyterLab to use it)"


def _quiet(outputs: list) -> list:
    "Outputs without TensorFlow's start-up lines; a widget's text form (its Python repr) replaced by a note for readers."
    kept = []
    for o in outputs:
        data = o.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data and "text/plain" in data:
            data["text/plain"] = WIDGET_NOTE
        if o.get("output_type") == "stream":
            lines = "".join(o["text"]).splitlines(keepends=True)
            text = "".join(l for l in lines if not NOISE.match(l.rstrip("\n")))
            if not text.strip(): continue
            o["text"] = text
        kept.append(o)
    return kept


def run(path: str | Path, timeout: int = 7200) -> float:
    "Execute the notebook at `path` in its folder, record what ran, write it back atomically, nbdev_clean it. Returns seconds."
    import nbformat
    from nbclient import NotebookClient
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:                                   # nbclient honours the tag; nbdev's directive becomes the tag
        if c.cell_type == "code" and skipped(c): c.metadata.setdefault("tags", []).append("skip-execution")
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "WANDB_MODE": os.environ.get("WANDB_MODE", "disabled"), "WANDB_SILENT": "true"}
    os.environ.update(env)
    os.environ.pop("IN_TEST", None)
    t0 = time.time()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()                                     # raises CellExecutionError at the first failing cell: nothing is written
    seconds = time.time() - t0
    ran = []
    for c in nb.cells:
        if c.cell_type != "code": continue
        c.outputs = _quiet(c.outputs)
        if not skipped(c): ran.append(cell_hash(c.source))
    for c in nb.cells:                                   # drop the tags the runner added (a notebook's own tag stays)
        tags = c.metadata.get("tags")
        if tags and SKIP_DIRECTIVE.search("".join(c.source)):
            tags.remove("skip-execution")
            if not tags: del c.metadata["tags"]
    nb.metadata["hwr"] = {"ran": ran, "seconds": round(seconds)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f: nbformat.write(nb, f)
    os.replace(tmp, path)
    _nbdev_clean(path)
    return seconds


def _nbdev_clean(path: Path):
    from nbdev.clean import nbdev_clean
    cwd = os.getcwd()
    try:
        os.chdir(ROOT); nbdev_clean(fname=str(path))
    finally: os.chdir(cwd)


def problems(path: str | Path) -> list[str]:
    "What keeps a committed notebook from being a run one: one line per problem, empty when none."
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    ran = nb.get("metadata", {}).get("hwr", {}).get("ran")
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    out = []
    if ran is None:
        return [f"no record of a run: run it with `python tests/nbrun.py {path}`"] if code else []
    expected = [cell_hash(c["source"]) for c in code if not skipped(c)]
    missing = [i for i, c in enumerate(code) if not skipped(c) and cell_hash(c["source"]) not in ran]
    if missing:
        first = "".join(code[missing[0]]["source"]).strip().splitlines()[0][:60]
        out.append(f"{len(missing)} code cell(s) added or edited since the last run (first: {first!r}): "
                   f"run it with `python tests/nbrun.py {path}`")
    elif ran != expected:
        out.append(f"cells ran out of order or cells were removed since the run: run it with `python tests/nbrun.py {path}`")
    for i, c in enumerate(code):
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                out.append(f"code cell {i} has an error output ({o.get('ename')}: {o.get('evalue', '')[:80]})")
            text = "".join(o.get("text", "")) if o.get("output_type") == "stream" else ""
            noisy = [l for l in text.splitlines() if NOISE.match(l)]
            if noisy: out.append(f"code cell {i} shows TensorFlow start-up noise: {noisy[0][:80]!r}")
            shown = text + "".join(o.get("data", {}).get("text/plain", ""))
            for what, pattern, fix in DEBRIS:
                line = f"code cell {i} shows {what}: {fix}"
                if pattern.search(shown) and line not in out: out.append(line)
            if len(shown) > MAX_OUTPUT:
                out.append(f"code cell {i} prints {len(shown):,} characters in one output (at most {MAX_OUTPUT:,}): cut long lists")
    for i, c in enumerate(nb["cells"]):
        m = PLACEHOLDERS.search("".join(c["source"]))
        if m: out.append(f"cell {i} holds placeholder text {m.group(0)!r}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="notebooks (default for --check: all of nbs/)")
    p.add_argument("--check", action="store_true", help="only list the problems of committed notebooks")
    a = p.parse_args(argv)
    if a.check:
        paths = a.paths or sorted(str(q.relative_to(ROOT)) for q in (ROOT/"nbs").glob("*.ipynb"))
        bad = {q: problems(q) for q in paths}
        for q, ps in bad.items():
            for pr in ps: print(f"{q}: {pr}")
        return 1 if any(bad.values()) else 0
    if not a.paths: p.error("name the notebooks to run")
    for q in a.paths:
        if not Path(q).is_file(): p.error(f"no notebook at {q}")
    for q in a.paths:
        print(f"running {q} ...", flush=True)
        try: s = run(q)
        except Exception as e:
            print(f"{q} failed, left unchanged: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
            return 1
        print(f"{q}: ran in {s / 60:.1f} min", flush=True)
    import course_map                                    # the README's map shows each notebook's running time
    course_map.main(["--write"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
