"""Progress lines: every long stream reports, the whole-run estimate holds, limits are foretold, the summary adds up."""

from __future__ import annotations

import logging
import re
import time
import typing as t
from datetime import datetime

import pytest

from tap_exec.run.progress import RunProgress
from tap_exec.simulator import Counts, build
from tests.expected import ENDPOINTS
from tests.helpers import catalog_for, fast_config, parse, recent, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Simulator
    from tests.helpers import Output

LEFT = re.compile(r"\| run: about ([\d,]+) requests left, (\d+)m(\d+)s at ")
INTERVAL = 1.0  # seconds between progress lines in these tests (10 in real runs)


@pytest.fixture
def paced_run(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> tuple[Output, list[logging.LogRecord], float, float]:
    """Every stream of a small workspace at 40 requests a second: ~470 requests, ~12 s, progress every second."""
    monkeypatch.setattr(RunProgress, "every", INTERVAL)
    caplog.set_level(logging.INFO)
    sim = make_sim(data=recent(build(3, Counts.scaled(0.3, sessions=400)), within=5 * 86_400))  # all in the last week
    config = fast_config(sim, max_requests_per_minute=40, rate_limit_window_seconds=1)
    started = time.time()
    out = run_tap(config, selected=ENDPOINTS)
    ended = time.time()
    lines = [r for r in caplog.records if " | run: " in r.getMessage()]
    return out, lines, started, ended


def test_every_stream_that_runs_longer_than_the_interval_reports(
    paced_run: tuple[Output, list[logging.LogRecord], float, float],
) -> None:
    out, lines, _, _ = paced_run
    messages = [r.getMessage() for r in lines]
    for stream in ENDPOINTS:
        stamps = [
            datetime.fromisoformat(m["time_extracted"]).timestamp()
            for m in out.messages
            if m.get("stream") == stream and m["type"] == "RECORD"
        ]
        if stamps and max(stamps) - min(stamps) > INTERVAL * 1.5:
            assert any(m.startswith(f"{stream}: ") or f"({stream} page" in m for m in messages), stream
            assert any(m.startswith(f"{stream}: done") for m in messages), f"{stream} says when it is done"
    assert any(m.startswith("session_details: ") and " of 400 sessions (sessions page " in m for m in messages)


def test_the_whole_run_estimate_holds(paced_run: tuple[Output, list[logging.LogRecord], float, float]) -> None:
    """Each estimate made while more than a fifth of the run remained is within a factor of two of the time left.

    The lines give whole seconds (rounded), so an estimate shown as n stands for anything from n - 0.5 to n + 0.5.
    """
    _, lines, started, ended = paced_run
    checked = 0
    for record in lines:
        match = LEFT.search(record.getMessage())
        assert match, record.getMessage()
        shown = int(match.group(2)) * 60 + int(match.group(3))
        actual = ended - record.created
        if actual > (ended - started) / 5:
            assert shown + 0.5 >= actual / 2, (record.getMessage(), actual)
            assert shown - 0.5 <= actual * 2, (record.getMessage(), actual)
            checked += 1
    assert checked >= 5


def test_a_run_over_the_daily_limit_says_so_first(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(RunProgress, "every", 0.2)
    caplog.set_level(logging.INFO)
    sim = make_sim(data=recent(build(4, Counts.scaled(0.1, sessions=1_300)), within=5 * 86_400))
    config = fast_config(sim, max_requests_per_minute=400, rate_limit_window_seconds=1, daily_request_budget=500)
    run_tap(config, selected={"sessions", "session_details"}, stop_ok=True)
    first = next(r.getMessage() for r in caplog.records if " | run: " in r.getMessage())
    assert "today's budget buys" in first
    assert "(`daily_request_budget` 500); the rest takes about " in first


def test_the_summary_counts_each_stream_and_what_the_next_run_owes(sim: Simulator, tmp_path: Path) -> None:
    selected = {"sessions", "session_details", "scenarios", "scenario_analytics"}
    config = fast_config(sim, max_requests=300)
    args = ["--config", write_json(tmp_path, "config.json", config)]
    args += ["--catalog", write_json(tmp_path, "catalog.json", catalog_for(config, selected))]
    stopped = run_cli(args)
    summary = [line.split("| ", 3)[-1] for line in stopped.stderr.splitlines() if "Summary: " in line]
    out = parse(stopped.stdout)
    details = len(out.records("session_details"))
    assert summary[0].startswith("Summary: 300 requests in ")
    assert f"Summary: session_details: {details:,} records, {details:,} requests, " in "\n".join(summary)
    owed = re.search(r"owed to the next run \(state is saved\): about ([\d,]+) requests \((.*)\); ", summary[-1])
    assert owed, summary[-1]
    assert "session_details" in owed.group(2) or "sessions history" in owed.group(2)
    finished = run_cli(
        [
            *args[:1],
            write_json(tmp_path, "config2.json", fast_config(sim)),
            *args[2:],
            "--state",
            write_json(tmp_path, "state.json", out.last_state),
        ]
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Summary: nothing is owed to the next run" in finished.stderr
