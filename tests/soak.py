"""A many-day soak of tap-exec: one simulator, one run a day (some killed, some cut short), every promise checked.

Each simulated day the API's clock moves one day (`Simulator.clock_offset`), the workspace changes as a live one
does, and sometimes the selection or the settings change; the tap then runs in this process with the state the
last run left (as Meltano carries it: the last STATE written, for a killed run the last one written before the
kill). A model warehouse applies the run's messages as a deleting target and the staging models would.

The tap takes the API's time from each response's `Date` header and keeps the offset in the state (run/budget.py),
and every "now" it uses (`ApiDay.now`) is local time plus that offset. Before a first run's first response the offset
is 0, so the local clock must agree with the API's as it does on a real host: `api_clock` sets the `time.time()`
that run/budget.py and http.py read to the simulator's clock while the tap runs. The simulator stamps new rows with
its own clock (`Dataset.now`), so moving `clock_offset` moves every side.

Invariants, after every run:
- `deleted-live`: no row the simulator still has is deleted in the warehouse (`_sdc_deleted_at`, ACTIVATE_VERSION);
- `budget`: no API day's requests (counted by the simulator) exceed that day's `daily_request_budget`;
- `run-failed`: a run ends done or with a planned stop (exit 0, or 3 for `max_requests`), never an error;
and after the quiet days that close the soak (no changes, a large budget, enough runs for reconciliation):
- `warehouse`: the model warehouse holds exactly the API's rows for every selected stream. After an `upgrade`, two
  limits README documents are not counted, and nothing else: a session deleted before the rebuilt `known` could
  name it that the older state did not name (`Soak.unnameable`), and a leftover value in a column the older state
  did not remember (`Soak.forgotten_columns`).

Every kind of change is an "operation" that can be switched off, so a test enables those that hold today and a
failing one can be shown alone (`benchmarks/soak.py --only OP`).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import importlib
import io
import json
import random
import time
import typing as t
from dataclasses import dataclass, field

from tap_exec.errors import EXIT_BUDGET, EXIT_DONE, ExecTapError, StopSyncError
from tap_exec.run.history import WHOLE
from tap_exec.run.memory import version_of
from tap_exec.run.prints import PARKED, PARKED_FROM, _decode
from tap_exec.simulator import Counts, Simulator, build
from tap_exec.simulator.data import EPOCH_NOW, iso
from tap_exec.simulator.drift import ApiDrift
from tap_exec.tap import TapExec
from tests.expected import ENDPOINTS, FETCHED_AT, served
from tests.helpers import CLOCK_READERS, SimulatedTime, catalog_for, fast_config

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tap_exec.simulator import Dataset

DAY = 86_400
RUN_AT = 6 * 3600  # each day's run starts at 06:00 UTC on the API's clock
LOOKBACK_DAYS = 3
REFRESH_DAYS = 3  # per_parent_refresh_days
#: Quiet days before the warehouse is compared: a row deleted after the reconciliation pass under way read it is
#: found by the next pass (README, Deletions), so two passes, and a day for a pass a budget cut short.
QUIET_DAYS = 2 * REFRESH_DAYS + 1
BIG_BUDGET = 100_000

#: Changes to the workspace, applied before a day's run.
DATA_OPERATIONS = (
    "new_sessions",
    "recent_regrades",
    "old_regrades",
    "recent_deletions",
    "old_deletions",
    "page_edits",
    "page_archives",
    "page_inserts",
    "source_changes",
    "new_scenarios",
    "members_leaving",
)
#: Changes to the selection, the settings or the way a run ends.
RUN_OPERATIONS = (
    "toggle_per_parent",  # a per-parent stream selected or deselected
    "start_date",  # start_date raised or lowered
    "schema_contract",  # evolve <-> discard
    "api_drift",  # the API serves an undocumented field and text scores for a day
    "stream_map",  # the README's pseudonymising map on or off
    "activate_version",  # emit_activate_version_messages on
    "kills",  # a run killed (kill -9) after a random message, resumed the same day
    "small_budget",  # a day's daily_request_budget small enough to end runs mid-phase
    "max_requests",  # a run's max_requests small
    "hourly_rerun",  # a second run the same day after the budget ended the first
    "upgrade",  # the carried state rewritten as an earlier release left it, then run by this one (twice a soak)
)
OPERATIONS = frozenset(DATA_OPERATIONS + RUN_OPERATIONS)

#: Per-parent streams the `toggle_per_parent` operation selects and deselects.
TOGGLED = ("session_details", "knowledge_hub_page_contents", "knowledge_hub_page_versions", "scenario_analytics")
ALWAYS = (
    "workspace",
    "workspace_members",
    "workspace_groups",
    "sessions",
    "collections",
    "scenarios",
    "assignments",
    "skills",
    "knowledge_hub_folders",
    "knowledge_hub_pages",
    "knowledge_hub_sources",
    "scenario_participants",
    "knowledge_hub_source_contents",
    "fetch_log",
)
#: The map `tap-exec-pseudonymised` ships in meltano.yml (README "Stream maps").
STREAM_MAPS = {
    "workspace_members": {"email": "md5(record['email'])"},
    "sessions": {"user_email_hash": "md5(record['user']['email'])", "user": "dict(id=record['user']['id'])"},
}
MAPPED_FIELDS = {"workspace_members": {"email"}, "sessions": {"user", "user_email_hash"}}
#: Per-parent lists: the parent key whose fetch_log row decides which rows are current (macros/children.sql).
LIST_PARENT = {"scenario_participants": "scenario_id", "skill_proficiency": "skill_id", "knowledge_hub_page_versions": "page_id"}
#: Incremental streams and the field start_date applies to.
START_FIELD = {"sessions": "created_at", "knowledge_hub_pages": "updated_at"}
START_DATES = (EPOCH_NOW - 200 * DAY, EPOCH_NOW - 120 * DAY, EPOCH_NOW - 60 * DAY)

Key = tuple[t.Any, ...]
Row = dict[str, t.Any]


def small_workspace(seed: int) -> Dataset:
    """A few rows of everything: with page_size 5, paging, history and reconciliation still take several requests."""
    counts = Counts(
        members=10,
        former_users=2,
        groups=2,
        collections=2,
        scenarios=4,
        skills=3,
        assignments=6,
        sessions=60,
        folders=2,
        pages=8,
        sources=4,
    )
    return build(seed, counts)


# -- the day's plan ------------------------------------------------------------------------------------------------
@dataclass
class Settings:
    """What the project's configuration and selection are on one day."""

    selected: set[str]
    start_date: int | None = None
    schema_contract: str = "evolve"
    stream_map: bool = False
    activate_version: bool = False


