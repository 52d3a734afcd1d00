"""Change-driven syncs: a per-parent stream fetches children only for parents that are new, changed or touched.

What a run remembers lives in the streams' own bookmarks, under `changes`:

- a *signal* stream (a list whose rows decide what is owed: sessions, scenarios, skills, pages, sources) keeps
  `seen`, a short version of every row the next run can list again (sessions inside the lookback window, pages
  at the bookmark, whole small catalogues), so a row listed again unchanged costs nothing;
- a *per-parent* stream keeps `owed`, the parents whose children are due and not yet fetched (a stopped run
  leaves them to the next, which fetches them as its lists reach them), `pending` (rows of a `via` list that a
  change touched, not yet turned into parents) and `since`, when its last full pass began.

A full pass (first run, newly selected stream, a state without `changes`, every `per_parent_refresh_days`, or a
signal stream that is not read in this run) owes every parent; otherwise a parent is owed when its row is new or
its version differs from `seen`, or when a `Touch` marks it (a new or regraded session touches its scenario).
Every update of `seen` and `owed` happens together, before the rows it concerns are emitted, so any STATE
message is a consistent snapshot: a run killed at any point owes at most a few requests again, never a row.
"""

from __future__ import annotations

import hashlib
import time
import typing as t
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context, Record

    from tap_exec.client import ExecChildStream, ExecStream
    from tap_exec.tap import TapExec

CHANGES = "changes"
SEEN, OWED, PENDING, SINCE = "seen", "owed", "pending", "since"
CHECKPOINT_SECONDS = 60.0  # a STATE message at least this often while children are fetched
PRUNE_EVERY = 100  # rows between two prunings of a sorted signal stream's `seen`


@dataclass(frozen=True)
class Touch:
    """New or changed rows of `source` make owed the parent whose id is at `path` in the row.

    With `via=(stream, field)`, the id at `path` names a row of `stream` whose `field` lists the parents
    (a session's scenario evaluates skills: `Touch("sessions", "scenario.id", via=("scenarios", "skills"))`).
    """

    source: str
    path: str
    via: tuple[str, str] | None = None

    def target(self, row: Record) -> str | None:
        """The id this touch names in `row`."""
        value: t.Any = row
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else None


def version_of(row: Record, fields: tuple[str, ...] | None) -> str:
    """A short digest of the whole row (`fields` None) or of some fields; '' when only new rows count."""
    if fields == ():
        return ""
    value = row if fields is None else [row.get(name) for name in fields]
    return hashlib.blake2b(msgspec.json.encode(value, order="sorted"), digest_size=4).hexdigest()


class Seen:
    """A signal stream's memory: the version of each row a later run may list again."""

    def __init__(self, versions: dict[str, str]) -> None:
        self.versions = versions  # the dict inside the state, updated in place
        self.keys: dict[str, str | None] = {}  # replication key value of each row seen in this run
        self._order: deque[tuple[str, str]] = deque()
        self.newest: str | None = None
        self.remembered = len(versions)  # rows the last run left to recognise
        self.changes = 0  # rows of this run that were new or changed

    def changed(self, row_id: str, version: str) -> bool:
        """True for a row that is new or differs from its remembered version."""
        if self.versions.get(row_id) == version:
            return False
        self.changes += 1
        return True

    def remember(self, row_id: str, version: str, key: str | None) -> None:
        """Record the version a row has now."""
        self.versions[row_id] = version
        self.keys[row_id] = key
        if key is not None:
            self._order.append((key, row_id))
            if self.newest is None or key > self.newest:
                self.newest = key

    def forget_below(self, lower: str) -> None:
        """Drop rows of this run older than `lower` (sorted lists: the next run cannot list them again)."""
        while self._order and self._order[0][0] < lower:
            key, row_id = self._order.popleft()
            if self.keys.get(row_id) == key:
                del self.keys[row_id]
                self.versions.pop(row_id, None)

    def finish(self, lower: str | None) -> None:
        """After a complete listing keep only rows seen in it (at or above `lower`): the rest vanished or aged out."""
        keep = {row_id: self.versions[row_id] for row_id, key in self.keys.items() if not lower or not key or key >= lower}
        self.versions.clear()
        self.versions.update(keep)


