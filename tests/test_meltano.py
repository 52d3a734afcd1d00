"""`meltano run` and `meltano elt` carry every default-selected stream from the simulator into target-jsonl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from tests.expected import ENDPOINTS, expected_records
from tests.test_streams import PER_PARENT

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(Path(sys.executable).with_name("meltano"))


def meltano(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a meltano command in the project, failing the test with its output if it fails."""
    result = subprocess.run([MELTANO, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture
def meltano_env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the project's tap-exec at the simulator, with its own system DB and output folder."""
    env = {
        **os.environ,
        "TAP_EXEC_API_URL": sim.url,
        "TAP_EXEC_API_KEY": sim.api_key,
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "out"),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    (tmp_path / "out").mkdir()
    meltano(["install"], env)
    return env


@pytest.mark.parametrize("command", [["run", "tap-exec", "target-jsonl"], ["elt", "tap-exec", "target-jsonl", "--state-id", "t"]])
def test_meltano_pipeline_lands_every_selected_stream(sim: Simulator, meltano_env: dict[str, str], command: list[str]) -> None:
    result = meltano(command, meltano_env)
    out = Path(meltano_env["TARGET_JSONL_DESTINATION_PATH"])
    landed = {p.stem for p in out.glob("*.jsonl")}
    assert landed == set(ENDPOINTS) - PER_PARENT
    for name in landed:
        rows = [json.loads(line) for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        assert rows == expected_records(sim, name), name
    assert sim.api_key not in result.stdout + result.stderr
