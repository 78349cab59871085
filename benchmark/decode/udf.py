"""Point clouds from unsigned-distance fields by gradient projection (inr2vec, Appendix C).

A UDF has no sign change to run marching cubes on, but its gradient points away from
the surface, so ``x - udf(x) * grad / |grad|`` lands on it. Points are seeded where the
predicted distance is small, projected a few times, and failures are replaced by noisy
copies of the points that reached the surface.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.decode.common import (
    DEFAULT_MAX_QUERIES,
    FieldFn,
    call_field,
    check_count,
    evaluate,
    query_chunks,
    resolve_device,
)
from nfbench.metrics import require_finite

UDF_CLIP = 0.1
"""Distances are clipped to [0, UDF_CLIP] in the fitting target ``1 - udf / UDF_CLIP``."""


def logits_to_udf(logits: Tensor) -> Tensor:
    """Invert the fitting target: ``udf = UDF_CLIP * (1 - sigmoid(logit))``."""
    return UDF_CLIP * (1 - torch.sigmoid(logits))


def _udf_and_grad(fn: FieldFn, x: Tensor, max_queries: int) -> tuple[Tensor, Tensor]:
    udfs, grads = [], []
    for s in query_chunks(*x.shape[:2], max_queries):
        xc = x[:, s].detach().requires_grad_(True)
        with torch.enable_grad():
            udf = logits_to_udf(call_field(fn, xc, 1)[..., 0])
            # A field that ignores its input (constant) has no graph back to x: zero gradient.
            grad = torch.autograd.grad(udf.sum(), xc, allow_unused=True)[0] if udf.requires_grad else None
        udfs.append(udf.detach())
        grads.append(torch.zeros_like(xc) if grad is None else grad)
    udf, grad = torch.cat(udfs, dim=1), torch.cat(grads, dim=1)
    require_finite(udf, "field output")
    require_finite(grad, "field gradient")
    return udf, grad


def _project(fn: FieldFn, x: Tensor, n_iters: int, max_queries: int) -> tuple[Tensor, Tensor]:
    """``n_iters`` projection steps; returns the points and their predicted udf."""
    for _ in range(n_iters):
        udf, grad = _udf_and_grad(fn, x, max_queries)
        x = (x - udf.unsqueeze(-1) * F.normalize(grad, dim=-1)).clamp(-1, 1)
    return x, logits_to_udf(evaluate(fn, x, 1, max_queries)[..., 0])


def udf_to_cloud(
    fn: FieldFn,
    batch: int,
    n_points: int = 2048,
    n_iters: int = 5,
    *,
    oversample: int = 8,
    surface_tol: float = 0.01,
    noise_std: float = 0.01,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Decode ``batch`` UDF fields into clouds ``(B, n_points, 3)`` in ``[-1, 1]^3``.

    1. Draw ``oversample * n_points`` uniform points per INR, keep the ``n_points`` with
       the smallest predicted udf (a fixed count keeps the batch rectangular).
    2. Project them ``n_iters`` times.
    3. Points still farther than ``surface_tol`` (predicted) are replaced by survivors
       plus Gaussian noise of std ``noise_std``; everything is projected ``n_iters`` more
       times.
    An INR with no survivor (no surface in its field) keeps all its points as resampled
    seeds and triggers a ``RuntimeWarning``. ``generator`` must live on ``device``.
    """
    check_count("n_points", n_points)
    check_count("oversample", oversample)
    device = resolve_device(device)
    x = torch.rand(batch, oversample * n_points, 3, device=device, generator=generator) * 2 - 1
    udf = logits_to_udf(evaluate(fn, x, 1, max_queries)[..., 0])
    seeds = udf.topk(n_points, dim=1, largest=False).indices
    x, udf = _project(fn, x.gather(1, seeds.unsqueeze(-1).expand(-1, -1, 3)), n_iters, max_queries)

    on_surface = udf < surface_tol
    lost = ~on_surface.any(dim=1)
    if bool(lost.any()):
        warnings.warn(
            f"udf_to_cloud: no point reached the surface (udf < {surface_tol}) for INR(s) "
            f"{lost.nonzero().flatten().tolist()}; their clouds are unreliable",
            RuntimeWarning,
            stacklevel=2,
        )
    weights = torch.where(lost.unsqueeze(-1), 1.0, on_surface.float())
    source = torch.multinomial(weights, n_points, replacement=True, generator=generator)
    noise = noise_std * torch.randn(x.shape, device=device, generator=generator)
    respawn = (x.gather(1, source.unsqueeze(-1).expand(-1, -1, 3)) + noise).clamp(-1, 1)
    x = torch.where(on_surface.unsqueeze(-1), x, respawn)
    return _project(fn, x, n_iters, max_queries)[0]
