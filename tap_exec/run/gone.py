"""Rows proven deleted upstream: forgotten by the tracker, and told to the stream, which tells the target.

Proof comes from a complete read: a window read that no longer lists a row the last run left (memory.Seen), a key
range that no longer lists an owed parent, a 404 whose list no longer has the parent, or a reconciliation pass that
never read a row it holds (prints.Prints). A list that moved while read proves nothing (pagination.ListPaginator).
"""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from tap_exec.run.embeds import Embeds
    from tap_exec.run.memory import Dues, Seen
    from tap_exec.run.prints import Prints
    from tap_exec.run.protocols import Listing


class Deletions:
    """The change tracker's part that settles deletions (mixed into owed.ChangeTracker, which owns the state)."""

    dues: dict[str, Dues]
    parent_of: dict[str, Listing]
    prints: dict[str, Prints]
    embeds: dict[str, Embeds]
    marking: set[str]  # lists whose deleted rows are sent to the target (`marks_deleted`)
    #: Told of rows found deleted upstream (set by the planner: a plan only looks).
    on_gone: t.Callable[[Listing, list[str]], None] | None = None
    seen: dict[str, Seen]

    def settle(self, stream: Listing, covered_from: str | None = None, *, proven: bool = True) -> None:
        """After a complete listing: forget rows the next run cannot list again, and owed parents that are gone.

        A full list that does not include an owed parent no longer has it; an incremental one only proves it for
        parents whose key lies in the range it read (`covered_from` on); older ones stay owed. A list that moved on
        every read (`proven` False) proves nothing gone: its owed parents stay owed.
        """
        seen = self.seen.get(stream.name)
        gone: list[str] = []
        held: dict[str, str] = {}
        if seen is not None:
            gone = seen.vanished(covered_from) if proven and stream.replication_key else []
            held = {row_id: seen.versions[row_id] for row_id in gone if row_id in seen.versions}
            seen.finish(stream.relisted_from(seen.newest) if seen.newest else None)
        listed = seen.listed if seen is not None else set()
        for name, dues in self.dues.items():
            if self.parent_of[name] is not stream or not len(dues) or not proven:
                continue
            if stream.replication_key is None:
                dues.drop(p for p in dues.queue() if p not in listed)
            elif covered_from is not None:  # paid in `vanished`, once the target was told
                gone += [p for p in dues.queue() if p not in listed and dues.keys.get(p, "") >= covered_from]
        try:
            self.vanished(stream, gone)
        except Exception:
            if seen is not None:
                seen.hold(held)  # not written: the next run's window read finds them gone again
            raise

    def gone(self, stream: Listing, low: str, high: str, listed: set[str]) -> None:
        """A complete read of `stream` of the keys strictly between `low` and `high` did not list these owed parents."""
        gone: list[str] = []
        for name, dues in self.dues.items():
            if self.parent_of[name] is stream:
                gone += [p for p in dues.queue() if p not in listed and p in dues.keys and low < dues.keys[p] < high]
        self.vanished(stream, gone)

    def vanished(self, stream: Listing, row_ids: t.Iterable[str]) -> None:
        """Rows of `stream` proven deleted upstream: the target told (a list that marks deletions), then forgotten.

        In that order: a deletion that could not be written stays owed or known, so a later run marks it again.
        """
        gone = sorted(set(row_ids))
        if not gone:
            return
        if stream.name in self.marking and self.on_gone is not None:
            self.on_gone(stream, gone)
        prints, seen = self.prints.get(stream.name), self.seen.get(stream.name)
        owing = [name for name in self.dues if self.parent_of[name] is stream]
        for row_id in gone:
            for name in owing:
                if name in self.embeds:
                    self.embeds[name].fetched(row_id, None)  # a gone parent embeds nothing
                self.dues[name].paid(row_id, "gone")
            if prints is not None:
                prints.forget(row_id)
            if seen is not None:
                seen.forget(row_id)

    def begin_pass(self, stream: Listing, start: str = "") -> None:
        """A reconciliation pass of `stream`'s history starts, from `start_date` `start` ('' none)."""
        if stream.name in self.prints:
            self.prints[stream.name].begin_pass(start)

    def end_pass(self, stream: Listing, *, proven: bool = True, read_from: str = "", start: str = "") -> None:
        """A reconciliation pass read the whole history: rows it never listed are gone (`proven`), or parked.

        Parked rows (read under a `start_date` no lower than `read_from`) are kept, never marked, until a pass from
        that low reads again every one of them that exists.
        """
        if stream.name in self.prints:
            self.vanished(stream, self.prints[stream.name].end_pass(proven=proven, read_from=read_from, start=start))
