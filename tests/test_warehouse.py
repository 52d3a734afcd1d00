"""Simulator -> Meltano (`run` and `elt`) -> JSONL, DuckDB and PostgreSQL: every table holds exactly the API's rows.

All Meltano tests live in this one module so that they run one at a time (they share the project's .meltano/).
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import time
import typing as t
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tap_exec.simulator.data import Counts
from tap_exec.simulator.drift import ApiDrift, extra_value, served_score
from tap_exec.simulator.seed import build
from tests import marts
from tests.expected import ENDPOINTS, by_key, expected_records
from tests.helpers import ROOT, meltano, meltano_env_for, recent
from tests.test_streams import PER_PARENT

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator
    from tap_exec.simulator.data import Dataset

pytestmark = pytest.mark.e2e  # minutes of Meltano, loaders and dbt

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


@pytest.fixture
def sim(make_sim: t.Callable[..., Simulator]) -> Simulator:
    """The default workspace, practising until an hour ago (its last week is the first run's current read)."""
    return make_sim(data=recent(build()))


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
    reconciled = math.ceil(sessions_before / 100 / 7)  # at most: a slice of the history, re-read for late grades
    assert 1 <= second.count("/rest/v1/sessions") <= 1 + reconciled, "the second run reads the lookback window and a slice"
    lists = [path for path in second if path != "/rest/v1/sessions"]
    twice = (
        lists.count("/rest/v1/scenarios/assignments") - 1 + lists.count("/rest/v1/knowledge-hub/pages") - 1
    )  # 2 pages; archived
    assert len(lists) == len(set(lists)) + twice, "one request per list page"


def _duckdb_rows(path: str) -> Rows:
    import duckdb

    def rows(sql: str) -> list[dict[str, t.Any]]:
        with duckdb.connect(path, read_only=True) as con:
            cursor = con.execute(sql)
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return rows


def _postgres_rows(url: str) -> Rows:
    import psycopg

    def rows(sql: str) -> list[dict[str, t.Any]]:
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as con:
            return con.execute(sql).fetchall()

    return rows


def _postgres_env(env: dict[str, str], url: str, schema: str) -> dict[str, str]:
    """`env` with target-postgres loading into `schema` of the test server."""
    return {
        **env,
        "TARGET_POSTGRES_SQLALCHEMY_URL": url.replace("postgresql://", "postgresql+psycopg://"),
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


def test_duckdb_pipeline(sim: Simulator, meltano_env: dict[str, str]) -> None:
    _run_twice(sim, meltano_env, "target-duckdb", _duckdb_rows(meltano_env["TARGET_DUCKDB_FILEPATH"]), "exec")


def test_postgres_pipeline(sim: Simulator, meltano_env: dict[str, str], postgres_url: str) -> None:
    schema = f"exec_{uuid.uuid4().hex[:8]}"
    rows = _postgres_rows(postgres_url)
    _run_twice(sim, _postgres_env(meltano_env, postgres_url, schema), "target-postgres", rows, schema)
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
        assert by_key(name, rows) == by_key(name, expected_records(sim, name)), name
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


# -- deletions (issue 18), through the loaders and dbt ------------------------------------------------------------------
def _workspace_to_delete_from() -> Dataset:
    """120 sessions over 200 days (history: two pages, one reconciliation pass in two runs), 150 members (two pages)."""
    return recent(build(12, Counts.scaled(0.2, members=150, sessions=120, pages=12)), within=200 * 86_400)


def _postgres_dbt_env(env: dict[str, str], url: str, schema: str) -> dict[str, str]:
    """`env` with target-postgres and dbt-postgres on `schema` of the test server."""
    parts = urlsplit(url)
    return {
        **_postgres_env(env, url, schema),
        "DBT_POSTGRES_HOST": parts.hostname or "",
        "DBT_POSTGRES_PORT": str(parts.port or 5432),
        "DBT_POSTGRES_USER": parts.username or "",
        "DBT_POSTGRES_PASSWORD": parts.password or "",
        "DBT_POSTGRES_DBNAME": parts.path.lstrip("/"),
        "DBT_POSTGRES_SOURCE_SCHEMA": schema,
        "DBT_POSTGRES_TARGET_SCHEMA": schema,
    }


@pytest.mark.parametrize("loader", ["postgres soft delete", "postgres hard delete", "duckdb"])
def test_what_left_the_api_leaves_the_warehouse_and_nothing_else(  # noqa: PLR0915 - one story, told once
    make_sim: t.Callable[..., Simulator], tmp_path: Path, postgres_url: str, loader: str
) -> None:
    """A shifted member list deletes nobody current; what was deleted upstream is deleted, marked or left out.

    A participant whose sessions were deleted leaves staging and the marts; an archived page shows as archived;
    sessions deleted upstream (one in the window, one only reconciliation reads) are marked, with their details, and
    left out of staging. target-duckdb ignores ACTIVATE_VERSION.
    """
    sim = make_sim(data=_workspace_to_delete_from())
    data = sim.data
    schema = f"exec_{uuid.uuid4().hex[:8]}"
    env = {
        **meltano_env_for(sim, tmp_path),
        "TAP_EXEC_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
        "TAP_EXEC__SELECT": json.dumps(["*.*"]),
        "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000",
    }
    if loader == "duckdb":
        loaded, build_models = ["run", "tap-exec", "target-duckdb"], ["run", "tap-exec", "target-duckdb", "dbt-duckdb:build"]
        rows, raw, staged, analytics = _duckdb_rows(env["DBT_DUCKDB_PATH"]), "exec", "exec_staging", "exec_analytics"
    else:
        env = {**_postgres_dbt_env(env, postgres_url, schema), "TARGET_POSTGRES_HARD_DELETE": str("hard" in loader).lower()}
        loaded, build_models = (
            ["run", "tap-exec", "target-postgres"],
            ["run", "tap-exec", "target-postgres", "dbt-postgres:build"],
        )
        rows, raw, staged, analytics = _postgres_rows(postgres_url), schema, f"{schema}_staging", f"{schema}_analytics"
    meltano(loaded, env)

    mark = sim.stats.requests
    deleting = loader != "duckdb"  # target-duckdb ignores ACTIVATE_VERSION: a member removed upstream stays current
    if deleting:
        shifted = data.members[5]
        sim.schedule(mark + 3, lambda d: d.members.remove(shifted))  # workspace, members page 1, then page 2 shifts up
        left = data.remove_member(0)
    pairs = {(s.scenario["id"], s.user["id"]) for s in data.sessions}
    scenario, leaver = next(p for p in sorted(pairs) if sum(1 for q in pairs if q[0] == p[0]) > 2)
    gone = [s for s in data.sessions if (s.scenario["id"], s.user["id"]) == (scenario, leaver)]
    gone += [data.sessions[10], data.sessions[-2]]  # months old (reconciliation), and minutes old (the window)
    data.sessions[:] = [s for s in data.sessions if s not in gone]
    other = next(s for s in data.sessions if s.scenario["id"] == scenario)
    data.insert_session(scenario=next(c for c in data.scenarios if c["id"] == scenario))  # the scenario is touched
    data.sessions[-1].user = other.user
    archived = data.archive_page(0)
    meltano(loaded, env)
    members_read = [p for p in sim.stats.paths()[mark:] if p.endswith("/workspace/members")]
    assert len(members_read) == (4 if deleting else 2), "a member list that moved while read is read again, whole"
    result = meltano(build_models, env)  # the reconciliation pass ends: the old session is found gone
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]

    current = {m["id"] for m in data.members}
    members = {r["id"]: r["_sdc_deleted_at"] for r in rows(f"select id, _sdc_deleted_at from {raw}.workspace_members")}  # noqa: S608
    assert {i for i, deleted in members.items() if deleted is None} >= current, "nobody current deleted"
    if deleting:
        assert {i for i, deleted in members.items() if deleted is None} == current
        assert (left["id"] in members) is ("soft" in loader)
    gone_ids = {s.id for s in gone}
    for stream in ("sessions", "session_details"):
        landed = {r["id"]: r["_sdc_deleted_at"] for r in rows(f"select id, _sdc_deleted_at from {raw}.{stream}")}  # noqa: S608
        assert {i for i, deleted in landed.items() if deleted is None} == {s.id for s in data.sessions}, stream
        # target-postgres's `hard_delete` applies to ACTIVATE_VERSION only: a record's `_sdc_deleted_at` marks the row
        assert {i for i, deleted in landed.items() if deleted is not None} == gone_ids, stream
    staged_sessions = {r["session_id"] for r in rows(f"select session_id from {staged}.stg_exec__sessions")}  # noqa: S608
    assert staged_sessions == {s.id for s in data.sessions}

    participants = rows(f"select scenario_id, user_id from {raw}.scenario_participants")  # noqa: S608
    assert (scenario, leaver) in {(r["scenario_id"], r["user_id"]) for r in participants}, "the raw row stays, older"
    staged_pairs = {(r["scenario_id"], r["user_id"]) for r in rows(f"select * from {staged}.stg_exec__scenario_participants")}  # noqa: S608
    assert (scenario, leaver) not in staged_pairs
    assert {p for p in staged_pairs if p[0] == scenario} == {
        (scenario, s.user["id"]) for s in data.sessions if s.scenario["id"] == scenario
    }
    _assert_marts_match(sim, rows, analytics, proficiency=True)
    status = rows(f"select status from {staged}.stg_exec__knowledge_hub_pages where page_id = '{archived['id']}'")  # noqa: S608
    assert status == [{"status": "archived"}]


# -- the dbt project (transform/): marts equal to the same figures computed from the simulator's data -----------------
def _workspace_with_edge_cases() -> Dataset:
    """A small workspace with what the marts must handle.

    Archived scenarios, people who left, an unpractised scenario, a person assigned the same scenario twice, and a
    deleted scenario (the API no longer lists it) that sessions and an assignment still name.
    """
    data = recent(build(11, Counts.scaled(0.3, former_users=3)))
    data.scenarios[0]["_archived"] = True
    data.add_scenario()  # no session names it
    again = {**data.assignments[0], "id": data.new_id(), "status": "in_progress", "created_at": "2026-10-30T08:00:00Z"}
    data.assignments.append(again)
    data.scenarios.remove(_named_scenario(data, 1))
    return data


def _named_scenario(data: Dataset, index: int) -> dict[str, t.Any]:
    """A listed scenario after `index` that sessions and an assignment name, to delete from the API."""
    named = {s.scenario["id"] for s in data.sessions} & {a["scenario"]["id"] for a in data.assignments}
    return next(s for s in data.scenarios[index:] if s["id"] in named)


def _close(got: t.Any, want: t.Any) -> bool:
    if isinstance(want, float) and got is not None:
        return math.isclose(float(got), want, rel_tol=1e-9, abs_tol=1e-9)
    return bool(got == want)


def _assert_marts_match(sim: Simulator, rows: Rows, schema: str, *, proficiency: bool) -> None:
    """Each mart holds exactly the rows computed from the API's data, every column of every row.

    The mart's columns must be exactly those `tests/marts.py` computes: a new column without an expectation fails.
    """
    expected: dict[str, tuple[tuple[str, ...], dict[t.Any, dict[str, t.Any]]]] = {
        "scenario_practice": (("scenario_id",), marts.scenario_practice(sim.data)),
        "member_progress": (("user_id", "scenario_id"), marts.member_progress(sim.data)),
        "practice_activity": (("activity_date",), marts.practice_activity(sim.data)),
        "skill_proficiency_latest": (("skill_id", "user_id"), marts.skill_proficiency_latest(sim.data)),
    }
    for mart, (key, want) in expected.items():
        computed = {frozenset(columns) for columns in want.values()}
        assert len(computed) == 1, f"{mart}: tests/marts.py gives its rows different columns"
        built = rows(  # the mart's columns even when it has no row
            f"select column_name from information_schema.columns where table_schema = '{schema}' and table_name = '{mart}'"  # noqa: S608
        )
        assert {c["column_name"] for c in built} == set(next(iter(computed))), f"{mart}: columns"
        empty = mart == "skill_proficiency_latest" and not proficiency  # skill_proficiency not selected
        held = {} if empty else want
        landed = rows(f"select * from {schema}.{mart}")  # noqa: S608 - test-owned names
        by_key = {row[key[0]] if len(key) == 1 else tuple(row[k] for k in key): row for row in landed}
        assert len(by_key) == len(landed), f"{mart}: a key twice"
        assert set(by_key) == set(held), mart
        for k, columns in held.items():
            row = by_key[k]
            wrong = {c: (row[c], v) for c, v in columns.items() if not _close(row[c], v)}
            assert not wrong, f"{mart} {k}: {wrong}"


def test_dbt_on_duckdb_default_selection_then_every_stream(make_sim: t.Callable[..., Simulator], tmp_path: Path) -> None:
    """`meltano run tap-exec target-duckdb dbt-duckdb:build`: models and tests green, marts exact.

    First with the default selection (per-parent tables absent: their models build empty), then, after new activity,
    with every stream.
    """
    sim = make_sim(data=_workspace_with_edge_cases())
    env = meltano_env_for(sim, tmp_path)
    rows = _duckdb_rows(env["DBT_DUCKDB_PATH"])

    result = meltano(["run", "tap-exec", "target-duckdb", "dbt-duckdb:build"], env)
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]
    assert "WARN=0 " in result.stderr, result.stderr[-2000:]
    _assert_marts_match(sim, rows, "exec_analytics", proficiency=False)
    assert rows("select count(*) as n from exec_staging.stg_exec__session_details") == [{"n": 0}]
    practice = {r["scenario_id"]: r for r in rows("select * from exec_analytics.scenario_practice")}
    assert practice[sim.data.scenarios[0]["id"]]["sessions"] > 0, "an archived scenario keeps its row"
    assert practice[sim.data.scenarios[-1]["id"]]["sessions"] == 0, "an unpractised scenario has its row"
    deleted = [r for r in practice.values() if not r["is_in_catalogue"]]
    assert len(deleted) == 1, "the deleted scenario keeps its row, out of the catalogue"
    assert deleted[0]["sessions"] > 0, "its sessions still count"
    former = {r["user_id"] for r in rows("select user_id from exec_analytics.member_progress where not is_current_member")}
    assert former == {u["id"] for u in sim.data.users[len(sim.data.members) :]}, "people who left keep their rows"
    meltano(["invoke", "dbt-duckdb:freshness"], env)

    _add_activity(sim)
    env["TAP_EXEC__SELECT"] = json.dumps(["*.*"])
    env["TAP_EXEC_MAX_REQUESTS_PER_MINUTE"] = "100000"  # per-parent streams on the simulator, which has no limit
    meltano(["run", "tap-exec", "target-duckdb", "dbt-duckdb:build"], env)
    _assert_marts_match(sim, rows, "exec_analytics", proficiency=True)
    details = rows("select count(*) as n from exec_staging.stg_exec__session_details")
    assert details == [{"n": len(sim.data.sessions)}]


