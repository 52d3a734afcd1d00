"""`known`: what a run remembers of a list's rows older than the window, so reconciliation finds regrades and deletions.

Per row its id (16 bytes for a UUID), a 2-byte version, its key in epoch seconds (4 bytes) and whether the current
reconciliation pass read it, kept as one base64 string under the stream's `changes`. A regraded row differs in its
version; a row a whole pass never read (nor saw leave the window) is gone upstream, and its id is what a target needs
to delete it. The key tells a row above a raised `start_date` (read, so gone if unread) from one below it.
"""

from __future__ import annotations

import base64
import typing as t
import uuid

from tap_exec.run.budget import parse_moment

PRINTS, OLD_PRINTS = "known", "prints"  # rows older than the window, with their ids (`prints` held hashes: dropped)
PARKED_FROM = "parked"  # the lowest `start_date` parked rows were read under ('' none): where a pass reaches them all
UNREAD, READ, PARKED = 0, 1, 2  # a row's pass byte: not yet read in this pass, read in it, out of reach (below)
DATED = 0x80  # in the pass byte: the row's key (4 bytes, epoch seconds) follows its version (older rows have none)
NO_KEY = -1


def moment_of(key: str | None) -> int:
    """An ISO 8601 key (or `start_date`) in whole epoch seconds, or NO_KEY."""
    try:
        return int(parse_moment(key).timestamp()) if key else NO_KEY
    except ValueError:
        return NO_KEY


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
        self.table: dict[str, tuple[bytes, int, int]] = _decode(changes.get(PRINTS) or "")
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

    def put(self, row_id: str, version: str, key: str | None = None) -> None:
        """Remember a row's version and its key, read in this pass."""
        entry = (_short(version), READ, moment_of(key))
        self.touched.add(row_id)
        if self.table.get(row_id) != entry:
            self.table[row_id] = entry
            self.dirty = True

    def keep(self, row_id: str) -> None:
        """The row was listed again (a window read reaching below its usual range): it exists, in this pass."""
        known = self.table.get(row_id)
        self.touched.add(row_id)
        if known is not None and known[1] != READ:
            self.table[row_id] = (known[0], READ, known[2])
            self.dirty = True

    def forget(self, row_id: str) -> None:
        """The row is deleted upstream."""
        if self.table.pop(row_id, None) is not None:
            self.dirty = True

    def begin_pass(self, start: str = "") -> None:
        """A reconciliation pass from `start_date` `start` ('' none) starts: no row read yet but what this run touched.

        Rows this run already listed or retired may lie above where the pass starts (rows that left the window in
        this run, or a window widened past rows reconciliation holds): the pass would never read them, yet they exist.
        A parked row is in this pass's reach when its key is at or above `start`, or when the pass starts at or below
        every `start_date` parked rows were read under: then the pass reads it if it exists.
        """
        parked_from = self.changes.get(PARKED_FROM)
        reach = isinstance(parked_from, str) and start <= parked_from
        if reach:
            self.changes.pop(PARKED_FROM, None)
        touched, floor = self.touched, moment_of(start)

        def status(row_id: str, read: int, moment: int) -> int:
            if row_id in touched:
                return READ
            in_reach = reach or not start or (moment != NO_KEY and moment >= floor)
            return PARKED if read == PARKED and not in_reach else UNREAD

        self.table = {row_id: (version, status(row_id, read, at), at) for row_id, (version, read, at) in self.table.items()}
        self.dirty = True

    def end_pass(self, *, proven: bool = True, read_from: str = "", start: str = "") -> list[str]:
        """The pass read the whole history: rows it never read (nor saw leave the window) are gone; forget them.

        A pass that proves nothing (`proven` False: `start_date` raised, so rows below it exist unread) still proves
        gone the rows it left unread whose key is at or above its `start_date` `start` (the pass read every key there);
        the others, below it or of unknown key, it parks: kept, never called gone while parked, and read under a
        `start_date` no lower than `read_from`.
        """
        unread = [row_id for row_id, (_, read, _) in self.table.items() if read == UNREAD]
        if not proven:
            floor = moment_of(start)
            gone = [row_id for row_id in unread if start and self.table[row_id][2] != NO_KEY and self.table[row_id][2] >= floor]
            parked = [row_id for row_id in unread if row_id not in set(gone)]
            for row_id in parked:
                version, _, moment = self.table[row_id]
                self.table[row_id] = (version, PARKED, moment)
            if parked:
                parked_from = self.changes.get(PARKED_FROM)
                self.changes[PARKED_FROM] = min(read_from, parked_from) if isinstance(parked_from, str) else read_from
            unread = gone
        for row_id in unread:
            del self.table[row_id]
        if not any(read == PARKED for _, read, _ in self.table.values()):
            self.changes.pop(PARKED_FROM, None)
        self.dirty = True
        return unread

    def flush(self) -> None:
        """Write the table into the state (before a STATE message), if it changed."""
        if self.dirty:
            self.changes[PRINTS] = _encode(self.table)
            self.dirty = False


def _short(version: str) -> bytes:
    return bytes.fromhex(version[:4] or "0000")


def _encode(table: dict[str, tuple[bytes, int, int]]) -> str:
    out = bytearray()
    for row_id, (version, read, moment) in table.items():
        flags = read | (DATED if moment != NO_KEY else 0)
        raw = _uuid_bytes(row_id)
        if raw is None:
            raw = row_id.encode()[:255]
            out += bytes((flags, len(raw)))
        else:
            out += bytes((flags, 0))
        out += raw + version
        if moment != NO_KEY:
            out += moment.to_bytes(4, "big")
    return base64.b64encode(bytes(out)).decode()


def _decode(text: str) -> dict[str, tuple[bytes, int, int]]:
    try:
        raw = base64.b64decode(text)
    except ValueError:
        return {}
    table, i = {}, 0
    while i + 4 <= len(raw):
        flags, size = raw[i], raw[i + 1]
        body = raw[i + 2 : i + 2 + (size or 16)]
        row_id = str(uuid.UUID(bytes=body)) if size == 0 and len(body) == 16 else body.decode(errors="replace")  # noqa: PLR2004
        i += 2 + len(body)
        version = raw[i : i + 2]
        i += 2
        moment = NO_KEY
        if flags & DATED:
            moment = int.from_bytes(raw[i : i + 4], "big")
            i += 4
        table[row_id] = (version, flags & ~DATED, moment)
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
