"""TapExec: settings, their checks, the stream registry and the run's clean-stop handling."""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
import sys
import typing as t
from urllib.parse import urlparse

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_exec.changes import ChangeTracker
from tap_exec.cli import (
    ConfigFiles,
    check_catalog,
    check_start_date,
    check_state,
    one_line,
    parse_datetime,
    read_catalog,
    read_state,
)
from tap_exec.client import DEFAULT_API_URL
from tap_exec.drift import CONTRACTS, SchemaDrift
from tap_exec.errors import StopSyncError
from tap_exec.lookahead import Lookahead
from tap_exec.output import ExecWriter
from tap_exec.progress import RunProgress
from tap_exec.streams import STREAM_TYPES
from tap_exec.throttle import RequestGovernor

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

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


class TapExec(Tap):
    """Singer tap for the Exec API."""

    name = "tap-exec"
    message_writer_class = ExecWriter

    #: The tap's own settings (the SDK adds its built-in ones, such as stream_maps, to `config_jsonschema`).
    settings = th.PropertiesList(
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
            description="Longest `retry_after` the tap waits out; a longer one (the daily limit) stops the run cleanly.",
        ),
        th.Property(
            "per_parent_refresh_days",
            th.NumberType(minimum=0),
            default=7,
            title="Per-parent refresh (days)",
            description=(
                "Per-parent streams fetch children only for new or changed parents; every this many days they fetch "
                "them all once, to catch what no change shows (deleted sessions, removed members). 0: every run fetches all."
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
    config_jsonschema = settings.to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """The SDK's tap, with the `schema_contract` check between its streams and its writer (drift.py)."""
        super().__init__(*args, **kwargs)
        self.drift = SchemaDrift(str(self.config.get("schema_contract", "evolve")), self.logger)
        if isinstance(self.message_writer, ExecWriter):
            self.message_writer.drift = self.drift

    @functools.cached_property
    def governor(self) -> RequestGovernor:
        """The run's one rate limiter and request budget, shared by every stream."""
        return RequestGovernor(
            int(self.config["max_requests_per_minute"]),
            self.config.get("max_requests"),
            window=float(self.config["rate_limit_window_seconds"]),
        )

    @functools.cached_property
    def progress(self) -> RunProgress:
        """The run's progress lines and end-of-run summary (also while the rate limiter holds a request)."""
        progress = RunProgress(self)
        self.governor.on_wait = progress.waiting
        self.governor.tick = progress.every
        return progress

    @functools.cached_property
    def lookahead(self) -> Lookahead:
        """The lists that feed per-parent streams, read before any per-parent work (first used when a sync starts)."""
        lookahead = Lookahead()
        lookahead.read(self, self.progress.sizes)
        return lookahead

    @functools.cached_property
    def changes(self) -> ChangeTracker:
        """The run's record of what changed and which per-parent streams owe which parents."""
        return ChangeTracker(self)

    @override
    def discover_streams(self) -> list[Stream]:
        """Every stream in the registry."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The SDK's streams (and sync order) in the registry's order rather than alphabetical (see STREAM_TYPES)."""
        streams = super().streams
        order: dict[type, int] = {stream_type: n for n, stream_type in enumerate(STREAM_TYPES)}
        ordered = sorted(streams.values(), key=lambda stream: order[type(stream)])
        if list(streams.values()) != ordered:
            streams.clear()
            streams.update((stream.name, stream) for stream in ordered)
        return streams

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema checks plus ours, with any secret value masked out of the messages."""
        errors = super()._validate_config(raise_errors=False) + setting_problems(self._config)
        for name in SECRET_SETTINGS:
            value = self._config.get(name)
            if value:
                errors = [e.replace(str(value), "***") for e in errors]
        if errors and raise_errors:
            raise ConfigValidationError("Invalid configuration", errors=errors)
        return errors

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: ConfigFiles | None = None,
        state: str | None = None,
        catalog: str | None = None,
    ) -> None:
        """Run a sync: inputs checked first; expected failures end in one line and an exit status (cli.py)."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        with one_line(cls.logger):
            catalog_dict = read_catalog(catalog) if catalog else None
            tap = cls(
                config=config.config if config else None,
                state=read_state(state) if state else None,
                catalog=catalog_dict,
                parse_env_config=bool(config and config.parse_env),
                validate_config=True,
            )
            check_state(tap)
            if catalog_dict is not None:
                check_catalog(tap, catalog_dict)
            check_start_date(tap)
            outcome = "failed"
            try:
                tap.sync_all()
                outcome = "done"
            except StopSyncError:
                tap.state_writer.write_state(tap.state)
                outcome = "stopped"
                raise
            finally:
                if "governor" in tap.__dict__:
                    for line in tap.progress.summary(outcome):
                        tap.logger.info("%s", line)

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> ConfigFiles:  # type: ignore[override]
        """`--config` files (or ENV), each read with a one-line error if it cannot be used."""
        with one_line(cls.logger):
            return ConfigFiles.read(value, cls.settings_schema())

    @classmethod
    def settings_schema(cls) -> dict[str, t.Any]:
        """Every setting, the SDK's built-in ones included (as `--about` lists them)."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        return schema

    @classmethod
    @override
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """`--discover`, its failures in one line."""
        with one_line(cls.logger):
            super().cb_discover(ctx, param, value)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`, its failures in one line."""
        with one_line(cls.logger):
            super().cb_test(ctx, param, value)

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with `--state` and `--catalog` taken as paths and read in `invoke` (one-line errors)."""
        command = super().get_singer_command()
        for param in command.params:
            if param.name in {"state", "catalog"}:
                param.type = click.STRING
        return command
