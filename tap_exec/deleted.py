"""Records that say a row is gone upstream: they keep their key and mark whatever the catalog, selection or stream map.

A deletion record has only its key (and a child's parent key) and `_sdc_deleted_at`. Those fields are `automatic`
in the stream's metadata, an input catalog's included (an older version's, a selection that deselects them), so
the SDK never strips them; every stream map of such a stream declares the mark (its SCHEMA has it whatever the
catalog's schema); and a map whose expressions cannot evaluate on a
record this bare (`record['user']['email']`) sends the key, computed as the map computes it, and the mark instead.
"""

from __future__ import annotations

import ast
import fnmatch
import typing as t

from singer_sdk.helpers._util import utc_now
from singer_sdk.mapper import CustomStreamMap, RemoveRecordTransform
from singer_sdk.singerlib import Metadata, RecordMessage

from tap_exec.errors import ExecTapError

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from singer_sdk.mapper import StreamMap
    from singer_sdk.singerlib import MetadataMapping

DELETED_AT = "_sdc_deleted_at"
#: The mark's schema, for a map whose schema lacks it (`__else__: __NULL__`, a catalog from an older version).
DELETED_AT_SCHEMA: dict[str, t.Any] = {
    "description": "Set by the tap on a record that says the row was deleted upstream (the record carries only the key).",
    "type": ["string", "null"],
    "format": "date-time",
}


class DeletionNotWrittenError(ExecTapError):
    """A stream map cannot give a deletion record its key: the deletion stays remembered for the next run."""


def always_included(metadata: MetadataMapping, fields: t.Iterable[str]) -> None:
    """Make `fields` `automatic` in a stream's metadata: no selection or older catalog can strip them."""
    for name in fields:
        entry = metadata.get(("properties", name))
        if entry is None:
            metadata[("properties", name)] = Metadata(inclusion=Metadata.InclusionType.AUTOMATIC)
        else:
            entry.inclusion = Metadata.InclusionType.AUTOMATIC


def declare_mark(stream_maps: t.Iterable[StreamMap]) -> None:
    """Every map that sends records declares the mark (`__else__: __NULL__` leaves out what it does not name)."""
    for stream_map in stream_maps:
        if not isinstance(stream_map, RemoveRecordTransform):
            stream_map.transformed_schema.setdefault("properties", {}).setdefault(DELETED_AT, dict(DELETED_AT_SCHEMA))


def map_definitions(stream_maps_dict: Mapping[str, t.Any], stream_name: str) -> list[dict[str, t.Any]]:
    """Each stream map's config, in the order the SDK builds the stream's maps (its own, then each `__source__` one)."""
    own: dict[str, t.Any] = {}
    others: list[dict[str, t.Any]] = []
    for key, value in stream_maps_dict.items():
        definition = value if isinstance(value, dict) else {}
        source = definition.get("__source__", key)
        if stream_name != source and not fnmatch.fnmatch(stream_name, source):
            continue
        if "__source__" in definition:
            others.append(definition)
        else:
            own = definition
    return [own, *others]


def mapped(stream_map: StreamMap, definition: dict[str, t.Any], record: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The deletion record as `stream_map` sends it (None: a map that sends nothing), always with its key and mark.

    A map that fails on it, or whose filter leaves it out, sends its fields computed one by one as the map computes
    them (a key renamed or hashed stays so), those it cannot compute left out. A filter cannot judge a record without
    the row's data: a mark for a row the target never had is a marked row the models leave out, a mark lost would
    leave a deleted row current.
    """
    if isinstance(stream_map, RemoveRecordTransform):
        return None
    try:
        result = stream_map.transform(dict(record))
    except Exception:  # noqa: BLE001 - any error of an expression reading what a deletion record does not have
        result = None
    if result is None:
        result = _fields(stream_map, definition, record)
    result[DELETED_AT] = record[DELETED_AT]
    return result


def _fields(stream_map: StreamMap, definition: dict[str, t.Any], record: dict[str, t.Any]) -> dict[str, t.Any]:
    """The deletion record's fields through the map one at a time: its key must evaluate, the others may not."""
    keys = list(stream_map.transformed_key_properties or ())
    declared = stream_map.transformed_schema.get("properties", {})
    result: dict[str, t.Any] = {}
    for name in dict.fromkeys([*keys, *record]):
        expression = definition.get(name)
        if name == DELETED_AT or (name in definition and expression in {None, "__NULL__"}):
            continue  # the map removes it
        if not isinstance(expression, str) or not isinstance(stream_map, CustomStreamMap):
            if name in record and name in declared:
                result[name] = record[name]
            continue
        try:
            parsed = t.cast("ast.Expr", ast.parse(expression).body[0])
            result[name] = stream_map._eval(expression, parsed, record, name)  # noqa: SLF001 - as the map computes it
        except Exception as exc:
            if name not in keys:
                continue  # a property it cannot compute is left out (null in the loaders' upsert)
            msg = (
                f"{stream_map.stream_alias}: the stream map computes the key {name} as `{expression}`, which a record "
                f"of a row deleted upstream (only {', '.join(sorted(record))}) cannot evaluate ({exc!r}). The deletion "
                "stays remembered and is sent by the next run. What to do: compute the key from key fields only."
            )
            raise DeletionNotWrittenError(msg) from exc
    missing = [name for name in keys if name not in result]
    if missing:
        msg = f"{stream_map.stream_alias}: a record of a row deleted upstream has no {', '.join(missing)} (its key)."
        raise DeletionNotWrittenError(msg)
    return result


def messages(
    stream_maps: list[StreamMap], definitions: list[dict[str, t.Any]], record: dict[str, t.Any], version: int | None
) -> Iterator[RecordMessage]:
    """A deletion record's RECORD message through each of the stream's maps."""
    for n, stream_map in enumerate(stream_maps):
        result = mapped(stream_map, definitions[n] if n < len(definitions) else {}, record)
        if result is not None:
            yield RecordMessage(stream=stream_map.stream_alias, record=result, version=version, time_extracted=utc_now())
