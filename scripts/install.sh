#!/usr/bin/env bash
# Create .venv and install radimpress with its test tools. Idempotent: re-runs only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then exit 0; fi
echo "Installing radimpress into .venv (a few minutes on a fresh machine)"
[ -x .venv/bin/python ] || python3 -m venv .venv
quiet() { "$@" 2>&1 | { grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' || true; }; }
quiet .venv/bin/pip install -q --upgrade pip
# The CPU wheel: a bare `torch` requirement would pull a CUDA build of several GB. GPU users install theirs first.
.venv/bin/python -c "import torch" 2>/dev/null || quiet .venv/bin/pip install -q torch==2.13.0
quiet .venv/bin/pip install -q -e '.[dev]'
.venv/bin/python -c "import radimpress, torch, transformers, peft, prefect, mlflow, polars" 
touch "$stamp"
