"""What left the API leaves the warehouse, and nothing else does (over HTTP, against the simulator).

Expected rows come from the simulator's data after each change; a small in-test target applies the messages as a
Singer target that honours ACTIVATE_VERSION and `_sdc_deleted_at` (hard delete) would.
"""

from __future__ import annotations

import copy
import json
import logging
import typing as t

import pytest
import yaml
from meltano.core.utils import merge
from singer_sdk.mapper import md5

from tap_exec.errors import EXIT_DONE
from tap_exec.simulator import Counts, build
from tap_exec.simulator.data import iso
from tests.helpers import ROOT, catalog_for, fast_config, parse, recent, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Dataset, Simulator
    from tests.helpers import Output


def landed(
    out: Output, stream: str, key: tuple[str, ...] = ("id",), table: dict[t.Any, dict[str, t.Any]] | None = None
) -> dict[t.Any, dict[str, t.Any]]:
    """The table a deleting target holds after `out`: upserts by key, ACTIVATE_VERSION and `_sdc_deleted_at` applied."""
    rows = {} if table is None else dict(table)
    versions: dict[t.Any, int | None] = dict.fromkeys(rows)
    for message in out.messages:
        if message.get("stream") != stream:
            continue
        if message["type"] == "RECORD":
            record = message["record"]
            ident = tuple(record.get(k) for k in key)
            if record.get("_sdc_deleted_at"):
                rows.pop(ident, None)
                continue
            rows[ident], versions[ident] = record, message.get("version")
        elif message["type"] == "ACTIVATE_VERSION":
            for ident in [i for i, v in versions.items() if i in rows and (v is None or v < message["version"])]:
                del rows[ident]
    return rows


def _members(count: int) -> Dataset:
    return build(3, Counts.scaled(0.2, members=count))


def _ids(rows: list[dict[str, t.Any]]) -> set[tuple[t.Any, ...]]:
    return {(row["id"],) for row in rows}


# -- a full-table list is proven whole before anything is deleted ---------------------------------------------------
def test_a_member_list_that_shifts_while_read_deletes_nobody_current(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_members(200))
    sim.schedule(2, lambda data: data.remove_member(5))  # after page 1 is served: page 2 shifts up by one row
    out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected={"workspace_members"})
    assert set(landed(out, "workspace_members")) == _ids(sim.data.members)  # all 199 current members, nobody else
    assert sim.stats.requests == 4  # the two pages, then the whole list again once it was seen to move
    assert [m["type"] for m in out.messages if m.get("stream") == "workspace_members"][-1] == "ACTIVATE_VERSION"


def test_a_list_that_keeps_moving_sends_no_activate_version(
    make_sim: Callable[..., Simulator], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(data=_members(150))
    before = {m["id"]: json.loads(json.dumps(m)) for m in sim.data.members}
    for request in (2, 4, 6):  # each read loses a member of its first page before its second page
        sim.schedule(request, lambda data: data.remove_member(0))
    table = {(i,): row for i, row in before.items()}
    with caplog.at_level(logging.WARNING):
        out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected={"workspace_members"})
    assert not [m for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
    assert sim.stats.requests == 6  # three reads, then it gives up proving it
    assert "cannot be proven whole" in caplog.text
    kept = landed(out, "workspace_members", table=table)
    assert _ids(sim.data.members) <= set(kept)  # nothing current deleted; the three gone stay until a quiet run
    out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected={"workspace_members"})
    assert set(landed(out, "workspace_members", table=kept)) == _ids(sim.data.members)


