"""Voxel grids and clouds from occupancy fields.

Occupancy INRs are fitted with a focal loss whose decision threshold is 0.4 (inr2vec), so
a voxel is occupied where ``sigmoid(logit) > 0.4`` at its centre.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.decode.common import (
    DEFAULT_MAX_QUERIES,
    FieldFn,
    check_count,
    closest_to_level,
    evaluate_grid,
    grid_centres,
    resolve_device,
)

OCC_THRESHOLD = 0.4


def occ_to_voxels(
    fn: FieldFn,
    batch: int,
    resolution: int = 64,
    threshold: float = OCC_THRESHOLD,
    *,
    device: torch.device | str | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Boolean grids ``(B, R, R, R)`` indexed ``[b, x, y, z]``: ``sigmoid(logit) > threshold`` at voxel centres."""
    return _occupied(evaluate_grid(fn, batch, resolution, resolve_device(device), max_queries), threshold)


def _occupied(logits: Tensor, threshold: float) -> Tensor:
    return torch.sigmoid(logits) > threshold


def _surface_voxels(voxels: Tensor) -> Tensor:
    """Occupied voxels with an empty 6-neighbour (outside the grid counts as empty)."""
    p = F.pad(voxels.to(torch.uint8), (1, 1, 1, 1, 1, 1))
    inner = (slice(None), slice(1, -1), slice(1, -1), slice(1, -1))
    interior = torch.ones_like(voxels)
    for axis in (1, 2, 3):
        for lo, hi in ((0, -2), (2, None)):
            shifted = list(inner)
            shifted[axis] = slice(lo, hi)
            interior &= p[tuple(shifted)].bool()
    return voxels & ~interior


def _sample_cells(mask: Tensor, n_points: int, generator: torch.Generator | None) -> Tensor:
    """Centres of ``n_points`` cells of ``mask (B, R, R, R)``: a random subset, cycling when there are fewer.

    Rows without a cell get arbitrary centres; callers replace or reject them.
    """
    flat = mask.flatten(1)
    scores = torch.rand(flat.shape, device=mask.device, generator=generator).masked_fill(~flat, 2.0)
    order = scores.argsort(dim=1)  # marked cells first, in random order
    count = flat.sum(dim=1, keepdim=True).clamp_min(1)
    idx = order.gather(1, torch.arange(n_points, device=mask.device).expand(mask.shape[0], -1) % count)
    return grid_centres(mask.shape[1], mask.device)[idx]


def voxels_to_cloud(voxels: Tensor, n_points: int = 2048, generator: torch.Generator | None = None) -> Tensor:
    """``(B, n_points, 3)`` centres of surface voxels of boolean grids ``(B, R, R, R)`` over ``[-1, 1]^3``.

    Surface voxels (occupied, with an empty 6-neighbour) make the cloud comparable with
    clouds sampled on surfaces; solid interiors would not be. Voxels are drawn without
    replacement, and all of them repeat cyclically when there are fewer than
    ``n_points``. An empty grid has nothing to sample and raises ``ValueError``.
    """
    if voxels.dtype != torch.bool or voxels.dim() != 4 or not voxels.shape[1] == voxels.shape[2] == voxels.shape[3]:
        raise ValueError(f"expected boolean voxel grids (B, R, R, R), got {voxels.dtype} {tuple(voxels.shape)}")
    check_count("n_points", n_points)
    empty = ~voxels.flatten(1).any(dim=1)
    if bool(empty.any()):
        bad = empty.nonzero().flatten().tolist()
        raise ValueError(f"empty voxel grid(s) at batch items {bad}: no points to sample")
    return _sample_cells(_surface_voxels(voxels), n_points, generator)


def occ_to_cloud(
    fn: FieldFn,
    batch: int,
    n_points: int = 2048,
    resolution: int = 64,
    threshold: float = OCC_THRESHOLD,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """``voxels_to_cloud(occ_to_voxels(...))``, except that an INR with no occupied voxel gets
    the centres of the cells whose logit is closest to the threshold (with a ``RuntimeWarning``)
    instead of an error, so that a batch of decodes survives one failed INR.
    """
    check_count("n_points", n_points)
    logits = evaluate_grid(fn, batch, resolution, resolve_device(device), max_queries)
    voxels = _occupied(logits, threshold)
    empty = ~voxels.flatten(1).any(dim=1)
    cloud = _sample_cells(_surface_voxels(voxels), n_points, generator)
    if not bool(empty.any()):
        return cloud
    warnings.warn(
        f"occ_to_cloud: no occupied voxel for INR(s) {empty.nonzero().flatten().tolist()}; "
        "using the grid cells closest to the threshold",
        RuntimeWarning,
        stacklevel=2,
    )
    level = math.log(threshold / (1 - threshold))
    return torch.where(empty[:, None, None], closest_to_level(logits, level, n_points), cloud)
