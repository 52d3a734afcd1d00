"""Shared fixtures: simulators on free loopback ports, and ways to run the tap against them."""

from __future__ import annotations

import os
import typing as t

import pytest

from tap_exec.simulator import Simulator
from tests.helpers import fast_config, meltano_env_for

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each schemathesis case (one per API operation) its own node id, as its name already is.

    schemathesis 4.32 names them `test_…[GET /sessions]` but sets the node id through `_nodeid`, which pytest 9.2
    no longer reads: every case had the bare function's id, and pytest-xdist's file scheduler (`--dist loadfile`,
    `scripts/test.sh --all`) keeps one test per id, so 1 of the 21 operations ran. (A no-op where ids are distinct.)
    pytest-xdist 3.8's `--dist loadgroup` sets `_nodeid` too, so it does not group under pytest 9.2: not used.
    """
    for item in items:
        if "[" in item.name and not item.nodeid.endswith(item.name) and item.parent is not None:
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.parent.nodeid}::{item.name}")


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start simulators (each on its own free port) and stop them after the test."""
    started: list[Simulator] = []

    def start(**kwargs: t.Any) -> Simulator:
        sim = Simulator(**kwargs).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """A default simulator: seed 7, default counts, no faults, no limits."""
    return make_sim()


@pytest.fixture
def config(sim: Simulator) -> dict[str, t.Any]:
    """Tap settings for the default simulator, with fast retries."""
    return fast_config(sim)


@pytest.fixture
def meltano_env(sim: Simulator, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the project's tap-exec at `sim`, with its own system DB and output paths; plugins installed."""
    return meltano_env_for(sim, tmp_path)


@pytest.fixture
def postgres_url() -> str:
    """The throwaway server scripts/test.sh starts (scripts/pg.sh)."""
    url = os.environ.get("TAP_EXEC_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TAP_EXEC_TEST_PG_URL is not set: run the tests through scripts/test.sh")
        pytest.skip("no PostgreSQL: run through scripts/test.sh, which starts one")
    return url
