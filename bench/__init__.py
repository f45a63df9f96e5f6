"hwr benchmarks: `python -m bench` (see bench/__main__.py) and the scripts beside it."
