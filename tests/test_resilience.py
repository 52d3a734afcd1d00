"""Rate limits honoured, transient faults survived, clean resumable stops: all over HTTP against the simulator."""

from __future__ import annotations

import json
import re
import typing as t

import pytest

from tap_exec.errors import EXIT_BUDGET, EXIT_DONE
from tap_exec.simulator import Counts, Faults, Limits, Simulator, build
from tests.expected import ENDPOINTS, per_parent_stream, without_marks
from tests.helpers import Output, catalog_for, fast_config, parse, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SMALL = Counts.scaled(0.15, sessions=180, pages=12)


def _all_records(out: Output) -> dict[str, list[dict[str, t.Any]]]:
    return {name: without_marks(out.records(name)) for name in ENDPOINTS}  # fetch times differ between runs


@pytest.fixture(scope="module")
def fault_free() -> dict[str, list[dict[str, t.Any]]]:
    """Every stream's records from a run with no faults."""
    with Simulator(build(21, SMALL)) as sim:
        return _all_records(run_tap(fast_config(sim), selected=ENDPOINTS))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_twenty_percent_faults_change_nothing(
    make_sim: Callable[..., Simulator], fault_free: dict[str, list[dict[str, t.Any]]], seed: int
) -> None:
    faults = Faults(rate=0.2, seed=seed, slow_seconds=1.5)
    sim = make_sim(data=build(21, SMALL), faults=faults)
    out = run_tap(fast_config(sim, max_retries=10, request_timeout=1), selected=ENDPOINTS)
    assert _all_records(out) == fault_free
    injected = sum(1 for _, _, status in sim.stats.log if status != 200)
    assert injected > 0.1 * sim.stats.requests  # the faults really happened


def test_a_client_paced_at_the_server_limit_never_sees_429(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(4, Counts.scaled(0.1, sessions=1_200)), limits=Limits(per_window=5, window=0.5, retry_after=5))
    out = run_tap(fast_config(sim, max_requests_per_minute=5, rate_limit_window_seconds=0.5), selected={"sessions"})
    assert len(out.records("sessions")) == 1_200
    assert sim.stats.requests == 1 + 12  # the last week (empty), then the history
    assert sim.stats.count(429) == 0


@pytest.mark.parametrize(("style", "wait"), [("body", 2), ("error", 1), ("header", 1), ("header-date", 2)])
def test_a_429_is_waited_out_as_the_server_asks(
    make_sim: Callable[..., Simulator], caplog: pytest.LogCaptureFixture, style: str, wait: int
) -> None:
    sim = make_sim(
        data=build(4, Counts.scaled(0.1, sessions=500)), limits=Limits(per_window=3, window=wait, retry_after=wait, style=style)
    )
    out = run_tap(fast_config(sim), selected={"sessions"})
    assert len(out.records("sessions")) == 500
    assert sim.stats.count(429) >= 1
    waits = [float(m) for m in re.findall(r"429 Too Many Requests; retrying in ([0-9.]+)s", caplog.text)]
    assert waits
    floor = wait - 1 if style == "header-date" else wait  # an HTTP date has whole-second precision
    assert all(floor <= w <= wait + 0.5 for w in waits), waits


def test_rate_limit_waits_do_not_spend_the_retry_budget(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(4, Counts.scaled(0.1, sessions=500)), limits=Limits(per_window=1, window=0.2, retry_after=0.2))
    out = run_tap(fast_config(sim, max_retries=0), selected={"sessions"})
    assert len(out.records("sessions")) == 500
    assert sim.stats.count(429) >= 3


def _run_until_the_daily_limit(
    make_sim: Callable[..., Simulator], tmp_path: Path, data: t.Any, daily: int, selected: set[str]
) -> tuple[Output, Output, Simulator]:
    """A run stopped by a daily limit of `daily` requests, then the next run from its state on a fresh limit."""
    sim = make_sim(data=data, limits=Limits(daily=daily, daily_retry_after=20_000))
    config = fast_config(sim)
    args = ["--config", write_json(tmp_path, "config.json", config)]
    args += ["--catalog", write_json(tmp_path, "catalog.json", catalog_for(config, selected))]
    first = run_cli(args)
    assert first.returncode == EXIT_DONE, first.stderr[-2000:]  # the API's day is spent: a normal end
    assert "The Exec API's daily limit is reached" in first.stderr
    assert "no request before" in first.stderr
    run1 = parse(first.stdout)
    assert run1.last_state is not None
    second_sim = make_sim(data=data)
    config = fast_config(second_sim)
    args = ["--config", write_json(tmp_path, "config.json", config), *args[2:]]
    later = {key: value for key, value in run1.last_state.items() if key != "budget"}  # a later day: the wait is over
    second = run_cli([*args, "--state", write_json(tmp_path, "state.json", later)])
    assert second.returncode == 0, second.stderr[-2000:]
    return run1, parse(second.stdout), second_sim


