#!/usr/bin/env bash
# The main job on a fresh machine: Exec API (the simulator, or the real API if .env has a key)
# -> tap-exec -> Meltano -> DuckDB (an embedded warehouse) -> dbt (transform/: staging and exec_analytics marts,
# tested), then a summary from the marts and a chart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

if [ -f .env ] && grep -q '^TAP_EXEC_API_KEY=' .env; then
  echo "Using the real Exec API with the key in .env"
else
  url_file=$(mktemp)
  # EXEC_SIMULATOR_ARGS: e.g. "--extra-field sessions.sentiment --string-scores --text-scores" to show schema drift
  # shellcheck disable=SC2086
  exec-simulator --port 0 --url-file "$url_file" ${EXEC_SIMULATOR_ARGS:-} > /dev/null &
  sim_pid=$!
  trap 'kill $sim_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do [ -s "$url_file" ] && break; sleep 0.1; done
  export TAP_EXEC_API_URL TAP_EXEC_API_KEY
  TAP_EXEC_API_URL=$(cat "$url_file")
  TAP_EXEC_API_KEY=$(python -c 'from tap_exec.simulator import DEFAULT_API_KEY; print(DEFAULT_API_KEY)')
  echo "Exec API simulator at $TAP_EXEC_API_URL"
fi

# The default selection plus skill_proficiency (one request per skill), so that every mart has rows.
TAP_EXEC__SELECT=$(python -c 'import json, yaml
tap = next(p for p in yaml.safe_load(open("meltano.yml"))["plugins"]["extractors"] if p["name"] == "tap-exec")
print(json.dumps([*tap["select"], "skill_proficiency.*"]))')
export TAP_EXEC__SELECT

mkdir -p output
rm -f output/warehouse.duckdb
meltano install tap-exec target-duckdb dbt-duckdb > output/install.log 2>&1 || { tail -n 40 output/install.log; exit 1; }
echo "Running: meltano run --full-refresh tap-exec target-duckdb dbt-duckdb:build (log: output/demo.log)"
meltano --log-level=info run --full-refresh tap-exec target-duckdb dbt-duckdb:build > output/demo.log 2>&1 || { tail -n 40 output/demo.log; exit 1; }
grep -o 'Done\. PASS=.*' output/demo.log | tail -n 1 | sed 's/^/dbt build: /'
grep -o 'Summary: schema drift.*' output/demo.log | sed 's/^Summary: //' || true
python scripts/show_warehouse.py output/warehouse.duckdb