@dataclass
class DayPlan:
    """One simulated day: its changes, its settings, and how its run ends."""

    day: int
    changes: list[str] = field(default_factory=list)
    budget: int = BIG_BUDGET
    max_requests: int | None = None
    kill_at: int | None = None  # messages written before the kill
    drift: bool = False
    hourly_rerun: bool = False
    quiet: bool = False
    notes: list[str] = field(default_factory=list)  # the run operations in play, for the report


def first_settings(operations: frozenset[str]) -> Settings:
    """Day one: every stream but the toggled ones, which start half on when they toggle."""
    toggled = set(TOGGLED[:2]) if "toggle_per_parent" in operations else set(TOGGLED)
    return Settings(
        selected=set(ALWAYS) | toggled,
        start_date=START_DATES[1] if "start_date" in operations else None,
        activate_version="activate_version" in operations,
    )


def plan_day(rng: random.Random, day: int, operations: frozenset[str], settings: Settings) -> DayPlan:
    """Draw the day's changes and run operations; `settings` is changed in place."""
    plan = DayPlan(day)
    if day > 1:
        plan.changes = [op for op in DATA_OPERATIONS if op in operations and rng.random() < 0.5]
    roll = {op: rng.random() for op in RUN_OPERATIONS}  # drawn whatever is enabled: a seed's days stay comparable
    on = {op for op in RUN_OPERATIONS if op in operations}
    if "toggle_per_parent" in on and day > 1 and roll["toggle_per_parent"] < 0.25:
        stream = rng.choice(TOGGLED)
        settings.selected ^= {stream}
        plan.notes.append(f"toggle {stream} {'on' if stream in settings.selected else 'off'}")
    if "start_date" in on and day > 1 and roll["start_date"] < 0.15:
        settings.start_date = rng.choice([d for d in START_DATES if d != settings.start_date])
        plan.notes.append(f"start_date {iso(settings.start_date)}")
    if "schema_contract" in on and roll["schema_contract"] < 0.2:
        settings.schema_contract = "discard" if settings.schema_contract == "evolve" else "evolve"
        plan.notes.append(f"schema_contract {settings.schema_contract}")
    if "stream_map" in on and roll["stream_map"] < 0.2:
        settings.stream_map = not settings.stream_map
        plan.notes.append(f"stream_map {'on' if settings.stream_map else 'off'}")
    plan.drift = "api_drift" in on and roll["api_drift"] < 0.25
    if "small_budget" in on and roll["small_budget"] < 0.25:
        plan.budget = rng.randint(6, 30)
    plan.hourly_rerun = "hourly_rerun" in on and roll["hourly_rerun"] < 0.3
    if "max_requests" in on and roll["max_requests"] < 0.2:
        plan.max_requests = rng.randint(3, 20)
    if "kills" in on and roll["kills"] < 0.3:
        plan.kill_at = rng.randint(1, 120)
    plan.notes += [name for name, value in (("drift", plan.drift), ("hourly_rerun", plan.hourly_rerun)) if value]
    plan.notes += [f"budget {plan.budget}"] if plan.budget != BIG_BUDGET else []
    plan.notes += [f"max_requests {plan.max_requests}"] if plan.max_requests else []
    plan.notes += [f"kill at message {plan.kill_at}"] if plan.kill_at else []
    return plan


