"""Schema drift: each RECORD checked against its stream's latest SCHEMA on its way out, as `schema_contract` says.

A record whose shape (keys and value types, level by level) was found valid before passes on one dict lookup per
object; only a new shape is walked against the schema (README, Schema drift: what evolve, discard and freeze do).
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
            else:
                del obj[key]
                if top and self.drift.contract == "evolve":  # kept, in a column of its own type
                    self._variant(obj, props, _variant(key, value), value)

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

    def _new_field(self, obj: dict[str, t.Any], props: dict[str, t.Any], key: str, where: str, *, top: bool) -> None:
        value, problem = obj[key], "is not in the schema"
        if self.drift.contract == "discard" or (top and value is None):  # a null: no value to land, no type to declare
            self.drift.found(self.stream, where, problem, value, "dropped" if value is not None else "left out while null")
            del obj[key]
        else:
            props[key], self.changed = infer(value), True
            self.drift.found(self.stream, where, problem, value, f"declared as {_types(props[key])}", once=True)

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


def _types(schema: dict[str, t.Any]) -> str:
    return "/".join(sorted(allowed(schema) or {"any"}))


def _example(value: object) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."  # noqa: PLR2004 - a glimpse


class SchemaDrift:
    """The run's drift check: sits between the streams and the message writer (`TapExec.write_message`)."""

    def __init__(self, contract: str, logger: logging.Logger) -> None:
        self.contract = contract if contract in CONTRACTS else "evolve"
        self.logger = logger
        self.schemas: dict[str, SchemaMessage] = {}  # each stream's latest SCHEMA, as sent
        self.shapes: dict[str, ObjectShapes] = {}
        self.evolved: set[str] = set()
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.once: set[tuple[str, str, str, str]] = set()

    def write(self, message: Message, send: Callable[[Message], None]) -> None:
        """Send a message on; a record of a new shape is checked first (and the SCHEMA updated if it evolves)."""
        if type(message) is RecordMessage:
            shape = self.shapes.get(message.stream)
            if shape is not None and not shape.fits(message.record) and self._check(message.stream, message.record):
                send(self.schemas[message.stream])
        elif type(message) is SchemaMessage:
            message = self._schema(message)
        send(message)

    def _schema(self, message: SchemaMessage) -> SchemaMessage:
        """The first SCHEMA of a stream is kept (a private copy); a repeat of an evolved one is sent evolved."""
        known = self.schemas.get(message.stream)
        if known is None:
            known = self.schemas[message.stream] = dataclasses.replace(message, schema=copy.deepcopy(message.schema))
            if "properties" in known.schema:
                self.shapes[message.stream] = ObjectShapes(known.schema)
            return message
        return known if message.stream in self.evolved else message

    def _check(self, stream: str, record: dict[str, t.Any]) -> bool:
        """Walk a record of a new shape, fix it as the contract says; True if the stream's schema evolved."""
        walk = _Walk(self, stream)
        walk.walk(record, self.schemas[stream].schema, "", top=True)
        if walk.changed:
            self.evolved.add(stream)
        self.shapes[stream].learn(record)
        return walk.changed

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
