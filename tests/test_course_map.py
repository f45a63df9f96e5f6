"The README's course map is the one the notebooks give: every notebook once, in order, its own title and running time."
import json, re, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import course_map  # noqa: E402


def test_readme_map_matches_notebooks():
    readme = course_map.README.read_text(encoding="utf-8")
    head, current, tail = course_map.split(readme)
    assert current == course_map.course_map(readme), "run `python tests/course_map.py --write`"
    stems = re.findall(r"^\| \[(\S+)\]\(nbs/", current, re.M)
    assert stems == sorted(p.stem for p in (course_map.ROOT/"nbs").glob("*.ipynb"))   # each once, in file order


def test_map_follows_a_changed_notebook(tmp_path, monkeypatch):
    "A new title or a new running time changes the map, so the check fails until the README is rewritten."
    readme = course_map.README.read_text(encoding="utf-8")
    nbs = tmp_path/"nbs"; nbs.mkdir()
    for p in sorted((course_map.ROOT/"nbs").glob("*.ipynb"))[:3]:
        nb = json.loads(p.read_text(encoding="utf-8"))
        (nbs/p.name).write_text(json.dumps({"cells": nb["cells"][:1], "metadata": nb["metadata"]}), encoding="utf-8")
    monkeypatch.setattr(course_map, "ROOT", tmp_path)
    before = course_map.course_map(readme)
    first = sorted(nbs.glob("*.ipynb"))[0]
    nb = json.loads(first.read_text()); nb["metadata"]["hwr"]["seconds"] = 7200
    first.write_text(json.dumps(nb))
    after = course_map.course_map(readme)
    assert after != before and "| 120 min |" in after
    (nbs/"55_unplaced.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# X"]}], "metadata": {}}))
    assert "| [55_unplaced](nbs/55_unplaced.ipynb) | X | (describe it) | not run |" in course_map.course_map(readme)


def _text(nb: dict, cells=None) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"][:cells] if c["cell_type"] == "markdown")


def test_every_lab_states_goal_results_time_and_has_answered_exercises():
    "A lab opens with its goal, its expected results and its running time, and its exercises say what to observe, with answers."
    labs = sorted((course_map.ROOT/"nbs").glob("*_lab_*.ipynb"))
    assert len(labs) >= 8
    for p in labs:
        nb = json.loads(p.read_text(encoding="utf-8"))
        opening, whole = _text(nb, 6).lower(), _text(nb)
        for what in ("goal", "expected result", "running time"):
            assert what in opening, f"{p.name}: its first cells do not state its {what}"
        assert re.search(r"^#+ .*exercises", whole, re.M | re.I), f"{p.name}: no exercises"
        assert "<details>" in whole and "observe" in whole.lower(), f"{p.name}: exercises without observations or hidden answers"
