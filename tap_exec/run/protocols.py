"""What the run package needs of a stream: the streams module implements these; nothing here imports it."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

#: How a list is read in a phase of the run: its current rows, its history, or a reconciliation slice.
Mode = t.Literal["current", "history", "recon"]


@dataclass(frozen=True)
class Touch:
    """New or changed rows of `source` make owed the parent whose id is at `path` in the row.

    With `via=(stream, field)`, the id at `path` names a row of `stream` whose `field` lists the parents
    (a session's scenario evaluates skills: `Touch("sessions", "scenario.id", via=("scenarios", "skills"))`).
    With `embedded=field`, the parents are those whose last fetched child record listed that id in its `field`
    (a page's contents embed copies of its sources: `Touch("knowledge_hub_sources", "id", embedded="sources")`);
    the child stream remembers, per parent, the ids its record listed (run/embeds.py).
    """

    source: str
    path: str
    via: tuple[str, str] | None = None
    embedded: str | None = None

    def target(self, row: dict[str, t.Any]) -> str | None:
        """The id this touch names in `row`."""
        value: t.Any = row
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else None


class Listing(t.Protocol):
    """A stream as the planner sees it: a list (or single object), perhaps the parent of per-parent streams."""

    name: str
    replication_key: str | None
    #: What makes a listed row "changed" for the per-parent streams it feeds: None the whole row, () only new rows.
    version_fields: t.ClassVar[tuple[str, ...] | None]
    child_key: t.ClassVar[str | None]
    paginated: t.ClassVar[bool]
    #: False for a stream the tap writes itself (fetch_log): no request.
    requested: t.ClassVar[bool]
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
