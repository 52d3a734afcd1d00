"""The daily scenarios: what a scheduled run costs once day one is done, against a floor, and what a day can hold.

"Before" is the tap with change tracking off (`per_parent_refresh_days` 0), which fetches every parent's children
every run, as tap-exec did before change-driven syncs; "after" is the default. Every stream is selected.

The floor is counted from the simulator's data, never from the tap's requests: each list the run reads costs
ceil(rows / 100) pages (at least 1; `/workspace` is one object), the sessions list the rows created since the last
run's bookmark less the lookback, plus one reconciliation slice of the older sessions (ceil(rows / 100 / refresh
days)); then one detail per new session, the analytics of every scenario a new session practised (summary and
participants' pages), the proficiency pages of every skill those scenarios evaluate, and the children of changed
Knowledge Hub pages and sources (and of the pages embedding a changed source); the pages list is read twice
(`status=archived` too).

The capacity (issue 17): with the day's budget at 1,000 requests (the tap's `daily_request_budget` and the
simulator's daily limit), every stream selected, 200 scenarios and 30 skills, the largest number of sessions a day
whose details land on the day they were practised, and how many days the API's aggregates then lag.

    python benchmarks/daily.py                         # changed days, then the capacity search
    python benchmarks/daily.py --per-day 800 --days 8  # one busy week at 800 sessions a day, day by day
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import typing as t
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tap_exec.simulator import Counts, Dataset, Limits, Simulator, build  # noqa: E402
from tap_exec.simulator.data import EPOCH_NOW  # noqa: E402
from tests.expected import ENDPOINTS, per_parent_stream, served  # noqa: E402
from tests.helpers import fast_config, run_tap, time_passes  # noqa: E402

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

DAY = 86_400
ALL = set(ENDPOINTS)
BUDGET = 1_000
PAGE = 100  # the tap's page size (its default, the API's maximum)
LOOKBACK_DAYS = 3  # sessions_lookback_days, set explicitly in every run below
REFRESH_DAYS = 7  # per_parent_refresh_days of "after"
UNBOUNDED = 1_000_000_000  # a budget no run reaches
RUN_AT = 22 * 3600  # each simulated day's run starts at 22:00 UTC of the API's clock
LISTS = {path: name for name, (path, _, parent, _, _) in ENDPOINTS.items() if parent is None}
AGGREGATES = ("scenario_analytics", "scenario_participants", "skill_proficiency")


def pages(rows: int) -> int:
    """Requests to read `rows` rows of a list: ceil(rows / 100), at least one."""
    return max(1, math.ceil(rows / PAGE))


def settings(refresh_days: float, **more: float) -> dict[str, float]:
    """The knobs the floor depends on, set explicitly rather than borrowed from the tap's defaults."""
    return {"sessions_lookback_days": LOOKBACK_DAYS, "per_parent_refresh_days": refresh_days, "page_size": PAGE, **more}


def workspace(seed: int, history: int, per_day: int) -> Dataset:
    """200 scenarios and 30 skills; `history` sessions over the past year, then `per_day` a day for the last three days."""
    data = build(seed, Counts(scenarios=200, skills=30, sessions=history, pages=100, sources=30))
    rng = random.Random(seed)
    now = int(time.time())
    for day in range(4, 1, -1):  # days -4..-2: what earlier daily runs read, so the lookback window is in steady state
        for _ in range(per_day):
            data.insert_session(now - day * DAY + rng.randrange(DAY), scenario=rng.choice(data.scenarios))
    return data


def practise(data: Dataset, sessions: int, scenarios: list[dict[str, t.Any]], seed: int) -> None:
    """`sessions` new sessions in the last day, spread over `scenarios`."""
    rng = random.Random(seed)
    now = int(time.time())
    for n in range(sessions):
        data.insert_session(now - DAY + 60 + rng.randrange(DAY - 120), scenario=scenarios[n % len(scenarios)])


# -- what the tap asked for ---------------------------------------------------------------------------
def by_kind(log: Iterable[tuple[str, dict[str, str], int]]) -> Counter[str]:
    """Requests by what they read, each stream by name.

    The sessions list read newest first (reconciliation, history) counts as `sessions_reconciliation`.
    """
    kinds: Counter[str] = Counter()
    for path, params, _ in log:
        name = per_parent_stream(path) or LISTS.get(path.removeprefix("/rest/v1"), "other")
        if name == "sessions" and params.get("sorting") == "-created_at":
            name = "sessions_reconciliation"
        kinds[name] += 1
    return kinds


