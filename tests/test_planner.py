"""The planner over HTTP: the day's budget buys lists, today's data, then history; nothing owed is lost or blocks."""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from datetime import datetime, timezone

import pytest

from tap_exec.errors import EXIT_DONE, EXIT_FAILED
from tap_exec.run.memory import NEEDS_A_HUMAN_DAYS
from tap_exec.simulator import Counts, build
from tap_exec.simulator.data import iso
from tests.expected import ENDPOINTS, by_key, expected_records, per_parent_stream
from tests.helpers import catalog_for, fast_config, parse, recent, run_cli, run_tap, time_passes, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Dataset, Simulator
    from tests.helpers import Output

ALL = set(ENDPOINTS)
LISTS = {name for name, (_, _, parent, _, _) in ENDPOINTS.items() if parent is None}
DETAILS = {"sessions", "session_details"}


def _data(sessions: int = 450) -> Dataset:
    return recent(build(31, Counts.scaled(0.2, sessions=sessions)))


def _cli(
    sim: Simulator, tmp_path: Path, selected: set[str], state: dict[str, t.Any] | None = None, **settings: t.Any
) -> tuple[int, str, Output]:
    """Run tap-exec as Meltano would; its exit status, stderr and parsed output."""
    config = fast_config(sim, **settings)
    args = ["--config", write_json(tmp_path, "config.json", config)]
    args += ["--catalog", write_json(tmp_path, "catalog.json", catalog_for(config, selected))]
    if state is not None:
        args += ["--state", write_json(tmp_path, "state.json", state)]
    result = run_cli(args)
    return result.returncode, result.stderr, parse(result.stdout)


def _error(kind: str, status: int) -> bytes:
    return json.dumps({"error": {"type": kind, "code": kind, "message": f"simulated {status}"}}).encode()


def _ids(out: Output, stream: str) -> list[str]:
    key = "session_id" if stream == "session_details" else "id"
    return [str(r.get(key, r.get("id"))) for r in out.records(stream)]


