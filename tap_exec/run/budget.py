"""The API's day: its clock (from the responses' `Date` header) and the day's request budget, kept in the state."""

from __future__ import annotations

import email.utils
import time
import typing as t
from datetime import datetime, timezone

CLOCK_SLACK = 2.0  # seconds: the `Date` header counts whole seconds, and a response takes time
BUDGET = "budget"  # the state's top-level key: {"day": "YYYY-MM-DD", "spent": n, "offset": seconds}


class ApiDay:
    """What today's runs have spent of the day's budget, "today" being the API's UTC day, not the local clock's.

    The offset between the API's clock and ours is learned from every response's `Date` header and remembered in
    the state, so the next run knows the API's day before its first response. Several runs in one API day (an
    hourly schedule, a retry) share the day's budget; a new day starts the count again.
    """

    def __init__(self, state: dict[str, t.Any], limit: int) -> None:
        found = state.get(BUDGET)
        record: dict[str, t.Any] = t.cast("dict[str, t.Any]", found) if _well_formed(found) else {}
        self.record: dict[str, t.Any] = {
            "day": record.get("day"),
            "spent": int(record.get("spent", 0)),
            "offset": int(record.get("offset", 0)),
        }
        if isinstance(record.get("blocked_until"), str):
            self.record["blocked_until"] = record["blocked_until"]
        state[BUDGET] = self.record
        self.limit = limit
        self.spent_this_run = 0
        self.learned = False  # True once a response's `Date` told the API's clock

    def now(self) -> datetime:
        """The API's time now, as best known."""
        return datetime.fromtimestamp(time.time() + self.record["offset"], tz=timezone.utc)

    def today(self) -> str:
        """The API's date (UTC)."""
        return self.now().strftime("%Y-%m-%d")

    def seconds_to_midnight(self) -> float:
        """Seconds until the API's day ends and a new budget starts."""
        now = self.now()
        return 86_400 - (now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6)

    def _roll(self, *, corrected: bool = False) -> None:
        """A new API day starts a new count; a clock just corrected means this run's requests were today's."""
        today = self.today()
        if self.record["day"] != today:
            self.record["day"] = today
            self.record["spent"] = self.spent_this_run if corrected else 0

    def learn(self, date_header: str | None) -> None:
        """Set the clock from a response's `Date` header (an unreadable one is ignored)."""
        if not date_header:
            return
        try:
            moment = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return
        if moment.tzinfo is None:
            return
        self.learned = True
        offset = moment.timestamp() - time.time()
        corrected = abs(offset - self.record["offset"]) >= CLOCK_SLACK
        if corrected:
            self.record["offset"] = round(offset)  # whole seconds: SDK targets read a float back as a Decimal
        self._roll(corrected=corrected)

    def left(self) -> int:
        """Requests today's budget still allows (none while the API's own limit holds us off).

        Before the run's first response the API's day is a guess from the offset the state remembers: a spent budget
        then still allows one request, whose `Date` says whether a new day began (a clock stepped back, a paused VM).
        """
        self._roll()
        if self.blocked():
            return 0
        left = max(0, self.limit - int(self.record["spent"]))
        return left or (0 if self.learned else 1)

    def blocked(self) -> str | None:
        """Until when the API's daily limit holds (a 429 asked for a longer wait than `max_wait_seconds`), if it does."""
        until = self.record.get("blocked_until")
        return until if isinstance(until, str) and until > iso(self.now()) else None

    def spend(self) -> None:
        """One request was sent."""
        self._roll()
        self.record["spent"] += 1
        self.spent_this_run += 1

    def spent_by_api(self, wait: float) -> None:
        """The API refused a request for its daily limit: no request until the wait it asked for is over."""
        self.record["blocked_until"] = iso(datetime.fromtimestamp(time.time() + self.record["offset"] + wait, tz=timezone.utc))


def parse_moment(value: str) -> datetime:
    """An ISO 8601 date-time from the state (`Z` or an offset); ValueError if it is not one."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """The API's date-time format (`2026-03-15T14:30:00Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _well_formed(record: t.Any) -> bool:  # noqa: ANN401 - whatever the state holds
    return (
        isinstance(record, dict)
        and isinstance(record.get("day"), str)
        and isinstance(record.get("spent"), int)
        and isinstance(record.get("offset", 0.0), (int, float))
    )
