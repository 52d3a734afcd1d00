"""ExecIncrementalStream: server-side date filters from the bookmark, read through a shift-safe window.

A list that can be read newest first (`reverse_params`: sessions) is read three ways (`mode`):

- `current`: from the bookmark less the lookback up to the run's start, every run (a first run: the last
  `CURRENT_DAYS` days), so today's rows come first;
- `history`: the rows below the first run's window, newest first, resumable from a mark (`history.before`, the
  key of the oldest row read, and the ids read at it) until the list's start is reached;
- `recon`: once history is complete, a rolling re-read of it in slices, newest first, so every older row is checked
  again within `per_parent_refresh_days` runs (late grades, see run/history.py).
"""

from __future__ import annotations

import functools
import typing as t
from datetime import datetime, timedelta

from typing_extensions import override

from tap_exec.cli import parse_datetime
from tap_exec.client import ExecStream
from tap_exec.decoding import json_body
from tap_exec.deleted import DELETED_AT
from tap_exec.pagination import Cursor, WindowPaginator
from tap_exec.run.budget import iso, parse_moment
from tap_exec.run.history import CURRENT_DAYS, DETAILS, HISTORY, Marks

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context, Record

    from tap_exec.run.protocols import Mode


class ExecIncrementalStream(ExecStream):
    """A list filtered by a date range on its replication key; subclasses name the filter parameters."""

    #: The API's inclusive lower and upper filters on the replication key.
    lower_param: t.ClassVar[str]
    upper_param: t.ClassVar[str]
    #: True where the API lists newest first (it cannot be asked otherwise).
    newest_first: t.ClassVar[bool] = False
    #: Setting with the days to re-read before the bookmark (rows that change without a newer key), if any.
    lookback_setting: t.ClassVar[str | None] = None
    #: Parameters that list newest first, for lists whose history is read backwards (empty: read whole every time).
    reverse_params: t.ClassVar[dict[str, str]] = {}
    #: More reads of the current list, each with these parameters added, for rows the plain list leaves out
    #: (Knowledge Hub pages: archived ones); each from the same bookmark, in the same sync, before it settles.
    also_read: t.ClassVar[tuple[dict[str, str], ...]] = ()
    extra: dict[str, str] | None = None  # the `also_read` parameters of the read in progress (None: the plain list)
    STATE_MSG_FREQUENCY = 1000  # resumable mid-stream: a bookmark every ten pages
    mode: Mode = "current"
    #: Read history only while its unread pages fit this share of today's budget (the planner's first pass).
    history_share: float | None = None
    _upper: str | None = None
    _read_from: str | None = None  # the lower bound of this run's current read

    @property
    @override
    def is_sorted(self) -> bool:
        """Oldest-first lists advance the bookmark as they go; newest-first ones only at the end."""
        return not self.newest_first

    @property
    @override
    def check_sorted(self) -> bool:
        """A lookback re-reads rows older than the bookmark on purpose; the bookmark dips, then climbs back."""
        return self.lookback_setting is None

    @functools.cached_property
    def started_at(self) -> str:
        """The run's fixed upper bound for oldest-first lists, so no row can join the list mid-read.

        Taken from the API's clock (the `Date` of its responses). Rows created from one second before the run
        started wait for the next run, which re-reads from the bookmark.
        """
        return iso(self.run.day.now() - timedelta(seconds=1))

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> datetime:
        """The newest bookmark a sync may write: the API's clock, which stamps its rows, not the local one."""
        return self.run.day.now()

    @functools.cached_property
    def marks(self) -> Marks:
        """Where history and reconciliation stand, in this stream's bookmark."""
        return Marks(self.stream_state)

    @override
    def get_new_paginator(self) -> WindowPaginator:
        """A fresh shift-safe window for each sync: the current rows, or a slice of history read newest first."""
        if self.mode == "current":
            self.window = WindowPaginator(str(self.replication_key), newest_first=self.newest_first)
        else:
            mark = self.marks.get(self.mode)
            self._upper = mark.get("before")  # fixed for the whole read, while the mark moves with each row
            pages = self.run.history.slice_pages(self.marks) if self.mode == "recon" else None
            share, day = self.history_share, self.run.day
            self.window = WindowPaginator(
                str(self.replication_key),
                newest_first=True,
                catch_up=False,
                max_pages=pages,
                tail=mark.get("before"),
                tail_ids=mark.get("ids", ()),
                go_on=(lambda left: left <= day.left() * share) if share else None,
            )
        return self.window

    @override
    def relisted_from(self, newest: str) -> str:
        """The bookmark less the lookback: where the next run starts listing."""
        if not self.lookback_setting:
            return newest
        return iso(parse_moment(newest) - timedelta(days=float(self.config[self.lookback_setting])))

    def lower_bound(self, context: Context | None) -> str | None:
        """The bookmark less the lookback; on a first run, `start_date`, or for a list with a history the last days."""
        start_date = parse_datetime(str(self.config.get("start_date") or ""))
        if self.name in self.run.tracker.relist:  # a per-parent stream's full pass needs every parent listed
            return iso(start_date) if start_date else None
        if "replication_key_value" in self.get_context_state(context):
            start = self.get_starting_timestamp(context)
            return self.relisted_from(iso(start)) if start else None
        if not self.reverse_params or not self.run.planner.active:  # `--test` and the SDK's tests read the whole list
            return iso(start_date) if start_date else None
        top = self.marks.top()
        if top:  # no current row yet: read right above the history already begun, so no key is left out
            return iso(parse_moment(top) + timedelta(seconds=1))
        recent = self.run.day.now() - timedelta(days=CURRENT_DAYS)
        if start_date is not None and start_date >= recent:
            self.marks.finish(HISTORY, iso(start_date - timedelta(seconds=1)))
            return iso(start_date)
        self.marks.begin(HISTORY, iso(recent - timedelta(seconds=1)))
        return iso(recent)

    @override
    def get_url_params(self, context: Context | None, next_page_token: Cursor | None) -> dict[str, t.Any]:
        """Fixed params, the page, and the window's date filters."""
        cursor = next_page_token or Cursor()
        params: dict[str, t.Any] = {**self.params, "page": cursor.page, "page_size": self.config["page_size"]}
        if self.mode != "current":
            params.update(self.reverse_params)
            lower = iso(start) if (start := parse_datetime(str(self.config.get("start_date") or ""))) else None
            upper = cursor.anchor or self._upper
        else:
            if cursor == Cursor() and not self.extra:  # once: the bookmark moves as rows are emitted, the range does not
                self._read_from = self.lower_bound(context)
            params.update(self.extra or {})
            if self.newest_first:
                lower = self.window.top if cursor.catch_up else self._read_from
                upper = cursor.anchor
            else:
                lower = cursor.anchor or self._read_from
                upper = self.started_at
        if lower:
            params[self.lower_param] = lower
        if upper:
            params[self.upper_param] = upper
        return params

    def history_rows(self) -> Iterator[dict[str, t.Any]]:
        """History rows newest first from the details cursor, for their raw children; the cursor moves after each.

        The list is read again (one request per 100 rows) rather than remembering every row's id in the state; its
        rows are not emitted again (the history read did that).
        """
        marks, key, top = self.marks, str(self.replication_key), dict(self.marks.get(DETAILS))  # the mark moves; `top` not
        window = WindowPaginator(key, newest_first=True, catch_up=False, tail=top.get("before"), tail_ids=top.get("ids", ()))
        lower = parse_datetime(str(self.config.get("start_date") or ""))
        while not window.finished:
            cursor = window.current_value
            params = {**self.params, **self.reverse_params, "page": cursor.page, "page_size": self.config["page_size"]}
            params[self.upper_param] = cursor.anchor or top["before"]
            if lower:
                params[self.lower_param] = iso(lower)
            response = self.get(params)
            for row in window.unseen(json_body(response)["data"]):
                yield row
                marks.advance(DETAILS, str(row[key]), str(row["id"]))  # once its children were fetched
            window.advance(response)
        marks.state.pop(DETAILS, None)

    def still_listed(self, row_id: str, key: str) -> bool:
        """One request asking whether the list still has row `row_id` at its key `key` (a 404 may be a lag).

        A row edited since (a page's `updated_at` moved) is not at `key` any more; the current read lists it again.
        """
        page, pages = 1, 1
        while page <= pages:  # more than a page of rows may share one second (a bulk import)
            params = {
                **self.params,
                "page": page,
                "page_size": self.config["page_size"],
                self.lower_param: key,
                self.upper_param: key,
            }
            body = json_body(self.get(params))
            if any(str(row.get("id")) == row_id for row in body["data"]):
                return True
            page, pages = page + 1, int(body["pagination"]["total_pages"])
        return False

    def mark_deleted(self, row_ids: list[str]) -> None:
        """Tell the target these rows are gone upstream, and the rows of raw children keyed by them (a session's detail).

        Each gets a record with its key and `_sdc_deleted_at`: the loaders keep the row, marked (target-postgres's
        `hard_delete` applies to ACTIVATE_VERSION only), and the staging models leave marked rows out.
        """
        moment = iso(self.run.day.now())
        keyed = [c for c in self.child_streams if isinstance(c, ExecStream) and c.deletion_fields()]
        for stream in (self, *keyed):
            if not stream.selected:
                continue
            for row_id in row_ids:
                record = {"id": row_id, DELETED_AT: moment}
                if stream is not self:
                    record[str(self.child_key)] = row_id
                stream.write_deleted(record)
        self.logger.info(
            "%s: %d row(s) deleted upstream, sent with %s: %s", self.name, len(row_ids), DELETED_AT, ", ".join(row_ids[:5])
        )

    @override
    def covered_from(self, context: Context | None) -> str | None:
        """The lower bound of this run's current read (the bookmark has moved since it began)."""
        return self._read_from or ""

    def reads(self) -> Iterator[dict[str, str]]:
        """The current list's reads in turn (the plain list, then each `also_read`), setting `extra` for each."""
        try:
            for extra in (None, *self.also_read):
                self.extra = extra
                yield extra or {}
        finally:
            self.extra = None

    @override
    def request_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The list's rows; a current read then reads each `also_read` list, each through its own window."""
        if self.mode != "current":
            yield from super().request_records(context)
            return
        for _ in self.reads():
            yield from super().request_records(context)

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's rows, less those an earlier page of a restarted window already gave.

        An `also_read` list's pages are not the list's progress (its size and pages are the plain list's).
        """
        rows = json_body(response)["data"] if self.extra else super().parse_response(response)
        return self.window.unseen(list(rows))

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The rows; reading history or reconciling, each row moves the mark first, and the end is recorded."""
        if self.mode == "current":
            yield from super().get_records(context)
            return
        marks, mode, key = self.marks, self.mode, str(self.replication_key)
        start = dict(marks.get(mode))
        listed: set[str] = set()
        for row in super().get_records(context):
            row_id, row_key = str(row["id"]), str(row[key])
            yield row
            marks.advance(mode, row_key, row_id)  # once the SDK has emitted the row (and fetched its children)
            listed.add(row_id)
        self.run.history.read(
            self, marks, mode, start, listed, complete=self.window.complete, first_total=self.window.first_total
        )

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        """History and reconciliation move their own marks, never the bookmark of the current rows."""
        if self.mode == "current":
            super()._increment_stream_state(latest_record, context=context)
