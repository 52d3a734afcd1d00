"""What each operation costs in requests and how many daily runs it takes to converge, on the simulator (README table).

For each operation: a fresh simulator (`--sessions` sessions over a year, every stream selected), daily runs until two
days in a row cost the same (an unchanged day), the operation, then daily runs until a day costs an unchanged day's
requests again. Nothing changes upstream, so every request past the unchanged day's is the operation's.

    python benchmarks/operations.py                       # every operation, 900 sessions, daily_request_budget 1,000
    python benchmarks/operations.py --only select --budget 100
"""

from __future__ import annotations

import argparse
import logging
import sys
import typing as t
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tap_exec.run.budget import iso  # noqa: E402
from tap_exec.simulator import Counts, Simulator, build  # noqa: E402
from tests.expected import ENDPOINTS  # noqa: E402
from tests.helpers import catalog_for, fast_config, recent  # noqa: E402
from tests.soak import STREAM_MAPS, api_clock, run_once  # noqa: E402

DAY = 86_400
SETTINGS: dict[str, tuple[str, t.Any]] = {"map": ("stream_maps", STREAM_MAPS), "contract": ("schema_contract", "freeze")}
OPERATIONS = ("select", "deselect", "lower_start_date", "raise_start_date", "kill", "upgrade", "hourly", "map", "contract")


class Workspace:
    """One simulator and the tap's state, one run a day."""

    def __init__(self, sessions: int, budget: int, selected: set[str], **settings: t.Any) -> None:  # noqa: ANN401
        self.sim = Simulator(data=recent(build(31, Counts.scaled(0.2, sessions=sessions)))).start()
        self.budget, self.selected, self.settings = budget, selected, settings
        self.state: dict[str, t.Any] | None = None

    def run(self, kill_at: int | None = None) -> int:
        """One run from the last state; the requests the API saw."""
        # the API's 60 a minute (so a kill's `budget.open` is 100, as against the API) in a window that never waits
        pace = {"max_requests_per_minute": 60, "rate_limit_window_seconds": 0.01}
        config = fast_config(self.sim, daily_request_budget=self.budget, **pace, **self.settings)
        before = self.sim.stats.requests
        with api_clock(self.sim):
            result = run_once(config, catalog_for(config, self.selected), self.state, kill_at)
        if result.failure:
            raise RuntimeError(result.failure)
        self.state = result.last_state or self.state
        return self.sim.stats.requests - before

    def day(self) -> int:
        """Today's run; then the API's clock moves a day on."""
        requests = self.run()
        self.sim.clock_offset += DAY
        return requests

    def settle(self) -> int:
        """Daily runs until two cost the same: an unchanged day's requests."""
        costs = [self.day(), self.day()]
        while costs[-1] != costs[-2] and len(costs) < 15:
            costs.append(self.day())
        return costs[-1]

    def until(self, unchanged: int, first: list[int] | None = None) -> list[int]:
        """Daily runs until one costs an unchanged day's requests (or less)."""
        costs = first or []
        while (not costs or costs[-1] > unchanged) and len(costs) < 30:
            costs.append(self.day())
        return costs

    def days_ago(self, days: float) -> str:
        """The API's time `days` ago."""
        return iso(datetime.fromtimestamp(self.sim.now(), timezone.utc) - timedelta(days=days))


def measure(operation: str, sessions: int, budget: int) -> str:
    """One operation's line: the unchanged day, the days after it, their extra requests."""
    every = set(ENDPOINTS)
    start = {"lower_start_date": 30, "raise_start_date": 120}.get(operation)
    ws = Workspace(sessions, budget, every - {"session_details"} if operation == "select" else every)
    try:
        if start:
            ws.settings["start_date"] = ws.days_ago(start)
        unchanged = ws.settle()
        first = apply(ws, operation, start)
        costs = ws.until(unchanged, first)
        extra = sum(costs) - unchanged * len(costs)
        runs = len(costs) if costs[-1] > unchanged else len(costs) - 1
        return f"{operation}: unchanged day {unchanged} requests; days after: {costs} ({extra:+,} requests; {runs} day(s))"
    finally:
        ws.sim.stop()


def apply(ws: Workspace, operation: str, start: int | None) -> list[int]:
    """Make the change; the requests of the operation's own runs on its first day, if it runs them itself."""
    if operation == "select":
        ws.selected.add("session_details")
    elif operation == "deselect":
        ws.selected.discard("session_details")
    elif start:
        ws.settings["start_date"] = ws.days_ago(150 - start)  # 30 days back -> 120, and 120 -> 30
    elif operation == "kill":
        return [ws.run(kill_at=40) + ws.day()]  # killed at its 40th message, resumed the same API day
    elif operation == "upgrade":  # a state from before change tracking and history: bookmarks and the budget only
        for bookmark in (ws.state or {}).get("bookmarks", {}).values():
            for key in ("changes", "history", "details", "recon"):
                bookmark.pop(key, None)
        (ws.state or {}).get("budget", {}).pop("open", None)
    elif operation == "hourly":
        return [ws.run() + ws.run() + ws.run() + ws.day()]  # four runs in one API day
    elif operation in SETTINGS:
        name, value = SETTINGS[operation]
        ws.settings[name] = value
    return []


def main() -> None:
    """Measure each operation and print one line for it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=900)
    parser.add_argument("--budget", type=int, default=1000, help="daily_request_budget (default 1,000)")
    parser.add_argument("--only", choices=OPERATIONS, action="append", help="measure only these operations")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    for operation in args.only or OPERATIONS:
        print(measure(operation, args.sessions, args.budget), flush=True)


if __name__ == "__main__":
    main()
