"""Every everyday mistake around the settings ends in one ERROR line: files, dates, catalogs, state, bounds, network.

Each case: the exit status, exactly one ERROR line saying what and where, no traceback, the key nowhere, and nothing
on stdout a target could load (no output at all when the run stopped before its first request).
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

import pytest

from tap_exec.errors import EXIT_FAILED
from tap_exec.tap import TapExec
from tests.helpers import catalog_for, fast_config, parse, run_cli, write_json

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_exec.simulator import Simulator

MISSING, DIRECTORY = object(), object()  # file contents that stand for "no such file" and "a directory"
NOT_UTF8 = b"\xff\xfe{"


@dataclass
class Case:
    """One mistake: settings over the good ones, files to pass, environment; and the line it must end in."""

    name: str
    expected: str
    settings: dict[str, t.Any] = field(default_factory=dict)
    files: dict[str, t.Any] = field(default_factory=dict)  # config/state/catalog -> JSON value, text, bytes or marker
    env: dict[str, str] = field(default_factory=dict)
    before_any_request: bool = True


def _catalog(*selected: str) -> dict[str, t.Any]:
    metadata = [{"breadcrumb": [], "metadata": {"selected": True}}]
    return {"streams": [{"tap_stream_id": name, "stream": name, "schema": {}, "metadata": metadata} for name in selected]}


def _below(setting: str, value: float, minimum: int) -> Case:
    """A numeric setting past its lower bound."""
    return Case(f"{setting} {value}", f"{value} is less than the minimum of {minimum} in config['{setting}']", {setting: value})


CASES = [
    Case("config missing", "--config {config} does not exist", files={"config": MISSING}),
    Case("config not JSON", "--config {config} is not valid JSON (Expecting", files={"config": "{api_key: 1"}),
    Case("config a list", "--config {config} holds a JSON list, not an object", files={"config": []}),
    Case("config a directory", "--config {config} is a directory, not a file", files={"config": DIRECTORY}),
    Case("config not UTF-8", "--config {config} is not UTF-8 text", files={"config": NOT_UTF8}),
    Case("state missing", "--state {state} does not exist", files={"state": MISSING}),
    Case("state not JSON", "--state {state} is not valid JSON", files={"state": "bookmarks"}),
    Case("state a list", "--state {state} holds a JSON list, not an object", files={"state": [{"bookmarks": {}}]}),
    Case("state bookmarks a list", "--state: `bookmarks` must map stream names to objects", files={"state": {"bookmarks": []}}),
    Case(
        "state bookmark a number",
        "bookmarks.sessions.replication_key_value must be a date-time such as 2026-01-31T00:00:00Z, got 1767225600",
        files={"state": {"bookmarks": {"sessions": {"replication_key": "created_at", "replication_key_value": 1767225600}}}},
    ),
    Case(
        "state bookmark not a date",
        'bookmarks.knowledge_hub_pages.replication_key_value must be a date-time such as 2026-01-31T00:00:00Z, got "yesterday"',
        files={"state": {"bookmarks": {"knowledge_hub_pages": {"replication_key_value": "yesterday"}}}},
    ),
    Case("catalog missing", "--catalog {catalog} does not exist", files={"catalog": MISSING}),
    Case("catalog not JSON", "--catalog {catalog} is not valid JSON", files={"catalog": "streams:"}),
    Case("catalog a list", "--catalog {catalog} holds a JSON list, not an object", files={"catalog": []}),
    Case("catalog without streams", "--catalog {catalog} is not a Singer catalog", files={"catalog": {"stream": "sessions"}}),
    Case("catalog with bad entries", "--catalog {catalog} is not a Singer catalog", files={"catalog": {"streams": [{"x": 1}]}}),
    Case(
        "catalog selects a typo",
        "--catalog selects no stream this tap knows (it selects sesions). What to do: select some of: workspace, ",
        files={"catalog": _catalog("sesions")},
    ),
    Case("catalog selects nothing", "--catalog selects no stream this tap knows. What to do", files={"catalog": _catalog()}),
    Case("start_date a word", "`start_date` must be an ISO 8601 date or date-time", settings={"start_date": "yesterday"}),
    Case("start_date month 13", "got '2026-13-45T00:00:00Z'", settings={"start_date": "2026-13-45T00:00:00Z"}),
    Case("start_date a number", "20260101 is not of type 'string'", settings={"start_date": 20260101}),
    _below("request_timeout", 0, 1),
    _below("max_requests_per_minute", 0, 1),
    _below("rate_limit_window_seconds", -1, 0),
    _below("max_requests", 0, 1),
    Case("max_requests 1.5", "1.5 is not of type 'integer'", settings={"max_requests": 1.5}),
    _below("max_retries", -1, 0),
    _below("retry_backoff_seconds", -1, 0),
    _below("max_wait_seconds", -1, 0),
    _below("sessions_lookback_days", -1, 0),
    _below("per_parent_refresh_days", -1, 0),
    Case("page_size a word", "'ten' is not of type 'integer'", settings={"page_size": "ten"}),
    Case("activate a word", "'yes' is not of type 'boolean'", settings={"emit_activate_version_messages": "yes"}),
    Case(
        "https to a plain server",
        "no secure connection to 127.0.0.1 ([SSL:",
        settings={"api_url": "https"},
        before_any_request=False,
    ),
    Case(
        "a proxy that refuses",
        "http://127.0.0.1:9 refused to carry the request to 127.0.0.1 (Connection refused)",
        env={"HTTP_PROXY": "http://someone:proxy-secret@127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""},
        before_any_request=False,
    ),
]


def _write(tmp_path: Path, name: str, value: t.Any) -> str:
    path = tmp_path / f"{name}.json"
    if value is MISSING:
        return str(path)
    if value is DIRECTORY:
        path.mkdir()
    elif isinstance(value, bytes):
        path.write_bytes(value)
    elif isinstance(value, str):
        path.write_text(value, encoding="utf-8")
    else:
        path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_bad_input_ends_in_one_line(sim: Simulator, tmp_path: Path, case: Case) -> None:
    settings = fast_config(sim, **{"max_retries": 1, **case.settings})
    if settings["api_url"] == "https":
        settings["api_url"] = sim.url.replace("http://", "https://")
    files = {"config": settings, **case.files}
    paths = {name: _write(tmp_path, name, value) for name, value in files.items()}
    result = run_cli([arg for name, path in paths.items() for arg in (f"--{name}", path)], env=case.env)
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line or "| CRITICAL" in line]
    assert result.returncode == EXIT_FAILED, result.stderr[-2000:]
    assert len(errors) == 1, errors
    assert case.expected.format(**paths) in errors[0]
    assert "Traceback" not in result.stderr
    for secret in (sim.api_key, "proxy-secret"):
        assert secret not in result.stderr + result.stdout
    assert not parse(result.stdout).records("workspace")
    if case.before_any_request:
        assert result.stdout == ""
        assert sim.stats.requests == 0


AT_THE_BOUNDS = [
    ("page_size", 1),
    ("page_size", 100),
    ("request_timeout", 1),
    ("max_requests_per_minute", 1),
    ("rate_limit_window_seconds", 0),
    ("max_requests", 1),
    ("max_retries", 0),
    ("retry_backoff_seconds", 0),
    ("max_wait_seconds", 0),
    ("sessions_lookback_days", 0),
    ("per_parent_refresh_days", 0),
    ("start_date", "2026-01-01"),
    ("start_date", "2026-01-01T00:00:00+02:00"),
]


@pytest.mark.parametrize(("setting", "value"), AT_THE_BOUNDS)
def test_settings_at_their_bounds_are_accepted(setting: str, value: t.Any) -> None:
    tap = TapExec(config={"api_key": "exec_live_" + "0" * 40, setting: value}, validate_config=False, setup_mapper=False)
    assert tap._validate_config(raise_errors=False) == []


def test_mistakes_the_run_can_live_with_are_warnings(sim: Simulator, tmp_path: Path) -> None:
    """Unknown streams in the state or the catalog are named and ignored; a future start date is explained."""
    config = fast_config(sim, start_date="2099-01-01T00:00:00Z")
    catalog = catalog_for(config, {"collections", "sessions"})
    catalog["streams"].append(_catalog("sesions")["streams"][0])
    state = {"bookmarks": {"old_stream": {"replication_key_value": "2026-01-01T00:00:00Z"}}}
    args = ["--config", write_json(tmp_path, "config.json", config), "--catalog", write_json(tmp_path, "catalog.json", catalog)]
    result = run_cli([*args, "--state", write_json(tmp_path, "state.json", state)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--catalog selects streams this tap does not know, ignored: sesions" in result.stderr
    assert "--state has bookmarks for streams this tap does not have, ignored: old_stream" in result.stderr
    assert "`start_date` 2099-01-01T00:00:00Z is in the future" in result.stderr
    out = parse(result.stdout)
    assert out.records("collections")
    assert not out.records("sessions")


def test_a_malformed_change_record_is_dropped_for_a_full_pass(sim: Simulator, tmp_path: Path) -> None:
    config = fast_config(sim)
    catalog = write_json(tmp_path, "catalog.json", catalog_for(config, {"scenarios", "scenario_analytics"}))
    state = {"bookmarks": {"scenario_analytics": {"changes": {"owed": "all of them", "since": 7}}}}
    args = ["--config", write_json(tmp_path, "config.json", config), "--catalog", catalog]
    result = run_cli([*args, "--state", write_json(tmp_path, "state.json", state)])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "scenario_analytics: the state's change record is malformed; dropped (a full pass follows)" in result.stderr
    assert len(parse(result.stdout).records("scenario_analytics")) == len(sim.data.scenarios)


def test_the_plan_command_fails_the_same_way(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = str(tmp_path / "nope.json")
    result = subprocess.run(
        [sys.executable, "-m", "tap_exec.plan", "--config", missing], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == EXIT_FAILED
    assert f"--config {missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_redirect_is_not_followed_but_explained(sim: Simulator, tmp_path: Path) -> None:
    sim.answer("/workspace", 302, b"", "text/html", headers={"Location": "https://login.example.com/sso?next=/workspace"})
    result = run_cli(["--config", write_json(tmp_path, "config.json", fast_config(sim))])
    errors = [line for line in result.stderr.splitlines() if "| ERROR" in line]
    assert result.returncode == EXIT_FAILED
    assert len(errors) == 1, errors
    assert "GET /rest/v1/workspace -> 302 redirect to https://login.example.com/sso: the Exec API does not redirect" in errors[0]
    assert "Traceback" not in result.stderr
    assert sim.stats.requests == 1  # the login page was never asked for