# -- the day's changes ----------------------------------------------------------------------------------------------
def _session_indexes(data: Dataset, newer_than: float | None = None, older_than: float | None = None) -> list[int]:
    return [
        n
        for n, s in enumerate(data.sessions)
        if (newer_than is None or s.created > newer_than) and (older_than is None or s.created < older_than)
    ]


def apply_change(rng: random.Random, data: Dataset, change: str, now: float) -> None:  # noqa: C901 - one branch a kind
    """One kind of change, one to three times; "recent" is inside the sessions lookback, "old" well before it."""
    recent, old = now - (LOOKBACK_DAYS - 1) * DAY, now - (LOOKBACK_DAYS + 2) * DAY
    live_pages = [n for n, p in enumerate(data.pages) if p["status"] != "archived"]
    for _ in range(rng.randint(1, 3)):
        if change == "new_sessions":
            data.insert_session(int(now) - rng.randrange(6 * 3600), scenario=rng.choice(data.scenarios))
        elif change in {"recent_regrades", "old_regrades", "recent_deletions", "old_deletions"}:
            window = (
                _session_indexes(data, newer_than=recent)
                if change.startswith("recent")
                else _session_indexes(data, older_than=old)
            )
            if window:
                index = rng.choice(window)
                _ = data.grade_session(index) if change.endswith("regrades") else data.delete_session(index)
        elif change == "page_edits" and live_pages:
            data.touch_page(rng.choice(live_pages))
        elif change == "page_archives" and len(live_pages) > 2:
            index = rng.choice(live_pages)
            live_pages.remove(index)
            data.archive_page(index)
        elif change == "page_inserts":
            data.insert_page()
        elif change == "source_changes" and data.sources:
            index = rng.randrange(len(data.sources))
            _ = (
                data.touch_source(index)
                if rng.random() < 0.5
                else data.process_source(index, rng.choice(("ready", "processing")))
            )
        elif change == "new_scenarios":
            data.add_scenario()
        elif change == "members_leaving" and len(data.members) > 3:
            data.remove_member(rng.randrange(len(data.members)))


# -- an earlier release's state -------------------------------------------------------------------------------------
#: The state shapes of earlier releases `upgrade` rewrites the carried state into: name -> the last commit writing it.
#: Each function below writes what that release's code kept (`git show COMMIT:tap_exec/...`), from today's state.
SHAPES = {
    "pre_planner": "2bc4625",  # before 7e26fcd: bookmarks and `changes` {seen; owed, pending, since} only
    "no_embeds": "fdd2fc0",  # before 911bf19: hashed `prints`, no `embeds`, sources versioned on `updated_at`
    "hashed_prints": "3cf3c4b",  # before cb9e6db: hashed `prints`, no `from`/`seen_count`, failures without dates
    "variant_columns": "5d5b2c0",  # before 7e57dbf: `variant_columns` {stream: [variant column]}, marks without `low`
}
SOURCE_OLD_FIELDS = ("updated_at",)  # what knowledge_hub_sources' `seen` versioned before 911bf19


def older_state(state: dict[str, t.Any], shape: str, landed: Warehouse) -> dict[str, t.Any]:
    """`state` as the release `shape` names would have left it after the same runs (what it kept, in its form).

    Memory a release did not have is dropped; what it kept in another form is converted (ids hashed, columns
    renamed). `landed` gives the rows a release versioned on other fields (sources before 911bf19).
    """
    old = copy.deepcopy(state)
    for name, bookmark in (old.get("bookmarks") or {}).items():
        _older_bookmark(name, bookmark, shape, landed)
    columns = old.pop("added_columns", None)
    if shape == "variant_columns":  # variant columns only, by name
        variants = {s: sorted(c for c in cols if "__v_" in c) for s, cols in (columns or {}).items()}
        if any(variants.values()):
            old["variant_columns"] = {s: cols for s, cols in variants.items() if cols}
    if shape == "pre_planner":  # no budget either
        old.pop("budget", None)
    elif isinstance(old.get("budget"), dict):  # before `hold` (merged in ed304b2): the daily limit's time
        hold = old["budget"].pop("hold", None)
        if isinstance(hold, dict) and hold.get("daily"):
            old["budget"]["blocked_until"] = hold["until"]
    return old


