"""Readers shared by the dataset modules: root and class-folder scanning, OFF/OBJ/PLY parsing.

Every check raises ``DataError`` naming the offending file, so a bad shape in a 12K-file
dataset is found by name instead of surfacing later as a NaN loss or an IndexError.
The OFF and OBJ parsers are vectorized over the whole file (no per-vertex Python loop):
ModelNet's CAD meshes reach hundreds of thousands of faces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import trimesh

from nfbench.datasets.base import DatasetCard, ItemRef, Limits, Shape, ShapeDataset, file_sha256
from nfbench.errors import DataError

SPLITS: tuple[str, str] = ("train", "test")
_IS_SPACE = np.zeros(256, bool)
_IS_SPACE[list(b" \t\n\r\x0b\x0c")] = True  # exactly what bytes.split() splits on


# ---------------------------------------------------------------------------- roots


def require_root(root: Path | None, layout: str) -> Path:
    """The user's root must exist: loaders never download, so say what to put there."""
    if root is None:
        raise DataError("<no root given>", f"this dataset reads local files (nothing is downloaded); expected {layout}")
    root = Path(root)
    if not root.exists():
        raise DataError(root, f"dataset root does not exist (nothing is downloaded); expected {layout}")
    if not root.is_dir():
        raise DataError(root, f"dataset root is not a folder; expected {layout}")
    return root


def visible_subdirs(folder: Path) -> list[Path]:
    """Sorted sub-folders, skipping hidden ones and archive debris such as ``__MACOSX``."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def locate(root: Path | None, matches: Callable[[Path], bool], layout: str) -> tuple[Path, Path]:
    """``(root, data folder)``: the data folder is the root itself or its one matching sub-folder.

    Archives unpack as ``<download>/ModelNet10/<class>/...``; users pass either level.
    """
    root = require_root(root, layout)
    if matches(root):
        return root, root
    found = [child for child in visible_subdirs(root) if matches(child)]
    if len(found) == 1:
        return root, found[0]
    if found:
        names = ", ".join(p.name for p in found)
        raise DataError(root, f"ambiguous root: several sub-folders ({names}) match; pass one of them; expected {layout}")
    raise DataError(root, f"wrong layout: expected {layout}")


def check_class_count(path: Path, names: list[str], card: DatasetCard) -> None:
    """A wrong class count means a wrong root (e.g. ModelNet10 given as ModelNet40): labels would be wrong."""
    if len(names) != card.classes:
        raise DataError(path, f"found {len(names)} classes, {card.name} has {card.classes}; expected {card.layout}")


def rank_within_class(labels: np.ndarray) -> np.ndarray:
    """Position of each entry among the entries of its class, in the given order."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    group_start = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    group_sizes = np.diff(np.r_[group_start, len(labels)])
    rank = np.empty(len(labels), np.int64)
    rank[order] = np.arange(len(labels)) - np.repeat(group_start, group_sizes)
    return rank


# ---------------------------------------------------------------------------- class folders


def is_class_split_dir(folder: Path) -> bool:
    """True for ``<folder>/<class>/{train,test}/`` layouts."""
    return any((c / s).is_dir() for c in visible_subdirs(folder) for s in SPLITS)


def class_folders(data_dir: Path, card: DatasetCard) -> list[str]:
    """Class names in sorted order (the label order); every class folder must hold a split."""
    classes = visible_subdirs(data_dir)
    for folder in classes:
        if not any((folder / s).is_dir() for s in SPLITS):
            raise DataError(folder, f"class folder has neither train/ nor test/; expected {card.layout}")
    names = [c.name for c in classes]
    check_class_count(data_dir, names, card)
    return names


def list_class_folder_items(
    root: Path, data_dir: Path, card: DatasetCard, suffix: str, limit: int | Limits | None
) -> list[ItemRef]:
    """Items of a class-folder layout: the first ``limit`` files by name per class and split.

    Locators are relative to ``root`` (what the user passes back to ``load``), so either
    accepted root level works.
    """
    limits = Limits.of(limit)
    items: list[ItemRef] = []
    for label, name in enumerate(class_folders(data_dir, card)):
        found = 0
        for split in SPLITS:
            folder = data_dir / name / split
            files = sorted(p for p in folder.glob("*") if p.suffix.lower() == suffix and p.is_file())
            found += len(files)
            items += [
                ItemRef(f"{split}/{name}/{p.stem}", split, label, p.relative_to(root).as_posix(), file_sha256(p))  # type: ignore[arg-type]
                for p in files[: limits.cap(split)]
            ]
        if not found:
            raise DataError(data_dir / name, f"no *{suffix} files in train/ or test/; expected {card.layout}")
    return sorted(items, key=lambda it: it.key)


