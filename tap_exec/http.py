"""The API's error and retry policy: which answers are retried, which are fatal, and how long to wait.

Every response passes `check_response` once (STYLE 5): 429 and 5xx are retried (a 429 for exactly the wait it asks
for, `retry_after_seconds`), a redirect or a 4xx is one readable line, a body that is not the documented JSON
shape is either retried (truncated JSON) or fatal (something else answered).
"""

from __future__ import annotations

import contextlib
import email.utils
import random
import re
import time
import typing as t
from urllib.parse import parse_qs, urlparse

import requests
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import override

from tap_exec.decoding import json_body, replace_body, shape_problem
from tap_exec.errors import ExecAPIError, ParentNotFoundError, RetryableError, describe_http_error

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

    from tap_exec.errors import StopSyncError

TRANSIENT = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
DEFAULT_API_URL = "https://api.exec.com/rest/v1"
#: Failures that another try will not mend: the run stops at once with a line saying what to fix.
MISCONFIGURED = (requests.exceptions.SSLError, requests.exceptions.ProxyError)
REDIRECT = 300
TOO_MANY_REQUESTS = 429
SERVER_ERROR = 500
NOT_FOUND = 404
BAD_REQUEST = 400
#: A 429 whose error names the daily limit (the simulator: `Daily request limit exceeded`; NOTES.md: 1,000 a day).
DAILY = re.compile(r"(?<![a-z])(daily|per[ _]day|/day)(?![a-z])", re.IGNORECASE)


def retry_after_seconds(response: requests.Response) -> float | None:
    """The wait a 429 asks for: `retry_after` in the body (top level or in `error`) or `Retry-After`; the longer wins."""
    asked: list[float] = []
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        holders = (body, body.get("error"))
        asked.extend(
            float(h["retry_after"]) for h in holders if isinstance(h, dict) and isinstance(h.get("retry_after"), (int, float))
        )
    header = response.headers.get("Retry-After")
    if header:
        try:
            asked.append(float(header))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):  # an unreadable date: fall back to backoff
                asked.append(email.utils.parsedate_to_datetime(header).timestamp() - time.time())
    return max(0.0, *asked) if asked else None


def what_429_says(response: requests.Response) -> str:
    """The API's words for a refusal: `type/code: message` from its error envelope, or '' if it gives none."""
    try:
        error = json_body(response).get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    kind = "/".join(str(error[k]) for k in ("type", "code") if error.get(k))
    message = str(error.get("message") or "")
    return f"{kind}: {message}" if kind and message else kind or message


def past_the_end(response: requests.Response) -> bool:
    """A 400 `invalid_pagination` for a page after the first: the list shrank below that page since its first one.

    NOTES.md allows it instead of an empty page. It reads as an empty page whose `total_count` (-1) differs from
    any the list had, so the paginators see that the list moved and read it again.
    """
    if response.status_code != BAD_REQUEST:
        return False
    page = (parse_qs(urlparse(response.url).query).get("page") or ["1"])[0]
    try:
        error = json_body(response).get("error")
    except (ValueError, AttributeError):
        return False
    if page in {"", "1"} or not isinstance(error, dict) or error.get("code") != "invalid_pagination":
        return False
    replace_body(response, {"data": [], "pagination": {"page": int(page), "total_count": -1, "total_pages": 0}})
    return True


