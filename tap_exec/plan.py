"""`tap-exec-plan`: what a run of the current selection will cost in requests and days, before running it.

The plan reads each list the run reads first, as the run would (whole when it has at most `READ_WHOLE` pages,
else its first page), and hands the rows to the run's change tracker (run/owed.py) with the saved state: per-parent
streams then owe exactly the parents the run would fetch, so a daily run's plan is exact; longer lists (a first
run, a backfill) and history are estimated as the progress lines estimate them (run/estimate.py).
"""

from __future__ import annotations

import argparse
import math
import typing as t
from dataclasses import dataclass

from tap_exec.cli import ConfigFiles, check_catalog, check_state, one_line, read_catalog, read_state
from tap_exec.decoding import json_body
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.pagination import Cursor
from tap_exec.run.estimate import ListSize, remaining
from tap_exec.run.history import DETAILS, HISTORY
from tap_exec.run.progress import days_phrase
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream

READ_WHOLE = 10  # pages (1,000 rows at most) a plan reads of one list; beyond, it reads the first page


@dataclass
class Line:
    """The plan for one stream."""

    stream: str
    rows: str
    requests: int
    note: str = ""


def read_list(stream: ExecStream) -> ListSize:
    """A list's first pages (all of them when it has at most `READ_WHOLE`), each row classified as the run will."""
    incremental = isinstance(stream, ExecIncrementalStream)
    if incremental:
        stream._write_starting_replication_value(None)  # noqa: SLF001 - the bookmark, as its sync starts from it
        stream.get_new_paginator()  # the window the sync's parameters come from
    tracker, size, ids, taken = stream.run.tracker, ListSize(), set(), 0
    tracker.before_listing(stream)
    whole = True
    for extra in stream.reads() if isinstance(stream, ExecIncrementalStream) else [{}]:
        part, page = (ListSize(), 1) if extra else (size, 1)  # an `also_read` list is not the list's size
        while page == 1 or page <= (part.pages or 0) <= READ_WHOLE:
            params = stream.get_url_params(None, Cursor(page) if incremental else page)
            body = json_body(stream.get(params))
            part.read(body["pagination"])
            for row in body["data"]:
                tracker.observe(stream, row)
                ids.add(row.get("id"))
            part.rows_taken += len(body["data"])
            taken += len(body["data"])
            page += 1
        whole = whole and part.rows_taken == part.rows
    if whole and len(ids) == taken:  # read whole, no row twice (so none skipped)
        tracker.settle(stream, stream.covered_from(None))
    size.pages_read = 0  # the run reads them again (its rows are classified: what they owe is known)
    return size


def read_history_size(stream: ExecIncrementalStream) -> None:
    """One request: how many rows the history still holds (the first page of its read), for the estimate."""
    stream.mode = "history"
    try:
        stream.get_new_paginator()
        params = stream.get_url_params(None, Cursor())
        body = json_body(stream.get(params))
    finally:
        stream.mode = "current"
    mark = stream.marks.state.setdefault("history", {})
    mark["rows"] = int(mark.get("read", 0)) + int(body["pagination"]["total_count"])


def plan(tap: TapExec) -> list[Line]:
    """One line per selected stream and history read, in the order the run spends its budget."""
    run = tap.run
    run.planner.active = True  # lists are read as the planner reads them
    tracker = run.tracker
    sizes: dict[str, ListSize] = {}
    for stream in t.cast("dict[str, ExecStream]", tap.streams).values():
        if stream.parent_stream_type is None and stream.name in tracker.synced and stream.paginated:
            sizes[stream.name] = read_list(stream)
            if getattr(stream, "reverse_params", None):
                run.planner.owe_history_details(stream)  # as the run does after its current read: a late raw stream
            if isinstance(stream, ExecIncrementalStream) and stream.marks.history_due():
                read_history_size(stream)
    lines = []
    for name, requests in remaining(run, sizes).items():
        if name in tracker.children:
            parent = tracker.parent_of[name].name
            dues = tracker.dues.get(name)
            if dues is None:
                note = "every parent (per_parent_refresh_days is 0)"
            elif sizes[parent].rows_taken < (sizes[parent].rows or 0) and not len(dues):
                note = f"estimated from the {parent} rows the plan did not read"
            else:
                failed = f", {len(dues.failed)} failing before" if dues.failed else ""
                note = tracker.full_passes.get(name) or f"{len(dues)} owed: new, changed or touched {parent}{failed}"
            lines.append(Line(name, "?", requests, note))
        elif name.endswith((" history", " recon")):
            lines.append(Line(name, "?", requests, "older rows, newest first" if name.endswith("history") else "a slice re-read"))
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


