"""What operators see: progress lines, the sync plan, stream maps, `--test` and `--about`."""

from __future__ import annotations

import copy
import hashlib
import io
import logging
import time
import typing as t
from contextlib import redirect_stdout

import pytest

from tap_exec.plan import plan, render
from tap_exec.run.progress import RunProgress
from tap_exec.simulator import Counts, build
from tap_exec.tap import TapExec
from tests.expected import ENDPOINTS
from tests.helpers import catalog_for, fast_config, parse, recent, run_cli, run_tap, write_json
from tests.test_streams import PER_PARENT

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tap_exec.simulator import Simulator


def test_a_list_logs_page_k_of_n_then_done(
    make_sim: Callable[..., Simulator], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RunProgress, "every", 0.0)  # a line at every page
    caplog.set_level(logging.INFO)
    sim = make_sim(data=recent(build(3, Counts.scaled(0.1, sessions=420)), within=5 * 86_400))  # all in the last week
    run_tap(fast_config(sim, max_requests_per_minute=60), selected={"sessions"})
    lines = [r.getMessage().split(" | run: ") for r in caplog.records if r.getMessage().startswith("sessions: ")]
    assert [line[0] for line in lines] == [
        *(f"sessions: page {n} of 5, {(n - 1) * 100} records, {n} requests so far" for n in range(1, 6)),
        "sessions: done, 420 records, 5 requests so far",
    ]
    assert lines[0][1].startswith("about 5 requests left, 0m00s at 60/min, ending about ")  # + history's first page
    assert lines[-1][1].startswith("about 1 requests left, 0m00s at 60/min")


def test_the_plan_predicts_the_requests_a_run_makes(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(8, Counts.scaled(0.5, sessions=1_234, pages=230)))
    config = fast_config(sim)
    selected = {"workspace", "collections", "sessions", "knowledge_hub_pages", "skills", "skill_proficiency"}
    tap = TapExec(config=config, catalog=catalog_for(config, selected), setup_mapper=False)
    lines = {line.stream: line for line in plan(tap)}
    probes = sim.stats.requests
    assert probes == 1 + 2 + 3 + 1 + 1  # collections, the last week's page and history's first, 3 page pages, archived, skills
    text = render(list(lines.values()), tap, probes)
    assert "This plan used 8 requests" in text
    run_tap(config, selected=selected)
    actual = sim.stats.paths()[probes:]
    assert lines["sessions"].requests + lines["sessions history"].requests == actual.count("/rest/v1/sessions") == 1 + 13
    assert lines["knowledge_hub_pages"].requests == actual.count("/rest/v1/knowledge-hub/pages") == 4 + 1  # + archived
    assert lines["workspace"].requests == 1
    assert lines["skill_proficiency"].requests == len(sim.data.skills)
    assert sum(line.requests for line in lines.values()) == len(actual)


def _plan_total(config: dict[str, t.Any], selected: set[str], state: dict[str, t.Any] | None) -> dict[str, int]:
    tap = TapExec(config=config, catalog=catalog_for(config, selected), state=copy.deepcopy(state), setup_mapper=False)
    return {line.stream: line.requests for line in plan(tap)}


def test_the_plan_counts_what_changed_since_the_state(make_sim: Callable[..., Simulator]) -> None:
    """From the saved state the plan predicts a daily run to the request: nothing, then exactly what changed."""
    data = build(8, Counts.scaled(0.5, sessions=800))
    sim = make_sim(data=data)
    config = fast_config(sim)
    selected = set(ENDPOINTS)
    first = run_tap(config, selected=selected)
    predicted = _plan_total(config, selected, first.last_state)
    assert all(predicted[name] == 0 for name in PER_PARENT)
    mark = sim.stats.requests
    second = run_tap(config, selected=selected, state=first.last_state)
    assert sum(predicted.values()) == sim.stats.requests - mark
    for scenario in data.scenarios[:3]:
        data.insert_session(int(time.time()) - 5, scenario=scenario)
    data.touch_page(1)
    predicted = _plan_total(config, selected, second.last_state)
    assert predicted["session_details"] == 3
    mark = sim.stats.requests
    run_tap(config, selected=selected, state=second.last_state)
    assert sum(predicted.values()) == sim.stats.requests - mark


def test_the_plan_command_prints_a_table(sim: Simulator, tmp_path: Path) -> None:
    import subprocess
    import sys

    config = write_json(tmp_path, "config.json", fast_config(sim))
    result = subprocess.run(
        [sys.executable, "-m", "tap_exec.plan", "--config", config], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "sessions" in result.stdout
    assert "today's budget covers it" in result.stdout
    assert sim.api_key not in result.stdout + result.stderr


def test_stream_maps_hash_member_emails(sim: Simulator, config: dict[str, t.Any]) -> None:
    maps = {"workspace_members": {"email": "md5(record['email'])"}}
    out = run_tap({**config, "stream_maps": maps}, selected={"workspace_members"})
    emails = [r["email"] for r in out.records("workspace_members")]
    assert emails == [hashlib.md5(m["email"].encode()).hexdigest() for m in sim.data.members]  # noqa: S324 - what the map does


def test_test_flag_checks_the_connection(sim: Simulator, tmp_path: Path) -> None:
    result = run_cli(["--config", write_json(tmp_path, "config.json", fast_config(sim)), "--test"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| ERROR" not in result.stderr
    assert parse(result.stdout).records("collections")


def test_about_lists_capabilities() -> None:
    buffer = io.StringIO()
    with redirect_stdout(buffer), pytest.raises(SystemExit):
        TapExec.invoke(about=True, about_format="json")
    text = buffer.getvalue()
    for capability in ("catalog", "discover", "state", "about", "stream-maps", "schema-flattening"):
        assert f'"{capability}"' in text
