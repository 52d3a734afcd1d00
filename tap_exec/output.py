"""Singer output: msgspec serialisation, flushed at each STATE message rather than after every record."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import StateMessage
from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.encoding.simple import Message


class ExecWriter(MsgSpecWriter):
    """Writes records into stdout's buffer and flushes when a STATE message follows them.

    A record still in the buffer when the process dies is one no STATE message covers yet, so the next run
    reads it again: flushing per STATE loses nothing and saves a system call per record.
    """

    @override
    def write_message(self, message: Message) -> None:
        """Buffer the message; flush if it is a STATE message."""
        sys.stdout.buffer.write(self.format_message(message))
        if isinstance(message, StateMessage):
            sys.stdout.flush()