def _older_bookmark(name: str, bookmark: dict[str, t.Any], shape: str, landed: Warehouse) -> None:
    """One stream's bookmark as `shape`'s release kept it (in place)."""
    changes = bookmark.get("changes")
    if shape == "variant_columns":  # before 19644d7 and 2bd2fbc: no `low`, nothing parked
        _drop(bookmark.get("history"), "low")
        _drop(bookmark.get("recon"), "low")
        if isinstance(changes, dict):
            _unpark(changes)
        return
    for mark in ("history", "recon"):  # before the start_date commits: no `start`, `previous`, `low`
        _drop(bookmark.get(mark), "start", "previous", "low")
    if shape == "pre_planner":  # no history, no reconciliation
        for key in ("history", "recon", "details"):
            bookmark.pop(key, None)
    if isinstance(changes, dict):
        _older_changes(name, changes, shape, landed)
        if not changes:
            bookmark.pop("changes")


def _older_changes(name: str, changes: dict[str, t.Any], shape: str, landed: Warehouse) -> None:
    """One stream's `changes` as `shape`'s release kept it (in place), for the shapes before `known`."""
    _unpark(changes)
    known = changes.pop("known", None)
    _drop(changes, "from", "seen_count")
    for entry in (changes.get("failed") or {}).values():  # before 601bd56: tries and the error only
        _drop(entry, "first", "last", "days")
    if shape == "pre_planner":  # `changes` was seen, owed, pending, since
        _drop(changes, "keys", "failed", "embeds")
    elif known:
        changes["prints"] = _hashed(known)
    if shape == "no_embeds":
        changes.pop("embeds", None)
    if shape in {"pre_planner", "no_embeds"} and name == "knowledge_hub_sources":  # versioned on `updated_at` then
        rows = landed.rows.get(name, {})
        changes["seen"] = {
            row_id: version_of(rows[(row_id,)], SOURCE_OLD_FIELDS) if (row_id,) in rows else version
            for row_id, version in (changes.get("seen") or {}).items()
        }


def _drop(record: t.Any, *keys: str) -> None:
    if isinstance(record, dict):
        for key in keys:
            record.pop(key, None)


def _unpark(changes: dict[str, t.Any]) -> None:
    """Before 2bd2fbc rows were never parked, nor kept their key: a pass that proved nothing forgot what it left unread."""
    changes.pop(PARKED_FROM, None)
    if changes.get("known"):
        table = _decode(changes["known"])
        out = b"".join(_known_entry(row_id, version, read) for row_id, (version, read, _) in table.items() if read != PARKED)
        changes["known"] = base64.b64encode(out).decode()


def _known_entry(row_id: str, version: bytes, read: int) -> bytes:
    from tap_exec.run.prints import _uuid_bytes

    raw = _uuid_bytes(row_id)
    return bytes((read, 0)) + raw + version if raw else bytes((read, len(row_id.encode()))) + row_id.encode() + version


def _hashed(known: str) -> str:
    """`known` as the `prints` of releases before cb9e6db: per row 4 bytes of blake2b of its id, then its 2-byte version."""
    table = _decode(known)
    out = b"".join(hashlib.blake2b(row_id.encode(), digest_size=4).digest() + entry[0] for row_id, entry in table.items())
    return base64.b64encode(out).decode()


def named_ids(state: t.Any) -> set[str]:
    """Every string a state holds, keys included, and the ids in `known`: the ids it can name."""
    if isinstance(state, dict):
        known = set(_decode(state["known"])) if isinstance(state.get("known"), str) else set()
        return known | set(map(str, state)) | {s for v in state.values() for s in named_ids(v)}
    if isinstance(state, list):
        return {s for v in state for s in named_ids(v)}
    return {state} if isinstance(state, str) else set()


# -- the local clock ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def api_clock(sim: Simulator) -> Iterator[None]:
    """While the tap runs, its local clock is the simulator's (restored after, whatever happens)."""
    modules = [importlib.import_module(name) for name in CLOCK_READERS]
    saved = [vars(module)["time"] for module in modules]
    for module in modules:
        vars(module)["time"] = SimulatedTime(sim)
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            vars(module)["time"] = original


# -- one run, as Meltano runs it ------------------------------------------------------------------------------------
class Killed(BaseException):
    """kill -9: raised from stdout once the run wrote its allowed messages (BaseException: no `except Exception` stops it)."""