class Dues:
    """What one per-parent stream still owes: parent ids, touched rows of a `via` list, and its last full pass."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        self.state = state  # the stream's `changes` dict inside the state, updated in place
        self.owed: list[str] = state.setdefault(OWED, [])
        self._owed = set(self.owed)
        self.pending: dict[str, list[str]] = state.get(PENDING) or {}

    def owe(self, parent_ids: Iterable[str]) -> None:
        """Add parents whose children are due."""
        for parent_id in parent_ids:
            if parent_id not in self._owed:
                self._owed.add(parent_id)
                self.owed.append(parent_id)

    def owes(self, parent_id: str) -> bool:
        """True while the parent's children are due."""
        return parent_id in self._owed

    def paid(self, parent_id: str) -> None:
        """The parent's children were fetched (or the parent is gone)."""
        if parent_id in self._owed:
            self._owed.discard(parent_id)
            self.owed.remove(parent_id)

    def drop(self, parent_ids: Iterable[str]) -> None:
        """Forget owed parents that are gone upstream."""
        for parent_id in parent_ids:
            self.paid(parent_id)

    def hold(self, via: str, row_id: str) -> None:
        """Remember a touched row of the `via` list until that list says which parents it names."""
        self.state[PENDING] = self.pending
        held = self.pending.setdefault(via, [])
        if row_id not in held:
            held.append(row_id)

    def release(self, via: str, row_id: str) -> bool:
        """Forget a touched `via` row; True if it was held."""
        held = self.pending.get(via, [])
        if row_id not in held:
            return False
        held.remove(row_id)
        return True


