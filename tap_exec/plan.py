"""`tap-exec-plan`: what a run of the current selection will cost in requests, before running it.

The plan reads each list the run reads as the run reads ahead (lookahead.py: whole when it has at most
`READ_WHOLE` pages, else its first page) and hands the rows to the run's change tracker (changes.py) with the saved
state: per-parent streams then owe exactly the parents the run would fetch, so a daily run's plan is exact; rows
of longer lists (a first run, a backfill) are estimated as the progress lines estimate them (estimate.py).
"""

from __future__ import annotations

import argparse
import math
import typing as t
from dataclasses import dataclass

from tap_exec.cli import ConfigFiles, check_catalog, check_state, one_line, read_catalog, read_state
from tap_exec.estimate import DAILY_LIMIT, ListSize, remaining
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.lookahead import read_ahead
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream


@dataclass
class Line:
    """The plan for one stream."""

    stream: str
    rows: str
    requests: int
    note: str = ""


def plan(tap: TapExec) -> list[Line]:
    """One line per selected stream, in sync order; parents of selected children are read even when not selected."""
    changes = tap.changes
    sizes: dict[str, ListSize] = {}
    for stream in t.cast("dict[str, ExecStream]", tap.streams).values():
        if stream.parent_stream_type is None and stream.name in changes.synced and stream.paginated:
            changes.before_listing(stream)
            sizes[stream.name], _ = read_ahead(stream)
            if sizes[stream.name].rows_classified == sizes[stream.name].rows:
                changes.settle(stream)
    lines = []
    for name, requests in remaining(tap, sizes).items():
        if name in changes.children:
            parent = changes.parent_of[name].name
            owed = changes.owed_count(name)
            if owed is None:
                note = "every parent (per_parent_refresh_days is 0)"
            elif sizes[parent].rows_classified < (sizes[parent].rows or 0):
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
    print(render(lines, tap, tap.governor.total))  # noqa: T201


if __name__ == "__main__":
    main()
