#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, and the pytest suite (simulator over loopback HTTP, Meltano pipelines
# into JSONL, DuckDB and a throwaway PostgreSQL server started here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
mypy
meltano install > /dev/null 2>&1 || meltano install  # loaders for the pipeline tests (output shown only on failure)
eval "$(bash scripts/pg.sh start)"
trap 'bash scripts/pg.sh stop "$TAP_EXEC_TEST_PG_DIR"' EXIT
pytest -n 2 --dist loadfile -q "$@"
