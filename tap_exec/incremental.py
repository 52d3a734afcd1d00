"""ExecIncrementalStream: server-side date filters from the bookmark, read through a shift-safe window."""

from __future__ import annotations

import functools
import typing as t
from datetime import datetime, timedelta, timezone

from typing_extensions import override

from tap_exec.cli import parse_datetime
from tap_exec.client import ExecStream
from tap_exec.pagination import Cursor, WindowPaginator

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ExecIncrementalStream(ExecStream):
    """A list filtered by a date range on its replication key; subclasses name the filter parameters."""

    #: The API's inclusive lower and upper filters on the replication key.
    lower_param: t.ClassVar[str]
    upper_param: t.ClassVar[str]
    #: True where the API lists newest first (it cannot be asked otherwise).
    newest_first: t.ClassVar[bool] = False
    #: Setting with the days to re-read before the bookmark (rows that change without a newer key), if any.
    lookback_setting: t.ClassVar[str | None] = None
    STATE_MSG_FREQUENCY = 1000  # resumable mid-stream: a bookmark every ten pages

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

        Rows created from one second before the run started wait for the next run, which re-reads from the bookmark.
        """
        return _iso(datetime.now(timezone.utc) - timedelta(seconds=1))

    @override
    def get_new_paginator(self) -> WindowPaginator:
        """A fresh shift-safe window for each sync."""
        self.window = WindowPaginator(str(self.replication_key), newest_first=self.newest_first)
        return self.window

    @override
    def relisted_from(self, newest: str) -> str:
        """The bookmark less the lookback: where the next run starts listing."""
        if not self.lookback_setting:
            return newest
        moment = datetime.fromisoformat(newest.replace("Z", "+00:00"))
        return _iso(moment - timedelta(days=float(self.config[self.lookback_setting])))

    def lower_bound(self, context: Context | None) -> str | None:
        """The bookmark minus the lookback, or `start_date` on a first run, or None for everything.

        A run that backfills a newly selected child stream reads from `start_date` too (changes.py, `relisted`).
        """
        if self.name in self._tap.changes.relisted:
            start_date = parse_datetime(str(self.config.get("start_date") or ""))
            return _iso(start_date) if start_date else None
        start = self.get_starting_timestamp(context)
        if start is None:
            return None
        if "replication_key_value" in self.get_context_state(context):
            return self.relisted_from(_iso(start))
        return _iso(start)

    @override
    def get_url_params(self, context: Context | None, next_page_token: Cursor | None) -> dict[str, t.Any]:
        """Fixed params, the page, and the window's date filters."""
        cursor = next_page_token or Cursor()
        params: dict[str, t.Any] = {**self.params, "page": cursor.page, "page_size": self.config["page_size"]}
        if self.newest_first:
            lower = self.window.top if cursor.catch_up else self.lower_bound(context)
            upper = cursor.anchor
        else:
            lower = cursor.anchor or self.lower_bound(context)
            upper = self.started_at
        if lower:
            params[self.lower_param] = lower
        if upper:
            params[self.upper_param] = upper
        return params

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's rows, less those an earlier page of a restarted window already gave."""
        return self.window.unseen(list(super().parse_response(response)))
