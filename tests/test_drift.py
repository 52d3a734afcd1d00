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

from tap_exec.drift import CONTRACTS, SchemaDrift
from tap_exec.errors import EXIT_FAILED, SchemaDriftError
from tap_exec.simulator.data import Counts
from tap_exec.simulator.drift import ApiDrift, extra_value, served_score
from tap_exec.simulator.seed import build
from tests.helpers import Output, catalog_for, fast_config, recent, run_cli, run_tap, write_json

if t.TYPE_CHECKING:
    from pathlib import Path

    from tap_exec.simulator import Simulator

STREAMS = ("sessions", "collections", "scenarios")  # in sync order
DRIFTED = ApiDrift(tuple(f"{s}.sentiment" for s in STREAMS), string_scores=True, text_scores=True)
TEXTS = ApiDrift(text_scores=True, assignment_scores=True)  # one graded score in four as text, the rest as numbers


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


def loaded(records: t.Iterable[dict[str, t.Any]], rows: dict[str, dict[str, t.Any]] | None = None) -> dict[str, dict[str, t.Any]]:
    """Rows as target-postgres and target-duckdb leave them (issue 24): each record upserts the columns it carries."""
    rows = {} if rows is None else rows
    for record in records:
        rows.setdefault(record["id"], {}).update(record)
    return rows


def as_text(drift: ApiDrift, row_id: str, score: float | None) -> bool:
    """Whether the drifted API serves this score as text that is no number ("48.3 pts")."""
    return score is not None and str(served_score(drift, row_id, score)).endswith(" pts")


def drift_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "Schema drift" in r.getMessage()]


def _killed_after_first(out: Output, field: str) -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
    """A kill right after the first record carrying `field`: the last STATE before it, and the records that landed."""
    at = next(n for n, m in enumerate(out.messages) if m["type"] == "RECORD" and field in m["record"])
    kept = [m["value"] for m in out.messages[:at] if m["type"] == "STATE"][-1]
    return kept, [m["record"] for m in out.messages[: at + 1] if m["type"] == "RECORD"]


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
            assert record["score"] is None, "null in its own column: the row keeps no older score"
            assert record["score__v_string"] == served, "the text that is no number is kept as served"
        else:
            assert record["score"] == session.score, "the numeric string lands as the number"
            assert isinstance(record["score"], float)
    assert texts > 100
    emitted = out.records("sessions")
    first = next(n for n, r in enumerate(emitted) if "score__v_string" in r)
    assert all(r["score__v_string"] is None for r in emitted[first:] if r["score"] is not None), (
        "once declared, the variant column is null in every record whose score fits"
    )

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


def test_a_whole_number_in_an_integer_column_and_an_undeclared_list_of_objects() -> None:
    """4.0 where the schema says integer lands as 4; a new list whose objects differ lands with every key declared."""
    records = [{"id": "e", "user": {"id": "u"}, "tags": [{"n": 4.0}], "notes": [{"a": 1}, {"b": "x"}]}]
    sent, _ = _run("evolve", records)
    _validate(sent)
    assert records[0]["tags"] == [{"n": 4}]
    assert type(records[0]["tags"][0]["n"]) is int
    items = sent[-1].schema["properties"]["notes"]["items"]
    assert set(items["properties"]) == {"a", "b"}


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
    assert drift.shapes["s"].fits(json.loads(json.dumps(NESTED[3]))), "a known shape passes without a walk"
    assert not [k for r in records for k in r if "__v_" in k], "nested, the type widens: the JSON column is sent whole"
    assert drift.columns == {"s": {"extra": "array"}}, "only the top-level new field is remembered"
    assert records[3]["extra"] is None, "and sent null in a later record lacking it"


def test_nested_drift_discarded_or_frozen() -> None:
    records = json.loads(json.dumps(NESTED))
    sent, _ = _run("discard", records)
    _validate(sent)
    assert records[1] == {"id": "b", "user": {"id": "u"}, "tags": [{"n": 2}, {}, {"n": 3}]}
    assert records[2] == {"id": "c", "user": {}, "tags": [{"n": 1}]}
    with pytest.raises(SchemaDriftError, match=r"s: user\.team is not in the schema \(e\.g\. \"x\"\)"):
        _run("freeze", json.loads(json.dumps(NESTED)))


