"""Schema drift: an API that serves more than its spec, or another type, never yields a record its SCHEMA rejects.

Expected values come from the simulator's data (`extra_value`, `served_score`), never from the tap's counters.
"""

from __future__ import annotations

import json
import logging
import typing as t
from decimal import Decimal

import jsonschema
import pytest
from singer_sdk.singerlib import RecordMessage, SchemaMessage

from tap_exec.drift import SchemaDrift
from tap_exec.errors import EXIT_FAILED, SchemaDriftError
from tap_exec.simulator.data import Counts
from tap_exec.simulator.drift import ApiDrift, extra_value, served_score
from tap_exec.simulator.seed import build
from tests.helpers import Output, catalog_for, fast_config, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_exec.simulator import Simulator

STREAMS = ("sessions", "collections", "scenarios")  # in sync order
DRIFTED = ApiDrift(tuple(f"{s}.sentiment" for s in STREAMS), string_scores=True, text_scores=True)


def strict(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """The schema as a loader reads it: a field it does not declare has no column (`additionalProperties: false`)."""
    out = {key: strict(value) if isinstance(value, dict) and key != "properties" else value for key, value in schema.items()}
    if "properties" in schema:
        out["properties"] = {name: strict(prop) for name, prop in schema["properties"].items()}
        out["additionalProperties"] = False
    return out


def validator(schema: dict[str, t.Any]) -> t.Any:
    """A strict validator for `schema`, built once (`jsonschema.validate` checks the schema and builds one per call)."""
    loader_view = strict(schema)
    cls = jsonschema.validators.validator_for(loader_view)
    cls.check_schema(loader_view)  # as `jsonschema.validate` does
    return cls(loader_view)


def valid_against_latest_schema(out: Output) -> int:
    """Validate every RECORD against the SCHEMA last sent for its stream (before it), strictly; the records checked."""
    validators: dict[str, t.Any] = {}
    checked = 0
    for message in out.messages:
        if message["type"] == "SCHEMA":
            validators[message["stream"]] = validator(message["schema"])
        elif message["type"] == "RECORD":
            validators[message["stream"]].validate(message["record"])
            checked += 1
    return checked


def drift_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "Schema drift" in r.getMessage()]


def test_strict_validation_refuses_an_undeclared_field() -> None:
    with pytest.raises(jsonschema.ValidationError, match="sentiment"):
        jsonschema.validate(
            {"id": "x", "sentiment": {}}, strict({"type": ["object"], "properties": {"id": {"type": ["string"]}}})
        )


