"""Change-driven syncs over HTTP: per-parent requests only for new, changed or touched parents, and never a loss."""

from __future__ import annotations

import copy
import json
import logging
import math
import subprocess
import sys
import time
import typing as t
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from meltano.core.utils import merge

from tap_exec.run.prints import Prints
from tap_exec.simulator import Counts, Simulator, build
from tap_exec.simulator.data import iso
from tests.expected import ENDPOINTS, expected_records, per_parent_stream, without_marks
from tests.helpers import catalog_for, fast_config, forgotten_sessions, parse, recent, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Dataset
    from tests.helpers import Output

ALL = set(ENDPOINTS)
PER_PARENT = {name for name, (_, _, parent, _, _) in ENDPOINTS.items() if parent}


def _data() -> Dataset:
    return recent(build(23, Counts.scaled(0.4, sessions=600)))


def _per_parent(sim: Simulator, since: int) -> Counter[str]:
    """Per-parent requests the simulator answered after log position `since`, by stream."""
    return Counter(name for path, _, _ in sim.stats.log[since:] if (name := per_parent_stream(path)))


def _parents_fetched(sim: Simulator, since: int, stream: str) -> set[str]:
    """Parent ids of the `stream` requests answered after log position `since`."""
    index = ENDPOINTS[stream][0].split("/").index("{}")
    return {
        path.removeprefix("/rest/v1").split("/")[index]
        for path, _, _ in sim.stats.log[since:]
        if per_parent_stream(path) == stream
    }


def _new_session(data: Dataset, scenario: dict[str, t.Any]) -> str:
    return data.insert_session(int(time.time()) - 5, scenario=scenario).id


def _day_one(sim: Simulator, **settings: t.Any) -> tuple[dict[str, t.Any], Output]:
    config = fast_config(sim, **settings)
    return config, run_tap(config, selected=ALL)


