"""Knowledge Hub over HTTP: archived pages land archived, and a changed source refreshes exactly the pages embedding it."""

from __future__ import annotations

import typing as t

import requests

from tap_exec.simulator import Counts, build
from tests.helpers import fast_config, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator import Dataset, Simulator

HUB = {
    "knowledge_hub_folders",
    "knowledge_hub_pages",
    "knowledge_hub_page_contents",
    "knowledge_hub_page_versions",
    "knowledge_hub_sources",
    "knowledge_hub_source_contents",
}
PAGES = "/rest/v1/knowledge-hub/pages"


def _data() -> Dataset:
    return build(31, Counts.scaled(0.2, pages=150, sources=40))


def _fetched(sim: Simulator, since: int, suffix: str = "") -> list[str]:
    """Page ids whose detail (`suffix` ''), or versions (`/versions`), the simulator answered after log position `since`."""
    out = []
    for path, _, _ in sim.stats.log[since:]:
        rest = path.removeprefix(PAGES + "/")
        if rest != path and rest.count("/") == suffix.count("/") and rest.endswith(suffix):
            out.append(rest.removesuffix(suffix))
    return out


def _sources_fetched(sim: Simulator, since: int) -> set[str]:
    prefix = "/rest/v1/knowledge-hub/sources/"
    return {path.removeprefix(prefix) for path, _, _ in sim.stats.log[since:] if path.startswith(prefix)}


def _list_queries(sim: Simulator, since: int) -> list[dict[str, str]]:
    return [dict(query) for path, query, _ in sim.stats.log[since:] if path == PAGES]


def _get(sim: Simulator, path: str, query: str = "") -> dict[str, t.Any]:
    response = requests.get(f"{sim.url}{path}?{query}", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_simulator_lists_archived_pages_only_when_asked(make_sim: Callable[..., Simulator]) -> None:
    """The spec: the list has every non-archived page; `status` filters on each of its three values."""
    data = _data()
    sim = make_sim(data=data)
    archived = data.archive_page(5)
    by_status = {s: {p["id"] for p in data.pages if p["status"] == s} for s in ("draft", "published", "archived")}
    assert by_status["archived"] == {archived["id"]}

    def ids(query: str) -> set[str]:
        return {row["id"] for row in _get(sim, "/knowledge-hub/pages", f"page_size=100&{query}")["data"]} | {
            row["id"] for row in _get(sim, "/knowledge-hub/pages", f"page_size=100&page=2&{query}")["data"]
        }

    assert ids("") == by_status["draft"] | by_status["published"]
    for status, expected in by_status.items():
        assert ids(f"status={status}") == expected, status
    assert ids(f"status=archived&updated_after={archived['updated_at']}") == {archived["id"]}
    detail = _get(sim, f"/knowledge-hub/pages/{archived['id']}")  # "its history is preserved"
    assert detail["status"] == "archived"
    assert _get(sim, f"/knowledge-hub/pages/{archived['id']}/versions")["data"]


def test_an_archived_page_lands_archived_with_its_contents(make_sim: Callable[..., Simulator]) -> None:
    """The next run reads the pages archived since the bookmark (one request) and refreshes their contents."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected=HUB)
    bookmark = first.last_state["bookmarks"]["knowledge_hub_pages"]["replication_key_value"]  # type: ignore[index]
    older = next(i for i, p in enumerate(data.pages) if p["status"] == "published" and p["updated_at"] < bookmark)
    archived = data.archive_page(older)
    mark = len(sim.stats.log)

    second = run_tap(config, selected=HUB, state=first.last_state)

    rows = {r["id"]: r for r in second.records("knowledge_hub_pages")}
    assert rows[archived["id"]]["status"] == "archived"
    assert rows[archived["id"]]["updated_at"] == archived["updated_at"]
    queries = _list_queries(sim, mark)
    assert len(queries) == 2  # the list since the bookmark, and the pages archived since it
    assert queries[0].get("updated_after") == queries[1].get("updated_after") == bookmark
    assert "status" not in queries[0]
    assert queries[1]["status"] == "archived"
    at_bookmark = {p["id"] for p in data.pages if p["updated_at"] == bookmark}  # listed again, already fetched
    assert not at_bookmark & {archived["id"]}
    assert _fetched(sim, mark) == [archived["id"]]
    assert _fetched(sim, mark, "/versions") == [archived["id"]]
    (contents,) = second.records("knowledge_hub_page_contents")
    assert (contents["page_id"], contents["status"]) == (archived["id"], "archived")

    mark = len(sim.stats.log)
    run_tap(config, selected=HUB, state=second.last_state)  # nothing changed: the archived page is not fetched again
    assert len(_list_queries(sim, mark)) == 2
    assert _fetched(sim, mark) == []
    assert _fetched(sim, mark, "/versions") == []


def _embedding(data: Dataset, source_id: str) -> set[str]:
    """Pages whose detail embeds the source, from the simulator's data."""
    return {p["id"] for p in data.pages if source_id in p["_sources"]}


def test_a_re_extracted_source_refreshes_exactly_the_pages_embedding_it(make_sim: Callable[..., Simulator]) -> None:
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected=HUB)
    embeds = first.last_state["bookmarks"]["knowledge_hub_page_contents"]["changes"]["embeds"]  # type: ignore[index]
    assert set(embeds) == {p["id"] for p in data.pages if p["_sources"]}  # only pages embedding a source are kept
    index = max(range(len(data.sources)), key=lambda i: len(_embedding(data, data.sources[i]["id"])))
    source = data.touch_source(index)
    expected = _embedding(data, source["id"])
    assert len(expected) >= 2
    mark = len(sim.stats.log)

    second = run_tap(config, selected=HUB, state=first.last_state)

    assert sorted(_fetched(sim, mark)) == sorted(expected)  # each once, no other page
    assert _fetched(sim, mark, "/versions") == []  # the versions do not embed sources
    assert _sources_fetched(sim, mark) == {source["id"]}
    for contents in second.records("knowledge_hub_page_contents"):
        (copy,) = (s for s in contents["sources"] if s["id"] == source["id"])
        assert copy["updated_at"] == source["updated_at"]


