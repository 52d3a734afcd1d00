"""The dbt marts computed independently, in Python, from the simulator's own data (what the API holds, not what landed).

Each function returns the mart's rows keyed by its grain, each row with every column of the mart (its key columns
included) under the mart's names, so a test can compare scenario by scenario, person by person and day by day, and
check that the mart has no column this module does not compute.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

from tap_exec.simulator.data import parse_iso
from tap_exec.simulator.detail import proficiency_entries

if t.TYPE_CHECKING:
    from tap_exec.simulator.data import Dataset, Session

Row = dict[str, t.Any]
RANKS = ("unranked", "bronze", "silver", "gold")  # worst to best


def moment(epoch: float) -> datetime:
    """A UTC instant as both warehouses return a `timestamp`: naive, in UTC."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).replace(tzinfo=None)


def _when(iso: str | None) -> datetime | None:
    return None if iso is None else moment(parse_iso(iso))


def _valid(session: Session) -> bool:
    return session.as_list_item()["is_valid_attempt"]  # type: ignore[no-any-return]


def _avg(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def scenarios(data: Dataset) -> dict[str, Row]:
    """Every scenario the data names: the catalogue (archived included), then any a session or assignment names.

    A scenario the API no longer lists (deleted) keeps the name and slug of the latest session or assignment that
    names it; its difficulty and language are unknown, and it is not in the catalogue.
    """
    out: dict[str, Row] = {
        s["id"]: {
            "scenario_name": s["name"],
            "scenario_slug": s["slug"],
            "difficulty": s["difficulty"],
            "language": s["language"],
            "is_in_catalogue": True,
        }
        for s in data.scenarios
    }
    named: list[tuple[float, str, Row]] = [(s.created, s.id, s.scenario) for s in data.sessions]
    named += [(parse_iso(a["created_at"]), a["id"], a["scenario"]) for a in data.assignments]
    for _, _, ref in sorted(named, key=lambda n: (n[0], n[1]), reverse=True):  # latest first
        if ref["id"] not in out:
            out[ref["id"]] = {
                "scenario_name": ref["name"],
                "scenario_slug": ref["slug"],
                "difficulty": None,
                "language": None,
                "is_in_catalogue": False,
            }
    return out


def scenario_practice(data: Dataset) -> dict[str, Row]:
    """One row per scenario the data names: those GET /scenarios lists with include_archived=true, and deleted ones.

    A deleted scenario's sessions still count, on its own row (`is_in_catalogue` false).
    """
    by_scenario: dict[str, list[Session]] = defaultdict(list)
    for session in data.sessions:
        by_scenario[session.scenario["id"]].append(session)
    out = {}
    for scenario_id, scenario in scenarios(data).items():
        sessions = by_scenario.get(scenario_id, [])
        valid = [s.score for s in sessions if _valid(s) and s.score is not None]
        out[scenario_id] = {
            "scenario_id": scenario_id,
            **scenario,
            "sessions": len(sessions),
            "valid_attempts": sum(_valid(s) for s in sessions),
            "participants": len({s.user["id"] for s in sessions}),
            "avg_valid_score": _avg(valid),
            "best_score": max(valid, default=None),
            "first_practiced_at": moment(min(s.created for s in sessions)) if sessions else None,
            "last_practiced_at": moment(max(s.created for s in sessions)) if sessions else None,
        }
    return out


def member_progress(data: Dataset) -> dict[tuple[str, str], Row]:
    """One row per (person, scenario) with a session or an assignment."""
    members = {m["id"]: m for m in data.members}
    names = {scenario_id: s["scenario_name"] for scenario_id, s in scenarios(data).items()}
    latest_ref: dict[str, tuple[tuple[float, str], Row]] = {}  # a former member is named by their latest row
    for when, row_id, user in [(s.created, s.id, s.user) for s in data.sessions] + [
        (parse_iso(a["created_at"]), a["id"], a["user"]) for a in data.assignments
    ]:
        if user["id"] not in latest_ref or (when, row_id) > latest_ref[user["id"]][0]:
            latest_ref[user["id"]] = ((when, row_id), user)
    attempts: dict[tuple[str, str], list[Session]] = defaultdict(list)
    for session in data.sessions:
        attempts[session.user["id"], session.scenario["id"]].append(session)
    assigned: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for assignment in data.assignments:
        assigned[assignment["user"]["id"], assignment["scenario"]["id"]].append(assignment)
    out = {}
    for pair in set(attempts) | set(assigned):
        user_id, scenario_id = pair
        person = members.get(user_id) or latest_ref[user_id][1]
        sessions = attempts.get(pair, [])
        valid = sorted((s for s in sessions if _valid(s) and s.score is not None), key=lambda s: (s.created, s.id))
        best = max((s.score for s in valid if s.score is not None), default=None)
        first = valid[0].score if valid else None
        latest = max(assigned.get(pair, []), key=lambda a: (parse_iso(a["created_at"]), a["id"]), default=None)
        out[pair] = {
            "user_id": user_id,
            "user_email": person["email"],
            "user_first_name": person["first_name"],
            "user_last_name": person["last_name"],
            "is_current_member": user_id in members,
            "scenario_id": scenario_id,
            "scenario_name": names[scenario_id],
            "sessions": len(sessions),
            "valid_attempts": sum(_valid(s) for s in sessions),
            "first_valid_score": first,
            "best_valid_score": best,
            "lift": None if best is None or first is None else best - first,
            "rank_reached": max((s.rank() for s in valid), key=RANKS.index, default=None),
            "first_practiced_at": moment(min(s.created for s in sessions)) if sessions else None,
            "last_practiced_at": moment(max(s.created for s in sessions)) if sessions else None,
            "assignment_id": latest and latest["id"],
            "assignment_status": latest and latest["status"],
            "assignment_due_date": latest and _when(latest["due_date"]),
            "assignments": len(assigned.get(pair, [])),
        }
    return out


def skill_proficiency_latest(data: Dataset) -> dict[tuple[str, str], Row]:
    """One row per (skill, person) as GET /skills/{id}/proficiency reports it."""
    members = {m["id"] for m in data.members}
    out = {}
    for skill in data.skills:
        for entry in proficiency_entries(data, skill["id"]):
            user = entry["user"]
            out[skill["id"], user["id"]] = {
                "skill_id": skill["id"],
                "skill_name": skill["name"],
                "user_id": user["id"],
                "user_email": user["email"],
                "user_first_name": user["first_name"],
                "user_last_name": user["last_name"],
                "is_current_member": user["id"] in members,
                "score": entry["score"],
                "tier": entry["tier"],
                "is_proficient": entry["tier"] in ("proficient", "excellent"),
                "observation_count": entry["observation_count"],
                "last_practiced_at": _when(entry["last_practiced_at"]),
            }
    return out


def practice_activity(data: Dataset) -> dict[date, Row]:
    """One row per UTC day from the first session's to the latest's."""
    by_day: dict[date, list[Session]] = defaultdict(list)
    first_day: dict[str, date] = {}
    for session in data.sessions:
        day = moment(session.created).date()
        by_day[day].append(session)
        first_day[session.user["id"]] = min(day, first_day.get(session.user["id"], day))
    newcomers: dict[date, int] = defaultdict(int)
    for day in first_day.values():
        newcomers[day] += 1
    out = {}
    day, last = min(by_day), max(by_day)
    while day <= last:
        sessions = by_day.get(day, [])
        valid = [s.score for s in sessions if _valid(s) and s.score is not None]
        out[day] = {
            "activity_date": day,
            "sessions": len(sessions),
            "valid_attempts": sum(_valid(s) for s in sessions),
            "active_users": len({s.user["id"] for s in sessions}),
            "new_users": newcomers.get(day, 0),
            "avg_valid_score": _avg(valid),
            "practice_minutes": sum(s.duration or 0 for s in sessions) / 60,
        }
        day += timedelta(days=1)
    return out
