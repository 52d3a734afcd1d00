"""A spent day on any schedule, over HTTP: exit 0, one WARNING, at most one request a run until the API's new day."""

from __future__ import annotations

import json
import math
import time
import typing as t
from dataclasses import dataclass

import pytest
import requests

from tap_exec.errors import EXIT_DONE, EXIT_RATE_LIMITED
from tap_exec.run.budget import OPEN_BOUND
from tap_exec.simulator import Counts, Faults, Limits, build
from tests.helpers import catalog_for, fast_config, parse, recent, run_cli, time_passes, write_json
from tests.soak import api_clock, run_once

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Dataset, Simulator
    from tests.helpers import Output

DAY = 86_400
SELECTED = {"sessions", "session_details"}  # far more requests than the days' budgets below
LIMIT = 6  # the simulated API's daily limit (1,000 on the real one)


def _at(hour: float) -> float:
    """A clock offset that puts the API's clock at `hour` UTC of the day after ours (API and local days differ)."""
    now = time.time()
    return (math.floor(now / DAY) + 1) * DAY + hour * 3600 - now


@dataclass
class Ran:
    """One run: its exit status, WARNING and ERROR lines, the requests the API saw, and its output."""

    status: int
    warnings: list[str]
    errors: list[str]
    requests: int
    out: Output


class Schedule:
    """Runs of tap-exec as a scheduler starts them, each from the last one's state, with time passing between them.

    `later(s)` moves both clocks `s` seconds on (helpers.time_passes).
    """

    def __init__(self, sim: Simulator, tmp_path: Path, **settings: t.Any) -> None:
        self.sim, self.tmp_path = sim, tmp_path
        self.config = fast_config(sim, max_wait_seconds=1, **settings)
        self.state: dict[str, t.Any] | None = None

    def run(self) -> Ran:
        """One run from the last state, as Meltano would start it."""
        args = ["--config", write_json(self.tmp_path, "config.json", self.config)]
        args += ["--catalog", write_json(self.tmp_path, "catalog.json", catalog_for(self.config, SELECTED))]
        if self.state is not None:
            args += ["--state", write_json(self.tmp_path, "state.json", self.state)]
        before = self.sim.stats.requests
        result = run_cli(args)
        out = parse(result.stdout)
        assert out.last_state is not None, result.stderr[-2000:]  # every way a run ends writes its state
        self.state = out.last_state
        lines = result.stderr.splitlines()
        return Ran(
            result.returncode,
            [line for line in lines if "| WARNING" in line],
            [line for line in lines if "| ERROR" in line or "| CRITICAL" in line or "Traceback" in line],
            self.sim.stats.requests - before,
            out,
        )

    def later(self, seconds: float) -> None:
        """`seconds` pass on both clocks."""
        time_passes(self.sim, self.state, seconds)

    def taps_seconds_to_midnight(self) -> float:
        """Seconds to the API's next midnight by the tap's estimate (the wall clock plus the state's offset)."""
        assert self.state is not None
        return DAY - (time.time() + float(self.state["budget"]["offset"])) % DAY

    def until_api_midnight(self, plus: float) -> None:
        """Time passes until `plus` seconds after the API's next midnight (negative: before it)."""
        self.later(self.sim.seconds_to_midnight() + plus)


def _spent_quietly(ran: Ran, said: str, most: int = 1) -> None:
    """Exit 0, exactly one WARNING (saying `said`), no ERROR, at most `most` requests."""
    assert ran.status == EXIT_DONE, ran.errors or ran.warnings
    assert not ran.errors, ran.errors
    assert len(ran.warnings) == 1, ran.warnings
    assert said in ran.warnings[0], ran.warnings[0]
    assert ran.requests <= most, ran.requests


def _data() -> Dataset:
    return recent(build(31, Counts.scaled(0.2, sessions=450)))


