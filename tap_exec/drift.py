"""Schema drift: each RECORD checked against its stream's latest SCHEMA on its way out, as `schema_contract` says.

A record whose shape (keys and value types, level by level) was found valid before passes on one dict lookup per
object; only a new shape is walked against the schema (README, Schema drift: what evolve, discard and freeze do).
The top-level columns a stream gained (variant columns, `score__v_string`, and fields evolve declared, `extra_note`) are
remembered in the state (`COLUMNS`), declared in every later run's SCHEMA, and sent null in each record that does not
carry their value (a variant: the record's value of the field is not theirs; a field: the record lacks it), so no
loader's row keeps an old value.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import typing as t
from collections import Counter
from decimal import Decimal

from singer_sdk.singerlib import RecordMessage, SchemaMessage

from tap_exec.deleted import DELETED_AT
from tap_exec.errors import SchemaDriftError
from tap_exec.shapes import ObjectShapes

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from singer_sdk.singerlib.encoding.simple import Message

CONTRACTS = ("evolve", "discard", "freeze")
JSON_TYPES: dict[type, str] = {str: "string", int: "integer", Decimal: "number", float: "number", bool: "boolean"}
JSON_TYPES |= {type(None): "null", dict: "object", list: "array"}
NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
COLUMNS = "added_columns"  # the state's top-level key: {stream: {column: JSON type}}, every top-level column added so far
VARIANTS = "variant_columns"  # its former name and form, {stream: [variant column, ...]}: still read, then replaced
KINDS = frozenset(("string", "integer", "number", "boolean", "object", "array"))
VARIANT = re.compile(r"(?P<field>.+)__v_(?P<kind>string|integer|number|boolean|object|array)")
_MISSING = object()


def json_type(value: object) -> str:
    """The JSON type of a decoded value (`number` for Decimal and float)."""
    return JSON_TYPES.get(type(value), "string")


def allowed(schema: dict[str, t.Any]) -> set[str] | None:
    """The JSON types a property allows (None: any)."""
    kinds = schema.get("type")
    return None if kinds is None else {kinds} if isinstance(kinds, str) else set(kinds)


def fits(value: object, kinds: set[str] | None) -> bool:
    """Whether a value's JSON type is one the schema allows (an integer is a number)."""
    if kinds is None:
        return True
    kind = json_type(value)
    return kind in kinds or (kind == "integer" and "number" in kinds)


def coerced(value: object, kinds: set[str]) -> object:
    """The value in an allowed type when that loses nothing ("48.3" -> 48.3, 12.0 -> 12), else `_MISSING`."""
    if isinstance(value, str):
        if kinds & {"number", "integer"} and NUMBER.fullmatch(value):
            if "integer" in kinds and value.lstrip("-").isdigit():
                return int(value)
            if "number" in kinds:
                return Decimal(value)
        if "boolean" in kinds and value in {"true", "false"}:
            return value == "true"
    elif isinstance(value, (Decimal, float)) and "integer" in kinds and value == int(value):
        return int(value)
    return _MISSING


def infer(value: object) -> dict[str, t.Any]:
    """A schema for a value the spec does not describe: objects and arrays as such, nullable throughout."""
    kind = json_type(value)
    schema: dict[str, t.Any] = {"type": [kind] if kind == "null" else [kind, "null"]}
    if kind == "integer":  # a later 48.5 is as likely as 48: a number column holds both
        schema["type"] = ["number", "null"]
    elif isinstance(value, dict):
        schema["properties"] = {key: infer(item) for key, item in value.items()}
    elif isinstance(value, list):
        schema["items"] = {}
        for item in value:
            schema["items"] = merged(schema["items"], infer(item)) if schema["items"] else infer(item)
    return schema


def merged(schema: dict[str, t.Any], other: dict[str, t.Any]) -> dict[str, t.Any]:
    """`schema` widened in place to also allow what `other` describes."""
    kinds = allowed(schema)
    if kinds is not None:
        schema["type"] = sorted(kinds | (allowed(other) or set()), key=list(JSON_TYPES.values()).index)
    for key, sub in other.get("properties", {}).items():
        props = schema.setdefault("properties", {})
        props[key] = merged(props[key], sub) if key in props else sub
    if "items" in other and "items" in schema and schema["items"]:
        merged(schema["items"], other["items"])
    elif "items" in other:
        schema["items"] = other["items"]
    return schema