# -- the floor, from the simulator's data ----------------------------------------------------------------
@dataclass
class Snapshot:
    """What the previous run could have read: the sessions then listed and each page's and source's version."""

    sessions: set[str]
    pages: dict[str, str]
    sources: dict[str, str]

    @classmethod
    def of(cls, data: Dataset) -> Snapshot:
        """The data as it stands now (taken right after a complete run)."""
        return cls(
            {s.id for s in data.sessions},
            {p["id"]: p["updated_at"] for p in data.pages},
            {s["id"]: s["updated_at"] for s in data.sources},
        )


def floor_parts(sim: Simulator, before: Snapshot, refresh_days: float) -> dict[str, int]:
    """The fewest requests a run after `before` can make and still be current, by part (see the module's text)."""
    data, parts = sim.data, {}
    for name, (path, query, parent, _, _) in ENDPOINTS.items():
        if parent is not None or name == "sessions":
            continue
        if name == "workspace":
            parts[name] = 1
        elif name == "knowledge_hub_pages":  # incremental: the rows at or after the newest `updated_at` already read
            newest = max(before.pages.values())
            archived = served(sim, path, {**query, "status": "archived"})  # the list leaves archived pages out: read too
            parts[name] = pages(sum(1 for p in served(sim, path, query) if p["updated_at"] >= newest)) + pages(
                sum(1 for p in archived if p["updated_at"] >= newest)
            )
        else:
            parts[name] = pages(len(served(sim, path, query)))
    # sessions: the current read from the bookmark (newest session already read) less the lookback, and one slice
    # of the sessions older than that window
    bookmark = max(s.created for s in data.sessions if s.id in before.sessions)
    lower = bookmark - LOOKBACK_DAYS * DAY
    history = sum(1 for s in data.sessions if s.created < lower)
    parts["sessions"] = pages(len(data.sessions) - history)
    parts["sessions_reconciliation"] = math.ceil(history / PAGE / refresh_days) if refresh_days > 0 and history else 0
    new = [s for s in data.sessions if s.id not in before.sessions]
    touched = {s.scenario["id"] for s in new}
    skills = {k["id"] for sc in data.scenarios if sc["id"] in touched for k in sc["_skills"]}
    parts["session_details"] = len(new)
    parts["scenario_analytics"] = len(touched)
    parts["scenario_participants"] = sum(pages(len(served(sim, f"/scenarios/{i}/analytics/participants", {}))) for i in touched)
    parts["skill_proficiency"] = sum(pages(len(served(sim, f"/skills/{i}/proficiency", {}))) for i in skills)
    changed_sources = {s["id"] for s in data.sources if before.sources.get(s["id"]) != s["updated_at"]}
    changed_pages = [p["id"] for p in data.pages if before.pages.get(p["id"]) != p["updated_at"]]  # edited, archived
    embedding = [p["id"] for p in data.pages if p["id"] not in changed_pages and changed_sources & set(p["_sources"])]
    parts["knowledge_hub_page_contents"] = len(changed_pages) + len(embedding)  # contents embed their sources
    parts["knowledge_hub_page_versions"] = sum(
        pages(len(served(sim, f"/knowledge-hub/pages/{i}/versions", {}))) for i in changed_pages
    )
    parts["knowledge_hub_source_contents"] = len(changed_sources)
    return {name: n for name, n in parts.items() if n}


# -- before and after on a changed day ------------------------------------------------------------------
def day_two(data: Dataset, change: Callable[[Dataset], None], **config: float) -> tuple[Counter[str], dict[str, int]]:
    """Day one in full, then `change`, then day two: day two's requests by kind, and the floor's parts."""
    with Simulator(data) as sim:
        tap_config = fast_config(sim, **config)
        first = run_tap(tap_config, selected=ALL)
        before = Snapshot.of(data)
        change(data)
        parts = floor_parts(sim, before, float(config.get("per_parent_refresh_days", REFRESH_DAYS)))
        mark = sim.stats.requests
        run_tap(tap_config, selected=ALL, state=first.last_state)
        return by_kind(sim.stats.log[mark:]), parts


