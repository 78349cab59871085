"""Fit many INRs at once from one shared initialization.

All INRs of a chunk are stacked along a leading axis and trained together with one Adam:
Adam is element-wise and the loss is a *sum* of per-INR losses, so every INR follows
exactly the trajectory it would follow alone, while each step is a handful of ``baddbmm``
calls instead of B tiny forward passes.

Each INR draws its query indices from its own stream (``ItemStreams``), seeded by the
caller from the item, so its weights do not depend on the chunk size, the shard or its
neighbours. On the CPU they are bit-identical in any chunk (see ``decode.field_fn`` for
the one batch size torch treats differently); on CUDA, cuBLAS may choose kernels by batch
size, so chunkings agree to rounding only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from nfbench.decode.common import field_fn
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.fitting.streams import ItemStreams

LossFn = Callable[[Tensor, Tensor], Tensor]

INDEX_BLOCK = 16
"""Steps whose query indices are drawn together: the loop over the INRs' streams runs once
per block, and a block holds ``16 * points_per_step`` indices per INR (1.3 MB at the paper's 10K)."""


class FitConfig(BaseModel):
    """Optimization settings of the fitter (paper: Adam 1e-4, 500 steps, 10K points a step)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    points_per_step: int = Field(ge=1)
    chunk_size: int = Field(ge=1, description="INRs fitted together; also the shard size on disk")
    seeding: Literal["per-shard", "per-item"] = Field(
        "per-shard",
        description="where each INR's query indices come from: one generator per shard (datasets written before "
        "this field existed; their weights depend on the chunking) or one stream per item (the only scheme fitted now)",
    )


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
    seeds: Sequence[int],
    on_step: Callable[[int], None] | None = None,
) -> tuple[Params, Tensor]:
    """Fit ``B`` fields to ``coords (B, Q, in_dim) -> targets (B, Q, out_dim)``.

    Each step uses ``points_per_step`` of each INR's ``Q`` queries, drawn from INR ``b``'s
    stream seeded by ``seeds[b]``. Returns the stacked parameters (detached) and the
    per-INR loss of the last step.
    """
    if cfg.seeding != "per-item":
        raise ConfigError(
            f"fit config seeding {cfg.seeding!r} describes datasets fitted before per-item seeding, which cannot be "
            "refitted or resumed identically: redo the build with a current preset (seeding 'per-item')"
        )
    device = coords.device
    batch, n_queries, in_dim = coords.shape
    if len(seeds) != batch:
        raise ValueError(f"{len(seeds)} seeds for a batch of {batch} INRs")
    out_dim = targets.shape[-1]
    params = {n: p.requires_grad_(True) for n, p in stack_init(init, batch, device).items()}
    forward = field_fn(spec, params)
    opt = torch.optim.Adam(list(params.values()), lr=cfg.lr)
    streams = ItemStreams(seeds)
    n_pts = min(cfg.points_per_step, n_queries)
    loss = torch.zeros(batch, device=device)
    for step in range(cfg.steps):
        if step % INDEX_BLOCK == 0:
            block = streams.integers(n_queries, min(INDEX_BLOCK, cfg.steps - step), n_pts).to(device)
        idx = block[:, step % INDEX_BLOCK]
        x = torch.gather(coords, 1, idx.unsqueeze(-1).expand(-1, -1, in_dim))
        y = torch.gather(targets, 1, idx.unsqueeze(-1).expand(-1, -1, out_dim))
        loss = loss_fn(forward(x), y)
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
