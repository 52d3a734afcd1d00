"""Heavy per-record payloads (session transcripts, proficiency, page history), derived from each row's id."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from tap_exec.simulator.data import EPOCH_NOW, YEAR, iso

if TYPE_CHECKING:
    from tap_exec.simulator.data import Dataset, Session

GRADES = ("good", "mid", "bad", "not_relevant")
LINES = (
    "Hi, I'm the procurement lead at Globex. Thanks for meeting with me today.",
    "Thanks for your time. I'd love to learn more about your current process.",
    "Honestly, the budget is tight this quarter — maybe 20% lower than last year.",
    "Could you walk me through how décisions are made?\nWho signs off?",
    "We tried a similar tool before 😅 and it didn't stick.",
)


def session_detail(session: Session, include: set[str]) -> dict[str, Any]:
    """SessionDetail for one session; the same session always gets the same feedback and transcript."""
    rng = random.Random(session.id)
    graded = session.score is not None
    out = session.as_list_item()
    out["outcome_feedback"] = "Strong discovery questioning with good rapport building." if graded else None
    out["positive_feedback"] = "Excellent use of open-ended questions.\nKept the buyer talking." if graded else None
    out["constructive_feedback"] = (
        rng.choice(("Probe budget constraints earlier.", "Résumé the next steps ✅", None)) if graded else None
    )
    if "transcript" in include:
        clock = 0.0
        out["transcript"] = []
        for n in range(rng.randrange(2, 8)):
            out["transcript"].append(
                {
                    "speaker": ("ai", "user", None)[n % 3 if n % 7 == 6 else n % 2],
                    "text": rng.choice(LINES),
                    "seconds_from_start": round(clock, 1),
                }
            )
            clock += rng.uniform(1, 20)
    if "evaluations" in include:
        out["evaluations"] = (
            [
                {
                    "criterion_name": name,
                    "items": [
                        {
                            "name": f"{name} item {i}",
                            "grade": rng.choice((*GRADES, None)),
                            "feedback": rng.choice(("Asked targeted questions.", None)),
                            "feedback_examples": [
                                {
                                    "quote": rng.choice(LINES),
                                    "feedback": rng.choice(("Great open-ended question.", None)),
                                    "suggestion_quote": rng.choice(("Try: what would success look like?", None)),
                                    "grade": rng.choice((*GRADES, None)),
                                    "salience": rng.choice(("high", "mid", "low", None)),
                                }
                                for _ in range(rng.randrange(0, 3))
                            ],
                        }
                        for i in range(rng.randrange(1, 3))
                    ],
                }
                for name in ("Communication Skills", "Objection Handling")
            ]
            if graded
            else None
        )
    return out


def proficiency_entries(data: Dataset, skill_id: str) -> list[dict[str, Any]]:
    """Per-user proficiency for one skill: users who practised it, in a stable order."""
    rng = random.Random(f"{data.seed}:{skill_id}")
    entries = []
    for user in data.users:
        if rng.random() < 0.5:
            continue
        observations = rng.randrange(1, 30)
        score = round(rng.uniform(30, 100), 1) if observations >= 3 else None
        tier = (
            "insufficient_data"
            if score is None
            else "excellent"
            if score >= 90
            else "proficient"
            if score >= 75
            else "developing"
            if score >= 50
            else "needs_work"
        )
        entries.append(
            {
                "user": data.user_ref(user),
                "score": score,
                "tier": tier,
                "observation_count": observations,
                "last_practiced_at": iso(EPOCH_NOW - rng.randrange(YEAR)) if rng.random() > 0.1 else None,
            }
        )
    return entries


def page_versions(data: Dataset, page: dict[str, Any]) -> list[dict[str, Any]]:
    """A page's version history, newest first; as many versions as the page's `version` says."""
    rng = random.Random(page["id"])
    count = page["version"] or 1
    created = page["created_at"]
    versions = []
    for v in range(1, count + 1):
        stamp = created if v == 1 else iso(EPOCH_NOW - rng.randrange(YEAR))
        versions.append(
            {
                "version": v,
                "title": page["title"],
                "change_type": "created" if v == 1 else rng.choice(("ai_generation", "manual_edit", "restore", "clone")),
                "created_by": rng.choice((data.user_ref(rng.choice(data.users)), None)),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    return versions[::-1]


def source_content(source: dict[str, Any]) -> str | None:
    """A source's extracted text: none until extraction is done, and new text whenever the source is updated."""
    if source["status"] != "ready":
        return None
    rng = random.Random(f"{source['id']}:{source['updated_at']}")
    return f"# {source['title']}\n\n" + "\n".join(rng.choice(LINES) for _ in range(rng.randrange(2, 6)))
