"""Per-shape supervision (query coordinates and targets) for each field kind.

Target encodings (the fields output logits; nfbench.decode inverts these):
- udf: ``1 - clip(d, 0, 0.1) / 0.1`` with ``d`` the distance to the surface (1-NN to
  the cloud, or the exact point-to-triangle distance for a mesh); 1 on the surface.
- sdf: ``(clip(s, -0.1, 0.1) + 0.1) / 0.2``, ``s`` negative inside; the surface is
  target 0.5, i.e. logit 0.
- occ: 1 inside, 0 outside, at every voxel centre ``-1 + (2i + 1)/R`` of [-1, 1]^3
  (C order over x, y, z, so ``targets.reshape(R, R, R)`` is the grid).
- image: intensities ``(H*W, C)`` at pixel centres, row-major; ``coords[:, 0]`` is x
  (the column, left to right) and ``coords[:, 1]`` is y (the row, top to bottom).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from nfbench.datasets.base import FieldKind, Shape
from nfbench.errors import DataError
from nfbench.targets.config import SamplingConfig
from nfbench.targets.geometry import Source, check_mesh, check_points, sample_surface
from nfbench.targets.inside import mesh_oracle, voxel_centres

UDF_CLIP = 0.1
SDF_CLIP = 0.1


@dataclass(frozen=True)
class Supervision:
    """``coords (Q, in_dim)`` and ``targets (Q, out_dim)``, both float32, targets in [0, 1]."""

    coords: np.ndarray
    targets: np.ndarray


def udf_target(distance: np.ndarray) -> np.ndarray:
    return 1.0 - np.clip(distance, 0.0, UDF_CLIP) / UDF_CLIP


def sdf_target(signed: np.ndarray) -> np.ndarray:
    return (np.clip(signed, -SDF_CLIP, SDF_CLIP) + SDF_CLIP) / (2 * SDF_CLIP)


def sample_queries(draw_surface: Callable[[int], np.ndarray], cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """Queries ``(cfg.n_queries, 3)`` in the group order of ``cfg.group_sizes``, clipped to [-1, 1]^3."""
    groups = []
    for name, sigma in (("near", cfg.sigma_near), ("medium", cfg.sigma_medium), ("far", cfg.sigma_far)):
        n = getattr(cfg, name)
        groups.append(draw_surface(n) + rng.normal(0.0, sigma, (n, 3)))
    groups.append(rng.uniform(-1.0, 1.0, (cfg.uniform, 3)))
    groups.append(draw_surface(cfg.surface))
    return np.clip(np.concatenate(groups), -1.0, 1.0)


def pixel_centres(height: int, width: int) -> np.ndarray:
    """``(H*W, 2)`` pixel centres in [-1, 1]^2, row-major; column 0 is x (column), 1 is y (row)."""
    y = -1 + (2 * np.arange(height) + 1) / height
    x = -1 + (2 * np.arange(width) + 1) / width
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return np.stack([xx, yy], axis=-1).reshape(-1, 2)


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


def _check_voxels(voxels: np.ndarray, source: Source) -> np.ndarray:
    v = np.asarray(voxels)
    if v.ndim != 3 or len(set(v.shape)) != 1 or v.shape[0] == 0:
        raise DataError(source, f"voxels must be a cubic (R, R, R) grid, got {v.shape}")
    if v.dtype != bool:
        if not np.isfinite(v).all() or not np.isin(v, (0, 1)).all():
            raise DataError(source, "voxels must be boolean (or 0/1)")
        v = v.astype(bool)
    return v


def _check_image(image: np.ndarray, source: Source) -> np.ndarray:
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


def _cloud_draw(points: np.ndarray, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    return lambda n: points[rng.integers(0, len(points), n)]


def _mesh_draw(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    return lambda n: sample_surface(vertices, faces, n, rng)[0]


def make_supervision(
    shape: Shape, field: FieldKind, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>"
) -> Supervision:
    """Queries and targets for one already-normalized shape (see the module docstring).

    udf uses the cloud if the shape has one, else the mesh; sdf needs a mesh (sign from
    ``cfg.sign``); occ uses the voxel grid (resampled to ``cfg.voxel_res``), else the mesh
    voxelized with ``cfg.sign`` at voxel centres; image needs an image.
    """
    if field == "udf":
        if shape.points is not None:
            pts = check_points(shape.points, "points", source)
            coords = sample_queries(_cloud_draw(pts, rng), cfg, rng)
            dist = cKDTree(pts).query(coords, k=1)[0]
        elif shape.vertices is not None and shape.faces is not None:
            v, f = check_mesh(shape.vertices, shape.faces, source)
            coords = sample_queries(_mesh_draw(v, f, rng), cfg, rng)
            dist = mesh_oracle(v, f, source).distance(coords)
        else:
            raise DataError(source, "udf fields need a point cloud or a mesh")
        return _finish(coords, udf_target(dist)[:, None], source)
    if field == "sdf":
        oracle = mesh_oracle(shape.vertices, shape.faces, source)
        coords = sample_queries(_mesh_draw(oracle.vertices, oracle.faces, rng), cfg, rng)
        signed = oracle.signed_distance(coords, cfg.sign, rng, cfg.sign_rays, cfg.flood_res)
        return _finish(coords, sdf_target(signed)[:, None], source)
    if field == "occ":
        if shape.voxels is not None:
            grid = resample_voxels(_check_voxels(shape.voxels, source), cfg.voxel_res)
        elif shape.vertices is not None and shape.faces is not None:
            grid = mesh_oracle(shape.vertices, shape.faces, source).voxelize(cfg.voxel_res, cfg.sign, rng, cfg.sign_rays, cfg.flood_res)
        else:
            raise DataError(source, "occ fields need a voxel grid or a mesh")
        return _finish(voxel_centres(cfg.voxel_res), grid.reshape(-1, 1), source)
    if field == "image":
        if shape.image is None:
            raise DataError(source, "image fields need an image")
        img = _check_image(shape.image, source)
        return _finish(pixel_centres(*img.shape[:2]), img.reshape(-1, img.shape[2]), source)
    raise ValueError(f"unknown field kind {field!r}")


def _finish(coords: np.ndarray, targets: np.ndarray, source: Source) -> Supervision:
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