def test_remembered_variant_columns_whatever_the_contract(caplog: pytest.LogCaptureFixture) -> None:
    """The state's variant columns are declared in the first SCHEMA and sent null (discard and freeze too).

    What is not a stream's list of variant column names is dropped with one warning.
    """
    caplog.set_level(logging.WARNING)
    for contract in CONTRACTS:
        state: dict[str, t.Any] = {"variant_columns": {"s": ["id__v_integer", "tags__v_unknown", 7], "t": "tags__v_string"}}
        sent: list[t.Any] = []
        drift = SchemaDrift(contract, logging.getLogger("test"), state)
        drift.write(SchemaMessage("s", json.loads(json.dumps(SCHEMA)), ["id"]), sent.append)
        drift.write(RecordMessage("s", {"id": "a", "user": None}), sent.append)
        drift.write(RecordMessage("s", {"id": "b", "user": None}), sent.append)  # a known shape
        drift.write(RecordMessage("s", {"user": None}), sent.append)  # no `id`: its variant is not this record's
        assert state == {"added_columns": {"s": {"id__v_integer": "integer"}}}, contract
        assert sent[0].schema["properties"]["id__v_integer"] == {"type": ["number", "null"]}
        assert [m.record for m in sent[1:]] == [
            {"id": "a", "user": None, "id__v_integer": None},
            {"id": "b", "user": None, "id__v_integer": None},
            {"user": None},
        ]
        _validate(sent)
    assert len([r for r in caplog.records if "added_columns" in r.getMessage()]) == len(CONTRACTS)


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


# -- a variant column keeps no older value (issue 24) ------------------------------------------------------------
def test_a_variant_column_goes_null_in_a_later_run(make_sim: t.Callable[..., Simulator]) -> None:
    """A new process, told by the state, declares a variant column and sends it null where the value fits again.

    Run 1 lands some scores as text (`score__v_string`); run 2, with run 1's state, reads the same rows again (the
    lookback window) served as numbers. Run 2 also starts from the last STATE before the first record carrying the
    column, as after a kill right after that record.
    """
    sim = make_sim(data=recent(build(7, Counts.scaled(0.1)), within=2 * 86_400), drift=TEXTS)  # inside the lookback
    config = fast_config(sim)
    first = run_tap(config, selected=["sessions"])
    texts = {s.id for s in sim.data.sessions if as_text(TEXTS, s.id, s.score)}
    assert len(texts) > 20
    kept, landed_at_kill = _killed_after_first(first, "score__v_string")
    assert kept["added_columns"] == {"sessions": {"score__v_string": "string"}}, "remembered before the first record carrying it"
    assert first.last_state is not None
    assert first.last_state["added_columns"] == {"sessions": {"score__v_string": "string"}}

    sim.api.drift = ApiDrift()  # the API serves every score as a number again
    for state, landed in ((first.last_state, first.records("sessions")), (kept, landed_at_kill)):
        second = run_tap(config, selected=["sessions"], state=state)
        assert valid_against_latest_schema(second) == len(sim.data.sessions), "every row read again"
        schema = next(m["schema"] for m in second.messages if m["type"] == "SCHEMA")
        assert schema["properties"]["score__v_string"]["type"] == ["string", "null"], "declared before any record"
        assert all(r["score__v_string"] is None for r in second.records("sessions"))
        rows = loaded(second.records("sessions"), loaded(landed))
        assert texts & {r["id"] for r in landed}, "the loader had text in score__v_string"
        for session in sim.data.sessions:
            assert rows[session.id]["score"] == session.score
            assert rows[session.id]["score__v_string"] is None, "no row keeps the text beside its score"


def test_a_variant_column_goes_null_when_the_run_reads_the_row_again(make_sim: t.Callable[..., Simulator]) -> None:
    """One run sends a variant column null in a row it reads again, once the value fits.

    Assignments' page 1 has scores as text; then the API serves numbers and the list moves (a row removed), so the
    run reads it again from page 1.
    """
    sim = make_sim(drift=TEXTS)
    page_one = sim.data.assignments[:100]  # page_size 100
    texts = {a["id"] for a in page_one if as_text(TEXTS, a["id"], a["best_score"])}
    assert len(texts) > 5

    def api_changes(data: t.Any) -> None:
        sim.api.drift = ApiDrift()
        data.assignments.pop(0)

    sim.schedule(2, api_changes)  # before page 2 is served
    out = run_tap(fast_config(sim), selected=["assignments"])
    valid_against_latest_schema(out)
    records = out.records("assignments")
    assert {r["id"] for r in records if r.get("best_score__v_string")} == texts, "page 1 landed the text"
    assert all(r["best_score"] is None for r in records if r.get("best_score__v_string")), "and null beside it"
    rows = loaded(records)
    for assignment in sim.data.assignments:
        assert rows[assignment["id"]]["best_score"] == assignment["best_score"]
        assert rows[assignment["id"]]["best_score__v_string"] is None, "read again: the text is gone"


