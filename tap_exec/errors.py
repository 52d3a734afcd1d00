"""The tap's failure vocabulary: one readable line per failure, and the exit status that goes with it."""

from __future__ import annotations

import math
import typing as t
from http import HTTPStatus

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

if t.TYPE_CHECKING:
    import requests

    from tap_exec.run.budget import ApiDay

EXIT_DONE = 0  # also when the day is spent (the tap's budget, or the API's daily limit): the next day's run continues
EXIT_FAILED = 1  # a permanent error: fix the cause, then run again
EXIT_BUDGET = 3  # `max_requests` reached: state is saved, run again to continue
# 4 is no longer used: a parent whose children keep failing is data (fetch_failures), not a failed run (README)
EXIT_RATE_LIMITED = 75  # a wait longer than `max_wait_seconds`, not the daily limit (EX_TEMPFAIL): run again later

# What a user can do about each status (NOTES.md: the API's error types).
ADVICE: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "the request was rejected; check the tap's settings (page_size, start_date)",
    HTTPStatus.UNAUTHORIZED: "check the `api_key` setting (Settings > API in Exec; keys look like exec_live_…)",
    HTTPStatus.FORBIDDEN: "the workspace is inactive or the key lacks access; ask an Exec admin",
    HTTPStatus.NOT_FOUND: "check the `api_url` setting (default https://api.exec.com/rest/v1)",
}


class ExecTapError(Exception):
    """An expected failure: printed as one line, no traceback, and the run exits with `exit_code`."""

    exit_code = EXIT_FAILED


class ExecAPIError(FatalAPIError, ExecTapError):
    """The API answered with a permanent error or a body that is not the documented shape."""


class ParentNotFoundError(ExecAPIError):
    """A child endpoint answered 404: its parent was deleted between the list and the detail call."""


class RetryableError(RetriableAPIError):
    """A transient failure (5xx, 429, truncated body) worth another try."""

    def __init__(
        self, message: str, response: requests.Response | None = None, retry_after: float | None = None, said: str = ""
    ) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after
        self.said = said  # a 429's own words (`type/code: message`): which limit it is


class RetriesExhaustedError(ExecTapError):
    """A request still failed after `max_retries` tries."""


class StopSyncError(ExecTapError):
    """A clean, resumable stop: the final state is written before the tap exits."""


class WaitTooLongError(StopSyncError):
    """The API asked for a wait longer than `max_wait_seconds`, and not for its daily limit (a maintenance window)."""

    exit_code = EXIT_RATE_LIMITED

    def __init__(self, day: ApiDay) -> None:
        hold = day.held() or {}
        super().__init__(
            f"The Exec API answered 429 ({hold.get('said') or 'no reason given'}) and asked for no request until "
            f"{_until(day, hold)}: longer than `max_wait_seconds`, and not its daily limit. No request is sent before "
            "then; state is saved; run again after that time."
        )


class BudgetReachedError(StopSyncError):
    """`max_requests` was reached."""

    exit_code = EXIT_BUDGET


def describe_http_error(response: requests.Response, endpoint: str) -> str:
    """`GET /path -> 401 authentication_error/invalid_api_key: message. What to do.` from the API's envelope."""
    error: dict[str, t.Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
    except ValueError:
        pass
    status = response.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "HTTP error"
    kind = "/".join(str(error[k]) for k in ("type", "code") if error.get(k)) or phrase
    message = str(error.get("message") or "no error message in the response")
    advice = ADVICE.get(status, "see the Troubleshooting section of the README")
    return f"GET {endpoint} -> {response.status_code} {kind}: {message}. What to do: {advice}."


class DayBudgetSpentError(StopSyncError):
    """The API's day is spent (`daily_request_budget`, or the API's daily limit): a normal end, so the exit status is 0."""

    exit_code = EXIT_DONE

    def __init__(self, day: ApiDay) -> None:
        hold = day.held()
        spent = f"{day.record['spent']:,} of {day.limit:,} requests on the API's day {day.record['day']}"
        if hold:
            why = "" if day.record["spent"] >= day.limit else ": another client shares the key, or the budget is above it"
            super().__init__(
                f"The Exec API's daily limit is reached ({hold['said'] or 'HTTP 429'}; tap-exec's `daily_request_budget`: "
                f"{spent}{why}). State is saved; no request before {_until(day, hold)}, and the next run after then "
                "continues."
            )
            return
        super().__init__(
            f"Today's request budget is spent ({spent}, `daily_request_budget`). State is saved; the next run "
            f"continues after 00:00 UTC by the API's clock (in {_span(day.seconds_to_midnight())})."
        )


def day_over(day: ApiDay) -> StopSyncError:
    """Why this run may send no more requests: the day is spent (exit 0), or the API holds it off for another reason."""
    hold = day.held()
    return WaitTooLongError(day) if hold and not hold["daily"] else DayBudgetSpentError(day)


def _until(day: ApiDay, hold: dict[str, t.Any]) -> str:
    """`2026-12-03T00:00:00Z by the API's clock (in 3h12m)`."""
    return f"{hold['until']} by the API's clock (in {_span(day.seconds_to(hold['until']))})"


def _span(seconds: float) -> str:
    """`3h12m`, in whole minutes rounded up."""
    hours, minutes = divmod(max(0, math.ceil(seconds / 60)), 60)
    return f"{hours}h{minutes:02d}m"


class SchemaDriftError(StopSyncError):
    """A record the stream's schema does not describe, under `schema_contract` freeze: state is saved, exit 1."""

    exit_code = EXIT_FAILED
