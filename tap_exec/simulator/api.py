"""The Exec API's read endpoints over a Dataset: routing, filters, orderings, includes, pagination."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from tap_exec.simulator.data import RANKS, Session, iso, parse_iso, rank_for
from tap_exec.simulator.detail import page_versions, proficiency_entries, session_detail, source_content
from tap_exec.simulator.drift import ApiDrift
from tap_exec.simulator.params import PARAMS, InvalidParameterError, checked

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator.data import Dataset

Query = dict[str, str]
Pairs = Mapping[str, str] | Iterable[tuple[str, str]]
Response = tuple[int, dict[str, Any]]


class ApiError(Exception):
    """An error the API reports with its envelope."""

    def __init__(self, status: int, type_: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code


def not_found(what: str, ident: str) -> ApiError:
    """The 404 envelope the spec shows (`Scenario not found: abc123`)."""
    return ApiError(404, "not_found", f"{what} not found: {ident}")


def paginate(rows: Sequence[Any], query: Query, render: Callable[[Any], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Slice one page (the parameters are checked already); a page past the last one is an empty `data` list."""
    page, size = int(query.get("page", "1")), int(query.get("page_size", "50"))
    chunk = rows[(page - 1) * size : page * size]
    return {
        "data": [render(r) for r in chunk] if render else list(chunk),
        "pagination": {"page": page, "page_size": size, "total_count": len(rows), "total_pages": math.ceil(len(rows) / size)},
    }


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row without the simulator's private `_` fields."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def includes(query: Query) -> set[str]:
    """The comma-separated `include` values."""
    return {part.strip() for part in query.get("include", "").split(",") if part.strip()}


def ids(query: Query, name: str) -> set[str] | None:
    """A comma-separated id filter, or None when absent."""
    raw = query.get(name)
    return None if raw is None else {part for part in raw.split(",") if part}