def test_a_failing_parent_fails_dbt_build_after_the_marts_are_built(make_sim: t.Callable[..., Simulator], tmp_path: Path) -> None:
    """A detail failing on every run fails `dbt build` by its test, after exact marts; green once it answers.

    The tap exits 0, so `meltano run` goes on to dbt; no_parent_is_still_failing fails on the parent's row.
    """
    sim = make_sim(data=recent(build(7, Counts.scaled(0.2, sessions=80))))
    victim = sim.data.sessions[-2]
    sim.answer(f"/sessions/{victim.id}", 500, b'{"error": {"type": "api_error", "message": "boom"}}')
    env = {
        **meltano_env_for(sim, tmp_path),
        "TAP_EXEC__SELECT": json.dumps(["*.*"]),
        "TAP_EXEC_MAX_RETRIES": "0",
        "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000",
    }
    rows = _duckdb_rows(env["DBT_DUCKDB_PATH"])
    executable = str(Path(sys.executable).with_name("meltano"))
    pipeline = [executable, "run", "tap-exec", "target-duckdb", "dbt-duckdb:build"]
    failed = subprocess.run(pipeline, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, output[-3000:]
    assert "Still owed after failing" in output, output[-3000:]  # the tap's WARNING, and it went on to dbt
    assert "ERROR=1 " in output, output[-3000:]
    assert "no_parent_is_still_failing" in output, output[-3000:]
    _assert_marts_match(sim, rows, "exec_analytics", proficiency=True)  # built all the same
    failing = rows("select stream, parent_id, days_failing from exec_staging.stg_exec__fetch_failures where is_failing")
    assert failing == [{"stream": "session_details", "parent_id": victim.id, "days_failing": 1}]

    sim.heal(f"/sessions/{victim.id}")
    result = meltano(pipeline[1:], env)
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]
    settled = rows("select parent_id, is_failing, resolution from exec_staging.stg_exec__fetch_failures")
    assert settled == [{"parent_id": victim.id, "is_failing": False, "resolution": "fetched"}]
    details = rows(f"select count(*) as n from exec_staging.stg_exec__session_details where session_id = '{victim.id}'")  # noqa: S608
    assert details == [{"n": 1}]