def test_an_owed_parent_is_not_dropped_by_a_list_that_moved(make_sim: Callable[..., Simulator]) -> None:
    """A scenario skipped by every read of a moving list stays owed and is fetched; gone ones wait for a proven list."""
    data = recent(build(4, Counts.scaled(0.2, scenarios=150, sessions=300)))
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected={"scenarios", "scenario_analytics"})
    state = first.last_state
    target = data.scenarios[100]["id"]  # first row of page 2
    state["bookmarks"]["scenario_analytics"]["changes"]["owed"] = [target]  # type: ignore[index]

    def shift_up(dataset: Dataset) -> None:
        dataset.scenarios.pop(0)  # the target moves onto page 1, already served

    def shift_down(dataset: Dataset) -> None:
        dataset.scenarios.insert(0, dataset.scenarios[-1])  # a row moved to the front: the target back at 100
        dataset.scenarios.pop()

    mark = sim.stats.requests
    for n in (2, 4, 6):
        sim.schedule(mark + n, shift_up)
    for n in (3, 5):
        sim.schedule(mark + n, shift_down)
    second = run_tap(config, selected={"scenarios", "scenario_analytics"}, state=state)
    assert target not in {r["id"] for r in second.records("scenarios")}  # skipped by every read
    assert target in {r["scenario_id"] for r in second.records("scenario_analytics")}  # still owed, so fetched
    assert second.last_state["bookmarks"]["scenario_analytics"]["changes"]["owed"]  # type: ignore[index] # the three gone
    third = run_tap(config, selected={"scenarios", "scenario_analytics"}, state=second.last_state)
    assert third.last_state["bookmarks"]["scenario_analytics"]["changes"]["owed"] == []  # type: ignore[index] # a proven list
    assert sim.stats.count(404) == 3  # each gone scenario asked once: the proven list settled them without a request


# -- a per-parent list replaces its parent's rows -------------------------------------------------------------------
def current_children(out: list[Output], stream: str, parent_key: str, key: tuple[str, ...]) -> dict[t.Any, dict[str, t.Any]]:
    """What the staging models keep (macros/children.sql): rows whose mark is not older than their parent's fetch_log."""
    rows: dict[t.Any, dict[str, t.Any]] = {}
    fetched: dict[str, str] = {}
    for run in out:
        rows.update(landed(run, stream, key))
        for entry in run.records("fetch_log"):
            if entry["stream"] == stream:
                fetched[entry["parent_id"]] = entry["fetched_at"]
    return {k: r for k, r in rows.items() if r[parent_key] not in fetched or r["_exec_fetched_at"] >= fetched[r[parent_key]]}


def _participants(sim: Simulator, scenario_id: str) -> set[tuple[str, str]]:
    sessions = [s for s in sim.data.sessions if s.scenario["id"] == scenario_id]
    return {(scenario_id, s.user["id"]) for s in sessions}


def test_participants_whose_sessions_were_deleted_leave_their_scenario(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=recent(build(5, Counts.scaled(0.2, scenarios=4, sessions=200))))
    config = fast_config(sim, per_parent_refresh_days=0)  # every scenario's participants fetched every run
    selected = {"scenarios", "scenario_participants", "fetch_log"}
    first = run_tap(config, selected=selected)
    busy, emptied = sim.data.scenarios[0]["id"], sim.data.scenarios[1]["id"]
    leaver = next(s.user["id"] for s in sim.data.sessions if s.scenario["id"] == busy)
    before = _participants(sim, busy)
    sim.data.sessions[:] = [
        s for s in sim.data.sessions if not (s.scenario["id"] == busy and s.user["id"] == leaver) and s.scenario["id"] != emptied
    ]
    second = run_tap(config, selected=selected, state=first.last_state)
    key = ("scenario_id", "user_id")
    raw = landed(second, "scenario_participants", key, table=landed(first, "scenario_participants", key))
    assert (busy, leaver) in raw  # the raw table keeps the row, with the older mark
    current = current_children([first, second], "scenario_participants", "scenario_id", key)
    want = set().union(*(_participants(sim, s["id"]) for s in sim.data.scenarios))
    assert set(current) == want
    assert (busy, leaver) not in current
    assert len(before) > 1  # the scenario still has others
    assert not [k for k in current if k[0] == emptied]  # an emptied scenario's list is empty: its log row still says so
    assert {e["parent_id"]: e["row_count"] for e in second.records("fetch_log")}[emptied] == 0


