"""What a view is built from: the dataset, restricted per split, and where decoded views are cached."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from pydantic import BaseModel
from rich.progress import Progress
from torch import Tensor

from nfbench.api.view import DataInfo, InputMode, View
from nfbench.datasets.base import Shape
from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.store.reader import INRDataset
from nfbench.store.schema import ItemRecord


class SplitReader:
    """Reads the items of one split only: positions ``0..n-1`` map to that split's INRs.

    Views hold this, never the dataset: a method given the train view has no call that
    returns a test item. It pickles without open file handles (DataLoader workers).
    """

    def __init__(self, dataset: INRDataset, split: str, per_class: int | None = None, first: int | None = None) -> None:
        """``per_class``: the first items of each class (learning curves); ``first``: the split's first items (timing)."""
        self._dataset = dataset
        self.split = split
        self.indices = first_per_class(dataset, dataset.split_indices(split), per_class)[:first]
        self.name = split if per_class is None else f"{split}-first{per_class}"  # names its decoded caches
        self.name += "" if first is None else f"-head{first}"

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
    """The first ``per_class`` shapes of each class among ``indices`` (build order), or all of them.

    Augmented copies (``--augment``) do not count as shapes: each chosen shape brings its
    copies along, so "N with --augment K" trains on N real shapes and their K copies each.
    Deterministic, and nested: the subset for N is contained in the one for any larger N,
    so one build serves every point of a learning curve.
    """
    if per_class is None:
        return indices
    items = dataset.items.loc[indices.tolist()]
    copy_of = items["augment_of"] if "augment_of" in items else None
    is_copy = torch.as_tensor(copy_of.notna().to_numpy(copy=True)) if copy_of is not None else torch.zeros(len(indices), dtype=torch.bool)
    originals = indices[~is_copy]
    labels = dataset.labels_of(originals)
    order = torch.argsort(labels, stable=True)  # build order within each class
    sorted_labels = labels[order]
    rank = torch.arange(len(order)) - torch.searchsorted(sorted_labels, sorted_labels, side="left")
    chosen = originals[order[rank < per_class]]
    if copy_of is not None and bool(is_copy.any()):
        keys = set(items.loc[chosen.tolist(), "key"])
        copies = indices[is_copy][torch.as_tensor(copy_of[is_copy.numpy()].isin(keys).to_numpy(copy=True))]
        chosen = torch.cat([chosen, copies])
    return chosen.sort().values


OptionsT = TypeVar("OptionsT", bound=BaseModel)


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
    first: int | None = None  # every split: only its first N items (timing)
    root: Path | None = None  # the raw data the dataset was built from: views and scores that read the source shapes

    def reader(self, split: str) -> SplitReader:
        return SplitReader(self.dataset, split, self.train_per_class if split == "train" else None, self.first)

    def source_items(self, split: str) -> tuple[list[ItemRecord], Callable[[ItemRecord], Shape]]:
        """The split's item records (view order) and the loader of an item's normalized source shape, as
        the build loaded it (``nfbench.fitting.build.load_item_shape``): for views and scores that go back
        to the source shapes."""
        from nfbench.datasets import DATASETS
        from nfbench.fitting.build import load_item_shape

        data = self.dataset
        name = data.meta.card.get("name", "")
        if name not in DATASETS.names():
            raise ConfigError(f"dataset {data.meta.name!r} was built from {name!r}, which is not registered here: its source shapes cannot be read")
        source = DATASETS.get(name)()
        if source.card.needs_root and self.root is None:
            raise ConfigError(f"reading the source shapes of {data.meta.name!r} needs --root, the {name} data it was built from")
        by_index = {item.index: item for record in data.records for item in record.items}
        items = [by_index[i] for i in self.reader(split).indices.tolist()]
        return items, lambda item: load_item_shape(source, self.root, item, data.meta.build.seed)

    def parse_options(self, model: type[OptionsT], view: str) -> OptionsT:
        """The method's view options validated by the view's options class; a bad one is a one-line error."""
        try:
            return model.model_validate(self.options)
        except ValueError as exc:
            raise ConfigError(f"{view} view options {self.options}: {str(exc).splitlines()[-1]}") from exc


class INRView(View):
    """A view read from the INRs themselves (weights, the function, samples of it).

    It has no ``--input source`` form; ``check`` refuses architectures the view cannot read.
    """

    def __init__(self, ctx: ViewContext, reader: SplitReader) -> None:
        super().__init__(ctx.info, reader.split, reader.labels)
        self._reader = reader

    @classmethod
    def check(cls, ctx: ViewContext) -> None:
        """Raise a ``ConfigError`` for a dataset this view cannot read (default: any dataset of INRs works)."""

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> INRView:
        if ctx.input_mode != "fields":
            raise ConfigError(f"the {cls.name!r} view reads the INRs themselves; it has no --input {ctx.input_mode} form")
        cls.check(ctx)
        return cls(ctx, ctx.reader(split))

    def params(self, positions: Tensor) -> Params:
        return self._reader.params(positions)

    @abstractmethod
    def from_params(self, params: Params) -> Any:
        """The view's data for a batch of INRs (``FromParams``): ``read`` is this on the stored parameters."""

    def read(self, positions: Tensor) -> Any:
        return self.from_params(self._reader.params(positions))
