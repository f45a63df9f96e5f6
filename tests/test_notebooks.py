"Every committed notebook is a run one: each code cell ran, in order, with no error, no placeholder and no start-up noise."
import json, shutil, sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from nbrun import DEBRIS, MAX_OUTPUT, ROOT, WIDGET_NOTE, problems, run  # noqa: E402

NOTEBOOKS = sorted((ROOT/"nbs").glob("*.ipynb"))
# Notebooks not yet re-run through tests/nbrun.py since it began recording runs. Strict: a notebook
# that passes must leave this list, so the list only shrinks.
NOT_YET_RERUN: set[str] = set()   # every notebook has been re-run through tests/nbrun.py


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_run(path, request):
    if path.stem in NOT_YET_RERUN:
        request.applymarker(pytest.mark.xfail(strict=True, reason="not re-run through tests/nbrun.py yet"))
    assert problems(path) == []


def test_not_yet_rerun_names_real_notebooks():
    assert NOT_YET_RERUN <= {p.stem for p in NOTEBOOKS}


def _tiny(path: Path, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A tiny notebook")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def _edit(path: Path, change):
    nb = json.loads(path.read_text())
    change(nb["cells"])
    path.write_text(json.dumps(nb))


def test_run_records_and_check_finds_each_problem(tmp_path):
    nb = _tiny(tmp_path/"t.ipynb", ["x = 2", "print(x * 21)", "#| eval: false\nraise SystemExit('never run')"])
    assert problems(nb) == [f"no record of a run: run it with `python tests/nbrun.py {nb}`"]
    run(nb)
    assert problems(nb) == []
    cells = json.loads(nb.read_text())["cells"]
    assert "".join(cells[2]["outputs"][0]["text"]) == "42\n"
    assert cells[3]["outputs"] == [] and "tags" not in cells[3]["metadata"]

    good = nb.read_text()
    _edit(nb, lambda cs: cs.append(nbformat.v4.new_code_cell("y = 3")))           # a cell added after the run
    assert "1 code cell(s) added or edited since the last run (first: 'y = 3')" in problems(nb)[0]
    nb.write_text(good)
    _edit(nb, lambda cs: cs[1].update(source="x = 3"))                              # a cell edited after the run
    assert "added or edited" in problems(nb)[0]
    nb.write_text(good)
    _edit(nb, lambda cs: cs.__setitem__(slice(1, 3), cs[2:0:-1]))                  # cells swapped after the run
    assert "out of order" in problems(nb)[0]
    nb.write_text(good)
    _edit(nb, lambda cs: cs[2]["outputs"].append({"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}))
    assert problems(nb) == ["code cell 1 has an error output (ValueError: bad)"]
    nb.write_text(good)
    _edit(nb, lambda cs: cs[0].update(source="# A tiny notebook\n\nCLOSING_NOTE"))
    assert problems(nb) == ["cell 0 holds placeholder text 'CLOSING_NOTE'"]
    nb.write_text(good)
    noise = "I0000 00:00:1796243998.925988    5558 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
    _edit(nb, lambda cs: cs[2]["outputs"].append({"output_type": "stream", "name": "stderr", "text": noise}))
    assert "start-up noise" in problems(nb)[0]
    for text, what in [("Traceback (most recent call last):\n  File ...\nBrokenPipeError\n", "a traceback"),
                       ("\x1b[1mModel: \"mlp\"\x1b[0m\n", "terminal colour codes"),
                       ("matlab.zip:   0%|          | 0.00/13.6k\n", "a progress bar")]:
        nb.write_text(good)
        _edit(nb, lambda cs: cs[2]["outputs"].append({"output_type": "stream", "name": "stderr", "text": text}))
        assert problems(nb) == [next(f"code cell 1 shows {w}: {fix}" for w, _, fix in DEBRIS if w == what)]
    nb.write_text(good)
    _edit(nb, lambda cs: cs[2]["outputs"].append({"output_type": "execute_result", "execution_count": None, "metadata": {},
                                                  "data": {"text/plain": "x" * (MAX_OUTPUT + 1)}}))
    assert problems(nb) == [f"code cell 1 prints {MAX_OUTPUT + 1:,} characters in one output (at most {MAX_OUTPUT:,}): cut long lists"]


def test_run_drops_noise_and_a_failing_notebook_is_left_unchanged(tmp_path):
    nb = _tiny(tmp_path/"n.ipynb", ["import sys\nsys.stderr.write('W0000 00:00:1.5 12 port.cc:153] noise\\nkept\\n')"])
    run(nb)
    assert "".join(json.loads(nb.read_text())["cells"][1]["outputs"][0]["text"]) == "kept\n"
    w = _tiny(tmp_path/"w.ipynb", ["import ipywidgets\nipywidgets.IntSlider(value=3)"])
    run(w)
    data = json.loads(w.read_text())["cells"][1]["outputs"][0]["data"]
    assert "".join(data["text/plain"]) == WIDGET_NOTE and "application/vnd.jupyter.widget-view+json" in data
    bad = _tiny(tmp_path/"b.ipynb", ["x = 1", "1 / 0"])
    before = bad.read_bytes()
    with pytest.raises(Exception, match="ZeroDivisionError"): run(bad)
    assert bad.read_bytes() == before and not list(tmp_path.glob("*.tmp"))


def test_real_notebook_with_an_unrun_cell_fails(tmp_path):
    "A committed notebook, once run, fails the check as soon as a cell is added that did not run."
    done = [p for p in NOTEBOOKS if p.stem not in NOT_YET_RERUN]
    if not done: pytest.skip("no notebook has been re-run through tests/nbrun.py yet")
    nb = shutil.copy(done[0], tmp_path/done[0].name)
    _edit(Path(nb), lambda cs: cs.append(nbformat.v4.new_code_cell("print('not run')")))
    assert "added or edited since the last run" in problems(nb)[0]
