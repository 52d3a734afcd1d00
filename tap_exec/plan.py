"""`tap-exec-plan`: what a run of the current selection will cost in requests, before running it.

The plan reads each list the run reads, as the run does, and hands the rows to the run's change tracker
(changes.py) with the saved state: per-parent streams then owe exactly the parents the run would fetch. Lists
of up to `READ_WHOLE` pages are read whole, so a daily run's plan is exact; of longer lists (a first run, a
backfill) only the first page is read and the rest is estimated as the progress lines estimate it (estimate.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import typing as t
from dataclasses import dataclass

from singer_sdk.exceptions import ConfigValidationError

from tap_exec.decoding import json_body
from tap_exec.errors import EXIT_FAILED, ExecTapError
from tap_exec.estimate import DAILY_LIMIT, ListSize, remaining
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.pagination import Cursor
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream

READ_WHOLE = 5  # pages: a list this short is read whole, so the plan knows exactly what changed


@dataclass
class Line:
    """The plan for one stream."""

    stream: str
    rows: str
    requests: int
    note: str = ""


def read_list(stream: ExecStream) -> ListSize:
    """Read a list as the run would (whole if short, else its first page), showing each row to the tracker.

    The size says what the tracker has seen (`rows_read`); `pages_read` stays 0: the run reads every page again.
    """
    if isinstance(stream, ExecIncrementalStream):
        stream._write_starting_replication_value(None)  # noqa: SLF001 - the bookmark, as a sync starts from it
        stream.get_new_paginator()  # the window the run's parameters come from
    size = ListSize()
    page = 1
    while page == 1 or (size.pages is not None and page <= size.pages <= READ_WHOLE):
        cursor = Cursor(page) if isinstance(stream, ExecIncrementalStream) else page
        params = stream.get_url_params(None, cursor)
        url, headers = stream.get_url(None), stream.http_headers
        prepared = stream.build_prepared_request(method="GET", url=url, params=params, headers=headers)
        body = json_body(stream.request_decorator(stream._request)(prepared, None))  # noqa: SLF001 - paced, retried send
        for row in body["data"]:
            stream._tap.changes.observe(stream, row)  # noqa: SLF001 - the plan stands in for the run
        size.read(body["pagination"])
        size.rows_read += len(body["data"])
        page += 1
    size.pages_read = 0
    return size


def plan(tap: TapExec) -> list[Line]:
    """One line per selected stream, in sync order; parents of selected children are read even when not selected."""
    changes = tap.changes
    sizes: dict[str, ListSize] = {}
    for stream in t.cast("dict[str, ExecStream]", tap.streams).values():
        if stream.parent_stream_type is None and stream.name in changes.synced and stream.paginated:
            changes.before_listing(stream)
            sizes[stream.name] = read_list(stream)
            if sizes[stream.name].rows_read == sizes[stream.name].rows:
                changes.settle(stream)
    lines = []
    for name, requests in remaining(tap, sizes).items():
        if name in changes.children:
            parent = changes.parent_of[name].name
            owed = changes.owed_count(name)
            if owed is None:
                note = "every parent (per_parent_refresh_days is 0)"
            elif sizes[parent].rows_read < (sizes[parent].rows or 0):
                note = f"{owed} owed now; the rest estimated from the {parent} rows the plan did not read"
            else:
                note = changes.reason(name) or f"new, changed or touched {parent} only"
            lines.append(Line(name, "?", requests, note))
        else:
            rows = str(sizes[name].rows) if name in sizes else "1"
            lines.append(
                Line(
                    name,
                    rows,
                    requests,
                    "rows since the bookmark" if isinstance(tap.streams[name], ExecIncrementalStream) else "",
                )
            )
    return lines


def render(lines: list[Line], tap: TapExec, probes: int) -> str:
    """A table, the total, and how it compares with the daily limit and the pace."""
    total = sum(line.requests for line in lines)
    per_minute = int(tap.config["max_requests_per_minute"])
    out = [f"{'stream':<30} {'rows':>8} {'requests':>9}  note", "-" * 70]
    out += [f"{line.stream:<30} {line.rows:>8} {line.requests:>9}  {line.note}" for line in lines]
    out += [
        "-" * 70,
        f"{'total':<30} {'':>8} {total:>9}  ({total / DAILY_LIMIT:.0%} of the API's {DAILY_LIMIT:,} requests a day)",
        f"At {per_minute} requests/minute the run takes at least {math.ceil(total / per_minute)} min.",
        f"This plan used {probes} requests.",
    ]
    if total > DAILY_LIMIT:
        out.append("Over the daily limit: the run stops at the limit with its state saved, and the next run carries on.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Print the plan for `--config` (and optional `--catalog`, `--state`)."""
    parser = argparse.ArgumentParser(prog="tap-exec-plan", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="tap config JSON file")
    parser.add_argument("--catalog", help="catalog JSON file (default: the default selection)")
    parser.add_argument("--state", help="state JSON file (incremental streams and per-parent streams start from it)")
    args = parser.parse_args(argv)

    def load(path: str | None) -> t.Any:  # noqa: ANN401 - any JSON document
        if path is None:
            return None
        with open(path, encoding="utf-8") as handle:  # noqa: PTH123
            return json.load(handle)

    try:
        tap = TapExec(config=load(args.config), catalog=load(args.catalog), state=load(args.state), setup_mapper=False)
        lines = plan(tap)
    except ConfigValidationError as exc:
        sys.exit(f"Invalid configuration: {' '.join(exc.errors)}")
    except ExecTapError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        sys.exit(exc.exit_code or EXIT_FAILED)
    print(render(lines, tap, tap.governor.total))  # noqa: T201


if __name__ == "__main__":
    main()