class KillableStdout(io.BytesIO):
    """The tap's stdout: keeps whole messages, and after `kill_at` of them refuses every write (a killed process)."""

    def __init__(self, kill_at: int | None) -> None:
        super().__init__()
        self.kill_at = kill_at
        self.lines = 0
        self.killed = False

    def write(self, data: t.Any) -> int:
        """Let through the messages before the kill; the first byte past them kills the run."""
        chunk = bytes(data)
        if self.killed:
            raise Killed
        if self.kill_at is None:
            return super().write(chunk)
        kept = b""
        for line in chunk.splitlines(keepends=True):
            if self.lines >= self.kill_at:
                super().write(kept)
                self.killed = True
                raise Killed
            kept += line
            self.lines += line.endswith(b"\n")
        return super().write(kept)


@dataclass
class RunResult:
    """What one run wrote before it ended, and how it ended."""

    messages: list[dict[str, t.Any]]
    killed: bool
    failure: str | None  # an error, or a stop with an unplanned exit status

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        """The last STATE among the messages that reached the loader."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None


def run_once(
    config: dict[str, t.Any], catalog: dict[str, t.Any], state: dict[str, t.Any] | None, kill_at: int | None
) -> RunResult:
    """One tap run in this process; a run killed at message `kill_at` keeps only the messages before it."""
    raw = KillableStdout(kill_at)
    stdout = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    failure: str | None = None
    with contextlib.redirect_stdout(stdout):
        try:
            tap = TapExec(config=config, catalog=catalog, state=copy.deepcopy(state))
            tap.sync_all()
        except Killed:
            pass
        except StopSyncError as exc:
            if exc.exit_code not in {EXIT_DONE, EXIT_BUDGET}:
                failure = f"exit {exc.exit_code}: {exc}"
        except ExecTapError as exc:
            failure = f"exit {exc.exit_code}: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure of the run is a finding
            failure = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Killed):
            stdout.flush()
    lines = raw.getvalue().decode("utf-8").splitlines()
    messages = [json.loads(line) for line in lines if line.strip()]
    return RunResult(messages, raw.killed, failure)


# -- the model warehouse --------------------------------------------------------------------------------------------
@dataclass
class Warehouse:
    """A deleting target and the staging models: upserts by key, `_sdc_deleted_at` and ACTIVATE_VERSION applied.

    A record sets every column of its stream's latest SCHEMA (absent ones become null) and leaves columns the
    schema no longer has as they were, as SQL targets do.
    """

    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    columns: dict[str, set[str]] = field(default_factory=dict)
    rows: dict[str, dict[Key, Row]] = field(default_factory=dict)
    versions: dict[str, dict[Key, int | None]] = field(default_factory=dict)
    #: Rows deleted by the tap, kept to check none is live: stream -> key -> how ("_sdc_deleted_at", "ACTIVATE_VERSION")
    deleted: dict[str, dict[Key, str]] = field(default_factory=dict)

    def apply(self, messages: Iterable[dict[str, t.Any]]) -> None:
        """Load one run's messages in order."""
        for message in messages:
            kind, stream = message["type"], message.get("stream", "")
            if kind == "SCHEMA":
                self.keys[stream] = tuple(message["key_properties"])
                self.columns[stream] = set(message["schema"].get("properties", {}))
            elif kind == "RECORD":
                self._record(stream, message["record"], message.get("version"))
            elif kind == "ACTIVATE_VERSION":
                self._activate(stream, message["version"])

    def _record(self, stream: str, record: Row, version: int | None) -> None:
        key = tuple(record.get(k) for k in self.keys[stream])
        rows = self.rows.setdefault(stream, {})
        if record.get("_sdc_deleted_at"):
            rows.pop(key, None)
            self.deleted.setdefault(stream, {})[key] = "_sdc_deleted_at"
            return
        row = dict(rows.get(key, {}))
        row.update(dict.fromkeys(self.columns.get(stream, ())))
        row.update(record)
        rows[key] = row
        self.versions.setdefault(stream, {})[key] = version
        self.deleted.get(stream, {}).pop(key, None)

    def _activate(self, stream: str, version: int) -> None:
        versions = self.versions.setdefault(stream, {})
        for key in [k for k in self.rows.get(stream, {}) if (versions.get(k) or 0) < version]:
            del self.rows[stream][key]
            self.deleted.setdefault(stream, {})[key] = "ACTIVATE_VERSION"

    def view(self, stream: str) -> dict[Key, Row]:
        """What the models see: current children of per-parent lists, no detail of a deleted session."""
        rows = self.rows.get(stream, {})
        if stream in LIST_PARENT:
            parent_key = LIST_PARENT[stream]
            fetched = {r["parent_id"]: r["fetched_at"] for r in self.rows.get("fetch_log", {}).values() if r["stream"] == stream}
            return {k: r for k, r in rows.items() if r[parent_key] not in fetched or r[FETCHED_AT] >= fetched[r[parent_key]]}
        if stream == "session_details":
            gone = self.deleted.get("sessions", {})
            return {k: r for k, r in rows.items() if (r["id"],) not in gone}
        return rows