def test_a_session_deleted_while_its_details_were_deselected_leaves_staging(
    make_sim: t.Callable[..., Simulator], tmp_path: Path
) -> None:
    """Its sessions row is marked but its detail row never is: staging derives that the detail is gone."""
    sim = make_sim(data=recent(build(8, Counts.scaled(0.2, sessions=60))))
    env = {**meltano_env_for(sim, tmp_path), "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000"}
    every = {**env, "TAP_EXEC__SELECT": json.dumps(["*.*"])}
    rows = _duckdb_rows(env["DBT_DUCKDB_PATH"])
    meltano(["run", "tap-exec", "target-duckdb"], every)
    gone = sim.data.delete_session(len(sim.data.sessions) - 2)  # minutes old: the next window read misses it
    meltano(["run", "tap-exec", "target-duckdb"], env)  # the default selection: session_details deselected
    result = meltano(["run", "tap-exec", "target-duckdb", "dbt-duckdb:build"], every)  # selected again
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]  # the relationships test to sessions included
    marks = {
        stream: rows(f"select _sdc_deleted_at from exec.{stream} where id = '{gone.id}'")  # noqa: S608
        for stream in ("sessions", "session_details")
    }
    assert marks["sessions"][0]["_sdc_deleted_at"] is not None
    assert marks["session_details"] == [{"_sdc_deleted_at": None}], "the raw detail row was never marked"
    staged = {r["session_id"] for r in rows("select session_id from exec_staging.stg_exec__session_details")}
    assert staged == {s.id for s in sim.data.sessions}