def test_hourly_runs_after_the_taps_budget_is_spent(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """Default settings in small (the tap's budget is the API's limit), runs of one API day after the budget is spent.

    They send nothing but the one near the API's midnight, whose 429 says the day is not over; the first run of the
    API's new day continues.
    """
    sim = make_sim(data=_data(), limits=Limits(daily=LIMIT), clock_offset=_at(10))
    hourly = Schedule(sim, tmp_path, daily_request_budget=LIMIT)
    first = hourly.run()
    _spent_quietly(first, "Today's request budget is spent", most=LIMIT)
    assert first.requests == LIMIT
    assert sim.stats.count(429) == 0
    for hours in (1, 6, 6):  # 11:00, 17:00, 23:00 by the API's clock
        hourly.later(hours * 3600)
        _spent_quietly(hourly.run(), "Today's request budget is spent", most=0)
    hourly.until_api_midnight(-20)  # 23:59:40: the API's new day may have begun by the tap's estimate
    clock = hourly.run()
    _spent_quietly(clock, "daily limit", most=1)
    assert clock.requests == sim.stats.count(429) == 1  # the API's day was not over: it refused, nothing was spent
    hourly.later(5)
    _spent_quietly(hourly.run(), "daily limit", most=0)  # the API asked to wait until its midnight
    hourly.until_api_midnight(10)
    tomorrow = hourly.run()
    _spent_quietly(tomorrow, "Today's request budget is spent", most=LIMIT)
    assert tomorrow.requests == LIMIT
    assert tomorrow.out.records("session_details"), "the new day's run continues where the last one stopped"
    assert sim.stats.count(429) == 1


def test_every_ten_minutes_when_another_client_spent_the_apis_day(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """The API's daily limit reached by another client on the key: one request learns it, then none until its midnight."""
    sim = make_sim(data=_data(), limits=Limits(daily=LIMIT), clock_offset=_at(15))
    for _ in range(LIMIT):  # the other client
        requests.get(f"{sim.url}/workspace", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=5)
    often = Schedule(sim, tmp_path, daily_request_budget=1000)  # the tap's own budget is far from spent
    first = often.run()
    _spent_quietly(first, "daily limit")
    assert first.requests == 1
    hold = first.out.last_state["budget"]["hold"]  # type: ignore[index]
    midnight = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sim.now() + sim.seconds_to_midnight()))
    assert midnight <= hold["until"] <= midnight[:-3] + "02Z"  # not before the API's midnight; whole seconds of Date
    assert hold["until"][:16] in first.warnings[0]  # the line names when the next run continues
    for _ in range(6):
        often.later(600)
        _spent_quietly(often.run(), "daily limit", most=0)
    often.until_api_midnight(30)
    after = often.run()
    _spent_quietly(after, "daily limit", most=LIMIT + 1)  # the API's new day: LIMIT more, then its 429 again
    assert (after.requests, sim.stats.count(429)) == (LIMIT + 1, 2)
    assert after.out.records("sessions")


def test_a_budget_above_the_apis_limit_stops_at_the_apis_429(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """`daily_request_budget` set above the API's limit: the API's 429 ends the day, as cleanly as the tap's budget.

    Its body names the daily limit; the wait it asks for (2 hours) is the API's to choose, and is held.
    """
    sim = make_sim(data=_data(), limits=Limits(daily=LIMIT, daily_retry_after=7200), clock_offset=_at(2))
    runs = Schedule(sim, tmp_path, daily_request_budget=LIMIT * 3)
    first = runs.run()
    _spent_quietly(first, "daily limit", most=LIMIT + 1)
    assert (first.requests, sim.stats.count(429)) == (LIMIT + 1, 1)
    assert first.out.records("session_details") or first.out.records("sessions")
    assert runs.state["budget"]["hold"]["until"][11:16] == "04:00"  # type: ignore[index]
    runs.later(3600)
    _spent_quietly(runs.run(), "daily limit", most=0)


def test_a_429_naming_no_limit_that_ends_at_the_apis_midnight_is_the_daily_limit(
    make_sim: Callable[..., Simulator], tmp_path: Path
) -> None:
    """The body does not say which limit, but the wait it asks for ends when the API's day does (within a minute).

    The tap holds off until the API's midnight itself, not a second before.
    """
    sim = make_sim(data=_data(), clock_offset=_at(20))
    wait = sim.seconds_to_midnight() - 30
    body = {"error": {"type": "rate_limited", "message": "Too many requests"}, "retry_after": wait}
    sim.answer("/sessions", 429, json.dumps(body).encode())
    runs = Schedule(sim, tmp_path)
    _spent_quietly(runs.run(), "daily limit")
    midnight = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sim.now() + sim.seconds_to_midnight()))
    assert midnight <= runs.state["budget"]["hold"]["until"] <= midnight[:-3] + "02Z"  # type: ignore[index]
    runs.later(1800)
    _spent_quietly(runs.run(), "daily limit", most=0)


def test_a_long_wait_that_is_not_the_daily_limit_is_a_temporary_failure(
    make_sim: Callable[..., Simulator], tmp_path: Path
) -> None:
    """A 429 for something else (maintenance) asking for more than `max_wait_seconds` is a temporary failure.

    Exit 75 and one ERROR line on every run until the wait is over, no request before then; then the run continues.
    """
    sim = make_sim(data=_data(), clock_offset=_at(9))
    body = {"error": {"type": "rate_limited", "code": "maintenance", "message": "Scheduled maintenance"}, "retry_after": 5400}
    sim.answer("/sessions", 429, json.dumps(body).encode(), times=1)
    runs = Schedule(sim, tmp_path)
    for minutes, requests_sent in ((0, 1), (60, 0)):
        runs.later(minutes * 60)
        held = runs.run()
        assert held.status == EXIT_RATE_LIMITED
        assert len(held.errors) == 1, held.errors
        assert "Scheduled maintenance" in held.errors[0]
        assert runs.state["budget"]["hold"]["until"][:16] in held.errors[0]  # type: ignore[index]
        assert held.requests == requests_sent
        assert not held.warnings, held.warnings
    runs.later(1800 + 5)
    done = runs.run()
    assert (done.status, done.errors, done.warnings) == (EXIT_DONE, [], [])
    assert done.out.records("session_details")