# -- what the API holds ---------------------------------------------------------------------------------------------
def api_rows(sim: Simulator, stream: str, start_date: int | None = None) -> list[Row]:
    """The rows `stream` should land, from the simulator's API (tests/expected.py's endpoints), start_date applied.

    Knowledge Hub pages include the archived ones (the tap reads `status=archived` too), and so do their children.
    """
    path, query, parent, key, nested = ENDPOINTS[stream]
    if parent is None:
        rows = served(sim, path, query)
        if stream == "knowledge_hub_pages":
            rows += served(sim, path, {**query, "status": "archived"})
        since = iso(start_date) if start_date is not None and stream in START_FIELD else None
        return [r for r in rows if since is None or r[START_FIELD[stream]] >= since]
    children = []
    for parent_row in api_rows(sim, parent, start_date):
        for row in served(sim, path.format(parent_row["id"]), query):
            row[str(key)] = parent_row["id"]
            if "user_id" in nested:
                row["user_id"] = row["user"]["id"]
            children.append(row)
    return children


def live_keys(sim: Simulator, stream: str, keys: tuple[str, ...]) -> set[Key]:
    """Keys of every row the API still has for `stream`, whatever start_date says."""
    if stream == "session_details":
        return {(s.id,) for s in sim.data.sessions}
    if stream == "fetch_log":
        return set()
    return {tuple(row.get(k) for k in keys) for row in api_rows(sim, stream)}


# -- the soak -------------------------------------------------------------------------------------------------------
@dataclass
class Violation:
    """A broken promise: when, which invariant, what was seen, and the run operations in play that day."""

    day: int
    invariant: str
    detail: str
    context: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        context = f" [{'; '.join(self.context)}]" if self.context else ""
        return f"day {self.day}: {self.invariant}: {self.detail}{context}"