class ChangeTracker:
    """The run's one record of what changed and what is owed, shared by every stream."""

    def __init__(self, tap: TapExec) -> None:
        self.tap = tap
        self.days = float(tap.config.get("per_parent_refresh_days", 7))
        self.now = datetime.now(timezone.utc)
        streams = t.cast("dict[str, ExecStream]", tap.streams)
        self.synced = {name for name, s in streams.items() if s.selected or s.has_selected_descendents}
        #: per-parent stream name -> its parent stream, for every selected per-parent stream
        self.parent_of: dict[str, ExecStream] = {}
        for stream in streams.values():
            if stream.parent_stream_type is not None and stream.selected:
                self.parent_of[stream.name] = next(s for s in streams.values() if type(s) is stream.parent_stream_type)
        self.children: dict[str, ExecChildStream] = {name: t.cast("ExecChildStream", streams[name]) for name in self.parent_of}
        self.dues: dict[str, Dues] = {}
        self.seen: dict[str, Seen] = {}
        self.full_passes: dict[str, str] = {}  # per-parent stream -> why it fetches every parent in this run
        #: incremental lists read from `start_date` in this run, not from the bookmark: a per-parent stream selected
        #: for the first time owes children for every row, and only a whole list names rows older than the lookback
        self.relisted: set[str] = set()
        self._last_checkpoint = time.monotonic()
        self._setup(streams)

    @property
    def enabled(self) -> bool:
        """False when `per_parent_refresh_days` is 0: every parent's children are fetched every run."""
        return self.days > 0

    # -- run start ---------------------------------------------------------------------
    def _setup(self, streams: dict[str, ExecStream]) -> None:
        """Load what earlier runs remembered; drop what no selected stream needs; start full passes that are due."""
        sources = {self.parent_of[name].name for name in self.children} | {
            touch.source for child in self.children.values() for touch in child.touched_by
        }
        sources |= {touch.via[0] for child in self.children.values() for touch in child.touched_by if touch.via}
        self.feeds = sources  # the lists that decide what per-parent streams fetch (read ahead, lookahead.py)
        self._relist_for_new_streams()
        for name, stream in streams.items():
            bookmark = self.tap.state.get("bookmarks", {}).get(name)
            keep = self.enabled and (name in self.children or (name in sources and name in self.synced))
            if not keep:
                if isinstance(bookmark, dict):
                    bookmark.pop(CHANGES, None)
                continue
            changes = stream.stream_state.setdefault(CHANGES, {})
            if not _well_formed(changes):
                self.tap.logger.warning("%s: the state's change record is malformed; dropped (a full pass follows).", name)
                changes = stream.stream_state[CHANGES] = {}
            if name in sources:
                self.seen[name] = Seen(changes.setdefault(SEEN, {}))
            if name in self.children:
                self.dues[name] = Dues(changes)
        for name, dues in self.dues.items():
            reason = self._full_pass_reason(name, dues)
            if reason:
                self._full_pass(name, reason)

    def _relist_for_new_streams(self) -> None:
        """A per-parent stream with no state yet, under an incremental parent that has a bookmark: list it whole."""
        bookmarks = self.tap.state.get("bookmarks", {})
        for name, parent in self.parent_of.items():
            if name not in bookmarks and isinstance(bookmarks.get(parent.name), dict) and parent.replication_key:
                self.relisted.add(parent.name)
                self.tap.logger.info(
                    "%s: first run of this stream; %s is read from start_date, not the bookmark.", name, parent.name
                )

    def _full_pass_reason(self, name: str, dues: Dues) -> str | None:
        since = dues.state.get(SINCE)
        if not isinstance(since, str):
            return "no earlier run of this stream in the state"
        try:
            began = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            return "the state's `since` is unreadable"
        if self.now - began >= timedelta(days=self.days):
            return f"the last full pass began {since}, {self.days:g}+ days ago (per_parent_refresh_days)"
        missing = [touch.source for touch in self.children[name].touched_by if touch.source not in self.synced]
        if missing:
            return f"`{missing[0]}` is not read in this run, so its changes cannot be followed"
        return None

    def _full_pass(self, name: str, reason: str) -> None:
        """Owe every parent: those `seen` remembers now; any other listed later is new to `seen`, so owed then."""
        dues = self.dues[name]
        parent = self.parent_of[name].name
        seen = self.seen.get(parent)
        dues.owe(seen.versions if seen else ())
        dues.state[SINCE] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        dues.state.pop(PENDING, None)
        dues.pending = {}
        self.full_passes[name] = reason
        self.tap.logger.info("%s: fetching for every %s row in this run (%s).", name, parent, reason)

    # -- while a signal or parent stream lists its rows -----------------------------------
    def before_listing(self, stream: ExecStream) -> None:
        """Owe every parent of a stream whose touches could not all be turned into parents (a `via` row vanished)."""
        for name, dues in self.dues.items():
            if self.parent_of[name] is stream and any(dues.pending.values()):
                self._full_pass(name, "a changed row names parents through a list row this run did not read")

    def observe(self, stream: ExecStream, row: Record) -> bool:
        """Classify one listed row, owe what it changes, and say whether any child of this row is owed."""
        if stream.name not in self.feeds:  # no selected per-parent stream follows this list: nothing to classify
            return not self.enabled
        row_id = str(row.get("id"))
        seen = self.seen.get(stream.name)
        if seen is not None:
            version = version_of(row, stream.version_fields)
            if seen.changed(row_id, version):
                self._owe_for_change(stream.name, row, row_id)
            seen.remember(row_id, version, row.get(stream.replication_key) if stream.replication_key else None)
            bookmark = stream.stream_state.get("replication_key_value") if stream.is_sorted else None
            if bookmark and len(seen.keys) % PRUNE_EVERY == 0:  # what the sync emitted, not what was read ahead
                seen.forget_below(stream.relisted_from(str(bookmark)))
            self._release_via(stream.name, row, row_id)
        if not self.enabled:
            return True
        return any(
            parent is stream and (name not in self.dues or self.dues[name].owes(row_id))
            for name, parent in self.parent_of.items()
        )

    def _owe_for_change(self, source: str, row: Record, row_id: str) -> None:
        for name, dues in self.dues.items():
            if self.parent_of[name].name == source:
                dues.owe((row_id,))
            for touch in self.children[name].touched_by:
                target = touch.target(row) if touch.source == source else None
                if target is None:
                    continue
                if touch.via:
                    dues.hold(touch.via[0], target)
                else:
                    dues.owe((target,))

    def _release_via(self, source: str, row: Record, row_id: str) -> None:
        for name, dues in self.dues.items():
            for touch in self.children[name].touched_by:
                if touch.via and touch.via[0] == source and dues.release(source, row_id):
                    listed = row.get(touch.via[1]) or []
                    dues.owe(str(item["id"]) for item in listed if isinstance(item, dict) and "id" in item)

    def after_listing(self, stream: ExecStream) -> None:
        """A complete listing: settle what it decided, and fetch the owed children of parents it did not list."""
        for name, parent_ids in self.settle(stream).items():
            key = str(stream.child_key)
            for parent_id in parent_ids:
                self.children[name].sync(context={key: parent_id})

    def settle(self, stream: ExecStream) -> dict[str, list[str]]:
        """After a complete listing: forget rows the next run cannot list again; owed parents it did not list.

        Owed parents are fetched when the listing reaches them, after their row is read, so a row that changes
        later shows as changed in the next run. A full list that did not include an owed parent no longer has
        it (dropped, no request); an incremental one may simply not list it again (outside its window).
        """
        seen = self.seen.get(stream.name)
        if seen is not None:
            seen.finish(stream.relisted_from(seen.newest) if seen.newest else None)
        listed = seen.keys if seen is not None else {}
        unlisted = {}
        for name, dues in self.dues.items():
            if self.parent_of[name] is stream and dues.owed:
                missing = [parent_id for parent_id in dues.owed if parent_id not in listed]
                if stream.replication_key is None:
                    dues.drop(missing)
                elif missing:
                    unlisted[name] = missing
        return unlisted

    def owed_count(self, name: str) -> int | None:
        """How many parents `name` owes now; None when it fetches every parent (tracking off)."""
        dues = self.dues.get(name)
        return None if dues is None else len(dues.owed)

    def reason(self, name: str) -> str | None:
        """Why `name` fetches every parent in this run, if it does."""
        return self.full_passes.get(name)

    # -- per-parent streams --------------------------------------------------------------
    def owes(self, child: ExecChildStream, context: Context | None) -> bool:
        """True when `child` must fetch the children of the parent in `context`."""
        dues = self.dues.get(child.name)
        return dues is None or dues.owes(self._parent_id(child, context))

    def paid(self, child: ExecChildStream, context: Context | None) -> None:
        """`child` fetched the parent's children: no longer owed; a STATE message if one is due."""
        dues = self.dues.get(child.name)
        if dues is None:
            return
        dues.paid(self._parent_id(child, context))
        if time.monotonic() - self._last_checkpoint >= CHECKPOINT_SECONDS:
            self._last_checkpoint = time.monotonic()
            self.tap.state_writer.write_state(self.tap.state)

    def _parent_id(self, child: ExecChildStream, context: Context | None) -> str:
        return str((context or {}).get(str(self.parent_of[child.name].child_key)))


def _well_formed(changes: t.Any) -> bool:  # noqa: ANN401 - whatever the state holds
    """True when a stream's `changes` record has the shape this module writes."""

    def strings(value: t.Any) -> bool:  # noqa: ANN401
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    if not isinstance(changes, dict):
        return False
    seen, owed, pending, since = (changes.get(key) for key in (SEEN, OWED, PENDING, SINCE))
    return (
        (seen is None or (isinstance(seen, dict) and all(isinstance(v, str) for v in seen.values())))
        and (owed is None or strings(owed))
        and (pending is None or (isinstance(pending, dict) and all(strings(v) for v in pending.values())))
        and (since is None or isinstance(since, str))
    )
