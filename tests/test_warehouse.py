"""Simulator -> Meltano (`run` and `elt`) -> JSONL, DuckDB and PostgreSQL: every table holds exactly the API's rows.

All Meltano tests live in this one module so that they run one at a time (they share the project's .meltano/).
"""

from __future__ import annotations

import json
import os
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from tests.expected import ENDPOINTS, expected_records
from tests.helpers import meltano
from tests.test_streams import PER_PARENT

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator

DEFAULT_STREAMS = sorted(set(ENDPOINTS) - PER_PARENT)

Query = t.Callable[[str], list[tuple[t.Any, ...]]]


def _assert_tables_hold_exactly(sim: Simulator, query: Query, schema: str) -> None:
    for stream in DEFAULT_STREAMS:
        ids = [row[0] for row in query(f'select id from {schema}."{stream}"')]  # noqa: S608 - test-owned names
        expected = [r["id"] for r in expected_records(sim, stream)]
        assert len(ids) == len(set(ids)), f"{stream}: duplicate keys"
        assert sorted(ids) == sorted(expected), stream


def _add_activity(sim: Simulator) -> set[str]:
    new = {sim.data.insert_session(int(time.time()) - 5).id for _ in range(7)}
    sim.data.grade_session(0)
    return new


def _run_twice(sim: Simulator, env: dict[str, str], loader: str, query: Query, schema: str) -> None:
    meltano(["run", "tap-exec", loader], env)
    _assert_tables_hold_exactly(sim, query, schema)
    sessions_before = len(query(f"select id from {schema}.sessions"))  # noqa: S608
    new = _add_activity(sim)
    meltano(["run", "tap-exec", loader], env)  # incremental: Meltano passes the first run's state
    _assert_tables_hold_exactly(sim, query, schema)
    assert len(query(f"select id from {schema}.sessions")) == sessions_before + len(new)  # noqa: S608


def test_duckdb_pipeline(sim: Simulator, meltano_env: dict[str, str]) -> None:
    import duckdb

    def query(sql: str) -> list[tuple[t.Any, ...]]:
        with duckdb.connect(meltano_env["TARGET_DUCKDB_FILEPATH"], read_only=True) as con:
            return con.execute(sql).fetchall()

    _run_twice(sim, meltano_env, "target-duckdb", query, "exec")


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

    def query(sql: str) -> list[tuple[t.Any, ...]]:
        with psycopg.connect(postgres_url) as con:
            return con.execute(sql).fetchall()

    _run_twice(sim, env, "target-postgres", query, schema)
    nested = query(f"select user_id from (select (\"user\"->>'id') as user_id from {schema}.sessions) s limit 1")  # noqa: S608
    assert nested[0][0]


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
