"""ExecChildStream (a per-parent endpoint), the fetch log, and the failures of parents whose children did not arrive.

A per-parent list (a scenario's participants, a skill's proficiency, a page's versions) says nothing of the rows it
no longer returns. Every row of one fetch carries `_exec_fetched_at`, the moment the parent's list was fetched, and
once the list is read whole (proven, pagination.py) `fetch_log` records that moment for the parent: a row with an
older mark is one the API no longer returns, which the staging models drop. An empty list leaves no row to carry
the mark; the log still does. It costs no request and no state.
"""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_exec.client import ExecStream
from tap_exec.errors import ParentNotFoundError, RetriesExhaustedError

if t.TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from singer_sdk.helpers.types import Context, Record

    from tap_exec.run.protocols import Touch

#: The column on every row of a per-parent list: when its parent's list was fetched.
FETCHED_AT = "_exec_fetched_at"
FETCH_LOG = "fetch_log"
FETCH_FAILURES = "fetch_failures"


def fetch_moment(now: datetime) -> str:
    """`now` (the API's clock, so runs on other machines agree) to the microsecond: no two fetches share it."""
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dig(row: dict[str, t.Any], path: tuple[str, ...]) -> t.Any:  # noqa: ANN401 - any JSON value
    """The value at `path` inside `row` (None where a step is missing or not an object)."""
    value: t.Any = row
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


class TapWrittenStream(ExecStream):
    """Not an endpoint: rows per stream and parent that the tap writes itself as the run goes (no request)."""

    path = ""
    primary_keys = ("stream", "parent_id")
    paginated = False
    requested = False

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Nothing when the lists are read (its SCHEMA is sent then); its rows are written as the run goes."""
        return iter(())


class FetchLogStream(TapWrittenStream):
    """Not an endpoint: per stream and parent, when its child list was last fetched whole (no request of its own)."""

    name = FETCH_LOG

    def write(self, child: ExecStream, parent_id: str, fetched_at: str, rows: int) -> None:
        """Record that `child`'s list for `parent_id`, fetched at `fetched_at`, was read whole with `rows` rows."""
        if self.selected:
            self._write_schema_message()
            self._write_record_message(
                {"stream": child.name, "parent_id": parent_id, "fetched_at": fetched_at, "row_count": rows}
            )


class FetchFailuresStream(TapWrittenStream):
    """Not an endpoint: per stream and parent whose children keep failing, its tries, days and last error (no request).

    A row every run while the parent fails, and one saying how it was settled (fetched, gone, dropped) when it stops:
    the run's status stays 0, so a failing parent never stops a pipeline; a dbt test fails on the rows (README).
    """

    name = FETCH_FAILURES

    def write(self, row: dict[str, t.Any]) -> None:
        """One failed parent's row, as the run's change tracker built it (run/memory.py `failure_row`)."""
        self._write_schema_message()
        self._write_record_message(row)


class ExecChildStream(ExecStream):
    """A per-parent endpoint: the parent's id is in the path and copied onto every record."""

    selected_by_default = False  # one request (or more) per parent record: opt in
    missing_parent_ok = True
    #: Top-level copies of nested ids that the primary key needs, e.g. {"user_id": ("user", "id")}.
    nested_keys: t.ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Changes elsewhere that make a parent owed, besides the parent's own new or changed row (run/owed.py).
    touched_by: t.ClassVar[tuple[Touch, ...]] = ()
    #: True for the API's aggregates: the planner fetches raw rows (session details, page contents) first.
    aggregate: t.ClassVar[bool] = False
    #: When this parent's list was fetched (lists only): on every row, and in `fetch_log` once the list is proven whole.
    fetched_at: str | None = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:  # noqa: ANN401
        """One state entry for all parents, not one per parent id."""
        super().__init__(*args, **kwargs)
        self.state_partitioning_keys = []

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The parent's rows if they are owed; a parent whose fetch keeps failing stays owed and the run goes on."""
        run, context = self.run, dict(context or {})
        if not run.tracker.owes(self, context):
            return
        self.fetched_at = fetch_moment(self.run.day.now()) if self.paginated else None
        try:
            yield from super().get_records(context)
        except (ParentNotFoundError, RetriesExhaustedError) as exc:
            run.planner.child_failed(self, context, exc)
        else:
            run.tracker.paid(self, context)
            run.planner.child_fetched()
            if self.fetched_at is not None and self.listing is not None and self.listing.proven:
                log = run.streams.get(FETCH_LOG)
                if isinstance(log, FetchLogStream):
                    log.write(self, run.tracker.parent_id(self, context), self.fetched_at, self.listing.rows)
        run.progress.fetched(self)
        # No STATE message per parent (each would repeat the whole change record): the planner's checkpoints carry it.
        self.state_manager.is_flushed = True

    @override
    def identity(self, row: dict[str, t.Any]) -> t.Any:
        """The row's own part of the primary key (the parent's is the same for every row), nested ids included."""
        return tuple(dig(row, self.nested_keys.get(key, (key,))) for key in self.primary_keys)

    @override
    def read_again(self) -> None:
        """Rows of the new read carry a newer `_exec_fetched_at`, so the abandoned read's rows are superseded."""
        super().read_again()
        if self.fetched_at is not None:
            self.fetched_at = fetch_moment(self.run.day.now())

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Add the parent key, the nested ids named in `nested_keys`, and (lists) when the parent's list was fetched."""
        row.update(context or {})
        if self.fetched_at is not None:
            row[FETCHED_AT] = self.fetched_at
        for key, path in self.nested_keys.items():
            row[key] = dig(row, path)
        self.run.tracker.record(self, context, row)  # what the record embeds (Touch.embedded)
        return row
