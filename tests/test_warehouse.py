"""Simulator -> Meltano (`run` and `elt`) -> JSONL, DuckDB and PostgreSQL: every table holds exactly the API's rows.

All Meltano tests live in this one module so that they run one at a time (they share the project's .meltano/).
"""

from __future__ import annotations

import functools
import json
import os
import time
import typing as t
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.expected import ENDPOINTS, expected_records
from tests.helpers import meltano
from tests.test_streams import PER_PARENT

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator

DEFAULT_STREAMS = sorted(set(ENDPOINTS) - PER_PARENT)

Query = t.Callable[[str], list[tuple[t.Any, ...]]]
Rows = t.Callable[[str], list[dict[str, t.Any]]]


def _normal(value: t.Any) -> t.Any:  # noqa: PLR0911 - any column value, one return per kind
    """A warehouse value as the API's JSON would have it: UTC ISO timestamps, floats, parsed JSON documents."""
    if isinstance(value, datetime):
        moment = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _normal(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _assert_tables_hold_exactly(sim: Simulator, rows: Rows, schema: str, *, empty_is_null: bool = False) -> None:
    """Every row of every default stream's table equals the API's row, column by column; no key twice, none missing.

    `empty_is_null`: the loader stores an empty string as NULL (target-duckdb 0.8.0 loads through CSV, which cannot
    tell them apart; README, Usage with Meltano); everything else must still be equal.
    """
    for stream in DEFAULT_STREAMS:
        landed = rows(f'select * from {schema}."{stream}"')  # noqa: S608 - test-owned names
        by_id = {row["id"]: row for row in landed}
        expected = expected_records(sim, stream)
        assert len(by_id) == len(landed), f"{stream}: duplicate keys"
        assert sorted(by_id) == sorted(r["id"] for r in expected), stream
        for record in expected:
            row = by_id[record["id"]]
            served = {k: None if empty_is_null and v == "" else v for k, v in record.items()}
            assert {k: _normal(row[k]) for k in record} == _normal(served), f"{stream} {record['id']}"


def _add_activity(sim: Simulator) -> set[str]:
    new = {sim.data.insert_session(int(time.time()) - 5).id for _ in range(7)}
    sim.data.grade_session(len(sim.data.sessions) - 9)  # an older session inside the lookback window is graded again
    return new


def _run_twice(sim: Simulator, env: dict[str, str], loader: str, rows: Rows, schema: str) -> None:
    exact = functools.partial(_assert_tables_hold_exactly, empty_is_null=loader == "target-duckdb")
    meltano(["run", "tap-exec", loader], env)
    exact(sim, rows, schema)
    sessions_before = len(rows(f"select id from {schema}.sessions"))  # noqa: S608
    new = _add_activity(sim)
    mark = sim.stats.requests
    meltano(["run", "tap-exec", loader], env)  # incremental: Meltano passes the first run's state
    exact(sim, rows, schema)  # the regraded session's new score included
    assert len(rows(f"select id from {schema}.sessions")) == sessions_before + len(new)  # noqa: S608
    second = sim.stats.paths()[mark:]
    assert second.count("/rest/v1/sessions") == 1, "the second run reads only the lookback window"
    assert len(second) == len(set(second)) + second.count("/rest/v1/scenarios/assignments") - 1, "one request per list page"


def test_duckdb_pipeline(sim: Simulator, meltano_env: dict[str, str]) -> None:
    import duckdb

    def rows(sql: str) -> list[dict[str, t.Any]]:
        with duckdb.connect(meltano_env["TARGET_DUCKDB_FILEPATH"], read_only=True) as con:
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    _run_twice(sim, meltano_env, "target-duckdb", rows, "exec")


@pytest.fixture
def postgres_url() -> str:
    """The throwaway server scripts/test.sh starts (scripts/pg.sh)."""
    url = os.environ.get("TAP_EXEC_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TAP_EXEC_TEST_PG_URL is not set: run the tests through scripts/test.sh")
        pytest.skip("no PostgreSQL: run through scripts/test.sh, which starts one")
    return url


def test_postgres_pipeline(sim: Simulator, meltano_env: dict[str, str], postgres_url: str) -> None:
    import psycopg

    schema = f"exec_{uuid.uuid4().hex[:8]}"
    env = {
        **meltano_env,
        "TARGET_POSTGRES_SQLALCHEMY_URL": postgres_url.replace("postgresql://", "postgresql+psycopg://"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }

    def rows(sql: str) -> list[dict[str, t.Any]]:
        with psycopg.connect(postgres_url, row_factory=psycopg.rows.dict_row) as con:
            return con.execute(sql).fetchall()

    _run_twice(sim, env, "target-postgres", rows, schema)
    nested = rows(f"select \"user\"->>'id' as user_id from {schema}.sessions limit 1")  # noqa: S608
    assert nested[0]["user_id"]


@pytest.mark.parametrize("command", [["run", "tap-exec", "target-jsonl"], ["elt", "tap-exec", "target-jsonl", "--state-id", "t"]])
def test_meltano_pipeline_lands_every_selected_stream(sim: Simulator, meltano_env: dict[str, str], command: list[str]) -> None:
    result = meltano(command, meltano_env)
    out = Path(meltano_env["TARGET_JSONL_DESTINATION_PATH"])
    landed = {p.stem for p in out.glob("*.jsonl")}
    assert landed == set(ENDPOINTS) - PER_PARENT
    for name in landed:
        rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert rows == expected_records(sim, name), name
    assert sim.api_key not in result.stdout + result.stderr


def test_meltano_stream_maps_example_pseudonymises_emails(sim: Simulator, meltano_env: dict[str, str]) -> None:
    import hashlib

    meltano(["run", "tap-exec-pseudonymised", "target-jsonl"], meltano_env)
    out = Path(meltano_env["TARGET_JSONL_DESTINATION_PATH"])
    members = [json.loads(line) for line in (out / "workspace_members.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [m["email"] for m in members] == [hashlib.md5(m["email"].encode()).hexdigest() for m in sim.data.members]  # noqa: S324
    sessions = [json.loads(line) for line in (out / "sessions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(set(s["user"]) == {"id"} and len(s["user_email_hash"]) == 32 for s in sessions)
    assert not any("@" in line for line in (out / "sessions.jsonl").read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("hard_delete", [False, True], ids=["soft delete", "hard delete"])
def test_postgres_drops_vanished_rows_and_keeps_every_session_detail(
    sim: Simulator, meltano_env: dict[str, str], postgres_url: str, hard_delete: bool
) -> None:
    """ACTIVATE_VERSION on: a member removed upstream leaves the warehouse; older session details all stay."""
    import psycopg

    schema = f"exec_{uuid.uuid4().hex[:8]}"
    env = {
        **meltano_env,
        "TARGET_POSTGRES_SQLALCHEMY_URL": postgres_url.replace("postgresql://", "postgresql+psycopg://"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
        "TARGET_POSTGRES_HARD_DELETE": str(hard_delete).lower(),
        "TAP_EXEC_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
        "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000",  # the simulator has no limit; 1,500 details at 60/min take 25 min
        "TAP_EXEC__SELECT": json.dumps(["workspace_members.*", "sessions.*", "session_details.*"]),
    }

    def query(sql: str) -> list[tuple[t.Any, ...]]:
        with psycopg.connect(postgres_url) as con:
            return con.execute(sql).fetchall()

    meltano(["run", "tap-exec", "target-postgres"], env)
    removed = sim.data.remove_member(3)
    new = _add_activity(sim)
    meltano(["run", "tap-exec", "target-postgres"], env)

    members = dict(query(f"select id, _sdc_deleted_at is not null from {schema}.workspace_members"))  # noqa: S608
    if hard_delete:
        assert removed["id"] not in members
    else:
        assert members.pop(removed["id"]) is True
    assert members == dict.fromkeys((m["id"] for m in sim.data.members), False)
    details = dict(query(f"select id, _sdc_deleted_at is not null from {schema}.session_details"))  # noqa: S608
    assert details == dict.fromkeys((s.id for s in sim.data.sessions), False)
    assert new <= set(details)