def test_an_unchanged_day_makes_no_per_parent_request(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    config, first = _day_one(sim)
    mark = sim.stats.requests
    second = run_tap(config, selected=ALL, state=first.last_state)
    assert _per_parent(sim, mark) == Counter()
    assert not any(second.records(name) for name in PER_PARENT)
    lists = [path for path, _, _ in sim.stats.log[mark:] if path != "/rest/v1/sessions"]
    # one request per list page; pages twice: the list, and the pages archived since the bookmark
    assert len(lists) == len(set(lists)) + lists.count("/rest/v1/scenarios/assignments") - 1 + 1
    top = first.last_state["bookmarks"]["sessions"]["history"]["top"]  # type: ignore[index]
    history = sum(1 for s in sim.data.sessions if iso(s.created) <= top)
    reconciled = math.ceil(history / 100 / 7)  # a seventh of the history's pages, re-read for late grades
    assert sim.stats.paths()[mark:].count("/rest/v1/sessions") == 1 + reconciled


def test_a_changed_day_costs_exactly_its_changes(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim)
    a, b, c = data.scenarios[0], data.scenarios[1], data.scenarios[2]
    new_sessions = {_new_session(data, a), _new_session(data, a), _new_session(data, b)}
    regraded = next(s for s in reversed(data.sessions) if s.scenario["id"] not in {a["id"], b["id"]} and s.id not in new_sessions)
    data.grade_session(data.sessions.index(regraded))  # inside the lookback window: the list shows the new grade
    c = next(s for s in data.scenarios if s["id"] == regraded.scenario["id"])
    d = data.add_scenario()
    new_skill = {**data.skills[0], "id": data.new_id(), "name": "Zz new skill", "slug": "zz-new-skill"}
    data.skills.append(new_skill)
    bookmark = first.last_state["bookmarks"]["knowledge_hub_pages"]["replication_key_value"]  # type: ignore[index]
    at_bookmark = {p["id"] for p in data.pages if p["updated_at"] == bookmark}
    tied = next(p for p in data.pages if p["updated_at"] < bookmark)
    tied["updated_at"] = bookmark  # another page updated in the bookmark's second: still fetched
    edited = data.touch_page(data.pages.index(next(p for p in data.pages if p["id"] not in at_bookmark | {tied["id"]})))
    source = data.touch_source(3)
    embedding = {p["id"] for p in data.pages if source["id"] in p["_sources"]}  # their contents embed a copy of it
    mark = sim.stats.requests

    second = run_tap(config, selected=ALL, state=first.last_state)

    touched = {a["id"], b["id"], c["id"]}
    skills = {k["id"] for s in data.scenarios if s["id"] in touched for k in s["_skills"]} | {new_skill["id"]}
    expected = {
        "session_details": new_sessions | {regraded.id},
        "scenario_analytics": touched | {d["id"]},
        "scenario_participants": touched | {d["id"]},
        "skill_proficiency": skills,
        "knowledge_hub_page_contents": {tied["id"], edited["id"]} | embedding,
        "knowledge_hub_page_versions": {tied["id"], edited["id"]},
        "knowledge_hub_source_contents": {source["id"]},
    }
    for stream, parents in expected.items():
        assert _parents_fetched(sim, mark, stream) == parents, stream
    assert sum(_per_parent(sim, mark).values()) == sum(len(p) for p in expected.values())  # each parent once
    for stream, parents in expected.items():  # and what came back is what the API serves now
        key = ENDPOINTS[stream][3]
        assert sorted(json.dumps(r, sort_keys=True) for r in without_marks(second.records(stream))) == sorted(
            json.dumps(r, sort_keys=True) for r in without_marks(expected_records(sim, stream)) if r[str(key)] in parents
        ), stream


def test_a_regraded_session_outside_the_window_waits_for_the_refresh(make_sim: Callable[..., Simulator]) -> None:
    """The documented limit: only the lookback re-read reveals grades; older ones are caught by the periodic refresh."""
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim, sessions_lookback_days=1)
    data.grade_session(5)  # months old: no list request shows it
    mark = sim.stats.requests
    run_tap(config, selected=ALL, state=first.last_state)
    assert _per_parent(sim, mark) == Counter()


