"""A run killed at any message resumes from its last STATE with nothing lost from what the state remembers.

A kill -9 runs no `finally`: what the loader and Meltano have is every message up to the kill, and the last STATE
among them. Each STATE must therefore remember every row emitted before it that the resumed run will not read again.
"""

from __future__ import annotations

import typing as t

from tap_exec.run import planner
from tap_exec.simulator import Counts, build
from tests.helpers import fast_config, forgotten_sessions, recent, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from tap_exec.simulator import Simulator

DAY = 86_400


def test_every_state_of_a_first_run_remembers_what_it_emitted(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run with history: the window read (over 1,000 rows) and the history read, checkpoints included."""
    monkeypatch.setattr(planner, "CHECKPOINT_SECONDS", 0.0)  # a checkpoint at every chance, as a long run has
    data = recent(build(41, Counts.scaled(0.1, sessions=3_000)), within=14 * DAY)
    sim = make_sim(data=data)
    out = run_tap(fast_config(sim), selected={"sessions"})
    week = sum(1 for r in out.records("sessions") if r["created_at"] >= out.records("sessions")[0]["created_at"])
    assert week > 1_000  # the SDK's STATE every 1,000 records falls inside the window read
    # (the run's first STATE, before any bookmark, holds only the day's budget)
    marks = [s.get("bookmarks", {}).get("sessions", {}).get("history", {}) for s in out.states()]
    assert any(mark.get("before") and not mark.get("done") for mark in marks)  # a STATE inside the history read
    assert forgotten_sessions(out) == []
    assert len(out.records("sessions")) == len(data.sessions)


def test_every_state_of_a_reconciliation_run_remembers_what_it_emitted(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "CHECKPOINT_SECONDS", 0.0)
    data = recent(build(43, Counts.scaled(0.1, sessions=2_500)), within=40 * DAY)
    sim = make_sim(data=data)
    config = fast_config(sim, page_size=50, per_parent_refresh_days=1)  # a whole pass each run
    state = run_tap(config, selected={"sessions", "session_details"}).last_state
    out = run_tap(config, selected={"sessions", "session_details"}, state=state)
    assert forgotten_sessions(out) == []
