#!/usr/bin/env bash
# Create .venv and install radimpress with its test tools exactly as requirements.lock pins them (hashes checked).
#   scripts/install.sh        install; re-runs only when requirements.lock or pyproject.toml changed
#   scripts/install.sh lock   re-resolve pyproject.toml (with its dev and team extras) + requirements.in into requirements.lock
set -euo pipefail
cd "$(dirname "$0")/.."
# uv does not read pip's configuration: point it at the folder that holds the CPU torch wheel on these machines.
export UV_FIND_LINKS="${UV_FIND_LINKS:-/opt/wheels}"
uv=.venv/bin/uv
quiet() { "$@" 2>&1 | { grep -v -e '^WARNING: Location' -e 'is ignored: it is neither' || true; }; }

bootstrap() {  # .venv with requirements.in's uv in it, from PyPI
  local pin
  pin=$(grep -m1 -o '^uv==[^ ]*' requirements.in)
  if [ -x "$uv" ] && [ "$("$uv" --version | cut -d' ' -f2)" = "${pin#uv==}" ]; then return; fi
  # python3's own pip puts uv into a venv made without pip (5 s faster); uv then installs everything, pip included.
  if python3 -m pip --version >/dev/null 2>&1; then
    [ -x .venv/bin/python ] || python3 -m venv --without-pip .venv
    quiet python3 -m pip --python .venv/bin/python install -q "$pin"
  else
    [ -x .venv/bin/python ] || python3 -m venv .venv
    quiet .venv/bin/pip install -q "$pin"
  fi
}

if [ "${1:-}" = lock ]; then
  bootstrap
  "$uv" pip compile pyproject.toml requirements.in --extra dev --extra team --python .venv/bin/python --generate-hashes \
    --quiet --custom-compile-command "make lock" -o requirements.lock
  echo "requirements.lock: $(grep -c '^[a-z0-9]' requirements.lock) packages pinned"
  exit 0
fi

stamp=.venv/.installed
if [ -f "$stamp" ] && [ "$stamp" -nt requirements.lock ] && [ "$stamp" -nt pyproject.toml ]; then exit 0; fi
echo "Installing radimpress into .venv from requirements.lock"
bootstrap
# sync: exactly the lock, nothing more or less. Files come from uv's cache (~/.cache/uv, or $UV_CACHE_DIR) when it
# has them: a second clone installs in seconds. Bytecode is compiled now, as pip does: with PYTHONDONTWRITEBYTECODE
# set (it is on these machines) every process would otherwise compile torch & co. again (+15 s CPU per import).
"$uv" pip sync --python .venv/bin/python --require-hashes --compile-bytecode --quiet requirements.lock
"$uv" pip install --python .venv/bin/python --no-deps --quiet -e .
.venv/bin/python -c "import radimpress, torch, transformers, peft, prefect, mlflow, polars"
touch "$stamp"
