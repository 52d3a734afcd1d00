"""The onboarding scenario (issue 17): a workspace whose history is bigger than one day's request budget.

A workspace with `history` sessions, then `per_day` new ones every simulated day; every stream selected; the API's
daily limit scaled down to `budget` requests (200 stands in for the real 1,000), enforced by the simulator per API
day (UTC, by its clock) and given to the tap as `daily_request_budget`. Each simulated day the simulator's clock moves
one day on, that day's sessions are added, and the tap runs once from the previous day's final STATE.

Per day it prints the requests the simulator served, how many of the 10 list streams hold every row the API has
at that moment, the share of the last 7 days' sessions (by the API's clock) and of all sessions whose detail
landed, and what is missing. Completeness is judged from the simulator's data (the rows each endpoint serves now,
`tests/expected.py`) against the primary keys of every RECORD of every run so far, never from the tap's counters.
At the end: total requests against the floor (one unbounded run of the final workspace from empty state, plus one
unchanged-day run for each other day, both measured on a fresh simulator), and days to complete against
ceil(requests / budget).

    python benchmarks/onboarding.py                     # 900 sessions of history, 10 a day, 200 requests a day
    python benchmarks/onboarding.py --history 300 --per-day 5 --budget 100 --days 8
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import time
import typing as t
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tap_exec.simulator import Counts, Dataset, Limits, Simulator, build  # noqa: E402
from tap_exec.simulator.data import EPOCH_NOW  # noqa: E402
from tests.expected import ENDPOINTS, expected_records  # noqa: E402
from tests.helpers import Output, fast_config, run_tap, time_passes  # noqa: E402

DAY = 86_400
ALL = set(ENDPOINTS)
# The 10 list streams: every endpoint without a parent that answers a list (`/workspace` is one object).
LISTS = [name for name, (_, _, parent, _, _) in ENDPOINTS.items() if parent is None and name != "workspace"]
# Each stream's primary key, as the API's rows carry it (the per-parent ones with the parent key the tap adds).
KEYS: dict[str, tuple[str, ...]] = {
    name: {
        "scenario_analytics": ("scenario_id",),
        "scenario_participants": ("scenario_id", "user_id"),
        "skill_proficiency": ("skill_id", "user_id"),
        "knowledge_hub_page_versions": ("page_id", "version"),
    }.get(name, ("id",))
    for name in ENDPOINTS
}
UNBOUNDED = 1_000_000_000  # the floor's runs: a budget no run reaches (the tap's default would stop them at 1,000)
RUN_AT = 22 * 3600  # each day's run starts at 22:00 UTC of the API's clock, after that day's sessions


@dataclass
class Day:
    """What one simulated day's run did and what had landed by its end."""

    day: int
    date: str
    requests: int  # every request the simulator answered that day, the 429s included
    refused: int  # of which answered 429 (the daily limit)
    lists_complete: int
    lists_incomplete: list[str]
    week_details: float  # share of the last 7 days' sessions whose detail landed
    all_details: float
    missing: int  # rows the API serves now that no run has emitted yet (every stream)
    missing_by_stream: dict[str, int]
    stopped: str | None  # why the run stopped before its end (the API's 429, the tap's own stop), or None


@dataclass
class Result:
    """The per-day rows and the totals against the floor."""

    settings: dict[str, t.Any]
    days: list[Day] = field(default_factory=list)
    total: int = 0
    floor_full: int = 0
    floor_unchanged: int = 0
    floor: int = 0
    days_to_complete: int | None = None
    lost: dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Total requests over the floor."""
        return self.total / self.floor if self.floor else math.inf

    def floor_days(self, budget: int) -> tuple[int, int]:
        """ceil(total requests / budget) and ceil(floor / budget)."""
        return math.ceil(self.total / budget), math.ceil(self.floor / budget)


def key(stream: str, row: dict[str, t.Any]) -> tuple[t.Any, ...]:
    """A row's primary key."""
    return tuple(row.get(name) for name in KEYS[stream])


