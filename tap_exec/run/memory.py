"""What a run remembers between runs, per stream, under its bookmark's `changes` key.

- `seen` (a signal list: sessions, scenarios, skills, pages, sources): a short version of every row the next run can
  list again (sessions in the lookback window, pages at the bookmark, whole small catalogues);
- `known` (sessions older than the lookback window: run/prints.py), and `from`, the lowest key `seen` covers;
- `owed` (a per-parent stream): parents whose children are due, in the order they became due, with `keys` (their
  replication key value, for parents of incremental lists), `failed` (parents whose children failed: tries, the
  last error, when they first and last failed and on how many API days) and `pending` (rows of a `via` list a
  change touched); `since`: when its last full pass began.
"""

from __future__ import annotations

import hashlib
import typing as t
from collections import deque

import msgspec

from tap_exec.run.prints import PRINTS

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_exec.run.prints import Prints

SEEN, OWED, KEYS, FAILED, PENDING, SINCE = "seen", "owed", "keys", "failed", "pending", "since"
FROM = "from"  # the lowest key `seen` covers: the next run's read starts there
SEEN_COUNT = "seen_count"  # how many rows `seen` held when `from` was written
FIRST, LAST, DAYS = "first", "last", "days"  # a failed parent: first and last failure (the API's clock), API days failing
#: A parent whose children failed on this many distinct API days needs a human: the tap says so (README).
NEEDS_A_HUMAN_DAYS = 7


def version_of(row: dict[str, t.Any], fields: tuple[str, ...] | None) -> str:
    """A short digest of the whole row (`fields` None) or of some fields; '' when only new rows count."""
    if fields == ():
        return ""
    value = row if fields is None else [row.get(name) for name in fields]
    return hashlib.blake2b(msgspec.json.encode(value, order="sorted"), digest_size=4).hexdigest()


class Seen:
    """A signal list's memory: the version of each row a later run may list again."""

    def __init__(self, versions: dict[str, str], prints: Prints | None = None, record: dict[str, t.Any] | None = None) -> None:
        self.versions = versions  # the dict inside the state, updated in place
        self.prints = prints  # where rows that leave the window go, when reconciliation needs them
        self.record = {} if record is None else record  # the stream's `changes`, where the window's lower key is kept
        self.start = set(versions)  # the rows the last run left, every one at or above its `from`
        # as many rows as that run left: a partial state merged over an older one (Meltano) brings back rows that aged out
        whole = self.record.get(SEEN_COUNT) == len(versions)
        self.window_from = self.record.get(FROM) if whole else None
        self.keys: dict[str, str | None] = {}  # replication key value of each row seen in this run (pruned)
        self.listed: set[str] = set()  # every row this run's current read listed (never pruned: what proves a row gone)
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
        self.listed.add(row_id)
        if key is not None:
            self._order.append((key, row_id))
            if self.newest is None or key > self.newest:
                self.newest = key

    def forget_below(self, lower: str) -> None:
        """Rows of this run older than `lower` leave the window (sorted lists: the next run cannot list them again)."""
        while self._order and self._order[0][0] < lower:
            key, row_id = self._order.popleft()
            if self.keys.get(row_id) == key:
                del self.keys[row_id]
                self._retire(row_id, self.versions.pop(row_id, None), key)

    def finish(self, lower: str | None) -> None:
        """After a complete listing keep only rows seen in it (at or above `lower`): the rest vanished or aged out."""
        keep = {row_id: self.versions[row_id] for row_id, key in self.keys.items() if not lower or not key or key >= lower}
        for row_id, version in self.versions.items():
            if row_id not in keep:  # aged out, or not listed (gone, or below a narrower read): reconciliation decides
                self._retire(row_id, version, self.keys.get(row_id))
        self.versions.clear()
        self.versions.update(keep)
        if lower:
            self.record[FROM] = lower
        else:
            self.record.pop(FROM, None)
        self.record[SEEN_COUNT] = len(self.versions)

    def vanished(self, covered_from: str | None) -> list[str]:
        """Rows the last run left that this complete read did not list, when it read all of their range."""
        if covered_from is None or not isinstance(self.window_from, str) or covered_from > self.window_from:
            return []  # a narrower read (a shorter lookback): what it did not list may lie below it
        return [row_id for row_id in self.start if row_id not in self.listed]

    def forget(self, row_id: str) -> None:
        """A row found gone after the window's read (a detail's 404): the next run does not find it gone again."""
        if self.versions.pop(row_id, None) is not None and SEEN_COUNT in self.record:
            self.record[SEEN_COUNT] = len(self.versions)

    def hold(self, versions: dict[str, str]) -> None:
        """Rows found gone whose deletion could not be written: back in the window, so the next run finds them again."""
        self.versions.update(versions)
        self.record[SEEN_COUNT] = len(self.versions)
        for row_id in versions:
            if self.prints is not None:
                self.prints.forget(row_id)  # `finish` retired them there

    def _retire(self, row_id: str, version: str | None, key: str | None) -> None:
        if self.prints is not None and version is not None:
            self.prints.put(row_id, version, key)


