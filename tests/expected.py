"""What each stream should emit, read straight from the simulator's API (independently of the tap's code)."""

from __future__ import annotations

import json
import re
import typing as t

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator

# stream -> (endpoint, fixed query, parent stream, parent key, nested ids copied to the top level)
ENDPOINTS: dict[str, tuple[str, dict[str, str], str | None, str | None, tuple[str, ...]]] = {
    "workspace": ("/workspace", {}, None, None, ()),
    "workspace_members": ("/workspace/members", {}, None, None, ()),
    "workspace_groups": ("/workspace/groups", {}, None, None, ()),
    "collections": ("/collections", {}, None, None, ()),
    "scenarios": ("/scenarios", {"include_archived": "true", "include": "skills"}, None, None, ()),
    "assignments": ("/scenarios/assignments", {}, None, None, ()),
    "scenario_analytics": ("/scenarios/{}/analytics/summary", {}, "scenarios", "scenario_id", ()),
    "scenario_participants": ("/scenarios/{}/analytics/participants", {}, "scenarios", "scenario_id", ("user_id",)),
    "sessions": ("/sessions", {"sorting": "created_at"}, None, None, ()),
    "session_details": ("/sessions/{}", {"include": "transcript,evaluations"}, "sessions", "session_id", ()),
    "skills": ("/skills", {"include": "proficiency"}, None, None, ()),
    "skill_proficiency": ("/skills/{}/proficiency", {}, "skills", "skill_id", ("user_id",)),
    "knowledge_hub_folders": ("/knowledge-hub/folders", {}, None, None, ()),
    "knowledge_hub_pages": ("/knowledge-hub/pages", {}, None, None, ()),
    "knowledge_hub_page_contents": ("/knowledge-hub/pages/{}", {"include": "draft"}, "knowledge_hub_pages", "page_id", ()),
    "knowledge_hub_page_versions": ("/knowledge-hub/pages/{}/versions", {}, "knowledge_hub_pages", "page_id", ()),
    "knowledge_hub_sources": ("/knowledge-hub/sources", {}, None, None, ()),
    "knowledge_hub_source_contents": (
        "/knowledge-hub/sources/{}",
        {"include": "content"},
        "knowledge_hub_sources",
        "source_id",
        (),
    ),
}


#: Streams the tap writes itself, not endpoints (children.py).
TAP_WRITTEN = {"fetch_log", "fetch_failures"}
#: Per-parent lists: every row carries when its parent's list was fetched.
FETCHED_AT = "_exec_fetched_at"
LISTS = {"scenario_participants", "skill_proficiency", "knowledge_hub_page_versions"}


class Stamp:
    """Equal to any UTC date-time to the microsecond: the tap's `_exec_fetched_at`, which no API row can predict."""

    PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(self.PATTERN.match(other))

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<a fetch time>"


def without_marks(rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Rows less the tap's `_exec_fetched_at` (to compare as JSON text)."""
    return [{k: v for k, v in row.items() if k != FETCHED_AT} for row in rows]


#: Primary keys the simulator's rows are identified by (the tap's order is its own: lists first, then newest first).
KEYS: dict[str, tuple[str, ...]] = {
    "scenario_analytics": ("scenario_id",),
    "scenario_participants": ("scenario_id", "user_id"),
    "skill_proficiency": ("skill_id", "user_id"),
    "knowledge_hub_page_versions": ("page_id", "version"),
}


def by_key(stream: str, rows: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """`rows` in primary key order, so two streams' records compare whatever order they came in."""
    keys = KEYS.get(stream, ("id",))
    return sorted(rows, key=lambda row: tuple(str(row.get(k)) for k in keys))


def served(sim: Simulator, path: str, query: dict[str, str]) -> list[dict[str, t.Any]]:
    """Every row the simulator serves at `path` (all pages), as JSON would carry it."""
    status, body = sim.api.get(path, {**query, "page_size": "100"})
    assert status == 200, body
    if "data" not in body:
        return [json.loads(json.dumps(body))]
    rows = list(body["data"])
    for page in range(2, body["pagination"]["total_pages"] + 1):
        rows += sim.api.get(path, {**query, "page_size": "100", "page": str(page)})[1]["data"]
    return json.loads(json.dumps(rows))  # type: ignore[no-any-return]


def expected_records(sim: Simulator, stream: str) -> list[dict[str, t.Any]]:
    """The records `stream` must emit: the API's rows, plus the documented added keys."""
    path, query, parent, key, nested = ENDPOINTS[stream]
    if parent is None:
        return served(sim, path, query)
    rows = []
    for parent_row in expected_records(sim, parent):
        for row in served(sim, path.format(parent_row["id"]), query):
            row[str(key)] = parent_row["id"]
            if "user_id" in nested:
                row["user_id"] = row["user"]["id"]
            if stream in LISTS:
                row[FETCHED_AT] = Stamp()
            rows.append(row)
    return rows


# A per-parent request path (as the simulator logs it) -> its stream, from the endpoints' path templates.
_PER_PARENT_PATHS = [
    (re.compile("^/rest/v1" + path.replace("{}", "[^/]+") + "$"), name)
    for name, (path, _, parent, _, _) in ENDPOINTS.items()
    if parent
]


def per_parent_stream(path: str) -> str | None:
    """The per-parent stream a logged request path belongs to, or None for a list or single object."""
    return next((name for pattern, name in _PER_PARENT_PATHS if pattern.match(path)), None)
