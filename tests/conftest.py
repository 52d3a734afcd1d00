"""Shared fixtures: simulators on free loopback ports, and ways to run the tap against them."""

from __future__ import annotations

import typing as t

import pytest

from tap_exec.simulator import Simulator
from tests.helpers import fast_config, meltano_env_for

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


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