def changed_day(sessions: int, scenarios: int, history: int, seed: int = 3) -> dict[str, t.Any]:
    """Day two with `sessions` new sessions over `scenarios` scenarios: requests against the floor, before and after."""
    out: dict[str, t.Any] = {"new_sessions": sessions, "scenarios": scenarios}
    for mode, refresh_days in (("before", 0), ("after", REFRESH_DAYS)):
        data = workspace(seed, history, 20)
        touched = data.scenarios[:scenarios]
        kinds, parts = day_two(data, lambda d: practise(d, sessions, touched, seed), **settings(refresh_days))  # noqa: B023
        out[mode] = sum(kinds.values())
        out[f"{mode}_by_kind"] = dict(kinds)
        if mode == "after":
            out["floor"] = sum(parts.values())
            out["floor_parts"] = parts
            out["over_floor"] = {k: [n, parts.get(k, 0)] for k, n in kinds.items() if n > parts.get(k, 0)}
    return out


def daily_cost(per_day: int, mode: str, history: int = 1_000, seed: int = 5) -> int:
    """Steady-state requests of one day with `per_day` sessions spread at random over the 200 scenarios (no budget)."""
    data = workspace(seed, history, per_day)
    rng = random.Random(seed)

    def change(d: Dataset) -> None:
        practise(d, per_day, [rng.choice(d.scenarios) for _ in range(per_day)], seed)

    kinds, _ = day_two(data, change, **settings(0 if mode == "before" else REFRESH_DAYS))
    return sum(kinds.values())


# -- capacity: busy days under the day's budget -------------------------------------------------------------
@dataclass
class BusyDay:
    """One simulated day of a busy week: its run's requests, whether that day's details landed, the aggregates' lag."""

    day: int
    requests: int
    refused: int
    new: int
    details_landed: int  # of the day's new sessions, whose detail landed by the end of the day's run
    details_owed: int  # sessions of any day so far whose detail has not landed
    lag: dict[str, int]  # per aggregate: days from the oldest day whose touched parents were not fetched since (0: current)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        """True when every session of the day has its detail by the end of the day's run."""
        return self.details_landed == self.new


def lag_of(day: int, touched: dict[int, set[str]], last_fetch: dict[str, int]) -> int:
    """Days behind on `day`: from the oldest day with a touched parent not fetched on or after it, through today."""
    behind = [d for d in range(day + 1) if any(last_fetch.get(p, -1) < d for p in touched.get(d, ()))]
    return day - behind[0] + 1 if behind else 0


