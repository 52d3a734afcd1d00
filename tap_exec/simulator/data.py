"""Seeded, internally consistent Exec workspace data for the simulator."""

from __future__ import annotations

import bisect
import copy
import random
import time
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tap_exec.simulator.params import parse_datetime

if TYPE_CHECKING:
    from collections.abc import Callable

# All generated timestamps fall before this instant; rows added during a sync come after it.
EPOCH_NOW = int(datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp())
YEAR = 365 * 24 * 3600
RANKS = ("gold", "silver", "bronze", "unranked")
FIRST_NAMES = ("Jane", "José", "Zoë", "Ørjan", "Amélie", "Bob", "Łukasz", "Nguyễn", "李", "Renée", "Ömer", "Aiko")
LAST_NAMES = ("Smith", "García", "Müller", "O'Brien", "Søndergaard", "Dvořák", "Ng", "王", "Kowalska", "Ibáñez")
TOPICS = ("Procurement", "Discovery", "Pricing", "Renewal", "Onboarding", "Négociation", "Objection", "Leadership")
EMOJI = ("💼", "📎", "🚀", "🎯", None)


def iso(ts: int) -> str:
    """Format epoch seconds the way the API does (`2026-03-15T14:30:00Z`)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    """An RFC 3339 date-time filter value (already checked) in epoch seconds."""
    moment = parse_datetime(value)
    if moment is None:
        msg = f"not a date-time: {value!r}"
        raise ValueError(msg)
    return moment.timestamp()


def rank_for(score: float | None) -> str | None:
    """The rank the API gives a score (None for an ungraded session)."""
    if score is None:
        return None
    return "gold" if score >= 85 else "silver" if score >= 70 else "bronze" if score >= 50 else "unranked"


@dataclass
class Counts:
    """How many rows of each kind the simulator seeds."""

    members: int = 40
    former_users: int = 3
    groups: int = 6
    collections: int = 8
    scenarios: int = 30
    skills: int = 12
    assignments: int = 120
    sessions: int = 1500
    folders: int = 10
    pages: int = 40
    sources: int = 30

    @classmethod
    def scaled(cls, scale: float, **overrides: int) -> Counts:
        """Default counts times `scale` (at least one of each), then explicit overrides."""
        base = cls()
        values = {k: max(1, round(v * scale)) for k, v in vars(base).items()}
        values.update(overrides)
        return cls(**values)


@dataclass
class Session:
    """One roleplay session, stored compactly; rendered to JSON on demand."""

    id: str
    user: dict[str, Any]
    scenario: dict[str, Any]
    score: float | None
    duration: float | None
    created: int

    def rank(self) -> str | None:
        """Rank follows score, as the API grades it."""
        return rank_for(self.score)

    def as_list_item(self) -> dict[str, Any]:
        """The SessionListItem shape."""
        return {
            "id": self.id,
            "user": self.user,
            "scenario": self.scenario,
            "score": self.score,
            "rank": self.rank(),
            "duration_seconds": self.duration,
            "is_valid_attempt": self.score is not None,
            "created_at": iso(self.created),
        }


@dataclass
class Dataset:
    """Everything one simulated workspace holds, with stable cross-references."""

    seed: int
    counts: Counts
    workspace: dict[str, Any] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    collections: list[dict[str, Any]] = field(default_factory=list)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    skills: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)  # ascending by (created, id)
    folders: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    clock: int = EPOCH_NOW
    # What "now" is for rows added while serving: the wall clock, or the clock of the Simulator serving this data
    # (it sets this), so that a simulator moved forward (`Simulator.advance`) stamps new rows in its own day.
    now: Callable[[], float] = field(default_factory=lambda: time.time, repr=False, compare=False)
    _by_id: dict[str, Session] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Dataset:
        """A deep copy of the rows; the copy keeps the same `now` (a Simulator serving the copy sets its own)."""
        clone = copy.copy(self)
        for item in fields(self):
            if item.name != "now":
                setattr(clone, item.name, copy.deepcopy(getattr(self, item.name), memo))
        return clone

    def session(self, session_id: str) -> Session | None:
        """Look a session up by id (index rebuilt after inserts and deletes)."""
        if self._by_id is None:
            self._by_id = {s.id: s for s in self.sessions}
        return self._by_id.get(session_id)

    # -- helpers -----------------------------------------------------------------
    def new_id(self) -> str:
        """A deterministic UUID from the dataset's generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def tick(self) -> int:
        """The time of a change made now: `now()` (as the real API stamps rows), never repeating."""
        self.clock = max(self.clock + 1, int(self.now()))
        return self.clock

    def past(self, span: int = YEAR) -> int:
        """A random instant within `span` seconds before the simulated now."""
        return EPOCH_NOW - self.rng.randrange(span)

    def text(self, lines: int = 1) -> str:
        """Short unicode text, multi-line when asked."""
        words = ("value", "budget", "naïve", "résumé", "follow-up", "ROI 📈", "pain point", "décision", "next step")
        return "\n".join(" ".join(self.rng.choice(words) for _ in range(6)).capitalize() + "." for _ in range(lines))

    def maybe(self, value: Any, p_null: float = 0.25) -> Any:  # noqa: ANN401 - any row value
        """`value`, or None with probability `p_null`."""
        return None if self.rng.random() < p_null else value

    def user_ref(self, user: dict[str, Any]) -> dict[str, Any]:
        """The nested User object (id, email, first/last name)."""
        return {k: user[k] for k in ("id", "email", "first_name", "last_name")}

    @staticmethod
    def scenario_ref(scenario: dict[str, Any]) -> dict[str, Any]:
        """The nested ScenarioRef object."""
        return {"id": scenario["id"], "name": scenario["name"], "slug": scenario["slug"]}

    # -- sessions (the large, changing list) -----------------------------------------
    def make_session(self, created: int, scenario: dict[str, Any] | None = None) -> Session:
        """A session by a random user on `scenario` (default: a random one)."""
        user = self.rng.choice(self.users)
        scenario = scenario or self.rng.choice(self.scenarios)
        graded = self.rng.random() > 0.15
        return Session(
            id=self.new_id(),
            user=self.user_ref(user),
            scenario=self.scenario_ref(scenario),
            score=round(self.rng.uniform(20, 100), 1) if graded else None,
            duration=round(self.rng.uniform(60, 900), 1) if self.rng.random() > 0.05 else None,
            created=created,
        )

    def insert_session(self, created: int | None = None, scenario: dict[str, Any] | None = None) -> Session:
        """Add a session (newest unless `created` is given), keeping the order."""
        session = self.make_session(self.tick() if created is None else created, scenario)
        self._by_id = None
        bisect.insort(self.sessions, session, key=lambda s: (s.created, s.id))
        return session

    def delete_session(self, index: int) -> Session:
        """Remove the session at `index` of the ascending list."""
        self._by_id = None
        return self.sessions.pop(index)

    def grade_session(self, index: int) -> Session:
        """Re-grade a session: score (and so rank and validity) change, created_at does not."""
        session = self.sessions[index]
        session.score = round(self.rng.uniform(20, 100), 1)
        return session

    def touch_page(self, index: int) -> dict[str, Any]:
        """Edit a page: it becomes the most recently updated one."""
        page = self.pages[index]
        page["updated_at"] = iso(self.tick())
        return page

    def insert_page(self) -> dict[str, Any]:
        """Create a page (a copy of a random one under a new id), updated now."""
        page = {**self.rng.choice(self.pages), "id": self.new_id(), "created_at": iso(self.clock)}
        page["updated_at"] = iso(self.tick())
        self.pages.append(page)
        return page

    def archive_page(self, index: int) -> dict[str, Any]:
        """Archive a page (`DELETE /knowledge-hub/pages/{id}`, a soft delete): status `archived`, updated now.

        The spec does not say whether archiving moves `updated_at`; the simulator says it does, as any write to
        the page's row would. The page leaves the default list and its folders' `item_count` ("non-archived
        pages"); `status=archived` lists it, and its detail and versions stay readable ("its history is preserved").
        """
        page = self.pages[index]
        page["status"] = "archived"
        page["updated_at"] = iso(self.tick())
        folder_ids = {f["id"] for f in page["folders"]}
        for folder in self.folders:
            if folder["id"] in folder_ids:
                folder["item_count"] -= 1
        return page

    def touch_source(self, index: int) -> dict[str, Any]:
        """Re-extract a source: its text and `updated_at` change."""
        source = self.sources[index]
        source["updated_at"] = iso(self.tick())
        return source

    def process_source(self, index: int, status: str = "ready") -> dict[str, Any]:
        """Extraction ends: `status` and `processed_at` change, `updated_at` does not (the spec does not promise it)."""
        source = self.sources[index]
        source["status"] = status
        source["processed_at"] = iso(self.tick()) if status == "ready" else None
        return source

    def add_scenario(self) -> dict[str, Any]:
        """A new scenario (a copy of a random one under a new id and slug), created now."""
        scenario = {**self.rng.choice(self.scenarios), "id": self.new_id(), "created_at": iso(self.tick())}
        scenario["slug"] = f"{scenario['slug']}-copy-{len(self.scenarios)}"
        self.scenarios.append(scenario)
        return scenario

    def remove_member(self, index: int) -> dict[str, Any]:
        """A member leaves the workspace (their sessions stay, as the API keeps them)."""
        return self.members.pop(index)

    def churn(self) -> str:
        """One random change of the kind a live workspace sees while a sync runs."""
        kind = self.rng.choice(("insert_session", "delete_session", "grade_session", "touch_page", "insert_page", "delete_page"))
        if kind == "insert_session":
            self.insert_session()
        elif kind == "delete_session" and self.sessions:
            self.delete_session(self.rng.randrange(len(self.sessions)))
        elif kind == "grade_session" and self.sessions:
            self.grade_session(self.rng.randrange(len(self.sessions)))
        elif kind == "touch_page" and self.pages:
            self.touch_page(self.rng.randrange(len(self.pages)))
        elif kind == "insert_page" and self.pages:
            self.insert_page()
        elif kind == "delete_page" and self.pages:
            self.pages.pop(self.rng.randrange(len(self.pages)))
        return kind
