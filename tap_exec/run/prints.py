"""`known`: what a run remembers of a list's rows older than the window, so reconciliation finds regrades and deletions.

Per row its id (16 bytes for a UUID), a 2-byte version and whether the current reconciliation pass read it, kept
as one base64 string under the stream's `changes`. A regraded row differs in its version; a row a whole pass never
read (nor saw leave the window) is gone upstream, and its id is what a target needs to delete it.
"""

from __future__ import annotations

import base64
import typing as t
import uuid

PRINTS, OLD_PRINTS = "known", "prints"  # rows older than the window, with their ids (`prints` held hashes: dropped)
PARKED_FROM = "parked"  # the lowest `start_date` parked rows were read under ('' none): where a pass reaches them all
UNREAD, READ, PARKED = 0, 1, 2  # a row's pass byte: not yet read in this pass, read in it, out of reach (below)


class Prints:
    """Rows older than the window: each row's id and a 2-byte version, and whether this reconciliation pass read it.

    Kept as one base64 string in the state: per row a byte for the pass (0 not yet read in it, 1 read, 2 parked: left
    unread by a pass that could not prove it gone, as after `start_date` was raised), a length
    byte (0: a UUID, stored as its 16 bytes), the id, the version. 20 bytes a session: the ids are kept because a
    row that a whole pass does not list again is deleted upstream, and a target needs its id to delete it.
    """

    def __init__(self, changes: dict[str, t.Any]) -> None:
        self.changes = changes
        changes.pop(OLD_PRINTS, None)  # hashed ids (before deletions were marked): no id to name a deletion with
        #: no `known` (an older tap-exec: none, or hashed `prints`): rows read before this run are not remembered
        self.lost = PRINTS not in changes
        self.table: dict[str, tuple[bytes, int]] = _decode(changes.get(PRINTS) or "")
        self.dirty = False
        self.touched: set[str] = set()  # rows this run listed or saw leave the window: they exist now

    def changed(self, row_id: str, version: str) -> bool:
        """True when the row's remembered version differs (a regrade, a renamed user or scenario).

        A row never remembered (a state from before prints) is not called changed: it is remembered from now on.
        """
        known = self.table.get(row_id)
        return known is not None and known[0] != _short(version)

    def holds(self, row_id: str) -> bool:
        """True when the row is remembered (read by history or an earlier pass)."""
        return row_id in self.table

    def put(self, row_id: str, version: str) -> None:
        """Remember a row's version, read in this pass."""
        entry = (_short(version), READ)
        self.touched.add(row_id)
        if self.table.get(row_id) != entry:
            self.table[row_id] = entry
            self.dirty = True

    def keep(self, row_id: str) -> None:
        """The row was listed again (a window read reaching below its usual range): it exists, in this pass."""
        known = self.table.get(row_id)
        self.touched.add(row_id)
        if known is not None and known[1] != READ:
            self.table[row_id] = (known[0], READ)
            self.dirty = True

    def forget(self, row_id: str) -> None:
        """The row is deleted upstream."""
        if self.table.pop(row_id, None) is not None:
            self.dirty = True

    def begin_pass(self, start: str = "") -> None:
        """A reconciliation pass from `start_date` `start` ('' none) starts: no row read yet but what this run touched.

        Rows this run already listed or retired may lie above where the pass starts (rows that left the window in
        this run, or a window widened past rows reconciliation holds): the pass would never read them, yet they exist.
        Parked rows stay parked unless the pass starts at or below every `start_date` they were read under: then it
        reads all of them that exist.
        """
        parked_from = self.changes.get(PARKED_FROM)
        reach = isinstance(parked_from, str) and start <= parked_from
        if reach:
            self.changes.pop(PARKED_FROM, None)
        touched = self.touched
        self.table = {
            row_id: (version, READ if row_id in touched else PARKED if read == PARKED and not reach else UNREAD)
            for row_id, (version, read) in self.table.items()
        }
        self.dirty = True

    def end_pass(self, *, proven: bool = True, read_from: str = "") -> list[str]:
        """The pass read the whole history: rows it never read (nor saw leave the window) are gone; forget them.

        A pass that proves nothing (`proven` False: `start_date` raised, so rows below it exist unread) parks them:
        kept, never called gone while parked, and read under a `start_date` no lower than `read_from`.
        """
        unread = [row_id for row_id, (_, read) in self.table.items() if read == UNREAD]
        if not proven:
            for row_id in unread:
                self.table[row_id] = (self.table[row_id][0], PARKED)
            if unread:
                parked_from = self.changes.get(PARKED_FROM)
                self.changes[PARKED_FROM] = min(read_from, parked_from) if isinstance(parked_from, str) else read_from
            self.dirty = self.dirty or bool(unread)
            return []
        for row_id in unread:
            del self.table[row_id]
        if not any(read == PARKED for _, read in self.table.values()):
            self.changes.pop(PARKED_FROM, None)
        self.dirty = self.dirty or bool(unread)
        return unread

    def flush(self) -> None:
        """Write the table into the state (before a STATE message), if it changed."""
        if self.dirty:
            self.changes[PRINTS] = _encode(self.table)
            self.dirty = False


def _short(version: str) -> bytes:
    return bytes.fromhex(version[:4] or "0000")


def _encode(table: dict[str, tuple[bytes, int]]) -> str:
    out = bytearray()
    for row_id, (version, read) in table.items():
        raw = _uuid_bytes(row_id)
        if raw is None:
            raw = row_id.encode()[:255]
            out += bytes((read, len(raw)))
        else:
            out += bytes((read, 0))
        out += raw + version
    return base64.b64encode(bytes(out)).decode()


def _decode(text: str) -> dict[str, tuple[bytes, int]]:
    try:
        raw = base64.b64decode(text)
    except ValueError:
        return {}
    table, i = {}, 0
    while i + 4 <= len(raw):
        read, size = raw[i], raw[i + 1]
        body = raw[i + 2 : i + 2 + (size or 16)]
        row_id = str(uuid.UUID(bytes=body)) if size == 0 and len(body) == 16 else body.decode(errors="replace")  # noqa: PLR2004
        i += 2 + len(body)
        table[row_id] = (raw[i : i + 2], read)
        i += 2
    return table


def _uuid_bytes(row_id: str) -> bytes | None:
    """A canonical UUID's 16 bytes (None for any other id, kept as text)."""
    if len(row_id) != 36:  # noqa: PLR2004
        return None
    try:
        value = uuid.UUID(row_id)
    except ValueError:
        return None
    return value.bytes if str(value) == row_id else None