def test_a_participants_list_that_moves_while_fetched_supersedes_its_first_read(make_sim: Callable[..., Simulator]) -> None:
    data = recent(build(6, Counts.scaled(0.2, scenarios=1, members=40, sessions=300)))
    sim = make_sim(data=data)
    scenario = data.scenarios[0]["id"]
    assert len(_participants(sim, scenario)) > 5
    config = fast_config(sim, page_size=5)
    state = run_tap(config, selected={"scenarios"}).last_state
    top = sim.api.analytics_participants({"page": "1", "page_size": "5"}, scenario)["data"][0]["user"]["id"]
    mark = sim.stats.requests
    pages = -(-len(_participants(sim, scenario)) // 5)
    # between the first two pages of the participants list: its first participant's sessions are deleted
    sim.schedule(mark + 3, lambda d: d.sessions.__setitem__(slice(None), [s for s in d.sessions if s.user["id"] != top]))
    out = run_tap(config, selected={"scenarios", "scenario_participants", "fetch_log"}, state=state)
    key = ("scenario_id", "user_id")
    assert (scenario, top) in landed(out, "scenario_participants", key)  # emitted by the first read
    assert set(current_children([out], "scenario_participants", "scenario_id", key)) == _participants(sim, scenario)
    assert sim.stats.requests - mark == 1 + 1 + pages  # the scenarios page, the abandoned first page, a whole read


# -- sessions deleted upstream are marked, in the window and by reconciliation ----------------------------------------
DAY = 86_400


def _deleted(out: Output, stream: str) -> set[str]:
    return {r["id"] for r in out.records(stream) if r.get("_sdc_deleted_at")}


def _sessions(days: int = 60, count: int = 400) -> Dataset:
    return recent(build(8, Counts.scaled(0.1, sessions=count)), within=days * DAY)


def test_a_session_deleted_in_the_window_is_sent_deleted_with_its_detail(make_sim: Callable[..., Simulator]) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim)
    selected = {"sessions", "session_details"}
    first = run_tap(config, selected=selected)
    gone = data.sessions[-3]  # a few minutes old: inside the lookback window the next run reads again
    data.sessions.remove(gone)
    mark = sim.stats.requests
    second = run_tap(config, selected=selected, state=first.last_state)
    assert _deleted(second, "sessions") == {gone.id}
    assert _deleted(second, "session_details") == {gone.id}
    assert next(r for r in second.records("session_details") if r["id"] == gone.id)["session_id"] == gone.id
    assert set(landed(second, "sessions", table=landed(first, "sessions"))) == {(s.id,) for s in data.sessions}
    assert set(landed(second, "session_details", table=landed(first, "session_details"))) == {(s.id,) for s in data.sessions}
    assert not [p for p, _, _ in sim.stats.log[mark:] if gone.id in p]  # found by the list alone: no request for it


def test_an_old_session_deleted_is_found_by_reconciliation_and_nothing_current_is(make_sim: Callable[..., Simulator]) -> None:
    """Days of runs with new and regraded sessions mark nothing, the lookback widened too; an old deletion is marked."""
    data = _sessions(days=200, count=600)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=3, sessions_lookback_days=1)  # a pass over history every 3 runs
    state = run_tap(config, selected={"sessions"}).last_state
    for day in range(6):
        for _ in range(5):
            data.insert_session()
        data.grade_session(10 * day)
        if day == 3:  # the window grows: rows reconciliation already holds are listed by the daily read again
            config["sessions_lookback_days"] = 30
        out = run_tap(config, selected={"sessions"}, state=state)
        assert not _deleted(out, "sessions"), f"day {day}: nothing was deleted"
        state = out.last_state
    old = data.sessions[40]  # months old: only reconciliation reads it again
    data.sessions.remove(old)
    marked: set[str] = set()
    for _ in range(3):
        out = run_tap(config, selected={"sessions"}, state=state)
        marked |= _deleted(out, "sessions")
        state = out.last_state
    assert marked == {old.id}


def test_a_detail_404_for_a_session_no_longer_listed_marks_it_deleted(make_sim: Callable[..., Simulator]) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected={"sessions"})
    victim = data.sessions[-1]
    mark = sim.stats.requests
    sim.schedule(mark + 2, lambda d: d.sessions.remove(victim))  # after the list is read, before its detail
    out = run_tap(config, selected={"sessions", "session_details"}, state=first.last_state)
    assert victim.id in _deleted(out, "sessions")
    assert victim.id in _deleted(out, "session_details")


def test_a_raised_start_date_marks_nothing_it_no_longer_reads(make_sim: Callable[..., Simulator]) -> None:
    data = _sessions(days=200, count=600)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=2)
    state = run_tap(config, selected={"sessions"}).last_state
    state = run_tap(config, selected={"sessions"}, state=state).last_state  # a pass begins (2 runs each)
    config["start_date"] = "2026-09-01T00:00:00Z"  # rows before it are not read any more; they still exist
    assert any(s.created < 1788220800 for s in data.sessions)
    for _ in range(4):
        out = run_tap(config, selected={"sessions"}, state=state)
        assert not _deleted(out, "sessions")
        state = out.last_state


