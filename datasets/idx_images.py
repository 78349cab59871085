"""MNIST and Fashion-MNIST from their original IDX files: the images behind the standard weight-space benchmarks.

DWSNet, NFN, NFT, neural graphs and ScaleGMN all report MNIST-INR and FashionMNIST-INR
accuracies, each on INRs its authors fitted themselves. Reading the original IDX release
lets nfbench fit both into one format, with either init regime (``--init``). Splits are
the official ones (60,000 train, 10,000 test); ``--limit*`` keeps the first N images of
each class in file order, so a smaller subset is a prefix of a larger one.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from nfbench.datasets._readers import rank_within_class
from nfbench.datasets.base import DatasetCard, ItemRef, Limits, Shape, ShapeDataset
from nfbench.errors import DataError

_FILES = {"train": "train", "test": "t10k"}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049


def _read_idx(path: Path, magic: int, n_dims: int) -> np.ndarray:
    """The array of one gzipped IDX file, checked against its header."""
    if not path.is_file():
        raise DataError(path, "missing; expected the original IDX release ({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz)")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise DataError(path, f"not a readable gzip file ({exc})") from exc
    header = 4 + 4 * n_dims
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(path, f"not an IDX file with magic {magic} (header {raw[:4].hex() or 'empty'})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    if len(raw) != header + int(np.prod(dims)):
        raise DataError(path, f"holds {len(raw) - header} bytes of data, but its header promises {dims}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=4)
def _split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N, 28, 28) uint8, labels (N,) int64)`` of one split; read once per process, read-only."""
    stem = _FILES[split]
    images = _read_idx(root / f"{stem}-images-idx3-ubyte.gz", _IMAGE_MAGIC, 3)
    labels = _read_idx(root / f"{stem}-labels-idx1-ubyte.gz", _LABEL_MAGIC, 1).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(root / f"{stem}-labels-idx1-ubyte.gz", f"{len(labels)} labels for {len(images)} images")
    if labels.size and labels.max() > 9:
        raise DataError(root / f"{stem}-labels-idx1-ubyte.gz", f"label {labels.max()} is outside 0..9")
    labels.flags.writeable = False
    return images, labels


class IdxImages(ShapeDataset):
    """Ten classes of 28x28 grey images in [0, 1], one image field each."""

    names: tuple[str, ...]

    def class_names(self, root: Path | None) -> list[str]:
        return list(self.names)

    def list_items(self, root: Path | None, limit: int | Limits | None, seed: int) -> list[ItemRef]:
        assert root is not None  # needs_root: checked before a build resolves
        limits = Limits.of(limit)
        items = []
        for split in ("train", "test"):
            images, labels = _split(Path(root), split)
            cap = limits.cap(split)
            keep = np.flatnonzero(rank_within_class(labels) < cap) if cap is not None else np.arange(len(labels))
            items += [
                ItemRef(f"{split}/{labels[i]}/{i:05d}", split, int(labels[i]), f"{split}:{i}", hashlib.sha256(images[i].tobytes()).hexdigest())
                for i in keep
            ]
        return sorted(items, key=lambda it: it.key)

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        assert root is not None
        split, _, index = item.locator.partition(":")
        if split not in _FILES or not index.isdigit():
            raise DataError(Path(root), f"bad item locator {item.locator!r}; expected 'train:N' or 'test:N'")
        images, _ = _split(Path(root), split)
        if int(index) >= len(images):
            raise DataError(Path(root) / f"{_FILES[split]}-images-idx3-ubyte.gz", f"no image #{index}; it holds {len(images)}")
        return Shape(image=(images[int(index)] / 255.0).astype(np.float32)[..., None])


def _card(name: str, what: str, source: str, citation: str) -> DatasetCard:
    return DatasetCard(
        name=name,
        description=f"{what} (60,000 train + 10,000 test 28x28 images, 10 classes) as image fields; official split.",
        source=f"{source} (original IDX files)",
        citation=citation,
        classes=10,
        field_kinds=("image",),
        default_field="image",
        default_preset="image",
        needs_root=True,
        layout="<root>/{train,t10k}-images-idx3-ubyte.gz and {train,t10k}-labels-idx1-ubyte.gz (the original IDX release)",
    )


class MNIST(IdxImages):
    names = tuple(str(d) for d in range(10))
    card = _card(
        "mnist",
        "MNIST handwritten digits",
        "http://yann.lecun.com/exdb/mnist/",
        "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document recognition. Proc. IEEE "
        "86(11), 1998",
    )


class FashionMNIST(IdxImages):
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    card = _card(
        "fashion-mnist",
        "Fashion-MNIST clothing images",
        "https://github.com/zalandoresearch/fashion-mnist",
        "H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning "
        "Algorithms. arXiv:1708.07747, 2017",
    )
