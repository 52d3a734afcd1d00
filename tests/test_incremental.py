"""Incremental sessions and Knowledge Hub pages: no row lost whatever changes while paging; frugal repeat runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import typing as t
from datetime import datetime, timedelta, timezone

import pytest

from tap_exec.simulator import Counts, Simulator, build
from tap_exec.simulator.data import Dataset, iso, parse_iso
from tests.helpers import fast_config, parse, recent, run_tap, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.helpers import Output

SESSIONS, PAGES = 450, 250  # 5 and 3 pages; 150 sessions share one created_at across a page boundary


def _data() -> Dataset:
    return build(13, Counts.scaled(0.2, sessions=SESSIONS, pages=PAGES))


def _session_ids(data: Dataset) -> set[str]:
    return {s.id for s in data.sessions}


def _page_ids(data: Dataset) -> set[str]:
    return {p["id"] for p in data.pages}


def _newest_first(data: Dataset) -> list[dict[str, t.Any]]:
    return sorted(data.pages, key=lambda p: (p["updated_at"], p["id"]), reverse=True)


def _seconds_ago(seconds: int) -> int:
    """A creation time safely before the next run's upper bound (which stops one second before its start)."""
    return int(time.time()) - seconds


def _first_query(sim: Simulator, path: str) -> dict[str, str]:
    return next(query for logged, query, _ in sim.stats.log if logged == f"/rest/v1{path}")


def _requests(sim: Simulator, path: str) -> int:
    return sim.stats.paths().count(f"/rest/v1{path}")


def test_first_run_reads_every_row_in_the_fewest_requests(make_sim: Callable[..., Simulator]) -> None:
    """The last week first (here empty: every session is older), then the history newest first: one request more."""
    sim = make_sim(data=_data())
    out = run_tap(fast_config(sim), selected={"sessions", "knowledge_hub_pages"})
    sessions = out.records("sessions")
    assert len(sessions) == len({r["id"] for r in sessions}) == SESSIONS  # no duplicates
    assert sorted(sessions, key=lambda r: r["id"]) == sorted(
        (json.loads(json.dumps(s.as_list_item())) for s in sim.data.sessions), key=lambda r: r["id"]
    )
    assert [r["created_at"] for r in sessions] == sorted((r["created_at"] for r in sessions), reverse=True)  # newest first
    assert sorted(r["id"] for r in out.records("knowledge_hub_pages")) == sorted(_page_ids(sim.data))  # no duplicates
    assert _requests(sim, "/sessions") == 1 + math.ceil(SESSIONS / 100)
    assert _requests(sim, "/knowledge-hub/pages") == math.ceil(PAGES / 100) + 1 + 1  # + one catch-up pass, + archived ones
    current, *history = [q for logged, q, _ in sim.stats.log if logged == "/rest/v1/sessions"]
    assert current["sorting"] == "created_at"
    week = datetime.now(timezone.utc).timestamp() - 7 * 86_400
    assert abs(parse_iso(current["start_date"]) - week) < 60
    assert parse_iso(current["end_date"]) <= datetime.now(timezone.utc).timestamp()
    assert {q["sorting"] for q in history} == {"-created_at"}
    assert {parse_iso(q["end_date"]) for q in history} == {parse_iso(current["start_date"]) - 1}  # right below the week


def _delete_read_sessions(data: Dataset) -> None:
    for _ in range(7):
        data.delete_session(0)


def _delete_around_the_tie(data: Dataset) -> None:
    for _ in range(5):
        data.delete_session(10)


def _insert_and_delete_sessions(data: Dataset) -> None:
    for _ in range(20):
        data.insert_session()
    for _ in range(20):
        data.delete_session(0)


def _grade_sessions(data: Dataset) -> None:
    for index in range(200, 260):
        data.grade_session(index)


SESSION_RACES: list[tuple[str, int, Callable[[Dataset], None]]] = [
    ("deletes behind the cursor", 3, _delete_read_sessions),
    ("deletes while a tie straddles the page boundary", 4, _delete_around_the_tie),
    ("inserts and deletes in one interval", 3, _insert_and_delete_sessions),
    ("grading", 3, _grade_sessions),
]


@pytest.mark.parametrize(("case", "at_request", "change"), SESSION_RACES, ids=[r[0] for r in SESSION_RACES])
def test_session_races_lose_nothing(
    make_sim: Callable[..., Simulator], case: str, at_request: int, change: Callable[[Dataset], None]
) -> None:
    sim = make_sim(data=_data())
    before = _session_ids(sim.data)
    sim.schedule(at_request, change)
    out = run_tap(fast_config(sim), selected={"sessions"})
    emitted = [r["id"] for r in out.records("sessions")]
    assert before & _session_ids(sim.data) <= set(emitted), case
    assert len(emitted) - len(set(emitted)) <= 100, "a restart re-reads at most the tail timestamp"


