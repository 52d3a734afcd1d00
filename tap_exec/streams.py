"""One declarative class per Exec endpoint, grouped by domain; STREAM_TYPES is the registry."""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_exec.children import ExecChildStream, FetchFailuresStream, FetchLogStream
from tap_exec.client import ExecStream
from tap_exec.incremental import ExecIncrementalStream
from tap_exec.run.protocols import Touch

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


# -- workspace -----------------------------------------------------------------------------
class WorkspaceStream(ExecStream):
    """GET /workspace: the workspace itself, one record."""

    name = "workspace"
    path = "/workspace"
    paginated = False


class WorkspaceMembersStream(ExecStream):
    """GET /workspace/members: current members (flat, as the schema says)."""

    name = "workspace_members"
    path = "/workspace/members"

    @override
    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Accept the spec example's nested `user` shape too, flattening it to the schema's (id = user id)."""
        user = row.pop("user", None)
        if isinstance(user, dict):
            row.update({k: user.get(k) for k in ("id", "email", "first_name", "last_name")})
        return row


class WorkspaceGroupsStream(ExecStream):
    """GET /workspace/groups."""

    name = "workspace_groups"
    path = "/workspace/groups"


# -- practice (read before the scenarios and skills whose aggregates it changes) ----------------
class SessionsStream(ExecIncrementalStream):
    """GET /sessions: roleplay attempts with score and rank, oldest first from the bookmark."""

    name = "sessions"
    path = "/sessions"
    child_key = "session_id"
    replication_key = "created_at"
    params: t.ClassVar[dict[str, str]] = {"sorting": "created_at"}
    lower_param = "start_date"
    upper_param = "end_date"
    lookback_setting = "sessions_lookback_days"  # grading changes score/rank after creation (NOTES.md)
    reverse_params: t.ClassVar[dict[str, str]] = {"sorting": "-created_at"}  # history is read newest first
    version_fields = None  # the whole row: a late grade, a renamed scenario or user all change the detail too
    marks_deleted = True  # a session found deleted upstream (and its detail) is sent with `_sdc_deleted_at`


class SessionDetailsStream(ExecChildStream):
    """GET /sessions/{id}: feedback, transcript and evaluations of one session."""

    name = "session_details"
    path = "/sessions/{session_id}"
    parent_stream_type = SessionsStream
    params: t.ClassVar[dict[str, str]] = {"include": "transcript,evaluations"}
    paginated = False


# -- content -------------------------------------------------------------------------------
class CollectionsStream(ExecStream):
    """GET /collections: scenario collections, alphabetical."""

    name = "collections"
    path = "/collections"


class ScenariosStream(ExecStream):
    """GET /scenarios: archived ones too, with the skills each evaluates."""

    name = "scenarios"
    path = "/scenarios"
    params: t.ClassVar[dict[str, str]] = {"include_archived": "true", "include": "skills"}
    child_key = "scenario_id"  # analytics aggregate the scenario's sessions, not its row: only new ones count


class AssignmentsStream(ExecStream):
    """GET /scenarios/assignments."""

    name = "assignments"
    path = "/scenarios/assignments"


class ScenarioAnalyticsStream(ExecChildStream):
    """GET /scenarios/{id}/analytics/summary: one record per scenario."""

    name = "scenario_analytics"
    path = "/scenarios/{scenario_id}/analytics/summary"
    parent_stream_type = ScenariosStream
    primary_keys = ("scenario_id",)
    paginated = False
    aggregate = True
    touched_by = (Touch("sessions", "scenario.id"),)


class ScenarioParticipantsStream(ExecChildStream):
    """GET /scenarios/{id}/analytics/participants: one record per participant per scenario."""

    name = "scenario_participants"
    path = "/scenarios/{scenario_id}/analytics/participants"
    parent_stream_type = ScenariosStream
    primary_keys = ("scenario_id", "user_id")
    nested_keys: t.ClassVar[dict[str, tuple[str, ...]]] = {"user_id": ("user", "id")}
    aggregate = True
    touched_by = (Touch("sessions", "scenario.id"),)


# -- skills ------------------------------------------------------------------------------
class SkillsStream(ExecStream):
    """GET /skills: skills with their aggregate proficiency."""

    name = "skills"
    path = "/skills"
    params: t.ClassVar[dict[str, str]] = {"include": "proficiency"}
    child_key = "skill_id"
    version_fields = None  # `proficiency_summary` moves with members' proficiency, calls included


class SkillProficiencyStream(ExecChildStream):
    """GET /skills/{id}/proficiency: per-user proficiency in one skill."""

    name = "skill_proficiency"
    path = "/skills/{skill_id}/proficiency"
    parent_stream_type = SkillsStream
    primary_keys = ("skill_id", "user_id")
    nested_keys: t.ClassVar[dict[str, tuple[str, ...]]] = {"user_id": ("user", "id")}
    aggregate = True
    touched_by = (Touch("sessions", "scenario.id", via=("scenarios", "skills")),)  # skills the scenario evaluates


# -- knowledge hub -------------------------------------------------------------------------
class KnowledgeHubFoldersStream(ExecStream):
    """GET /knowledge-hub/folders: every folder (space), nested ones included."""

    name = "knowledge_hub_folders"
    path = "/knowledge-hub/folders"


class KnowledgeHubPagesStream(ExecIncrementalStream):
    """GET /knowledge-hub/pages: page metadata (the body is in knowledge_hub_page_contents), changed pages only."""

    name = "knowledge_hub_pages"
    path = "/knowledge-hub/pages"
    child_key = "page_id"
    replication_key = "updated_at"
    lower_param = "updated_after"
    upper_param = "updated_before"
    newest_first = True  # the API sorts pages by updated_at, newest first, and offers no other direction
    version_fields = ("updated_at",)
    # The list has "every non-archived page" (spec); archiving moves `updated_at` (simulator/data.py: archive_page),
    # so the pages archived since the bookmark are one more request, and land with status `archived`.
    also_read: t.ClassVar[tuple[dict[str, str], ...]] = ({"status": "archived"},)


class KnowledgeHubPageContentsStream(ExecChildStream):
    """GET /knowledge-hub/pages/{id}: markdown body, sources and draft of one page."""

    name = "knowledge_hub_page_contents"
    path = "/knowledge-hub/pages/{page_id}"
    parent_stream_type = KnowledgeHubPagesStream
    params: t.ClassVar[dict[str, str]] = {"include": "draft"}
    paginated = False
    # A page embeds a copy of each source it cites (`sources`); the list rows do not say which: the records do.
    touched_by = (Touch("knowledge_hub_sources", "id", embedded="sources"),)


class KnowledgeHubPageVersionsStream(ExecChildStream):
    """GET /knowledge-hub/pages/{id}/versions: a page's version history."""

    name = "knowledge_hub_page_versions"
    path = "/knowledge-hub/pages/{page_id}/versions"
    parent_stream_type = KnowledgeHubPagesStream
    primary_keys = ("page_id", "version")


