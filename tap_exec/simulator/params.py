"""The query parameters each GET endpoint accepts, and their checks: a bad value is a 400, as the API answers.

Written from the OpenAPI spec (a test compares the two): types, formats, enums, bounds and required flags. Names
not listed are ignored, as the API ignores them; a listed parameter given twice is a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
PAGINATION = ("page", "page_size")


class InvalidParameterError(ValueError):
    """A query parameter the API would refuse."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"Invalid value for `{name}`: {problem}")
        self.code = "invalid_pagination" if name in PAGINATION else "invalid_parameter"


@dataclass(frozen=True)
class Param:
    """One query parameter: `kind` is integer, boolean, date-time, email, enum, list (comma-separated enum) or text."""

    kind: str = "text"
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    required: bool = False

    def check(self, name: str, value: str) -> None:
        """Raise InvalidParameterError unless `value` is one the API accepts."""
        if self.kind == "integer":
            if not re.fullmatch(r"[+-]?\d+", value):
                raise InvalidParameterError(name, f"{value!r} is not an integer")
            number = int(value)
            if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
                raise InvalidParameterError(name, f"{number} is outside {self.minimum}..{self.maximum or ''}")
        elif self.kind == "boolean" and value not in {"true", "false"}:
            raise InvalidParameterError(name, f"{value!r} is not true or false")
        elif self.kind == "date-time" and parse_datetime(value) is None:
            raise InvalidParameterError(name, f"{value!r} is not an ISO 8601 date-time such as 2026-03-15T14:30:00Z")
        elif self.kind == "email" and not EMAIL.fullmatch(value):
            raise InvalidParameterError(name, f"{value!r} is not an email address")
        elif self.kind == "enum" and value not in self.values:
            raise InvalidParameterError(name, f"{value!r} is not one of {', '.join(self.values)}")
        elif self.kind == "list" and not set(value.split(",")) <= set(self.values):
            raise InvalidParameterError(name, f"{value!r} is not a comma-separated list of {', '.join(self.values)}")


def parse_datetime(value: str) -> datetime | None:
    """An RFC 3339 date-time (the spec's `format: date-time`), or None."""
    match = RFC3339.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, timezone(offset))
    except (ValueError, OverflowError):
        return None
    return moment.astimezone(timezone.utc)


def checked(params: dict[str, Param], pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The query as a dict, once every listed parameter is present at most once, valid, and required ones given."""
    query: dict[str, str] = {}
    for name, value in pairs:
        param = params.get(name)
        if param is None:
            continue  # unknown parameters are ignored, as the API does
        if name in query:
            raise InvalidParameterError(name, "given more than once")
        param.check(name, value)
        query[name] = value
    for name, param in params.items():
        if param.required and name not in query:
            raise InvalidParameterError(name, "is required")
    return query


PAGED = {"page": Param("integer", minimum=1), "page_size": Param("integer", minimum=1, maximum=100)}
PEOPLE = {"user_ids": Param(), "user_emails": Param(), "group_ids": Param()}
RANKS = ("gold", "silver", "bronze", "unranked")
WINDOW = {"start_date": Param("date-time"), "end_date": Param("date-time"), "exclude_system_users": Param("boolean")}

#: Spec path template -> the query parameters its GET accepts.
PARAMS: dict[str, dict[str, Param]] = {
    "/workspace": {},
    "/workspace/members": {**PAGED, "group_ids": Param()},
    "/workspace/groups": PAGED,
    "/scenarios/assignments": {
        **{name: Param() for name in ("user_ids", "user_emails", "scenario_ids", "program_ids")},
        "status": Param("list", ("not_started", "in_progress", "completed", "past_due", "did_not_pass")),
        **PAGED,
    },
    "/collections": PAGED,
    "/sessions": {
        **{name: Param() for name in ("user_ids", "user_emails", "scenario_ids", "collection_ids", "skill_ids")},
        **{name: Param() for name in ("program_ids", "group_ids")},
        "rank": Param("list", RANKS),
        **WINDOW,
        "sorting": Param("enum", ("created_at", "-created_at", "score", "-score", "duration", "-duration")),
        **PAGED,
    },
    "/sessions/{session_id}": {"include": Param()},
    "/skills": {"include": Param(), **PAGED},
    "/skills/{skill_id}/proficiency": {
        **PEOPLE,
        "end_date": Param("date-time"),
        "exclude_system_users": Param("boolean"),
        **PAGED,
    },
    "/scenarios/{scenario_id}/analytics/summary": {**PEOPLE, **WINDOW},
    "/scenarios/{scenario_id}/analytics/participants": {
        **PEOPLE,
        **WINDOW,
        "sorting": Param(
            "enum",
            tuple(
                sign + field
                for field in ("best_score", "first_score", "lift_percentage", "total_duration_seconds", "session_count")
                for sign in ("", "-")
            ),
        ),
        **PAGED,
    },
    "/scenarios": {
        **PAGED,
        "owner_email": Param("email"),
        "visible_to_email": Param("email"),
        "visibility": Param("enum", ("private", "workspace")),
        "include_archived": Param("boolean"),
        "skill_ids": Param(),
        "collection_ids": Param(),
        "include": Param(),
    },
    "/scenarios/{scenario_id}/access": {"user_email": Param("email", required=True)},
    "/scenario-studio/jobs/{job_id}": {},
    "/knowledge-hub/folders": {"parent_id": Param(), "query": Param(), **PAGED},
    "/knowledge-hub/folders/{folder_id}": {},
    "/knowledge-hub/pages": {
        "folder_id": Param(),
        "status": Param("enum", ("draft", "published", "archived")),
        "owner_id": Param(),
        "skill_id": Param(),
        "query": Param(),
        "updated_after": Param("date-time"),
        "updated_before": Param("date-time"),
        "sort": Param("enum", ("updated_at", "created_at", "title")),
        **PAGED,
    },
    "/knowledge-hub/pages/{page_id}": {"include": Param()},
    "/knowledge-hub/pages/{page_id}/versions": PAGED,
    "/knowledge-hub/sources": {
        "type": Param("enum", ("upload", "url", "notion", "google_drive", "guru", "page", "integration")),
        "status": Param("enum", ("pending", "processing", "ready", "failed")),
        "folder_id": Param(),
        "query": Param(),
        "page_id": Param(),
        **PAGED,
    },
    "/knowledge-hub/sources/{source_id}": {"include": Param()},
}