def _delete_read_pages(data: Dataset) -> None:
    for page in _newest_first(data)[:6]:
        data.pages.remove(page)


def _edit_unread_pages(data: Dataset) -> None:
    oldest = _newest_first(data)[-40:]
    for page in oldest[:5]:
        data.touch_page(data.pages.index(page))


def _insert_pages(data: Dataset) -> None:
    for _ in range(12):
        data.insert_page()


def _delete_and_insert_pages(data: Dataset) -> None:
    _delete_read_pages(data)
    _insert_pages(data)
    _edit_unread_pages(data)


PAGE_RACES: list[tuple[str, int, Callable[[Dataset], None]]] = [
    ("deletes behind the cursor", 2, _delete_read_pages),
    ("edits ahead of the cursor jump to the top", 2, _edit_unread_pages),
    ("inserts at the top", 2, _insert_pages),
    ("deletes, inserts and edits together", 3, _delete_and_insert_pages),
]


@pytest.mark.parametrize(("case", "at_request", "change"), PAGE_RACES, ids=[r[0] for r in PAGE_RACES])
def test_page_races_lose_nothing(
    make_sim: Callable[..., Simulator], case: str, at_request: int, change: Callable[[Dataset], None]
) -> None:
    sim = make_sim(data=_data())
    before = _page_ids(sim.data)
    sim.schedule(at_request, change)
    out = run_tap(fast_config(sim), selected={"knowledge_hub_pages"})
    emitted = {r["id"] for r in out.records("knowledge_hub_pages")}
    assert before & _page_ids(sim.data) <= emitted, case


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_churn_on_every_request_loses_nothing(make_sim: Callable[..., Simulator], seed: int) -> None:
    data = _data()
    data.rng.seed(seed)
    sim = make_sim(data=data, churn_every=1)
    sessions_before, pages_before = _session_ids(data), _page_ids(data)
    out = run_tap(fast_config(sim), selected={"sessions", "knowledge_hub_pages"})
    assert sessions_before & _session_ids(data) <= {r["id"] for r in out.records("sessions")}
    assert pages_before & _page_ids(data) <= {r["id"] for r in out.records("knowledge_hub_pages")}


def _first_and_second(sim: Simulator, **settings: t.Any) -> tuple[Output, Output, int]:
    config = fast_config(sim, **settings)
    first = run_tap(config, selected={"sessions", "knowledge_hub_pages"})
    before = sim.stats.requests
    second = run_tap(config, selected={"sessions", "knowledge_hub_pages"}, state=first.last_state)
    return first, second, sim.stats.requests - before


def test_a_second_run_with_no_new_data_costs_one_request_per_stream(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=recent(_data()))
    first, second, requests = _first_and_second(sim, per_parent_refresh_days=0)  # 0: no reconciliation slice
    assert requests == 2 + 1  # + the pages archived since the bookmark
    bookmark = parse_iso(first.last_state["bookmarks"]["sessions"]["replication_key_value"])  # type: ignore[index]
    in_lookback = [s.id for s in sim.data.sessions if s.created >= bookmark - 3 * 86_400]
    assert [r["id"] for r in second.records("sessions")] == in_lookback
    newest = max(p["updated_at"] for p in sim.data.pages)
    assert {r["id"] for r in second.records("knowledge_hub_pages")} == {
        p["id"] for p in sim.data.pages if p["updated_at"] == newest
    }


def test_a_second_run_emits_only_new_or_changed_rows(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=recent(_data()))
    config = fast_config(sim, sessions_lookback_days=0, per_parent_refresh_days=0)  # 0: no reconciliation slice
    first = run_tap(config, selected={"sessions", "knowledge_hub_pages"})
    new_sessions = {sim.data.insert_session(_seconds_ago(5)).id for _ in range(3)}
    page_bookmark = first.last_state["bookmarks"]["knowledge_hub_pages"]["replication_key_value"]  # type: ignore[index]
    at_bookmark = {p["id"] for p in sim.data.pages if p["updated_at"] == page_bookmark}
    edited = {sim.data.touch_page(i)["id"] for i in (5, 17)}
    second = run_tap(config, selected={"sessions", "knowledge_hub_pages"}, state=first.last_state)
    last_old = max(first.records("sessions"), key=lambda r: (r["created_at"], r["id"]))["id"]
    assert {r["id"] for r in second.records("sessions")} == new_sessions | {last_old}  # the bookmark row is inclusive
    assert {r["id"] for r in second.records("knowledge_hub_pages")} == edited | (at_bookmark - edited)  # inclusive too


