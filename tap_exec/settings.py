"""The tap's settings and the checks JSON Schema cannot express well."""

from __future__ import annotations

import ipaddress
import re
import typing as t
from urllib.parse import urlparse

from singer_sdk import typing as th

from tap_exec.cli import parse_datetime
from tap_exec.drift import CONTRACTS
from tap_exec.http import DEFAULT_API_URL

API_KEY_PATTERN = re.compile(r"exec_live_[A-Za-z0-9]{40}")
SECRET_SETTINGS = ("api_key",)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def setting_problems(config: t.Mapping[str, t.Any]) -> list[str]:
    """Checks JSON Schema cannot express well; messages name the setting, never a secret's value."""
    problems = []
    key = config.get("api_key")
    if isinstance(key, str) and not API_KEY_PATTERN.fullmatch(key.strip()):
        problems.append(
            f"`api_key` is not an Exec API key: expected `exec_live_` followed by 40 letters or digits "
            f"(got {len(key)} characters). Copy the key again from Exec: Settings > API."
        )
    start = config.get("start_date")
    if isinstance(start, str) and parse_datetime(start) is None:  # other types: the schema's own message
        problems.append(f"`start_date` must be an ISO 8601 date or date-time such as 2026-01-01T00:00:00Z; got {start!r}.")
    url = config.get("api_url", DEFAULT_API_URL)
    if isinstance(url, str):
        parts = urlparse(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problems.append(f"`api_url` must be an http(s) URL such as {DEFAULT_API_URL}; got {url!r}.")
        elif parts.scheme == "http" and not _is_loopback(parts.hostname):
            problems.append(
                f"`api_url` uses plain http to {parts.hostname}: the API key would travel unencrypted. "
                "Use https (plain http is allowed only for loopback addresses)."
            )
    return problems


#: The tap's own settings (the SDK adds its built-in ones, such as stream_maps, to `config_jsonschema`).
SETTINGS = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        title="API key",
        description="Exec API key (`exec_live_` + 40 letters/digits), from Settings > API. Admin access: keep it secret.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        title="API URL",
        description="Base URL of the Exec REST API; https unless loopback.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description="Earliest `created_at` (sessions) / `updated_at` (Knowledge Hub pages) to extract on the first run.",
    ),
    th.Property(
        "sessions_lookback_days",
        th.NumberType(minimum=0),
        default=3,
        title="Sessions lookback (days)",
        description="Re-read sessions created this many days before the bookmark, to pick up late grading.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=100),
        default=100,
        title="Page size",
        description="Rows per request (API maximum 100).",
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1),
        default=30,
        title="Request timeout",
        description="Seconds to wait for one response before retrying.",
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType(minimum=1),
        default=60,
        title="Max requests per minute",
        description="Client-side pace across all streams (the API allows 60 per minute).",
    ),
    th.Property(
        "rate_limit_window_seconds",
        th.NumberType(minimum=0),
        default=60,
        title="Rate-limit window",
        description="Length in seconds of the window `max_requests_per_minute` applies to (60 for the real API).",
    ),
    th.Property(
        "max_requests",
        th.IntegerType(minimum=1),
        title="Max requests per run",
        description="Optional request budget: at this many requests the tap stops cleanly with resumable state.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=5,
        title="Max retries",
        description="Retries of a failing request (5xx, timeouts, dropped connections) before the run fails.",
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType(minimum=0),
        default=2,
        title="Retry backoff",
        description="First wait before a retry; doubles each time (jittered, capped at 60 s).",
    ),
    th.Property(
        "max_wait_seconds",
        th.NumberType(minimum=0),
        default=900,
        title="Max wait",
        description=(
            "Longest `retry_after` the tap waits out; a longer one stops the run cleanly (exit 0 for the API's daily "
            "limit, 75 for any other wait), and later runs send nothing until it is over."
        ),
    ),
    th.Property(
        "daily_request_budget",
        th.IntegerType(minimum=1),
        default=1000,
        title="Daily request budget",
        description=(
            "Requests all runs of one API day (UTC, from the API's clock) may spend; the API allows 1,000 a day per "
            "workspace: lower it when other clients share the key. Spent on lists first, then today's changes, then "
            "history; a run that reaches it stops cleanly (exit 0) and the next day's run continues."
        ),
    ),
    th.Property(
        "per_parent_refresh_days",
        th.NumberType(minimum=0),
        default=7,
        title="Per-parent refresh (days)",
        description=(
            "Per-parent streams fetch children only for new or changed parents; every this many days they fetch "
            "them all once, and sessions older than the lookback are re-read over this many daily runs (late "
            "regrades). 0: every run fetches every listed parent's children, and nothing older is re-read."
        ),
    ),
    th.Property(
        "emit_activate_version_messages",
        th.BooleanType,
        default=False,
        title="Emit ACTIVATE_VERSION",
        description=(
            "After each complete full-table list, tell the target to drop (or soft-delete) rows that vanished "
            "upstream. Incremental and per-parent streams never send it."
        ),
    ),
    th.Property(
        "schema_contract",
        th.StringType,
        default="evolve",
        allowed_values=list(CONTRACTS),
        title="Schema contract",
        description=(
            "What to do with a field the schema does not declare or a value of another type (schema drift): "
            "evolve lands it (a new column, a lossless coercion, or a `<field>__v_<type>` column), discard drops "
            "it, freeze stops the run (state saved). Each drifted field is logged once."
        ),
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User agent",
        description="User-Agent header sent with every request (default: tap-exec/ and the version in use).",
    ),
)
