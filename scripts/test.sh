#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, and the pytest suite (simulator over loopback HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
mypy
pytest -n 2 --dist loadfile -q "$@"
