"""The one error type for bad input: it always names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Bad or missing input data. ``str(err)`` is a single line: ``<path>: <problem>``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # keep it on one line
        super().__init__(f"{self.path}: {self.problem}")
