"""The command line's inputs and its one error boundary: every expected failure is one ERROR line and an exit status.

Files (`--config`, `--state`, `--catalog`) are read here with messages that name the file and say what to do; the
state's bookmarks and the catalog's selection are checked before any request. What is expected and how it ends:
`ExecTapError` (bad inputs, settings, API answers, clean stops) and the SDK's `ConfigValidationError`, each as one
line without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dotenv import dotenv_values, find_dotenv
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Catalog

from tap_exec.errors import EXIT_DONE, EXIT_FAILED, ExecTapError

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterator

    from singer_sdk import Tap

WHAT_TO_DO = {
    "config": 'pass a JSON object of settings, e.g. {"api_key": "exec_live_…"} (see .secrets.example)',
    "state": "pass the last STATE value the tap wrote, or no --state for a first run (Meltano: `meltano state get ID`)",
    "catalog": "pass the output of `tap-exec --config … --discover`, or no --catalog for the default selection",
}


class InputError(ExecTapError):
    """A file, setting or selection the tap cannot use: one line saying which and what to do."""


@dataclass
class ConfigFiles:
    """The merged `--config` files and, for `--config ENV`, the environment's `TAP_EXEC_*` variables (over the files).

    `parse_env` stays False: the SDK would leave decimals and objects as text; `env_settings` types each value.
    """

    config: dict[str, t.Any] = field(default_factory=dict)
    parse_env: bool = False

    @classmethod
    def read(cls, paths: t.Iterable[str], schema: dict[str, t.Any]) -> ConfigFiles:
        """Read each file in turn (later ones override earlier ones), then the environment if ENV is among them."""
        files, paths = cls(), list(paths)
        for path in paths:
            if path != "ENV":
                files.config |= read_json(path, "config")
        if "ENV" in paths:
            files.config |= env_settings(schema)
        return files


def env_settings(schema: dict[str, t.Any], prefix: str = "TAP_EXEC_") -> dict[str, t.Any]:
    """Settings from `TAP_EXEC_<NAME>` variables (and a `.env` file from here upwards), typed by the settings schema."""
    environ = {**dotenv_values(find_dotenv(usecwd=True)), **os.environ}
    settings: dict[str, t.Any] = {}
    for name, spec in schema.get("properties", {}).items():
        variable = prefix + name.upper()
        raw = environ.get(variable)
        if raw is None:
            continue
        types = set(spec.get("type", ["string"])) if isinstance(spec.get("type"), list) else {spec.get("type", "string")}
        try:
            if "integer" in types:
                settings[name] = int(raw)
            elif "number" in types:
                settings[name] = float(raw)
            elif "boolean" in types:
                settings[name] = raw.strip().lower() in {"1", "true", "t", "yes", "y", "on"}
            elif types & {"object", "array"}:
                settings[name] = json.loads(raw)
            else:
                settings[name] = raw
        except ValueError:
            shown = "***" if spec.get("secret") else raw
            kind = "JSON" if types & {"object", "array"} else " or ".join(sorted(types - {"null"}))
            msg = f"Environment variable {variable}={shown} is not {kind}. What to do: fix or unset it."
            raise InputError(msg) from None
    return settings


def read_json(path: str, kind: str) -> dict[str, t.Any]:
    """A `--config`/`--state`/`--catalog` file's JSON object (`-`: standard input); every way it can be wrong, in one line."""
    problem = None
    try:
        if path == "-":
            value = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as handle:  # noqa: PTH123
                value = json.load(handle)
    except FileNotFoundError:
        problem = "does not exist"
    except IsADirectoryError:
        problem = "is a directory, not a file"
    except PermissionError:
        problem = "cannot be read (permission denied)"
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    else:
        if isinstance(value, dict):
            return value
        problem = f"holds a JSON {type(value).__name__}, not an object"
    msg = f"--{kind} {path} {problem}. What to do: {WHAT_TO_DO[kind]}."
    raise InputError(msg)


