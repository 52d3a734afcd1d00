"""The daily scenario: what a scheduled run costs once day one is done, against the floor, before and after.

"Before" is the tap with change tracking off (`per_parent_refresh_days` 0), which fetches every parent's children
every run, as tap-exec did before change-driven syncs; "after" is the default. Every stream is selected.
"""

from __future__ import annotations

import math
import random
import sys
import time
import typing as t
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tap_exec.simulator import Counts, Dataset, Simulator, build  # noqa: E402
from tests.expected import ENDPOINTS  # noqa: E402
from tests.helpers import fast_config, run_tap  # noqa: E402

DAY = 86_400
ALL = set(ENDPOINTS)
BUDGET = 1_000
PER_PARENT = {name: path for name, (path, _, parent, _, _) in ENDPOINTS.items() if parent}


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


def by_kind(log: list[tuple[str, dict[str, str], int]]) -> Counter[str]:
    """Requests by stream kind: each per-parent stream by name, every list together as `lists`."""
    kinds: Counter[str] = Counter()
    for path, _, _ in log:
        rest = path.removeprefix("/rest/v1")
        name = next((n for n, p in PER_PARENT.items() if _matches(p, rest)), "lists")
        kinds[name] += 1
    return kinds


def _matches(template: str, path: str) -> bool:
    want, got = template.split("/"), path.split("/")
    return len(want) == len(got) and all(w in {"{}", g} for w, g in zip(want, got, strict=True))


def day_two(data: Dataset, change: t.Callable[[Dataset], None], **settings: float) -> tuple[Counter[str], Dataset]:
    """Day one in full, then `change`, then day two: day two's requests by kind."""
    with Simulator(data) as sim:
        config = fast_config(sim, **settings)
        first = run_tap(config, selected=ALL)
        change(data)
        mark = sim.stats.requests
        run_tap(config, selected=ALL, state=first.last_state)
        return by_kind(sim.stats.log[mark:]), data


def floor(kinds: Counter[str], new: int, touched: set[str], data: Dataset) -> int:
    """List pages, each new session's detail, both analytics calls per touched scenario, each touched skill."""
    skills = {k["id"] for s in data.scenarios if s["id"] in touched for k in s["_skills"]}
    return kinds["lists"] + new + 2 * len(touched) + len(skills)


def changed_day(sessions: int, scenarios: int, history: int, seed: int = 3) -> dict[str, t.Any]:
    """Day two with `sessions` new sessions over `scenarios` scenarios: requests against the floor, before and after."""
    out: dict[str, t.Any] = {"new_sessions": sessions, "scenarios": scenarios}
    for mode, refresh_days in (("before", 0), ("after", 7)):
        data = workspace(seed, history, 20)
        touched = data.scenarios[:scenarios]
        kinds, data = day_two(data, lambda d: practise(d, sessions, touched, seed), per_parent_refresh_days=refresh_days)  # noqa: B023
        out[mode] = sum(kinds.values())
        out[f"{mode}_by_kind"] = dict(kinds)
        if mode == "after":
            out["floor"] = floor(kinds, sessions, {s["id"] for s in touched}, data)
    return out


def daily_cost(per_day: int, mode: str, history: int = 1_000, seed: int = 5) -> int:
    """Steady-state requests of one day with `per_day` sessions spread at random over the 200 scenarios."""
    data = workspace(seed, history, per_day)
    rng = random.Random(seed)

    def change(d: Dataset) -> None:
        practise(d, per_day, [rng.choice(d.scenarios) for _ in range(per_day)], seed)

    kinds, _ = day_two(data, change, per_parent_refresh_days=0 if mode == "before" else 7)
    return sum(kinds.values())


def capacity(mode: str, low: int = 1, high: int = 1_000) -> int:
    """The most sessions a day whose daily run stays within the API's 1,000 requests (bisection)."""
    while high - low > 1:
        middle = (low + high) // 2
        if daily_cost(middle, mode) <= BUDGET:
            low = middle
        else:
            high = middle
    return low


def backfill(sessions: int, per_day: int) -> dict[str, t.Any]:
    """Sessions with their details read in one run, then spread over days of `per_day` requests, before and after."""
    data = build(9, Counts.scaled(0.1, sessions=sessions))
    selected = {"sessions", "session_details"}
    with Simulator(data) as sim:
        run_tap(fast_config(sim), selected=selected)
        once = sim.stats.requests
    result: dict[str, t.Any] = {"sessions": sessions, "one_run": once}
    for mode, refresh_days in (("before", 0), ("after", 7)):
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
        result["capacity"] = {"before": capacity("before"), "after": capacity("after")}
        result["backfill"] = backfill(9_000, BUDGET)
    return result


def report(result: dict[str, t.Any]) -> str:
    """The daily figures as text."""
    lines = [
        f"day two, {day['new_sessions']} new sessions over {day['scenarios']} scenarios: {day['after']} requests "
        f"(floor {day['floor']}); before: {day['before']}"
        for day in result["changed_days"]
    ]
    lines += [f"{p['per_day']:>5} sessions/day: before {p['before']:>5}, after {p['after']:>5} requests" for p in result["curve"]]
    if "capacity" in result:
        cap = result["capacity"]
        lines.append(
            f"most sessions a day within {BUDGET:,} requests (200 scenarios): before {cap['before']}, after {cap['after']}"
        )
        b = result["backfill"]
        lines.append(
            f"backfill of {b['sessions']:,} sessions with details: {b['one_run']:,} requests in one run; over days of "
            f"{BUDGET:,}: {b['after']['spread']:,} in {b['after']['days']} days ({b['after']['ratio']:.4f}x, "
            f"{b['after']['details']:,} details), before {b['before']['spread']:,} ({b['before']['ratio']:.4f}x)"
        )
    return "\n".join(lines)


def chart(result: dict[str, t.Any], path: Path) -> None:
    """Daily requests against sessions a day, before and after, with the daily limit."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["curve"]
    fig, ax = plt.subplots(figsize=(7, 4))
    per_day = [p["per_day"] for p in curve]
    ax.plot(per_day, [p["before"] for p in curve], marker="s", label="before (every parent, every run)")
    ax.plot(per_day, [p["after"] for p in curve], marker="o", label="after (change-driven)")
    ax.axhline(BUDGET, color="grey", linestyle="--", label="API daily limit")
    for mode, colour in (("before", "C0"), ("after", "C1")):
        if "capacity" in result:
            ax.axvline(result["capacity"][mode], color=colour, linestyle=":", linewidth=1)
    ax.set(
        xlabel="sessions practised per day (200 scenarios, every stream selected)",
        ylabel="requests of the daily run",
        title="What a daily run costs",
        ylim=(0, max(math.ceil(max(p["before"] for p in curve) / 500) * 500, BUDGET + 200)),
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
