"""Requests a run still owes, stream by stream: the arithmetic `tap-exec-plan` and the progress lines share.

A list costs the pages it has not read yet (+1 catch-up pass for a multi-page newest-first list); before its first
page its size is what the change record remembers of it, else one page. A per-parent stream costs the parents it owes
now (changes.py; a full pass already owes every remembered parent) plus the rows still to come that will be new:
all of a list's unread rows on a first run, else those beyond what the last run remembered. Rows still to come in
a list that touches the stream's parents (sessions, for scenario analytics) add up to the parent list's size.
"""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream
    from tap_exec.tap import TapExec

DAILY_LIMIT = 1_000  # requests a day per workspace (NOTES.md)


@dataclass
class ListSize:
    """What a run knows of one list: its size once a page is read, its pages read, its rows classified and taken."""

    rows: int | None = None
    pages: int | None = None
    pages_read: int = 0
    rows_classified: int = 0  # rows read ahead, whose obligations changes.py already knows
    rows_taken: int = 0  # rows the sync has processed, children and all
    done: bool = False

    @property
    def rows_seen(self) -> int:
        """Rows whose obligations are known (the sync takes rows in the order they were read ahead)."""
        return max(self.rows_classified, self.rows_taken)

    def read(self, pagination: dict[str, t.Any]) -> None:
        """One page was read (its rows count as read one by one, as the reader takes them)."""
        self.rows, self.pages = int(pagination.get("total_count", 0)), int(pagination.get("total_pages", 0))
        self.pages_read += 1


def remaining(tap: TapExec, sizes: dict[str, ListSize]) -> dict[str, int]:
    """Requests each synced stream still owes, given what is known of each list."""
    changes = tap.changes
    page_size = int(tap.config["page_size"])
    out: dict[str, int] = {}
    for name, stream in t.cast("dict[str, ExecStream]", tap.streams).items():
        size = sizes.get(name) or ListSize()
        if name in changes.children:
            out[name] = _child(tap, name, sizes)
        elif stream.parent_stream_type is not None or name not in changes.synced or size.done:
            continue
        elif not stream.paginated:
            out[name] = 1
        else:
            pages = size.pages if size.pages is not None else max(1, math.ceil(_remembered(tap, name) / page_size))
            catch_up = 1 if getattr(stream, "newest_first", False) and pages > 1 else 0
            out[name] = max(0, pages - size.pages_read) + catch_up
    return out


def _child(tap: TapExec, name: str, sizes: dict[str, ListSize]) -> int:
    changes = tap.changes
    parent = changes.parent_of[name].name
    parent_size = sizes.get(parent) or ListSize()
    owed = changes.owed_count(name)
    if owed is None:  # tracking off: one request per parent row still to take
        total = parent_size.rows if parent_size.rows is not None else _remembered(tap, parent)
        return 0 if parent_size.done else max(0, total - parent_size.rows_taken)
    cap = parent_size.rows if parent_size.rows is not None else _remembered(tap, parent) or None
    touched = sum(_coming(tap, touch.source, sizes) for touch in changes.children[name].touched_by)
    estimate = owed + _coming(tap, parent, sizes) + (min(touched, cap) if cap else 0)
    return min(estimate, max(owed, cap)) if cap else estimate


def _coming(tap: TapExec, name: str, sizes: dict[str, ListSize]) -> int:
    """Rows of a list still to be read that will be new or changed (0 before its first page, unless a first run)."""
    size = sizes.get(name) or ListSize()
    seen = tap.changes.seen.get(name)
    if size.done or size.rows is None or seen is None:
        return 0
    unread = max(0, size.rows - size.rows_seen)
    if not seen.remembered:  # nothing remembered: every row is new
        return unread
    return min(unread, max(0, size.rows - seen.remembered - seen.changes))


def _remembered(tap: TapExec, name: str) -> int:
    """How many rows the last run left for this list to recognise (a stand-in for its size before it is read)."""
    seen = tap.changes.seen.get(name)
    return seen.remembered if seen is not None else 0