def test_spec_faithful_api_means_no_drift(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    out = run_tap(fast_config(sim), selected=STREAMS)
    assert valid_against_latest_schema(out) == len(sim.data.sessions) + len(sim.data.scenarios) + len(sim.data.collections)
    assert [m["stream"] for m in out.messages if m["type"] == "SCHEMA"] == list(STREAMS)
    assert drift_warnings(caplog) == []


def test_evolve_lands_new_fields_coerces_and_keeps_the_rest(
    make_sim: t.Callable[..., Simulator], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(drift=DRIFTED)
    caplog.set_level(logging.WARNING)
    out = run_tap(fast_config(sim), selected=STREAMS)
    valid_against_latest_schema(out)

    listed = {
        "sessions": [s.id for s in sim.data.sessions],
        "collections": [c["id"] for c in sim.data.collections],
        "scenarios": [s["id"] for s in sim.data.scenarios],
    }
    for stream, ids in listed.items():
        records = {r["id"]: r for r in out.records(stream)}
        assert sorted(records) == sorted(ids), stream
        assert all(json.loads(json.dumps(records[i]["sentiment"], default=float)) == extra_value(i) for i in ids), stream
        ours = [(i, m) for i, m in enumerate(out.messages) if m.get("stream") == stream]
        declared = next(i for i, m in ours if m["type"] == "SCHEMA" and "sentiment" in m["schema"]["properties"])
        first = next(i for i, m in ours if m["type"] == "RECORD")
        assert declared < first, f"{stream}: the SCHEMA declaring the field comes before the first record carrying it"
        sentiment = out.messages[declared]["schema"]["properties"]["sentiment"]
        assert "object" in sentiment["type"]
        assert "array" in sentiment["properties"]["topics"]["type"]

    records = {r["id"]: r for r in out.records("sessions")}
    texts = 0
    for session in sim.data.sessions:
        record, served = records[session.id], served_score(DRIFTED, session.id, session.score or 0.0)
        if session.score is None:
            assert record["score"] is None
        elif isinstance(served, str) and not served.replace(".", "").isdigit():
            texts += 1
            assert "score" not in record
            assert record["score__v_string"] == served, "the text that is no number is kept as served"
        else:
            assert record["score"] == session.score, "the numeric string lands as the number"
            assert isinstance(record["score"], float)
    assert texts > 100

    warnings = drift_warnings(caplog)
    assert len(warnings) == 4, warnings  # one per stream and field: 3 sentiment, 1 score
    assert any("sessions: score is string" in w and "coerced to number" in w for w in warnings)


def test_discard_drops_what_the_spec_does_not_declare(make_sim: t.Callable[..., Simulator]) -> None:
    sim = make_sim(drift=DRIFTED)
    out = run_tap(fast_config(sim, schema_contract="discard"), selected=STREAMS)
    valid_against_latest_schema(out)
    schemas = [m for m in out.messages if m["type"] == "SCHEMA"]
    assert {m["stream"] for m in schemas} == set(STREAMS)
    assert all(m["schema"] == next(f for f in schemas if f["stream"] == m["stream"])["schema"] for m in schemas), (
        "the schema never changes"
    )
    for stream in STREAMS:
        assert all("sentiment" not in r for r in out.records(stream))
    records = {r["id"]: r for r in out.records("sessions")}
    for session in sim.data.sessions:
        served = served_score(DRIFTED, session.id, session.score or 0.0)
        if session.score is not None and served.endswith("pts"):  # type: ignore[union-attr]
            assert "score" not in records[session.id]
            assert not [k for k in records[session.id] if k.startswith("score__")]
        elif session.score is not None:
            assert records[session.id]["score"] == session.score, "a lossless coercion is still made"


def test_freeze_stops_with_one_line_and_state_saved(make_sim: t.Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_sim(drift=ApiDrift(("collections.sentiment",)))
    config = fast_config(sim, schema_contract="freeze")
    catalog = write_json(tmp_path, "catalog.json", catalog_for(config, ["sessions", "collections"]))
    result = run_cli(["--config", write_json(tmp_path, "config.json", config), "--catalog", catalog])
    assert result.returncode == EXIT_FAILED
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr[-2000:]
    first = sim.data.collections[0]["id"]
    assert "collections: sentiment is not in the schema" in errors[0]
    assert json.dumps(extra_value(first)["label"]) in errors[0], "the line shows an example value"
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
    sessions = {m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == "sessions"}
    assert sessions == {s.id for s in sim.data.sessions}, "sessions, read first, all landed"
    assert state["bookmarks"]["sessions"]["history"]["done"], "and the state says so"
    assert not [m for m in messages if m["type"] == "RECORD" and m["stream"] == "collections"]
    assert "Traceback" not in result.stderr


def test_summary_names_each_drifted_field(make_sim: t.Callable[..., Simulator], tmp_path: Path) -> None:
    sim = make_sim(drift=DRIFTED)
    config = fast_config(sim)
    catalog = write_json(tmp_path, "catalog.json", catalog_for(config, ["sessions"]))
    result = run_cli(["--config", write_json(tmp_path, "config.json", config), "--catalog", catalog])
    assert result.returncode == 0, result.stderr[-2000:]
    summary = [line for line in result.stderr.splitlines() if "Summary: schema drift" in line]
    graded = [s for s in sim.data.sessions if s.score is not None]
    texts = sum(1 for s in graded if str(served_score(DRIFTED, s.id, s.score or 0.0)).endswith("pts"))
    assert any(
        "sessions.score is string" in line and f"coerced to number ({len(graded) - texts:,} values)" in line for line in summary
    )
    assert any(f"kept in the column score__v_string ({texts:,} values)" in line for line in summary), summary
    assert any("sessions.sentiment is not in the schema: declared as null/object" in line for line in summary), summary


def test_a_deselected_property_stays_out(make_sim: t.Callable[..., Simulator], caplog: pytest.LogCaptureFixture) -> None:
    """A property the catalog deselects (known or not) is never sent, nor declared, nor warned about."""
    sim = make_sim(drift=DRIFTED)
    config = fast_config(sim)
    catalog = catalog_for(config, ["sessions"])
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "sessions")
    for name in ("sentiment", "score"):
        entry["metadata"].append({"breadcrumb": ["properties", name], "metadata": {"selected": False}})
    caplog.set_level(logging.WARNING)
    out = run_tap(config, catalog=catalog)
    assert all("sentiment" not in r and "score" not in r and "score__v_string" not in r for r in out.records("sessions"))
    assert len(out.records("sessions")) == len(sim.data.sessions)
    assert [m["stream"] for m in out.messages if m["type"] == "SCHEMA"] == ["sessions"]
    assert drift_warnings(caplog) == []


# -- the check itself, on hand-made messages (nested drift the simulator does not serve) -----------------------
SCHEMA: dict[str, t.Any] = {
    "type": ["object"],
    "properties": {
        "id": {"type": ["string"]},
        "user": {"type": ["object", "null"], "properties": {"id": {"type": ["string"]}}},
        "tags": {"type": ["array", "null"], "items": {"type": ["object"], "properties": {"n": {"type": ["integer"]}}}},
    },
}


def _run(contract: str, records: list[dict[str, t.Any]]) -> tuple[list[t.Any], SchemaDrift]:
    sent: list[t.Any] = []
    drift = SchemaDrift(contract, logging.getLogger("test"))
    drift.write(SchemaMessage("s", json.loads(json.dumps(SCHEMA)), ["id"]), sent.append)
    for record in records:
        drift.write(RecordMessage("s", record), sent.append)
    drift.write(SchemaMessage("s", json.loads(json.dumps(SCHEMA)), ["id"]), sent.append)  # as a child stream repeats it
    return sent, drift


def _validate(sent: list[t.Any]) -> None:
    check: t.Any = None
    for message in sent:
        if isinstance(message, SchemaMessage):
            check = validator(message.schema)
        elif isinstance(message, RecordMessage):
            check.validate(json.loads(json.dumps(message.record, default=float)))


NESTED = [
    {"id": "a", "user": {"id": "u"}, "tags": [{"n": 1}]},
    {"id": "b", "user": {"id": "u", "team": "x"}, "tags": [{"n": "2"}, {"n": 2.5}, {"n": 3, "m": [1]}]},
    {"id": "c", "user": {"id": 7}, "tags": [{"n": 1}], "extra": [1, "two"]},
    {"id": "d", "user": {"id": "u"}, "tags": [{"n": 1}]},
]


def test_nested_drift_evolves_in_place() -> None:
    records = json.loads(json.dumps(NESTED))
    sent, drift = _run("evolve", records)
    _validate(sent)
    last = sent[-1].schema["properties"]
    assert last["user"]["properties"]["team"]["type"] == ["string", "null"]
    assert set(last["user"]["properties"]["id"]["type"]) == {"string", "number", "null"}, "inside an object the type widens"
    assert records[1]["tags"] == [{"n": 2}, {"n": Decimal("2.5")}, {"n": 3, "m": [1]}], '"2" coerced, 2.5 kept (widened)'
    assert set(last["extra"]["items"]["type"]) == {"number", "string", "null"}
    schemas = [m.schema for m in sent if isinstance(m, SchemaMessage)]
    assert schemas[-1] == schemas[-2], "a repeated SCHEMA is sent evolved"
    assert drift.shapes["s"].fits(NESTED[3]), "a known shape passes without a walk"


def test_nested_drift_discarded_or_frozen() -> None:
    records = json.loads(json.dumps(NESTED))
    sent, _ = _run("discard", records)
    _validate(sent)
    assert records[1] == {"id": "b", "user": {"id": "u"}, "tags": [{"n": 2}, {}, {"n": 3}]}
    assert records[2] == {"id": "c", "user": {}, "tags": [{"n": 1}]}
    with pytest.raises(SchemaDriftError, match=r"s: user\.team is not in the schema \(e\.g\. \"x\"\)"):
        _run("freeze", json.loads(json.dumps(NESTED)))


def test_a_child_stream_keeps_its_evolved_schema(make_sim: t.Callable[..., Simulator]) -> None:
    """session_details sends its SCHEMA once a run (not once per parent); the evolved one declares the variant column."""
    sim = make_sim(data=build(7, Counts.scaled(0.1)), drift=DRIFTED)
    out = run_tap(fast_config(sim), selected=["sessions", "session_details"])
    assert valid_against_latest_schema(out) == 2 * len(sim.data.sessions)
    repeats = [m["schema"] for m in out.messages if m["type"] == "SCHEMA" and m["stream"] == "session_details"]
    assert len(repeats) == 2  # the stream's, then the evolved one
    assert "score__v_string" in repeats[-1]["properties"]
    details = {r["id"]: r for r in out.records("session_details")}
    for session in sim.data.sessions:
        served = served_score(DRIFTED, session.id, session.score) if session.score is not None else None
        if isinstance(served, str) and served.endswith(" pts"):
            assert details[session.id]["score__v_string"] == served
        else:
            assert details[session.id]["score"] == session.score
