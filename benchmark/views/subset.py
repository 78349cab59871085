"""A view restricted to some of another view's items (plugin checks, batch-size invariance)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from nfbench.api.view import View


class SubsetView(View):
    name = "subset"
    description = "the items at given positions of another view, in that order"

    def __init__(self, parent: View, positions: Tensor) -> None:
        super().__init__(parent.info, parent.split, parent.labels[positions])
        self.parent = parent
        self.positions = positions

    def read(self, positions: Tensor) -> Any:
        return self.parent.read(self.positions[positions])
