"""Paginators for the Exec API's page-number lists."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from tap_exec.decoding import json_body

if t.TYPE_CHECKING:
    import requests

Token = t.TypeVar("Token")


class DecidedOnce(BaseAPIPaginator[Token]):
    """A paginator whose `decide` picks the next token (None: the end) once per response.

    The SDK asks `has_more`, then `continue_if_empty` for a page with no new row (which must not end the list), then
    `get_next`, sometimes twice for one response: the decision, with its side effects, is made once.
    """

    _next: Token | None = None
    _decided: requests.Response | None = None

    def decide(self, response: requests.Response) -> Token | None:
        """The next token after `response`, or None when the list ends here."""
        raise NotImplementedError

    @override
    def has_more(self, response: requests.Response) -> bool:
        """Whether `decide` chose a next token for this response."""
        if response is not self._decided:
            self._decided, self._next = response, self.decide(response)
        return self._next is not None

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page with no new row (past a list that shrank, or only duplicates) is not the end."""
        return self.has_more(response)

    @override
    def get_next(self, response: requests.Response) -> Token | None:
        """The token `decide` chose."""
        return self._next


class ListPaginator(DecidedOnce[int]):
    """Page numbers from 1 to `total_pages` that prove the list was read whole, re-reading it when rows moved.

    Deleting a row of page 1 once it was served shifts every later row up by one, so page 2 skips a row; an insert
    repeats one. Either shows as a `total_count` that differs from the first page's, an id already read, or a pass
    whose distinct ids do not add up to the total. Then the pass starts again at page 1 (`on_restart` lets the
    stream give the new pass's rows a new table version), at most `passes` times in all. `proven` is True once
    one pass read the list unmoved: only then may a target delete what the list no longer has. A list that does
    not move costs exactly ceil(rows / page_size) requests; a one-page list is one snapshot, always proven.
    """

    def __init__(
        self,
        *,
        passes: int = 3,
        on_restart: t.Callable[[], None] | None = None,
        identity: t.Callable[[dict[str, t.Any]], t.Any] = lambda row: row.get("id"),
    ) -> None:
        """A fresh pass at page 1; `passes` bounds the reads of a list that keeps moving; `identity` names a row."""
        super().__init__(1)
        self.identity = identity
        self.passes_left = passes - 1
        self.on_restart = on_restart
        self.proven = False
        self.rows = 0  # rows of the proven read
        self.restarts = 0
        self._total: int | None = None
        self._ids: set[t.Any] = set()
        self._moved = False

    @override
    def decide(self, response: requests.Response) -> int | None:
        """The next page; page 1 again when rows moved and a pass is left; else the end (None), proven or not."""
        body = json_body(response)
        pagination, rows = body["pagination"], body["data"]
        total = pagination.get("total_count")
        if self._total is None:
            self._total = total
        ids = [self.identity(row) for row in rows]
        self._moved = self._moved or total != self._total or any(i in self._ids for i in ids)
        self._ids.update(ids)
        last = pagination["page"] >= pagination["total_pages"]
        if not self._moved and not last:
            return self.current_value + 1
        one_page = self.current_value == 1 and last
        if one_page or (not self._moved and len(self._ids) == total):
            self.proven, self.rows = True, len(self._ids)
            return None
        if self.passes_left <= 0:
            return None  # still moving: not proven, nothing is deleted for it
        self.passes_left -= 1
        self.restarts += 1
        self._total, self._ids, self._moved = None, set(), False
        if self.on_restart is not None:
            self.on_restart()
        return 1


@dataclass(frozen=True)
class Cursor:
    """Where the next request reads: page `page` of the window that starts at `anchor` (None: the run's bound)."""

    page: int = 1
    anchor: str | None = None
    catch_up: bool = False


