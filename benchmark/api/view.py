"""What a method reads: a per-split, per-item view of an INR dataset.

A view is a ``torch.utils.data.Dataset`` over one split, so a method trains from disk
with bounded memory, a ``DistributedSampler`` can split it over ranks, and the runner
decides which splits a method ever receives (``fit`` gets train and val; the test view
is created only inside a task's evaluation). A view never holds the dataset object
itself: only readers restricted to its own items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from nfbench.fields import FieldSpec

ViewName = Literal["weights", "weight-graph", "field", "points", "voxels", "renders", "latents"]
InputMode = Literal["fields", "source"]
"""``fields``: everything a method reads comes from the INRs (decoded where needed).
``source``: the original discrete data the INRs were fitted to (upper-bound baselines)."""


class DataInfo(BaseModel):
    """What a method may know about a dataset before seeing any item: no data, no paths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: FieldSpec
    field_kind: str
    class_names: tuple[str, ...]
    input_mode: InputMode = "fields"

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


class View(Dataset, ABC):
    """One split seen one way. Items are what the method consumes; ``collate`` batches them."""

    name: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, info: DataInfo, split: str, labels: Tensor) -> None:
        self.info = info
        self.split = split
        self.labels = labels  # (N,) int64: the class of each item, in item order

    def __len__(self) -> int:
        return len(self.labels)

    @abstractmethod
    def __getitem__(self, i: int) -> Any: ...

    def collate(self, items: Sequence[Any]) -> Any:
        return torch.utils.data.default_collate(list(items))

    def loader(
        self, batch_size: int, *, shuffle: bool = False, seed: int = 0, drop_last: bool = False, num_workers: int = 0
    ) -> DataLoader:
        """Batches in item order (or a seeded shuffle); sharded over ranks when distributed."""
        from nfbench.training.distributed import sampler_for

        sampler = sampler_for(self, shuffle=shuffle, seed=seed, drop_last=drop_last)
        return DataLoader(
            self,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=self.collate,
            drop_last=drop_last,
            num_workers=num_workers,
        )

    def batches(self, batch_size: int) -> Any:
        """All items in order, in batches, on one process (inference and evaluation)."""
        return DataLoader(self, batch_size=batch_size, shuffle=False, collate_fn=self.collate)
