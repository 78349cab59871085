"""Helpers shared by test modules (plain functions; fixtures live in conftest.py)."""

import json
from collections.abc import Callable
from pathlib import Path

from nfbench.store import layout


def edit_meta(root: Path, change: Callable[[dict], None]) -> None:
    """Apply ``change`` to a dataset's meta.json dict and write it back (to fake damaged or edited copies)."""
    path = root / layout.META
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
