"""MNIST / Fashion-MNIST loaders: generated IDX files for the format's edge cases, the real files where present."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nfbench.datasets import DATASETS
from nfbench.datasets.base import Limits
from nfbench.datasets.idx_images import MNIST, FashionMNIST
from nfbench.errors import DataError

DATA = Path("/work/shared/data")


def write_idx(root: Path, stem: str, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (n, h, w))
    (root / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.astype(np.uint8).tobytes()))
    label_header = (2049).to_bytes(4, "big") + n.to_bytes(4, "big")
    (root / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(label_header + labels.astype(np.uint8).tobytes()))


@pytest.fixture
def idx_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for stem, n in (("train", 40), ("t10k", 20)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28))
        images[:, 0, 0] = np.arange(n)  # tells images apart for the prefix check
        write_idx(tmp_path, stem, images, labels)
    return tmp_path


def test_items_follow_the_official_split_and_limits_keep_a_prefix(idx_root: Path) -> None:
    ds = MNIST()
    items = ds.list_items(idx_root, None, 0)
    assert sum(i.split == "train" for i in items) == 40 and sum(i.split == "test" for i in items) == 20
    small = ds.list_items(idx_root, Limits(train=2, test=1), 0)
    assert {i.key for i in small} <= {i.key for i in items} and len(small) == 10 * 2 + 10 * 1
    first_zeros = sorted(int(i.locator.split(":")[1]) for i in small if i.split == "train" and i.label == 0)
    assert first_zeros == [0, 10]  # the first two 0s in file order
    image = ds.load(idx_root, small[0]).image
    assert image.shape == (28, 28, 1) and image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.unlink(), "missing"),
        (lambda p: p.write_bytes(b"not gzip"), "not a readable gzip"),
        (lambda p: p.write_bytes(gzip.compress((2049).to_bytes(4, "big") + bytes(12))), "magic 2051"),
        (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-5])), "header promises"),
    ],
    ids=["missing", "not-gzip", "wrong-magic", "truncated"],
)
def test_damaged_files_fail_with_one_line_naming_the_file(idx_root: Path, damage, message: str) -> None:
    target = idx_root / "train-images-idx3-ubyte.gz"
    damage(target)
    with pytest.raises(DataError, match=message) as info:
        MNIST().list_items(idx_root, None, 0)
    assert str(target) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.skipif(not (DATA / "mnist").is_dir(), reason="real data in /work/shared/data is absent")
@pytest.mark.parametrize(("name", "cls"), [("mnist", MNIST), ("fashion-mnist", FashionMNIST)])
def test_real_idx_files_read_with_their_class_balance(name: str, cls) -> None:
    assert DATASETS.get(name) is cls
    items = cls().list_items(DATA / name, Limits(train=3, test=2), 0)
    assert len(items) == 10 * 5 and len(cls().class_names(DATA / name)) == 10
    image = cls().load(DATA / name, items[0]).image
    assert image.shape == (28, 28, 1) and 0.05 < image.mean() < 0.8
