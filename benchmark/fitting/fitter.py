"""Fit many INRs at once from one shared initialization.

All INRs of a chunk are stacked along a leading axis and trained together with one Adam:
Adam is element-wise and the loss is a *sum* of per-INR losses, so every INR follows
exactly the trajectory it would follow alone, while each step is a handful of ``baddbmm``
calls instead of B tiny forward passes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from nfbench.fields import FieldSpec, Params, batched_forward

LossFn = Callable[[Tensor, Tensor], Tensor]


class FitConfig(BaseModel):
    """Optimization settings of the fitter (paper: Adam 1e-4, 500 steps, 10K points a step)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    points_per_step: int = Field(ge=1)
    chunk_size: int = Field(ge=1, description="INRs fitted together; also the shard size on disk")


class FitDiverged(RuntimeError):
    """Raised when a loss becomes NaN/inf, with the indices of the offending INRs."""


def stack_init(init: Params, batch: int, device: torch.device) -> Params:
    return {n: p.to(device).unsqueeze(0).repeat(batch, *([1] * p.dim())).contiguous() for n, p in init.items()}


def fit_batch(
    spec: FieldSpec,
    init: Params,
    coords: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    cfg: FitConfig,
    seed: int,
    on_step: Callable[[int], None] | None = None,
) -> tuple[Params, Tensor]:
    """Fit ``B`` fields to ``coords (B, Q, in_dim) -> targets (B, Q, out_dim)``.

    Each step draws ``points_per_step`` of each INR's ``Q`` queries with a generator
    seeded by ``seed`` on the data's device, so a chunk refitted with the same seed is
    bit-identical. Returns the stacked parameters (detached) and the per-INR loss of the
    last step.
    """
    device = coords.device
    batch, n_queries, in_dim = coords.shape
    out_dim = targets.shape[-1]
    params = {n: p.requires_grad_(True) for n, p in stack_init(init, batch, device).items()}
    opt = torch.optim.Adam(list(params.values()), lr=cfg.lr)
    gen = torch.Generator(device=device).manual_seed(seed)
    n_pts = min(cfg.points_per_step, n_queries)
    loss = torch.zeros(batch, device=device)
    for step in range(cfg.steps):
        idx = torch.randint(n_queries, (batch, n_pts), generator=gen, device=device)
        x = torch.gather(coords, 1, idx.unsqueeze(-1).expand(-1, -1, in_dim))
        y = torch.gather(targets, 1, idx.unsqueeze(-1).expand(-1, -1, out_dim))
        loss = loss_fn(batched_forward(spec, params, x), y)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if on_step is not None:
            on_step(step)
    loss = loss.detach()
    bad = (~torch.isfinite(loss)).nonzero().flatten().tolist()
    if bad:
        raise FitDiverged(f"fitting diverged (non-finite loss) for INRs at chunk positions {bad}")
    return {n: p.detach() for n, p in params.items()}, loss