def test_dbt_tolerates_a_missing_column_and_fails_clearly_on_a_wrong_schema(meltano_env: dict[str, str]) -> None:
    """A table an older tap-exec loaded without a column still builds (the column is null).

    A source schema with no tables fails the build, naming the table it looked for and the setting to fix.
    """
    import duckdb

    meltano(["run", "tap-exec", "target-duckdb"], meltano_env)
    with duckdb.connect(meltano_env["DBT_DUCKDB_PATH"]) as con:
        con.execute("alter table exec.scenarios drop column language")
    meltano(["invoke", "dbt-duckdb:build"], meltano_env)
    languages = _duckdb_rows(meltano_env["DBT_DUCKDB_PATH"])("select distinct language from exec_analytics.scenario_practice")
    assert languages == [{"language": None}]

    executable = str(Path(sys.executable).with_name("meltano"))
    env = {**meltano_env, "DBT_DUCKDB_SOURCE_SCHEMA": "elsewhere"}
    failed = subprocess.run(
        [executable, "invoke", "dbt-duckdb:build"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0
    assert '"elsewhere"."sessions": tap-exec lands sessions there by default' in failed.stdout + failed.stderr
    assert "source_schema setting" in failed.stdout + failed.stderr


def test_dbt_on_postgres_with_deletes(make_sim: t.Callable[..., Simulator], tmp_path: Path, postgres_url: str) -> None:
    """`meltano run tap-exec target-postgres dbt-postgres:build`, every stream, ACTIVATE_VERSION on: marts exact.

    After a member leaves and a scenario is deleted they are still exact: the loader soft-deletes their rows, staging
    leaves them out, and the marts keep both as former member and scenario no longer in the catalogue.
    """
    sim = make_sim(data=_workspace_with_edge_cases())
    schema = f"exec_{uuid.uuid4().hex[:8]}"
    env = {
        **_postgres_dbt_env(meltano_env_for(sim, tmp_path), postgres_url, schema),
        "TAP_EXEC_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
        "TAP_EXEC__SELECT": json.dumps(["*.*"]),
        "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000",
    }
    rows = _postgres_rows(postgres_url)

    result = meltano(["run", "tap-exec", "target-postgres", "dbt-postgres:build"], env)
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]
    assert "WARN=0 " in result.stderr, result.stderr[-2000:]
    _assert_marts_match(sim, rows, f"{schema}_analytics", proficiency=True)
    meltano(["invoke", "dbt-postgres:freshness"], env)

    left = sim.data.remove_member(0)
    gone = _named_scenario(sim.data, 1)
    sim.data.scenarios.remove(gone)  # the API no longer lists it; its sessions and assignment remain
    _add_activity(sim)
    meltano(["run", "tap-exec", "target-postgres", "dbt-postgres:build"], env)
    members = rows(f"select id from {schema}.workspace_members where _sdc_deleted_at is null")  # noqa: S608
    assert {m["id"] for m in members} == {m["id"] for m in sim.data.members}
    _assert_marts_match(sim, rows, f"{schema}_analytics", proficiency=True)
    practice = rows(f"select * from {schema}_analytics.scenario_practice where scenario_id = '{gone['id']}'")  # noqa: S608
    assert [(r["is_in_catalogue"], r["difficulty"]) for r in practice] == [(False, None)], "soft-deleted: out of the catalogue"
    progress = rows(f"select distinct is_current_member from {schema}_analytics.member_progress where user_id = '{left['id']}'")  # noqa: S608
    assert progress == [{"is_current_member": False}]


# -- schema drift: an API ahead of its spec lands whole in both warehouses, and the models still build ---------------
DRIFT_STREAMS = ("sessions", "collections", "scenarios")


def _assert_drift_landed(sim: Simulator, drift: ApiDrift, rows: Rows, schema: str) -> None:
    """Every row has its undocumented `sentiment`; numeric-string scores are numbers; text scores kept verbatim."""
    listed = {
        "sessions": [s.id for s in sim.data.sessions],
        "collections": [c["id"] for c in sim.data.collections],
        "scenarios": [s["id"] for s in sim.data.scenarios],
    }
    for stream, ids in listed.items():
        landed = {r["id"]: r for r in rows(f'select id, sentiment from {schema}."{stream}"')}  # noqa: S608
        assert sorted(landed) == sorted(ids), stream
        assert all(_normal(landed[i]["sentiment"]) == _normal(extra_value(i)) for i in ids), stream
    scores = {r["id"]: r for r in rows(f"select id, score, score__v_string from {schema}.sessions")}  # noqa: S608
    texts = 0
    for session in sim.data.sessions:
        row = scores[session.id]
        served = served_score(drift, session.id, session.score) if session.score is not None else None
        if isinstance(served, str) and served.endswith(" pts"):
            texts += 1
            assert (row["score"], row["score__v_string"]) == (None, served)
        else:
            assert (_normal(row["score"]), row["score__v_string"]) == (session.score, None), session.id
    assert texts > 0


def test_drift_lands_in_duckdb_and_dbt_still_builds(make_sim: t.Callable[..., Simulator], tmp_path: Path) -> None:
    """`meltano run tap-exec target-duckdb dbt-duckdb:build`, default selection, an API with new fields and types."""
    drift = ApiDrift(tuple(f"{s}.sentiment" for s in DRIFT_STREAMS), string_scores=True, text_scores=True)
    sim = make_sim(drift=drift)
    env = meltano_env_for(sim, tmp_path)
    result = meltano(["run", "tap-exec", "target-duckdb", "dbt-duckdb:build"], env)
    assert "ERROR=0 " in result.stderr, result.stderr[-2000:]
    _assert_drift_landed(sim, drift, _duckdb_rows(env["DBT_DUCKDB_PATH"]), "exec")
    warnings = [line for line in result.stderr.splitlines() if "[warning" in line and "Schema drift in" in line]
    assert len(warnings) == 4, warnings  # one per stream and field: sentiment on three streams, score


def test_drift_lands_in_postgres(make_sim: t.Callable[..., Simulator], tmp_path: Path, postgres_url: str) -> None:
    """The same API through MeltanoLabs target-postgres, which validates every record against its SCHEMA."""
    drift = ApiDrift(tuple(f"{s}.sentiment" for s in DRIFT_STREAMS), string_scores=True, text_scores=True)
    sim = make_sim(drift=drift)
    schema = f"exec_{uuid.uuid4().hex[:8]}"
    env = {**_postgres_env(meltano_env_for(sim, tmp_path), postgres_url, schema)}
    env["TAP_EXEC__SELECT"] = json.dumps([f"{s}.*" for s in DRIFT_STREAMS])
    meltano(["run", "tap-exec", "target-postgres"], env)
    _assert_drift_landed(sim, drift, _postgres_rows(postgres_url), schema)
