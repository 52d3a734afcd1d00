"""The shipped schema files match the Exec OpenAPI spec field for field (types, nullability, date-times)."""

from __future__ import annotations

import json
import os
import typing as t
from importlib import resources

import pytest

from tap_exec.simulator.params import PARAMS, Param
from tests.expected import TAP_WRITTEN
from tests.spec_schemas import SPEC_PATH, STREAM_COMPONENTS, expected_stream_schema, load_spec, strip_descriptions

# CI always has ../shared beside the clone; only a bare clone elsewhere may lack it.
needs_spec = pytest.mark.skipif(
    not SPEC_PATH.exists() and not os.environ.get("CI"), reason="../shared/spec is not beside this clone"
)


@needs_spec
@pytest.mark.parametrize("stream", sorted(STREAM_COMPONENTS))
def test_schema_file_matches_spec(stream: str) -> None:
    shipped = json.loads(resources.files("tap_exec.schemas").joinpath(f"{stream}.json").read_text(encoding="utf-8"))
    assert strip_descriptions(shipped) == expected_stream_schema(stream, load_spec())


def test_every_schema_file_is_a_stream() -> None:
    files = {p.name.removesuffix(".json") for p in resources.files("tap_exec.schemas").iterdir() if p.name.endswith(".json")}
    assert files == set(STREAM_COMPONENTS) | TAP_WRITTEN


def _expected_param(schema: dict[str, t.Any], required: bool) -> Param:
    """The simulator's Param for one spec query parameter."""
    kind = {"integer": "integer", "boolean": "boolean"}.get(schema.get("type", ""), "text")
    if schema.get("format") in {"date-time", "email"}:
        kind = schema["format"]
    values: tuple[str, ...] = tuple(schema.get("enum", ()))
    if schema.get("type") == "array":
        kind, values = "list", tuple(schema["items"]["enum"])
    elif values:
        kind = "enum"
    return Param(kind, values, schema.get("minimum"), schema.get("maximum"), required)


@needs_spec
def test_the_simulator_accepts_exactly_the_spec_query_parameters() -> None:
    spec = load_spec()
    gets = {path: item["get"] for path, item in spec["paths"].items() if "get" in item}
    assert set(PARAMS) == set(gets)
    for path, operation in gets.items():
        expected = {
            p["name"]: _expected_param(p["schema"], bool(p.get("required")))
            for p in operation.get("parameters", [])
            if p["in"] == "query"
        }
        assert PARAMS[path] == expected, path