# -- the review's races: nothing current marked, nothing deleted missed ----------------------------------------------
def test_daily_runs_as_days_pass_mark_nothing_that_exists(make_sim: Callable[..., Simulator]) -> None:
    """The window slides a day each run: rows leaving it while a reconciliation pass begins are not marked."""
    data = _sessions(days=200, count=600)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=3)
    selected = {"sessions", "session_details"}
    state = run_tap(config, selected=selected).last_state
    for _ in range(10):
        sim.advance(DAY)
        for k in range(5):
            data.insert_session(created=int(sim.now()) - 3600 * (k + 1) * 3)
        out = run_tap(config, selected=selected, state=state)
        assert not _deleted(out, "sessions")
        state = out.last_state
    old = data.sessions[30]
    data.sessions.remove(old)
    marked: set[str] = set()
    for _ in range(7):  # a pass spans 3 runs: the one under way may have read it already; the next one finds it
        sim.advance(DAY)
        out = run_tap(config, selected=selected, state=state)
        marked |= _deleted(out, "sessions")
        state = out.last_state
    assert marked == {old.id}


def test_a_partial_state_merged_by_meltano_marks_nothing(make_sim: Callable[..., Simulator]) -> None:
    """A stopped run's state merged over the last complete one brings back rows that aged out: none is marked."""
    data = recent(build(8, Counts.scaled(0.1, sessions=400)), newest_seconds_ago=3 * DAY, within=60 * DAY)
    sim = make_sim(data=data)
    config = fast_config(sim, sessions_lookback_days=1)
    selected = {"sessions", "session_details"}
    first = run_tap(config, selected=selected)
    data.insert_session(created=int(sim.now()) - 120)  # the window slides three days
    stopped = run_tap({**config, "max_requests": 1}, selected=selected, state=first.last_state, stop_ok=True)
    partial = t.cast("dict[str, t.Any]", stopped.last_state)
    resume = merge(copy.deepcopy(partial), copy.deepcopy(first.last_state))  # type: ignore[no-untyped-call]
    seen_in = [len(s["bookmarks"]["sessions"]["changes"]["seen"]) for s in (partial, resume)]
    assert seen_in[1] > seen_in[0]  # the merge brought back rows that left the window
    out = run_tap(config, selected=selected, state=resume)
    assert not _deleted(out, "sessions")


def test_a_session_deleted_then_a_stopped_run_is_still_found(make_sim: Callable[..., Simulator]) -> None:
    data = recent(build(8, Counts.scaled(0.1, sessions=400)), newest_seconds_ago=3 * DAY, within=100 * DAY)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=2, sessions_lookback_days=1)
    state = run_tap(config, selected={"sessions"}).last_state
    seen = state["bookmarks"]["sessions"]["changes"]["seen"]  # type: ignore[index]
    victim = next(s for s in reversed(data.sessions) if s.id in seen)
    data.sessions.remove(victim)
    for k in range(300):  # three pages of new sessions: the next run stops inside its window read
        data.insert_session(created=int(sim.now()) - 3 * DAY + 3600 + k * 800)
    state = run_tap({**config, "max_requests": 1}, selected={"sessions"}, state=state, stop_ok=True).last_state
    marked: set[str] = set()
    for _ in range(8):  # the guard skips it; it leaves `seen` for `known`, and the next whole pass finds it
        out = run_tap(config, selected={"sessions"}, state=state)
        marked |= _deleted(out, "sessions")
        state = out.last_state
    assert marked == {victim.id}


