"""Run the tap in-process or as a command, and read its Singer output."""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os
import subprocess
import sys
import time
import typing as t
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from tap_exec.errors import StopSyncError
from tap_exec.run.budget import iso, parse_moment
from tap_exec.run.prints import Prints
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.simulator import Dataset, Simulator


def recent(data: Dataset, newest_seconds_ago: int = 3600, within: int | None = None) -> Dataset:
    """Move every session so the newest was created `newest_seconds_ago` (a workspace practising until today).

    With `within` (seconds), the sessions are also squeezed into that span, in the same order.
    """
    newest, oldest = max(s.created for s in data.sessions), min(s.created for s in data.sessions)
    end = int(time.time()) - newest_seconds_ago
    scale = within / max(1, newest - oldest) if within else 1.0
    for session in data.sessions:
        session.created = end - round((newest - session.created) * scale)
    return data


class SimulatedTime:
    """A `time` module whose clock is the simulator's: `sim.advance(DAY)` moves the tap's local clock too."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def time(self) -> float:
        """The simulator's clock."""
        return self.sim.now()

    def __getattr__(self, name: str) -> t.Any:
        return getattr(time, name)


#: The tap's modules that read the local clock (`time.time()`); the rest take "now" from ApiDay.
CLOCK_READERS = ("tap_exec.run.budget", "tap_exec.http")


def clock_follows(sim: Simulator, monkeypatch: t.Any) -> None:
    """Let the tap's local clock follow the simulator's, as both move in a real deployment."""
    for name in CLOCK_READERS:
        monkeypatch.setattr(importlib.import_module(name), "time", SimulatedTime(sim))


def fast_config(sim: Simulator, **overrides: t.Any) -> dict[str, t.Any]:
    """Settings pointing at `sim`, with retries quick enough for tests."""
    return {
        "api_key": sim.api_key,
        "api_url": sim.url,
        "retry_backoff_seconds": 0.01,
        "request_timeout": 5,
        "max_requests_per_minute": 100_000,
        "daily_request_budget": 10_000_000,  # tests of the day's budget set their own
        **overrides,
    }


@dataclass
class Output:
    """The Singer messages of one run, sorted by kind."""

    messages: list[dict[str, t.Any]] = field(default_factory=list)
    stopped: str | None = None  # with `run_tap(stop_ok=True)`: why the run stopped cleanly, if it did

    def records(self, stream: str) -> list[dict[str, t.Any]]:
        """RECORD payloads of one stream, in emission order."""
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    def streams(self) -> set[str]:
        """Streams that emitted at least one record."""
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}

    def states(self) -> list[dict[str, t.Any]]:
        """STATE values, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        """The final STATE value, if any."""
        states = self.states()
        return states[-1] if states else None


def parse(stdout: str) -> Output:
    """Parse a tap's stdout (one JSON message per line)."""
    return Output([json.loads(line) for line in stdout.splitlines() if line.strip()])


def catalog_for(config: dict[str, t.Any], selected: t.Iterable[str] | None = None) -> dict[str, t.Any]:
    """The discovered catalog with exactly `selected` streams chosen (None: the default selection)."""
    # through JSON, as a catalog file reaches the tap (lists, not tuples: `key_properties` == ["id"])
    discovered = TapExec(config=config, validate_config=False, setup_mapper=False).catalog_dict
    catalog: dict[str, t.Any] = json.loads(json.dumps(discovered))
    if selected is None:
        return catalog
    wanted = set(selected)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return catalog


def run_tap(
    config: dict[str, t.Any],
    *,
    selected: t.Iterable[str] | None = None,
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
    stop_ok: bool = False,
) -> Output:
    """Run a full sync in this process and return what it wrote to stdout.

    With `stop_ok`, a clean stop (daily limit, `max_requests`) ends the run as the CLI ends it: final STATE written.
    """
    if catalog is None and selected is not None:
        catalog = catalog_for(config, selected)
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")  # the writer writes bytes to stdout's buffer
    stopped: str | None = None
    with contextlib.redirect_stdout(stdout):
        tap = TapExec(config=config, catalog=catalog, state=copy.deepcopy(state))
        try:
            tap.sync_all()
        except StopSyncError as exc:
            if not stop_ok:
                raise
            stopped = f"{type(exc).__name__}: {exc}"
            tap.state_writer.write_state(tap.state)
        stdout.flush()
    out = parse(raw.getvalue().decode("utf-8"))
    out.stopped = stopped
    return out


def time_passes(sim: Simulator, state: dict[str, t.Any] | None, seconds: float) -> None:
    """`seconds` pass on both clocks: the API's (the simulator's) and the tap's, the wall clock plus its state's offset.

    `sim.advance` alone is the tap's clock falling behind the API's: after a spent day it waits for its own midnight.
    """
    sim.advance(seconds)
    if state is not None and isinstance(state.get("budget"), dict):
        state["budget"]["offset"] = int(state["budget"].get("offset", 0)) + round(seconds)


def run_cli(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `tap-exec` as a separate process, as Meltano would."""
    return subprocess.run(
        [sys.executable, "-m", "tap_exec", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


ROOT = Path(__file__).resolve().parents[1]


def meltano(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a meltano command in the project, failing the test with its output if it fails."""
    executable = str(Path(sys.executable).with_name("meltano"))
    result = subprocess.run([executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def write_json(tmp_path: t.Any, name: str, value: t.Any) -> str:
    """Write `value` as JSON under `tmp_path` and return the path."""
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def meltano_env_for(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the project's tap-exec at `sim`, with its own system DB, outputs and dbt artifacts."""
    env = {
        **os.environ,
        "TAP_EXEC_API_URL": sim.url,
        "TAP_EXEC_API_KEY": sim.api_key,
        "TAP_EXEC_DAILY_REQUEST_BUDGET": "10000000",  # tests run many days' worth of requests in one
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "out"),
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        "DBT_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
    }
    for utility in ("DBT_DUCKDB", "DBT_POSTGRES"):
        env[f"{utility}_TARGET_PATH"] = str(tmp_path / utility.lower() / "target")
        env[f"{utility}_LOG_PATH"] = str(tmp_path / utility.lower() / "logs")
    (tmp_path / "out").mkdir()
    meltano(["install"], env)
    return env


def forgotten_sessions(out: Output, lookback_days: float = 3) -> list[tuple[int, str]]:
    """(STATE index, session id) for each emitted session a resume from that STATE would neither re-read nor remember."""
    emitted: dict[str, str] = {}
    lost: list[tuple[int, str]] = []
    n = 0
    for message in out.messages:
        if message["type"] == "RECORD" and message["stream"] == "sessions" and "created_at" in message["record"]:
            emitted[message["record"]["id"]] = message["record"]["created_at"]
        if message["type"] != "STATE":
            continue
        n += 1
        bookmark = message["value"].get("bookmarks", {}).get("sessions", {})
        changes = bookmark.get("changes", {})
        remembered = set(changes.get("seen", {})) | set(Prints({"known": changes.get("known")}).table)
        relisted = bookmark.get("replication_key_value")
        low = iso(parse_moment(relisted) - timedelta(days=lookback_days)) if relisted else None
        history = bookmark.get("history", {})
        for row_id, key in emitted.items():
            again_current = low is not None and key >= low
            again_history = (
                bool(history.get("before"))
                and not history.get("done")
                and (key < history["before"] or (key == history["before"] and row_id not in history.get("ids", [])))
            )
            if not (again_current or again_history or row_id in remembered):
                lost.append((n, row_id))
    return lost
