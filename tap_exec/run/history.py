"""History and reconciliation of a list read newest first: where each stands, how much a run reads, what it proves.

History is read once, below the first run's window, newest first, so dashboards fill from today backwards; its
mark (`before`: the key of the oldest row emitted, `ids`: the rows emitted at that key) makes it resumable after
any stop. Once it is complete, reconciliation re-reads it in slices of `ceil(rows / page_size / days)` pages a run
(`days`: `per_parent_refresh_days`), so every older row is checked again about every `days` runs: a changed row (a
late regrade) is emitted again and its children and aggregates are owed. A complete read of a key range also
proves which owed parents in it are gone.
"""

from __future__ import annotations

import math
import typing as t
from datetime import timedelta

from tap_exec.run.budget import iso, parse_moment

if t.TYPE_CHECKING:
    from tap_exec.run.owed import ChangeTracker
    from tap_exec.run.protocols import Listing, Mode

HISTORY: t.Final = "history"
RECON: t.Final = "recon"
WHOLE: t.Final = "whole"  # a reconciliation mark reading all history in one run: `known` is rebuilt
DETAILS: t.Final = "details"  # the raw children of history rows, fetched newest first after the history list
CURRENT_DAYS = 7  # a first run reads the last week as today's data, the rest as history


class Marks:
    """The history and reconciliation marks in one stream's bookmark."""

    def __init__(self, stream_state: dict[str, t.Any]) -> None:
        self.state = stream_state

    def get(self, mode: str) -> dict[str, t.Any]:
        """The mark of `history` or `recon` (empty when there is none)."""
        mark = self.state.get(mode)
        return mark if isinstance(mark, dict) else {}

    def begin(self, mode: str, before: str) -> None:
        """Start reading below `before` (inclusive), unless a read is already under way."""
        mark = self.state.setdefault(mode, {})
        if not mark.get("before") and not mark.get("done"):
            mark.update(before=before, ids=[], fresh=True, read=0, top=before)

    def finish(self, mode: str, top: str) -> None:
        """There is no history to read below `top` (a `start_date` inside the first run's window)."""
        self.state[mode] = {"done": True, "rows": 0, "top": top}

    def top(self) -> str | None:
        """Where history began: the current rows are those above it."""
        top = self.get(HISTORY).get("top")
        return top if isinstance(top, str) else None

    def advance(self, mode: str, key: str, row_id: str) -> None:
        """One more row was emitted, at `key` (rows come newest first)."""
        mark = self.state.setdefault(mode, {})
        if mark.get("before") == key:
            mark.setdefault("ids", []).append(row_id)
        else:
            mark["before"], mark["ids"] = key, [row_id]
        mark["read"] = mark.get("read", 0) + 1

    def relearn(self) -> None:
        """`known` was lost (a state from an older tap-exec): the next reconciliation pass reads all history in one run.

        Until that pass has read a row, a deletion of it cannot be named; read in slices over several runs, rows
        deleted before their slice came would never be. A pass under way is begun again (what it read is not known).
        A first run's history not yet begun fills `known` itself.
        """
        history = self.get(HISTORY)
        if history and not history.get("done") and not history.get("read"):
            return
        rows = self.get(RECON).get("rows")
        self.state[RECON] = {WHOLE: True, **({"rows": rows} if rows else {})}

    def history_due(self) -> bool:
        """True while history has rows left to read."""
        mark = self.get(HISTORY)
        return bool(mark) and not mark.get("done")

    def details_due(self) -> bool:
        """True while history rows wait for their raw children."""
        return bool(self.get(DETAILS).get("before"))


