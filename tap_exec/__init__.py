"""tap-exec: a Singer tap for the Exec API, built with the Meltano Singer SDK."""

from __future__ import annotations

import importlib
import typing as t

__all__ = ["TapExec"]


def __getattr__(name: str) -> t.Any:  # noqa: ANN401 - the module's one export, loaded when first asked for
    """`tap_exec.TapExec`, imported on first use: importing a submodule (the schemas) does not load the whole tap."""
    if name == "TapExec":
        return importlib.import_module("tap_exec.tap").TapExec
    raise AttributeError(name)