def test_a_source_whose_status_alone_changes_is_fetched_again_with_its_pages(make_sim: Callable[..., Simulator]) -> None:
    """Extraction finishing moves `status` and `processed_at`, not `updated_at`: the source is versioned on its whole row."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected=HUB)
    index = next(i for i, s in enumerate(data.sources) if s["status"] in {"pending", "processing"} and _embedding(data, s["id"]))
    updated_at = data.sources[index]["updated_at"]
    source = data.process_source(index)
    assert source["updated_at"] == updated_at
    mark = len(sim.stats.log)

    second = run_tap(config, selected=HUB, state=first.last_state)

    assert _sources_fetched(sim, mark) == {source["id"]}
    (contents,) = second.records("knowledge_hub_source_contents")
    assert (contents["status"], contents["processed_at"]) == ("ready", source["processed_at"])
    assert contents["content"] is not None
    assert sorted(_fetched(sim, mark)) == sorted(_embedding(data, source["id"]))
    for page in second.records("knowledge_hub_page_contents"):
        assert next(s for s in page["sources"] if s["id"] == source["id"])["status"] == "ready"


def test_a_page_that_stops_citing_a_source_is_no_longer_refreshed_for_it(make_sim: Callable[..., Simulator]) -> None:
    """What a page embeds is what its last contents listed: the memory follows the page, and holds no page without one."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    first = run_tap(config, selected=HUB)
    index = next(i for i, p in enumerate(data.pages) if len(p["_sources"]) == 1)
    (cited,) = data.pages[index]["_sources"]
    data.pages[index].update(_sources=[], source_count=0)
    page = data.touch_page(index)
    second = run_tap(config, selected=HUB, state=first.last_state)
    embeds = second.last_state["bookmarks"]["knowledge_hub_page_contents"]["changes"]["embeds"]  # type: ignore[index]
    assert set(embeds) == {p["id"] for p in data.pages if p["_sources"]}
    data.touch_source(next(i for i, s in enumerate(data.sources) if s["id"] == cited))
    mark = len(sim.stats.log)

    run_tap(config, selected=HUB, state=second.last_state)

    assert page["id"] not in _fetched(sim, mark)
    assert sorted(_fetched(sim, mark)) == sorted(_embedding(data, cited))


def _every_page(data: Dataset) -> list[str]:
    """Every page the API has, archived ones included, from the simulator's data."""
    return sorted(p["id"] for p in data.pages)


def test_page_streams_selected_after_the_pages_fetch_every_page_once(make_sim: Callable[..., Simulator]) -> None:
    """The pages list reads only what changed since its bookmark: a newly selected child reads it whole once."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    lists = HUB - {"knowledge_hub_page_contents", "knowledge_hub_page_versions"}
    state = run_tap(config, selected=lists).last_state
    data.archive_page(3)
    edited = data.touch_page(7)
    sim.advance(5)  # the simulator stamps edits in quick succession a second apart: keep them in the API's past
    state = run_tap(config, selected=lists, state=state).last_state
    mark = len(sim.stats.log)

    second = run_tap(config, selected=HUB, state=state)

    assert sorted(_fetched(sim, mark)) == _every_page(data)  # each page once, archived ones included
    assert sorted(_fetched(sim, mark, "/versions")) == _every_page(data)
    assert {r["page_id"] for r in second.records("knowledge_hub_page_contents")} == set(_every_page(data))
    data.touch_page(9)
    sim.advance(5)
    mark = len(sim.stats.log)
    run_tap(config, selected=HUB, state=second.last_state)  # then back to the pages that changed
    assert _fetched(sim, mark) == _fetched(sim, mark, "/versions") == [data.pages[9]["id"]]
    assert edited["id"] != data.pages[9]["id"]


def test_a_newly_selected_child_owes_no_other_child_for_old_pages(make_sim: Callable[..., Simulator]) -> None:
    """Reading the pages list whole for contents' first pass does not make every page's versions owed again."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    without = HUB - {"knowledge_hub_page_contents"}
    state = run_tap(config, selected=without).last_state
    mark = len(sim.stats.log)
    run_tap(config, selected=HUB, state=state)
    assert sorted(_fetched(sim, mark)) == _every_page(data)
    assert _fetched(sim, mark, "/versions") == []


def test_a_state_without_the_embeds_memory_rebuilds_it(make_sim: Callable[..., Simulator]) -> None:
    """An upgrade from a tap-exec that kept no `embeds`: one full pass, then a changed source reaches every page citing it."""
    data = _data()
    sim = make_sim(data=data)
    config = fast_config(sim)
    state = run_tap(config, selected=HUB).last_state
    del state["bookmarks"]["knowledge_hub_page_contents"]["changes"]["embeds"]  # type: ignore[index]
    mark = len(sim.stats.log)
    state = run_tap(config, selected=HUB, state=state).last_state
    assert sorted(_fetched(sim, mark)) == _every_page(data)
    index = max(range(len(data.sources)), key=lambda i: len(_embedding(data, data.sources[i]["id"])))
    source = data.touch_source(index)
    mark = len(sim.stats.log)
    run_tap(config, selected=HUB, state=state)
    assert sorted(_fetched(sim, mark)) == sorted(_embedding(data, source["id"]))