class History:
    """Decides which lists read history or reconcile in this run, and settles what each read proved."""

    def __init__(self, tracker: ChangeTracker, page_size: int, days: float, start_date: str | None) -> None:
        self.tracker = tracker
        self.page_size = page_size
        self.days = days
        self.start_date = start_date or ""

    def due(self, stream: Listing, marks: Marks, mode: Mode) -> bool:
        """True when `stream` reads history (or reconciles) in this run; a reconciliation starts at the window's edge."""
        if mode == HISTORY:
            return marks.history_due()
        edge = self._edge(stream, marks)
        if self.days <= 0 or marks.history_due() or not edge:  # history's details may still be owed: it goes on
            return False
        if not marks.get(RECON).get("before"):
            previous = marks.get(RECON).get("start", marks.get(HISTORY).get("start"))  # where the rows held were read to
            marks.begin(RECON, edge)
            marks.state[RECON].update(start=self.start_date, previous=previous)
            self.tracker.begin_pass(stream, self.start_date)
        return True

    def _floor(self) -> str:
        """The key just below `start_date` (every key is above it), or '' without one."""
        try:
            return iso(parse_moment(self.start_date) - timedelta(seconds=1)) if self.start_date else ""
        except ValueError:
            return ""

    @staticmethod
    def _edge(stream: Listing, marks: Marks) -> str | None:
        """The newest key older rows end at: right below this run's current read (or the next run's window)."""
        lower = stream.covered_from(None) or stream.relisted_from(str(stream.stream_state.get("replication_key_value") or ""))
        if not lower:
            return marks.top()
        edge = iso(parse_moment(lower) - timedelta(seconds=1))
        top = marks.top()
        return max(edge, top) if top else edge

    def owe_details(self, marks: Marks, stream: Listing) -> None:
        """History rows owe their raw children, newest first, from the window's edge (or where history began)."""
        edge = self._edge(stream, marks) or marks.top()
        if edge:
            marks.state[DETAILS] = {"before": edge, "ids": []}

    def slice_pages(self, marks: Marks) -> int | None:
        """Pages this run's reconciliation slice may read: None (all) for a pass rebuilding a lost `known`."""
        return None if marks.get(RECON).get(WHOLE) else self.pages_for(marks)

    def pages_for(self, marks: Marks) -> int:
        """Pages one reconciliation slice reads: the history's pages spread over `per_parent_refresh_days` runs."""
        rows = marks.get(RECON).get("rows") or marks.get(HISTORY).get("rows") or self.page_size
        return max(1, math.ceil(int(rows) / self.page_size / max(self.days, 1.0)))

    def read(  # noqa: PLR0913 - what one read saw
        self,
        stream: Listing,
        marks: Marks,
        mode: Mode,
        start: dict[str, t.Any],
        listed: set[str],
        *,
        complete: bool,
        first_total: int | None,
    ) -> None:
        """A history or reconciliation read ended: record it, and drop owed parents a complete range proves gone.

        `start` is the mark as the read began; rows at its own key were read by an earlier run, so the range this
        read proves runs strictly below it, down to the new mark (or to the list's start when it is complete).
        """
        rows = first_total if start.get("fresh") and first_total is not None else start.get("rows")
        if mode == RECON and not start.get("fresh") and first_total is not None:  # rows below the mark now (a lowered
            rows = max(int(rows or 0), int(start.get("read") or 0) + first_total)  # `start_date`): slices keep pace
        high = start.get("before")
        # the lowest `start_date` any slice of this read was read under: the rows it holds may lie that low
        lowest = min(str(start.get("low", start.get("start") if mode == RECON else self.start_date) or ""), self.start_date)
        if complete:
            if mode == HISTORY:
                marks.state[mode] = {"done": True, "rows": rows, "top": start.get("top"), "start": lowest}
            else:
                marks.state[mode] = {"rows": rows, "start": lowest}
                # A row this pass did not read is gone only if the pass read everything the rows held were read from
                # (its `start_date` at or below theirs: '' is none, the whole list); after `start_date` is raised, rows
                # below it exist unread: they are parked (kept, unmarked) until a pass from as low reads them again.
                # A pass whose `start_date` was lowered while it ran read all from the lower one: its last slice did.
                began, previous = start.get("start") or "", start.get("previous") or ""
                proven = self.start_date <= began and self.start_date <= previous
                self.tracker.end_pass(stream, proven=proven, read_from=min(began, previous), start=self.start_date)
            low = self._floor()  # a complete read reached `start_date`, not below it
        else:
            mark = marks.state.setdefault(mode, {})
            mark.pop("fresh", None)
            mark["rows"] = rows
            mark["low"] = lowest
            low = mark.get("before") or ""
        if high:
            self.tracker.gone(stream, low, high, listed)