class KnowledgeHubSourcesStream(ExecStream):
    """GET /knowledge-hub/sources: source metadata (the extracted text is in knowledge_hub_source_contents)."""

    name = "knowledge_hub_sources"
    path = "/knowledge-hub/sources"
    child_key = "source_id"
    version_fields = None  # the whole row: `status` and `processed_at` change without `updated_at`, and pages embed it


class KnowledgeHubSourceContentsStream(ExecChildStream):
    """GET /knowledge-hub/sources/{id}?include=content: a source with its extracted text."""

    name = "knowledge_hub_source_contents"
    path = "/knowledge-hub/sources/{source_id}"
    parent_stream_type = KnowledgeHubSourcesStream
    params: t.ClassVar[dict[str, str]] = {"include": "content"}
    paginated = False


#: The registry, in sync order: a list whose changes touch other streams' parents comes before them
#: (sessions before scenarios and skills; scenarios, which say which skills a session touches, before skills).
STREAM_TYPES: tuple[type[ExecStream], ...] = (
    WorkspaceStream,
    WorkspaceMembersStream,
    WorkspaceGroupsStream,
    SessionsStream,
    SessionDetailsStream,
    CollectionsStream,
    ScenariosStream,
    AssignmentsStream,
    ScenarioAnalyticsStream,
    ScenarioParticipantsStream,
    SkillsStream,
    SkillProficiencyStream,
    KnowledgeHubFoldersStream,
    KnowledgeHubPagesStream,
    KnowledgeHubPageContentsStream,
    KnowledgeHubPageVersionsStream,
    KnowledgeHubSourcesStream,
    KnowledgeHubSourceContentsStream,
    FetchLogStream,  # not an endpoint: when each parent's list was last fetched whole (children.py)
    FetchFailuresStream,  # not an endpoint: parents whose children keep failing (children.py)
)
