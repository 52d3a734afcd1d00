"""Knowledge Hub over HTTP: archived pages land archived, and a changed source refreshes exactly the pages embedding it."""

from __future__ import annotations

import typing as t

import requests

from tap_exec.simulator import Counts, build

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
