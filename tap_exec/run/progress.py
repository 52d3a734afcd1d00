"""What a run says while it runs: where each long stream is, one estimate for the whole run, and a summary.

Every `every` seconds the stream at work logs one line: how far it got, and what the whole run still owes in
requests (estimate.py, the arithmetic `tap-exec-plan` uses), how long that takes at the configured pace, when it
should end, and whether the daily limit (or `max_requests`) will stop it first. A stream that logged while running
logs again when it is done. No request is ever made to estimate.
"""

from __future__ import annotations

import math
import time
import typing as t
from collections import Counter
from datetime import datetime, timedelta, timezone

from tap_exec.run.estimate import ListSize, remaining

if t.TYPE_CHECKING:
    from tap_exec.run.protocols import Listing
    from tap_exec.run.services import Services


class RunProgress:
    """One per run: what each stream did, and lines saying where the run is."""

    every = 10.0  # seconds between two progress lines

    def __init__(self, run: Services) -> None:
        self.run = run
        self.summaries: t.Callable[[], list[str]] = list  # other end-of-run lines (the tap's schema drift summary)
        self.sizes: dict[str, ListSize] = {}
        self.records: Counter[str] = Counter()
        self.parents: Counter[str] = Counter()  # parents whose children each per-parent stream fetched
        self.started = self._last = time.monotonic()
        self.reported: set[str] = set()

    # -- what streams tell it ------------------------------------------------------------
    def page(self, stream: Listing, pagination: dict[str, t.Any]) -> None:
        """A list read one page."""
        self.sizes.setdefault(stream.name, ListSize()).read(pagination)
        self._tick(stream)

    def record(self, stream: Listing) -> None:
        """A stream emitted one record."""
        self.records[stream.name] += 1

    def taken(self, stream: Listing) -> None:
        """A list with per-parent streams took one row: what it owes them is counted from now on."""
        size = self.sizes.get(stream.name) or self.sizes.setdefault(stream.name, ListSize())  # no ListSize built per row
        size.rows_taken += 1

    def fetched(self, stream: Listing) -> None:
        """A per-parent stream fetched one parent's children."""
        self.parents[stream.name] += 1
        self._tick(stream)

    def listed(self, stream: Listing) -> None:
        """A list is complete, and so are the per-parent streams under it."""
        self.sizes.setdefault(stream.name, ListSize()).done = True
        self.done(stream)

    def done(self, stream: Listing) -> None:
        """A stream that reported while it ran is done for this phase: say so."""
        if stream.name in self.reported:
            self.reported.discard(stream.name)
            self.run.host.logger.info("%s", self.line(stream, done=True))

    def waiting(self, stream: str) -> None:
        """The rate limiter is holding a stream's next request."""
        self._tick(self.run.streams[stream])

    def _tick(self, stream: Listing) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.reported.add(stream.name)
            if stream.parent_stream_type is not None:
                self.reported.add(self.run.tracker.parent_of[stream.name].name)  # its sync spans its children's
            self.run.host.logger.info("%s", self.line(stream))

    # -- what it says --------------------------------------------------------------------
    def line(self, stream: Listing, *, done: bool = False) -> str:
        """`<stream>: <how far> | run: <requests left>, <time>, <end>[, <what stops it>]`."""
        requests = self.run.governor.by_stream[stream.name]
        if stream.parent_stream_type is not None:
            parent = self.run.tracker.parent_of[stream.name].name
            fetched = self.parents[stream.name]
            left = remaining(self.run, self.sizes).get(stream.name, 0)
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
        """What the whole run still owes, how long that takes, and what today's budget buys of it."""
        governor = self.run.governor
        left = sum(remaining(self.run, self.sizes).values())
        today = self.run.day.left()
        if governor.max_requests is not None:
            today = min(today, max(0, governor.max_requests - governor.total))
        doable = min(left, today)
        seconds = governor.time_for(doable)
        now = datetime.now(timezone.utc)
        end = now + timedelta(seconds=seconds)
        pace = f"{governor.per_minute}/min" if governor.window == 60 else f"{governor.per_minute} per {governor.window:g}s"  # noqa: PLR2004
        clock = end.strftime("%H:%M" if end.date() == now.date() else "%Y-%m-%d %H:%M")
        text = f"about {left:,} requests left, {_duration(seconds)} at {pace}, ending about {clock} UTC"
        if left > today:
            text += f"; {days_phrase(self.run, left)}"
        return text

    def summary(self, outcome: str = "done") -> list[str]:
        """End-of-run lines: the run, each stream that did something, and what is still owed.

        `outcome` is done, stopped (a clean stop: the final state was written) or failed (state as last written).
        """
        governor = self.run.governor
        waited = sum(governor.waited.values())
        elapsed = _duration(time.monotonic() - self.started)
        lines = [f"Summary: {governor.total:,} requests in {elapsed}, {_duration(waited)} of it waiting for the rate limit"]
        lines += [
            f"Summary: {name}: {self.records[name]:,} records, {governor.by_stream[name]:,} requests, "
            f"{_duration(governor.waited[name])} waiting for the rate limit"
            for name in self.run.streams
            if governor.by_stream[name] or self.records[name]
        ]
        lines += self.summaries()
        owed = {name: n for name, n in remaining(self.run, self.sizes).items() if n and not name.endswith(" recon")}
        if owed:
            parts = ", ".join(f"{name} {n:,}" for name, n in owed.items())
            saved = "state is saved" if outcome in {"stopped", "done"} else "from the last state written"
            total = sum(owed.values())
            lines.append(
                f"Summary: owed to the next run ({saved}): about {total:,} requests ({parts}); {days_phrase(self.run, total)}"
            )
        else:
            lines.append("Summary: nothing is owed to the next run")
        return lines


def days_phrase(run: Services, left: int) -> str:
    """What today's budget buys of `left` requests, and on which day the rest should be done."""
    day = run.day
    today = day.left()
    if left <= today:
        return f"today's budget covers it ({today:,} of {day.limit:,} requests left today)"
    more = math.ceil((left - today) / day.limit)
    done = (day.now() + timedelta(days=more)).strftime("%Y-%m-%d")
    return (
        f"today's budget buys {today:,} of them (`daily_request_budget` {day.limit:,}); the rest takes about {more} more "
        f"day{'s' if more > 1 else ''} of daily runs, done about {done}"
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
