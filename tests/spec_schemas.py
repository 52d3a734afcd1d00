"""Derive each stream's JSON Schema from the Exec OpenAPI spec, to prove the shipped files match it."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "spec" / "exec-openapi.yml"

# stream name -> (component schema, fields the tap adds to every record)
STREAM_COMPONENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "workspace": ("Workspace", ()),
    "workspace_members": ("WorkspaceMember", ()),
    "workspace_groups": ("WorkspaceGroup", ()),
    "collections": ("Collection", ()),
    "scenarios": ("Scenario", ()),
    "assignments": ("Assignment", ()),
    "sessions": ("SessionListItem", ()),
    "session_details": ("SessionDetail", ("session_id",)),
    "skills": ("Skill", ()),
    "skill_proficiency": ("SkillProficiencyEntry", ("skill_id", "user_id")),
    "scenario_analytics": ("ScenarioAnalyticsSummary", ("scenario_id",)),
    "scenario_participants": ("ScenarioParticipantEntry", ("scenario_id", "user_id")),
    "knowledge_hub_folders": ("KnowledgeHubFolder", ()),
    "knowledge_hub_pages": ("KnowledgeHubPage", ()),
    "knowledge_hub_page_contents": ("KnowledgeHubPageDetail", ("page_id",)),
    "knowledge_hub_page_versions": ("KnowledgeHubPageVersion", ("page_id",)),
    "knowledge_hub_sources": ("KnowledgeHubSource", ()),
    "knowledge_hub_source_contents": ("KnowledgeHubSource", ("source_id",)),
}
# Per-parent lists: the tap adds when the parent's list was fetched (children.py).
FETCH_MARKED = {"scenario_participants", "skill_proficiency", "knowledge_hub_page_versions"}
# Streams whose rows found deleted upstream are sent with `_sdc_deleted_at` (incremental.py).
DELETION_MARKED = {"sessions", "session_details"}
# Fields a list never returns: "List rows are metadata only — pass `?include=content` on the detail endpoint".
OMITTED: dict[str, tuple[str, ...]] = {"knowledge_hub_sources": ("content",)}


def load_spec(path: Path = SPEC_PATH) -> dict[str, t.Any]:
    """Read the OpenAPI document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def to_json_schema(node: dict[str, t.Any], components: dict[str, t.Any]) -> dict[str, t.Any]:
    """Translate one OpenAPI schema node into the JSON Schema the tap ships (types only)."""
    nullable = bool(node.get("nullable"))
    if "$ref" in node:
        target = components[node["$ref"].rsplit("/", 1)[1]]
        out = to_json_schema(target, components)
    elif "allOf" in node:
        merged: dict[str, t.Any] = {}
        for part in node["allOf"]:
            merged.update(to_json_schema(part, components)["properties"])
        out = {"type": ["object"], "properties": merged}
    elif node.get("type") == "object":
        props = node.get("properties", {})
        out = {"type": ["object"], "properties": {k: to_json_schema(v, components) for k, v in props.items()}}
    elif node.get("type") == "array":
        out = {"type": ["array"], "items": to_json_schema(node["items"], components)}
    else:
        out = {"type": [node["type"]]}
        if node.get("format") == "date-time":
            out["format"] = "date-time"
    if nullable and "null" not in out["type"]:
        out = {**out, "type": [*out["type"], "null"]}
    return out


def strip_descriptions(schema: t.Any) -> t.Any:
    """Drop `description` annotations so two schemas compare on structure alone."""
    if isinstance(schema, dict):
        return {
            k: ({pk: strip_descriptions(pv) for pk, pv in v.items()} if k == "properties" else strip_descriptions(v))
            for k, v in schema.items()
            if k != "description"
        }
    if isinstance(schema, list):
        return [strip_descriptions(x) for x in schema]
    return schema


def expected_stream_schema(stream: str, spec: dict[str, t.Any]) -> dict[str, t.Any]:
    """The spec's component for `stream`, plus the string keys the tap adds."""
    components = spec["components"]["schemas"]
    component, added = STREAM_COMPONENTS[stream]
    schema = to_json_schema(components[component], components)
    schema["type"] = ["object"]
    for field in added:
        schema["properties"][field] = {"type": ["string"]}
    if stream in DELETION_MARKED:
        schema["properties"]["_sdc_deleted_at"] = {"type": ["string", "null"], "format": "date-time"}
    if stream in FETCH_MARKED:
        schema["properties"]["_exec_fetched_at"] = {"type": ["string"], "format": "date-time"}
    for field in OMITTED.get(stream, ()):
        del schema["properties"][field]
    return schema
