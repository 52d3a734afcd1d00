"""The shipped schema files match the Exec OpenAPI spec field for field (types, nullability, date-times)."""

from __future__ import annotations

import json
import os
from importlib import resources

import pytest

from tests.spec_schemas import SPEC_PATH, STREAM_COMPONENTS, expected_stream_schema, load_spec, strip_descriptions

# CI always has ../shared beside the clone; only a bare clone elsewhere may lack it.
pytestmark = pytest.mark.skipif(
    not SPEC_PATH.exists() and not os.environ.get("CI"), reason="../shared/spec is not beside this clone"
)


@pytest.mark.parametrize("stream", sorted(STREAM_COMPONENTS))
def test_schema_file_matches_spec(stream: str) -> None:
    shipped = json.loads(resources.files("tap_exec.schemas").joinpath(f"{stream}.json").read_text(encoding="utf-8"))
    assert strip_descriptions(shipped) == expected_stream_schema(stream, load_spec())


def test_every_schema_file_is_a_stream() -> None:
    files = {p.name.removesuffix(".json") for p in resources.files("tap_exec.schemas").iterdir() if p.name.endswith(".json")}
    assert files == set(STREAM_COMPONENTS)
