"""Clouds from occupancy grids: centres of the surface voxels.

Surface voxels (occupied, with an empty 6-neighbour) make a cloud comparable with clouds
sampled on surfaces; solid interiors would not be. Which cells are occupied is the field
kind's business (occ thresholds its probability, sdf takes the negative side).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.decode.common import Draws, RandomSource, check_count, closest_to_level, grid_centres


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


def _sample_cells(mask: Tensor, n_points: int, draws: Draws) -> Tensor:
    """Centres of ``n_points`` cells of ``mask (B, R, R, R)``: a random subset, cycling when there are fewer.

    Rows without a cell get arbitrary centres; callers replace or reject them.
    """
    flat = mask.flatten(1)
    scores = draws.uniform(flat.shape[1]).masked_fill(~flat, 2.0)
    order = scores.argsort(dim=1)  # marked cells first, in random order
    count = flat.sum(dim=1, keepdim=True).clamp_min(1)
    idx = order.gather(1, torch.arange(n_points, device=mask.device).expand(mask.shape[0], -1) % count)
    return grid_centres(mask.shape[1], mask.device)[idx]


def _check_grids(voxels: Tensor) -> None:
    if voxels.dtype != torch.bool or voxels.dim() != 4 or not voxels.shape[1] == voxels.shape[2] == voxels.shape[3]:
        raise ValueError(f"expected boolean voxel grids (B, R, R, R), got {voxels.dtype} {tuple(voxels.shape)}")


def voxels_to_cloud(voxels: Tensor, n_points: int = 2048, generator: RandomSource = None) -> Tensor:
    """``(B, n_points, 3)`` centres of surface voxels of boolean grids ``(B, R, R, R)`` over ``[-1, 1]^3``.

    Voxels are drawn without replacement, and all of them repeat cyclically when there are
    fewer than ``n_points``. An empty grid has nothing to sample and raises ``ValueError``.
    """
    _check_grids(voxels)
    check_count("n_points", n_points)
    empty = ~voxels.flatten(1).any(dim=1)
    if bool(empty.any()):
        raise ValueError(f"empty voxel grid(s) at batch items {empty.nonzero().flatten().tolist()}: no points to sample")
    return _sample_cells(_surface_voxels(voxels), n_points, Draws(generator, voxels.shape[0], voxels.device))


def occupancy_cloud(values: Tensor, occupied: Tensor, level: float, n_points: int, generator: RandomSource = None) -> Tensor:
    """``voxels_to_cloud(occupied)``, except that a field with no occupied cell gets the centres of
    the cells whose ``values`` are closest to ``level`` (its decision level, with a
    ``RuntimeWarning``) instead of an error, so that a batch of decodes survives one failed INR.
    """
    _check_grids(occupied)
    check_count("n_points", n_points)
    empty = ~occupied.flatten(1).any(dim=1)
    cloud = _sample_cells(_surface_voxels(occupied), n_points, Draws(generator, occupied.shape[0], occupied.device))
    if not bool(empty.any()):
        return cloud
    warnings.warn(
        f"occupancy_cloud: no occupied voxel for INR(s) {empty.nonzero().flatten().tolist()}; "
        "using the grid cells closest to the decision level",
        RuntimeWarning,
        stacklevel=2,
    )
    return torch.where(empty[:, None, None], closest_to_level(values, level, n_points), cloud)
