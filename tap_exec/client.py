"""ExecStream and ExecChildStream: every default, the error policy and the retry policy, in one place."""

from __future__ import annotations

import contextlib
import email.utils
import functools
import logging
import os
import random
import re
import sys
import time
import typing as t
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError, SyncLifecycleSignal
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_exec import schemas
from tap_exec.decoding import json_body, shape_problem
from tap_exec.errors import (
    ExecAPIError,
    ExecTapError,
    ParentNotFoundError,
    RetriesExhaustedError,
    RetryableError,
    WaitTooLongError,
    describe_http_error,
)
from tap_exec.output import TableVersion
from tap_exec.pagination import TotalPagesPaginator

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable

    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.pagination import BaseAPIPaginator

    from tap_exec.changes import Touch
    from tap_exec.tap import TapExec

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


class ExecStream(RESTStream[t.Any]):
    """One Exec endpoint; subclasses name the stream and path, and only say what differs."""

    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    # The API's JSON already has the schema's types (the schema tests prove it): no per-record type coercion.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    replication_key: str | None = None
    schema = StreamSchema(SchemaDirectory(schemas))
    #: False for endpoints that return one object instead of a `data` list.
    paginated: t.ClassVar[bool] = True
    #: Fixed query parameters (e.g. `include`), sent on every request.
    params: t.ClassVar[dict[str, str]] = {}
    #: The context key children receive, filled from this stream's record `id`.
    child_key: t.ClassVar[str | None] = None
    #: True where a 404 means the parent vanished mid-sync, not a wrong URL.
    missing_parent_ok: t.ClassVar[bool] = False
    #: What makes a listed row "changed" for the per-parent streams it feeds (changes.py): the fields whose
    #: values version the row, None for the whole row, () when only new rows count.
    version_fields: t.ClassVar[tuple[str, ...] | None] = ()

    _tap: TapExec

    @property
    @override
    def url_base(self) -> str:
        """The `api_url` setting."""
        return str(self.config["api_url"]).rstrip("/")

    @functools.cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        """Bearer auth with the `api_key` setting, built once per stream."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @functools.cached_property
    def requests_session(self) -> requests.Session:
        """One keep-alive session per stream, with proxy and CA settings read from the environment once.

        requests otherwise re-reads os.environ for proxies on every request (~7% of the CPU per record).
        """
        session = NoRedirects()
        session.proxies.update(requests.utils.get_environ_proxies(self.url_base))  # honours NO_PROXY for the API host
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """Ask for JSON and name the client with the `user_agent` setting."""
        return {"Accept": "application/json", "User-Agent": self.user_agent}

    @functools.cached_property
    @override
    def user_agent(self) -> str:
        """The `user_agent` setting, else `tap-exec/<version>` (the version in use, never one frozen in a config), read once."""
        return str(self.config.get("user_agent") or f"tap-exec/{self._tap.plugin_version}")

    @property
    @override
    def timeout(self) -> int:
        """The `request_timeout` setting."""
        return int(self.config["request_timeout"])

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any] | None:
        """Page numbers up to `total_pages` for lists; none for single objects."""
        return TotalPagesPaginator() if self.paginated else None

    @override
    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        """Fixed params, plus `page` and `page_size` on every list request."""
        params: dict[str, t.Any] = dict(self.params)
        if self.paginated:
            params["page"] = next_page_token or 1
            params["page_size"] = self.config["page_size"]
        return params

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """Rows of `data` for lists, the object itself otherwise (already decoded and checked)."""
        body = json_body(response)
        if not self.paginated:
            return [body]
        if self.parent_stream_type is None:
            self._tap.progress.page(self, body["pagination"])
        return body["data"]  # type: ignore[no-any-return]

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        """Children get this record's id under `child_key` (streams without children have none to feed)."""
        if self.child_key is None:
            return context or {}
        return {self.child_key: record["id"]}

    @override
    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[Context | None]:
        """Every listed row is classified once (changes.py); children only for rows a per-parent stream owes."""
        if not self.child_streams or not self.stream_maps[0].get_filter_result(record):
            return
        self._tap.progress.taken(self)
        if self._tap.changes.observe(self, record):
            yield self.get_child_context(record, context)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """A listing's rows; once it is complete, the tracker settles what it owes and the table version activates."""
        version, progress = TableVersion(self), self._tap.progress
        _ = self._tap.lookahead  # the lists that feed per-parent streams are read first, once per run
        self._tap.changes.before_listing(self)
        for row in super().get_records(context):
            yield row
            progress.record(self)  # once the SDK has emitted it
        self._tap.changes.after_listing(self)
        version.activate()
        if self.parent_stream_type is None:
            progress.listed(self)

    def relisted_from(self, newest: str) -> str:
        """The lowest replication key value the next run lists again, once `newest` is bookmarked."""
        return newest

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Never at the start of a sync, the SDK's moment: `TableVersion` sends it after a complete listing."""
        return False

    # -- error policy -----------------------------------------------------------------
    @override
    def validate_response(self, response: requests.Response) -> None:
        """Sort every response: transient (429, 5xx, truncated JSON) is retried, anything else wrong is fatal."""
        status = response.status_code
        endpoint = urlparse(response.url).path
        if status == TOO_MANY_REQUESTS or status >= SERVER_ERROR:
            wait = retry_after_seconds(response) if status == TOO_MANY_REQUESTS else None
            raise RetryableError(f"GET {endpoint} -> {status} {response.reason}", response, retry_after=wait)
        if REDIRECT <= status < BAD_REQUEST:
            target = urlparse(response.headers.get("Location", ""))
            msg = (
                f"GET {endpoint} -> {status} redirect to {target.scheme}://{target.hostname or '?'}{target.path}: the Exec API "
                "does not redirect, so `api_url` reaches something else (a login page, a proxy, http instead of https). "
                f"What to do: set `api_url` to {DEFAULT_API_URL}."
            )
            raise ExecAPIError(msg)
        if status == NOT_FOUND and self.missing_parent_ok:
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
        problem = shape_problem(body, paginated=self.paginated)
        if problem:
            msg = f"GET {endpoint} -> {status} is not the documented shape: {problem}. What to do: report this to Exec support."
            raise ExecAPIError(msg)

    # -- retry policy -----------------------------------------------------------------
    @override
    def request_decorator(self, func: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
        """Retry transient failures through `backoff`; turn giving up into one clear line."""
        retrying = backoff.on_exception(
            self._retry_waits,
            TRANSIENT,
            max_tries=None,  # the wait generator owns the budget: 429 waits do not spend it
            jitter=None,  # the wait generator jitters, so a server-given wait is never shortened
            giveup=lambda exc: isinstance(exc, MISCONFIGURED),
            on_backoff=self.backoff_handler,
            logger=None,
        )(func)

        @functools.wraps(func)
        def call(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            try:
                return retrying(prepared_request, context)
            except MISCONFIGURED as exc:
                raise ExecAPIError(self._connection_problem(exc, str(prepared_request.url))) from exc
            except TRANSIENT as exc:
                tries = int(self.config["max_retries"]) + 1
                path = urlparse(str(prepared_request.url)).path
                msg = (
                    f"GET {path} still failing after {tries} tries; last error: {_brief(exc)}. "
                    "What to do: the API or the network is unwell; run again later (state is saved)."
                )
                raise RetriesExhaustedError(msg) from exc

        return call

    def _connection_problem(self, exc: Exception, url: str) -> str:
        """One line for a TLS failure or a refusing proxy (never a proxy's credentials)."""
        parts = urlparse(url)
        reason = _reason(exc)
        if isinstance(exc, requests.exceptions.ProxyError):
            proxy = urlparse(self.requests_session.proxies.get(parts.scheme, "") or "?")
            where = f"{proxy.scheme}://{proxy.hostname}:{proxy.port}" if proxy.hostname else "the proxy"
            return (
                f"GET {parts.path}: {where} refused to carry the request to {parts.hostname} ({reason}). "
                "What to do: check HTTPS_PROXY / HTTP_PROXY, or list the API host in NO_PROXY."
            )
        return (
            f"GET {parts.path}: no secure connection to {parts.hostname} ({reason}). What to do: check that `api_url` "
            "is the Exec API over https; behind a proxy that inspects TLS, point REQUESTS_CA_BUNDLE at its CA certificate."
        )

    def _retry_waits(self) -> Generator[float, BaseException | None, None]:
        """Waits between tries: exactly what a 429 asks for, else exponential backoff with jitter."""
        failures = 0
        exc = yield 0.0  # backoff primes the generator with a first send(None)
        while True:
            asked = getattr(exc, "retry_after", None)
            if asked is not None:
                if asked > float(self.config["max_wait_seconds"]):
                    msg = (
                        f"The Exec API asked to wait {asked:.0f}s (rate limit; the daily limit is 1,000 requests), "
                        f"more than `max_wait_seconds` ({self.config['max_wait_seconds']}). State is saved; "
                        f"run again after {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(time.time() + asked))}."
                    )
                    raise WaitTooLongError(msg)
                wait = asked + random.uniform(0, min(0.5, asked * 0.05))  # noqa: S311 - jitter, not crypto
                self._tap.governor.waited_out(self.name, wait)
                exc = yield wait
                continue
            failures += 1
            if failures > int(self.config["max_retries"]):
                return
            step = min(float(self.config["retry_backoff_seconds"]) * 2 ** (failures - 1), 60.0)
            exc = yield step / 2 + random.uniform(0, step / 2)  # noqa: S311

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """One log line per wait, saying why and for how long."""
        exc = details.get("exception")
        self.logger.warning("%s; retrying in %.1fs (try %d)", _brief(exc), details.get("wait", 0.0), details.get("tries", 0))

    @override
    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Keep at DEBUG the SDK's lines that only repeat another or drown the progress lines.

        That is, its per-stream "unhandled error" notice for errors the tap reports in one line and for the SDK's
        stop signals (`--test`), and its "Beginning sync" line for each parent of a per-parent stream.
        """
        if level == logging.ERROR and isinstance(sys.exc_info()[1], (ExecTapError, SyncLifecycleSignal)):
            level = logging.DEBUG
        if level == logging.INFO and self.parent_stream_type is not None and message.startswith("Beginning sync"):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @override
    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """The response read ahead for this request (lookahead.py), else one sent now."""
        return self._tap.lookahead.take(self.name, prepared_request.url) or self.send(prepared_request, context)

    def send(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """Send one request; every try passes the run's shared rate limiter and request budget first."""
        self._tap.governor.acquire(self.name)
        try:
            return super()._request(prepared_request, context)
        finally:
            self._tap.governor.settle()


class ExecChildStream(ExecStream):
    """A per-parent endpoint: the parent's id is in the path and copied onto every record."""

    selected_by_default = False  # one request (or more) per parent record: opt in
    missing_parent_ok = True
    #: Top-level copies of nested ids that the primary key needs, e.g. {"user_id": ("user", "id")}.
    nested_keys: t.ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Changes elsewhere that make a parent owed, besides the parent's own new or changed row (changes.py).
    touched_by: t.ClassVar[tuple[Touch, ...]] = ()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """One state entry for all parents, not one per parent id."""
        super().__init__(*args, **kwargs)
        self.state_partitioning_keys = []

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The parent's rows if they are owed; a 404 for this parent is skipped with a warning, nothing else is."""
        changes = self._tap.changes
        if not changes.owes(self, context):
            return
        try:
            yield from super().get_records(context)
        except ParentNotFoundError as exc:
            self.logger.warning("Skipped %s for %s: the parent no longer exists (%s)", self.name, dict(context or {}), exc)
        changes.paid(self, context)
        self._tap.progress.fetched(self)
        # No STATE message per parent (each would repeat the whole change record): the parent stream's, and
        # the tracker's checkpoints, carry it.
        self.state_manager.is_flushed = True

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Add the parent key and the nested ids named in `nested_keys`."""
        row.update(context or {})
        for key, path in self.nested_keys.items():
            value: t.Any = row
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            row[key] = value
        return row


class NoRedirects(requests.Session):
    """A session that never follows a redirect: the answer, 3xx included, goes to `validate_response`.

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


def _brief(exc: BaseException | None) -> str:
    """A one-line description of a transient error."""
    if exc is None:
        return "no error"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if isinstance(exc, RetriableAPIError) else f"{type(exc).__name__}: {text}"
