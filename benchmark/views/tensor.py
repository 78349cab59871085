"""An in-memory view over per-item data a method or a task computed itself.

Not registered for methods to read: it lets a method's second stage (a classifier on its
own frozen embeddings) use the same loaders, samplers and ``Trainer`` as everything else,
and lets the time task hand a method a batch it decoded moments before, so that the
network is timed apart from the decode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Batch

from nfbench.api.view import View


def select_items(data: Any, positions: Tensor) -> Any:
    """Items ``positions`` of batched view data: a tensor, a mapping of tensors, or a PyG ``Batch`` of graphs."""
    if isinstance(data, Tensor):
        return data[positions.to(data.device)]
    if isinstance(data, Mapping):
        return {k: select_items(v, positions) for k, v in data.items()}
    if isinstance(data, Batch):
        if torch.equal(positions.cpu(), torch.arange(data.num_graphs)):
            return data
        return Batch.from_data_list(data.index_select(positions.cpu()))
    raise TypeError(f"cannot select items of {type(data).__name__} view data")


class TensorView(View):
    name = "tensor"
    description = "items held in memory (rows of a tensor, a mapping of them, or graphs), computed from another view"

    def __init__(self, source: View, rows: Any, positions: Tensor | None = None) -> None:
        """``rows`` hold the items of ``source`` at ``positions`` (default: all of them, in order)."""
        labels = source.labels if positions is None else source.labels[positions]
        n = len(rows) if isinstance(rows, Tensor) else None
        if n is not None and n != len(labels):
            raise ValueError(f"{n} rows for {len(labels)} items of a {source.split} view")
        super().__init__(source.info, source.split, labels)
        self.rows = rows

    def read(self, positions: Tensor) -> Any:
        return select_items(self.rows, positions)
