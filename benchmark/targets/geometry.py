"""Shape normalization, validation and area-weighted surface sampling.

Every field kind is fitted in the same frame (the unit sphere), so that the query
distribution, the clipping distances (0.1) and the metrics mean the same thing for every
dataset, whatever units its raw files use.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from nfbench.datasets.base import Shape
from nfbench.errors import DataError

Source = str | Path
"""What a ``DataError`` names: the file (or item key) the shape came from."""


def check_points(points: np.ndarray, what: str, source: Source) -> np.ndarray:
    """``points`` as a non-empty, finite ``(N, 3)`` float64 array, or ``DataError``."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise DataError(source, f"{what} must have shape (N, 3), got {arr.shape}")
    if len(arr) == 0:
        raise DataError(source, f"{what} is empty")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataError(source, f"{what} has {int((~np.isfinite(arr)).any(axis=1).sum())} non-finite rows")
    return arr


def check_mesh(vertices: np.ndarray, faces: np.ndarray, source: Source) -> tuple[np.ndarray, np.ndarray]:
    """Finite float64 vertices and in-range int64 triangles with non-zero total area."""
    v = check_points(vertices, "mesh vertices", source)
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise DataError(source, f"mesh faces must be a non-empty (F, 3) index array, got {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise DataError(source, f"mesh faces must be integer indices, got {f.dtype}")
    f = f.astype(np.int64)
    if f.min() < 0 or f.max() >= len(v):
        raise DataError(source, f"face indices span [{f.min()}, {f.max()}] but there are {len(v)} vertices")
    if not face_areas(v, f).sum() > 0:
        raise DataError(source, "mesh has zero surface area (all faces degenerate)")
    return v, f


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)


def normalize_shape(shape: Shape, source: Source = "<shape>") -> Shape:
    """Centre the bounding box of all points and vertices at the origin, farthest one at radius 1.

    Points and vertices share one transform so a mesh and its cloud stay aligned. Images
    and voxel grids are already in a fixed frame and pass through unchanged; a shape
    with none of them is rejected.
    """
    parts = {
        name: check_points(arr, name, source)
        for name in ("points", "vertices")
        if (arr := getattr(shape, name)) is not None
    }
    if not parts:
        if shape.image is None and shape.voxels is None:
            raise DataError(source, "shape has no geometry (no points, vertices, voxels or image)")
        return shape
    both = np.concatenate(list(parts.values()))
    centre = 0.5 * (both.min(axis=0) + both.max(axis=0))
    radius = float(np.linalg.norm(both - centre, axis=1).max())
    if not radius > 1e-12 * max(1.0, float(np.abs(centre).max())):
        raise DataError(source, "degenerate geometry: all points coincide")
    scaled = {name: ((arr - centre) / radius).astype(np.float32) for name, arr in parts.items()}
    return dataclasses.replace(shape, **scaled)


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform samples over the mesh area: points ``(n, 3)`` float64 and their face ids ``(n,)``."""
    areas = face_areas(vertices, faces)
    face_ids = rng.choice(len(faces), size=n, p=areas / areas.sum())
    # sqrt trick: (1 - sqrt(u), sqrt(u)(1 - v), sqrt(u) v) is uniform over a triangle.
    u, v = rng.random((2, n))
    su = np.sqrt(u)
    bary = np.stack([1 - su, su * (1 - v), su * v], axis=1)
    corners = vertices[faces[face_ids]]  # (n, 3 corners, 3)
    return np.einsum("nc,ncd->nd", bary, corners), face_ids
