"""Shapes of records already found valid: a test, costing one dict lookup per object, that a record is like one of them.

A shape is an object's keys and the types of its values, in order; nested objects and arrays have their own. The
schema only ever widens during a run (drift.py), so a shape once valid stays valid.
"""

from __future__ import annotations

import typing as t


class AnyShape:
    """A place the schema leaves open (an object without properties, an array without items)."""

    def fits(self, value: t.Any) -> bool:  # noqa: ANN401, ARG002
        """Anything fits."""
        return True

    def learn(self, value: t.Any) -> None:  # noqa: ANN401
        """Nothing to remember."""


class ObjectShapes:
    """Shapes (keys and value types) of an object already found valid, and the nested places they lead to."""

    __slots__ = ("children", "good", "properties")

    def __init__(self, schema: dict[str, t.Any]) -> None:
        self.properties: dict[str, t.Any] = schema["properties"]
        self.good: dict[tuple[t.Any, ...], tuple[tuple[str, _Node], ...]] = {}
        self.children: dict[tuple[str, type], _Node] = {}

    def fits(self, value: t.Any) -> bool:  # noqa: ANN401
        """Whether this object's shape, and its nested values', were found valid before."""
        shape = (*value, *map(type, value.values()))
        nested = self.good.get(shape)
        if nested is None:
            return False
        for key, node in nested:  # noqa: SIM110 - a loop, not a generator per record
            if not node.fits(value[key]):
                return False
        return True

    def learn(self, value: t.Any) -> None:  # noqa: ANN401
        """Remember a valid object's shape (and its nested values')."""
        nested = []
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                node = self.children.get((key, type(item)))
                if node is None:
                    node = self.children[key, type(item)] = _node(self.properties[key], item)
                node.learn(item)
                nested.append((key, node))
        shape = (*value, *map(type, value.values()))
        self.good[shape] = tuple(nested)


class ArrayShapes:
    """Element types of an array already found valid."""

    __slots__ = ("children", "items", "scalars")

    def __init__(self, items: dict[str, t.Any]) -> None:
        self.items = items
        self.scalars: set[type] = set()
        self.children: dict[type, _Node] = {}

    def fits(self, value: t.Any) -> bool:  # noqa: ANN401
        """Whether every element's type (and nested shape) was found valid before."""
        for item in value:
            node = self.children.get(type(item))
            if node is None:
                if type(item) not in self.scalars:
                    return False
            elif not node.fits(item):
                return False
        return True

    def learn(self, value: t.Any) -> None:  # noqa: ANN401
        """Remember the types of a valid array's elements."""
        for item in value:
            if isinstance(item, (dict, list)):
                node = self.children.get(type(item)) or self.children.setdefault(type(item), _node(self.items, item))
                node.learn(item)
            else:
                self.scalars.add(type(item))


_Node = t.Union[AnyShape, ObjectShapes, ArrayShapes]  # noqa: UP007 - a runtime alias on Python 3.10


def _node(schema: dict[str, t.Any], value: object) -> _Node:
    if isinstance(value, dict) and "properties" in schema:
        return ObjectShapes(schema)
    if isinstance(value, list) and schema.get("items"):
        return ArrayShapes(schema["items"])
    return AnyShape()
