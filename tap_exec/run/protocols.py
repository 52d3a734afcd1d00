"""What the run package needs of a stream: the streams module implements these; nothing here imports it."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from tap_exec.run.owed import Mode, Touch


class Listing(t.Protocol):
    """A stream as the planner sees it: a list (or single object), perhaps the parent of per-parent streams."""

    name: str
    replication_key: str | None
    #: What makes a listed row "changed" for the per-parent streams it feeds: None the whole row, () only new rows.
    version_fields: t.ClassVar[tuple[str, ...] | None]
    child_key: t.ClassVar[str | None]
    paginated: t.ClassVar[bool]
    parent_stream_type: type[t.Any] | None
    ABORT_AT_RECORD_COUNT: int | None
    #: How the list is read in this phase (incremental.py): its current rows, its history, or a reconciliation slice.
    mode: Mode

    @property
    def selected(self) -> bool:
        """True when the catalog selects the stream."""
        ...

    @property
    def has_selected_descendents(self) -> bool:
        """True when a per-parent stream under it is selected."""
        ...

    @property
    def stream_state(self) -> dict[str, t.Any]:
        """The stream's bookmark in the state."""
        ...

    @property
    def is_sorted(self) -> bool:
        """True when the list comes in replication key order."""
        ...

    def relisted_from(self, newest: str) -> str:
        """The lowest replication key value the next run lists again, once `newest` is bookmarked."""
        ...

    def covered_from(self, context: dict[str, t.Any] | None) -> str | None:
        """The lowest replication key value this run's current read covered (None or '': the whole list)."""
        ...

    def sync(self, context: dict[str, t.Any] | None = None) -> None:
        """The SDK's sync of this stream (for a per-parent stream: of one parent's children)."""
        ...

    def finalize_state_progress_markers(self, state: dict[str, t.Any] | None = None) -> None:
        """The SDK's promotion of progress markers after a sync."""
        ...


class Child(Listing, t.Protocol):
    """A per-parent stream."""

    touched_by: t.ClassVar[tuple[Touch, ...]]
    #: True for the API's aggregates (analytics, proficiency): fetched after raw rows, which the marts can derive from.
    aggregate: t.ClassVar[bool]
