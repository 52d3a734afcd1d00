"""The README's Meltano lines, in the order written, in a fresh copy of the project: what a new clone holds, no more.

No `.meltano/`, nothing in `output/` but its `.gitignore`, no `.env`: `meltano install`, then every line of "Usage with
Meltano" and "Modelled data", against the simulator (and the test PostgreSQL server where a line names one).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tap_exec.simulator import Counts, build
from tests.helpers import ROOT

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from tap_exec.simulator import Simulator

pytestmark = pytest.mark.e2e

SECTIONS = ("## Usage with Meltano", "## Modelled data")
PLACEHOLDER_URL = "postgresql+psycopg://user:pass@host/db"


def readme_lines(heading: str) -> list[str]:
    """The commands of the first bash block under `heading`, comments dropped."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"\n{heading}\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def fresh_copy(into: Path) -> Path:
    """The files a clone of this checkout has (git's list when there is one), copied to `into`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        files = [name for name in listed.stdout.split("\0") if name]
    else:  # an unpacked sdist: everything but what runs write
        skip = {".venv", ".meltano", ".git", "output", "dist", "build", ".env", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    for name in files:
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


@pytest.fixture
def database(postgres_url: str) -> str:
    """A database of its own on the test server, as a URL."""
    import psycopg

    name = f"readme_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"create database {name}")
    return urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))


def test_the_readme_meltano_lines_work_in_order_on_a_fresh_clone(
    make_sim: Callable[..., Simulator], tmp_path: Path, database: str
) -> None:
    import duckdb

    sim = make_sim(data=build(11, Counts.scaled(0.2)))

    project = fresh_copy(tmp_path / "tap-exec")
    assert not (project / ".meltano").exists()
    assert [p.name for p in (project / "output").iterdir()] == [".gitignore"]
    url = urlsplit(database)
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_EXEC", "MELTANO_", "TARGET_", "DBT_"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",  # meltano, as after `bash scripts/bootstrap.sh`
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_EXEC_API_URL": sim.url,  # the README: "with the simulator or a real key in the environment"
        "TAP_EXEC_API_KEY": sim.api_key,
        "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000",  # the simulator has no limit
        "DBT_POSTGRES_HOST": url.hostname or "",  # the README: dbt-postgres "settings below"
        "DBT_POSTGRES_PORT": str(url.port or 5432),
        "DBT_POSTGRES_USER": url.username or "",
        "DBT_POSTGRES_DBNAME": url.path.lstrip("/"),
    }
    lines = [line for heading in SECTIONS for line in readme_lines(heading)]
    assert lines[0] == "meltano install"
    assert "meltano run tap-exec target-duckdb" in lines
    assert "meltano run tap-exec target-duckdb dbt-duckdb:build" in lines
    script = "\n".join(["set -euxo pipefail", *lines]).replace(
        PLACEHOLDER_URL, database.replace("postgresql:", "postgresql+psycopg:")
    )
    result = subprocess.run(  # one shell, as a reader types them in one terminal; -x names the line that fails
        ["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"

    sessions = len(sim.data.sessions)
    with duckdb.connect(str(project / "output" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from exec.sessions").fetchone() == (sessions,)
        assert con.execute("select sum(sessions) from exec_analytics.scenario_practice").fetchone() == (sessions,)
    landed = (project / "output" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(row)["id"] for row in landed} == {s.id for s in sim.data.sessions}
    assert (project / ".meltano" / "dbt" / "duckdb" / "target" / "catalog.json").exists()  # dbt-duckdb:docs
