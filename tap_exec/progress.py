"""Progress lines for long syncs: page k of n, records so far, requests used, time left at the rate limit."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    import logging

    from tap_exec.throttle import RequestGovernor


class Progress:
    """Logs one stream's progress at most every `every` seconds, and on its last page."""

    def __init__(self, stream: str, logger: logging.Logger, governor: RequestGovernor, every: float = 10.0) -> None:
        self.stream = stream
        self.logger = logger
        self.governor = governor
        self.every = every
        self.records = 0
        self._last = time.monotonic()

    def page(self, pagination: dict[str, t.Any], rows: int) -> None:
        """Count one page; say where the stream is if it has been a while or the list is done."""
        self.records += rows
        page, total = pagination.get("page", 0), pagination.get("total_pages", 0)
        now = time.monotonic()
        if total <= 1 or (page < total and now - self._last < self.every):
            return
        self._last = now
        left = self.governor.remaining_time(max(0, total - page))
        self.logger.info(
            "%s: page %d of %d, %d records so far, %d requests used in this run, about %s left at %d requests/min",
            self.stream,
            page,
            total,
            self.records,
            self.governor.total,
            _duration(left),
            self.governor.per_minute,
        )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
