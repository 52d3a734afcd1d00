"""The API's day: its clock (from the responses' `Date` header) and the day's request budget, kept in the state."""

from __future__ import annotations

import email.utils
import time
import typing as t
from datetime import datetime, timezone

CLOCK_SLACK = 2.0  # seconds: the `Date` header counts whole seconds, and a response takes time
#: Seconds before the API's midnight, by the estimated clock, from which a spent day allows one request to read the clock.
CLOCK_DOUBT = 60.0
#: A 429 whose wait ends this close to the API's midnight is its daily limit, whatever its body says.
MIDNIGHT_SLACK = 60.0
BUDGET = "budget"  # the state's top-level key: {"day": "YYYY-MM-DD", "spent": n, "offset": seconds, "open": n, "hold": {…}}
#: The fewest requests a run may send after a STATE message before its next one (the requests a kill can leave
#: uncounted): at least a minute's at `max_requests_per_minute`, so that the planner's checkpoint every minute comes first.
OPEN_BOUND = 100


class ApiDay:
    """What today's runs have spent of the day's budget, "today" being the API's UTC day, not the local clock's.

    The offset between the API's clock and ours is learned from every response's `Date` header and remembered in
    the state, so the next run knows the API's day before its first response. Several runs in one API day (an
    hourly schedule, a retry) share the day's budget; a new day starts the count again.
    """

    def __init__(self, state: dict[str, t.Any], limit: int) -> None:
        found = state.get(BUDGET)
        record: dict[str, t.Any] = t.cast("dict[str, t.Any]", found) if _well_formed(found) else {}
        # A run killed after its last STATE may have sent up to that STATE's `open` more requests: count them as spent.
        self.charged = _open(record)
        self.record: dict[str, t.Any] = {
            "day": record.get("day"),
            "spent": int(record.get("spent", 0)) + self.charged,
            "offset": int(record.get("offset", 0)),
            "open": 0,
        }
        hold = _hold(record)
        if hold:
            self.record["hold"] = hold
        state[BUDGET] = self.record
        self.limit = limit
        self.spent_this_run = 0
        self.learned = False  # True once a response's `Date` told the API's clock
        self._counted = {self.record["day"]: self.record["spent"]}  # what the state said was spent, by day
        self.open = False  # True while the run syncs: each STATE then says how many requests may follow it
        self.unreported = 0  # requests sent since the last STATE message
        self._stamped_day: str | None = None  # the API's day the last STATE message counted
        self._capped = False
        self.open_bound = OPEN_BOUND  # the run's: at least a minute's requests at its pace (Run.day)

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

    def seconds_to(self, moment: str) -> float:
        """Seconds from the API's now to `moment` (an ISO date-time by the API's clock)."""
        return (parse_moment(moment) - self.now()).total_seconds()

    def _roll(self, *, corrected: bool = False) -> None:
        """A new API day starts a new count; a clock just corrected means this run's requests were today's.

        A correction back to the day the state counted (an estimate that ran past the API's midnight) keeps its count.
        """
        today = self.today()
        if self.record["day"] != today:
            self.record["day"] = today
            self.record["spent"] = self._counted.get(today, 0) + (self.spent_this_run if corrected else 0)

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
        """Requests today's budget still allows (none while the API holds us off).

        Before the run's first response the API's day is an estimate from the offset the state remembers. A spent day
        allows no request, except within `CLOCK_DOUBT` of the estimated midnight: then one, as the run's first, whose
        `Date` says whether the API's new day began. A clock that fell behind the API's delays the new day that long.
        """
        self._roll()
        if self.held():
            return 0
        left = max(0, self.limit - int(self.record["spent"]))
        if left or self.learned or self.spent_this_run:
            return left
        return 1 if self.seconds_to_midnight() <= CLOCK_DOUBT else 0

    def held(self) -> dict[str, t.Any] | None:
        """The wait the API asked for (a 429 longer than `max_wait_seconds`), while it lasts; a past one is forgotten."""
        hold = self.record.get("hold")
        if hold and hold["until"] > iso(self.now()):
            return t.cast("dict[str, t.Any]", hold)
        self.record.pop("hold", None)
        return None

    def hold(self, wait: float, said: str, *, daily: bool) -> None:
        """The API refused a request and asked for `wait` seconds: no request until then.

        It is the daily limit when its body says so (`daily`), or when the wait ends at the API's midnight (by the
        `Date` of that 429) whatever the body says; otherwise something else holds the API (a maintenance window).
        """
        midnight = self.seconds_to_midnight()
        at_midnight = abs(wait - midnight) <= MIDNIGHT_SLACK
        if at_midnight:
            wait = max(wait, midnight)  # not a second before the API's new day (the `Date` header is in whole seconds)
        # a second more: the clock comes from `Date` headers in whole seconds, so it may run up to a second behind
        until = datetime.fromtimestamp(time.time() + self.record["offset"] + wait + 1, tz=timezone.utc)
        daily = daily or at_midnight
        self.record["hold"] = {"until": iso(until), "daily": daily, "said": said}

    def spend(self) -> None:
        """One request was sent."""
        self._roll()
        self.record["spent"] += 1
        self.spent_this_run += 1
        self.unreported += 1

    def stamp(self) -> None:
        """A STATE message is written: it says how many requests may follow it before the next one (`open`).

        `open_bound` at most, never more than today's budget allows, 0 once the run ended. A run that starts from a
        STATE whose `open` is not 0 counts that many as spent (its writer was killed); the API's next day owes nothing.
        """
        self._roll()
        left = self.left()
        self.record["open"] = min(left, self.open_bound) if self.open else 0
        self.unreported = 0
        self._stamped_day = self.record["day"]
        self._capped = self.record["open"] < left  # the bound, not the budget, limits what may follow this STATE

    def checkpoint_soon(self) -> bool:
        """True when a checkpoint now saves a STATE the `open` bound would force mid-read (three quarters of it used)."""
        return self.open and self._capped and self.unreported * 4 >= self.open_bound * 3

    def must_report(self) -> bool:
        """True when the next request needs a STATE message first: the last one's `open` is used up, or its day is over."""
        self._roll()
        return self.open and (self.unreported >= self.record["open"] or self._stamped_day != self.record["day"])


def parse_moment(value: str) -> datetime:
    """An ISO 8601 date-time from the state (`Z` or an offset); ValueError if it is not one."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """The API's date-time format (`2026-03-15T14:30:00Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open(record: dict[str, t.Any]) -> int:
    """The state's `open`: requests its writer may have sent after it (none from earlier versions, or if malformed)."""
    value = record.get("open", 0)
    return value if isinstance(value, int) and value > 0 else 0


def _hold(record: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The state's hold, well formed (a `blocked_until` of earlier versions was the daily limit's)."""
    hold = record.get("hold")
    if not isinstance(hold, dict):
        hold = {"until": record.get("blocked_until")}
    try:
        until = iso(parse_moment(hold["until"]))
    except (TypeError, ValueError, AttributeError):
        return None
    return {"until": until, "daily": bool(hold.get("daily", True)), "said": str(hold.get("said", ""))}


def _well_formed(record: t.Any) -> bool:  # noqa: ANN401 - whatever the state holds
    return (
        isinstance(record, dict)
        and isinstance(record.get("day"), str)
        and isinstance(record.get("spent"), int)
        and isinstance(record.get("offset", 0.0), (int, float))
    )
