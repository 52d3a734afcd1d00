"""`python -m tap_exec` runs the tap's command line."""

from __future__ import annotations

from tap_exec.tap import TapExec

TapExec.cli()