@dataclasses.dataclass
class _Walk:
    """One record walked against its stream's schema, fixed in place as the contract says."""

    drift: SchemaDrift
    stream: str
    changed: bool = False  # the schema was evolved

    def walk(self, obj: dict[str, t.Any], schema: dict[str, t.Any], path: str, *, top: bool) -> None:
        props: dict[str, t.Any] = schema.get("properties", {})
        for key, value in list(obj.items()) if "properties" in schema else ():
            where, prop = f"{path}.{key}" if path else key, props.get(key)
            if prop is None:
                self._new_field(obj, props, key, where, top=top)
            elif fits(value, allowed(prop)):
                self.nested(value, prop, where)
            elif (replacement := self._mismatch(value, prop, where, top=top)) is not _MISSING:
                obj[key] = replacement
            elif top and self.drift.contract == "evolve":  # kept, in a column of its own type; null in its own
                if fits(None, allowed(prop)):
                    obj[key] = None
                else:
                    del obj[key]
                self._variant(obj, props, _variant(key, value), value)
            else:
                del obj[key]

    def nested(self, value: object, prop: dict[str, t.Any], where: str) -> None:
        if isinstance(value, dict):
            self.walk(value, prop, where, top=False)
        elif isinstance(value, list) and prop.get("items"):
            items, kept = prop["items"], []
            for item in value:
                if fits(item, allowed(items)):
                    self.nested(item, items, where + "[]")
                    kept.append(item)
                elif (replacement := self._mismatch(item, items, where + "[]", top=False)) is not _MISSING:
                    kept.append(replacement)
            value[:] = kept

    def _variant(self, obj: dict[str, t.Any], props: dict[str, t.Any], column: str, value: object) -> None:
        obj[column] = value
        if column in props:
            self.nested(value, props[column], column)
        else:
            props[column], self.changed = infer(value), True
            self.drift.declared(self.stream, column, json_type(value))

    def _new_field(self, obj: dict[str, t.Any], props: dict[str, t.Any], key: str, where: str, *, top: bool) -> None:
        value, problem = obj[key], "is not in the schema"
        if self.drift.contract == "discard" or (top and value is None):  # a null: no value to land, no type to declare
            self.drift.found(self.stream, where, problem, value, "dropped" if value is not None else "left out while null")
            del obj[key]
        else:
            props[key], self.changed = infer(value), True
            self.drift.found(self.stream, where, problem, value, f"declared as {_types(props[key])}", once=True)
            if top:  # remembered: sent null where a later record lacks it, declared in every later run
                self.drift.declared(self.stream, key, props[key]["type"][0])

    def _mismatch(self, value: object, prop: dict[str, t.Any], where: str, *, top: bool) -> object:
        """What to keep in place of a value of a type `prop` does not allow (`_MISSING`: nothing)."""
        problem = f"is {json_type(value)} where the schema says {_types(prop)}"
        replacement = coerced(value, allowed(prop) or set())
        if replacement is not _MISSING:
            self.drift.found(self.stream, where, problem, value, f"coerced to {json_type(replacement)}")
        elif self.drift.contract == "discard":
            self.drift.found(self.stream, where, problem, value, "dropped")
        elif top:
            self.drift.found(self.stream, where, problem, value, f"kept in the column {_variant(where, value)}")
        else:  # inside an object or array column: widen the nested type, the column stays JSON
            merged(prop, infer(value))
            self.changed = True
            self.drift.found(self.stream, where, problem, value, f"type widened to {_types(prop)}", once=True)
            return value
        return replacement


def _variant(key: str, value: object) -> str:
    return f"{key}__v_{json_type(value)}"


def _well_formed(column: object, kind: object) -> bool:
    """A column name and its JSON type; a variant column's type is its name's."""
    if not isinstance(column, str) or not column or kind not in KINDS:
        return False
    variant = VARIANT.fullmatch(column)
    return variant is None or variant["kind"] == kind


