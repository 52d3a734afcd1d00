"""Print what the demo pipeline landed: rows per table and average score per scenario."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def main(folder: str) -> None:
    """Summarise the JSONL files in `folder`."""
    tables = {
        p.stem: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]
        for p in sorted(Path(folder).glob("*.jsonl"))
    }
    print("\nRows landed per table:")
    for name, rows in tables.items():
        print(f"  {name:<32} {len(rows):>8}")
    scores: dict[str, list[float]] = defaultdict(list)
    valid: dict[str, int] = defaultdict(int)
    for row in tables.get("sessions", []):
        name = row["scenario"]["name"]
        valid[name] += bool(row["is_valid_attempt"])
        if row["score"] is not None:
            scores[name].append(float(row["score"]))
    print("\nTop scenarios by average score (valid attempts):")
    for name in sorted(scores, key=lambda n: -sum(scores[n]) / len(scores[n]))[:5]:
        print(f"  {name:<32} avg {sum(scores[name]) / len(scores[name]):5.1f}  valid {valid[name]:>5}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output")
