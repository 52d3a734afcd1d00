"""tap-exec: a Singer tap for the Exec API, built with the Meltano Singer SDK."""

from __future__ import annotations

from tap_exec.tap import TapExec

__all__ = ["TapExec"]
