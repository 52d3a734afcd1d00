"""Read ahead: the lists that feed per-parent streams, before any per-parent work, so a run knows its size.

These are requests the run makes anyway, made first: such a list is read whole when it has at most `READ_WHOLE`
pages, else its first page; the change tracker classifies the rows as they arrive (what is new, changed, touched),
as it would when the sync reaches them, and the streams then take these responses instead of asking again. A list
read whole is also one consistent snapshot, where per-parent work used to spread its pages over minutes or hours.
`tap-exec-plan` reads lists the same way, so its total is the run's first estimate.
"""

from __future__ import annotations

import typing as t
from collections import deque

from tap_exec.decoding import json_body
from tap_exec.estimate import ListSize
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.pagination import Cursor

if t.TYPE_CHECKING:
    import requests

    from tap_exec.client import ExecStream
    from tap_exec.tap import TapExec

READ_WHOLE = 10  # pages (1,000 rows at most), held in memory until the list's turn


def read_ahead(stream: ExecStream) -> tuple[ListSize, list[requests.Response]]:
    """A list's first pages, requested as its own sync would, each row classified by the change tracker."""
    incremental = isinstance(stream, ExecIncrementalStream)
    if incremental:
        stream._write_starting_replication_value(None)  # noqa: SLF001 - the bookmark, as its sync starts from it
        stream.get_new_paginator()  # the window the sync's parameters come from
    size, responses, page = ListSize(), [], 1
    while page == 1 or page <= (size.pages or 0) <= READ_WHOLE:
        params = stream.get_url_params(None, Cursor(page) if incremental else page)
        headers = stream.http_headers
        prepared = stream.build_prepared_request(method="GET", url=stream.get_url(None), params=params, headers=headers)
        response = stream.request_decorator(stream.send)(prepared, None)
        body = json_body(response)
        size.read(body["pagination"])
        for row in body["data"]:
            stream._tap.changes.observe(stream, row)  # noqa: SLF001 - as the sync will, earlier
        size.rows_classified += len(body["data"])
        responses.append(response)
        page += 1
    size.pages_read = 0  # the sync reads them, from these responses
    return size, responses


class Lookahead:
    """Responses read ahead, waiting for their stream."""

    def __init__(self) -> None:
        self.responses: dict[str, deque[requests.Response]] = {}

    def read(self, tap: TapExec, sizes: dict[str, ListSize]) -> None:
        """Read ahead the lists that feed per-parent streams (not in a `--test` run, which reads one record of each)."""
        streams = t.cast("dict[str, ExecStream]", tap.streams).values()
        if any(stream.ABORT_AT_RECORD_COUNT is not None for stream in streams):
            return
        for stream in streams:
            if stream.name in tap.changes.feeds and stream.name in tap.changes.synced:
                sizes[stream.name], responses = read_ahead(stream)
                self.responses[stream.name] = deque(responses)

    def take(self, stream: str, url: str | None) -> requests.Response | None:
        """The response read ahead for this request, if the stream asks for what was read (else they are dropped)."""
        waiting = self.responses.get(stream)
        if not waiting:
            return None
        if waiting[0].request.url != url:  # the stream's paginator took another path (rows moved): ask the API
            waiting.clear()
            return None
        return waiting.popleft()