class WindowPaginator(DecidedOnce[Cursor]):
    """Page numbers over a time-ordered window, restarted past the last row seen whenever rows shift.

    Page N+1 of a list that changes while it is read can skip a row: deleting a row already read shifts every
    later row up by one. Such a shift always shows as a smaller `total_count` (ascending lists are read with
    a fixed upper bound, so new rows cannot mask it; newest-first lists only grow at the top, which shifts rows
    down, never up). On a shift the window restarts at the last timestamp read (`anchor`, an inclusive filter)
    and rows of that timestamp already emitted are dropped (`unseen`), so nothing is lost and ties
    across a page boundary are safe. Without shifts this costs exactly ceil(rows / page_size) requests.
    Newest-first lists also miss rows edited while they are read (the row jumps to the top, already passed):
    after a multi-request read, one catch-up pass reads rows updated since the first row of the run.
    """

    def __init__(  # noqa: PLR0913 - keyword-only knobs of one window
        self,
        key: str,
        *,
        newest_first: bool,
        catch_up: bool = True,
        max_pages: int | None = None,
        tail: str | None = None,
        tail_ids: t.Iterable[t.Any] = (),
        go_on: t.Callable[[int], bool] | None = None,
    ) -> None:
        """A window over `key`; the knobs say how it starts, ends and catches up.

        `catch_up` False for a window with a fixed upper bound (rows cannot jump above it); `max_pages` stops a
        slice early; `tail`/`tail_ids` resume a window whose rows at key `tail` were already read; `go_on`, given
        the pages still unread, says whether to read on (a share of the day's budget).
        """
        super().__init__(Cursor())
        self.key = key
        self.newest_first = newest_first
        self.catch_up = catch_up
        self.max_pages = max_pages
        self.go_on = go_on
        self.tail: str | None = tail  # key value of the last row read
        self.tail_ids: set[t.Any] = set(tail_ids)  # ids read at that key value
        self.complete = False  # True once the window was read to its end
        self.first_total: int | None = None  # rows in the window when its first page was read
        self.productive = 0  # pages that gave a row not read before (a tie wider than a page gives none at first)
        self.top: str | None = None  # key value of the first row of the run (newest-first lists)
        self.top_ids: set[t.Any] = set()  # ids read at that key value
        self.window_total: int | None = None
        self.responses = 0

    def unseen(self, rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """`rows` less those an earlier page gave: at the tail timestamp, or at the top during catch-up.

        Rows of the tail timestamp lead the page (the window starts there), so only they are checked.
        """
        key = self.key
        if self.current_value.catch_up:
            seen = {(self.tail, i) for i in self.tail_ids} | {(self.top, i) for i in self.top_ids}
            fresh = [r for r in rows if (r.get(key), r.get("id")) not in seen]
        else:
            lead = 0
            while lead < len(rows) and rows[lead].get(key) == self.tail:
                lead += 1
            fresh = [r for r in rows[:lead] if r.get("id") not in self.tail_ids] + rows[lead:] if lead else rows
        self.productive += bool(fresh)
        return fresh

    def _remember(self, rows: list[dict[str, t.Any]]) -> None:
        if self.top is None:
            self.top = rows[0].get(self.key)
            self.top_ids = {r.get("id") for r in rows if r.get(self.key) == self.top}
        last = rows[-1].get(self.key)
        if last != self.tail:
            self.tail, self.tail_ids = last, set()
        self.tail_ids.update(r.get("id") for r in rows if r.get(self.key) == last)

    @override
    def decide(self, response: requests.Response) -> Cursor | None:
        """The next cursor: next page, a restarted window after a shift, a catch-up pass, or the end (None)."""
        body = json_body(response)
        pagination, rows = body["pagination"], body["data"]
        self.responses += 1
        current = self.current_value
        if self.window_total is not None and pagination["total_count"] < self.window_total:
            # Rows vanished since the last page, so this page may have skipped some: read again from the last
            # timestamp before it (this page's rows come again; those of that timestamp are dropped as seen).
            self.tail_ids.update(r.get("id") for r in rows if r.get(self.key) == self.tail)
            self.window_total = None
            return Cursor(1, self.tail, current.catch_up)
        if rows:
            self._remember(rows)
        self.window_total = pagination["total_count"]
        if self.first_total is None:
            self.first_total = self.window_total
        if pagination["page"] < pagination["total_pages"]:
            if self.max_pages is not None and self.productive >= self.max_pages:
                return None  # a slice: the rest waits for a later run, which resumes at `tail`
            if self.go_on is not None and not self.go_on(pagination["total_pages"] - pagination["page"]):
                return None
            return Cursor(current.page + 1, current.anchor, current.catch_up)
        if self.catch_up and self.newest_first and not current.catch_up and self.responses > 1 and self.top is not None:
            self.window_total = None
            return Cursor(1, None, catch_up=True)
        self.complete = True
        return None