def remembered(state: dict[str, t.Any], logger: logging.Logger) -> dict[str, dict[str, str]]:
    """The state's added columns (`COLUMNS`, or the former `VARIANTS`), made well formed in place.

    Anything else is dropped with a warning; a former `VARIANTS` is merged in and replaced by `COLUMNS`.
    """
    found = state.get(COLUMNS, {})
    good = {
        stream: {column: kind for column, kind in columns.items() if _well_formed(column, kind)}
        for stream, columns in (found.items() if isinstance(found, dict) else ())
        if isinstance(columns, dict)
    }
    ok = good == found
    former = state.pop(VARIANTS, {})
    for stream, columns in former.items() if isinstance(former, dict) else ():
        if isinstance(columns, list):
            variants = [c for c in columns if isinstance(c, str) and VARIANT.fullmatch(c)]
            ok &= len(variants) == len(columns)
            for column in variants:
                good.setdefault(stream, {}).setdefault(column, VARIANT.fullmatch(column)["kind"])  # type: ignore[index]
        else:
            ok = False
    if not ok or not isinstance(former, dict):
        logger.warning(
            "The state's %s is not a map of streams to the columns drift added and their JSON types; kept what is: %s.",
            COLUMNS,
            json.dumps(good),
        )
    if COLUMNS in state or VARIANTS in state or former:
        state[COLUMNS] = good
    return good


class ColumnShapes(ObjectShapes):
    """A stream's record shapes, filling in the columns drift added first.

    A record lacking an added field gets it null (a deletion record, which carries only its key, aside); a record
    carrying a field that has variant columns gets null in each of them it does not carry (its value is in the field,
    or in one of them): a loader's row keeps no older value there.
    """

    __slots__ = ("added", "fields")

    def __init__(self, schema: dict[str, t.Any], columns: t.Iterable[str]) -> None:
        super().__init__(schema)
        fields: dict[str, list[str]] = {}
        added: list[str] = []
        for column in columns:
            variant = VARIANT.fullmatch(column)
            if variant is None:
                added.append(column)
            else:
                fields.setdefault(variant["field"], []).append(column)
        self.added = tuple(added)
        self.fields = tuple((field, tuple(names)) for field, names in fields.items())

    def fits(self, value: t.Any) -> bool:  # noqa: ANN401
        """Null in the added columns the record leaves out, then the shape's test."""
        if self.added and DELETED_AT not in value:
            for column in self.added:
                if column not in value:
                    value[column] = None
        for field, columns in self.fields:
            if field in value:
                for column in columns:
                    if column not in value:
                        value[column] = None
        return super().fits(value)


def _shapes(schema: dict[str, t.Any], columns: t.Iterable[str], known: ObjectShapes | None = None) -> ObjectShapes:
    """A stream's shapes: plain, or filling the columns drift added; with `known`, what it had learnt is kept."""
    shapes = ColumnShapes(schema, columns) if columns else ObjectShapes(schema)
    if known is not None:
        shapes.good, shapes.children = known.good, known.children
    return shapes


def _declared(kind: str) -> dict[str, t.Any]:
    """A remembered column's schema: nullable, a number for an integer (as `infer`), objects and arrays left open."""
    return {"type": ["number" if kind == "integer" else kind, "null"]}


def _types(schema: dict[str, t.Any]) -> str:
    return "/".join(sorted(allowed(schema) or {"any"}))


def _example(value: object) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."  # noqa: PLR2004 - a glimpse