def test_a_daily_limit_inside_sessions_resumes_where_it_stopped(make_sim: Callable[..., Simulator], tmp_path: Path) -> None:
    data = build(6, Counts.scaled(0.1, sessions=450))  # all older than the last week: history
    # workspace, members, groups, the last week's (empty) page and history's page 1: the limit falls on page 2 of 5
    run1, run2, sim = _run_until_the_daily_limit(
        make_sim, tmp_path, data, 5, {"workspace", "workspace_members", "workspace_groups", "sessions"}
    )
    first = [r["id"] for r in run1.records("sessions")]
    assert len(first) == 100
    mark = run1.last_state["bookmarks"]["sessions"]["history"]["before"]  # type: ignore[index]
    assert mark == min(r["created_at"] for r in run1.records("sessions"))
    resumed = next(q for p, q, _ in sim.stats.log if p.endswith("/sessions") and q["sorting"] == "-created_at")
    assert resumed["end_date"] == mark  # history resumes at its mark, not from the top
    second = [r["id"] for r in run2.records("sessions")]
    assert set(first) | set(second) == {s.id for s in data.sessions}
    assert not set(first) & set(second), "no row is read twice"


def test_a_daily_limit_inside_a_per_parent_stream_resumes_where_it_stopped(
    make_sim: Callable[..., Simulator], tmp_path: Path
) -> None:
    data = build(6, Counts.scaled(0.1, sessions=450))
    # the last week's page, history's 5 pages, the details cursor's first page and 38 details: the limit falls inside
    run1, _, sim = _run_until_the_daily_limit(make_sim, tmp_path, data, 45, {"sessions", "session_details"})
    first = {r["id"] for r in run1.records("session_details")}
    assert len(first) == 38
    second = [path.rsplit("/", 1)[-1] for path in sim.stats.paths() if per_parent_stream(path) == "session_details"]
    assert not first & set(second), "no detail is fetched again"
    assert first | set(second) == {s.id for s in data.sessions}


def test_request_budget_stops_cleanly_with_state(sim: Simulator, tmp_path: Path) -> None:
    config = write_json(tmp_path, "config.json", fast_config(sim, max_requests=4))
    result = run_cli(["--config", config])
    assert result.returncode == EXIT_BUDGET, result.stderr[-2000:]
    assert "Stopped after 4 requests" in result.stderr
    assert sim.stats.requests == 4
    assert parse(result.stdout).last_state is not None
    assert "Summary: 4 requests in " in result.stderr
    assert "Summary: owed to the next run (state is saved): about " in result.stderr


def test_timeouts_and_dropped_connections_are_retried(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(faults=Faults(rate=0.5, kinds=("drop", "slow", "truncate", "invalid_json"), seed=9, slow_seconds=1.5))
    out = run_tap(fast_config(sim, max_retries=12, request_timeout=1), selected={"collections", "skills"})
    assert out.records("collections") == json.loads(json.dumps(sim.data.collections))
    assert len(out.records("skills")) == len(sim.data.skills)


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (b'{"retry_after": 7}', None, 7.0),
        (b'{"error": {"type": "rate_limited", "retry_after": 3.5}}', None, 3.5),
        (b"{}", "12", 12.0),
        (b'{"retry_after": 2}', "9", 9.0),  # both given: the longer wait wins
        (b"{}", "soon", None),  # unreadable: exponential backoff instead
        (b"not json", None, None),
    ],
)
def test_retry_after_is_read_from_body_or_header(body: bytes, header: str | None, expected: float | None) -> None:
    import requests

    from tap_exec.http import retry_after_seconds

    response = requests.Response()
    response.status_code, response._content = 429, body
    if header:
        response.headers["Retry-After"] = header
    assert retry_after_seconds(response) == expected
