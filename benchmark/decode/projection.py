"""Point clouds from distance fields by gradient projection (inr2vec, Appendix C).

An unsigned distance has no sign change to run marching cubes on, but its gradient points
away from the surface, so ``x - d(x) * grad / |grad|`` lands on it. Points are seeded where
the predicted distance is small, projected a few times, and failures are replaced by noisy
copies of the points that reached the surface. The field kind supplies ``d`` (for a udf
field, the inverse of its fitting target).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.decode.common import (
    DEFAULT_MAX_QUERIES,
    Draws,
    NoSurfaceWarning,
    RandomSource,
    check_count,
    evaluate,
    query_device,
    value_and_grad,
)

DistanceFn = Callable[[Tensor], Tensor]
"""Batched distance field: queries ``(B, N, 3)`` -> distances to the surface ``(B, N, 1)``, differentiable in the queries."""


def _project(fn: DistanceFn, x: Tensor, n_iters: int, max_queries: int) -> tuple[Tensor, Tensor]:
    """``n_iters`` projection steps; returns the points and their predicted distance."""
    for _ in range(n_iters):
        dist, grad = value_and_grad(fn, x, max_queries)
        x = (x - dist.unsqueeze(-1) * F.normalize(grad, dim=-1)).clamp(-1, 1)
    return x, evaluate(fn, x, 1, max_queries)[..., 0]


def distance_to_cloud(
    fn: DistanceFn,
    batch: int,
    n_points: int = 2048,
    n_iters: int = 5,
    *,
    oversample: int = 8,
    surface_tol: float = 0.01,
    noise_std: float = 0.01,
    device: torch.device | str | None = None,
    generator: RandomSource = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Decode ``batch`` distance fields into clouds ``(B, n_points, 3)`` in ``[-1, 1]^3``.

    1. Draw ``oversample * n_points`` uniform points per field, keep the ``n_points`` with
       the smallest predicted distance (a fixed count keeps the batch rectangular).
    2. Project them ``n_iters`` times.
    3. Points still farther than ``surface_tol`` (predicted) are replaced by survivors
       plus Gaussian noise of std ``noise_std``; everything is projected ``n_iters`` more
       times.
    A field with no survivor (no surface) keeps all its points as resampled seeds and
    triggers a ``RuntimeWarning``.
    """
    check_count("n_points", n_points)
    check_count("oversample", oversample)
    draws = Draws(generator, batch, query_device(device))
    x = draws.uniform(oversample * n_points, 3) * 2 - 1
    dist = evaluate(fn, x, 1, max_queries)[..., 0]
    seeds = dist.topk(n_points, dim=1, largest=False).indices
    x, dist = _project(fn, x.gather(1, seeds.unsqueeze(-1).expand(-1, -1, 3)), n_iters, max_queries)

    on_surface = dist < surface_tol
    lost = ~on_surface.any(dim=1)
    if bool(lost.any()):
        items = lost.nonzero().flatten().tolist()
        warnings.warn(
            NoSurfaceWarning(
                f"distance_to_cloud: no point reached the surface (distance < {surface_tol}) for INR(s) {items}; "
                "their clouds are unreliable",
                items,
            ),
            stacklevel=2,
        )
    source = draws.weighted(torch.where(lost.unsqueeze(-1), 1.0, on_surface.float()), n_points)
    noise = noise_std * draws.normal(n_points, 3)
    respawn = (x.gather(1, source.unsqueeze(-1).expand(-1, -1, 3)) + noise).clamp(-1, 1)
    x = torch.where(on_surface.unsqueeze(-1), x, respawn)
    return _project(fn, x, n_iters, max_queries)[0]