class SchemaDrift:
    """The run's drift check: sits between the streams and the message writer (`TapExec.write_message`)."""

    def __init__(
        self,
        contract: str,
        logger: logging.Logger,
        state: dict[str, t.Any] | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> None:
        self.contract = contract if contract in CONTRACTS else "evolve"
        self.logger = logger
        self.schemas: dict[str, SchemaMessage] = {}  # each stream's latest SCHEMA, as sent
        self.shapes: dict[str, ObjectShapes] = {}
        self.evolved: set[str] = set()
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.once: set[tuple[str, str, str, str]] = set()
        self.state = state if state is not None else {}  # the run's state, where `COLUMNS` is kept up to date
        #: Every top-level column drift added so far (variant columns, evolved fields), per stream (the state's `COLUMNS`).
        self.columns: dict[str, dict[str, str]] = remembered(self.state, logger)
        self.checkpoint = checkpoint  # a STATE message of the run's state now (the tap's checkpoint)
        self._new_variant = False

    def write(self, message: Message, send: Callable[[Message], None]) -> None:
        """Send a message on; a record of a new shape is checked first (and the SCHEMA updated if it evolves).

        A new column (variant or field) is in a STATE message before the first record carrying it: a run killed after
        that record still tells the next run to send the column null where the record has no value for it.
        """
        if type(message) is RecordMessage:
            shape = self.shapes.get(message.stream)
            if shape is not None and not shape.fits(message.record) and self._check(message.stream, message.record):
                send(self.schemas[message.stream])
                if self._new_variant:
                    self._new_variant = False
                    if self.checkpoint is not None:
                        self.checkpoint()
        elif type(message) is SchemaMessage:
            message = self._schema(message)
        send(message)

    def _schema(self, message: SchemaMessage) -> SchemaMessage:
        """The first SCHEMA of a stream is kept (a private copy), with the columns earlier runs added.

        A repeat of an evolved one is sent evolved.
        """
        known = self.schemas.get(message.stream)
        if known is None:
            known = self.schemas[message.stream] = dataclasses.replace(message, schema=copy.deepcopy(message.schema))
            props = known.schema.get("properties")
            if props is None:
                return message
            added = self.columns.get(message.stream, {})
            columns = [c for c in added if c not in props]
            for column in columns:
                props[column] = _declared(added[column])
            self.shapes[message.stream] = _shapes(known.schema, added)
            if not columns:
                return message
            self.evolved.add(message.stream)
        return known if message.stream in self.evolved else message

    def _check(self, stream: str, record: dict[str, t.Any]) -> bool:
        """Walk a record of a new shape, fix it as the contract says; True if the stream's schema evolved."""
        walk = _Walk(self, stream)
        walk.walk(record, self.schemas[stream].schema, "", top=True)
        if walk.changed:
            self.evolved.add(stream)
        if self._new_variant:  # from now on, records carrying the field send the new column too (null if not theirs)
            self.shapes[stream] = _shapes(self.schemas[stream].schema, self.columns[stream], self.shapes[stream])
        self.shapes[stream].learn(record)
        return walk.changed

    def declared(self, stream: str, column: str, kind: str) -> None:
        """A top-level column is added: remembered in the state (the next STATE message carries it)."""
        self.columns.setdefault(stream, {})[column] = kind
        self.state[COLUMNS] = self.columns
        self._new_variant = True

    def found(self, stream: str, where: str, problem: str, value: object, action: str, *, once: bool = False) -> None:  # noqa: PLR0913
        """Count one drift; the first of a field warns (under freeze, stops the run)."""
        if self.contract == "freeze":
            msg = (
                f"Schema drift in {stream}: {where} {problem} (e.g. {_example(value)}), and `schema_contract` is freeze: "
                "the run stops here, state is saved. What to do: set `schema_contract` to evolve to land it, or discard "
                "to drop it."
            )
            raise SchemaDriftError(msg)
        key = (stream, where, problem, action)
        if not any(k[:2] == (stream, where) for k in self.counts):
            self.logger.warning("Schema drift in %s: %s %s (e.g. %s); %s.", stream, where, problem, _example(value), action)
        self.counts[key] += 1
        if once:  # the schema now knows it: later records do not come this way, so a count means nothing
            self.once.add(key)

    def summary(self) -> list[str]:
        """End-of-run lines: each drifted field and what was done with it."""
        return [
            f"Summary: schema drift ({self.contract}): {stream}.{where} {problem}: {action}"
            + ("" if (stream, where, problem, action) in self.once else f" ({n:,} values)")
            for (stream, where, problem, action), n in self.counts.items()
        ]