@contextlib.contextmanager
def one_line(logger: logging.Logger) -> Iterator[None]:
    """Turn an expected failure into one ERROR line and its exit status (after any final state was written)."""
    try:
        yield
    except ConfigValidationError as exc:
        logger.error("Invalid configuration: %s", " ".join(exc.errors))  # noqa: TRY400 - one line, no traceback
        sys.exit(EXIT_FAILED)
    except ExecTapError as exc:
        if exc.exit_code == EXIT_DONE:  # a planned end (today's budget): not an error
            logger.warning("%s", exc)
        else:
            logger.error("%s", exc)  # noqa: TRY400 - one line, no traceback
        sys.exit(exc.exit_code)


def read_state(path: str) -> dict[str, t.Any]:
    """A `--state` file holding a Singer state (or Meltano's `{"singer_state": …}`): `bookmarks` map streams to objects."""
    state = read_json(path, "state")
    if set(state) == {"singer_state"} and isinstance(state["singer_state"], dict):
        state = state["singer_state"]
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict) or not all(isinstance(b, dict) for b in bookmarks.values()):
        msg = f"--state: `bookmarks` must map stream names to objects. What to do: {WHAT_TO_DO['state']}."
        raise InputError(msg)
    return state


def check_state(tap: Tap) -> None:
    """Bookmarks this tap can start from; unknown streams are ignored with a warning."""
    bookmarks = tap.state.get("bookmarks", {})
    unknown = sorted(set(bookmarks) - set(tap.streams))
    if unknown:
        tap.logger.warning("--state has bookmarks for streams this tap does not have, ignored: %s", ", ".join(unknown))
    for name, bookmark in bookmarks.items():
        stream = tap.streams.get(name)
        value = bookmark.get("replication_key_value")
        if stream is None or value is None or not stream.replication_key:
            continue
        if not isinstance(value, str) or parse_datetime(value) is None:
            msg = (
                f"--state: bookmarks.{name}.replication_key_value must be a date-time such as 2026-01-31T00:00:00Z, "
                f"got {json.dumps(value)}. What to do: fix it, or remove that bookmark to read {name} from `start_date`."
            )
            raise InputError(msg)


def read_catalog(path: str) -> dict[str, t.Any]:
    """A `--catalog` file that is a Singer catalog: a `streams` list of entries with ids and metadata."""
    catalog = read_json(path, "catalog")
    streams = catalog.get("streams")
    try:
        entries = Catalog.from_dict(catalog).values() if isinstance(streams, list) else None
    except (KeyError, TypeError, AttributeError, ValueError):
        entries = None
    if entries is None:
        msg = f"--catalog {path} is not a Singer catalog (a `streams` list of entries). What to do: {WHAT_TO_DO['catalog']}."
        raise InputError(msg)
    return catalog


def check_catalog(tap: Tap, catalog: dict[str, t.Any]) -> None:
    """A catalog that selects streams this tap knows; unknown ones are warned about, none at all is an error."""
    known = list(tap.streams)
    entries = Catalog.from_dict(catalog).values()
    selected = {e.tap_stream_id for e in entries if e.metadata.root.selected or e.metadata.root.selected_by_default}
    unknown = sorted(selected - set(known))
    if not any(stream.selected or stream.has_selected_descendents for stream in tap.streams.values()):
        named = f" (it selects {', '.join(unknown)})" if unknown else ""
        msg = f"--catalog selects no stream this tap knows{named}. What to do: select some of: {', '.join(known)}."
        raise InputError(msg)
    if unknown:
        tap.logger.warning("--catalog selects streams this tap does not know, ignored: %s", ", ".join(unknown))


def check_start_date(tap: Tap) -> None:
    """Say what a start date in the future does (a bad one is refused with the other settings)."""
    value = tap.config.get("start_date")
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is not None and moment > datetime.now(timezone.utc):
        tap.logger.warning(
            "`start_date` %s is in the future: sessions and Knowledge Hub pages are read from then on, so this run "
            "reads none of them (the other streams are read as usual).",
            value,
        )


def parse_datetime(value: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when no offset is given), or None."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
