"""The floor for CPU per record: a hand-written Singer tap for GET /sessions with plain requests + json.

Same pages, same requests, same Singer messages as tap-exec's `sessions` stream; none of the SDK's machinery.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import requests


def main(api_url: str, api_key: str, page_size: int = 100) -> None:
    """Read every session, oldest first, and write SCHEMA, RECORD and STATE messages to stdout."""
    schema = json.loads((Path(__file__).parents[1] / "tap_exec" / "schemas" / "sessions.json").read_text(encoding="utf-8"))
    out = sys.stdout
    out.write(json.dumps({"type": "SCHEMA", "stream": "sessions", "schema": schema, "key_properties": ["id"]}) + "\n")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_key}"
    end = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    page, bookmark = 1, None
    while True:
        params: dict[str, str | int] = {"sorting": "created_at", "end_date": end, "page": page, "page_size": page_size}
        response = session.get(f"{api_url}/sessions", params=params, timeout=30)
        response.raise_for_status()
        body = response.json()
        extracted = datetime.now(timezone.utc).isoformat()
        for row in body["data"]:
            out.write(json.dumps({"type": "RECORD", "stream": "sessions", "record": row, "time_extracted": extracted}) + "\n")
            bookmark = row["created_at"]
        if page >= body["pagination"]["total_pages"]:
            break
        page += 1
    state = {"bookmarks": {"sessions": {"replication_key": "created_at", "replication_key_value": bookmark}}}
    out.write(json.dumps({"type": "STATE", "value": state}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
