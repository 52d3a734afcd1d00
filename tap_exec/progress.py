"""What a run says while it runs: where each long stream is, one estimate for the whole run, and a summary.

Every `every` seconds the stream at work logs one line: how far it got, and what the whole run still owes in
requests (estimate.py, the arithmetic `tap-exec-plan` uses), how long that takes at the configured pace, when it
should end, and whether the daily limit (or `max_requests`) will stop it first. A stream that logged while running
logs again when it is done. No request is ever made to estimate.
"""

from __future__ import annotations

import time
import typing as t
from collections import Counter
from datetime import datetime, timedelta, timezone

from tap_exec.estimate import DAILY_LIMIT, ListSize, remaining

if t.TYPE_CHECKING:
    from tap_exec.client import ExecStream
    from tap_exec.tap import TapExec


class RunProgress:
    """One per run: what each stream did, and lines saying where the run is."""

    every = 10.0  # seconds between two progress lines

    def __init__(self, tap: TapExec) -> None:
        self.tap = tap
        self.sizes: dict[str, ListSize] = {}
        self.records: Counter[str] = Counter()
        self.parents: Counter[str] = Counter()  # parents whose children each per-parent stream fetched
        self.started = self._last = time.monotonic()
        self.reported: set[str] = set()

    # -- what streams tell it ------------------------------------------------------------
    def page(self, stream: ExecStream, pagination: dict[str, t.Any]) -> None:
        """A list read one page."""
        self.sizes.setdefault(stream.name, ListSize()).read(pagination)
        self._tick(stream)

    def record(self, stream: ExecStream) -> None:
        """A stream emitted one record."""
        self.records[stream.name] += 1

    def taken(self, stream: ExecStream) -> None:
        """A list with per-parent streams took one row: what it owes them is counted from now on."""
        size = self.sizes.get(stream.name) or self.sizes.setdefault(stream.name, ListSize())  # no ListSize built per row
        size.rows_taken += 1

    def fetched(self, stream: ExecStream) -> None:
        """A per-parent stream fetched one parent's children."""
        self.parents[stream.name] += 1
        self._tick(stream)

    def listed(self, stream: ExecStream) -> None:
        """A list is complete, and so are the per-parent streams under it."""
        self.sizes.setdefault(stream.name, ListSize()).done = True
        for name in [stream.name, *(child.name for child in stream.child_streams)]:
            if name in self.reported:
                self.reported.discard(name)
                self.tap.logger.info("%s", self.line(self.tap.streams[name], done=True))  # type: ignore[arg-type]

    def waiting(self, stream: str) -> None:
        """The rate limiter is holding a stream's next request."""
        self._tick(t.cast("ExecStream", self.tap.streams[stream]))

    def _tick(self, stream: ExecStream) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.reported.add(stream.name)
            if stream.parent_stream_type is not None:
                self.reported.add(self.tap.changes.parent_of[stream.name].name)  # its sync spans its children's
            self.tap.logger.info("%s", self.line(stream))

    # -- what it says --------------------------------------------------------------------
    def line(self, stream: ExecStream, *, done: bool = False) -> str:
        """`<stream>: <how far> | run: <requests left>, <time>, <end>[, <what stops it>]`."""
        requests = self.tap.governor.by_stream[stream.name]
        if stream.parent_stream_type is not None:
            parent = self.tap.changes.parent_of[stream.name].name
            fetched = self.parents[stream.name]
            left = remaining(self.tap, self.sizes).get(stream.name, 0)
            where = f"done, {fetched:,} {parent}"
            if not done:
                where = f"{fetched:,} of {fetched + left:,} {parent} ({parent} {self._position(parent)})"
        else:
            where = "done" if done else self._position(stream.name)
        return (
            f"{stream.name}: {where}, {self.records[stream.name]:,} records, {requests:,} requests so far | run: {self.outlook()}"
        )

    def _position(self, name: str) -> str:
        size = self.sizes.get(name) or ListSize()
        return f"page {size.pages_read:,} of {size.pages or 0:,}"

    def outlook(self) -> str:
        """What the whole run still owes, how long that takes, and what will stop it first."""
        governor = self.tap.governor
        left = sum(remaining(self.tap, self.sizes).values())
        seconds = governor.time_for(left)
        now = datetime.now(timezone.utc)
        end = now + timedelta(seconds=seconds)
        pace = f"{governor.per_minute}/min" if governor.window == 60 else f"{governor.per_minute} per {governor.window:g}s"  # noqa: PLR2004
        clock = end.strftime("%H:%M" if end.date() == now.date() else "%Y-%m-%d %H:%M")
        text = f"about {left:,} requests left, {_duration(seconds)} at {pace}, ending about {clock} UTC"
        budget = min(DAILY_LIMIT, governor.max_requests or DAILY_LIMIT)
        if governor.total + left > budget:
            what = "`max_requests`" if budget < DAILY_LIMIT else f"the daily limit ({DAILY_LIMIT:,} requests a day)"
            text += (
                f"; {what} will stop this run after about {budget:,} requests, "
                f"{max(0, budget - governor.total):,} from now: the rest continues on the next run"
            )
        return text

    def summary(self, outcome: str = "done") -> list[str]:
        """End-of-run lines: the run, each stream that did something, and what is still owed.

        `outcome` is done, stopped (a clean stop: the final state was written) or failed (state as last written).
        """
        governor = self.tap.governor
        waited = sum(governor.waited.values())
        elapsed = _duration(time.monotonic() - self.started)
        lines = [f"Summary: {governor.total:,} requests in {elapsed}, {_duration(waited)} of it waiting for the rate limit"]
        lines += [
            f"Summary: {name}: {self.records[name]:,} records, {governor.by_stream[name]:,} requests, "
            f"{_duration(governor.waited[name])} waiting for the rate limit"
            for name in self.tap.streams
            if governor.by_stream[name] or self.records[name]
        ]
        owed = {name: n for name, n in remaining(self.tap, self.sizes).items() if n}
        if owed:
            parts = ", ".join(f"{name} {n:,}" for name, n in owed.items())
            saved = "state is saved" if outcome == "stopped" else "from the last state written"
            lines.append(f"Summary: owed to the next run ({saved}): about {sum(owed.values()):,} requests ({parts})")
        else:
            lines.append("Summary: nothing is owed to the next run")
        return lines


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