@dataclass
class Soak:
    """One seed's soak: the simulator, the carried state, the model warehouse, and what was found."""

    seed: int
    days: int
    operations: frozenset[str] = OPERATIONS
    sim: Simulator = field(init=False)
    rng: random.Random = field(init=False)
    state: dict[str, t.Any] | None = None
    warehouse: Warehouse = field(default_factory=Warehouse)
    settings: Settings = field(init=False)
    requests_by_day: dict[int, int] = field(default_factory=dict)
    budget_by_day: dict[int, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    runs: int = 0
    kills: int = 0
    map_used: bool = False
    upgrades: dict[int, str] = field(default_factory=dict)  # day -> the earlier release whose state that day's run gets
    #: Sessions deleted upstream, not yet marked, before the tap rebuilt `known` after an upgrade (from the first run
    #: on the older state until its reconciliation has read all history once) whose ids the state did not hold
    #: (hashed `prints`, no `known`): the tap cannot name them, so they may stay unmarked (README "What is not
    #: detected"). Every other deletion, and every other check, holds as without `upgrade`.
    unnameable: set[str] = field(default_factory=set)
    #: Columns evolve added that an upgrade's older state did not remember (`added_columns` before 7e57dbf held variant
    #: columns only, and nothing before a45d0c9): a value landed before stays until a value lands again (README
    #: "What the state holds"), so a leftover value in one of them is not counted.
    forgotten_columns: dict[str, set[str]] = field(default_factory=dict)
    _catalogs: dict[frozenset[str], dict[str, t.Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = self.operations - OPERATIONS
        if unknown:
            msg = f"unknown operations: {', '.join(sorted(unknown))}"
            raise ValueError(msg)
        self.rng = random.Random(self.seed)  # noqa: S311 - a seeded workload, not a secret
        self.settings = first_settings(self.operations)
        if "upgrade" in self.operations and self.days > 1:
            # its own generator: every other draw of the seed stays as it is without `upgrade`
            draw = random.Random(f"upgrade {self.seed}")  # noqa: S311 - a seeded workload
            names = list(SHAPES)
            days = sorted(draw.sample(range(2, self.days + 1), min(2, self.days - 1)))
            self.upgrades = {day: names[(self.seed - 1 + n) % len(names)] for n, day in enumerate(days)}

    def run(self) -> Soak:
        """Every day, then the quiet days, then the warehouse compared with the API; the simulator is stopped after."""
        self.sim = Simulator(small_workspace(self.seed)).start()
        try:
            for day in range(1, self.days + 1):
                self.live_day(plan_day(self.rng, day, self.operations, self.settings))
            for day in range(self.days + 1, self.days + QUIET_DAYS + 1):
                self.live_day(DayPlan(day, quiet=True, notes=["quiet"]))
            self.compare(self.days + QUIET_DAYS)
        finally:
            self.sim.stop()
        return self

    def set_clock(self, day: int, hour: int = 0) -> None:
        """The API's clock at the day's run time (day 1 starts the morning after the seeded data's last instant)."""
        self.sim.clock_offset = EPOCH_NOW + (day - 1) * DAY + RUN_AT + hour * 3600 - time.time()

    def live_day(self, plan: DayPlan) -> None:
        """Apply the day's changes, then run (a killed run is resumed within the hour; a spent budget re-run hourly)."""
        self.set_clock(plan.day)
        for change in plan.changes:
            apply_change(self.rng, self.sim.data, change, self.sim.now())
        self.sim.api.drift = ApiDrift(extra_fields=("scenarios.extra_note",), text_scores=True) if plan.drift else ApiDrift()
        self.budget_by_day[plan.day] = plan.budget
        if plan.day in self.upgrades and self.state is not None:
            self.upgrade(plan, self.upgrades[plan.day])
        result = self.run_day(plan, plan.kill_at, plan.max_requests)
        if result.killed:
            self.kills += 1
            self.set_clock(plan.day, 1)
            result = self.run_day(plan, None, None)
        if plan.hourly_rerun:
            self.set_clock(plan.day, 2)
            self.run_day(plan, None, None)

    def upgrade(self, plan: DayPlan, shape: str) -> None:
        """Today's first run is this release's, with the state `shape`'s release left yesterday."""
        before = self.state or {}
        self.state = older_state(before, shape, self.warehouse)
        kept = self.state.get("variant_columns") or {}
        for stream, columns in (before.get("added_columns") or {}).items():
            self.forgotten_columns.setdefault(stream, set()).update(set(columns) - set(kept.get(stream, ())))
        self.excuse_unnameable()
        plan.notes.append(f"upgrade from {shape} ({SHAPES[shape]})")

    def excuse_unnameable(self) -> None:
        """Sessions gone upstream, still live in the warehouse, that the state cannot name (today's changes are in)."""
        live = {session.id for session in self.sim.data.sessions}
        gone = {key[0] for key in self.warehouse.rows.get("sessions", {})} - live
        self.unnameable |= gone - named_ids(self.state)

    def run_day(self, plan: DayPlan, kill_at: int | None, max_requests: int | None) -> RunResult:
        """One run: messages to the warehouse, state carried, then the invariants checked."""
        recon = ((self.state or {}).get("bookmarks", {}).get("sessions") or {}).get("recon") or {}
        if recon.get(WHOLE):  # `known` is still being rebuilt after an upgrade
            self.excuse_unnameable()
        config = self.config(plan.budget, max_requests)
        before = self.sim.stats.requests
        with api_clock(self.sim):
            result = run_once(config, self.catalog(), self.state, kill_at)
        self.runs += 1
        self.requests_by_day[plan.day] = self.requests_by_day.get(plan.day, 0) + self.sim.stats.requests - before
        self.warehouse.apply(result.messages)
        self.state = result.last_state or self.state
        if result.failure:
            self.violations.append(Violation(plan.day, "run-failed", result.failure[:300], plan.notes))
        self.check_deleted_live(plan)
        if self.requests_by_day[plan.day] > plan.budget:
            detail = f"{self.requests_by_day[plan.day]} requests on the API's day, budget {plan.budget}"
            self.violations.append(Violation(plan.day, "budget", detail, plan.notes))
        return result

    def config(self, budget: int, max_requests: int | None) -> dict[str, t.Any]:
        """The tap's settings for a run of today."""
        s = self.settings
        config = fast_config(
            self.sim,
            page_size=5,
            sessions_lookback_days=LOOKBACK_DAYS,
            per_parent_refresh_days=REFRESH_DAYS,
            daily_request_budget=budget,
            schema_contract=s.schema_contract,
            emit_activate_version_messages=s.activate_version,
            # the API's 60 a minute, so `budget.open` is 100 as against the API (a kill costs what it costs there), in
            # a window short enough that the soak never waits
            max_requests_per_minute=60,
            rate_limit_window_seconds=0.01,
        )
        if s.start_date is not None:
            config["start_date"] = iso(s.start_date)
        if max_requests:
            config["max_requests"] = max_requests
        if s.stream_map:
            config["stream_maps"] = STREAM_MAPS
            self.map_used = True
        return config

    def catalog(self) -> dict[str, t.Any]:
        """The catalog selecting today's streams (discovered once per selection)."""
        chosen = frozenset(self.settings.selected)
        if chosen not in self._catalogs:
            self._catalogs[chosen] = catalog_for(fast_config(self.sim), chosen)
        return self._catalogs[chosen]

    def check_deleted_live(self, plan: DayPlan) -> None:
        """Invariant: a row the API still has is never deleted in the warehouse."""
        for stream, deleted in self.warehouse.deleted.items():
            if not deleted:
                continue
            live = live_keys(self.sim, stream, self.warehouse.keys[stream]) & set(deleted)
            for key in sorted(live, key=str)[:3]:
                detail = f"{stream} {key} is live but deleted by {deleted[key]}"
                self.violations.append(Violation(plan.day, "deleted-live", detail, plan.notes))
            for key in live:  # reported once
                del deleted[key]

    def compare(self, day: int) -> None:
        """Invariant: after the quiet days, every selected stream in the warehouse equals the API."""
        for stream in sorted(self.settings.selected - {"fetch_log"}):
            keys = self.warehouse.keys.get(stream, ("id",))
            expected = {tuple(r.get(k) for k in keys): r for r in api_rows(self.sim, stream, self.settings.start_date)}
            landed = self.warehouse.view(stream)
            live = live_keys(self.sim, stream, keys) if self.settings.start_date is not None else set(expected)
            problems = [f"missing {key}" for key in expected if key not in landed]
            # a full-table row gone upstream leaves the warehouse by ACTIVATE_VERSION only (README "Deletions")
            kept = ENDPOINTS[stream][2] is None and stream not in START_FIELD and not self.settings.activate_version
            problems += [
                f"stale {key}"
                for key, row in landed.items()
                if key not in expected
                and key not in live
                and not kept
                and not self.out_of_scope(stream, row)
                and not (stream in {"sessions", "session_details"} and key[0] in self.unnameable)
            ]
            ignored = MAPPED_FIELDS.get(stream, set()) if self.map_used else set()
            forgotten = self.forgotten_columns.get(stream, set())
            problems += [
                f"{key} {diff}" for key, row in expected.items() if (diff := differs(row, landed.get(key), ignored, forgotten))
            ]
            for problem in problems[:3]:
                self.violations.append(Violation(day, "warehouse", f"{stream}: {problem}", ["quiet"]))
            if len(problems) > 3:
                self.violations.append(Violation(day, "warehouse", f"{stream}: {len(problems) - 3} more differences", ["quiet"]))

    def out_of_scope(self, stream: str, row: Row) -> bool:
        """A row below today's start_date (landed when it was lower): the tap no longer reads it, nor its deletion."""
        moment = row.get("created_at") if stream == "session_details" else row.get(START_FIELD.get(stream, ""))
        return self.settings.start_date is not None and isinstance(moment, str) and moment < iso(self.settings.start_date)

    def summary(self) -> dict[str, t.Any]:
        """Figures for the benchmark: runs, kills, requests, the busiest API day against its budget."""
        busiest = max(self.requests_by_day, key=lambda d: self.requests_by_day[d] / self.budget_by_day[d])
        return {
            "seed": self.seed,
            "runs": self.runs,
            "kills": self.kills,
            "requests": self.sim.stats.requests,
            "max_day_requests": max(self.requests_by_day.values()),
            "busiest_day": busiest,
            "busiest_day_requests": self.requests_by_day[busiest],
            "busiest_day_budget": self.budget_by_day[busiest],
            "violations": len(self.violations),
        }


def differs(expected: Row, landed: Row | None, ignored: set[str], leftover_ok: set[str] | None = None) -> str:
    """The fields whose landed value is not the API's (a leftover non-null column counts), or "" when equal.

    `leftover_ok`: columns whose leftover value (the API no longer serves the field) is not counted.
    """
    if landed is None:
        return ""
    names = [k for k in expected if k not in ignored and _json(expected[k]) != _json(landed.get(k))]
    extra = [
        k
        for k, v in landed.items()
        if k not in expected
        and k not in ignored
        and k not in (leftover_ok or set())
        and v is not None
        and not k.startswith(("_sdc_", "_exec_"))
    ]
    shown = [f"{k}: {landed.get(k)!r:.60} != API {expected.get(k)!r:.60}" for k in names + extra]
    return "; ".join(shown)


def _json(value: t.Any) -> t.Any:
    return json.loads(json.dumps(value))


def soak(seed: int, days: int, operations: Iterable[str] = OPERATIONS) -> Soak:
    """Run one seed's soak and return it (its violations, its figures)."""
    return Soak(seed, days, frozenset(operations)).run()
