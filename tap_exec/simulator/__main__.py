"""`python -m tap_exec.simulator` runs the simulator."""

from __future__ import annotations

from tap_exec.simulator.cli import main

main()
