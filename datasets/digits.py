"""scikit-learn's bundled 8x8 digits as images: a 2D neural-field set that needs no download.

It plays the part MNIST-INRs play for DWSNet / NFN at a size CI can fit in seconds.
The split is stratified and deterministic: the first 80 % of each class, by sample
index, train; the rest test.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from nfbench.datasets._readers import rank_within_class
from nfbench.datasets.base import DatasetCard, ItemRef, Limits, Shape, ShapeDataset
from nfbench.errors import DataError

_TRAIN_FRACTION = (4, 5)  # integer ratio: the split must not depend on float rounding


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 8, 8) uint8 in 0..16, labels (N,)); read once per process, read-only."""
    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    labels = bunch.target.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


class Digits(ShapeDataset):
    """Handwritten digits 0-9 as single-channel images in [0, 1]."""

    card = DatasetCard(
        name="digits",
        description="scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes) as image fields; "
        "stratified split: first 80 % of each class by sample index train, the rest test.",
        source="https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits "
        "(bundled with scikit-learn as sklearn.datasets.load_digits)",
        citation="E. Alpaydin, C. Kaynak. Optical Recognition of Handwritten Digits. UCI Machine Learning Repository, 1998. "
        "https://doi.org/10.24432/C50P49",
        classes=10,
        field_kinds=("image",),
        default_field="image",
        default_preset="image",
        needs_root=False,
        layout="none: bundled with scikit-learn (sklearn.datasets.load_digits); --root is ignored",
    )

    def class_names(self, root: Path | None) -> list[str]:
        return [str(d) for d in range(10)]

    def list_items(self, root: Path | None, limit: int | Limits | None, seed: int) -> list[ItemRef]:
        limits = Limits.of(limit)
        images, labels = _digits()
        rank = rank_within_class(labels)
        num, den = _TRAIN_FRACTION
        n_train = (np.bincount(labels, minlength=10) * num // den)[labels]
        is_train = rank < n_train
        rank_in_split = np.where(is_train, rank, rank - n_train)
        caps = np.where(is_train, limits.cap("train") or len(labels), limits.cap("test") or len(labels))
        keep = np.flatnonzero(rank_in_split < caps)
        splits = np.where(is_train, "train", "test")
        items = [
            ItemRef(
                f"{splits[i]}/{labels[i]}/{i:04d}",
                str(splits[i]),  # type: ignore[arg-type]
                int(labels[i]),
                str(i),
                hashlib.sha256(images[i].tobytes()).hexdigest(),
            )
            for i in keep
        ]
        return sorted(items, key=lambda it: it.key)

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        images, _ = _digits()
        if not item.locator.isdigit() or int(item.locator) >= len(images):
            raise DataError(f"sklearn digits #{item.locator}", f"no such sample; indices run 0..{len(images) - 1}")
        return Shape(image=(images[int(item.locator)] / 16.0).astype(np.float32)[..., None])
