"""Every stream emits exactly what the API served, with the documented keys added; discovery is complete."""

from __future__ import annotations

import typing as t

import pytest

from tap_exec.simulator import Counts, build
from tap_exec.tap import TapExec
from tests.expected import ENDPOINTS, TAP_WRITTEN, by_key, expected_records, per_parent_stream
from tests.helpers import catalog_for, fast_config, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.client import ExecStream
    from tap_exec.simulator import Simulator

PER_PARENT = {
    "scenario_analytics",
    "scenario_participants",
    "session_details",
    "skill_proficiency",
    "knowledge_hub_page_contents",
    "knowledge_hub_page_versions",
    "knowledge_hub_source_contents",
}


@pytest.fixture(scope="module")
def everything() -> tuple[Simulator, t.Any]:
    """One sync of every stream against a small workspace."""
    from tap_exec.simulator import Simulator

    sim = Simulator(build(11, Counts.scaled(0.3, sessions=250))).start()
    try:
        out = run_tap(fast_config(sim), selected=ENDPOINTS)
    finally:
        sim.stop()
    return sim, out


@pytest.mark.parametrize("stream", sorted(ENDPOINTS))
def test_records_equal_served_rows(everything: tuple[Simulator, t.Any], stream: str) -> None:
    sim, out = everything
    expected = expected_records(sim, stream)
    assert expected, f"the simulator should serve {stream}"
    records = out.records(stream)
    assert by_key(stream, records) == by_key(stream, expected)
    assert len(records) == len(expected), "no record twice"


def test_discovery_lists_every_stream_with_keys_and_default_selection(config: dict[str, t.Any]) -> None:
    catalog = catalog_for(config)
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    assert set(entries) == set(ENDPOINTS) | TAP_WRITTEN
    keys = {name: tuple(e["key_properties"]) for name, e in entries.items()}
    assert keys["scenario_participants"] == ("scenario_id", "user_id")
    assert keys["skill_proficiency"] == ("skill_id", "user_id")
    assert keys["knowledge_hub_page_versions"] == ("page_id", "version")
    assert keys["scenario_analytics"] == ("scenario_id",)
    assert all(keys[name] == ("id",) for name in set(ENDPOINTS) - PER_PARENT - {"scenario_analytics"} if name not in PER_PARENT)
    for name, entry in entries.items():
        top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        assert top["selected-by-default"] is (name not in PER_PARENT), name
        for key in keys[name]:
            assert key in entry["schema"]["properties"]


def test_default_run_skips_per_parent_streams(sim: Simulator, config: dict[str, t.Any]) -> None:
    out = run_tap(config)
    assert out.streams() == set(ENDPOINTS) - PER_PARENT
    assert not [p for p in sim.stats.paths() if per_parent_stream(p)]


def test_default_run_on_a_large_workspace_stays_under_200_requests(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(data=build(5, Counts.scaled(1, scenarios=200, sessions=10_000, pages=100)))
    run_tap(fast_config(sim))
    assert sim.stats.requests < 200
    assert sim.stats.paths().count("/rest/v1/sessions") == 100 + 1  # the last week first, then history newest first


def test_child_records_carry_their_parent_key(config: dict[str, t.Any]) -> None:
    out = run_tap(config, selected={"skills", "skill_proficiency"})
    skill_ids = {s["id"] for s in out.records("skills")}
    rows = out.records("skill_proficiency")
    assert rows
    assert {r["skill_id"] for r in rows} <= skill_ids
    assert all(r["user_id"] == r["user"]["id"] for r in rows)


def test_child_404_for_a_deleted_parent_is_skipped_with_a_warning(
    sim: Simulator, config: dict[str, t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    victim = sim.data.pages[0]
    # The page disappears after the list is read (first request) and before its detail is fetched.
    sim.schedule(2, lambda data: data.pages.remove(victim))
    out = run_tap(config, selected={"knowledge_hub_pages", "knowledge_hub_page_contents"})
    contents = out.records("knowledge_hub_page_contents")
    assert len(contents) == len(sim.data.pages)
    assert victim["id"] not in {c["id"] for c in contents}
    assert any(victim["id"] in r.getMessage() and "no longer exists" in r.getMessage() for r in caplog.records)


def test_members_in_the_nested_example_shape_are_flattened(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(members_shape="nested")
    out = run_tap(fast_config(sim), selected={"workspace_members"})
    assert out.records("workspace_members") == [
        {k: m[k] for k in ("id", "email", "first_name", "last_name", "role", "created_at")} for m in sim.data.members
    ]


def test_every_schema_property_is_typed(config: dict[str, t.Any]) -> None:
    tap = TapExec(config=config, validate_config=False)
    for stream in tap.streams.values():
        for name, prop in stream.schema["properties"].items():
            assert "type" in prop, f"{stream.name}.{name}"


def test_the_user_agent_names_the_version_in_use_and_is_read_once_per_stream(
    make_sim: Callable[..., Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tap-exec/<version>` (or the `user_agent` setting); the version comes from package metadata once per stream.

    Reading it per request cost ~2.7 ms of CPU a request (issue 20).
    """
    sim = make_sim(data=build(3, Counts.scaled(0.1, sessions=250)))
    for settings, agent in (({}, f"tap-exec/{TapExec.plugin_version}"), ({"user_agent": "acme-etl/2"}, "acme-etl/2")):
        stream = TapExec(config=fast_config(sim, **settings), setup_mapper=False).streams["sessions"]
        assert t.cast("ExecStream", stream).http_headers["User-Agent"] == agent

    reads: list[str] = []
    read_version = TapExec.get_plugin_version

    def counted(cls: type[TapExec]) -> str:
        reads.append(cls.name)
        return read_version()

    monkeypatch.setattr(TapExec, "get_plugin_version", classmethod(counted))
    out = run_tap(fast_config(sim, page_size=10), selected={"sessions", "workspace_members"})
    assert len(out.records("sessions")) == 250
    assert sim.stats.requests >= 25 + 1
    assert len(reads) <= 2, f"{len(reads)} metadata reads for {sim.stats.requests} requests"