def test_a_variant_column_goes_null_when_the_score_becomes_text(make_sim: t.Callable[..., Simulator]) -> None:
    """The other way round: a score landed as a number, then served as text, leaves no number beside the text."""
    sim = make_sim(data=recent(build(7, Counts.scaled(0.1)), within=2 * 86_400))
    config = fast_config(sim)
    first = run_tap(config, selected=["sessions"])
    sim.api.drift = TEXTS
    second = run_tap(config, selected=["sessions"], state=first.last_state)
    rows = loaded(second.records("sessions"), loaded(first.records("sessions")))
    texts = [s for s in sim.data.sessions if as_text(TEXTS, s.id, s.score)]
    assert texts
    for session in texts:
        assert rows[session.id]["score"] is None
        assert rows[session.id]["score__v_string"] == f"{session.score} pts"


def test_an_integral_value_in_a_number_column_passes_unchanged(
    make_sim: t.Callable[..., Simulator], caplog: pytest.LogCaptureFixture
) -> None:
    sim = make_sim(data=build(7, Counts.scaled(0.1)))
    graded = [s for s in sim.data.sessions if s.score is not None]
    graded[0].score = 12  # JSON 12 in `score`, whose type is number
    graded[1].score = 80.0  # JSON 80.0
    caplog.set_level(logging.WARNING)
    out = run_tap(fast_config(sim), selected=["sessions"])
    records = {r["id"]: r for r in out.records("sessions")}
    assert records[graded[0].id]["score"] == 12
    assert type(records[graded[0].id]["score"]) is int, "unchanged, not made a decimal"
    assert records[graded[1].id]["score"] == 80
    assert not [k for r in records.values() for k in r if "__v_" in k], "no variant column"
    assert [m["stream"] for m in out.messages if m["type"] == "SCHEMA"] == ["sessions"], "the schema never changes"
    assert drift_warnings(caplog) == []
    assert "added_columns" not in (out.last_state or {})


def test_a_scalar_array_whose_element_type_changes(
    make_sim: t.Callable[..., Simulator], caplog: pytest.LogCaptureFixture
) -> None:
    """An undeclared array field: strings first, then integers, then both; every value lands as served."""
    sim = make_sim()
    served = {0: ["a"], 1: [1], 2: ["b", 2], 3: [], 4: ["c"]}
    for n, tags in served.items():
        sim.data.collections[n]["tags"] = tags
    caplog.set_level(logging.WARNING)
    out = run_tap(fast_config(sim), selected=["collections"])
    assert valid_against_latest_schema(out) == len(sim.data.collections)
    records = {r["id"]: r for r in out.records("collections")}
    for n, tags in served.items():
        assert records[sim.data.collections[n]["id"]]["tags"] == tags, n
    schemas = [m["schema"]["properties"].get("tags") for m in out.messages if m["type"] == "SCHEMA"]
    assert schemas[-1] == {"type": ["array", "null"], "items": {"type": ["string", "number", "null"]}}
    assert not [k for r in records.values() for k in r if "__v_" in k], "inside an array column the type widens"
    warnings = drift_warnings(caplog)
    assert len(warnings) == 2, warnings  # the new field, then its elements' wider type
    assert "tags[] is integer where the schema says null/string (e.g. 1); type widened to null/number/string" in warnings[1]


# -- a field evolve added keeps no older value once the API stops serving it ------------------------------------
NOTED = ApiDrift(("scenarios.extra_note",))