class ClassFolderDataset(ShapeDataset):
    """A dataset stored as ``<root>/<class>/{train,test}/*<suffix>``; labels follow sorted class names."""

    suffix: ClassVar[str]

    def class_names(self, root: Path | None) -> list[str]:
        _, data_dir = locate(root, is_class_split_dir, self.card.layout)
        return class_folders(data_dir, self.card)

    def list_items(self, root: Path | None, limit: int | Limits | None, seed: int) -> list[ItemRef]:
        root, data_dir = locate(root, is_class_split_dir, self.card.layout)
        return list_class_folder_items(root, data_dir, self.card, self.suffix, limit)

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        return read_shape(require_root(root, self.card.layout) / item.locator)


# ---------------------------------------------------------------------------- validation


def cloud_shape(path: Path, points: np.ndarray) -> Shape:
    """Validate a point cloud read from ``path``."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise DataError(path, f"point cloud must have shape (P, 3), got {points.shape}")
    if len(points) == 0:
        raise DataError(path, "empty point cloud (0 points)")
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        raise DataError(path, f"{int(bad.sum())} of {len(points)} points have NaN/inf coordinates")
    return Shape(points=points.astype(np.float32))


def mesh_shape(path: Path, vertices: np.ndarray, faces: np.ndarray) -> Shape:
    """Validate a triangle mesh read from ``path``."""
    if len(vertices) == 0:
        raise DataError(path, "empty mesh: no vertices")
    if len(faces) == 0:
        raise DataError(path, "empty mesh: no faces")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise DataError(path, f"{int(bad.sum())} of {len(vertices)} vertices have NaN/inf coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise DataError(path, f"face index out of range [{faces.min()}, {faces.max()}] for {len(vertices)} vertices")
    return Shape(vertices=vertices.astype(np.float32), faces=faces.astype(np.int64))


# ---------------------------------------------------------------------------- parsing


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found (was the dataset root moved or changed?)") from None
    except OSError as exc:
        raise DataError(path, f"unreadable file ({exc.strerror})") from None
    # Comments out, and old-Mac line ends made into newlines so that lines count right.
    return re.sub(rb"#[^\r\n]*", b"", data).replace(b"\r", b"\n")


def _numbers_per_line(text: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """All numbers of a text, and how many each line holds (lines are ragged in OFF and OBJ)."""
    buf = np.frombuffer(text, np.uint8)
    space = _IS_SPACE[buf]
    token_start = ~space
    token_start[1:] &= space[:-1]
    newlines = np.flatnonzero(buf == ord("\n"))
    line_of_token = np.searchsorted(newlines, np.flatnonzero(token_start))
    counts = np.bincount(line_of_token, minlength=len(newlines) + 1)
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise DataError(path, f"non-numeric value where a number was expected ({exc})") from None
    return values, counts


def _arange_in_groups(sizes: np.ndarray) -> np.ndarray:
    """``0..n-1`` for each group size ``n``, concatenated."""
    total = int(sizes.sum())
    return np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _polygon_corners(path: Path, values: np.ndarray, first: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Integer corner indices of polygons whose ``sizes[i]`` values start at ``values[first[i]]``."""
    if (sizes < 3).any():
        raise DataError(path, f"{int((sizes < 3).sum())} faces have fewer than 3 corners")
    corners = values[np.repeat(first, sizes) + _arange_in_groups(sizes)]
    if not np.isfinite(corners).all() or (corners != np.round(corners)).any():
        raise DataError(path, "face indices must be integers")
    return corners.astype(np.int64)


