"""What a method reads: a per-split, per-item view of an INR dataset.

A view is a ``torch.utils.data.Dataset`` over one split, so a method trains from disk
with bounded memory, a ``DistributedSampler`` can split it over ranks, and the runner
decides which splits a method ever receives (``fit`` gets train and val; the test view
is created only inside a task's evaluation). A view never holds the dataset object
itself: only readers restricted to its own items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from nfbench.fields import FieldSpec, Params

ViewName = Literal["weights", "weight-graph", "field", "points", "voxels", "renders", "latents", "supervision"]
Axis = Literal["x", "y", "z"]
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
    up_axis: Axis | None = None  # the axis the shapes stand along, from the dataset card; None: 2-D or unknown

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def up(self, configured: Axis | None, who: str) -> Axis:
        """``configured``, or else the dataset's up axis; a one-line error when neither says."""
        axis = configured or self.up_axis
        if axis is None:
            from nfbench.errors import ConfigError

            raise ConfigError(f"{who} needs the shapes' up axis: this dataset's card declares none, so set it in the config (x, y or z)")
        return axis


@dataclass
class ViewBatch:
    """A minibatch of a view: the view's data, the items' labels and their positions in the view."""

    data: Any
    labels: Tensor
    index: Tensor

    def __len__(self) -> int:
        return len(self.index)

    def to(self, device: torch.device) -> ViewBatch:
        from nfbench.training.trainer import to_device

        return ViewBatch(to_device(self.data, device), self.labels.to(device), self.index.to(device))


class EvenBatches(Sampler[list[int]]):
    """Cuts each epoch of ``sampler`` into ``ceil(n / batch_size)`` near-equal minibatches.

    Never a lone sample in a batch (BatchNorm rejects those in training mode), and the
    batch count per epoch is known in advance for one-cycle schedules.
    """

    def __init__(self, sampler: Sampler[int], batch_size: int) -> None:
        self.sampler = sampler
        self.batch_size = batch_size

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to the sampler (``DistributedSampler`` and the seeded single-process shuffle)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return n_batches(len(self.sampler), self.batch_size)  # type: ignore[arg-type]

    def __iter__(self):  # type: ignore[no-untyped-def]
        if len(self.sampler) == 0:  # type: ignore[arg-type]
            raise ValueError("cannot train on an empty view (no items in this split)")
        order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        yield from (chunk.tolist() for chunk in order.tensor_split(len(self)))


def n_batches(n: int, batch_size: int) -> int:
    """Minibatches per epoch: ``ceil(n / batch_size)``, but never so many that one holds a lone sample."""
    return max(1, min(-(-n // batch_size), n // 2))


class View(Dataset, ABC):
    """One split seen one way, read item by item from disk (or from a decoded-view cache).

    Subclasses implement ``read(positions) -> data`` for a batch of item positions; the
    loader turns each minibatch into a ``ViewBatch`` with one read per batch, not per item.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    resolution_option: ClassVar[str | None] = None
    """The view option that sets how finely a field is decoded (points, grid cells, pixels), if any:
    the x axis of the timing page."""

    def __init__(self, info: DataInfo, split: str, labels: Tensor) -> None:
        self.info = info
        self.split = split
        self.labels = labels  # (N,) int64: the class of each item, in item order
        self._granted_sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def decoded_without_surface(self) -> int:
        """Items whose decode from the INR found no surface and holds a fallback (decoded views); 0 otherwise."""
        return 0

    @property
    def decode_ms_per_inr(self) -> float:
        """Wall time per item of decoding this view's data from the INRs, paid once where it is cached
        (a user holding only INRs pays it per INR); 0 for views read straight from the weights."""
        return 0.0

    def grant_sources(self, names: tuple[str, ...]) -> None:
        """Called by the runner on the train and val views of a method whose config declares
        ``training_sources``; never on a test view. The record lists what was granted."""
        self._granted_sources = tuple(names)

    def training_source(self, positions: Tensor, name: str) -> Tensor:
        """Stored source data (``points``, ``voxels``, ``images``) of items, as a training signal only.

        The released nf2vec regresses the source shape's field; nfbench allows it for the
        train and val views of methods that declare it, so that test inputs stay INR-only.
        """
        from nfbench.errors import ConfigError

        if name not in self._granted_sources:
            raise ConfigError(
                f"the {self.split} {self.name} view grants no source {name!r} (granted: {list(self._granted_sources)}); "
                "declare it in the method's training_sources, and only train and val views get it"
            )
        reader = getattr(self, "_reader", None)
        if reader is None:
            raise ConfigError(f"the {self.name} view reads no dataset items, so it has no source data")
        return reader.source(positions.cpu(), [name])[name]

    @abstractmethod
    def read(self, positions: Tensor) -> Any:
        """The data of the items at ``positions`` (int64, within this view), batched."""

    def __getitem__(self, i: int) -> ViewBatch:
        return self.__getitems__([i])

    def __getitems__(self, positions: Sequence[int]) -> ViewBatch:
        index = torch.as_tensor(list(positions), dtype=torch.long)
        return ViewBatch(self.read(index), self.labels[index], index)

    def loader(self, batch_size: int, *, shuffle: bool = False, seed: int = 0, num_workers: int = 0) -> DataLoader:
        """Minibatches for training: a seeded shuffle (one generator for all epochs), near-equal
        batch sizes, and sharded over ranks when launched with torchrun."""
        from nfbench.training.distributed import sampler_for

        sampler = sampler_for(self, shuffle=shuffle, seed=seed, drop_last=False)
        return DataLoader(
            self, batch_sampler=EvenBatches(sampler, batch_size), collate_fn=_first, num_workers=num_workers
        )

    def batches(self, batch_size: int) -> Iterator[ViewBatch]:
        """All items in view order, on this process (inference and evaluation)."""
        for chunk in torch.arange(len(self)).split(batch_size):
            yield self.__getitems__(chunk.tolist())


@runtime_checkable
class FromParams(Protocol):
    """A view computed from the INRs' parameters, the cost an INR-stored dataset pays at inference.

    The time task reads a batch's stored parameters once, then times ``from_params`` (the
    decode: nothing for ``weights``, a graph for ``weight-graph``, a surface cloud, a grid
    or renders for the decoded views) apart from the method's network.
    """

    def params(self, positions: Tensor) -> Params:
        """The stored parameters of the items at ``positions``."""
        ...

    def from_params(self, params: Params) -> Any:
        """This view's data for INRs with ``params``, computed afresh (never from a cache)."""
        ...


def _first(batch: ViewBatch) -> ViewBatch:
    """``collate_fn``: ``__getitems__`` already returns the whole minibatch."""
    return batch
