"""Errors that are the user's to fix. The CLI prints them as one line, without a traceback.

Anything else that escapes is a bug in nfbench or a plugin and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Base of every error caused by input the user can correct (data, names, options, disk)."""


class DataError(UserError):
    """Bad or missing input data or output location. ``str(err)`` is one line: ``<path>: <problem>``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # keep it on one line
        super().__init__(f"{self.path}: {self.problem}")


class ConfigError(UserError):
    """A bad option value (``--set key=value``, a preset name, an unsupported combination)."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
