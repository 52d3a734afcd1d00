"""Which parents' children embed copies of another list's rows (a page's contents embed its sources), for `Touch.embedded`.

Kept in the per-parent stream's `changes` as `embeds`: for each parent whose last fetched record listed at least one
row, a list of its replication key value then (what a 404 asks its list about) and a 4-byte digest of each id it
listed (8 hex characters; a collision costs one needless fetch, never a missed one). One entry per parent that embeds
something, replaced when the parent's children are fetched again and dropped when the parent is gone: the state
grows with the Knowledge Hub, not with runs (500 pages, two in three citing a source: 28 KB).
"""

from __future__ import annotations

import hashlib
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Iterable

EMBEDS = "embeds"


def digest(row_id: str) -> str:
    """The 8 hex characters an embedded id is remembered by."""
    return hashlib.blake2b(row_id.encode(), digest_size=4).hexdigest()


class Embeds:
    """The ids each parent's last fetched record listed in `field` (as digests), and the parent's key then."""

    def __init__(self, changes: dict[str, t.Any], field: str) -> None:
        raw = changes.get(EMBEDS)
        #: False for a state without this record (an older tap-exec) or a malformed one: a full pass rebuilds it
        self.whole = well_formed(raw)
        self.map: dict[str, list[str | None]] = raw if self.whole and isinstance(raw, dict) else {}
        changes[EMBEDS] = self.map
        self.field = field
        self._fetching: dict[str, set[str]] = {}  # parent id -> digests of the ids its records listed in this fetch

    def listed(self, parent_id: str, record: dict[str, t.Any]) -> None:
        """A fetched record of the parent: note the ids it lists."""
        items = record.get(self.field)
        ids = self._fetching.setdefault(parent_id, set())
        if isinstance(items, list):
            ids.update(digest(str(item["id"])) for item in items if isinstance(item, dict) and item.get("id") is not None)

    def fetched(self, parent_id: str, key: str | None) -> None:
        """The parent's children were fetched (none: the parent is gone): remember what they embed now."""
        ids = self._fetching.pop(parent_id, set())
        if ids:
            self.map[parent_id] = [key, *sorted(ids)]
        else:
            self.map.pop(parent_id, None)

    def failed(self, parent_id: str) -> None:
        """The fetch failed: what the parent embedded before stands."""
        self._fetching.pop(parent_id, None)

    def parents_of(self, row_id: str) -> Iterable[tuple[str, str | None]]:
        """Parents whose last record embedded row `row_id`, with their key then."""
        wanted = digest(row_id)
        return [(parent_id, entry[0]) for parent_id, entry in self.map.items() if wanted in entry[1:]]


def well_formed(raw: t.Any) -> bool:  # noqa: ANN401 - whatever the state holds
    """True when an `embeds` record has the shape this module writes."""
    return isinstance(raw, dict) and all(
        isinstance(entry, list)
        and len(entry) > 1
        and isinstance(entry[0], (str, type(None)))
        and all(isinstance(i, str) for i in entry[1:])
        for entry in raw.values()
    )
