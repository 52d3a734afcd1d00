"""`tap-exec-plan`: what a run of the current selection will cost in requests, before running it.

One request per list endpoint (`page_size=1`) reveals its `total_count`; single objects cost one request and
per-parent streams one request per parent row (more for a parent whose children span several pages).
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
from tap_exec.tap import TapExec

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream

DAILY_LIMIT = 1_000


@dataclass
class Line:
    """The plan for one stream."""

    stream: str
    rows: str
    requests: int
    note: str = ""


def probe(stream: ExecStream) -> int:
    """`total_count` of a list stream under this run's filters, from one request of one row."""
    if isinstance(stream, ExecIncrementalStream):
        stream.get_new_paginator()
    params = {**stream.get_url_params(None, None), "page_size": 1, "page": 1}
    prepared = stream.build_prepared_request(method="GET", url=stream.get_url(None), params=params, headers=stream.http_headers)
    response = stream.request_decorator(stream._request)(prepared, None)  # noqa: SLF001 - the stream's own paced, retried send
    return int(json_body(response)["pagination"]["total_count"])


def plan(tap: TapExec) -> list[Line]:
    """One line per selected stream; parents of selected children are probed even when not selected."""
    counts: dict[str, int] = {}
    lines = []
    page_size = int(tap.config["page_size"])
    streams = [t.cast("ExecStream", s) for s in tap.streams.values()]
    for stream in streams:
        if not (stream.selected or stream.has_selected_descendents) or isinstance(stream, ExecChildStream):
            continue
        if not stream.paginated:
            counts[stream.name] = 1
            lines.append(Line(stream.name, "1", 1))
            continue
        total = counts[stream.name] = probe(stream)
        cost = max(1, math.ceil(total / page_size))
        note = "incremental: rows since the bookmark" if isinstance(stream, ExecIncrementalStream) else ""
        if isinstance(stream, ExecIncrementalStream) and stream.newest_first and cost > 1:
            cost, note = cost + 1, note + " (+1 catch-up pass)"
        lines.append(Line(stream.name, str(total), cost, note))
    for stream in streams:
        if isinstance(stream, ExecChildStream) and stream.selected and stream.parent_stream_type is not None:
            parents = next((n for s, n in counts.items() if type(tap.streams[s]) is stream.parent_stream_type), 0)
            lines.append(Line(stream.name, "?", parents, f"1 per {stream.parent_stream_type.__name__} row (at least)"))
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
        out.append("Over the daily limit: deselect per-parent streams or set `max_requests` and let state carry on tomorrow.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Print the plan for `--config` (and optional `--catalog`, `--state`)."""
    parser = argparse.ArgumentParser(prog="tap-exec-plan", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="tap config JSON file")
    parser.add_argument("--catalog", help="catalog JSON file (default: the default selection)")
    parser.add_argument("--state", help="state JSON file (incremental streams count rows since the bookmark)")
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
