"""ModelNet40 and ModelNet10 (Wu et al. 2015): Princeton OFF meshes, or PointNet's HDF5 clouds.

ModelNet40 is read from either release under one root, detected by its files: the
PointNet HDF5 shards give point clouds (udf only), the Princeton OFF meshes give meshes
(sdf, udf, occ). Keys are ``<split>/<class>/<name>`` in both, with the source shape's name
(``airplane_0001``), so the two releases index the same shapes the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np

from nfbench.datasets._readers import (
    ClassFolderDataset,
    check_class_count,
    class_folders,
    cloud_shape,
    is_class_split_dir,
    list_class_folder_items,
    locate,
    rank_within_class,
    read_shape,
    require_root,
)
from nfbench.datasets.base import DatasetCard, ItemRef, Limits, Shape, file_sha256
from nfbench.errors import DataError

_MODELNET_CITATION = (
    "Z. Wu, S. Song, A. Khosla, F. Yu, L. Zhang, X. Tang, J. Xiao. "
    "3D ShapeNets: A Deep Representation for Volumetric Shapes. CVPR 2015."
)
_POINTNET_CITATION = "C. R. Qi, H. Su, K. Mo, L. J. Guibas. PointNet: Deep Learning on Point Sets for 3D Classification and Segmentation. CVPR 2017."
_SHARD = re.compile(r"ply_data_(train|test)(\d+)\.h5")
_H5_LAYOUT = (
    "PointNet HDF5: <root>/ply_data_{train,test}<N>.h5 (datasets 'data' (N, P, 3), 'label' (N, 1)), "
    "ply_data_{train,test}_<N>_id2file.json (source name of each row, '<class>/<name>.ply') and shape_names.txt"
)


def _off_layout(folder: str) -> str:
    return f"Princeton OFF: <root>/<class>/{{train,test}}/<class>_NNNN.off, where <root> is {folder}/ or the folder holding it"


def _is_h5_dir(folder: Path) -> bool:
    return (folder / "shape_names.txt").is_file() and any(_SHARD.fullmatch(p.name) for p in folder.glob("ply_data_*.h5"))


def _shape_names(folder: Path, card: DatasetCard) -> list[str]:
    path = folder / "shape_names.txt"
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    check_class_count(path, names, card)
    return names


def _read_shard(path: Path, n_classes: int) -> tuple[np.ndarray, list[str]]:
    """Labels and source names of one shard, checked against each other."""
    try:
        with h5py.File(path, "r") as fh:
            for key in ("data", "label"):
                if key not in fh:
                    raise DataError(path, f"missing dataset {key!r}; expected 'data' (N, P, 3) and 'label' (N, 1)")
            data_shape = fh["data"].shape
            labels = np.asarray(fh["label"][...]).reshape(-1).astype(np.int64)
    except OSError as exc:
        raise DataError(path, f"unreadable HDF5 file ({exc})") from None
    if len(data_shape) != 3 or data_shape[2] != 3 or data_shape[0] != len(labels):
        raise DataError(path, f"'data' has shape {data_shape} for {len(labels)} labels; expected (N, P, 3)")
    out_of_range = (labels < 0) | (labels >= n_classes)
    if out_of_range.any():
        raise DataError(path, f"label {labels[out_of_range][0]} out of range for {n_classes} classes in shape_names.txt")
    split, index = _SHARD.fullmatch(path.name).groups()  # type: ignore[union-attr]
    id2file = path.with_name(f"ply_data_{split}_{index}_id2file.json")
    try:
        sources = json.loads(id2file.read_text())
    except FileNotFoundError:
        raise DataError(id2file, "missing: it names the source shape of each row of the shard") from None
    except (OSError, ValueError) as exc:
        raise DataError(id2file, f"unreadable JSON ({exc})") from None
    if not isinstance(sources, list) or len(sources) != len(labels) or not all(isinstance(s, str) for s in sources):
        raise DataError(id2file, f"expected a list of {len(labels)} '<class>/<name>.ply' strings, one per row of {path.name}")
    return labels, sources


def _h5_items(root: Path, folder: Path, card: DatasetCard, limit: int | Limits | None) -> list[ItemRef]:
    limits = Limits.of(limit)
    names = _shape_names(folder, card)
    shards = sorted(
        (m.group(1), int(m.group(2)), p) for p in folder.glob("ply_data_*.h5") if (m := _SHARD.fullmatch(p.name))
    )
    items: list[ItemRef] = []
    for split in ("train", "test"):
        rows: list[tuple[Path, int, str, str]] = []  # shard, row, class, shape name
        labels: list[np.ndarray] = []
        for _, _, path in (s for s in shards if s[0] == split):
            shard_labels, sources = _read_shard(path, len(names))
            source_classes = [s.split("/")[0] for s in sources]
            mismatch = np.flatnonzero(np.array(source_classes) != np.array(names)[shard_labels])
            if len(mismatch):
                row = int(mismatch[0])
                raise DataError(path, f"row {row} is {sources[row]!r} but its label says {names[shard_labels[row]]!r}")
            rows += [(path, r, c, Path(s).stem) for r, (c, s) in enumerate(zip(source_classes, sources))]
            labels.append(shard_labels)
        if not rows:
            raise DataError(folder, f"no ply_data_{split}<N>.h5 shards; expected {_H5_LAYOUT}")
        all_labels = np.concatenate(labels)
        keep = np.flatnonzero(rank_within_class(all_labels) < (limits.cap(split) or len(all_labels)))
        hashes = {path: file_sha256(path) for path in {rows[i][0] for i in keep}}
        items += [
            ItemRef(f"{split}/{rows[i][2]}/{rows[i][3]}", split, int(all_labels[i]),  # type: ignore[arg-type]
                    f"{rows[i][0].relative_to(root).as_posix()}#{rows[i][1]}", f"{hashes[rows[i][0]]}#{rows[i][1]}")
            for i in keep
        ]
    keys = [it.key for it in items]
    if len(set(keys)) != len(keys):
        raise DataError(folder, "the id2file JSON files name the same shape more than once")
    return sorted(items, key=lambda it: it.key)


def _h5_row(path: Path, row: int) -> Shape:
    try:
        with h5py.File(path, "r") as fh:
            if "data" not in fh:
                raise DataError(path, "missing dataset 'data'; expected 'data' (N, P, 3)")
            if not 0 <= row < len(fh["data"]):
                raise DataError(path, f"row {row} out of range for {len(fh['data'])} rows")
            points = fh["data"][row]
    except OSError as exc:
        raise DataError(path, f"unreadable HDF5 file ({exc})") from None
    return cloud_shape(Path(f"{path}#{row}"), points)


class ModelNet40(ClassFolderDataset):
    """40 CAD categories; udf from the HDF5 clouds, any field from the OFF meshes."""

    suffix = ".off"
    card = DatasetCard(
        name="modelnet40",
        description="ModelNet40: 12,311 CAD models in 40 categories, official 9,843 / 2,468 train/test split. "
        "Reads PointNet's HDF5 point clouds (udf only) or the Princeton OFF meshes (sdf, udf, occ).",
        source="https://modelnet.cs.princeton.edu/ (OFF meshes); "
        "https://shapenet.cs.stanford.edu/media/modelnet40_ply_hdf5_2048.zip (PointNet HDF5 clouds)",
        citation=f"{_MODELNET_CITATION} HDF5 release: {_POINTNET_CITATION}",
        classes=40,
        field_kinds=("udf", "sdf", "occ"),
        default_field="udf",
        up_axis="z",  # measured on the HDF5 clouds: bottles are tallest along z
        default_preset="cpu",
        needs_root=True,
        layout=f"either {_H5_LAYOUT}; or {_off_layout('ModelNet40')}. <root> may also be the folder holding the HDF5 folder",
    )

    def _locate(self, root: Path | None) -> tuple[Path, Path, bool]:
        root, folder = locate(root, lambda p: _is_h5_dir(p) or is_class_split_dir(p), self.card.layout)
        return root, folder, _is_h5_dir(folder)

    def class_names(self, root: Path | None) -> list[str]:
        _, folder, is_h5 = self._locate(root)
        return _shape_names(folder, self.card) if is_h5 else class_folders(folder, self.card)

    def list_items(self, root: Path | None, limit: int | Limits | None, seed: int) -> list[ItemRef]:
        root, folder, is_h5 = self._locate(root)
        if is_h5:
            return _h5_items(root, folder, self.card, limit)
        return list_class_folder_items(root, folder, self.card, self.suffix, limit)

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        root = require_root(root, self.card.layout)
        shard, sep, row = item.locator.rpartition("#")
        if sep and shard.endswith(".h5"):
            return _h5_row(root / shard, int(row))
        return read_shape(root / item.locator)


class ModelNet10(ClassFolderDataset):
    """The 10-category ModelNet subset, as Princeton OFF meshes."""

    suffix = ".off"
    card = DatasetCard(
        name="modelnet10",
        description="ModelNet10: 4,899 CAD meshes in 10 categories, official 3,991 / 908 train/test split. "
        "Raw CAD meshes: not watertight, arbitrary scale.",
        source="https://modelnet.cs.princeton.edu/ (ModelNet10.zip)",
        citation=_MODELNET_CITATION,
        classes=10,
        field_kinds=("sdf", "udf", "occ"),
        default_field="sdf",
        up_axis="z",
        default_preset="cpu",
        needs_root=True,
        layout=_off_layout("ModelNet10"),
    )
