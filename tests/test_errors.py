"""Clear failure: every bad setting or bad answer ends in one readable line, a non-zero exit and no secret."""

from __future__ import annotations

import json
import typing as t

import pytest

from tap_exec.errors import EXIT_FAILED, EXIT_RATE_LIMITED
from tap_exec.simulator import DEFAULT_API_KEY
from tests.helpers import fast_config, run_cli, write_json

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_exec.simulator import Simulator

BAD_SETTINGS: list[tuple[str, dict[str, t.Any], str]] = [
    ("missing key", {"api_key": None}, "'api_key' is a required property"),
    ("short key", {"api_key": "exec_live_abc"}, "`api_key` is not an Exec API key"),
    ("key with a typo", {"api_key": DEFAULT_API_KEY.replace("exec_live_", "exec_test_")}, "`api_key` is not an Exec API key"),
    ("key with symbols", {"api_key": DEFAULT_API_KEY[:-1] + "!"}, "`api_key` is not an Exec API key"),
    ("plain http to a remote host", {"api_url": "http://api.exec.com/rest/v1"}, "uses plain http to api.exec.com"),
    ("not a URL", {"api_url": "api.exec.com"}, "`api_url` must be an http(s) URL"),
    ("page_size 0", {"page_size": 0}, "page_size"),
    ("page_size 101", {"page_size": 101}, "page_size"),
    ("request_timeout text", {"request_timeout": "soon"}, "request_timeout"),
]

BAD_ANSWERS: list[tuple[str, int, bytes, str, str, int]] = [
    (
        "400 envelope",
        400,
        b'{"error":{"type":"invalid_request","code":"invalid_pagination","message":"Invalid pagination parameters"}}',
        "application/json",
        "400 invalid_request/invalid_pagination: Invalid pagination parameters",
        EXIT_FAILED,
    ),
    (
        "403 inactive",
        403,
        b'{"error":{"type":"authorization_error","code":"workspace_inactive","message":"Workspace is inactive"}}',
        "application/json",
        "403 authorization_error/workspace_inactive: Workspace is inactive. What to do: the workspace is inactive",
        EXIT_FAILED,
    ),
    (
        "404 on a list",
        404,
        b'{"error":{"type":"not_found","message":"Not found"}}',
        "application/json",
        "404 not_found: Not found. What to do: check the `api_url` setting",
        EXIT_FAILED,
    ),
    ("400 without an envelope", 400, b"bad", "text/plain", "400 Bad Request: no error message in the response", EXIT_FAILED),
    ("HTML instead of JSON", 200, b"<html>login</html>", "text/html", "returned text/html, not JSON", EXIT_FAILED),
    ("a JSON list", 200, b"[]", "application/json", "expected a JSON object, got list", EXIT_FAILED),
    ("no data", 200, b'{"items": []}', "application/json", "no `data` list in the response", EXIT_FAILED),
    ("no pagination", 200, b'{"data": []}', "application/json", "no `pagination` object in the response", EXIT_FAILED),
    (
        "pagination as text",
        200,
        b'{"data": [], "pagination": {"page": "1", "total_pages": 1}}',
        "application/json",
        "`pagination.page` is not an integer",
        EXIT_FAILED,
    ),
    (
        "persistent 500",
        500,
        b'{"error":{"type":"server_error","message":"boom"}}',
        "application/json",
        "still failing after 3 tries; last error: GET /rest/v1/collections -> 500",
        EXIT_FAILED,
    ),
    (
        "persistent truncated JSON",
        200,
        b'{"data": [',
        "application/json",
        "still failing after 3 tries; last error: GET /rest/v1/collections -> 200 with a truncated",
        EXIT_FAILED,
    ),
    (  # the daily limit is no error (exit 0, tests/test_daily_limit.py); a wait of 2 days cannot end at the next midnight
        "long wait, not the daily limit",
        429,
        b'{"error":{"type":"rate_limited","message":"Scheduled maintenance"},"retry_after":180000}',
        "application/json",
        "answered 429 (rate_limited: Scheduled maintenance) and asked for no request until",
        EXIT_RATE_LIMITED,
    ),
]


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "| CRITICAL" in line]


def _assert_one_clean_line(result: t.Any, expected: str, status: int, secret: str) -> None:
    assert result.returncode == status, result.stderr[-2000:]
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr
    assert secret not in result.stdout


@pytest.mark.parametrize(("case", "overrides", "expected"), BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_bad_settings_fail_before_any_request(
    sim: Simulator, tmp_path: Path, case: str, overrides: dict[str, t.Any], expected: str
) -> None:
    config = {k: v for k, v in {**fast_config(sim), **overrides}.items() if v is not None}
    result = run_cli(["--config", write_json(tmp_path, "config.json", config)])
    _assert_one_clean_line(result, expected, EXIT_FAILED, str(config.get("api_key")))
    assert "Invalid configuration" in result.stderr
    assert sim.stats.requests == 0, case


@pytest.mark.parametrize(
    ("case", "status", "body", "content_type", "expected", "exit_code"), BAD_ANSWERS, ids=[c[0] for c in BAD_ANSWERS]
)
def test_bad_answers_end_in_one_line(  # noqa: PLR0913, PLR0917
    sim: Simulator, tmp_path: Path, case: str, status: int, body: bytes, content_type: str, expected: str, exit_code: int
) -> None:
    sim.answer("/collections", status, body, content_type)
    config = fast_config(sim, max_retries=2, max_wait_seconds=3600)
    catalog = json.loads(run_cli(["--config", write_json(tmp_path, "c.json", config), "--discover"]).stdout)
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["tap_stream_id"] == "collections"
    args = ["--config", write_json(tmp_path, "c.json", config), "--catalog", write_json(tmp_path, "cat.json", catalog)]
    result = run_cli(args)
    _assert_one_clean_line(result, expected, exit_code, sim.api_key)
    assert "/collections" in _error_lines(result.stderr)[0] or case.startswith("long wait"), case


def test_wrong_key_is_one_line_naming_the_setting(sim: Simulator, tmp_path: Path) -> None:
    config = fast_config(sim, api_key="exec_live_" + "0" * 40)
    result = run_cli(["--config", write_json(tmp_path, "config.json", config)])
    _assert_one_clean_line(result, "401 authentication_error/invalid_api_key", EXIT_FAILED, config["api_key"])
    assert "check the `api_key` setting" in result.stderr


def test_the_key_never_appears_even_at_debug_level(sim: Simulator, tmp_path: Path) -> None:
    path = write_json(tmp_path, "config.json", fast_config(sim))
    result = run_cli(["--config", path], env={"TAP_EXEC_LOGLEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr
    for text in (result.stdout, result.stderr):
        assert sim.api_key not in text
        assert sim.api_key[10:] not in text


def test_the_key_from_the_environment_never_appears(sim: Simulator) -> None:
    env = {"TAP_EXEC_API_KEY": "exec_live_abc", "TAP_EXEC_API_URL": sim.url, "TAP_EXEC_LOGLEVEL": "DEBUG"}
    result = run_cli(["--config", "ENV"], env=env)
    _assert_one_clean_line(result, "`api_key` is not an Exec API key", EXIT_FAILED, "exec_live_abc")
