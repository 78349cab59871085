"""Plumbing shared by the decoders: batched field callables, query grids, chunked evaluation.

Decoders take a plain batched callable instead of ``(spec, params)`` so that analytic
fields can stand in for fitted INRs in tests, and any batched model can be decoded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.metrics import require_finite

FieldFn = Callable[[Tensor], Tensor]
"""Batched field: queries ``(B, N, in_dim)`` -> raw outputs (logits) ``(B, N, out_dim)``."""

FieldKind = Literal["udf", "sdf", "occ", "image"]

DEFAULT_MAX_QUERIES = 2**17
"""Query points sent through a field in one call, summed over the INRs of a batch."""


def field_fn(spec: FieldSpec, params: Params) -> FieldFn:
    """Bind stacked INR parameters ``(B, *shape)`` into the callable the decoders expect."""
    return functools.partial(batched_forward, spec, params)


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``None`` means torch's current default device."""
    return torch.get_default_device() if device is None else torch.device(device)


def query_chunks(batch: int, n_queries: int, max_queries: int) -> list[slice]:
    """Slices over the query axis so that one call sees at most ``max_queries`` points in total."""
    step = max(1, max_queries // max(batch, 1))
    return [slice(start, min(start + step, n_queries)) for start in range(0, n_queries, step)]


def call_field(fn: FieldFn, x: Tensor, out_dim: int) -> Tensor:
    """Call ``fn`` and check that it answered one ``out_dim`` vector per query."""
    out = fn(x)
    expected = (*x.shape[:2], out_dim)
    if out.shape != expected:
        raise ValueError(f"field returned shape {tuple(out.shape)} for queries {tuple(x.shape)}, expected {expected}")
    return out


def evaluate(fn: FieldFn, x: Tensor, out_dim: int, max_queries: int = DEFAULT_MAX_QUERIES) -> Tensor:
    """``fn(x)`` for ``x (B, N, d)`` without autograd, in chunks; raises on non-finite outputs."""
    with torch.no_grad():
        out = torch.cat([call_field(fn, x[:, s], out_dim) for s in query_chunks(*x.shape[:2], max_queries)], dim=1)
    require_finite(out, "field output")
    return out


def grid_centres(resolution: int, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Voxel centres ``-1 + (2i + 1) / R`` as ``(R^3, 3)``; ``reshape(R, R, R)`` indexes ``[x, y, z]``."""
    c = (2 * torch.arange(resolution, device=device, dtype=dtype) + 1) / resolution - 1
    return torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)


def evaluate_grid(
    fn: FieldFn, batch: int, resolution: int, device: torch.device, max_queries: int = DEFAULT_MAX_QUERIES
) -> Tensor:
    """Scalar field values on the voxel-centre grid, ``(B, R, R, R)`` indexed ``[b, x, y, z]``."""
    if resolution < 2:
        raise ValueError(f"grid resolution must be at least 2, got {resolution}")
    points = grid_centres(resolution, device).expand(batch, -1, -1)
    return evaluate(fn, points, 1, max_queries)[..., 0].reshape(batch, resolution, resolution, resolution)


def closest_to_level(grid: Tensor, level: float, n_points: int) -> Tensor:
    """Centres ``(B, n_points, 3)`` of the grid cells whose value is closest to ``level``.

    The fallback cloud for a field with no surface at its decision level: a deliberately
    poor but finite answer, so that metrics score the failure instead of seeing NaNs.
    Cells repeat cyclically when the grid has fewer than ``n_points`` of them.
    """
    resolution = grid.shape[1]
    k = min(n_points, grid[0].numel())
    idx = (grid.flatten(1) - level).abs().topk(k, dim=1, largest=False).indices
    idx = idx[:, torch.arange(n_points, device=grid.device) % k]
    return grid_centres(resolution, grid.device, grid.dtype)[idx]


def check_count(name: str, value: int) -> None:
    """Fail early on sizes that would otherwise surface as obscure errors from topk or multinomial."""
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
