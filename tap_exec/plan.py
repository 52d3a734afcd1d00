"""`tap-exec-plan`: what a run of the current selection will cost in requests, before running it.

The plan reads each list the run reads, as the run does, and hands the rows to the run's change tracker
(changes.py) with the saved state: per-parent streams then owe exactly the parents the run would fetch. Lists
of up to `READ_WHOLE` pages are read whole, so a daily run's plan is exact; of longer lists (a first run, a
backfill) only the first page is read and every unread row is counted as owed, an upper bound.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import typing as t
from dataclasses import dataclass

from singer_sdk.exceptions import ConfigValidationError

from tap_exec.client import ExecChildStream
from tap_exec.decoding import json_body
from tap_exec.errors import EXIT_FAILED, ExecTapError
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.pagination import Cursor
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream

DAILY_LIMIT = 1_000
READ_WHOLE = 5  # pages: a list this short is read whole, so the plan knows exactly what changed


@dataclass
class Line:
    """The plan for one stream."""

    stream: str
    rows: str
    requests: int
    note: str = ""


@dataclass
class Listing:
    """What the plan learnt of one list: its size, the requests a run spends on it, the rows it did not read."""

    total: int
    requests: int
    unread: int


def read_list(stream: ExecStream) -> Listing:
    """Read a list as the run would (whole if short, else its first page), showing each row to the tracker."""
    if isinstance(stream, ExecIncrementalStream):
        stream._write_starting_replication_value(None)  # noqa: SLF001 - the bookmark, as a sync starts from it
        stream.get_new_paginator()  # the window the run's parameters come from
    page, pages, read, total = 1, 1, 0, 0
    while page <= pages:
        cursor = Cursor(page) if isinstance(stream, ExecIncrementalStream) else page
        params = stream.get_url_params(None, cursor)
        url, headers = stream.get_url(None), stream.http_headers
        prepared = stream.build_prepared_request(method="GET", url=url, params=params, headers=headers)
        body = json_body(stream.request_decorator(stream._request)(prepared, None))  # noqa: SLF001 - paced, retried send
        pages, total = int(body["pagination"]["total_pages"]), int(body["pagination"]["total_count"])
        for row in body["data"]:
            stream._tap.changes.observe(stream, row)  # noqa: SLF001 - the plan stands in for the run
        read += len(body["data"])
        if pages > READ_WHOLE:
            break
        page += 1
    catch_up = 1 if isinstance(stream, ExecIncrementalStream) and stream.newest_first and pages > 1 else 0
    return Listing(total, max(1, pages) + catch_up, max(0, total - read))


def plan(tap: TapExec) -> list[Line]:
    """One line per selected stream, in sync order; parents of selected children are read even when not selected."""
    streams = [t.cast("ExecStream", s) for s in tap.streams.values()]
    changes = tap.changes
    listings: dict[str, Listing] = {}
    lines = []
    for stream in streams:
        if isinstance(stream, ExecChildStream) or not (stream.selected or stream.has_selected_descendents):
            continue
        changes.before_listing(stream)
        if not stream.paginated:
            lines.append(Line(stream.name, "1", 1))
            continue
        listing = listings[stream.name] = read_list(stream)
        if not listing.unread:
            changes.settle(stream)
        note = "rows since the bookmark" if isinstance(stream, ExecIncrementalStream) else ""
        lines.append(Line(stream.name, str(listing.total), listing.requests, note))
    for name, child in changes.children.items():
        parent = changes.parent_of[name]
        owed = changes.owed_count(name)
        unread = listings[parent.name].unread if parent.name in listings else 0
        touched_unread = sum(listings[touch.source].unread for touch in child.touched_by if touch.source in listings)
        if owed is None:
            estimate, note = listings[parent.name].total, "every parent (per_parent_refresh_days is 0)"
        elif unread or touched_unread:
            estimate = max(owed, min(owed + unread + touched_unread, listings[parent.name].total))
            note = f"at most: {owed} owed now, the rest of {parent.name} not read by the plan"
        else:
            estimate, note = owed, changes.reason(name) or f"new or changed {parent.name} only"
        lines.append(Line(name, "?", estimate, note))
    order = [s.name for s in streams]
    return sorted(lines, key=lambda line: order.index(line.stream))


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
