"""What finding deletions costs (issue 18): requests, and the state it keeps, measured against the simulator.

1. A full-table list that moves while it is read: 200 members, one of page 1 removed after page 1 is served; then a
   list that moves on every read. Requests counted from the simulator's log; what a deleting target keeps checked
   against the simulator's members.
2. A day with deletions against the same day without: sessions deleted in the window and one months old, a
   participant's sessions, an archived page. Extra requests, and the `_sdc_deleted_at` records against the deletions.
3. The state kept for sessions older than the window (`known`), at 10,000 and 100,000 sessions.

    python benchmarks/deletions.py
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tap_exec.simulator import Counts, Simulator, build  # noqa: E402
from tests.helpers import fast_config, recent, run_tap  # noqa: E402

DAY = 86_400


def moving_members() -> None:
    """Requests of a member list read while it moves, and whether a deleting target keeps every current member."""
    for label, moves in (("unchanged", ()), ("one removal after page 1", (2,)), ("a removal before every page 2", (2, 4, 6))):
        with Simulator(data=build(3, Counts.scaled(0.2, members=200))) as sim:
            for request in moves:
                sim.schedule(request, lambda data: data.remove_member(0))
            out = run_tap(fast_config(sim, emit_activate_version_messages=True), selected={"workspace_members"})
            activated = [m["version"] for m in out.messages if m["type"] == "ACTIVATE_VERSION"]
            kept = {m["record"]["id"] for m in out.messages if m["type"] == "RECORD" and m.get("version") in activated}
            current = {m["id"] for m in sim.data.members}
            verdict = "exact" if kept == current else "no ACTIVATE_VERSION (nothing deleted)" if not activated else "WRONG"
            print(f"  members, {label:32} {sim.stats.requests} requests, target keeps: {verdict}")


def day_with_deletions() -> None:
    """The same day two, with and without deletions upstream: requests, and the deletions marked."""
    base = recent(build(9, Counts.scaled(1.0, sessions=5_000)), within=365 * DAY)
    config = {"per_parent_refresh_days": 7}
    selected = {"sessions", "session_details", "scenarios", "scenario_participants", "fetch_log", "knowledge_hub_pages"}
    with Simulator(data=copy.deepcopy(base)) as sim:
        state = run_tap(fast_config(sim, **config), selected=selected).last_state
    results = {}
    for label in ("quiet", "deletions"):
        data = copy.deepcopy(base)
        expected: set[str] = set()
        if label == "deletions":
            gone = [data.sessions[-2], data.sessions[-40]]  # inside the lookback window
            expected = {s.id for s in gone}
            data.sessions[:] = [s for s in data.sessions if s not in gone]
            data.archive_page(0)
        with Simulator(data=data) as sim:
            out = run_tap(fast_config(sim, **config), selected=selected, state=copy.deepcopy(state))
            marked = {r["id"] for r in out.records("sessions") if r.get("_sdc_deleted_at")}
            results[label] = sim.stats.requests
            print(
                f"  day two, {label:10} {sim.stats.requests} requests; sessions marked deleted: {len(marked)} "
                f"(deleted upstream: {len(expected)}, {'exact' if marked == expected else 'WRONG'})"
            )
    print(f"  extra requests for the deletions: {results['deletions'] - results['quiet']}")


def known_state(sessions: int) -> None:
    """Bytes of `known` (sessions older than the window) in the state after a first run and its reconciliation pass."""
    data = recent(build(5, Counts.scaled(0.1, sessions=sessions)), within=365 * DAY)
    with Simulator(data=data) as sim:
        out = run_tap(fast_config(sim), selected={"sessions"})
        changes = out.last_state["bookmarks"]["sessions"]["changes"]  # type: ignore[index]
    known = len(changes.get("known", ""))
    whole = len(json.dumps(out.last_state))
    print(
        f"  {sessions:>7,} sessions: `known` {known / 1024:,.0f} KB ({known / sessions:.1f} bytes a session), "
        f"whole state {whole / 1024:,.0f} KB"
    )


def main() -> None:
    """Print each measurement."""
    print("A full-table list that moves while it is read:")
    moving_members()
    print("A day with deletions upstream (5,000 sessions over a year):")
    day_with_deletions()
    print("State kept to find old sessions deleted:")
    for count in (10_000, 100_000):
        known_state(count)


if __name__ == "__main__":
    main()
