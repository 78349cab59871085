"""Building blocks of per-shape supervision (query coordinates and targets).

Each field kind (``nfbench.fields.kinds``) assembles its supervision from these: query
groups around a surface, voxel grids, pixel grids, and the checks and conversions of raw
shape data; the target encodings belong to the kinds. Coordinates lie in [-1, 1]^d, the
frame of the normalized shapes, and all arrays are float32 numpy (sampled per shape, on
the CPU, before the fitter stacks them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nfbench.datasets.base import Shape
from nfbench.errors import DataError
from nfbench.targets.config import SamplingConfig
from nfbench.targets.geometry import Source, check_mesh, check_points, sample_surface


@dataclass(frozen=True)
class Supervision:
    """``coords (Q, in_dim)`` and ``targets (Q, out_dim)``, both float32, targets in [0, 1]."""

    coords: np.ndarray
    targets: np.ndarray


def sample_queries(draw_surface: Callable[[int], np.ndarray], cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """Queries ``(cfg.n_queries, 3)`` in the group order of ``cfg.group_sizes``, clipped to [-1, 1]^3."""
    groups = []
    for name, sigma in (("near", cfg.sigma_near), ("medium", cfg.sigma_medium), ("far", cfg.sigma_far)):
        n = getattr(cfg, name)
        groups.append(draw_surface(n) + rng.normal(0.0, sigma, (n, 3)))
    groups.append(rng.uniform(-1.0, 1.0, (cfg.uniform, 3)))
    groups.append(draw_surface(cfg.surface))
    return np.clip(np.concatenate(groups), -1.0, 1.0)


def resample_voxels(voxels: np.ndarray, res: int) -> np.ndarray:
    """A bool grid at ``res``: each target voxel is occupied if at least half of its area-sampled sources are.

    Keeps ``Q = res^3`` fixed when a dataset's grids come at another resolution.
    """
    src = voxels.shape[0]
    if src == res:
        return voxels
    sub = max(1, -(-src // res))  # sub-samples per axis, enough to see every source voxel
    offsets = -1 + (2 * np.arange(sub) + 1) / sub  # within a target voxel, in its half-widths
    axis = (-1 + (2 * np.arange(res) + 1) / res)[:, None] + offsets[None, :] / res  # (res, sub)
    idx = np.clip(np.floor((axis + 1) / 2 * src).astype(np.int64), 0, src - 1)
    fine = voxels[np.ix_(idx.ravel(), idx.ravel(), idx.ravel())].reshape(res, sub, res, sub, res, sub)
    return fine.mean(axis=(1, 3, 5)) >= 0.5


def check_voxels(voxels: np.ndarray, source: Source) -> np.ndarray:
    """A cubic bool grid, or ``DataError``: loaders may hand 0/1 numbers of any dtype."""
    v = np.asarray(voxels)
    if v.ndim != 3 or len(set(v.shape)) != 1 or v.shape[0] == 0:
        raise DataError(source, f"voxels must be a cubic (R, R, R) grid, got {v.shape}")
    if v.dtype != bool:
        if not np.isfinite(v).all() or not np.isin(v, (0, 1)).all():
            raise DataError(source, "voxels must be boolean (or 0/1)")
        v = v.astype(bool)
    return v


def check_image(image: np.ndarray, source: Source) -> np.ndarray:
    """A finite float32 ``(H, W, C)`` image in [0, 1] (a grey ``(H, W)`` one gains its channel axis), or ``DataError``."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or min(img.shape) == 0:
        raise DataError(source, f"image must be (H, W, C), got {np.shape(image)}")
    if not np.isfinite(img).all():
        raise DataError(source, "image has non-finite pixels")
    if img.min() < 0 or img.max() > 1:
        raise DataError(source, f"image intensities must lie in [0, 1], got [{img.min():g}, {img.max():g}]")
    return img


def cloud_draw(points: np.ndarray, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """Surface samples for ``sample_queries`` from a cloud: its points, drawn with replacement."""
    return lambda n: points[rng.integers(0, len(points), n)]


def mesh_draw(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """Surface samples for ``sample_queries`` from a mesh: uniform over its area."""
    return lambda n: sample_surface(vertices, faces, n, rng)[0]


def finish_supervision(coords: np.ndarray, targets: np.ndarray, source: Source) -> Supervision:
    """``Supervision`` as contiguous float32 arrays, or ``DataError`` on non-finite values."""
    coords = np.ascontiguousarray(coords, dtype=np.float32)
    targets = np.ascontiguousarray(targets, dtype=np.float32)
    if not (np.isfinite(coords).all() and np.isfinite(targets).all()):
        raise DataError(source, "supervision has non-finite values")
    return Supervision(coords, targets)


def reference_points(shape: Shape, n: int, rng: np.random.Generator, source: Source = "<shape>") -> tuple[np.ndarray, np.ndarray | None]:
    """The ground-truth surface cloud kept with each INR: exactly ``n`` points ``(n, 3)`` float32 and part ids.

    From the cloud if the shape has one (a random subset, topped up with repeats when it
    has fewer than ``n`` points), else area-weighted samples of the mesh with the part of
    the face each sample lies on. Parts are ``None`` when the source has none.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if shape.points is not None:
        pts = check_points(shape.points, "points", source)
        parts = shape.point_parts
        if parts is not None and len(parts) != len(pts):
            raise DataError(source, f"{len(parts)} point part ids for {len(pts)} points")
        take = rng.permutation(len(pts))[:n]
        if n > len(pts):
            take = np.concatenate([take, rng.integers(0, len(pts), n - len(pts))])
        return pts[take].astype(np.float32), None if parts is None else np.asarray(parts, np.int64)[take]
    if shape.vertices is not None and shape.faces is not None:
        v, f = check_mesh(shape.vertices, shape.faces, source)
        parts = shape.face_parts
        if parts is not None and len(parts) != len(f):
            raise DataError(source, f"{len(parts)} face part ids for {len(f)} faces")
        pts, face_ids = sample_surface(v, f, n, rng)
        return pts.astype(np.float32), None if parts is None else np.asarray(parts, np.int64)[face_ids]
    raise DataError(source, "reference points need a point cloud or a mesh")
