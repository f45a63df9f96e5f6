#!/usr/bin/env bash
# The whole hwr test suite. Expects the project installed in .venv (see README: Quickstart).
#  1. the package is exactly what the notebooks export, and the notebooks are clean;
#  2. every notebook runs as a test (nbdev_test sets IN_TEST=1: small data, few epochs);
#  3. pytest covers what a notebook can't hold (CLIs, packaging, processes, downloads over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export WANDB_MODE="${WANDB_MODE:-disabled}" TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"

echo "== 1/3 nbdev_export and nbdev_clean change nothing"
nbdev_export
nbdev_clean
changed=$(git status --porcelain -- hwr nbs)
if [ -n "$changed" ]; then
  echo "The notebooks and hwr/ disagree, or a notebook is not clean:"; echo "$changed"
  git --no-pager diff --stat -- hwr nbs
  echo "Fix: run nbdev_export and nbdev_clean, then commit the result."
  exit 1
fi

echo "== 2/3 nbdev_test (every notebook, IN_TEST=1)"
nbdev_test --n_workers "${NBDEV_WORKERS:-2}" --timing

echo "== 3/3 pytest"
python -m pytest tests -q -p no:cacheprovider
