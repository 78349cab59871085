"""What a dataset module provides: a card, an item index and a loader of raw shapes.

Dataset modules only *read* raw data. Normalization, query sampling, fitting and storage
are shared code in ``nfbench`` so that every dataset is turned into INRs the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nfbench.errors import ConfigError
from nfbench.hashing import sha256_file as file_sha256  # noqa: F401 (re-exported for dataset modules)

Split = Literal["train", "val", "test"]


class DatasetCard(BaseModel):
    """Metadata shown by ``nfbench data list`` and stored with every built dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    source: str
    citation: str
    classes: int
    field_kinds: tuple[str, ...] = Field(
        min_length=1, description="names in nfbench.fields.kinds.FIELD_KINDS (checked when a build resolves them)"
    )
    default_field: str
    default_preset: str
    needs_root: bool
    layout: str = ""
    up_axis: Literal["x", "y", "z"] | None = Field(
        None, description="the axis the shapes stand along (rotation augmentations, camera rings); None: 2-D or unverified"
    )

    @model_validator(mode="after")
    def _default_is_supported(self) -> DatasetCard:
        if self.default_field not in self.field_kinds:
            raise ValueError(f"default_field {self.default_field!r} is not one of field_kinds {list(self.field_kinds)}")
        return self


@dataclass(frozen=True)
class ItemRef:
    """A stable pointer to one raw shape.

    ``key`` is unique inside the dataset and stable across runs (it orders the items);
    ``locator`` is whatever the loader needs to read it back (a relative path, or
    ``file.h5#row``); ``fingerprint`` identifies the raw content (e.g. sha256 of the file,
    plus the row) so a built dataset can tell when its source changed.
    """

    key: str
    split: Split
    label: int
    locator: str
    fingerprint: str


@dataclass(frozen=True)
class Limits:
    """How many items per class each split keeps (``--limit``, ``--limit-train``, ``--limit-test``).

    ``default`` caps both splits, as ``--limit`` always did; ``train`` and ``test``
    override it for one split, so a build can take more train shapes while its test set
    stays exactly that of a plain ``--limit`` build (loaders keep the *first* N in their
    own order, so a smaller cap selects a prefix of a larger one). ``val`` is carved from
    train afterwards. ``None`` means no cap (or, for generated datasets, their default).
    """

    default: int | None = None
    train: int | None = None
    test: int | None = None

    def __post_init__(self) -> None:
        for flag, n in (("--limit", self.default), ("--limit-train", self.train), ("--limit-test", self.test)):
            if n is not None and n < 1:
                per = "per class and split" if flag == "--limit" else "per class"
                raise ConfigError(f"{flag} {n}: limit must be >= 1 (a positive number of items {per})")

    @classmethod
    def of(cls, limit: int | Limits | None) -> Limits:
        """A plain ``--limit N`` (or None) as limits; validated either way."""
        return limit if isinstance(limit, Limits) else cls(limit)

    def cap(self, split: str) -> int | None:
        """Items per class kept in ``split`` (``train`` or ``test``)."""
        override = self.train if split == "train" else self.test
        return self.default if override is None else override


@dataclass
class Shape:
    """Raw shape content as read from disk, in the source's own coordinates.

    A loader fills what its source has; the target code converts between kinds (a mesh
    gives surface points for a udf, a mesh gives voxels for occ, ...).
    """

    points: np.ndarray | None = None  # (P, 3) float32
    vertices: np.ndarray | None = None  # (V, 3) float32
    faces: np.ndarray | None = None  # (F, 3) int64
    voxels: np.ndarray | None = None  # (R, R, R) bool, axes x, y, z over [-1, 1]^3
    image: np.ndarray | None = None  # (H, W, C) float32 in [0, 1]
    point_parts: np.ndarray | None = None  # (P,) int64 part id per point
    face_parts: np.ndarray | None = None  # (F,) int64 part id per face
    part_colors: np.ndarray | None = None  # (K, 3) float32 RGB in [0, 1], indexed by part id
    extras: dict[str, np.ndarray] = field(default_factory=dict)


class ShapeDataset:
    """Base class of dataset modules. Subclasses set ``card`` and implement two methods."""

    card: ClassVar[DatasetCard]

    def class_names(self, root: Path | None) -> list[str]:
        raise NotImplementedError

    def list_items(self, root: Path | None, limit: int | Limits | None, seed: int) -> list[ItemRef]:
        """Train and test items (val is carved from train by the caller), sorted by key.

        ``limit`` caps the number of items per class in each split (``Limits.of(limit).cap(split)``,
        the first ones in the source's order); ``seed`` only matters
        for generated datasets. Raise ``nfbench.errors.DataError`` naming the root or file
        when the layout is wrong.
        """
        raise NotImplementedError

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        """Read one shape; raise ``DataError`` naming the file on unreadable/empty/NaN input."""
        raise NotImplementedError


def carve_val(items: list[ItemRef], fraction: float = 0.1) -> list[ItemRef]:
    """Move a deterministic ``fraction`` of each class's train items to ``val``.

    Selection ranks items by sha256 of their key, so it depends neither on the order of
    listing nor on a random state, and a shape keeps its split when ``--limit`` grows only
    if it stays among the lowest-ranked (documented in the format notes).
    """
    by_class: dict[int, list[ItemRef]] = {}
    for it in items:
        if it.split == "train":
            by_class.setdefault(it.label, []).append(it)
    to_val: set[str] = set()
    for members in by_class.values():
        if len(members) < 2:
            continue
        n_val = max(1, round(fraction * len(members)))
        ranked = sorted(members, key=lambda it: hashlib.sha256(it.key.encode()).hexdigest())
        to_val.update(it.key for it in ranked[:n_val])
    return [
        ItemRef(it.key, "val", it.label, it.locator, it.fingerprint) if it.key in to_val else it
        for it in items
    ]