def _fan_triangulate(corners: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Split each polygon (corners concatenated, ``sizes`` each) into a triangle fan."""
    n_tris = sizes - 2
    first = np.repeat(np.cumsum(sizes) - sizes, n_tris)
    k = _arange_in_groups(n_tris)
    return np.stack([corners[first], corners[first + k + 1], corners[first + k + 2]], axis=1)


def _first_three(path: Path, values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """x, y, z of vertex rows (extra values such as colours or w are dropped)."""
    if (counts < 3).any():
        raise DataError(path, f"{int((counts < 3).sum())} vertex rows have fewer than 3 coordinates")
    return values[first[:, None] + np.arange(3)]


def read_off(path: Path) -> Shape:
    """Object File Format, including Princeton's merged first line ``OFF490 518 0``."""
    text = _read_bytes(path)
    header = re.match(rb"\s*C?OFF(?=[\s\d.+\-]|$)", text)
    if header is None:
        raise DataError(path, "not an OFF file: it must start with 'OFF'")
    if re.match(rb"\s*BINARY", text[header.end():]):
        raise DataError(path, "binary OFF is not supported; expected ASCII OFF")
    values, counts = _numbers_per_line(text[header.end():], path)
    counts = counts[counts > 0]  # blank lines carry nothing
    first = np.cumsum(counts) - counts
    if len(counts) == 0 or counts[0] < 2:
        raise DataError(path, "missing the 'vertices faces edges' count line after 'OFF'")
    n_vertices, n_faces = values[0], values[1]
    if not (n_vertices >= 0 and n_faces >= 0 and n_vertices % 1 == 0 and n_faces % 1 == 0):
        raise DataError(path, f"bad count line after 'OFF': {n_vertices:g} vertices, {n_faces:g} faces")
    n_vertices, n_faces = int(n_vertices), int(n_faces)
    if len(counts) < 1 + n_vertices + n_faces:
        raise DataError(
            path, f"truncated: header announces {n_vertices} vertices and {n_faces} faces, file has {len(counts) - 1} rows"
        )
    vrows = slice(1, 1 + n_vertices)
    vertices = _first_three(path, values, first[vrows], counts[vrows])
    frows = slice(1 + n_vertices, 1 + n_vertices + n_faces)
    sizes = values[first[frows]].astype(np.int64)
    if (counts[frows] < sizes + 1).any():
        raise DataError(path, "a face row has fewer indices than its corner count says")
    corners = _polygon_corners(path, values, first[frows] + 1, sizes)
    return mesh_shape(path, vertices, _fan_triangulate(corners, sizes))


def read_obj(path: Path) -> Shape:
    """Wavefront OBJ geometry: ``v`` and ``f`` lines; texture/normal refs and relative indices handled."""
    text = _read_bytes(path)
    lines = re.findall(rb"^[ \t]*([vf][ \t][^\n]*)", text, flags=re.M)
    if not lines:
        raise DataError(path, "empty mesh: no 'v' or 'f' lines")
    joined = b"\n".join(lines)
    buf = np.frombuffer(joined, np.uint8)
    is_vertex = buf[np.r_[0, np.flatnonzero(buf == ord("\n")) + 1]] == ord("v")
    # Drop the keyword and the /vt/vn parts of face corners: what is left is numbers only.
    values, counts = _numbers_per_line(re.sub(rb"^[vf]|/\S*", b"", joined, flags=re.M), path)
    first = np.cumsum(counts) - counts
    vertices = _first_three(path, values, first[is_vertex], counts[is_vertex])
    sizes = counts[~is_vertex]
    corners = _polygon_corners(path, values, first[~is_vertex], sizes)
    if (corners == 0).any():
        raise DataError(path, "face index 0: OBJ indices start at 1")
    # Negative indices count back from the last vertex defined before the face line.
    defined_before = np.repeat(np.cumsum(is_vertex)[~is_vertex], sizes)
    corners = np.where(corners < 0, defined_before + corners, corners - 1)
    return mesh_shape(path, vertices, _fan_triangulate(corners, sizes))


def read_ply_points(path: Path) -> Shape:
    """A PLY cloud, or a PLY mesh whose vertices serve as the cloud."""
    if not path.is_file():
        raise DataError(path, "file not found (was the dataset root moved or changed?)")
    try:
        loaded = trimesh.load(path, file_type="ply", process=False)
    except Exception as exc:  # trimesh raises many types on malformed files; all mean the same here
        raise DataError(path, f"unreadable PLY ({exc})") from None
    vertices = getattr(loaded, "vertices", None)  # an empty PLY loads as an empty Scene
    return cloud_shape(path, np.zeros((0, 3)) if vertices is None else np.asarray(vertices))


_READERS: dict[str, Callable[[Path], Shape]] = {".off": read_off, ".obj": read_obj, ".ply": read_ply_points}


def read_shape(path: Path) -> Shape:
    """Read a raw shape file, picking the reader by file suffix."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(path, f"unsupported file type; expected one of {', '.join(_READERS)}")
    return reader(path)
