#!/usr/bin/env bash
# Set up and run the checks: ruff, mypy and pytest (the simulator over loopback HTTP).
#   bash scripts/test.sh         every test but the end-to-end group (marker `e2e`): what most changes need
#   bash scripts/test.sh --all   every test, as CI runs it (.ci/run): the e2e group too, i.e. the built wheel in new
#                                environments, Meltano pipelines into JSONL, DuckDB and a throwaway PostgreSQL server
#                                started here, dbt, the README's Meltano lines on a fresh copy, the contract test
# Any other argument goes to pytest (e.g. -k retry, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
all=false
if [ "${1:-}" = "--all" ]; then
  all=true
  shift
fi
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
mypy
if [ "$all" = false ]; then
  exec pytest -n 2 --dist load -q -m "not e2e" "$@"  # any test on any worker: the best balance
fi
meltano install > /dev/null 2>&1 || meltano install  # loaders for the pipeline tests (output shown only on failure)
eval "$(bash scripts/pg.sh start)"
trap 'bash scripts/pg.sh stop "$TAP_EXEC_TEST_PG_DIR"' EXIT
pytest -n 2 --dist loadfile -q "$@"  # a file on one worker: the Meltano tests share .meltano/