def landed_keys(outputs: list[Output]) -> dict[str, set[tuple[t.Any, ...]]]:
    """The primary keys of every RECORD of `outputs`, by stream."""
    keys: dict[str, set[tuple[t.Any, ...]]] = defaultdict(set)
    for out in outputs:
        for message in out.messages:
            if message["type"] == "RECORD":
                keys[message["stream"]].add(key(message["stream"], message["record"]))
    return keys


def add_sessions(data: Dataset, count: int, start: int, rng: random.Random) -> None:
    """`count` sessions created between `start` and the day's run (RUN_AT), on random scenarios."""
    for _ in range(count):
        data.insert_session(start + rng.randrange(RUN_AT - 60), scenario=rng.choice(data.scenarios))


def measure(sim: Simulator, landed: dict[str, set[tuple[t.Any, ...]]], day: int, log: list[tuple[str, t.Any, int]]) -> Day:
    """Completeness after a day's run (which made the requests of `log`), from what the simulator serves now."""
    refused = sum(1 for _, _, status in log if status == 429)
    stopped = "the API's daily limit (429)" if refused else None
    missing: dict[str, int] = {}
    for stream in ENDPOINTS:
        served = {key(stream, row) for row in expected_records(sim, stream)}
        missing[stream] = len(served - landed.get(stream, set()))
    details = landed.get("session_details", set())
    now = sim.now()
    week = [s for s in sim.data.sessions if s.created >= now - 7 * DAY]
    incomplete = [name for name in LISTS if missing[name]]
    return Day(
        day=day,
        date=time.strftime("%Y-%m-%d", time.gmtime(now)),
        requests=len(log),
        refused=refused,
        lists_complete=len(LISTS) - len(incomplete),
        lists_incomplete=incomplete,
        week_details=sum((s.id,) in details for s in week) / len(week) if week else 1.0,
        all_details=sum((s.id,) in details for s in sim.data.sessions) / len(sim.data.sessions),
        missing=sum(missing.values()),
        missing_by_stream={name: n for name, n in missing.items() if n},
        stopped=stopped,
    )


def floor_runs(data: Dataset, clock_offset: float) -> tuple[int, int]:
    """Requests of one unbounded run of `data` from empty state, then of one unchanged-day run after it."""
    with Simulator(copy.deepcopy(data), clock_offset=clock_offset) as sim:
        config = fast_config(sim, daily_request_budget=UNBOUNDED)
        first = run_tap(config, selected=ALL)
        full = sim.stats.requests
        sim.advance(DAY)
        run_tap(config, selected=ALL, state=first.last_state)
        return full, sim.stats.requests - full