def test_the_lookback_rereads_late_grades(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    config = fast_config(sim)
    first = run_tap(config, selected={"sessions"})
    regraded = sim.data.grade_session(len(sim.data.sessions) - 2)
    second = run_tap(config, selected={"sessions"}, state=first.last_state)
    row = next(r for r in second.records("sessions") if r["id"] == regraded.id)
    assert row["score"] == pytest.approx(regraded.score)


def test_start_date_is_sent_as_the_server_filter(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    start = iso(sim.data.sessions[300].created)
    out = run_tap(fast_config(sim, start_date=start), selected={"sessions", "knowledge_hub_pages"})
    assert {r["id"] for r in out.records("sessions")} == {s.id for s in sim.data.sessions if s.created >= parse_iso(start)}
    history = next(q for logged, q, _ in sim.stats.log if logged == "/rest/v1/sessions" and q["sorting"] == "-created_at")
    assert history["start_date"] == start  # the week first, then history down to start_date
    assert _first_query(sim, "/knowledge-hub/pages")["updated_after"] == start
    assert all(r["updated_at"] >= start for r in out.records("knowledge_hub_pages"))


def test_a_newly_selected_child_stream_backfills_every_session_then_follows_only_new_ones(
    make_sim: Callable[..., Simulator],
) -> None:
    """session_details selected after sessions has a bookmark gets every session's detail, then only new ones.

    The window's rows are owed at once; older ones follow a cursor down the history, which is read again for them
    (one list request per 100 sessions): never from the state, which would grow with the history.
    """
    sim = make_sim(data=recent(_data()))
    config = fast_config(sim, sessions_lookback_days=0)
    first = run_tap(config, selected={"sessions"})
    for _ in range(4):
        sim.data.insert_session(_seconds_ago(5))
    before = sim.stats.requests
    second = run_tap(config, selected={"sessions", "session_details"}, state=first.last_state)
    details = [r["id"] for r in second.records("session_details")]
    assert sorted(details) == sorted(_session_ids(sim.data))  # each once
    assert sim.stats.requests - before <= math.ceil(len(sim.data.sessions) / 100) + 2 + len(sim.data.sessions)
    new = {sim.data.insert_session(_seconds_ago(5)).id for _ in range(3)}
    before = sim.stats.requests
    third = run_tap(config, selected={"sessions", "session_details"}, state=second.last_state)
    assert {r["id"] for r in third.records("session_details")} == new
    reconciled = math.ceil(len(sim.data.sessions) / 100 / 7)  # a slice of the history, re-read for late grades
    assert sim.stats.requests - before <= 1 + reconciled + len(new)


def test_a_run_killed_midway_resumes_from_its_last_state(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """The window read writes a STATE every 1,000 rows (a history read, at the planner's checkpoints: tests/test_kills)."""
    data = recent(build(17, Counts.scaled(0.1, sessions=6_000)), within=20 * 86_400)
    sim = make_sim(data=data)
    config = write_json(tmp_path, "config.json", fast_config(sim, page_size=50))
    catalog = write_json(tmp_path, "catalog.json", _catalog_of(config, {"sessions"}))
    args = [sys.executable, "-m", "tap_exec", "--config", config, "--catalog", catalog]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # the pipe holds the tap back, so it is still mid-stream when killed
        lines.append(line)
        if len(lines) >= 3_500:
            break
    proc.kill()
    proc.wait()
    first = parse("".join(lines))
    assert first.last_state is not None
    assert len(first.records("sessions")) < len(data.sessions)
    resumed = run_tap(fast_config(sim), selected={"sessions"}, state=first.last_state)
    emitted = {r["id"] for r in first.records("sessions")} | {r["id"] for r in resumed.records("sessions")}
    assert emitted == _session_ids(data)
    assert len(resumed.records("sessions")) < len(data.sessions)  # it resumed, it did not start over


def _catalog_of(config_path: str, selected: set[str]) -> dict[str, t.Any]:
    from tests.helpers import catalog_for

    with open(config_path, encoding="utf-8") as handle:  # noqa: PTH123
        return catalog_for(json.load(handle), selected)


def test_lookback_is_measured_from_the_bookmark(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=_data())
    bookmark = iso(sim.data.sessions[400].created)
    state = {"bookmarks": {"sessions": {"replication_key": "created_at", "replication_key_value": bookmark}}}
    run_tap(fast_config(sim, sessions_lookback_days=1.5), selected={"sessions"}, state=state)
    expected = datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - timedelta(days=1.5)
    assert sim.stats.log[0][1]["start_date"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
