"""What each per-parent stream owes: parents that are new, changed or touched since the last run, or still unpaid.

Every listed row passes `observe` once, before it is emitted: a row that is new or differs from what `seen` (or, for
history older than the window, `prints`) remembers makes its own children owed, and a `Touch` makes other
streams' parents owed (a new or regraded session touches its scenario's analytics). Every update of `seen`,
`prints` and `owed` happens before the rows it concerns are emitted, so any STATE message is a consistent
snapshot: a run killed at any point owes at most a few requests again, never a row.

A full pass (first run, newly selected stream, a state without `changes`, every `per_parent_refresh_days`, or a
signal list not read in this run) owes every parent the list shows.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from tap_exec.run.budget import iso, parse_moment
from tap_exec.run.embeds import Embeds
from tap_exec.run.gone import Deletions
from tap_exec.run.history import DETAILS, Marks
from tap_exec.run.memory import FAILED, FIRST, SINCE, Dues, Seen, failure_row, version_of, well_formed
from tap_exec.run.prints import Prints

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from tap_exec.run.protocols import Child, Listing, Mode

CHANGES = "changes"
PRUNE_EVERY = 100  # rows between two prunings of a sorted signal list's `seen`


class ChangeTracker(Deletions):
    """The run's one record of what changed and what is owed, shared by every stream."""

    def __init__(self, streams: Mapping[str, Listing], state: dict[str, t.Any], days: float, now: datetime) -> None:
        self.days = days
        self.now = now
        self.state = state
        self.synced = {name for name, s in streams.items() if s.selected or s.has_selected_descendents}
        #: per-parent stream name -> its parent stream, for every selected per-parent stream
        self.parent_of: dict[str, Listing] = {}
        for stream in streams.values():
            if stream.parent_stream_type is not None and stream.selected:
                self.parent_of[stream.name] = next(s for s in streams.values() if type(s) is stream.parent_stream_type)
        self.children: dict[str, Child] = {name: t.cast("Child", streams[name]) for name in self.parent_of}
        bookmarks = state.get("bookmarks")
        # no change record: never synced, just selected, selected again (deselecting drops it) or an older tap-exec
        self.first_runs = {
            name
            for name in self.children
            if not isinstance(bookmarks, dict) or not isinstance((bookmarks.get(name) or {}).get(CHANGES), dict)
        }
        self.dues: dict[str, Dues] = {}
        self.seen: dict[str, Seen] = {}
        self.prints: dict[str, Prints] = {}
        self.full_passes: dict[str, str] = {}  # per-parent stream -> why it fetches every parent in this run
        self.notes: list[str] = []  # what the tracker decided at the start, for the log
        self.direct: dict[str, tuple[str, str | None]] = {}  # per-parent stream -> the parent it fetches unowed now
        self.on_gone = None
        self.embeds: dict[str, Embeds] = {}  # per-parent stream with a `Touch.embedded` -> what each parent embeds
        #: incremental lists read whole in this run (from `start_date`): a child's full pass must see every parent
        self.relist: dict[str, str] = {}  # list -> the key below which its rows are old, owed only to full passes
        self.clock: Callable[[], datetime] = lambda: now  # the API's clock (Run sets the live one)
        #: Told each `fetch_failures` row (set by the planner when that stream is selected; a plan only looks).
        self.on_failure: Callable[[dict[str, t.Any]], None] | None = None
        self._unfollowed: list[dict[str, t.Any]] = []  # failing parents of streams no longer followed (rows to write)
        self._setup(streams)

    @property
    def enabled(self) -> bool:
        """False when `per_parent_refresh_days` is 0: every parent's children are fetched every run."""
        return self.days > 0

    # -- run start ---------------------------------------------------------------------
    def _setup(self, streams: Mapping[str, Listing]) -> None:
        """Load what earlier runs remembered; drop what no selected stream needs; start full passes that are due."""
        sources = {self.parent_of[name].name for name in self.children} | {
            touch.source for child in self.children.values() for touch in child.touched_by
        }
        sources |= {touch.via[0] for child in self.children.values() for touch in child.touched_by if touch.via}
        self.marking = {name for name, s in streams.items() if getattr(s, "marks_deleted", False) and name in self.synced}
        sources |= self.marking  # lists that tell the target which rows were deleted upstream remember their rows too
        self.feeds = sources  # the lists that decide what per-parent streams fetch (or mark deletions)
        for name, stream in streams.items():
            bookmark = self.state.get("bookmarks", {}).get(name)
            keep = self.enabled and (name in self.children or (name in sources and name in self.synced))
            if not keep:
                if isinstance(bookmark, dict):
                    self._unfollow(name, bookmark.pop(CHANGES, None))
                continue
            changes = stream.stream_state.setdefault(CHANGES, {})
            if not well_formed(changes):
                self.notes.append(f"{name}: the state's change record is malformed; dropped (a full pass follows).")
                changes = stream.stream_state[CHANGES] = {}
            if name in sources:
                self._remember(stream, changes)
            if name in self.children:
                self.dues[name] = Dues(changes)
                self._embeds(name, changes)
        for name, dues in self.dues.items():
            reason = self._full_pass_reason(name, dues)
            if reason:
                self._full_pass(name, reason)

    def _remember(self, stream: Listing, changes: dict[str, t.Any]) -> None:
        """A list whose rows decide what is owed remembers them: `seen`, and `known` when a raw child or marks need it."""
        name = stream.name
        raw = bool(self.raw_children(stream)) or name in self.marking
        prints = Prints(changes) if raw and stream.replication_key and stream.is_sorted else None
        if prints is not None:
            self.prints[name] = prints
            if prints.lost and stream.stream_state.get("replication_key_value"):  # rows were read before: rebuild it
                Marks(stream.stream_state).relearn()
        self.seen[name] = Seen(changes.setdefault("seen", {}), prints, changes)

    def _unfollow(self, name: str, changes: t.Any) -> None:  # noqa: ANN401 - whatever the state held
        """A per-parent stream deselected (or tracking off) forgets its failed parents: their rows say so, once."""
        failed = changes.get(FAILED) if isinstance(changes, dict) else None
        for parent_id, entry in (failed or {}).items() if isinstance(failed, dict) else ():
            if isinstance(entry, dict) and entry.get(FIRST):
                self._unfollowed.append(failure_row(name, parent_id, entry, "dropped", iso(self.now)))

    def _embeds(self, name: str, changes: dict[str, t.Any]) -> None:
        """A stream whose parents embed another list's rows remembers which (run/embeds.py)."""
        field = next((touch.embedded for touch in self.children[name].touched_by if touch.embedded), None)
        if field is None:
            return
        self.embeds[name] = Embeds(changes, field)

    def _full_pass_reason(self, name: str, dues: Dues) -> str | None:
        since = dues.state.get(SINCE)
        if not isinstance(since, str):
            return "no earlier run of this stream in the state"
        embeds = self.embeds.get(name)
        if embeds is not None and not embeds.whole:  # every parent fetched again rebuilds it for what exists
            return "the state's `embeds` is missing (an older tap-exec) or malformed"
        try:
            began = parse_moment(since)
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
        stream = self.parent_of[name]
        bookmark = stream.stream_state.get("replication_key_value")
        if bookmark or (seen is not None and seen.start):  # the parent ran before: a backfill, not today's data
            dues.carried.update(seen.versions if seen else ())
        if bookmark and stream.replication_key and not getattr(stream, "reverse_params", None):
            # an incremental list lists only what changed since its bookmark: read it whole, so every parent is owed
            self.relist[parent] = stream.relisted_from(str(bookmark))
        dues.state[SINCE] = self.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        dues.state.pop("pending", None)
        dues.pending = {}
        self.full_passes[name] = reason
        self.notes.append(f"{name}: fetching for every {parent} row in this run ({reason}).")

    def raw_children(self, parent: Listing) -> list[Child]:
        """The selected per-parent streams of `parent` that fetch raw rows (not the API's aggregates)."""
        return [child for name, child in self.children.items() if self.parent_of[name] is parent and not child.aggregate]

    def first_run_of(self, name: str) -> bool:
        """True when per-parent stream `name` had no change record when the run began (never synced, or just selected)."""
        return name in self.first_runs

    # -- while a list is read ------------------------------------------------------------
    def before_listing(self, stream: Listing) -> None:
        """Owe every parent of a stream whose touches could not all be turned into parents (a `via` row vanished)."""
        for name, dues in self.dues.items():
            if self.parent_of[name] is stream and any(dues.pending.values()):
                self._full_pass(name, "a changed row names parents through a list row this run did not read")

    def observe(self, stream: Listing, row: dict[str, t.Any], mode: Mode = "current") -> bool:
        """Classify one listed row, owe what it changes, and say whether any child of this row is owed.

        `current`: the list as it is read every run (compared with `seen`); `history`: an older row read for the
        first time (its own children owed, nothing touched: the API's aggregates already count it); `recon`: an
        older row read again (compared with `prints`; a changed one is owed and touches like a current one).
        """
        row_id = str(row.get("id"))
        key = row.get(stream.replication_key) if stream.replication_key else None
        seen = self.seen.get(stream.name)
        if seen is not None and mode == "current":
            version = version_of(row, stream.version_fields)
            if key is not None and key < self.relist.get(stream.name, "") and row_id not in seen.versions:
                self._owe_full_passes(stream, row_id, key)  # an old row read again for a full pass: not a change
            elif seen.changed(row_id, version):
                self._owe_for_change(stream.name, row, row_id, key)
            seen.remember(row_id, version, key)
            if stream.name in self.prints:
                self.prints[stream.name].keep(row_id)
            bookmark = stream.stream_state.get("replication_key_value") if stream.is_sorted else None
            if bookmark and len(seen.keys) % PRUNE_EVERY == 0:  # what the sync emitted
                seen.forget_below(stream.relisted_from(str(bookmark)))
            self._release_via(stream.name, row, row_id)
            self._key_owed(stream, row_id, key)
        elif seen is not None:
            self._compare_older(stream, row, row_id, key, mode)
        if mode == "history":
            return False
        if not self.enabled:
            return True
        return any(
            parent is stream and (name not in self.dues or self.dues[name].owes(row_id))
            for name, parent in self.parent_of.items()
        )

    def _owe_full_passes(self, stream: Listing, row_id: str, key: str) -> None:
        """Owe a parent listed only because its list is read whole to the per-parent streams doing a full pass."""
        for name in self.full_passes:
            if self.parent_of[name] is stream:
                self.dues[name].owe((row_id,), key)
                self.dues[name].carried.add(row_id)

    def _key_owed(self, stream: Listing, row_id: str, key: str | None) -> None:
        """Remember the key of a listed parent that is owed (a full pass owes rows before it lists them)."""
        if key is None:
            return
        for name, dues in self.dues.items():
            if self.parent_of[name] is stream and dues.owes(row_id):
                dues.keys[row_id] = key

    def _compare_older(self, stream: Listing, row: dict[str, t.Any], row_id: str, key: str | None, mode: Mode) -> None:
        """A row older than the window: remember its print; in reconciliation, a changed one is owed and touches."""
        prints = self.prints.get(stream.name)
        if prints is None:  # no raw child follows the list: the periodic full pass refreshes aggregates
            return
        version = version_of(row, stream.version_fields)
        if mode == "recon" and prints.changed(row_id, version):
            self._owe_for_change(stream.name, row, row_id, key)
        elif mode == "recon" and not prints.holds(row_id) and not self._cursor_below(stream, key):
            self._owe_own(stream, row_id, key)  # never read before (`start_date` lowered, a lost memory): its raw rows too
        prints.put(row_id, version, key)

    def _owe_own(self, stream: Listing, row_id: str, key: str | None) -> None:
        """Owe an older row's raw children (the API's aggregates already count it, whenever the tap first reads it)."""
        for child in self.raw_children(stream):
            if child.name in self.dues:
                self.dues[child.name].owe((row_id,), key)

    @staticmethod
    def _cursor_below(stream: Listing, key: str | None) -> bool:
        """True when history's details cursor will reach the row at `key` anyway (it walks down from `before`)."""
        before = (stream.stream_state.get(DETAILS) or {}).get("before")
        return isinstance(before, str) and key is not None and key <= before

    def fetch_now(self, child: Listing, row_id: str, key: str | None) -> None:
        """`child` fetches this parent's children now, owed by no one yet (a history row at the details cursor).

        Not in the state, so a stop now leaves it to the cursor, which reads it again; a failure owes it.
        """
        self.direct[child.name] = (row_id, key)

    def _owe_for_change(self, source: str, row: dict[str, t.Any], row_id: str, key: str | None) -> None:
        for name, dues in self.dues.items():
            if self.parent_of[name].name == source:
                dues.owe((row_id,), key)
            for touch in self.children[name].touched_by:
                target = touch.target(row) if touch.source == source else None
                if target is None:
                    continue
                if touch.via:
                    dues.hold(touch.via[0], target)
                elif touch.embedded:  # the parents whose last fetched children embed a copy of this row
                    for parent_id, parent_key in self.embeds[name].parents_of(target):
                        dues.owe((parent_id,), parent_key)
                else:
                    dues.owe((target,))

    def _release_via(self, source: str, row: dict[str, t.Any], row_id: str) -> None:
        for name, dues in self.dues.items():
            for touch in self.children[name].touched_by:
                if touch.via and touch.via[0] == source and dues.release(source, row_id):
                    listed = row.get(touch.via[1]) or []
                    dues.owe(str(item["id"]) for item in listed if isinstance(item, dict) and "id" in item)

    def flush(self) -> None:
        """Bring the state up to date before a STATE message: what is owed, and `known` if it changed.

        `known` goes out with every STATE that follows a change to it: rows that left the window or a reconciliation
        read's flags must never lag behind `seen` or the mark (a kill would lose them, or call them gone). A history
        read writes no STATE but the planner's checkpoints (client.py), which hold its mark and its rows together.
        """
        for dues in self.dues.values():
            dues.flush()
        self._write_failures()
        for prints in self.prints.values():
            prints.flush()

    def _write_failures(self) -> None:
        """Rows of failed parents settled since the last STATE, written before the STATE that forgets them."""
        rows, self._unfollowed = self._unfollowed, []
        now = iso(self.clock())
        for name, dues in self.dues.items():
            rows += [failure_row(name, pid, entry, how, now) for pid, (entry, how) in dues.settled.items()]
            dues.settled.clear()
        if self.on_failure is not None:
            for row in rows:
                self.on_failure(row)

    def failure_rows(self) -> list[dict[str, t.Any]]:
        """A `fetch_failures` row for every parent still failing (written every run while it fails)."""
        return [failure_row(name, pid, entry) for name, dues in self.dues.items() for pid, entry in dues.failing().items()]

    # -- per-parent streams --------------------------------------------------------------
    def owes(self, child: Listing, context: dict[str, t.Any] | None) -> bool:
        """True when `child` must fetch the children of the parent in `context`."""
        dues = self.dues.get(child.name)
        parent_id = self.parent_id(child, context)
        return dues is None or dues.owes(parent_id) or self.direct.get(child.name, ("",))[0] == parent_id

    def record(self, child: Listing, context: Mapping[str, t.Any] | None, record: dict[str, t.Any]) -> None:
        """`child` fetched one record of the parent in `context` (what it embeds is remembered once all are in)."""
        embeds = self.embeds.get(child.name)
        if embeds is not None:
            embeds.listed(self.parent_id(child, dict(context or {})), record)

    def paid(self, child: Listing, context: dict[str, t.Any] | None) -> None:
        """`child` fetched the parent's children (or the parent is gone): no longer owed."""
        dues = self.dues.get(child.name)
        if dues is not None:
            parent_id = self.parent_id(child, context)
            if child.name in self.embeds:
                self.embeds[child.name].fetched(parent_id, dues.keys.get(parent_id))
            dues.paid(parent_id)

    def failed(self, child: Listing, context: dict[str, t.Any] | None, error: str, *, report: bool = True) -> None:
        """`child` could not fetch the parent's children: owed to the next run, with one more try counted.

        `report` False: not a failure of this run (a 404 that the next read of a full list settles).
        """
        dues = self.dues.get(child.name)
        if dues is not None:
            parent_id = self.parent_id(child, context)
            if child.name in self.embeds:
                self.embeds[child.name].failed(parent_id)
            direct = self.direct.get(child.name, ("", None))
            key = direct[1] if direct[0] == parent_id else None
            dues.fail(parent_id, error, key, report=report, now=iso(self.clock()))

    def tried(self, child: Listing, context: dict[str, t.Any] | None) -> bool:
        """True when an earlier try of this parent's children failed."""
        dues = self.dues.get(child.name)
        return dues is not None and self.parent_id(child, context) in dues.failed

    def parent_id(self, child: Listing, context: dict[str, t.Any] | None) -> str:
        """The parent id in a per-parent stream's context."""
        return str((context or {}).get(str(self.parent_of[child.name].child_key)))