def test_an_owed_session_below_a_raised_start_date_is_not_marked(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """Its detail keeps failing, so it stays owed; history read down to the new `start_date` proves nothing below it."""
    data = _sessions(days=200, count=600)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=2, max_retries=0)
    selected = {"sessions", "session_details"}
    state = run_tap(config, selected=selected).last_state
    state = run_tap(config, selected=selected, state=state).last_state
    old = data.sessions[20]
    changes = state["bookmarks"]["session_details"]["changes"]  # type: ignore[index]
    changes.update(owed=[old.id], keys={old.id: iso(old.created)}, failed={old.id: {"tries": 1, "error": "500"}})
    sim.answer(f"/sessions/{old.id}", 500, b'{"error": {"type": "server_error", "message": "boom"}}')
    config["start_date"] = iso(data.sessions[100].created)  # above the owed session, which still exists
    catalog = write_json(tmp_path, "catalog.json", catalog_for(config, selected))
    for n in range(3):
        files = ["--config", write_json(tmp_path, "config.json", config), "--catalog", catalog]
        result = run_cli([*files, "--state", write_json(tmp_path, f"state{n}.json", state)])
        assert result.returncode == EXIT_DONE, result.stderr[-1000:]  # still owed, with everything else done
        out = parse(result.stdout)
        assert not _deleted(out, "sessions")
        assert old.id in out.last_state["bookmarks"]["session_details"]["changes"]["owed"]  # type: ignore[index]
        state = out.last_state


def test_fetch_log_says_only_what_a_proven_read_returned(make_sim: Callable[..., Simulator]) -> None:
    data = recent(build(6, Counts.scaled(0.2, scenarios=1, members=40, sessions=300)))
    sim = make_sim(data=data)
    scenario = data.scenarios[0]["id"]
    config = fast_config(sim, page_size=5)
    state = run_tap(config, selected={"scenarios"}).last_state
    out = run_tap(config, selected={"scenarios", "scenario_participants", "fetch_log"}, state=state)
    assert [(e["parent_id"], e["row_count"]) for e in out.records("fetch_log")] == [(scenario, len(_participants(sim, scenario)))]
    mark = sim.stats.requests

    def churn(d: Dataset) -> None:
        leaver = d.sessions[-1].user["id"]  # a participant drops out: the list moves on every read
        d.sessions[:] = [s for s in d.sessions if s.user["id"] != leaver]

    for n in range(2, 40):
        sim.schedule(mark + n, churn)
    moved = run_tap(
        {**config, "per_parent_refresh_days": 0},
        selected={"scenarios", "scenario_participants", "fetch_log"},
        state=out.last_state,
    )
    assert not moved.records("fetch_log")  # never proven: the last proven fetch stands


def test_a_run_killed_during_reconciliation_resumes_without_marking(make_sim: Callable[..., Simulator]) -> None:
    """Resumed from a STATE written inside a reconciliation read, the pass does not call the rows it read gone."""
    data = _sessions(days=200, count=6_000)
    sim = make_sim(data=data)
    config = fast_config(sim, per_parent_refresh_days=3)  # a pass in three runs of 2,000 rows: STATEs inside each
    state = run_tap(config, selected={"sessions"}).last_state
    state = run_tap(config, selected={"sessions"}, state=state).last_state  # the pass begins
    third = run_tap(config, selected={"sessions"}, state=state)
    inside = [s for s in third.states() if (s["bookmarks"]["sessions"].get("recon") or {}).get("read", 0) >= 2_500]
    assert inside, "a STATE inside the reconciliation read"
    state = inside[0]
    for _ in range(3):  # to the end of the pass, and into the next
        resumed = run_tap(config, selected={"sessions"}, state=state)
        assert not _deleted(resumed, "sessions")
        state = resumed.last_state


def test_a_400_for_a_page_past_the_end_of_a_list_that_shrank_reads_it_again(make_sim: Callable[..., Simulator]) -> None:
    """NOTES.md: a page past the last may be a 400 `invalid_pagination`; a list that shrank below it is read again."""
    sim = make_sim(data=_members(101))
    sim.api.past_end_error = True
    sim.schedule(2, lambda data: data.remove_member(0))  # 100 left: page 2 no longer exists
    out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected={"workspace_members"})
    assert set(landed(out, "workspace_members")) == _ids(sim.data.members)
    assert [status for _, _, status in sim.stats.log] == [200, 400, 200]  # page 1, page 2 gone, page 1 again: whole


def test_a_400_past_the_end_of_the_sessions_window_restarts_it(make_sim: Callable[..., Simulator]) -> None:
    data = recent(build(8, Counts.scaled(0.1, sessions=150)), within=DAY)  # two pages in the first run's window
    sim = make_sim(data=data)
    sim.api.past_end_error = True
    sim.schedule(2, lambda d: d.sessions.__delitem__(slice(0, 60)))  # 90 left after page 1: page 2 is gone
    out = run_tap(fast_config(sim), selected={"sessions"})
    assert {r["id"] for r in out.records("sessions")} >= {s.id for s in data.sessions}  # every one still there
    assert 400 in [status for _, _, status in sim.stats.log]