class Dues:
    """What one per-parent stream still owes: parent ids in the order they became due, their failures, held touches."""

    def __init__(self, state: dict[str, t.Any]) -> None:
        self.state = state  # the stream's `changes` dict inside the state, updated in place (`flush`)
        self._owed: dict[str, None] = dict.fromkeys(state.get(OWED) or [])  # ordered, O(1) to pay
        self.keys: dict[str, str] = state.setdefault(KEYS, {})
        self.failed: dict[str, dict[str, t.Any]] = state.setdefault(FAILED, {})
        self.pending: dict[str, list[str]] = state.get(PENDING) or {}
        self.carried = set(self._owed)  # owed by earlier runs
        #: failed parents settled in this run (their failure entry and how: fetched, gone), not yet written out
        self.settled: dict[str, tuple[dict[str, t.Any], str]] = {}
        self.tried_this_run: set[str] = set()  # failed in this run, reported or not: not tried again until the next
        self.flush()

    def __len__(self) -> int:
        return len(self._owed)

    def owe(self, parent_ids: Iterable[str], key: str | None = None) -> None:
        """Add parents whose children are due (`key`: their replication key value, for an incremental parent)."""
        for parent_id in parent_ids:
            self._owed.setdefault(parent_id)
            if key is not None:
                self.keys[parent_id] = key

    def owes(self, parent_id: str) -> bool:
        """True while the parent's children are due."""
        return parent_id in self._owed

    def paid(self, parent_id: str, how: str = "fetched") -> None:
        """The parent's children were fetched (or the parent is gone: `how`)."""
        self._owed.pop(parent_id, None)
        self.keys.pop(parent_id, None)
        entry = self.failed.pop(parent_id, None)
        if entry is not None and entry.get(FIRST):
            self.settled[parent_id] = (entry, how)

    def drop(self, parent_ids: Iterable[str]) -> None:
        """Forget owed parents that are gone upstream."""
        for parent_id in list(parent_ids):
            self.paid(parent_id, "gone")

    def fail(self, parent_id: str, error: str, key: str | None = None, *, report: bool = True, now: str = "") -> None:
        """The parent's children could not be fetched: still owed, one more try counted.

        `report` (a failure now, not a 404 the next read of a full list settles): dated `now` (the API's clock), and
        one more API day counted when the last failure was on another day.
        """
        self.owe((parent_id,), key)
        entry = self.failed.setdefault(parent_id, {"tries": 0})
        entry["tries"] = int(entry.get("tries", 0)) + 1
        entry["error"] = error
        self.tried_this_run.add(parent_id)
        self.settled.pop(parent_id, None)
        if report and now:
            entry.setdefault(FIRST, now)
            if str(entry.get(LAST, ""))[:10] != now[:10]:
                entry[DAYS] = int(entry.get(DAYS, 0)) + 1
            entry[LAST] = now

    def failing(self) -> dict[str, dict[str, t.Any]]:
        """Parents whose children failed in this run or an earlier one, and are still owed (a 404 not yet settled aside)."""
        return {parent_id: entry for parent_id, entry in self.failed.items() if entry.get(FIRST)}

    def queue(self, *, oldest_debt_first: bool = False) -> list[str]:
        """Owed parents in the order to fetch them: this run's newest first, then earlier runs', failed ones last.

        `oldest_debt_first` (the aggregates, refreshed whole each time): earlier runs' first, so a parent touched every
        day on a budget too short for all of them is not passed over day after day.
        """
        latest_first = list(self._owed)[::-1]  # the sort is stable: ties (no key) stay latest first
        ordered = sorted(latest_first, key=lambda p: self.keys.get(p, ""), reverse=True)  # newest key first
        fresh = [p for p in ordered if p not in self.carried]
        older = [p for p in ordered if p in self.carried]
        both = older[::-1] + fresh if oldest_debt_first else fresh + older
        return [p for p in both if p not in self.failed] + [p for p in both if p in self.failed]

    def flush(self) -> None:
        """Write the owed parents into the state (before a STATE message)."""
        self.state[OWED] = list(self._owed)

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


def failure_row(
    stream: str, parent_id: str, entry: dict[str, t.Any], resolution: str | None = None, resolved_at: str | None = None
) -> dict[str, t.Any]:
    """The `fetch_failures` row of one failed parent: still failing (`resolution` None), or how and when it was settled."""
    days = int(entry.get(DAYS, 0))
    return {
        "stream": stream,
        "parent_id": parent_id,
        "first_failed_at": entry.get(FIRST),
        "last_failed_at": entry.get(LAST),
        "tries": int(entry.get("tries", 0)),
        "days_failing": days,
        "last_error": entry.get("error"),
        "needs_attention": resolution is None and days >= NEEDS_A_HUMAN_DAYS,
        "resolution": resolution,
        "resolved_at": resolved_at,
    }


def well_formed(changes: t.Any) -> bool:  # noqa: ANN401 - whatever the state holds
    """True when a stream's `changes` record has the shape this package writes."""

    def strings(value: t.Any) -> bool:  # noqa: ANN401
        return isinstance(value, list) and all(isinstance(item, str) for item in value)

    def mapping(value: t.Any, kind: type) -> bool:  # noqa: ANN401
        return value is None or (isinstance(value, dict) and all(isinstance(v, kind) for v in value.values()))

    if not isinstance(changes, dict):
        return False
    owed, pending, since, prints = (changes.get(key) for key in (OWED, PENDING, SINCE, PRINTS))
    if changes.get(FROM) is not None and not isinstance(changes.get(FROM), str):
        return False
    if changes.get(SEEN_COUNT) is not None and not isinstance(changes.get(SEEN_COUNT), int):
        return False
    return (
        mapping(changes.get(SEEN), str)
        and mapping(changes.get(KEYS), str)
        and mapping(changes.get(FAILED), dict)
        and (owed is None or strings(owed))
        and (pending is None or (isinstance(pending, dict) and all(strings(v) for v in pending.values())))
        and (since is None or isinstance(since, str))
        and (prints is None or isinstance(prints, str))
    )
