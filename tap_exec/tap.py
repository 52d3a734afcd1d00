"""TapExec: settings, their checks, the stream registry and the run's clean-stop handling."""

from __future__ import annotations

import copy
import functools
import sys
import typing as t

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from tap_exec.cli import ConfigFiles, check_catalog, check_start_date, check_state, one_line, read_catalog, read_state
from tap_exec.deleted import declare_mark
from tap_exec.drift import COLUMNS, VARIANTS, SchemaDrift
from tap_exec.errors import StopSyncError
from tap_exec.output import ExecStateWriter, ExecWriter
from tap_exec.run import Run
from tap_exec.run.budget import BUDGET
from tap_exec.settings import SECRET_SETTINGS, SETTINGS, setting_problems
from tap_exec.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_exec.run.services import Host


class TapExec(Tap):
    """Singer tap for the Exec API."""

    name = "tap-exec"
    message_writer_class = ExecWriter

    settings = SETTINGS
    config_jsonschema = settings.to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """The SDK's tap, with the `schema_contract` check between its streams and its writer (drift.py)."""
        super().__init__(*args, **kwargs)
        self._state_writer = ExecStateWriter(self.message_writer)
        contract = str(self.config.get("schema_contract", "evolve"))
        self.drift = SchemaDrift(contract, self.logger, t.cast("dict[str, t.Any]", self.state), self.run.checkpoint)
        if isinstance(self.message_writer, ExecWriter):
            self.message_writer.drift = self.drift
        self.run.progress.summaries = self.drift.summary

    @override
    def setup_mapper(self) -> None:
        """The SDK's stream maps; every map of a stream that sends deletion records declares the mark.

        Even one registered from a catalog without it (an older version's, or a selection that deselects it).
        """
        super().setup_mapper()
        for stream_type in STREAM_TYPES:
            if stream_type.deletion_fields():
                declare_mark(self.mapper.stream_maps.get(stream_type.name, ()))  # type: ignore[misc] # a class's name

    @functools.cached_property
    def run(self) -> Run:
        """The run's services (budget, pace, what is owed, the planner, progress), handed to every stream."""
        return Run(t.cast("Host", self))

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        """The SDK's bookmarks, what today's runs spent of the day's budget (run/budget.py), drift's added columns."""
        super().load_state(state)
        if isinstance(state.get(BUDGET), dict):
            self.state[BUDGET] = copy.deepcopy(state[BUDGET])  # type: ignore[literal-required]
        for key in (COLUMNS, VARIANTS):  # VARIANTS: a former state's, read once (drift.py)
            if key in state:
                self.state[key] = copy.deepcopy(state[key])  # type: ignore[literal-required]

    @override
    def discover_streams(self) -> list[Stream]:
        """Every stream in the registry, each handed the run's services."""
        streams: list[Stream] = []
        for stream_type in STREAM_TYPES:
            stream = stream_type(tap=self)
            stream.run = self.run
            streams.append(stream)
        return streams

    # Final in the SDK, whose loop syncs each list once with its children inline; a run here has phases.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Read the lists, then spend the day's budget in the planner's order (run/planner.py).

        However the run ends (done, a clean stop, a failure), its last STATE message holds everything it did. Until
        then every STATE message says how many requests may follow it (`budget.open`): a kill leaves none uncounted.
        """
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        writer, day = t.cast("ExecStateWriter", self.state_writer), self.run.day
        writer.day, day.open = day, True
        self.run.governor.report = lambda: writer.write_budget(t.cast("dict[str, t.Any]", self.state))
        writer.write_state(t.cast("dict[str, t.Any]", self.state))  # the run is open before its first request
        try:
            self.run.planner.execute(t.cast("dict[str, t.Any]", self.streams))
        finally:
            day.open = False
            self.run.checkpoint()
        for stream in self.streams.values():
            stream.log_sync_costs()

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
                outcome = "stopped"
                raise
            finally:
                if "governor" in tap.run.__dict__:
                    for line in tap.run.progress.summary(outcome):
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
