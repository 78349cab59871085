"""What a view is built from: the dataset, restricted per split, and where decoded views are cached."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress
from torch import Tensor

from nfbench.api.view import DataInfo, InputMode
from nfbench.fields import Params
from nfbench.store.reader import INRDataset


class SplitReader:
    """Reads the items of one split only: positions ``0..n-1`` map to that split's INRs.

    Views hold this, never the dataset: a method given the train view has no call that
    returns a test item. It pickles without open file handles (DataLoader workers).
    """

    def __init__(self, dataset: INRDataset, split: str, per_class: int | None = None) -> None:
        self._dataset = dataset
        self.split = split
        self.indices = first_per_class(dataset, dataset.split_indices(split), per_class)
        self.name = split if per_class is None else f"{split}-first{per_class}"  # names its decoded caches

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> Tensor:
        return self._dataset.labels_of(self.indices)

    @property
    def keys(self) -> list[str]:
        return [str(k) for k in self._dataset.items.loc[self.indices.tolist(), "key"]]

    def params(self, positions: Tensor) -> Params:
        return self._dataset.read_params(self.indices[positions])

    def source(self, positions: Tensor, names: Sequence[str]) -> dict[str, Tensor]:
        return self._dataset.read_source(self.indices[positions], names)

    def source_names(self) -> list[str]:
        return list(self._dataset.source_names)


def first_per_class(dataset: INRDataset, indices: Tensor, per_class: int | None) -> Tensor:
    """The first ``per_class`` items of each class among ``indices`` (build order), or all of them.

    Deterministic, and nested: the subset for N is contained in the one for any larger N,
    so one build serves every point of a learning curve.
    """
    if per_class is None:
        return indices
    labels = dataset.labels_of(indices)
    order = torch.argsort(labels, stable=True)  # build order within each class
    sorted_labels = labels[order]
    starts = torch.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = torch.arange(len(order)) - starts
    return indices[order[rank < per_class]].sort().values


@dataclass(frozen=True)
class ViewContext:
    """Everything a view class needs to open one split of one dataset for one method."""

    dataset: INRDataset
    info: DataInfo
    input_mode: InputMode
    device: torch.device
    cache_root: Path  # decoded views: <cache_root>/<dataset fingerprint>/<view>-<settings>/<split>
    options: dict[str, Any] = field(default_factory=dict)
    progress: Progress | None = None
    train_per_class: int | None = None  # learning curves: only the first N train items of each class

    def reader(self, split: str) -> SplitReader:
        return SplitReader(self.dataset, split, self.train_per_class if split == "train" else None)
