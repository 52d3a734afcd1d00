"""A spec-faithful Exec API simulator for tests, the demo and benchmarks."""

from __future__ import annotations

from tap_exec.simulator.data import Counts, Dataset
from tap_exec.simulator.seed import build
from tap_exec.simulator.server import DEFAULT_API_KEY, Faults, Limits, Simulator

__all__ = ["DEFAULT_API_KEY", "Counts", "Dataset", "Faults", "Limits", "Simulator", "build"]