def test_a_clock_set_back_delays_the_new_day_by_at_most_its_error(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """The tap's clock fell behind the API's after its budget was spent: the new day starts that much later.

    No request until the tap's estimate nears the API's midnight; then one request reads the API's clock, and the new
    day's budget is spent.
    """
    sim = make_sim(data=_data(), limits=Limits(daily=LIMIT), clock_offset=_at(18))
    runs = Schedule(sim, tmp_path, daily_request_budget=LIMIT)
    _spent_quietly(runs.run(), "Today's request budget is spent", most=LIMIT)
    sim.advance(sim.seconds_to_midnight() + 3600)  # 01:00 on the API's clock; the tap still thinks 18:00 of yesterday
    _spent_quietly(runs.run(), "Today's request budget is spent", most=0)
    runs.later(runs.taps_seconds_to_midnight() - 10)  # the tap's estimate: 23:59:50; the API's: 07:59:50
    caught_up = runs.run()
    _spent_quietly(caught_up, "Today's request budget is spent", most=LIMIT)
    assert caught_up.requests == LIMIT
    assert caught_up.out.records("session_details")


def test_a_clock_run_ahead_does_not_start_the_new_day_early(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """The tap's estimate says a new day began while the API's day goes on: its first answer corrects the day.

    That day's spent budget holds (other clients share the key: the API would have accepted more).
    """
    sim = make_sim(data=_data(), limits=Limits(daily=LIMIT * 10), clock_offset=_at(22))
    runs = Schedule(sim, tmp_path, daily_request_budget=LIMIT)
    _spent_quietly(runs.run(), "Today's request budget is spent", most=LIMIT)
    runs.state["budget"]["offset"] += 3 * 3600  # type: ignore[index] # the tap's estimate: 01:00; the API's: 22:00
    ahead = runs.run()
    _spent_quietly(ahead, "Today's request budget is spent", most=1)
    assert ahead.requests == 1
    assert ahead.out.last_state["budget"]["spent"] == LIMIT + 1  # type: ignore[index]


def test_the_clock_request_is_not_retried(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    """Near the API's midnight a spent day's one request gets no answer (a dropped connection): no second one."""
    sim = make_sim(data=_data(), clock_offset=_at(12))
    runs = Schedule(sim, tmp_path, daily_request_budget=LIMIT, max_retries=3)
    _spent_quietly(runs.run(), "Today's request budget is spent", most=LIMIT)
    runs.until_api_midnight(-30)
    sim.faults = Faults(rate=1.0, kinds=("drop",))
    dropped = runs.run()
    assert (dropped.status, dropped.errors, dropped.requests) == (EXIT_DONE, [], 1)
    assert "Today's request budget is spent" in dropped.warnings[-1]  # after the dropped connection's own line


# Below OPEN_BOUND each STATE allows what is left; above it, the history list read at 3 rows a page (no checkpoint in
# it) needs the STATEs the bound forces.
@pytest.mark.parametrize(("budget", "page_size"), [(40, 100), (300, 3)])
def test_a_killed_run_leaves_no_request_uncounted(make_sim: Callable[..., Simulator], budget: int, page_size: int) -> None:
    """A kill -9 at any STATE message: with the run resumed from the last one, the day spends at most its budget.

    The kill stops the STATE message itself (no `finally`, no final STATE), so the requests the killed run sent after
    its last STATE reached no state: the resumed run counts that STATE's `budget.open` as spent instead.
    """
    assert (budget < OPEN_BOUND) == (page_size == 100)  # the two cases above
    sim = make_sim(data=_data(), clock_offset=_at(10))
    # the API's 60 a minute (the bound: 100), in a window short enough not to wait
    config = fast_config(sim, daily_request_budget=budget, page_size=page_size, max_requests_per_minute=60)
    config["rate_limit_window_seconds"] = 0.01
    catalog = catalog_for(config, SELECTED)
    with api_clock(sim):
        whole = run_once(config, catalog, None, None)
    states = [n for n, message in enumerate(whole.messages) if message["type"] == "STATE"]
    assert len(states) > 3, "the run writes STATE messages to kill it at"
    for kill_at in states:  # the kill stops the STATE message itself: the one before it is the last the loader has
        with api_clock(sim):
            before = sim.stats.requests
            killed = run_once(config, catalog, None, kill_at)
            assert killed.killed
            resumed = run_once(config, catalog, killed.last_state, None)
            spent = sim.stats.requests - before
        assert not resumed.failure, resumed.failure
        assert spent <= budget, f"killed at message {kill_at}: {spent} requests on the API's day, budget {budget}"
        assert resumed.last_state is not None
        assert resumed.last_state["budget"]["open"] == 0, "a run that ended closes its count"
