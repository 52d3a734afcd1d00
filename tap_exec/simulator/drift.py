"""API changes the spec does not describe yet, served on request (tests and the demo of schema drift); all off by default."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

#: Stream name -> list endpoint, for `--extra-field STREAM.FIELD`.
LIST_PATHS = {
    "workspace_members": "/workspace/members",
    "workspace_groups": "/workspace/groups",
    "sessions": "/sessions",
    "collections": "/collections",
    "scenarios": "/scenarios",
    "assignments": "/scenarios/assignments",
    "skills": "/skills",
    "knowledge_hub_folders": "/knowledge-hub/folders",
    "knowledge_hub_pages": "/knowledge-hub/pages",
    "knowledge_hub_sources": "/knowledge-hub/sources",
}
SESSION_PATH = re.compile(r"/sessions(/[^/]+)?")
ASSIGNMENTS_PATH = "/scenarios/assignments"
LABELS = ("positive", "neutral", "negative")


@dataclass(frozen=True)
class ApiDrift:
    """What the simulated API serves beyond (or against) the spec."""

    #: `stream.field` pairs: every row of that list gets an undocumented object field (`extra_value`).
    extra_fields: tuple[str, ...] = ()
    #: Sessions' `score` (list and detail) as a numeric string, "48.3": a changed type a tap can coerce.
    string_scores: bool = False
    #: One graded session in four has its `score` as text that is no number, "48.3 pts": a type a tap cannot coerce.
    text_scores: bool = False
    #: Assignments' `best_score` served as `string_scores` and `text_scores` serve sessions' `score` (a full-table list).
    assignment_scores: bool = False

    def __post_init__(self) -> None:
        for pair in self.extra_fields:
            stream, _, name = pair.partition(".")
            if stream not in LIST_PATHS or not name:
                msg = f"--extra-field {pair!r}: expected STREAM.FIELD with STREAM one of {', '.join(LIST_PATHS)}"
                raise ValueError(msg)

    def apply(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The body as the drifted API serves it (rows copied: the stored data never changes)."""
        fields = [pair.partition(".")[2] for pair in self.extra_fields if LIST_PATHS[pair.partition(".")[0]] == path]
        scored = "score" if SESSION_PATH.fullmatch(path) else ""
        if self.assignment_scores and path == ASSIGNMENTS_PATH:
            scored = "best_score"
        scores = (self.string_scores or self.text_scores) and scored
        if not fields and not scores:
            return body
        listed = isinstance(body.get("data"), list)
        rows = [dict(row) for row in (body["data"] if listed else [body])]
        for row in rows:
            for name in fields:
                row[name] = extra_value(str(row.get("id")))
            if scores and row.get(scored) is not None:
                row[scored] = served_score(self, str(row["id"]), row[scored])
        return {**body, "data": rows} if listed else rows[0]


def extra_value(row_id: str) -> dict[str, Any]:
    """The undocumented field's value for a row: an object with a string, a number and an array."""
    n = zlib.crc32(row_id.encode())
    return {"label": LABELS[n % 3], "confidence": (n % 100) / 100, "topics": [LABELS[(n >> 3) % 3]] * (n % 3)}


def served_score(drift: ApiDrift, session_id: str, score: float) -> str | float:
    """A session's score as the drifted API serves it."""
    if drift.text_scores and zlib.crc32(session_id.encode()) % 4 == 0:
        return f"{score} pts"
    return str(score) if drift.string_scores else score
