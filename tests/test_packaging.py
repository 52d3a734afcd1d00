"""The distributions hold everything the tap needs, install alone, and add to another Meltano project in one line.

The wheel and sdist are built once for this module; both tests install that wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import catalog_for, fast_config, parse

if t.TYPE_CHECKING:
    from tap_exec.simulator import Simulator

pytestmark = pytest.mark.e2e  # builds the wheel, installs it in new environments and a new Meltano project

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args[:4]}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist of this checkout, built once."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, out.iterdir())])
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    return next(dist.glob("*.whl"))


@pytest.fixture(scope="module")
def alone(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with nothing but the wheel and what it requires, away from this checkout."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)])
    return venv / "bin"


def test_the_distributions_hold_everything_with_complete_metadata(dist: Path, wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    schemas = {p.name for p in (ROOT / "tap_exec" / "schemas").glob("*.json")}
    assert {f"tap_exec/schemas/{name}" for name in schemas} <= names
    assert {"tap_exec/py.typed", "tap_exec/simulator/server.py", "tap_exec/plan.py"} <= names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "Requires-Dist: singer-sdk<0.55,>=0.54.2" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    keywords = next(line for line in metadata.splitlines() if line.startswith("Keywords: "))
    assert set(keywords.removeprefix("Keywords: ").split(",")) == {
        "ELT",
        "Exec",
        "singer",
        "singer-tap",
        "meltano",
        "meltano_sdk",
    }
    assert "Project-URL: Repository, " in metadata
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert all(f"{cmd} = " in entry_points for cmd in ("tap-exec", "exec-simulator", "tap-exec-plan"))
    assert next(dist.glob("*.tar.gz")).stat().st_size > 0


def test_the_wheel_alone_plans_and_syncs_against_its_own_simulator(alone: Path, tmp_path: Path) -> None:
    """No checkout beside it: `tap-exec --about`, `exec-simulator`, `tap-exec-plan` and a sync, from the install."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    about = json.loads(_run([str(alone / "tap-exec"), "--about", "--format=json"], cwd=tmp_path, env=env))
    assert about["name"] == "tap-exec"
    url_file = tmp_path / "url"
    simulator = subprocess.Popen(
        [str(alone / "exec-simulator"), "--url-file", str(url_file)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            if url_file.exists() and url_file.read_text().strip():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        from tap_exec.simulator import DEFAULT_API_KEY

        config = {"api_key": DEFAULT_API_KEY, "api_url": url_file.read_text().strip(), "max_requests_per_minute": 100_000}
        (tmp_path / "config.json").write_text(json.dumps(config))
        plan = _run([str(alone / "tap-exec-plan"), "--config", "config.json"], cwd=tmp_path, env=env)
        assert "today's budget" in plan
        out = parse(_run([str(alone / "tap-exec"), "--config", "config.json"], cwd=tmp_path, env=env))
        assert len(out.records("sessions")) == 1500
        assert out.last_state is not None
    finally:
        simulator.terminate()
        simulator.wait()


@pytest.fixture
def meltano_project(tmp_path: Path, wheel: Path) -> tuple[Path, dict[str, str]]:
    """A new Meltano project, away from this checkout, with the tap's plugin definition pointed at the built wheel."""
    meltano = str(Path(sys.executable).with_name("meltano"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_EXEC", "MELTANO_"))},
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    _run([meltano, "init", "project", "--no-usage-stats"], cwd=tmp_path, env=env)
    project = tmp_path / "project"
    definition = yaml.safe_load((ROOT / "tap-exec.yml").read_text(encoding="utf-8"))
    definition["pip_url"] = str(wheel)  # the published definition installs from the repository; here, the wheel
    (tmp_path / "tap-exec.yml").write_text(yaml.safe_dump(definition), encoding="utf-8")
    return project, env


def test_a_meltano_project_adds_the_tap_in_one_line_and_runs_it(
    meltano_project: tuple[Path, dict[str, str]], sim: Simulator, tmp_path: Path
) -> None:
    project, env = meltano_project
    meltano = str(Path(sys.executable).with_name("meltano"))
    _run([meltano, "add", "extractor", "tap-exec", "--from-ref", str(tmp_path / "tap-exec.yml")], cwd=project, env=env)
    _run([meltano, "config", "set", "tap-exec", "api_key", sim.api_key], cwd=project, env=env)
    listed = _run([meltano, "config", "list", "tap-exec"], cwd=project, env=env)
    assert "api_key [env: TAP_EXEC_API_KEY] current value: (redacted)" in listed  # sensitive: never shown
    assert sim.api_key not in listed + (project / "meltano.yml").read_text(encoding="utf-8")
    assert sim.api_key in (project / ".env").read_text(encoding="utf-8")  # kept out of the project file
    with (project / "meltano.yml").open("a", encoding="utf-8") as handle:  # a loader, as a project would have one
        handle.write("  loaders:\n  - name: target-jsonl\n    namespace: target_jsonl\n    pip_url: target-jsonl==0.1.4\n")
        handle.write("    config:\n      destination_path: output\n      do_timestamp_file: false\n")
    _run([meltano, "install"], cwd=project, env=env)
    run_env = {**env, "TAP_EXEC_API_URL": sim.url, "TAP_EXEC_MAX_REQUESTS_PER_MINUTE": "100000"}
    _run([meltano, "run", "tap-exec", "target-jsonl"], cwd=project, env=run_env)
    sessions = (project / "output" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(sessions) == len(sim.data.sessions)
    plan = _run([meltano, "invoke", "tap-exec:plan"], cwd=project, env=run_env)
    assert "sessions" in plan
    assert "today's budget" in plan
    _assert_discovery_matches_this_checkout(project, run_env, fast_config(sim))


def _assert_discovery_matches_this_checkout(project: Path, env: dict[str, str], config: dict[str, t.Any]) -> None:
    """The catalog the Meltano project hands its installed tap holds this checkout's streams, each as discovered here.

    `meltano invoke --dump=catalog` gives the discovery of the tap installed in the project (Meltano's cached copy
    from the run above, the catalog that run used) after the project's rules; only `selected` flags may differ.
    """
    meltano = str(Path(sys.executable).with_name("meltano"))
    dumped = json.loads(_run([meltano, "invoke", "--dump=catalog", "tap-exec"], cwd=project, env=env))
    theirs = {s["tap_stream_id"]: s for s in dumped["streams"]}
    ours = {s["tap_stream_id"]: s for s in json.loads(json.dumps(catalog_for(config)))["streams"]}  # as JSON: lists

    def described(stream: dict[str, t.Any]) -> dict[str, t.Any]:
        metadata = {
            tuple(m["breadcrumb"]): {k: v for k, v in m["metadata"].items() if k != "selected"} for m in stream["metadata"]
        }
        return {**{k: v for k, v in stream.items() if k not in {"metadata", "selected"}}, "metadata": metadata}

    assert sorted(theirs) == sorted(ours)
    for name, stream in ours.items():
        assert described(theirs[name]) == described(stream), name
