"""Requests a run still owes, stream by stream: the arithmetic `tap-exec-plan` and the progress lines share.

A list costs the pages it has not read yet (+1 catch-up pass for a multi-page newest-first list, +1 for each
`also_read` list); before its first page its size is what the change record remembers of it, else one page. A
per-parent stream costs the parents it owes now plus the rows still to come that will be new (all of a list's unread
rows on a first run, else those beyond what the last run remembered). History costs its unread pages plus, for each
raw per-parent stream under it, one request per unread row; a reconciliation slice costs its pages.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

from tap_exec.run.history import DETAILS, HISTORY, RECON

if t.TYPE_CHECKING:
    from tap_exec.run.services import Services


@dataclass
class ListSize:
    """What a run knows of one list: its size once a page is read, its pages read, its rows taken."""

    rows: int | None = None
    pages: int | None = None
    pages_read: int = 0
    rows_taken: int = 0  # rows the sync has processed, children and all
    done: bool = False

    def read(self, pagination: dict[str, t.Any]) -> None:
        """One page was read."""
        self.rows, self.pages = int(pagination.get("total_count", 0)), int(pagination.get("total_pages", 0))
        self.pages_read += 1


def remaining(run: Services, sizes: dict[str, ListSize]) -> dict[str, int]:
    """Requests each synced stream (and each history or reconciliation read) still owes."""
    tracker = run.tracker
    page_size = int(run.config["page_size"])
    out: dict[str, int] = {}
    for name, stream in run.streams.items():
        size = sizes.get(name) or ListSize()
        if name in tracker.children:
            out[name] = _child(run, name, sizes)
        elif stream.parent_stream_type is not None or name not in tracker.synced or size.done or not stream.requested:
            pass
        elif not stream.paginated:
            out[name] = 1
        else:
            pages = max(1, size.pages) if size.pages is not None else max(1, math.ceil(_remembered(run, name) / page_size))
            catch_up = 1 if getattr(stream, "newest_first", False) and pages > 1 else 0
            also = len(getattr(stream, "also_read", ()))  # one page each (archived pages: those since the bookmark)
            out[name] = max(0, pages - size.pages_read) + catch_up + also
        out.update(_history(run, name))
    return out


def _history(run: Services, name: str) -> dict[str, int]:
    """History still to read (pages, and the raw children of its rows) or this run's reconciliation slice."""
    stream = run.streams[name]
    marks = getattr(stream, "marks", None)
    if marks is None or not getattr(stream, "reverse_params", None) or name not in run.tracker.synced:
        return {}
    page_size, tracker = int(run.config["page_size"]), run.tracker
    raw = sum(1 for child, parent in tracker.parent_of.items() if parent is stream and not tracker.children[child].aggregate)
    history, details = marks.get(HISTORY), marks.get(DETAILS)
    rows = history.get("rows")
    cost = 0
    if history and not history.get("done"):
        if rows is None:  # not read yet: its first page will tell
            return {f"{name} history": 1}
        cost += math.ceil(max(0, int(rows) - int(history.get("read", 0))) / page_size)
    if raw and (details.get("before") or (history and not history.get("done"))):
        left = max(0, int(rows or 0) - int(details.get("read", 0)))  # rows still waiting for their raw children
        cost += math.ceil(left / page_size) + raw * left
    if cost:
        return {f"{name} history": cost}
    reconciles = (RECON in stream.stream_state or history.get("done")) and run.history.days > 0
    return {f"{name} recon": run.history.pages_for(marks)} if reconciles else {}


def _child(run: Services, name: str, sizes: dict[str, ListSize]) -> int:
    tracker = run.tracker
    parent = tracker.parent_of[name].name
    parent_size = sizes.get(parent) or ListSize()
    dues = tracker.dues.get(name)
    if dues is None:  # tracking off: one request per parent row still to take
        total = parent_size.rows if parent_size.rows is not None else _remembered(run, parent)
        return 0 if parent_size.done else max(0, total - parent_size.rows_taken)
    owed = len(dues)
    cap = parent_size.rows if parent_size.rows is not None else _remembered(run, parent) or None
    touched = sum(_coming(run, touch.source, sizes) for touch in tracker.children[name].touched_by)
    estimate = owed + _coming(run, parent, sizes) + (min(touched, cap) if cap else 0)
    return min(estimate, max(owed, cap)) if cap else estimate


def _coming(run: Services, name: str, sizes: dict[str, ListSize]) -> int:
    """Rows of a list still to be read that will be new or changed (0 before its first page, unless a first run)."""
    size = sizes.get(name) or ListSize()
    seen = run.tracker.seen.get(name)
    if size.done or size.rows is None or seen is None:
        return 0
    unread = max(0, size.rows - size.rows_taken)
    if not seen.remembered:  # nothing remembered: every row is new
        return unread
    return min(unread, max(0, size.rows - seen.remembered - seen.changes))


def _remembered(run: Services, name: str) -> int:
    """How many rows the last run left for this list to recognise (a stand-in for its size before it is read)."""
    seen = run.tracker.seen.get(name)
    return seen.remembered if seen is not None else 0
