"""The README's course map, made from the notebooks themselves.

    python tests/course_map.py          # say whether README.md's map is the one the notebooks give
    python tests/course_map.py --write  # rewrite the map in README.md (tests/nbrun.py does this after each run)

Each row takes its title from the notebook's first heading and its running time from the notebook's
`hwr.seconds` metadata (the last full run through tests/nbrun.py); "what it builds" is kept from the
README. The parts are fixed here, by the notebooks' number ranges.
"""
from __future__ import annotations

import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT/"README.md"
PARTS = [  # first and last number, heading, what the part is about
    ("00", "09", "Start here",
     "The finished reader on real handwriting, then a first model of your own: trained on fonts in a few minutes, tested on real digits."),
    ("10", "19", "Part 1: characters",
     "One image, one character: datasets and tf.data, MLP and LeNet, the `Model` class, and a lab on what character models learn and confuse."),
    ("20", "29", "Part 2: lines, CTC and a language model",
     "From characters to lines: error rates, text to write, line networks, CTC and its decoders, and a character language model."),
    ("30", "39", "Part 3: closing the gap with synthetic ink",
     "Why fonts are not hands and what brings them closer: font collections, rendering, written-looking ink, the synthetic "
     "datasets, and one preprocessing path for real and synthetic images."),
    ("40", "49", "Part 4: real ink",
     "Real handwriting to measure and train on: IAM, the CSAFE pages, labels for their lines, a few real lines mixed into "
     "synthetic ones, and two labs on where a font-trained model fails and what fine-tuning fixes."),
    ("50", "59", "Part 5: pages and your own hand",
     "A page cut into lines, your own lines as a dataset, and a lab that fine-tunes the shipped reader on your writing."),
    ("60", "89", "Part 6: using and deploying it",
     "Where weights come from, the predictors, the command line, PDFs, PAGE XML and ALTO, widgets, exports and a web service."),
    ("90", "99", "Appendix: the engineering underneath (skippable, still tested)",
     "Downloads done safely, the one-step set-up, the GPU manager, experiments from configs, experiment groups and sweeps, "
     "the recipes behind the shipped files, and the figures check."),
]
INTRO = ["## The course", "",
         "Read the notebooks in this order; each one is also a test (`nbdev_test`). \"Full run\" is how long the",
         "notebook took top to bottom with its full-size data (not the small test run) on a 2-core CPU with no GPU,",
         "as recorded in its metadata; each lab also says so in its first cells. The committed outputs were made",
         "after `hwr-setup` (127 training fonts and the Brown corpus); with the pip install alone (15 fonts,",
         "prose from fortune files) the synthetic data differ, and so do the figures trained on them.",
         "Figures on the 49 real dev lines come from `bench/results/` (the lines stay outside the repository).", ""]
ROW = re.compile(r"^\| \[(\S+)\]\(nbs/\S+\.ipynb\) \| .*? \| (.*?) \| [^|]* \|$", re.M)
END = "Experiment templates live in"


def minutes(seconds: float) -> str:
    return "< 1 min" if seconds < 60 else f"{round(seconds / 60)} min"


def title(nb: dict) -> str:
    "The notebook's first heading."
    return "".join(nb["cells"][0]["source"]).splitlines()[0].lstrip("# ").strip()


def course_map(readme: str) -> str:
    "The map section the notebooks give, keeping each row's 'what it builds' from `readme`."
    builds = {m.group(1): m.group(2) for m in ROW.finditer(readme)}
    nbs = sorted((ROOT/"nbs").glob("*.ipynb"))
    out, placed = list(INTRO), set()
    for first, last, heading, about in PARTS:
        mine = [p for p in nbs if first <= p.stem[:2] <= last]
        out += [f"### {heading}", "", about, "", "| notebook | title | what it builds | full run |", "|---|---|---|---|"]
        for p in mine:
            nb = json.loads(p.read_text(encoding="utf-8"))
            seconds = nb["metadata"].get("hwr", {}).get("seconds")
            out.append(f"| [{p.stem}](nbs/{p.name}) | {title(nb)} | {builds.get(p.stem, '(describe it)')} | "
                       f"{minutes(seconds) if seconds is not None else 'not run'} |")
            placed.add(p.stem)
        out.append("")
    missing = [p.stem for p in nbs if p.stem not in placed]
    if missing: raise ValueError(f"notebooks outside every part of the course map: {missing}; add a range to PARTS")
    return "\n".join(out) + "\n"


def split(readme: str) -> tuple[str, str, str]:
    start, end = readme.index(INTRO[0]), readme.index(END)
    return readme[:start], readme[start:end], readme[end:]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    readme = README.read_text(encoding="utf-8")
    head, current, tail = split(readme)
    wanted = course_map(readme)
    if "--write" in argv:
        if wanted != current:
            tmp = README.with_suffix(".md.tmp"); tmp.write_text(head + wanted + tail, encoding="utf-8"); tmp.replace(README)
        return 0
    if wanted != current:
        print("README.md's course map differs from the notebooks: run `python tests/course_map.py --write`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