def backfills(tap: TapExec, lines: list[Line]) -> list[str]:
    """The backfills in progress (a raw per-parent stream selected late, earlier runs' debts), their place and days."""
    run, tracker = tap.run, tap.run.tracker
    costs = {line.stream: line.requests for line in lines}
    found: list[tuple[str, int]] = []  # what is owed, its requests
    for stream in t.cast("dict[str, ExecStream]", tap.streams).values():
        raw = tracker.raw_children(stream) if stream.name in tracker.synced else []
        marks = getattr(stream, "marks", None)
        if raw and marks is not None and marks.details_due() and not marks.history_due():  # a first run's: its table line
            rows = max(0, int(marks.get(HISTORY).get("rows") or 0) - int(marks.get(DETAILS).get("read", 0)))
            names = " and ".join(child.name for child in raw)
            found.append(
                (f"{names} for about {rows:,} older rows of {stream.name}, newest first", costs.get(f"{stream.name} history", 0))
            )
    for name, dues in tracker.dues.items():
        carried = sum(1 for parent_id in dues.queue() if parent_id in dues.carried and parent_id not in dues.failed)
        if carried:
            parent = tracker.parent_of[name].name
            found.append((f"{name} for {carried:,} {parent} rows owed by earlier runs or a full pass", carried))
    if not found:
        return []
    owed = sum(requests for _, requests in found)
    limit = run.day.limit
    daily = max(0, sum(costs.values()) - owed)  # lists, today's new or changed parents, aggregates, reconciliation
    room = limit - daily
    pace = (
        f"about {math.ceil(owed / room)} days of daily runs at `daily_request_budget` {limit:,} (about {daily:,} of each "
        "day going to the rest)"
        if room > 0
        else f"days whose new data leaves room in `daily_request_budget` {limit:,} (today's needs all of it)"
    )
    return [
        f"Backfill in progress ({owed:,} requests): " + "; ".join(what for what, _ in found) + ".",
        (
            f"  It comes after today's lists and new or changed parents, and leaves today's aggregates and a "
            f"reconciliation slice their requests (up to half of what is left after today's new data); it takes {pace}."
        ),
    ]


def render(lines: list[Line], tap: TapExec, probes: int) -> str:
    """A table, the total, and what today's budget buys of it."""
    total = sum(line.requests for line in lines)
    per_minute = int(tap.config["max_requests_per_minute"])
    out = [f"{'stream':<30} {'rows':>8} {'requests':>9}  note", "-" * 70]
    out += [f"{line.stream:<30} {line.rows:>8} {line.requests:>9}  {line.note}" for line in lines]
    out += [
        "-" * 70,
        f"{'total':<30} {'':>8} {total:>9}  ({days_phrase(tap.run, total)})",
        f"At {per_minute} requests/minute the run takes at least {math.ceil(min(total, tap.run.day.left()) / per_minute)} min.",
        f"This plan used {probes} requests (they count against today's budget).",
        (
            "Order: lists, today's new or changed parents (raw rows, then aggregates), earlier runs' debts, history "
            "newest first, then a reconciliation slice."
        ),
        *backfills(tap, lines),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Print the plan for `--config` (and optional `--catalog`, `--state`); bad inputs end in one line (cli.py)."""
    parser = argparse.ArgumentParser(prog="tap-exec-plan", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help="tap config JSON file, or ENV (TAP_EXEC_* variables)")
    parser.add_argument("--catalog", help="catalog JSON file (default: the default selection)")
    parser.add_argument("--state", help="state JSON file, or - for standard input (as `meltano state get` prints it)")
    args = parser.parse_args(argv)
    with one_line(TapExec.logger):
        files = ConfigFiles.read(args.config, TapExec.settings_schema())
        catalog = read_catalog(args.catalog) if args.catalog else None
        state = read_state(args.state) if args.state else None
        tap = TapExec(config=files.config, catalog=catalog, state=state, parse_env_config=files.parse_env, setup_mapper=False)
        check_state(tap)
        if catalog is not None:
            check_catalog(tap, catalog)
        lines = plan(tap)
    print(render(lines, tap, tap.run.governor.total))  # noqa: T201


if __name__ == "__main__":
    main()