def _age(state: dict[str, t.Any], days: float) -> dict[str, t.Any]:
    state = copy.deepcopy(state)
    since = (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for bookmark in state["bookmarks"].values():
        if "since" in bookmark.get("changes", {}):
            bookmark["changes"]["since"] = since
    return state


def test_the_periodic_refresh_fires_when_due(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim)
    mark = sim.stats.requests
    run_tap(config, selected=ALL, state=_age(first.last_state, 6.9))  # type: ignore[arg-type]
    assert _per_parent(sim, mark) == Counter()
    mark = sim.stats.requests
    refreshed = run_tap(config, selected=ALL, state=_age(first.last_state, 7.1))  # type: ignore[arg-type]
    counts = _per_parent(sim, mark)
    assert counts["scenario_analytics"] == counts["scenario_participants"] == len(data.scenarios)
    assert counts["skill_proficiency"] == len(data.skills)
    assert counts["knowledge_hub_source_contents"] == len(data.sources)
    newest = max(s.created for s in data.sessions)
    window = [s for s in data.sessions if s.created >= newest - 3 * 86_400]  # the lookback window, re-read
    assert counts["session_details"] == len(window)
    since = refreshed.last_state["bookmarks"]["scenario_analytics"]["changes"]["since"]  # type: ignore[index]
    assert datetime.now(timezone.utc) - datetime.fromisoformat(since.replace("Z", "+00:00")) < timedelta(minutes=5)


def test_refresh_days_zero_fetches_every_parent_every_run(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim, per_parent_refresh_days=0)
    assert not any("changes" in b for b in first.last_state["bookmarks"].values())  # type: ignore[index]
    mark = sim.stats.requests
    run_tap(config, selected=ALL, state=first.last_state)
    assert _per_parent(sim, mark)["scenario_analytics"] == len(data.scenarios)


def test_a_newly_selected_stream_fetches_every_parent_once(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected={"sessions", "scenarios", "scenario_analytics"})
    mark = sim.stats.requests
    second = run_tap(
        config, selected={"sessions", "scenarios", "scenario_analytics", "scenario_participants"}, state=first.last_state
    )
    assert _per_parent(sim, mark) == Counter({"scenario_participants": len(data.scenarios)})
    mark = sim.stats.requests
    run_tap(config, selected={"sessions", "scenarios", "scenario_analytics", "scenario_participants"}, state=second.last_state)
    assert _per_parent(sim, mark) == Counter()


def test_a_state_from_before_change_tracking_fetches_as_before(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim)
    old = copy.deepcopy(first.last_state)
    for bookmark in old["bookmarks"].values():  # type: ignore[index]
        bookmark.pop("changes", None)
    mark = sim.stats.requests
    run_tap(config, selected=ALL, state=old)
    counts = _per_parent(sim, mark)
    assert counts["scenario_analytics"] == len(data.scenarios)
    assert counts["knowledge_hub_source_contents"] == len(data.sources)


def test_without_the_sessions_list_aggregates_are_fetched_in_full(
    make_sim: Callable[..., Simulator], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected={"scenarios", "scenario_analytics"})
    mark = sim.stats.requests
    run_tap(config, selected={"scenarios", "scenario_analytics"}, state=first.last_state)
    assert _per_parent(sim, mark) == Counter({"scenario_analytics": len(data.scenarios)})
    assert "`sessions` is not read in this run" in caplog.text


def test_lists_are_read_before_the_streams_they_change(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    run_tap(fast_config(sim), selected=ALL)
    paths = [path.removeprefix("/rest/v1") for path, _, _ in sim.stats.log]
    assert paths.index("/sessions") < paths.index("/scenarios") < paths.index("/skills")
    last_session = max(i for i, p in enumerate(paths) if p.startswith("/sessions"))
    first_analytics = min(i for i, p in enumerate(paths) if "/analytics/" in p)
    first_proficiency = min(i for i, p in enumerate(paths) if p.endswith("/proficiency"))
    assert last_session < first_analytics < first_proficiency


def _changed_day(data: Dataset) -> None:
    for scenario in data.scenarios[:4]:
        _new_session(data, scenario)
    data.grade_session(len(data.sessions) - 6)
    data.add_scenario()
    data.touch_page(2)
    data.touch_source(1)


def _records(out: Output, streams: t.Iterable[str]) -> dict[str, set[str]]:
    """Each stream's records as JSON text, less the fetch times (a run fetching later has later ones)."""
    return {name: {json.dumps(r, sort_keys=True) for r in without_marks(out.records(name))} for name in streams}


DayTwo = tuple["Dataset", dict[str, t.Any], dict[str, set[str]], int, int]


@pytest.fixture(scope="module")
def day_two() -> DayTwo:
    """Day one's data and state after a changed day; what an uninterrupted day two emits, its requests, per-parent ones."""
    data = _data()
    with Simulator(data) as sim:
        first = run_tap(fast_config(sim), selected=ALL)
    _changed_day(data)
    with Simulator(copy.deepcopy(data)) as sim:
        second = run_tap(fast_config(sim), selected=ALL, state=first.last_state)
        cost, per_parent = sim.stats.requests, sum(_per_parent(sim, 0).values())
    return data, first.last_state, _records(second, ALL), cost, per_parent  # type: ignore[return-value]


@pytest.mark.parametrize("meltano_merge", [False, True], ids=["state as written", "merged by Meltano"])
@pytest.mark.parametrize("cut", range(1, 31, 2))
def test_a_stopped_run_leaves_what_it_owes_to_the_next(
    make_sim: Callable[..., Simulator], day_two: DayTwo, cut: int, meltano_merge: bool
) -> None:
    """Day two stopped after `cut` requests (max_requests), then finished: every row arrives, nothing is fetched twice.

    Meltano keeps a stopped run's state as partial and merges it over the last complete one, dict by dict.
    """
    data, state, reference, cost, per_parent = day_two
    sim = make_sim(data=copy.deepcopy(data))
    config = fast_config(sim)
    stopped = run_tap({**config, "max_requests": cut}, selected=ALL, state=state, stop_ok=True)
    assert sim.stats.requests == cut
    resume = stopped.last_state
    if meltano_merge:
        resume = merge(stopped.last_state, copy.deepcopy(state))  # type: ignore[no-untyped-call]
    finished = run_tap(config, selected=ALL, state=resume)
    both = _records(stopped, ALL)
    for name, rows in _records(finished, ALL).items():
        both[name] |= rows
    assert both == reference
    assert sum(_per_parent(sim, 0).values()) == per_parent, "no parent's children fetched twice"
    assert sim.stats.requests - cost <= cost - per_parent, "a stop costs at most the list pages read again"


def test_a_killed_run_loses_nothing(make_sim: Callable[..., Simulator], day_two: DayTwo, tmp_path: Path) -> None:
    """Kill -9 in the middle of day two, then a run from the last STATE it wrote: every row arrives."""
    data, state, reference, _, _ = day_two
    sim = make_sim(data=copy.deepcopy(data))
    config = write_json(tmp_path, "config.json", fast_config(sim))
    args = ["--config", config, "--catalog", write_json(tmp_path, "catalog.json", catalog_for(fast_config(sim), ALL))]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tap_exec", *args, "--state", write_json(tmp_path, "state.json", state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if '"stream":"scenario_analytics"' in line.replace(" ", ""):  # children of the scenarios list are under way
            break
    proc.kill()
    proc.wait()
    killed = parse("".join(lines))
    assert killed.last_state is not None
    finished = run_tap(fast_config(sim), selected=ALL, state=killed.last_state)
    both = _records(killed, ALL)
    for name, rows in _records(finished, ALL).items():
        both[name] |= rows
    assert both == reference


def test_owed_parents_that_vanished_are_settled(make_sim: Callable[..., Simulator], caplog: pytest.LogCaptureFixture) -> None:
    data = _data()
    sim = make_sim(data=data)
    config, first = _day_one(sim)
    state = copy.deepcopy(first.last_state)
    gone_session = data.sessions[3]  # outside the lookback window, so the list will not show it again
    state["bookmarks"]["session_details"]["changes"]["owed"] = [gone_session.id]  # type: ignore[index]
    state["bookmarks"]["session_details"]["changes"]["keys"] = {gone_session.id: iso(gone_session.created)}  # type: ignore[index]
    state["bookmarks"]["scenario_analytics"]["changes"]["owed"] = ["no-longer-a-scenario"]  # type: ignore[index]
    data.delete_session(3)
    mark = sim.stats.requests
    second = run_tap(config, selected=ALL, state=state)
    assert _per_parent(sim, mark) == Counter({"session_details": 1})  # a 404; the vanished scenario costs nothing
    assert f"/sessions/{gone_session.id}" in caplog.text or "no longer exists" in caplog.text
    for stream in ("session_details", "scenario_analytics"):
        assert second.last_state["bookmarks"][stream]["changes"]["owed"] == []  # type: ignore[index]
    assert second.last_state["bookmarks"]["session_details"]["changes"]["keys"] == {}  # type: ignore[index]  # nor its key


def test_the_state_remembers_each_session_by_the_apis_own_id(make_sim: Callable[..., Simulator]) -> None:
    """`seen` (the window) and `known` (older rows, packed as bytes) name every session the API serves, by its id."""
    data = _data()
    sim = make_sim(data=data)
    out = run_tap(fast_config(sim), selected={"sessions", "session_details"})
    changes = out.last_state["bookmarks"]["sessions"]["changes"]  # type: ignore[index]
    known = set(Prints({"known": changes["known"]}).table)
    assert known, "sessions older than the window"
    assert known | set(changes["seen"]) == {s.id for s in data.sessions}


def test_activate_version_follows_each_complete_full_table_list(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected=ALL)
    activated = [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
    full_table = {name for name in ALL - PER_PARENT if name not in {"sessions", "knowledge_hub_pages"}}
    assert sorted(m["stream"] for m in activated) == sorted(full_table)
    for message in activated:
        stream = message["stream"]
        positions = [i for i, m in enumerate(out.messages) if m.get("stream") == stream and m["type"] == "RECORD"]
        assert out.messages.index(message) > max(positions), f"{stream}: after its last record"
        assert {out.messages[i]["version"] for i in positions} == {message["version"]}


def test_a_list_stopped_halfway_sends_no_activate_version(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())  # 48 assignments: 3 pages of 20
    config = fast_config(sim, page_size=20, emit_activate_version_messages=True)
    out = run_tap({**config, "max_requests": 2}, selected={"assignments"}, stop_ok=True)
    assert len(out.records("assignments")) == 40
    assert not [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
    out = run_tap(config, selected={"assignments"})
    kinds = [m["type"] for m in out.messages]
    assert set(kinds[kinds.index("ACTIVATE_VERSION") + 1 :]) == {"STATE"}  # the checkpoint, then the final (closed) STATE


@pytest.mark.e2e  # 300,000 sessions: a minute or more
def test_state_stays_bounded_for_300k_sessions(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """A 300k-session backfill: `seen` holds the lookback window only; `known` (the history) rides on checkpoints.

    A history read writes no STATE between the planner's checkpoints (its mark and the rows it read into `known`
    go out together), so no STATE holds a mark past rows it does not remember.
    """
    data = recent(build(5, Counts.scaled(0.1, sessions=300_000)))
    sim = make_sim(data=data)
    config = write_json(tmp_path, "config.json", fast_config(sim))
    catalog = write_json(tmp_path, "catalog.json", catalog_for(fast_config(sim), {"sessions", "scenario_analytics"}))
    result = run_cli(["--config", config, "--catalog", catalog], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = parse(result.stdout)
    states = out.states()
    newest = data.sessions[-1].created
    window = {s.id for s in data.sessions if s.created >= newest - 3 * 86_400}
    assert set(states[-1]["bookmarks"]["sessions"]["changes"]["seen"]) == window
    assert forgotten_sessions(out) == []
    assert len(states) < 20, "a STATE at the planner's checkpoints, not one every 1,000 records of history"
    known = states[-1]["bookmarks"]["sessions"]["changes"]["known"]  # the older sessions, for reconciliation
    older = len(data.sessions) - len(window)
    assert 32 * older <= len(known) <= 33 * older  # 24 bytes a session (a UUID, a version, its key, a flag), in base64


def test_a_backfill_stopped_by_the_daily_budget_costs_at_most_1_01x(make_sim: Callable[..., Simulator]) -> None:
    data = build(9, Counts.scaled(0.1, sessions=2_000))
    selected = {"sessions", "session_details"}
    reference = make_sim(data=data)
    run_tap(fast_config(reference), selected=selected)
    sim = make_sim(data=data)
    state: dict[str, t.Any] | None = None
    details: list[str] = []
    for _ in range(20):  # one "day" of 250 requests each
        before = sim.stats.requests
        out = run_tap(fast_config(sim, max_requests=250), selected=selected, state=state, stop_ok=True)
        details += [r["id"] for r in out.records("session_details")]
        state = out.last_state
        if sim.stats.requests - before < 250:
            break
    assert sorted(details) == sorted(s.id for s in data.sessions)  # each once, none lost
    assert sim.stats.requests <= 1.01 * reference.stats.requests
