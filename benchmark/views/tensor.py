"""An in-memory view over per-item tensors a method computed itself (e.g. frozen embeddings).

Not registered for methods to read: it lets a method's second stage (a classifier on its
own embeddings) use the same loaders, samplers and ``Trainer`` as everything else.
"""

from __future__ import annotations

from torch import Tensor

from nfbench.api.view import View


class TensorView(View):
    name = "tensor"
    description = "rows of a tensor held in memory, one per item of the split it was computed from"

    def __init__(self, source: View, rows: Tensor) -> None:
        if len(rows) != len(source):
            raise ValueError(f"{len(rows)} rows for a {source.split} view of {len(source)} items")
        super().__init__(source.info, source.split, source.labels)
        self.rows = rows

    def read(self, positions: Tensor) -> Tensor:
        return self.rows[positions]