def busy_week(  # noqa: PLR0913 - every size is a knob
    per_day: int,
    *,
    days: int = 8,
    history: int = 2_000,
    budget: int = BUDGET,
    seed: int = 13,
    report: Callable[[BusyDay], None] | None = None,
) -> list[BusyDay]:
    """A first run in full (day 0, unbounded), then `days` budgeted days of `per_day` new sessions each.

    Each day the simulator's clock moves one day on, that day's sessions are created between its midnight and 22:00
    (each in a random scenario), and the tap runs at 22:00 from the last STATE with `daily_request_budget` =
    `budget`, the simulator refusing any request past `budget` in the API's day.
    """
    data = build(seed, Counts(scenarios=200, skills=30, sessions=history, pages=100, sources=30))
    rng = random.Random(seed * 1_000 + per_day)
    skills_of = {sc["id"]: {k["id"] for k in sc["_skills"]} for sc in data.scenarios}
    start = min(EPOCH_NOW, (int(time.time()) // DAY - days - 2) * DAY)  # no day of it ahead of the wall clock
    created: dict[int, set[str]] = {}
    touched: dict[str, dict[int, set[str]]] = {name: {} for name in AGGREGATES}
    last_fetch: dict[str, dict[str, int]] = {name: {} for name in AGGREGATES}
    landed: set[str] = set()
    rows: list[BusyDay] = []

    def practise_on(day: int) -> None:
        scenarios: set[str] = set()
        created[day] = set()
        for _ in range(per_day):
            session = data.insert_session(start + day * DAY + rng.randrange(RUN_AT - 60), scenario=rng.choice(data.scenarios))
            created[day].add(session.id)
            scenarios.add(session.scenario["id"])
        touched["scenario_analytics"][day] = touched["scenario_participants"][day] = scenarios
        touched["skill_proficiency"][day] = set().union(*(skills_of[s] for s in scenarios))

    with Simulator(data, clock_offset=start + RUN_AT - time.time()) as sim:
        config = fast_config(sim, **settings(REFRESH_DAYS, daily_request_budget=UNBOUNDED))
        state: dict[str, t.Any] | None = None
        for day in range(days + 1):
            if day:
                time_passes(sim, state, DAY)  # on the tap's clock too: a spent day sends nothing before its midnight
                sim.limits = Limits(daily=budget, style="body")
                config = fast_config(sim, **settings(REFRESH_DAYS, daily_request_budget=budget))
            practise_on(day)
            mark = sim.stats.requests
            if not day:  # one request first, whose STATE tells the first run the API's clock (its full pass's `since`)
                state = run_tap(config, selected={"workspace"}).last_state
            out = run_tap(config, selected=ALL, state=state, stop_ok=True)
            state = out.last_state or state
            landed |= {str(r["id"]) for r in out.records("session_details")}
            log = sim.stats.log[mark:]
            for path, _, status in log:
                stream = per_parent_stream(path)
                if status == 200 and stream in last_fetch:
                    last_fetch[stream][path.split("/")[4]] = day
            row = BusyDay(
                day=day,
                requests=len(log),
                refused=sum(1 for _, _, status in log if status == 429),
                new=per_day,
                details_landed=len(created[day] & landed),
                details_owed=sum(len(ids - landed) for ids in created.values()),
                lag={name: lag_of(day, touched[name], last_fetch[name]) for name in AGGREGATES},
                by_kind=dict(by_kind(log)),
            )
            rows.append(row)
            if report:
                report(row)
    return rows


def first_behind(rows: list[BusyDay]) -> int | None:
    """The first budgeted day whose new sessions did not all get their details that day (None: every day)."""
    return next((row.day for row in rows if row.day and not row.current), None)


def aggregates_current(rows: list[BusyDay], steady: int) -> bool:
    """True when every aggregate was current (every touched parent fetched the same day) on the first `steady` days."""
    return all(not any(row.lag.values()) for row in rows[1 : steady + 1])


#: What the capacity asks of a week: the details current `steady` days, or the aggregates current too.
SEARCHES: dict[str, Callable[[list[BusyDay], int], bool]] = {
    "details": lambda rows, steady: (first_behind(rows) or steady + 1) > steady,
    "aggregates": lambda rows, steady: (first_behind(rows) or steady + 1) > steady and aggregates_current(rows, steady),
}


def capacity(  # noqa: PLR0913 - every knob of the search
    *,
    days: int = 8,
    steady: int = 5,
    searches: tuple[str, ...] = ("details", "aggregates"),
    steps: tuple[int, ...] = (500, 700, 800, 900, 1_000),
    resolution: int = 20,
    log: Callable[[str], None] | None = None,
) -> dict[str, t.Any]:
    """The most sessions a day whose details (and then also aggregates) stay current `steady` days running.

    Each size tried is a simulated week of `days` budgeted days (`busy_week`); sizes are stepped up, then bisected
    to `resolution`, assuming a larger size never does better. Weeks are shared between the searches.
    """
    weeks: dict[int, list[BusyDay]] = {}

    def week(per_day: int) -> list[BusyDay]:
        if per_day not in weeks:
            rows = weeks[per_day] = busy_week(per_day, days=days)
            if log:
                lags = ", ".join(f"{name} {[r.lag[name] for r in rows[1:]]}" for name in AGGREGATES)
                log(f"{per_day:>5} sessions/day: details behind from day {first_behind(rows)}; days of lag: {lags}")
        return weeks[per_day]

    found: dict[str, t.Any] = {}
    for search in searches:
        holds = SEARCHES[search]
        low, high = 0, None
        for per_day in steps:
            if not holds(week(per_day), steady):
                high = per_day
                break
            low = per_day
        while high is not None and high - low > resolution:
            middle = (low + high) // 2
            if holds(week(middle), steady):
                low = middle
            else:
                high = middle
        rows = weeks.get(low, [])
        found[search] = {
            "sessions_per_day": low,
            "first_failing": high,  # None: even the largest size tried held
            "aggregates_lag": {name: [row.lag[name] for row in rows] for name in AGGREGATES},
            "requests": [row.requests for row in rows],
        }
    return {
        "steady_days": steady,
        "days": days,
        **found,
        "held_all_days": max((n for n, rows in weeks.items() if first_behind(rows) is None), default=0),
        "weeks": {n: [row.__dict__ for row in week] for n, week in sorted(weeks.items())},
    }


# -- everything ------------------------------------------------------------------------------------------
def run(grid: list[int], quick: bool) -> dict[str, t.Any]:
    """Every daily figure: changed days against the floor, cost against sessions a day; capacity and a backfill."""
    history = 200 if quick else 2_000
    days = [(5, 4)] if quick else [(0, 0), (15, 13), (100, 50)]
    result: dict[str, t.Any] = {
        "changed_days": [changed_day(sessions, scenarios, history) for sessions, scenarios in days],
        "curve": [
            {"per_day": k, "before": daily_cost(k, "before", history), "after": daily_cost(k, "after", history)} for k in grid
        ],
    }
    if not quick:
        result["capacity"] = capacity()
        result["backfill"] = backfill(9_000, BUDGET)
    return result


def backfill(sessions: int, per_day: int) -> dict[str, t.Any]:
    """Sessions with their details read in one run, then spread over days of `per_day` requests, before and after."""
    data = build(9, Counts.scaled(0.1, sessions=sessions))
    selected = {"sessions", "session_details"}
    with Simulator(data) as sim:
        run_tap(fast_config(sim), selected=selected)
        once = sim.stats.requests
    result: dict[str, t.Any] = {"sessions": sessions, "one_run": once}
    for mode, refresh_days in (("before", 0), ("after", REFRESH_DAYS)):
        with Simulator(data) as sim:
            state, days, details = None, 0, set()
            while True:
                mark = sim.stats.requests
                config = fast_config(sim, max_requests=per_day, per_parent_refresh_days=refresh_days)
                out = run_tap(config, selected=selected, state=state, stop_ok=True)
                days, state = days + 1, out.last_state
                details |= {r["id"] for r in out.records("session_details")}
                if sim.stats.requests - mark < per_day:
                    break
        result[mode] = {"spread": sim.stats.requests, "days": days, "ratio": sim.stats.requests / once, "details": len(details)}
    return result


def changed_lines(changed: list[dict[str, t.Any]]) -> list[str]:
    """The before/after table of the changed days, with the floor's parts and whatever the tap asked beyond them."""
    lines = [f"{'new sessions':>12}  {'scenarios':>9}  {'before':>6}  {'after':>5}  {'floor':>5}  floor's parts"]
    for day in changed:
        parts = ", ".join(f"{name} {n}" for name, n in day["floor_parts"].items())
        lines.append(
            f"{day['new_sessions']:>12}  {day['scenarios']:>9}  {day['before']:>6}  {day['after']:>5}  {day['floor']:>5}  {parts}"
        )
        for name, (asked, floor) in day["over_floor"].items():
            lines.append(f"{'':>14}the tap asked {asked} for {name}, the floor {floor}")
    return lines


def capacity_lines(cap: dict[str, t.Any]) -> list[str]:
    """The capacity and the aggregates' lag at it."""
    lines = []
    titles = {"details": "whose details stay current", "aggregates": "whose details and aggregates all stay current"}
    for search, title in titles.items():
        if search not in cap:
            continue
        found = cap[search]
        most = f"{found['sessions_per_day']}" + (" (the largest size tried)" if found["first_failing"] is None else "")
        lags = "; ".join(f"{name} {', '.join(map(str, lag[1:]))}" for name, lag in found["aggregates_lag"].items())
        lines += [
            (
                f"most sessions a day {title} {cap['steady_days']} days running, {BUDGET:,} requests a day "
                f"(200 scenarios, 30 skills, every stream): {most}"
            ),
            f"  days the aggregates lag at {found['sessions_per_day']}/day, day 1 to {cap['days']}: {lags}",
        ]
    lines.append(f"largest size tried whose details stayed current all {cap['days']} days: {cap['held_all_days']}")
    return lines


def report(result: dict[str, t.Any]) -> str:
    """The daily figures as text."""
    lines = changed_lines(result["changed_days"])
    lines += [f"{p['per_day']:>5} sessions/day: before {p['before']:>5}, after {p['after']:>5} requests" for p in result["curve"]]
    if "capacity" in result:
        lines += capacity_lines(result["capacity"])
        b = result["backfill"]
        lines.append(
            f"backfill of {b['sessions']:,} sessions with details: {b['one_run']:,} requests in one run; over days of "
            f"{BUDGET:,}: {b['after']['spread']:,} in {b['after']['days']} days ({b['after']['ratio']:.4f}x, "
            f"{b['after']['details']:,} details), before {b['before']['spread']:,} ({b['before']['ratio']:.4f}x)"
        )
    return "\n".join(lines)


def chart(result: dict[str, t.Any], path: Path) -> None:
    """Daily requests against sessions a day, before and after, with the daily limit and the capacity."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["curve"]
    fig, ax = plt.subplots(figsize=(7, 4))
    per_day = [p["per_day"] for p in curve]
    ax.plot(per_day, [p["before"] for p in curve], marker="s", label="before (every parent, every run)")
    ax.plot(per_day, [p["after"] for p in curve], marker="o", label="after (change-driven, no budget)")
    ax.axhline(BUDGET, color="grey", linestyle="--", label="API daily limit")
    titles = {"details": "details current (budgeted)", "aggregates": "aggregates current too (budgeted)"}
    for (search, title), style in zip(titles.items(), (":", "-."), strict=True):
        if search in result.get("capacity", {}):
            ax.axvline(result["capacity"][search]["sessions_per_day"], color="C1", linestyle=style, linewidth=1, label=title)
    ax.set(
        xlabel="sessions practised per day (200 scenarios, every stream selected)",
        ylabel="requests of the daily run",
        title="What a daily run costs",
        ylim=(0, max(math.ceil(max(p["before"] for p in curve) / 500) * 500, BUDGET + 200)),
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def busy_line(row: BusyDay) -> str:
    """One busy day as a table row."""
    lags = " ".join(f"{row.lag[name]:>3}" for name in AGGREGATES)
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(row.by_kind.items(), key=lambda kv: -kv[1])[:6])
    return (
        f"{row.day:>3}  {row.requests:>8}  {row.refused:>3}  {row.details_landed:>5}/{row.new:<5}  {row.details_owed:>5}  "
        f"{lags}   {kinds}"
    )


def main(argv: list[str] | None = None) -> None:
    """The changed days and the capacity search, or one busy week with `--per-day`."""
    parser = argparse.ArgumentParser(prog="daily.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--per-day", type=int, help="only simulate one busy week at this many sessions a day")
    parser.add_argument("--days", type=int, default=8, help="budgeted days of each simulated week (default 8)")
    parser.add_argument("--steady", type=int, default=5, help="days the details must stay current (default 5)")
    parser.add_argument("--history", type=int, default=2_000, help="sessions of history (default 2,000)")
    parser.add_argument("--skip-changed", action="store_true", help="skip the before/after table of changed days")
    parser.add_argument("--skip-capacity", action="store_true", help="skip the capacity search")
    parser.add_argument("--search", choices=[*SEARCHES, "both"], default="both", help="which capacity (default both)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result: dict[str, t.Any] = {}
    if args.per_day:
        print("day  requests  429  details today  owed  lag: analytics participants proficiency   requests by kind")
        rows = busy_week(args.per_day, days=args.days, history=args.history, report=lambda r: print(busy_line(r), flush=True))
        result["week"] = [row.__dict__ for row in rows]
    else:
        if not args.skip_changed:
            result["changed_days"] = [changed_day(n, k, args.history) for n, k in ((0, 0), (15, 13), (100, 50))]
            print("\n".join(changed_lines(result["changed_days"])), flush=True)
        if not args.skip_capacity:
            searches = tuple(SEARCHES) if args.search == "both" else (args.search,)
            result["capacity"] = capacity(
                days=args.days, steady=args.steady, searches=searches, log=lambda line: print(line, flush=True)
            )
            print("\n".join(capacity_lines(result["capacity"])))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