class ExecApi:
    """Answers GET requests the way the Exec API does, from one Dataset."""

    def __init__(self, data: Dataset, *, members_shape: str = "flat", drift: ApiDrift | None = None) -> None:
        self.data = data
        self.members_shape = members_shape
        self.drift = drift or ApiDrift()
        #: NOTES.md leaves open what a page past `total_pages` returns: an empty `data` list (False) or a 400.
        self.past_end_error = False
        handlers: dict[str, Callable[..., dict[str, Any]]] = {
            "/workspace": self.workspace,
            "/workspace/members": self.members,
            "/workspace/groups": self.groups,
            "/collections": self.collections,
            "/scenarios": self.scenarios,
            "/scenarios/assignments": self.assignments,
            "/scenarios/{scenario_id}/access": self.scenario_access,
            "/scenarios/{scenario_id}/analytics/summary": self.analytics_summary,
            "/scenarios/{scenario_id}/analytics/participants": self.analytics_participants,
            "/scenario-studio/jobs/{job_id}": self.job,
            "/sessions": self.sessions,
            "/sessions/{session_id}": self.session_detail,
            "/skills": self.skills,
            "/skills/{skill_id}/proficiency": self.skill_proficiency,
            "/knowledge-hub/folders": self.folders,
            "/knowledge-hub/folders/{folder_id}": self.folder_detail,
            "/knowledge-hub/pages": self.pages,
            "/knowledge-hub/pages/{page_id}": self.page_detail,
            "/knowledge-hub/pages/{page_id}/versions": self.page_versions,
            "/knowledge-hub/sources": self.sources,
            "/knowledge-hub/sources/{source_id}": self.source_detail,
        }
        self.routes = [
            (re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"), PARAMS[template], handler)
            for template, handler in handlers.items()
        ]

    def get(self, path: str, query: Pairs) -> Response:
        """Dispatch one GET; bad parameters and other errors come back as their status and envelope."""
        pairs = query.items() if isinstance(query, Mapping) else query
        for pattern, params, handler in self.routes:
            match = pattern.match(path)
            if match:
                try:
                    body = self._past_end(handler(checked(params, pairs), **match.groupdict()))
                    return 200, self.drift.apply(path, body)
                except InvalidParameterError as exc:
                    return 400, ApiError(400, "invalid_request", str(exc), exc.code).body
                except ApiError as exc:
                    return exc.status, exc.body
        return 404, {"error": {"type": "not_found", "message": f"No route: {path}"}}

    def _past_end(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body, or with `past_end_error` a 400 `invalid_pagination` for a page past the last one (not page 1)."""
        where = body.get("pagination")
        if self.past_end_error and isinstance(where, dict) and where["page"] > max(1, where["total_pages"]):
            raise ApiError(400, "invalid_request", "page is past the last page", "invalid_pagination")
        return body

    # -- workspace -----------------------------------------------------------------------
    def workspace(self, _query: Query) -> dict[str, Any]:
        """GET /workspace."""
        return self.data.workspace

    def members(self, query: Query) -> dict[str, Any]:
        """GET /workspace/members: flat per the schema, or the nested shape of the spec's example."""
        if self.members_shape == "nested":
            return paginate(self.data.members, query, self._nested_member)
        return paginate(self.data.members, query)

    def _nested_member(self, member: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "m-" + member["id"][:8],
            "user": self.data.user_ref(member),
            "role": member["role"],
            "created_at": member["created_at"],
        }

    def groups(self, query: Query) -> dict[str, Any]:
        """GET /workspace/groups."""
        return paginate(self.data.groups, query)

    def collections(self, query: Query) -> dict[str, Any]:
        """GET /collections, alphabetical by name."""
        return paginate(self.data.collections, query)

    # -- scenarios -----------------------------------------------------------------------
    def scenarios(self, query: Query) -> dict[str, Any]:
        """GET /scenarios: archived only with include_archived=true, skills only with include=skills."""
        rows = [s for s in self.data.scenarios if query.get("include_archived") == "true" or not s["_archived"]]
        with_skills = "skills" in includes(query)

        def render(s: dict[str, Any]) -> dict[str, Any]:
            out = public(s)
            if with_skills:
                out["skills"] = [{"id": k["id"], "name": k["name"], "slug": k["slug"]} for k in s["_skills"]]
            return out

        return paginate(rows, query, render)

    def _scenario(self, ident: str) -> dict[str, Any]:
        for s in self.data.scenarios:
            if ident in {s["id"], s["slug"]}:
                return s
        raise not_found("Scenario", ident)

    def assignments(self, query: Query) -> dict[str, Any]:
        """GET /scenarios/assignments."""
        return paginate(self.data.assignments, query)

    def _scenario_sessions(self, scenario_id: str) -> dict[str, list[Session]]:
        by_user: dict[str, list[Session]] = defaultdict(list)
        for s in self.data.sessions:
            if s.scenario["id"] == scenario_id:
                by_user[s.user["id"]].append(s)
        return by_user

    def scenario_access(self, query: Query, scenario_id: str) -> dict[str, Any]:
        """GET /scenarios/{id}/access: what one member may do with a scenario."""
        scenario = self._scenario(scenario_id)
        member = next((m for m in self.data.members if m["email"] == query["user_email"]), None)
        if member is None:
            raise not_found("User", query["user_email"])
        owner = (scenario.get("owner") or {}).get("id") == member["id"]
        admin = member["role"] == "admin"
        shared = scenario["visibility"] == "workspace"
        return {
            "user_email": member["email"],
            "scenario_id": scenario["id"],
            "permissions": {
                "can_view": owner or admin or shared,
                "can_share": owner or admin,
                "can_monitor": owner or admin,
                "can_edit": owner,
            },
        }

    def job(self, _query: Query, job_id: str) -> dict[str, Any]:
        """GET /scenario-studio/jobs/{id}: this workspace has started no scenario-creation job."""
        raise not_found("Job", job_id)

    def analytics_summary(self, _query: Query, scenario_id: str) -> dict[str, Any]:
        """GET /scenarios/{id}/analytics/summary, computed from the scenario's sessions."""
        by_user = self._scenario_sessions(self._scenario(scenario_id)["id"])
        entries = [self._participant(user_sessions) for user_sessions in by_user.values()]
        best = [e["best_score"] for e in entries if e["best_score"] is not None]
        lifts = [e["lift_percentage"] for e in entries if e["lift_percentage"] is not None]
        sessions = [s for user_sessions in by_user.values() for s in user_sessions]
        durations = [s.duration for s in sessions if s.duration is not None]
        ranks = [e["best_rank"] or "unranked" for e in entries]
        avg_best = round(sum(best) / len(best), 1) if best else 0.0
        return {
            "participant_count": len(entries),
            "total_sessions": len(sessions),
            "average_best_score": avg_best,
            "average_best_rank": rank_for(avg_best if best else None) or "unranked",
            "average_lift_percentage": round(sum(lifts) / len(lifts), 1) if lifts else 0.0,
            "total_practice_minutes": int(sum(durations) // 60),
            "average_session_duration_seconds": round(sum(durations) / len(durations), 1) if durations else 0.0,
            "score_distribution": [
                {"rank": r, "count": ranks.count(r), "percentage": round(100 * ranks.count(r) / len(ranks), 1) if ranks else 0.0}
                for r in RANKS
            ],
        }

    @staticmethod
    def _participant(sessions: list[Session]) -> dict[str, Any]:
        scored = [s for s in sessions if s.score is not None]
        first = scored[0] if scored else None
        best = max(scored, key=lambda s: s.score or 0.0) if scored else None
        lift = None
        if first and best and first.score:
            lift = round(100 * ((best.score or 0.0) - first.score) / first.score, 1)
        return {
            "user": sessions[0].user,
            "session_count": len(sessions),
            "first_score": first.score if first else None,
            "first_rank": first.rank() if first else None,
            "best_score": best.score if best else None,
            "best_rank": best.rank() if best else None,
            "lift_percentage": lift,
            "total_duration_seconds": round(sum(s.duration or 0.0 for s in sessions), 1),
        }

    def analytics_participants(self, query: Query, scenario_id: str) -> dict[str, Any]:
        """GET /scenarios/{id}/analytics/participants, best score first (nulls last), ties by user id."""
        by_user = self._scenario_sessions(self._scenario(scenario_id)["id"])
        entries = [self._participant(v) for v in by_user.values()]
        entries.sort(key=lambda e: e["user"]["id"])
        entries.sort(key=lambda e: -(e["best_score"] if e["best_score"] is not None else -1.0))
        return paginate(entries, query)

    # -- sessions ------------------------------------------------------------------------
    def sessions(self, query: Query) -> dict[str, Any]:
        """GET /sessions: start/end date filters (inclusive) and `sorting`, newest first by default."""
        rows: Sequence[Session] = self.data.sessions
        lo, hi = 0, len(rows)
        if "start_date" in query:
            lo = _bisect(rows, math.ceil(parse_iso(query["start_date"])))
        if "end_date" in query:
            hi = _bisect(rows, math.floor(parse_iso(query["end_date"])) + 1)
        sorting = query.get("sorting", "-created_at")
        window: Sequence[Session] = _View(rows, lo, max(lo, hi), reverse=sorting == "-created_at")
        for name in ("scenario_ids", "user_ids"):
            wanted = ids(query, name)
            if wanted is not None:
                attr = "scenario" if name == "scenario_ids" else "user"
                window = [s for s in window if getattr(s, attr)["id"] in wanted]
        if sorting not in {"created_at", "-created_at"}:
            field_name = {"score": "score", "duration": "duration"}.get(sorting.lstrip("-"))
            if field_name is None:
                raise ApiError(400, "invalid_request", f"Invalid sorting: {sorting}", "invalid_sorting")
            window = sorted(window, key=lambda s: getattr(s, field_name) or 0.0, reverse=sorting.startswith("-"))
        return paginate(window, query, Session.as_list_item)

    def session_detail(self, query: Query, session_id: str) -> dict[str, Any]:
        """GET /sessions/{id}: transcript and evaluations only when included."""
        session = self.data.session(session_id)
        if session is None:
            raise not_found("Session", session_id)
        return session_detail(session, includes(query))

    # -- skills --------------------------------------------------------------------------
    def skills(self, query: Query) -> dict[str, Any]:
        """GET /skills, alphabetical; `include=proficiency` adds the summary."""
        with_prof = "proficiency" in includes(query)

        def render(skill: dict[str, Any]) -> dict[str, Any]:
            out = public(skill)
            if with_prof:
                out["proficiency_summary"] = self._proficiency_summary(skill["id"])
            return out

        return paginate(self.data.skills, query, render)

    def _skill_entries(self, skill_id: str) -> list[dict[str, Any]]:
        return proficiency_entries(self.data, skill_id)

    def _proficiency_summary(self, skill_id: str) -> dict[str, Any] | None:
        entries = self._skill_entries(skill_id)
        if not entries:
            return None
        scored = [e["score"] for e in entries if e["score"] is not None]
        return {
            "participant_count": len(entries),
            "scored_participant_count": len(scored),
            "pct_proficient_plus": round(100 * sum(s >= 75 for s in scored) / len(scored)) if scored else 0,
            "avg_score": round(sum(scored) / len(scored), 1) if scored else None,
        }

    def skill_proficiency(self, query: Query, skill_id: str) -> dict[str, Any]:
        """GET /skills/{id}/proficiency."""
        if not any(s["id"] == skill_id for s in self.data.skills):
            raise not_found("Skill", skill_id)
        return paginate(self._skill_entries(skill_id), query)

    # -- knowledge hub -------------------------------------------------------------------
    def folders(self, query: Query) -> dict[str, Any]:
        """GET /knowledge-hub/folders, alphabetical."""
        rows = sorted(self.data.folders, key=lambda f: f["name"])
        if "parent_id" in query:
            rows = [f for f in rows if f["parent"] == query["parent_id"]]
        return paginate(rows, query)

    def pages(self, query: Query) -> dict[str, Any]:
        """GET /knowledge-hub/pages: updated_after/before inclusive, newest `updated_at` first.

        Without `status` the list has every non-archived page (spec); `status=archived` lists only archived ones.
        """
        status = query.get("status")
        rows = [p for p in self.data.pages if p["status"] == status or (status is None and p["status"] != "archived")]
        if "updated_after" in query:
            after = iso(math.ceil(parse_iso(query["updated_after"])))
            rows = [p for p in rows if p["updated_at"] >= after]
        if "updated_before" in query:
            before = iso(math.floor(parse_iso(query["updated_before"])))
            rows = [p for p in rows if p["updated_at"] <= before]
        sort = query.get("sort", "updated_at")
        if sort == "title":
            rows.sort(key=lambda p: p["title"])
        else:
            rows.sort(key=lambda p: (p[sort], p["id"]), reverse=True)
        return paginate(rows, query, public)

    def folder_detail(self, _query: Query, folder_id: str) -> dict[str, Any]:
        """GET /knowledge-hub/folders/{id}: the folder's row of the list."""
        folder = next((f for f in self.data.folders if f["id"] == folder_id), None)
        if folder is None:
            raise not_found("Folder", folder_id)
        return folder

    def _page(self, page_id: str) -> dict[str, Any]:
        page = next((p for p in self.data.pages if p["id"] == page_id), None)
        if page is None:
            raise not_found("Page", page_id)
        return page

    def page_detail(self, query: Query, page_id: str) -> dict[str, Any]:
        """GET /knowledge-hub/pages/{id}: body, full sources, and the draft when included (archived pages too)."""
        page = self._page(page_id)
        by_id = {s["id"]: s for s in self.data.sources}
        out = public(page)
        out["content"] = page["_content"]
        out["sources"] = [by_id[i] for i in page["_sources"] if i in by_id]
        if "draft" in includes(query):
            out["draft"] = page["_draft"]
        return out

    def page_versions(self, query: Query, page_id: str) -> dict[str, Any]:
        """GET /knowledge-hub/pages/{id}/versions, newest first."""
        return paginate(page_versions(self.data, self._page(page_id)), query)

    def sources(self, query: Query) -> dict[str, Any]:
        """GET /knowledge-hub/sources (metadata only; `content` is on the detail endpoint)."""
        return paginate(self.data.sources, query)

    def source_detail(self, query: Query, source_id: str) -> dict[str, Any]:
        """GET /knowledge-hub/sources/{id}: the source, with its extracted text when `include=content`."""
        source = next((s for s in self.data.sources if s["id"] == source_id), None)
        if source is None:
            raise not_found("Source", source_id)
        out = dict(source)
        if "content" in includes(query):
            out["content"] = source_content(source)
        return out


class _View(Sequence[Session]):
    """rows[lo:hi] (reversed if asked) without copying: a page of 300k sessions costs a page, not a copy."""

    def __init__(self, rows: Sequence[Session], lo: int, hi: int, *, reverse: bool) -> None:
        self.rows, self.lo, self.hi, self.reverse = rows, lo, hi, reverse

    def __len__(self) -> int:
        return self.hi - self.lo

    @overload
    def __getitem__(self, index: int) -> Session: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Session]: ...
    def __getitem__(self, index: int | slice) -> Session | Sequence[Session]:
        if isinstance(index, int):
            return self.rows[self.hi - 1 - index if self.reverse else self.lo + index]
        start, stop, _ = index.indices(len(self))
        if self.reverse:
            return self.rows[self.hi - stop : self.hi - start][::-1]
        return self.rows[self.lo + start : self.lo + stop]


def _bisect(rows: Sequence[Session], ts: int) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid].created < ts:
            lo = mid + 1
        else:
            hi = mid
    return lo