def test_a_poison_child_is_owed_and_blocks_nothing(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A detail that answers 500 on every try: everything else lands, the state says what is owed, exit 0; then it heals."""
    data = _data()
    sim = make_sim(data=data)
    victim = data.sessions[-3]
    sim.answer(f"/sessions/{victim.id}", 500, _error("api_error", 500), times=2)  # max_retries 1: both tries fail
    status, stderr, out = _cli(sim, tmp_path, ALL, max_retries=1)
    assert status == EXIT_DONE
    assert not [line for line in stderr.splitlines() if "ERROR" in line]
    warnings = [line for line in stderr.splitlines() if "Still owed" in line]
    assert len(warnings) == 1
    assert victim.id in warnings[0]
    for stream in ALL - {"session_details"}:  # every other stream lands whole
        assert by_key(stream, out.records(stream)) == by_key(stream, expected_records(sim, stream)), stream
    assert sorted(_ids(out, "session_details")) == sorted(s.id for s in data.sessions if s.id != victim.id)
    state = out.last_state
    assert state is not None
    assert out.messages[-1]["type"] == "STATE"
    changes = state["bookmarks"]["session_details"]["changes"]
    assert changes["owed"] == [victim.id]
    assert changes["failed"][victim.id]["tries"] == 1

    mark = sim.stats.requests
    status, _, healed = _cli(sim, tmp_path, ALL, state=state, max_retries=1)
    assert status == 0
    assert healed.records("session_details") == [r for r in expected_records(sim, "session_details") if r["id"] == victim.id]
    assert [p for p, _, _ in sim.stats.log[mark:] if per_parent_stream(p) == "session_details"] == [
        f"/rest/v1/sessions/{victim.id}"
    ]
    assert healed.last_state["bookmarks"]["session_details"]["changes"]["failed"] == {}  # type: ignore[index]


def _failure_rows(out: Output) -> list[tuple[t.Any, ...]]:
    return [
        (r["stream"], r["parent_id"], r["days_failing"], r["needs_attention"], r["resolution"])
        for r in out.records("fetch_failures")
    ]


def test_a_parent_failing_every_day_never_stops_the_pipeline(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A detail that answers 500 on every run, day after day: exit 0, a WARNING and its row every run; later a human.

    Each run writes the parent's `fetch_failures` row (tries and API days growing); from its 7th API day an ERROR
    line says it needs a human; once it answers, its row says so and the next run writes none.
    """
    data = _data(60)
    sim = make_sim(data=data)
    victim = data.sessions[-3]
    sim.answer(f"/sessions/{victim.id}", 500, _error("api_error", 500))  # for good
    selected = DETAILS | {"fetch_failures"}
    state, tries = None, 0
    for day in range(1, NEEDS_A_HUMAN_DAYS + 1):
        for _ in range(2 if day == 1 else 1):  # twice on the first API day: more tries, one day
            status, stderr, out = _cli(sim, tmp_path, selected, state=state, max_retries=0)
            assert status == EXIT_DONE, stderr[-2000:]
            stuck = day >= NEEDS_A_HUMAN_DAYS
            assert _failure_rows(out) == [("session_details", victim.id, day, stuck, None)], day
            assert out.records("fetch_failures")[0]["tries"] > tries
            tries = out.records("fetch_failures")[0]["tries"]
            lines = stderr.splitlines()
            warnings = [line for line in lines if "Still owed after failing" in line]
            assert len(warnings) == 1, lines
            assert victim.id in warnings[0]
            assert "WARNING" in warnings[0].upper()
            human = [line for line in lines if "needs a human" in line]
            assert [victim.id in line and "ERROR" in line.upper() for line in human] == ([True] if stuck else []), day
            state = out.last_state
        sim.advance(86_400)
    row = out.records("fetch_failures")[0]
    assert row["first_failed_at"] < row["last_failed_at"]
    assert "500" in row["last_error"]
    assert {r["id"] for r in out.records("sessions")} >= {s.id for s in data.sessions[-2:]}, "the lists keep landing"

    sim.heal(f"/sessions/{victim.id}")
    status, _, healed = _cli(sim, tmp_path, selected, state=state, max_retries=0)
    assert status == EXIT_DONE
    assert victim.id in _ids(healed, "session_details")
    assert _failure_rows(healed) == [("session_details", victim.id, NEEDS_A_HUMAN_DAYS, False, "fetched")]
    assert healed.records("fetch_failures")[0]["tries"] == tries
    assert healed.records("fetch_failures")[0]["resolved_at"] is not None
    status, stderr, after = _cli(sim, tmp_path, selected, state=healed.last_state, max_retries=0)
    assert (status, after.records("fetch_failures")) == (EXIT_DONE, [])
    assert "Still owed" not in stderr


def test_a_failing_parent_that_leaves_or_is_no_longer_followed_is_settled(make_sim: Callable[..., Simulator]) -> None:
    """Its row says how it stopped failing: gone (deleted upstream), dropped (its stream deselected)."""
    data = _data(60)
    sim = make_sim(data=data)
    old, leaving, staying = data.sessions[5], data.sessions[-2], data.sessions[-3]
    for session in (old, leaving, staying):
        sim.answer(f"/sessions/{session.id}", 500, _error("api_error", 500))  # for good
    config, selected = fast_config(sim, max_retries=0), DETAILS | {"fetch_failures"}
    first = run_tap(config, selected=selected)
    assert sorted(_failure_rows(first)) == sorted(("session_details", s.id, 1, False, None) for s in (old, leaving, staying))
    data.delete_session(data.sessions.index(leaving))  # minutes old: the next window read proves it gone
    data.delete_session(data.sessions.index(old))  # months old: its 404, asked back of the list, proves it gone
    sim.heal(f"/sessions/{old.id}")
    second = run_tap(config, selected=selected, state=first.last_state)
    assert sorted(_failure_rows(second)) == sorted(
        [
            ("session_details", old.id, 1, False, "gone"),
            ("session_details", leaving.id, 1, False, "gone"),
            ("session_details", staying.id, 1, False, None),
        ]
    )
    third = run_tap(config, selected={"sessions", "fetch_failures"}, state=second.last_state)
    assert _failure_rows(third) == [("session_details", staying.id, 1, False, "dropped")]
    assert all(r["resolved_at"] for r in third.records("fetch_failures"))
    fourth = run_tap(config, selected={"sessions", "fetch_failures"}, state=third.last_state)
    assert fourth.records("fetch_failures") == [], "written once"


def test_a_404_once_for_a_listed_parent_is_fetched_next_run(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A replica behind: the detail answers 404 once while the session is listed; it stays owed and arrives next run."""
    data = _data()
    sim = make_sim(data=data)
    first = run_tap(fast_config(sim), selected=DETAILS)
    new = [data.insert_session(int(sim.now()) - 5) for _ in range(2)]
    for session in new:
        sim.answer(f"/sessions/{session.id}", 404, _error("not_found", 404), times=1)
    status, stderr, second = _cli(sim, tmp_path, DETAILS, state=first.last_state)
    assert status == EXIT_DONE
    assert all(s.id in stderr for s in new)
    assert {r["id"] for r in second.records("sessions")} >= {s.id for s in new}
    assert second.records("session_details") == []
    status, _, third = _cli(sim, tmp_path, DETAILS, state=second.last_state)
    assert status == 0
    assert sorted(_ids(third, "session_details")) == sorted(s.id for s in new)


def test_a_404_once_for_a_scenario_is_no_failure_to_report(make_sim: Callable[..., Simulator]) -> None:
    """A full list cannot be asked about one row: a child's 404 is owed quietly, and its next read settles it."""
    data = _data()
    sim = make_sim(data=data)
    scenario = data.scenarios[0]
    sim.answer(f"/scenarios/{scenario['id']}/analytics/summary", 404, _error("not_found", 404), times=1)
    selected, config = {"sessions", "scenarios", "scenario_analytics", "fetch_failures"}, fast_config(sim)
    first = run_tap(config, selected=selected)
    assert sorted(r["scenario_id"] for r in first.records("scenario_analytics")) == sorted(
        s["id"] for s in data.scenarios if s is not scenario
    )
    assert first.records("fetch_failures") == []
    assert first.last_state["bookmarks"]["scenario_analytics"]["changes"]["owed"] == [scenario["id"]]  # type: ignore[index]
    second = run_tap(config, selected=selected, state=first.last_state)
    assert [r["scenario_id"] for r in second.records("scenario_analytics")] == [scenario["id"]]
    assert second.records("fetch_failures") == []


def test_a_403_on_a_child_fails_the_run_clearly(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """Any other 4xx on a child is not a parent to retry: one line, exit 1, and the state as far as the run got."""
    data = _data()
    sim = make_sim(data=data)
    sim.answer(f"/sessions/{data.sessions[-1].id}", 403, _error("authorization_error", 403))
    status, stderr, out = _cli(sim, tmp_path, DETAILS)
    assert status == EXIT_FAILED
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert "403 authorization_error" in errors[0]
    assert "Traceback" not in stderr
    assert out.messages[-1]["type"] == "STATE"
    assert {r["id"] for r in out.records("sessions")} == {s.id for s in data.sessions}  # the list landed first


def test_an_old_regrade_arrives_within_the_refresh_days(make_sim: Callable[..., Simulator]) -> None:
    """Sessions regraded months after they were created: within `per_parent_refresh_days` runs, row and detail agree."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=7)
    state = run_tap(config, selected=DETAILS | {"scenarios", "scenario_analytics"}).last_state
    regraded = [data.grade_session(i) for i in (5, 40, 120)]  # created months ago: no current read shows them
    rows: dict[str, dict[str, t.Any]] = {}
    details: dict[str, dict[str, t.Any]] = {}
    for _ in range(7):
        out = run_tap(config, selected=DETAILS | {"scenarios", "scenario_analytics"}, state=state)
        rows.update({r["id"]: r for r in out.records("sessions")})
        details.update({r["id"]: r for r in out.records("session_details")})
        state = out.last_state
    for session in regraded:
        assert rows[session.id]["score"] == pytest.approx(session.score)
        assert details[session.id]["score"] == pytest.approx(session.score)
    assert set(details) == {s.id for s in regraded}, "only the changed rows' details are fetched again"


def test_rows_deleted_while_history_is_read_lose_nothing(make_sim: Callable[..., Simulator]) -> None:
    """History read newest first with details: rows deleted behind the cursor shift pages up; nothing is skipped."""
    data = build(13, Counts.scaled(0.2, sessions=450))  # all history: older than the first run's week
    sim = make_sim(data=data)
    newest = sorted(data.sessions, key=lambda s: (s.created, s.id))[-7:]

    def delete_read_rows(changed: Dataset) -> None:
        for session in newest:
            changed.delete_session(changed.sessions.index(session))

    sim.schedule(4, delete_read_rows)  # after the current read and two history pages
    out = run_tap(fast_config(sim), selected=DETAILS)
    remaining = {s.id for s in data.sessions}
    assert remaining <= set(_ids(out, "sessions"))
    assert remaining <= set(_ids(out, "session_details"))
    assert len(_ids(out, "session_details")) == len(set(_ids(out, "session_details")))


def test_the_days_budget_buys_lists_then_todays_details_newest_first(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A budget smaller than the run: lists first, then details newest first, aggregates after; exit 0, state saved."""
    data = _data(900)
    sim = make_sim(data=data)
    status, stderr, out = _cli(sim, tmp_path, ALL, daily_request_budget=60)
    assert status == 0
    assert "Today's request budget is spent" in stderr
    assert sim.stats.requests == 60
    paths = [p for p, _, _ in sim.stats.log]
    first_child = min(i for i, p in enumerate(paths) if per_parent_stream(p))
    assert all(not per_parent_stream(p) or p.endswith("/sessions") for p in paths[:first_child])
    assert {n for n in LISTS if n != "sessions"} <= out.streams()  # every list whole before any detail
    assert not [p for p in paths if per_parent_stream(p) in {"scenario_analytics", "scenario_participants"}]
    fetched = [p.rsplit("/", 1)[1] for p in paths if per_parent_stream(p) == "session_details"]
    created = {s.id: s.created for s in data.sessions}
    assert [created[i] for i in fetched] == sorted((created[i] for i in fetched), reverse=True)  # newest first
    assert sorted(fetched) == sorted(sorted(created, key=lambda i: (created[i], i))[-len(fetched) :])  # the newest ones

    mark = sim.stats.requests
    status, stderr, again = _cli(sim, tmp_path, ALL, state=out.last_state, daily_request_budget=60)
    assert (status, sim.stats.requests - mark) == (0, 0)  # the same API day, far from its midnight: no request
    assert stderr.count("| WARNING") == 1
    owed = out.last_state["bookmarks"]["session_details"]["changes"]["owed"]  # type: ignore[index]
    assert again.last_state["bookmarks"]["session_details"]["changes"]["owed"] == owed  # type: ignore[index]
    time_passes(sim, again.last_state, 86_400)  # a day on both clocks: the API's, and ours plus the state's offset
    status, _, tomorrow = _cli(sim, tmp_path, ALL, state=again.last_state, daily_request_budget=60)
    assert status == 0
    assert sim.stats.requests - mark == 60
    assert not set(_ids(tomorrow, "session_details")) & set(fetched), "no detail fetched twice"


def test_today_is_the_apis_day_not_the_local_clock(make_sim: Callable[..., Simulator]) -> None:
    """The budget's day comes from the responses' Date header: a simulator three days behind us counts on its day."""
    sim = make_sim(data=_data(), clock_offset=-3 * 86_400 - 3600)
    out = run_tap(fast_config(sim, daily_request_budget=1000), selected={"workspace", "sessions"})
    api_day = datetime.fromtimestamp(sim.now(), tz=timezone.utc).strftime("%Y-%m-%d")
    assert out.last_state["budget"]["day"] == api_day  # type: ignore[index]
    assert out.last_state["budget"]["spent"] == sim.stats.requests  # type: ignore[index]
    assert api_day != datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert iso(int(sim.now())) > out.records("sessions")[0]["created_at"]


def test_the_plan_speaks_in_days(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """What today's budget buys of the run and when the rest is done, before any run."""
    sim = make_sim(data=_data(900))
    config = write_json(tmp_path, "config.json", fast_config(sim, daily_request_budget=100))
    catalog = write_json(tmp_path, "catalog.json", catalog_for(fast_config(sim), ALL))
    result = subprocess.run(
        [sys.executable, "-m", "tap_exec.plan", "--config", config, "--catalog", catalog],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "sessions history" in result.stdout or "session_details" in result.stdout
    assert "today's budget buys" in result.stdout
    assert "more days of daily runs, done about" in result.stdout


def _plan(tmp_path: Path, config: dict[str, t.Any], selected: set[str], state: dict[str, t.Any] | None = None) -> str:
    """`tap-exec-plan`'s output for `selected` (and `state`)."""
    args = ["--config", write_json(tmp_path, "plan-config.json", config)]
    args += ["--catalog", write_json(tmp_path, "plan-catalog.json", catalog_for(config, selected))]
    if state is not None:
        args += ["--state", write_json(tmp_path, "plan-state.json", state)]
    result = subprocess.run(
        [sys.executable, "-m", "tap_exec.plan", *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_plan_says_a_late_selection_backfills_after_todays_data(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """session_details selected after sessions: the plan names the backfill, its place in the order, and its days."""
    sim = make_sim(data=_data(900))
    out = run_tap(fast_config(sim), selected={"sessions"})
    config = fast_config(sim, daily_request_budget=100)
    before = _plan(tmp_path, config, {"sessions"}, out.last_state)
    assert "Backfill" not in before, before
    plan = _plan(tmp_path, config, DETAILS, out.last_state)
    backfill = plan[plan.index("Backfill in progress") :]
    assert "session_details for about 8" in backfill, plan  # 900 sessions, all but the lookback window's
    assert "after today's lists and new or changed parents" in backfill
    assert "leaves today's aggregates and a reconciliation slice their requests" in backfill
    days = int(backfill.split("it takes about ")[1].split()[0])
    assert 9 <= days <= 11, plan
    assert "`daily_request_budget` 100" in backfill


def test_every_session_of_the_first_week_gets_its_detail(make_sim: Callable[..., Simulator]) -> None:
    """The current read spans more than the lookback window: a row pruned from memory is still listed, not gone."""
    data = recent(build(3, Counts.scaled(0.3, sessions=400)), within=5 * 86_400)
    sim = make_sim(data=data)
    out = run_tap(fast_config(sim), selected=DETAILS)
    assert sorted(_ids(out, "session_details")) == sorted(s.id for s in data.sessions)


def test_a_failing_history_detail_is_owed_not_passed_by(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A detail failing at the details cursor (history, newest first): the cursor moves on, the parent stays owed."""
    data = build(13, Counts.scaled(0.2, sessions=450))  # all history: the details follow the cursor
    sim = make_sim(data=data)
    victim = sorted(data.sessions, key=lambda s: (s.created, s.id))[200]
    sim.answer(f"/sessions/{victim.id}", 500, _error("api_error", 500), times=2)  # max_retries 1: both tries fail
    status, stderr, first = _cli(sim, tmp_path, DETAILS, max_retries=1)
    assert status == EXIT_DONE
    assert victim.id in stderr
    assert sorted(_ids(first, "session_details")) == sorted(s.id for s in data.sessions if s.id != victim.id)
    assert first.last_state["bookmarks"]["session_details"]["changes"]["owed"] == [victim.id]  # type: ignore[index]
    status, _, second = _cli(sim, tmp_path, DETAILS, state=first.last_state, max_retries=1)
    assert status == 0
    assert _ids(second, "session_details") == [victim.id]
