"""An upgrade from an earlier release's state (tests/soak.py's `older_state` writes each shape): nothing is lost."""

from __future__ import annotations

import typing as t

import pytest

from tap_exec.run.prints import _decode
from tap_exec.simulator import Counts, build
from tests.helpers import clock_follows, fast_config, recent
from tests.soak import Warehouse, older_state
from tests.test_selection import DAY, Days

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator import Simulator

REFRESH = 4  # per_parent_refresh_days: a pass reads history in slices over this many runs


@pytest.mark.parametrize("shape", ["pre_planner", "no_embeds", "hashed_prints"])
def test_an_upgrade_without_known_rebuilds_it_in_its_first_run(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    """A state without `known` (none before the planner, hashed `prints` before deletions were marked) is rebuilt at once.

    The first run reads all history once, so an old session deleted the next day is marked (before: learnt slice by
    slice, a row deleted before its slice came was never known, so never marked).
    """
    data = recent(build(54, Counts.scaled(0.1, sessions=600)), within=60 * DAY)
    sim = make_sim(data=data)
    clock_follows(sim, monkeypatch)
    config = fast_config(sim, per_parent_refresh_days=REFRESH)
    days = Days(sim, config, {"sessions", "session_details"})
    days.run(2)
    assert days.state is not None
    days.state = older_state(days.state, shape, Warehouse())
    assert "known" not in days.state["bookmarks"]["sessions"]["changes"]
    days.run(1)  # the first run of this release
    oldest = data.sessions[0]  # in the last slice of a pass read over several runs
    assert oldest.id in _decode(days.state["bookmarks"]["sessions"]["changes"]["known"])
    data.sessions.remove(oldest)
    days.run(2 * REFRESH + 1)  # the pass under way, then the next one
    assert oldest.id in days.marked