def check_response(response: requests.Response, *, paginated: bool, missing_parent_ok: bool) -> None:
    """Sort one response: transient (429, 5xx, truncated JSON) is retried, anything else wrong is fatal."""
    status = response.status_code
    endpoint = urlparse(response.url).path
    if status == TOO_MANY_REQUESTS or status >= SERVER_ERROR:
        if status == TOO_MANY_REQUESTS:
            said = what_429_says(response)
            wait = retry_after_seconds(response)
            raise RetryableError(f"GET {endpoint} -> {status} {response.reason}", response, retry_after=wait, said=said)
        raise RetryableError(f"GET {endpoint} -> {status} {response.reason}", response)
    if REDIRECT <= status < BAD_REQUEST:
        target = urlparse(response.headers.get("Location", ""))
        msg = (
            f"GET {endpoint} -> {status} redirect to {target.scheme}://{target.hostname or '?'}{target.path}: the Exec API "
            "does not redirect, so `api_url` reaches something else (a login page, a proxy, http instead of https). "
            f"What to do: set `api_url` to {DEFAULT_API_URL}."
        )
        raise ExecAPIError(msg)
    if status == NOT_FOUND and missing_parent_ok:
        raise ParentNotFoundError(describe_http_error(response, endpoint))
    if status >= BAD_REQUEST:
        raise ExecAPIError(describe_http_error(response, endpoint))
    try:
        body = json_body(response)
    except ValueError:
        content_type = response.headers.get("Content-Type", "")
        if "json" in content_type:
            raise RetryableError(f"GET {endpoint} -> {status} with a truncated or invalid JSON body", response) from None
        msg = (
            f"GET {endpoint} -> {status} returned {content_type or 'a body with no content type'}, not JSON. "
            "What to do: check that the `api_url` setting points at the Exec API."
        )
        raise ExecAPIError(msg) from None
    problem = shape_problem(body, paginated=paginated)
    if problem:
        msg = f"GET {endpoint} -> {status} is not the documented shape: {problem}. What to do: report this to Exec support."
        raise ExecAPIError(msg)


def retry_waits(
    config: Mapping[str, t.Any], waited: Callable[[float], None], held_off: Callable[[float, str, bool], StopSyncError]
) -> Generator[float, BaseException | None, None]:
    """Waits between tries: exactly what a 429 asks for, else exponential backoff with jitter.

    A wait longer than `max_wait_seconds` ends the run cleanly with the stop `held_off(wait, said, names_daily)`
    gives: the API's day is spent (its daily limit), or something else holds it off.
    """
    failures = 0
    exc = yield 0.0  # backoff primes the generator with a first send(None)
    while True:
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            if asked > float(config["max_wait_seconds"]):
                said = str(getattr(exc, "said", ""))
                raise held_off(asked, said, bool(DAILY.search(said)))
            wait = asked + random.uniform(0, min(0.5, asked * 0.05))  # noqa: S311 - jitter, not crypto
            waited(wait)
            exc = yield wait
            continue
        failures += 1
        if failures > int(config["max_retries"]):
            return
        step = min(float(config["retry_backoff_seconds"]) * 2 ** (failures - 1), 60.0)
        exc = yield step / 2 + random.uniform(0, step / 2)  # noqa: S311


def connection_problem(exc: Exception, url: str, proxies: Mapping[str, str]) -> str:
    """One line for a TLS failure or a refusing proxy (never a proxy's credentials)."""
    parts = urlparse(url)
    reason = _reason(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        proxy = urlparse(proxies.get(parts.scheme, "") or "?")
        where = f"{proxy.scheme}://{proxy.hostname}:{proxy.port}" if proxy.hostname else "the proxy"
        return (
            f"GET {parts.path}: {where} refused to carry the request to {parts.hostname} ({reason}). "
            "What to do: check HTTPS_PROXY / HTTP_PROXY, or list the API host in NO_PROXY."
        )
    return (
        f"GET {parts.path}: no secure connection to {parts.hostname} ({reason}). What to do: check that `api_url` "
        "is the Exec API over https; behind a proxy that inspects TLS, point REQUESTS_CA_BUNDLE at its CA certificate."
    )


class NoRedirects(requests.Session):
    """A session that never follows a redirect: the answer, 3xx included, goes to `check_response`.

    The Exec API does not redirect; following one would send requests (without the key, which requests drops
    for another host) wherever `api_url` points them, and turn a wrong setting into a puzzling error.
    """

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def _reason(exc: Exception) -> str:
    """The innermost reason of a requests connection error, e.g. `[SSL: WRONG_VERSION_NUMBER] wrong version number`."""
    text = str(exc)
    found = re.search(r"\[SSL[^\]]*\][^'\"()]*", text) or re.search(r"Connection refused|Tunnel connection failed[^'\")]*", text)
    return found.group(0).strip() if found else type(exc).__name__


def brief(exc: BaseException | None) -> str:
    """A one-line description of a transient error."""
    if exc is None:
        return "no error"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if isinstance(exc, RetriableAPIError) else f"{type(exc).__name__}: {text}"
