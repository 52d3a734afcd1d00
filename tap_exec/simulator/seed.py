"""Fill a Dataset with a seeded workspace whose cross-references and counts agree."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from tap_exec.simulator.data import (
    EMOJI,
    EPOCH_NOW,
    FIRST_NAMES,
    LAST_NAMES,
    RANKS,
    TOPICS,
    YEAR,
    Counts,
    Dataset,
    iso,
    rank_for,
)


def build(seed: int = 7, counts: Counts | None = None) -> Dataset:
    """Generate a workspace; the same seed and counts always give the same data."""
    data = Dataset(seed=seed, counts=counts or Counts(), rng=random.Random(seed))
    _people(data)
    _catalogue(data)
    _activity(data)
    _knowledge_hub(data)
    return data


def _slug(name: str, n: int) -> str:
    ascii_name = name.encode("ascii", "ignore").decode().lower()
    return "-".join(part for part in ascii_name.replace("'", "").split() if part) + f"-{n}"


def _people(data: Dataset) -> None:
    rng, c = data.rng, data.counts
    data.workspace = {
        "id": data.new_id(),
        "name": "Acme Corp ✨",
        "url_slug": "acme-corp",
        "created_at": iso(EPOCH_NOW - 2 * YEAR),
    }
    for n in range(c.members + c.former_users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = "exec.com" if n % 17 == 16 else "acme.com"
        user = {
            "id": data.new_id(),
            "email": f"user{n}@{domain}",
            "first_name": first,
            "last_name": last,
            "role": rng.choice(("admin", "staff", "member", "member", "member")),
            "created_at": iso(data.past(2 * YEAR)),
        }
        data.users.append(user)
    # The last `former_users` appear in sessions but are no longer members (spec: GET /sessions note).
    data.members = [dict(u) for u in data.users[: c.members]]
    data.groups = sorted(
        (
            {"id": data.new_id(), "name": f"{rng.choice(TOPICS)} team {n}", "created_at": iso(data.past())}
            for n in range(c.groups)
        ),
        key=lambda g: g["name"],
    )


def _catalogue(data: Dataset) -> None:
    rng, c = data.rng, data.counts
    for n in range(c.skills):
        name = f"{rng.choice(TOPICS)} skill {n}"
        data.skills.append(
            {
                "id": data.new_id(),
                "name": name,
                "slug": _slug(name, n),
                "description": data.text(),
                "created_at": iso(data.past()),
            }
        )
    data.skills.sort(key=lambda s: s["name"])
    collections: list[dict[str, Any]] = [
        {"id": data.new_id(), "name": f"{rng.choice(TOPICS)} scenarios {n}", "created_at": iso(data.past())}
        for n in range(c.collections)
    ]
    for n in range(c.scenarios):
        name = f"{rng.choice(TOPICS)} call nº{n}"
        created = data.past()
        owner = rng.choice(data.users[: max(1, c.members)])
        data.scenarios.append(
            {
                "id": data.new_id(),
                "name": name,
                "description": data.maybe(data.text()),
                "slug": _slug(name, n),
                "url": f"https://acme-corp.app.exec.com/scenarios/{_slug(name, n)}",
                "difficulty": rng.choice(("easy", "medium", "hard", "very_hard", "custom")),
                "context": data.maybe(data.text(3)),
                "objective": data.maybe(f"{data.text()}\n##### Outcomes to Avoid:\n- Discounting early\n- Skipping budget"),
                "language": rng.choice(("English", "Français", "Deutsch")),
                "visibility": rng.choice(("private", "workspace")),
                "owner": data.maybe(data.user_ref(owner), 0.1),
                "created_at": iso(created),
                "updated_at": iso(created + rng.randrange(10**6)),
                "_archived": rng.random() < 0.1,
                "_skills": rng.sample(data.skills, k=min(len(data.skills), rng.randrange(0, 4))),
                "_collections": rng.sample(collections, k=min(len(collections), rng.randrange(0, 3))),
            }
        )
    counts = Counter(col["id"] for s in data.scenarios for col in s["_collections"])
    for col in collections:
        col.update(slug=_slug(col["name"], 0), description=data.maybe(data.text(2)), scenario_count=counts[col["id"]])
    data.collections = sorted(
        ({k: col[k] for k in ("id", "name", "slug", "description", "scenario_count", "created_at")} for col in collections),
        key=lambda col: col["name"],
    )


def _activity(data: Dataset) -> None:
    rng, c = data.rng, data.counts
    times = sorted(data.past() for _ in range(c.sessions))
    # A burst of sessions sharing one timestamp, so paging must cope with ties (issue: same created_at).
    if c.sessions >= 300:
        burst = times[len(times) // 2]
        times[len(times) // 2 : len(times) // 2 + 150] = [burst] * 150
        times.sort()
    data.sessions = sorted((data.make_session(ts) for ts in times), key=lambda s: (s.created, s.id))
    for _ in range(c.assignments):
        user, scenario = rng.choice(data.users[: max(1, c.members)]), rng.choice(data.scenarios)
        best = data.maybe(round(rng.uniform(30, 100), 1), 0.4)
        data.assignments.append(
            {
                "id": data.new_id(),
                "user": data.user_ref(user),
                "scenario": data.scenario_ref(scenario),
                "status": rng.choice(("not_started", "in_progress", "completed", "past_due", "did_not_pass")),
                "due_date": data.maybe(iso(data.past() + YEAR // 2)),
                "best_score": best,
                "best_rank": rank_for(best),
                "attempt_count": rng.randrange(0, 6),
                "attempt_min": data.maybe(rng.randrange(1, 3)),
                "attempt_max": data.maybe(rng.randrange(3, 6)),
                "rank_min": data.maybe(rng.choice(RANKS)),
                "program": data.maybe({"id": data.new_id(), "name": f"Q{rng.randrange(1, 5)} enablement 🎯"}, 0.5),
                "created_at": iso(data.past()),
            }
        )


def _knowledge_hub(data: Dataset) -> None:
    rng, c = data.rng, data.counts
    for n in range(c.folders):
        parent = rng.choice(data.folders)["id"] if data.folders and rng.random() < 0.4 else None
        created = data.past()
        data.folders.append(
            {
                "id": data.new_id(),
                "name": f"{rng.choice(TOPICS)} space {n}",
                "emoji": rng.choice(EMOJI),
                "parent": parent,
                "visibility": rng.choice(("private", "workspace", "global")),
                "item_count": 0,
                "subfolder_count": 0,
                "created_at": iso(created),
                "updated_at": iso(created + rng.randrange(10**6)),
            }
        )
    for folder in data.folders:
        folder["subfolder_count"] = sum(f["parent"] == folder["id"] for f in data.folders)
    for n in range(c.sources):
        created = data.past()
        status = rng.choice(("pending", "processing", "ready", "ready", "failed"))
        kind = rng.choice(("upload", "url", "notion", "google_drive", "guru", "page", "integration"))
        data.sources.append(
            {
                "id": data.new_id(),
                "title": f"{rng.choice(TOPICS)} deck {n}.pdf",
                "source_type": kind,
                "status": status,
                "content_format": data.maybe(rng.choice(("markdown", "plain_text", "image", "video"))),
                "token_count": rng.randrange(100, 9000) if status == "ready" else None,
                "has_images": rng.random() < 0.3,
                "external_url": f"https://example.com/doc/{n}" if kind == "url" else None,
                "summary": data.maybe(data.text()),
                "cover": "",
                "folders": _folder_refs(data),
                "created_by": data.maybe(data.user_ref(rng.choice(data.users)), 0.2),
                "created_at": iso(created),
                "updated_at": iso(created + 300),
                "processed_at": iso(created + 300) if status == "ready" else None,
            }
        )
    data.sources.sort(key=lambda s: (s["created_at"], s["id"]), reverse=True)
    for n in range(c.pages):
        created = data.past()
        status = rng.choice(("draft", "published", "published"))
        version = rng.randrange(1, 6) if status == "published" else data.maybe(1, 0.5)
        attached = rng.sample(data.sources, k=min(len(data.sources), rng.randrange(0, 3)))
        data.pages.append(
            {
                "id": data.new_id(),
                "title": f"{rng.choice(TOPICS)} guide {n} — ✍️",
                "status": status,
                "visibility": rng.choice(("private", "workspace", "global")),
                "owner": data.maybe(data.user_ref(rng.choice(data.users)), 0.1),
                "folders": _folder_refs(data),
                "skills": [{"id": s["id"], "name": s["name"]} for s in rng.sample(data.skills, k=min(2, len(data.skills)))],
                "source_count": len(attached),
                "version": version,
                "cover": "",
                "published_at": iso(created + 3600) if status == "published" else None,
                "created_at": iso(created),
                "updated_at": iso(min(created + rng.randrange(10**6), EPOCH_NOW)),
                "_sources": [s["id"] for s in attached],
                "_content": f"## {TOPICS[n % len(TOPICS)]}\n\n{data.text(4)}" if status == "published" else None,
                "_draft": data.maybe({"title": f"Draft {n}", "content": data.maybe(data.text(2))}, 0.5),
            }
        )
    if c.pages >= 4:  # two pages edited in the same second, so ties cross page boundaries too
        data.pages[1]["updated_at"] = data.pages[0]["updated_at"]
    for folder in data.folders:
        folder["item_count"] = sum(folder["id"] in {f["id"] for f in item["folders"]} for item in (*data.pages, *data.sources))


def _folder_refs(data: Dataset) -> list[dict[str, Any]]:
    if not data.folders:
        return []
    picked = data.rng.sample(data.folders, k=min(len(data.folders), data.rng.randrange(0, 3)))
    return [{"id": f["id"], "name": f["name"], "emoji": f["emoji"]} for f in picked]
