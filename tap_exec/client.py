"""ExecStream: every default of an Exec endpoint, and where a list tells the run what it read."""

from __future__ import annotations

import functools
import logging
import os
import sys
import typing as t
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import SyncLifecycleSignal
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.schema.source import SchemaDirectory, StreamSchema
from typing_extensions import override

from tap_exec import schemas
from tap_exec.decoding import json_body
from tap_exec.deleted import DELETED_AT, always_included, map_definitions, messages
from tap_exec.errors import ExecAPIError, ExecTapError, RetriesExhaustedError, day_over
from tap_exec.http import (
    MISCONFIGURED,
    TRANSIENT,
    NoRedirects,
    brief,
    check_response,
    connection_problem,
    past_the_end,
    retry_waits,
)
from tap_exec.output import TableVersion
from tap_exec.pagination import ListPaginator

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.pagination import BaseAPIPaginator
    from singer_sdk.singerlib import MetadataMapping

    from tap_exec.errors import StopSyncError
    from tap_exec.run import Run
    from tap_exec.run.protocols import Mode


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
    #: True where a 404 means the parent vanished or lags behind, not a wrong URL.
    missing_parent_ok: t.ClassVar[bool] = False
    #: What makes a listed row "changed" for the per-parent streams it feeds: these fields, None all, () only new rows.
    version_fields: t.ClassVar[tuple[str, ...] | None] = ()
    #: How the list is read in this phase of the run (run/planner.py); only lists with a history read it otherwise.
    mode: Mode = "current"
    #: True where rows found deleted upstream are sent with `_sdc_deleted_at` (run/owed.py finds them).
    marks_deleted: t.ClassVar[bool] = False
    #: False for a stream the tap writes itself (fetch_log): it costs no request.
    requested: t.ClassVar[bool] = True
    #: The run's services (set by the tap when it builds its streams).
    run: Run
    _schema_sent = False
    #: The paginator of the read under way (None: a single object), and its table version.
    listing: ListPaginator | None = None
    version: TableVersion

    @classmethod
    def deletion_fields(cls) -> tuple[str, ...]:
        """What a record saying a row is gone upstream carries (empty: the stream sends none).

        A list that `marks_deleted` sends its key and the mark; so does its child keyed by the parent's id (a
        session's detail), with the parent key too.
        """
        parent = cls.parent_stream_type
        if cls.marks_deleted:
            return (*cls.primary_keys, DELETED_AT)
        keyed = not cls.paginated and cls.primary_keys == ("id",)
        if keyed and isinstance(parent, type) and issubclass(parent, ExecStream) and parent.marks_deleted and parent.child_key:
            return ("id", parent.child_key, DELETED_AT)
        return ()

    @property
    @override
    def metadata(self) -> MetadataMapping:
        """The SDK's metadata (or the input catalog's), with a deletion record's fields `automatic`: never deselected."""
        metadata = super().metadata
        always_included(metadata, self.deletion_fields())
        return metadata

    def write_deleted(self, record: dict[str, t.Any]) -> None:
        """Send a record saying a row is gone upstream through every stream map, with its key and mark (deleted.py)."""
        self._write_schema_message()
        definitions = map_definitions(self._tap.mapper.stream_maps_dict, self.name)
        for message in messages(self.stream_maps, definitions, record, self._stream_version):
            self._tap.write_message(message)

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
        """One keep-alive session per stream; proxies and CA read from the environment once, not per request (~7% CPU)."""
        session = NoRedirects()
        session.proxies.update(requests.utils.get_environ_proxies(self.url_base))  # honours NO_PROXY for the API host
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        session.trust_env = False
        return session

    @functools.cached_property
    @override
    def http_headers(self) -> dict[str, str]:
        """Ask for JSON and name the client with the `user_agent` setting (built once: fixed for the run)."""
        return {"Accept": "application/json", "User-Agent": self.user_agent}

    @functools.cached_property
    @override
    def user_agent(self) -> str:
        """The `user_agent` setting, else `tap-exec/<version>` (the version in use, read once per stream)."""
        return str(self.config.get("user_agent") or f"tap-exec/{self._tap.plugin_version}")

    @property
    @override
    def timeout(self) -> int:
        """The `request_timeout` setting."""
        return int(self.config["request_timeout"])

    @override
    def get_new_paginator(self) -> BaseAPIPaginator[t.Any] | None:
        """Page numbers that prove a list whole (pagination.py) for lists; none for single objects."""
        self.listing = ListPaginator(on_restart=self.read_again, identity=self.identity) if self.paginated else None
        return self.listing

    def identity(self, row: dict[str, t.Any]) -> t.Any:  # noqa: ANN401 - any key value
        """What tells a row of this list from the others (its `id`; per-parent lists override)."""
        return row.get("id")

    def read_again(self) -> None:
        """The list is read again from page 1 (rows moved): what this read emits from now on supersedes the rest."""
        self.version.renew()

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
        if self.parent_stream_type is None and self.mode == "current":  # history's pages are counted by its mark
            self.run.progress.page(self, body["pagination"])
        return body["data"]  # type: ignore[no-any-return]

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        """Children get this record's id under `child_key` (streams without children have none to feed)."""
        if self.child_key is None:
            return context or {}
        return {self.child_key: record["id"]}

    @override
    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[Context | None]:
        """Every listed row is classified once (run/owed.py); its owed children are fetched now or after the lists.

        Now only when the planner says so (history, reconciliation); else once every list is complete.
        """
        if self.name not in self.run.tracker.feeds or not self.stream_maps[0].get_filter_result(record):
            return  # no selected per-parent stream follows this list: nothing to classify
        self.run.progress.taken(self)
        if self.run.tracker.observe(self, record, self.mode) and self.run.planner.inline(self):
            yield self.get_child_context(record, context)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """A listing's rows; once it is complete, the tracker settles what it owes and the table version activates."""
        run = self.run
        progress, current = run.progress, self.mode == "current"
        self.version = version = TableVersion(self)
        if current:
            run.tracker.before_listing(self)
        for row in super().get_records(context):
            yield row
            progress.record(self)  # once the SDK has emitted it
        if current:
            proven = self.proven
            run.tracker.settle(self, self.covered_from(context), proven=proven)
            if proven:
                version.activate()
            elif version.active:
                self.logger.warning(
                    "%s changed on every one of %d reads, so it cannot be proven whole: no ACTIVATE_VERSION this run "
                    "(rows deleted upstream stay until a run reads it unchanged; nothing current is deleted).",
                    self.name,
                    self.listing.restarts + 1 if self.listing else 1,
                )
            if self.parent_stream_type is None:
                progress.listed(self)

    @property
    def proven(self) -> bool:
        """True when the read just made is proven whole (a list that did not move while it was read)."""
        return self.listing is None or self.listing.proven

    def covered_from(self, context: Context | None) -> str | None:  # noqa: ARG002 - incremental lists use it
        """The lowest replication key value a complete current listing read (None: the whole list)."""
        return None

    def relisted_from(self, newest: str) -> str:
        """The lowest replication key value the next run lists again, once `newest` is bookmarked."""
        return newest

    def get(self, params: dict[str, t.Any]) -> requests.Response:
        """One request outside the SDK's sync (the plan, a probe, a cursor), paced and retried as the sync's are."""
        prepared = self.build_prepared_request(method="GET", url=self.get_url(None), params=params, headers=self.http_headers)
        return self.request_decorator(self._request)(prepared, None)

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Never at the start of a sync, the SDK's moment: `TableVersion` sends it after a complete listing."""
        return False

    @override
    def validate_response(self, response: requests.Response) -> None:
        """The API's error policy (http.py); a page past the end of a list that shrank is an empty page.

        Every answer, a refusal too, first sets the run's clock: a 429's `Date` says whether its wait ends at midnight.
        """
        self.run.day.learn(response.headers.get("Date"))
        if not (self.paginated and past_the_end(response)):
            check_response(response, paginated=self.paginated, missing_parent_ok=self.missing_parent_ok)

    @override
    def request_decorator(self, func: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
        """Retry transient failures through `backoff`; turn giving up into one clear line."""
        governor = self.run.governor
        retrying = backoff.on_exception(
            lambda: retry_waits(self.config, lambda wait: governor.waited_out(self.name, wait), self._held_off),
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
                raise ExecAPIError(connection_problem(exc, str(prepared_request.url), self.requests_session.proxies)) from exc
            except TRANSIENT as exc:
                tries = int(self.config["max_retries"]) + 1
                path = urlparse(str(prepared_request.url)).path
                msg = (
                    f"GET {path} still failing after {tries} tries; last error: {brief(exc)}. "
                    "What to do: the API or the network is unwell; run again later (state is saved)."
                )
                raise RetriesExhaustedError(msg) from exc

        return call

    def _held_off(self, wait: float, said: str, daily: bool) -> StopSyncError:
        """A 429 asked for more than `max_wait_seconds`: the state remembers until when, and the run stops (errors.day_over)."""
        self.run.day.hold(wait, said, daily=daily)
        return day_over(self.run.day)

    @override
    def backoff_handler(self, details: t.Any) -> None:
        """One log line per wait, saying why and for how long."""
        exc = details.get("exception")
        self.logger.warning("%s; retrying in %.1fs (try %d)", brief(exc), details.get("wait", 0.0), details.get("tries", 0))

    @override
    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """At DEBUG: the SDK's "unhandled error" notice for errors said in one line, and its per-parent "Beginning sync"."""
        if level == logging.ERROR and isinstance(sys.exc_info()[1], (ExecTapError, SyncLifecycleSignal)):
            level = logging.DEBUG
        if level == logging.INFO and self.parent_stream_type is not None and message.startswith("Beginning sync"):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @override
    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """Send one request; every try passes the run's shared rate limiter and budgets first."""
        governor = self.run.governor
        governor.acquire(self.name)
        try:
            response = super()._request(prepared_request, context)
        finally:
            governor.settle()
        return response

    @override
    def _write_schema_message(self) -> None:
        """The stream's SCHEMA, once a run (the SDK sends it at every sync: per parent, and per read of a list)."""
        if not self._schema_sent:
            self._schema_sent = True
            super()._write_schema_message()

    @override
    def _write_state_message(self) -> None:
        """The SDK's STATE message, with what the run decided so far brought into the state first.

        Reading history, none: its mark moves past rows that `known` holds in memory only, and the two must never
        reach a STATE apart (a kill would lose those rows from reconciliation); the planner's checkpoints write both.
        """
        if "tracker" in self.run.__dict__:
            if self.mode == "history":
                self.run.planner.checkpoint_if_due()
                return
            self.run.tracker.flush()
        super()._write_state_message()