# -- a deletion record passes any catalog, selection and stream map with its key and mark (issue 24) ------------------
def _readme_map() -> dict[str, t.Any]:
    """The stream maps of meltano.yml's `tap-exec-pseudonymised` (the README's example)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    extractor = next(e for e in project["plugins"]["extractors"] if e["name"] == "tap-exec-pseudonymised")
    return t.cast("dict[str, t.Any]", extractor["config"]["stream_maps"])


def _schema(out: Output, stream: str) -> dict[str, t.Any]:
    return [m for m in out.messages if m["type"] == "SCHEMA" and m["stream"] == stream][-1]


def _delete_two(sim: Simulator, data: Dataset, *, in_window: bool = True) -> tuple[str, str]:
    """One session deleted before the next run (its window read misses it), one after its list is read (its detail 404s).

    The run before selects no details, so the next one owes every session's.
    """
    gone, victim = data.sessions[-3], data.sessions[-1]
    if in_window:
        data.sessions.remove(gone)
    sim.schedule(sim.stats.requests + 2, lambda d: d.sessions.remove(victim))
    return gone.id, victim.id


def test_the_readmes_pseudonymising_map_lands_the_mark_of_a_deleted_session(make_sim: Callable[..., Simulator]) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim, stream_maps=_readme_map())
    selected = {"sessions", "session_details", "workspace_members"}  # the SDK refuses a map of a deselected stream
    first = run_tap(config, selected=selected - {"session_details"})
    assert all(set(r["user"]) == {"id"} and r["user_email_hash"] for r in first.records("sessions"))  # the map applies
    gone, victim = _delete_two(sim, data)
    second = run_tap(config, selected=selected, state=first.last_state)  # no KeyError: 'user'
    marks = [r for r in second.records("sessions") if r.get("_sdc_deleted_at")]
    assert {r["id"] for r in marks} == {gone, victim}  # in the window, and owed (its detail answered 404)
    assert all(set(r) == {"id", "_sdc_deleted_at"} for r in marks)  # what the map cannot compute is left out
    details = [r for r in second.records("session_details") if r.get("_sdc_deleted_at")]
    assert {(r["id"], r["session_id"]) for r in details} == {(gone, gone), (victim, victim)}
    assert "_sdc_deleted_at" in _schema(second, "sessions")["schema"]["properties"]
    assert set(landed(second, "sessions", table=landed(first, "sessions"))) == {(s.id,) for s in data.sessions}
    owed = second.last_state["bookmarks"]["session_details"]["changes"]["owed"]  # type: ignore[index]
    assert victim not in owed  # written, so forgotten


def _older(discovered: dict[str, t.Any]) -> dict[str, t.Any]:
    """A catalog from a version before deletions (sessions), or a field selection deselecting the mark (details)."""
    catalog = copy.deepcopy(discovered)
    for entry in catalog["streams"]:
        if entry["stream"] == "sessions":  # as a version before deletions wrote it: no mark at all
            del entry["schema"]["properties"]["_sdc_deleted_at"]
            entry["metadata"] = [m for m in entry["metadata"] if m["breadcrumb"] != ["properties", "_sdc_deleted_at"]]
            fields: tuple[str, ...] = ("id", "created_at")  # and a field selection that lists only these
        else:
            fields = ("id", "session_id", "score")
        for meta in entry["metadata"]:
            crumb = meta["breadcrumb"]
            if len(crumb) == 2:  # a top-level property
                meta["metadata"]["selected"] = crumb[1] in fields
                if crumb[1] == "_sdc_deleted_at":
                    meta["metadata"]["inclusion"] = "available"
    return catalog


def test_an_older_catalog_or_a_selection_without_the_mark_still_sends_it_under_freeze(
    make_sim: Callable[..., Simulator],
) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim, schema_contract="freeze")
    selected = {"sessions", "session_details"}
    discovered = catalog_for(config, selected)
    for entry in discovered["streams"]:
        marks = [m for m in entry["metadata"] if m["breadcrumb"] == ["properties", "_sdc_deleted_at"]]
        assert [m["metadata"]["inclusion"] for m in marks] == (["automatic"] if entry["stream"] in selected else [])
    first = run_tap(config, catalog=_older(catalog_for(config, {"sessions"})))
    assert set(first.records("sessions")[0]) == {"id", "created_at"}  # the selection applies to rows
    gone, victim = _delete_two(sim, data)
    second = run_tap(config, catalog=_older(discovered), state=first.last_state)  # freeze: a deletion record is no drift
    assert _deleted(second, "sessions") == {gone, victim}
    assert _deleted(second, "session_details") == {gone, victim}
    for stream in selected:
        assert "_sdc_deleted_at" in _schema(second, stream)["schema"]["properties"]


FAILING_MAPS: dict[str, t.Any] = {
    "sessions": {"id": "id", "user_id": "record['user']['id']", "__else__": "__NULL__"},
    "session_details": {"__filter__": "record['score'] is not None", "id": "md5(id)"},  # its key hashed in place
    "graded_sessions": {  # an alias keyed by a hash of the id, filtered on a field a deletion does not have
        "__source__": "sessions",
        "__filter__": "record['score'] is not None and record['score'] > 0",
        "__key_properties__": ["id_hash"],
        "id_hash": "md5(id)",
        "score": "score",
        "__else__": "__NULL__",
    },
}


def test_maps_that_fail_on_a_deletion_send_its_key_and_mark_and_the_run_goes_on(make_sim: Callable[..., Simulator]) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim, stream_maps=FAILING_MAPS)
    selected = {"sessions", "session_details"}
    sessions_only = {name: spec for name, spec in FAILING_MAPS.items() if name != "session_details"}
    first = run_tap({**config, "stream_maps": sessions_only}, selected={"sessions"})  # the SDK refuses a deselected map
    gone, victim = _delete_two(sim, data)
    second = run_tap(config, selected=selected, state=first.last_state)
    marks = {r["id"]: set(r) for r in second.records("sessions") if r.get("_sdc_deleted_at")}
    assert marks == {gone: {"id", "_sdc_deleted_at"}, victim: {"id", "_sdc_deleted_at"}}
    details = {(r["id"], r["session_id"]) for r in second.records("session_details") if r.get("_sdc_deleted_at")}
    assert details == {(md5(gone), gone), (md5(victim), victim)}
    hashes = {r["id_hash"] for r in second.records("graded_sessions") if r.get("_sdc_deleted_at")}
    assert hashes == {md5(gone), md5(victim)}  # the key as the map computes it
    assert "_sdc_deleted_at" in _schema(second, "sessions")["schema"]["properties"]  # declared, though `__else__` is null
    third = run_tap(config, selected=selected, state=second.last_state)
    assert not _deleted(third, "sessions")  # written, so not sent again


@pytest.mark.parametrize("in_window", [True, False], ids=["in-window-and-owed", "owed-only"])
def test_a_deletion_a_map_cannot_key_fails_the_run_and_is_sent_by_the_next(
    make_sim: Callable[..., Simulator], tmp_path: Path, *, in_window: bool
) -> None:
    data = _sessions()
    sim = make_sim(data=data)
    config = fast_config(sim)
    selected = {"sessions", "session_details"}
    first = run_tap(config, selected={"sessions"})
    gone, victim = _delete_two(sim, data, in_window=in_window)  # owed only: the write fails after the detail's 404
    unkeyable = {"sessions": {"__key_properties__": ["attempt"], "attempt": "record['user']['id'] + '/' + id"}}
    catalog = write_json(tmp_path, "catalog.json", catalog_for(config, selected))
    state = first.last_state
    for n in range(2):  # it still cannot be written: remembered again
        args = ["--config", write_json(tmp_path, "bad.json", {**config, "stream_maps": unkeyable}), "--catalog", catalog]
        failed = run_cli([*args, "--state", write_json(tmp_path, f"state{n}.json", state)])
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "cannot evaluate" in failed.stderr
        out = parse(failed.stdout)
        assert not _deleted(out, "sessions")
        state = t.cast("dict[str, t.Any]", out.last_state)
    fixed = run_tap(config, selected=selected, state=state)  # the map mended: the next run sends what it remembered
    expected = {gone, victim} if in_window else {victim}
    assert _deleted(fixed, "sessions") == expected
    assert _deleted(fixed, "session_details") == expected
