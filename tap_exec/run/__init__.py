"""What a run owes and in which order: one `Run` per tap run, handed to every stream (the package imports no stream)."""

from __future__ import annotations

import functools
import typing as t

from tap_exec.run.budget import OPEN_BOUND, ApiDay
from tap_exec.run.history import History
from tap_exec.run.owed import ChangeTracker
from tap_exec.run.pace import RequestGovernor
from tap_exec.run.planner import Planner
from tap_exec.run.progress import RunProgress

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_exec.run.protocols import Listing
    from tap_exec.run.services import Host

DAILY_LIMIT = 1_000  # requests a day per workspace (NOTES.md)


class Run:
    """One run's services: the API's day and its budget, the pace, what is owed, history, the planner, progress.

    Each is built on first use, once the catalog and state are in place.
    """

    def __init__(self, host: Host) -> None:
        self.host = host

    @property
    def config(self) -> Mapping[str, t.Any]:
        """The tap's settings."""
        return self.host.config

    @property
    def streams(self) -> Mapping[str, Listing]:
        """Every stream, in sync order."""
        return t.cast("Mapping[str, Listing]", self.host.streams)

    @functools.cached_property
    def day(self) -> ApiDay:
        """The API's day and what today's runs spent of `daily_request_budget`."""
        day = ApiDay(self.host.state, int(self.config.get("daily_request_budget") or DAILY_LIMIT))
        day.open_bound = max(OPEN_BOUND, int(self.config["max_requests_per_minute"]))
        if day.charged:
            note = "The last run ended without its final STATE (killed?): up to %d requests it may have sent count as spent."
            self.host.logger.info(note, day.charged)
        return day

    @functools.cached_property
    def governor(self) -> RequestGovernor:
        """The run's one rate limiter, request budget and day budget, shared by every stream."""
        governor = RequestGovernor(
            int(self.config["max_requests_per_minute"]),
            self.config.get("max_requests"),
            window=float(self.config["rate_limit_window_seconds"]),
            day=self.day,
        )
        governor.on_wait = self.progress.waiting
        governor.tick = self.progress.every
        return governor

    @functools.cached_property
    def tracker(self) -> ChangeTracker:
        """What changed and which per-parent streams owe which parents."""
        tracker = ChangeTracker(
            self.streams, self.host.state, float(self.config.get("per_parent_refresh_days", 7)), self.day.now()
        )
        tracker.clock = self.day.now
        for note in tracker.notes:
            self.host.logger.info("%s", note)
        return tracker

    @functools.cached_property
    def history(self) -> History:
        """Where history and reconciliation stand."""
        return History(
            self.tracker,
            int(self.config["page_size"]),
            float(self.config.get("per_parent_refresh_days", 7)),
            self.config.get("start_date"),
        )

    @functools.cached_property
    def planner(self) -> Planner:
        """The order the run spends its budget in."""
        return Planner(self)

    @functools.cached_property
    def progress(self) -> RunProgress:
        """Progress lines and the end-of-run summary."""
        return RunProgress(self)

    def checkpoint(self) -> None:
        """A STATE message with everything the run decided so far."""
        if "tracker" in self.__dict__:
            self.tracker.flush()
        self.host.state_writer.write_state(self.host.state)