def onboard(  # noqa: PLR0913 - every size is a knob
    *,
    history: int = 900,
    per_day: int = 10,
    budget: int = 200,
    max_days: int = 15,
    seed: int = 11,
    scenarios: int = 30,
    skills: int = 12,
    report: t.Callable[[Day], None] | None = None,
) -> Result:
    """Run the onboarding scenario; `report` is called with each day's row as it is measured."""
    settings = {"history": history, "per_day": per_day, "budget": budget, "max_days": max_days, "seed": seed}
    settings |= {"scenarios": scenarios, "skills": skills}
    result = Result(settings)
    data = build(seed, Counts(scenarios=scenarios, skills=skills, sessions=history))
    rng = random.Random(seed)
    # Day 0 begins where the history ends (EPOCH_NOW); no day of the scenario may be ahead of the wall clock,
    # which the tap may still read (its `end_date`), so start earlier when the wall clock is not far enough on.
    start = min(EPOCH_NOW, (int(time.time()) // DAY - max_days - 2) * DAY)
    outputs: list[Output] = []
    state: dict[str, t.Any] | None = None
    with Simulator(data, limits=Limits(daily=budget, style="body"), clock_offset=start + RUN_AT - time.time()) as sim:
        config = fast_config(sim, daily_request_budget=budget)
        for day in range(1, max_days + 1):
            time_passes(sim, state, DAY)  # on the tap's clock too: a spent day sends nothing before its midnight
            add_sessions(data, per_day, start + day * DAY, rng)
            mark = sim.stats.requests
            out = run_tap(config, selected=ALL, state=state, stop_ok=True)
            outputs.append(out)
            state = out.last_state or state
            row = measure(sim, landed_keys(outputs), day, sim.stats.log[mark:])
            if row.stopped is None and out.stopped:
                row.stopped = f"the tap ({out.stopped[:80]})"
            result.days.append(row)
            if report:
                report(row)
            if row.missing == 0:
                result.days_to_complete = day
                break
        result.total = sim.stats.requests
        result.lost = result.days[-1].missing_by_stream
        result.floor_full, result.floor_unchanged = floor_runs(data, sim.clock_offset)
    result.floor = result.floor_full + (len(result.days) - 1) * result.floor_unchanged
    return result


HEADER = f"{'day':>3}  {'date':<10}  {'requests':>8}  {'429':>3}  {'lists':>5}  {'7-day details':>13}  {'details':>7}  "
HEADER += f"{'missing':>7}  run stopped by"


def row_line(row: Day) -> str:
    """One day as a table row."""
    ended = row.stopped or "its end" + (f", {row.missing} rows not landed" if row.missing else "")
    line = f"{row.day:>3}  {row.date:<10}  {row.requests:>8}  {row.refused:>3}  {row.lists_complete:>2}/{len(LISTS):<2}  "
    line += f"{row.week_details:>13.0%}  {row.all_details:>7.0%}  {row.missing:>7}  {ended}"
    if row.lists_incomplete:
        line += f"; lists not complete: {', '.join(row.lists_incomplete)}"
    return line


def summary(result: Result) -> str:
    """The totals as text."""
    budget = int(result.settings["budget"])
    by_total, by_floor = result.floor_days(budget)
    others = len(result.days) - 1
    done = f"day {result.days_to_complete}" if result.days_to_complete else f"not complete after {len(result.days)} days"
    lost = ", ".join(f"{name} {n}" for name, n in result.lost.items()) or "nothing"
    return "\n".join(
        [
            f"total requests: {result.total:,} over {len(result.days)} days",
            (
                f"floor: {result.floor:,} = one unbounded run of the final workspace ({result.floor_full:,}) "
                f"+ {others} unchanged-day runs x {result.floor_unchanged:,}"
            ),
            f"ratio: {result.ratio:.3f}x the floor",
            f"complete: {done}; floor days: ceil(total / {budget}) = {by_total} (ceil(floor / {budget}) = {by_floor})",
            f"never arrived by the end (the API has it, no run emitted it): {lost}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Run the scenario and print the per-day table and the totals."""
    parser = argparse.ArgumentParser(prog="onboarding.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--history", type=int, default=900, help="sessions of history (default 900)")
    parser.add_argument("--per-day", type=int, default=10, help="new sessions every simulated day (default 10)")
    parser.add_argument("--budget", type=int, default=200, help="the API's daily request limit and the tap's budget (200)")
    parser.add_argument("--days", type=int, default=15, help="most simulated days (default 15)")
    parser.add_argument("--scenarios", type=int, default=30, help="scenarios in the workspace (default 30)")
    parser.add_argument("--skills", type=int, default=12, help="skills in the workspace (default 12)")
    parser.add_argument("--seed", type=int, default=11, help="data seed (default 11)")
    parser.add_argument("--json", type=Path, help="also write the rows and totals to this JSON file")
    args = parser.parse_args(argv)
    print(HEADER, flush=True)
    result = onboard(
        history=args.history,
        per_day=args.per_day,
        budget=args.budget,
        max_days=args.days,
        seed=args.seed,
        scenarios=args.scenarios,
        skills=args.skills,
        report=lambda row: print(row_line(row), flush=True),
    )
    print(summary(result))
    if args.json:
        body = {**asdict(result), "ratio": result.ratio}
        args.json.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