def test_an_added_field_goes_null_in_a_later_run(make_sim: t.Callable[..., Simulator]) -> None:
    """Run 1 lands an undocumented field; the API stops serving it; run 2, with run 1's state, declares it and sends it null.

    Run 2 also starts from the last STATE before the first record carrying the field, as after a kill right after it.
    """
    sim = make_sim(data=build(7, Counts.scaled(0.1)), drift=NOTED)
    config = fast_config(sim)
    first = run_tap(config, selected=["scenarios"])
    ids = [s["id"] for s in sim.data.scenarios]
    assert {r["id"]: r["extra_note"] for r in first.records("scenarios")} == {i: extra_value(i) for i in ids}
    kept, landed_at_kill = _killed_after_first(first, "extra_note")
    assert kept["added_columns"] == {"scenarios": {"extra_note": "object"}}, "remembered before the first record carrying it"
    assert first.last_state is not None
    assert first.last_state["added_columns"] == {"scenarios": {"extra_note": "object"}}
    assert landed_at_kill[-1]["extra_note"] == extra_value(landed_at_kill[-1]["id"])

    sim.api.drift = ApiDrift()  # the API no longer serves the field
    for state, landed in ((first.last_state, first.records("scenarios")), (kept, landed_at_kill)):
        second = run_tap(config, selected=["scenarios"], state=state)
        assert valid_against_latest_schema(second) == len(ids), "every row read again"
        schemas = [m["schema"] for m in second.messages if m["type"] == "SCHEMA"]
        assert len(schemas) == 1, "declared in the stream's first SCHEMA, before any record; never changed"
        assert schemas[0]["properties"]["extra_note"] == {"type": ["object", "null"]}
        assert all(r["extra_note"] is None for r in second.records("scenarios"))
        assert second.last_state is not None
        assert second.last_state["added_columns"] == {"scenarios": {"extra_note": "object"}}, "never pruned"
        rows = loaded(second.records("scenarios"), loaded(landed))
        assert any(landed), "the loader had the field"
        for scenario_id in ids:
            assert rows[scenario_id]["extra_note"] is None, "no row keeps the value the API no longer has"

    sim.api.drift = NOTED  # served again: lands as it is, in the column it had
    third = run_tap(config, selected=["scenarios"], state=first.last_state)
    valid_against_latest_schema(third)
    assert {r["id"]: r["extra_note"] for r in third.records("scenarios")} == {i: extra_value(i) for i in ids}


def test_remembered_fields_whatever_the_contract(caplog: pytest.LogCaptureFixture) -> None:
    """A remembered field is declared in the first SCHEMA and sent null where a record lacks it (discard, freeze too).

    A former state's `variant_columns` is read into `added_columns`; a deletion record (its key only) is left as it
    is; what is not a column name with its JSON type is dropped with one warning.
    """
    caplog.set_level(logging.WARNING)
    for contract in CONTRACTS:
        state: dict[str, t.Any] = {
            "added_columns": {"s": {"note": "object", "tags__v_string": "string"}},
            "variant_columns": {"s": ["id__v_integer"]},
        }
        sent: list[t.Any] = []
        drift = SchemaDrift(contract, logging.getLogger("test"), state)
        schema = json.loads(json.dumps(SCHEMA))
        schema["properties"]["_sdc_deleted_at"] = {"type": ["string", "null"]}
        drift.write(SchemaMessage("s", schema, ["id"]), sent.append)
        drift.write(RecordMessage("s", {"id": "a"}), sent.append)
        drift.write(RecordMessage("s", {"id": "b"}), sent.append)  # a known shape
        drift.write(RecordMessage("s", {"id": "c", "note": {"k": [1]}, "tags": None}), sent.append)  # served again
        drift.write(RecordMessage("s", {"id": "d", "_sdc_deleted_at": "2024-01-01"}), sent.append)
        assert state == {"added_columns": {"s": {"note": "object", "tags__v_string": "string", "id__v_integer": "integer"}}}, (
            contract
        )
        props = sent[0].schema["properties"]
        assert (props["note"], props["id__v_integer"]) == ({"type": ["object", "null"]}, {"type": ["number", "null"]})
        assert [m.record for m in sent[1:]] == [
            {"id": "a", "note": None, "id__v_integer": None},
            {"id": "b", "note": None, "id__v_integer": None},
            {"id": "c", "note": {"k": [1]}, "tags": None, "id__v_integer": None, "tags__v_string": None},
            {"id": "d", "_sdc_deleted_at": "2024-01-01", "id__v_integer": None},
        ], contract
    assert not [r for r in caplog.records if "added_columns" in r.getMessage()], "a former state is no mistake"

    state = {"added_columns": {"s": {"note": "object", "x": "date", "y__v_string": "integer", "": "string"}, "t": ["z"]}}
    drift = SchemaDrift("evolve", logging.getLogger("test"), state)
    assert state == {"added_columns": {"s": {"note": "object"}}} == {"added_columns": drift.columns}
    assert len([r for r in caplog.records if "added_columns" in r.getMessage()]) == 1
