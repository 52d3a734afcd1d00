"""Selection that changes between runs: a raw stream selected after months, or deselected halfway through its backfill."""

from __future__ import annotations

import math
import typing as t
from datetime import datetime, timezone

from tap_exec.run.prints import Prints
from tap_exec.simulator import Counts, build
from tests.expected import per_parent_stream
from tests.helpers import clock_follows, fast_config, recent, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from tap_exec.simulator import Simulator

DAY = 86_400
LISTS = {"sessions", "scenarios", "scenario_analytics"}
SESSIONS = "/rest/v1/sessions"


def _fetched(sim: Simulator, since: int, stream: str) -> set[str]:
    """Parent ids of the `stream` requests answered after log position `since`."""
    return {path.split("/")[4] for path, _, _ in sim.stats.log[since:] if per_parent_stream(path) == stream}


def test_details_selected_late_leave_room_for_aggregates_and_reconciliation(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A months-long details backfill still leaves every day room for today's aggregates and reconciliation.

    A reconciliation slice marks an old deletion and re-reads an old regrade within `per_parent_refresh_days` runs.
    """
    data = recent(build(51, Counts.scaled(0.1, sessions=2_000)), within=50 * DAY)  # 120 in the window: over a day
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    config = fast_config(sim, daily_request_budget=100, per_parent_refresh_days=4)
    state: dict[str, t.Any] | None = None
    for _ in range(6):  # months of sessions and analytics, day by day, until reconciliation runs
        state = run_tap(config, selected=LISTS, state=state, stop_ok=True).last_state
        sim.advance(DAY)
    selected = LISTS | {"session_details"}
    old = data.sessions[100]  # far older than the window
    data.sessions.remove(old)
    regraded = data.grade_session(200)
    marked: set[str] = set()
    regrades = 0
    for day in range(5):  # a pass spans 4 runs; the one under way may have read them already
        scenario = data.scenarios[day % len(data.scenarios)]
        data.insert_session(created=int(sim.now()) - 3600, scenario=scenario)
        mark = len(sim.stats.log)
        out = run_tap(config, selected=selected, state=state, stop_ok=True)
        assert scenario["id"] in _fetched(sim, mark, "scenario_analytics"), f"day {day}: today's aggregates waited"
        marked |= {r["id"] for r in out.records("sessions") if r.get("_sdc_deleted_at")}
        regrades += sum(1 for r in out.records("session_details") if r["id"] == regraded.id and r["score"] == regraded.score)
        state = out.last_state
        sim.advance(DAY)
    assert marked == {old.id}
    assert regrades >= 1
    assert state is not None
    assert state["bookmarks"]["sessions"].get("details"), "the details backfill is still under way (it took no shortcut)"


def test_deselecting_details_halfway_stops_their_backfill_at_once(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next run walks no history list for a stream nobody selects any more; selecting it again starts it again."""
    data = recent(build(52, Counts.scaled(0.1, sessions=1_500)), within=100 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    config = fast_config(sim, daily_request_budget=150, per_parent_refresh_days=7)
    state = run_tap(config, selected={"sessions", "session_details"}, stop_ok=True).last_state
    assert state is not None
    assert state["bookmarks"]["sessions"].get("details"), "the backfill is halfway"
    sim.advance(DAY)
    mark = len(sim.stats.log)
    out = run_tap(config, selected={"sessions"}, state=state, stop_ok=True)
    history = sum(1 for s in data.sessions if s.created < data.sessions[-1].created - 3 * DAY)
    slice_pages = math.ceil(history / 100 / 7)
    lists = [query for path, query, _ in sim.stats.log[mark:] if path == SESSIONS]
    assert len(lists) <= 1 + slice_pages + 1  # the window, a reconciliation slice (a page more at its edge)
    assert "details" not in t.cast("dict[str, t.Any]", out.last_state)["bookmarks"]["sessions"]
    sim.advance(DAY)
    mark = len(sim.stats.log)
    again = run_tap(fast_config(sim), selected={"sessions", "session_details"}, state=out.last_state)
    assert {r["id"] for r in again.records("session_details")} == {s.id for s in data.sessions}


def test_start_date_lowered_brings_the_older_sessions_details_and_deletions(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows between the new and the old `start_date` arrive with their details, and their deletions are marked."""
    data = recent(build(53, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    middle = data.sessions[300].created
    config = fast_config(sim, per_parent_refresh_days=2, start_date=iso_of(middle))
    selected = {"sessions", "session_details"}
    state = run_tap(config, selected=selected).last_state
    config["start_date"] = iso_of(data.sessions[0].created - DAY)  # lowered: every session now
    details: set[str] = set()
    marked: set[str] = set()
    known = data.sessions[310]  # read by history above the old date: the pass spanning the change still proves it gone
    data.sessions.remove(known)
    for day in range(6):
        sim.advance(DAY)
        if day == 2:
            gone = data.sessions[295]  # between the two dates (read by the first pass), deleted after the change
            data.sessions.remove(gone)
        out = run_tap(config, selected=selected, state=state)
        details |= {r["id"] for r in out.records("session_details") if not r.get("_sdc_deleted_at")}
        marked |= {r["id"] for r in out.records("sessions") if r.get("_sdc_deleted_at")}
        state = out.last_state
    assert {s.id for s in data.sessions if s.created < middle} <= details
    assert marked == {gone.id, known.id}


class Days:
    """A first run, then daily runs a day apart on both clocks, collecting the sessions marked deleted.

    After every run: nothing live is ever marked (the simulator's sessions are what exists).
    """

    def __init__(self, sim: Simulator, config: dict[str, t.Any], selected: set[str]) -> None:
        self.sim, self.config, self.selected = sim, config, selected
        self.marked: set[str] = set()
        self.state: dict[str, t.Any] | None = run_tap(config, selected=selected).last_state

    def run(self, days: int) -> None:
        """`days` more daily runs, each a day after the last, with the state carried."""
        for _ in range(days):
            self.sim.advance(DAY)
            out = run_tap(self.config, selected=self.selected, state=self.state)
            self.marked.update(r["id"] for r in out.records("sessions") if r.get("_sdc_deleted_at"))
            assert not self.marked & {s.id for s in self.sim.data.sessions}  # nothing live is ever marked
            self.state = out.last_state


def iso_of(epoch: int) -> str:
    """An epoch second as the API writes date-times."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_start_date_raised_then_lowered_marks_what_was_deleted_below_it(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows below a raised `start_date` are kept, never marked while out of reach; lowered again, their deletions are."""
    data = recent(build(53, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    low, middle = iso_of(data.sessions[0].created - DAY), iso_of(data.sessions[300].created)
    config = fast_config(sim, per_parent_refresh_days=2, start_date=low)
    selected = {"sessions", "session_details"}
    days = Days(sim, config, selected)

    days.run(4)  # history, then a whole pass from `low`
    config["start_date"] = middle  # raised: the passes from here cannot tell a row below it from a deleted one
    days.run(5)
    gone = data.sessions[150]  # below the raised date, read before it was raised, deleted while out of reach
    data.sessions.remove(gone)
    days.run(3)
    assert gone.id not in days.marked
    config["start_date"] = low  # lowered again: the next pass reads it whole and proves it gone
    days.run(7)
    assert gone.id in days.marked


def test_start_date_lowered_during_a_pass_proves_it_and_raised_again_marks_nothing_live(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass whose `start_date` was lowered while it ran proves what it never read; raised back, nothing live is marked.

    Its last slice read down to the lower date; the rows it read below the old one are out of reach, not gone, once
    `start_date` is raised again (they used to be marked deleted).
    """
    data = recent(build(53, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    low, middle = iso_of(data.sessions[0].created - DAY), iso_of((data.sessions[299].created + data.sessions[300].created) // 2)
    config = fast_config(sim, per_parent_refresh_days=3, start_date=middle)
    selected = {"sessions", "session_details"}
    days = Days(sim, config, selected)

    days.run(3)  # history, then a whole pass
    while not (days.state or {})["bookmarks"]["sessions"].get("recon", {}).get("before"):
        days.run(1)  # until the next pass is under way
    gone = data.sessions[301]  # above both dates, deleted while that pass runs, before it reads the row
    data.sessions.remove(gone)
    config["start_date"] = low  # lowered while the pass runs: its last slice reads down to it
    days.run(4)
    assert gone.id in days.marked
    config["start_date"] = middle  # raised again: rows read below it are out of reach, not gone
    days.run(8)


def test_start_date_raised_still_marks_what_is_deleted_above_it(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raised `start_date`: the pass spanning it still marks a row above it that it left unread.

    That pass proves nothing below the new date, but it read every row above it (each row's day in `known` tells
    which side it is on), and none below it is marked.
    """
    data = recent(build(54, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    low, middle = iso_of(data.sessions[0].created - DAY), iso_of(data.sessions[200].created)
    config = fast_config(sim, per_parent_refresh_days=2, start_date=low)
    days = Days(sim, config, {"sessions", "session_details"})
    days.run(3)  # history, then a whole pass from `low`
    config["start_date"] = middle  # raised: the next pass is not proven
    gone = data.sessions[260]  # above the raised date, deleted before that pass reads it
    data.sessions.remove(gone)
    days.run(4)
    assert days.marked == {gone.id}


def test_rows_parked_below_a_raised_start_date_are_read_again_when_it_comes_down_part_way(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raised high, then lowered part way: the parked rows now above `start_date` are in reach again.

    A deletion among them is marked without waiting for `start_date` to come all the way down.
    """
    data = recent(build(55, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    low = iso_of(data.sessions[0].created - DAY)
    middle, high = iso_of(data.sessions[200].created), iso_of(data.sessions[400].created)
    config = fast_config(sim, per_parent_refresh_days=2, start_date=low)
    days = Days(sim, config, {"sessions", "session_details"})
    days.run(3)  # history, then a whole pass from `low`
    config["start_date"] = high  # raised: rows below it are parked by the pass that spans it
    days.run(1)
    while not t.cast("dict[str, t.Any]", days.state)["bookmarks"]["sessions"]["changes"].get("parked"):
        days.run(1)
    config["start_date"] = middle  # lowered part way: still above where the parked rows were read from
    known = Prints(t.cast("dict[str, t.Any]", days.state)["bookmarks"]["sessions"]["changes"]).table
    parked = [s for s in data.sessions if s.created > data.sessions[200].created + DAY and known.get(s.id, (b"", 0, 0))[1] == 2]
    gone = parked[0]  # parked below `high`, above `middle`: in reach again, and deleted
    data.sessions.remove(gone)
    days.run(5)
    assert days.marked == {gone.id}


def test_a_pass_whose_start_date_is_lowered_keeps_its_pace(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lowered halfway through a pass, `start_date` adds rows below it: its slices grow, so it still ends on time."""
    data = recent(build(56, Counts.scaled(0.1, sessions=900)), within=90 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    low, middle = iso_of(data.sessions[0].created - DAY), iso_of(data.sessions[600].created)
    config = fast_config(sim, per_parent_refresh_days=4, start_date=middle)
    days = Days(sim, config, {"sessions"})

    def recon() -> dict[str, t.Any]:
        return t.cast("dict[str, t.Any]", t.cast("dict[str, t.Any]", days.state)["bookmarks"]["sessions"].get("recon", {}))

    days.run(1)
    while not recon().get("before"):
        days.run(1)  # a pass under way, from `middle`
    config["start_date"] = low  # three times the rows below its mark
    runs = 0
    while recon().get("before"):
        days.run(1)
        runs += 1
    assert runs <= 4  # per_parent_refresh_days runs, as if the pass had begun from `low`
