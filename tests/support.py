"""Helpers shared by test modules (plain functions; fixtures live in conftest.py)."""

import json
from collections.abc import Callable
from pathlib import Path

from torch import Tensor

from nfbench.api import DataInfo, View
from nfbench.fields import Params
from nfbench.store import layout


def edit_meta(root: Path, change: Callable[[dict], None]) -> None:
    """Apply ``change`` to a dataset's meta.json dict and write it back (to fake damaged or edited copies)."""
    path = root / layout.META
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


class ParamsView(View):
    """A weights view over stacked parameters held in memory."""

    name = "weights"
    description = "synthetic weights"

    def __init__(self, info: DataInfo, split: str, params: Params, labels: Tensor) -> None:
        super().__init__(info, split, labels)
        self.params = params

    def read(self, positions: Tensor) -> Params:
        return {n: p[positions] for n, p in self.params.items()}
