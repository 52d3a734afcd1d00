"""Singer output: msgspec serialisation flushed at each STATE message, and table versions for targets that delete."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers._state import StateWriter
from singer_sdk.singerlib import StateMessage
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from typing_extensions import override

from tap_exec.run.budget import BUDGET

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message
    from singer_sdk.streams import Stream

    from tap_exec.drift import SchemaDrift
    from tap_exec.run.budget import ApiDay


class ExecWriter(MsgSpecWriter):
    """Writes records into stdout's buffer and flushes when a STATE message follows them.

    A record still in the buffer when the process dies is one no STATE message covers yet, so the next run
    reads it again: flushing per STATE loses nothing and saves a system call per record.
    """

    #: The run's `schema_contract` check (drift.py), which every message passes first; set by the tap.
    drift: SchemaDrift | None = None

    @override
    def write_message(self, message: Message) -> None:
        """Pass the message through the drift check, if any, on its way out."""
        if self.drift is None:
            self.emit(message)
        else:
            self.drift.write(message, self.emit)

    def emit(self, message: Message) -> None:
        """Buffer the message; flush if it is a STATE message."""
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()


class ExecStateWriter(StateWriter):
    """The SDK's state writer; while a run syncs, each STATE message says how many requests may follow it (budget.py).

    A STATE due mid-read (those requests are used up) repeats the last STATE message with today's count: the rest of
    the state may be halfway through a change there (history's mark ahead of `known`), and the last message never is.
    """

    day: ApiDay | None = None  # the run's day while it syncs

    @override
    def write_state(self, state: dict[str, t.Any]) -> None:  # type: ignore[override]
        if self.day is not None:
            self.day.stamp()
        super().write_state(state)  # type: ignore[arg-type]

    def write_budget(self, state: dict[str, t.Any]) -> None:
        """The last STATE message again with the day's count now (`state` itself before the run wrote one)."""
        last = self._last_emitted_state
        base = dict(last) if last is not None else state
        if self.day is not None:
            base[BUDGET] = self.day.record
        self.write_state(base)


class TableVersion:
    """ACTIVATE_VERSION for a full-table list, sent after its last row rather than before its first.

    The SDK sends it when a sync starts, so a target drops every older row at once and a run stopped halfway
    (the daily limit) leaves the table short until the next run. Sent after a complete listing, it drops only
    rows that listing no longer had. Streams not re-read whole every run (incremental lists, per-parent
    streams) never send it: a target would delete their older rows.
    """

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.active = bool(
            stream.config.get("emit_activate_version_messages")
            and stream.selected
            and stream.parent_stream_type is None
            and stream.replication_method == REPLICATION_FULL_TABLE
        )
        if self.active:
            # Records carry the version they belong to (the SDK reads `_stream_version` when writing them).
            stream._stream_version = stream._tap.initialized_at  # noqa: SLF001 - milliseconds: two runs never share one

    def renew(self) -> None:
        """The list is read again from its first page: its rows from now on belong to a newer version."""
        if self.active and self.stream._stream_version is not None:  # noqa: SLF001
            self.stream._stream_version += 1  # noqa: SLF001 - rows of the abandoned read are older, so dropped

    def activate(self) -> None:
        """The listing is complete: rows of older versions are gone upstream."""
        if self.active and self.stream._stream_version is not None:  # noqa: SLF001
            self.stream._write_activate_version_message(self.stream._stream_version)  # noqa: SLF001
