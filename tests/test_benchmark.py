"""The benchmark script runs end to end on a tiny size (no timing is asserted: figures belong in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # runs the whole benchmark script, small

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_runs_on_a_tiny_size(tmp_path: Path) -> None:
    args = ["--sizes", "300", "700", "--rate-requests", "7", "--rate-limit", "3", "--rate-window", "1", "--out", str(tmp_path)]
    args += ["--daily-grid", "10", "--daily-quick", "--versus-sizes", "200", "500", "--repeats", "1"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert (
        [row["requests"] for row in report["throughput"]] == [row["minimum_requests"] for row in report["throughput"]] == [3, 7]
    )
    assert all(row["same_requests"] and row["same_messages"] for row in report["throughput"]), "the baseline does the same"
    assert [row["records"] for row in report["throughput"]] == [300, 700]
    assert report["all_streams"]["requests"] == report["all_streams"]["minimum_requests"]
    assert report["rate_limited"]["429s"] == 0
    assert report["rate_limited"]["requests"] == 7
    assert (tmp_path / "throughput.png").stat().st_size > 0
    day = report["daily"]["changed_days"][0]
    assert day["after"] == day["floor"] < day["before"]  # a changed day costs exactly its changes
    assert (tmp_path / "daily.png").stat().st_size > 0
    assert "rate-limited: 7 requests at 3/1s" in result.stdout
    versus = report["versus"]
    assert [row["sessions"] for row in versus["sizes"]] == [200, 500]
    assert all(row["tap_cpu_s"] > 0 and row["base_cpu_s"] > 0 and row["tap_peak_mb"] > 0 for row in versus["sizes"])
    assert "versus the bare loop" in result.stdout
    assert "marginal 200 -> 500" in result.stdout
