"""Per-shape latents found by optimisation at test time (DeepSDF codes, Functa modulations), with one
stated rule for shapes whose optimisation diverges, so that none is dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nfbench.api.view import View, ViewBatch

RETRY_SCALE = 0.1
DIVERGENCE_RULE = (
    "a shape whose latent optimisation gives a non-finite latent or loss is optimised again with its step sizes "
    f"scaled by {RETRY_SCALE:g}; if that diverges too it keeps the zero latent (the prior mean) and is listed by key"
)

Optimise = Callable[[ViewBatch, float], tuple[Tensor, Tensor]]
"""``(batch on the device, step-size scale) -> (latents (B, L), diverged (B,) bool)``."""


def latents_of(view: View, optimise: Optimise, batch_size: int, device: torch.device) -> tuple[Tensor, list[int]]:
    """Latents ``(N, L)`` of every item of ``view`` on the CPU, and the positions that diverged twice."""
    out, failed = [], []
    for batch in view.batches(batch_size):
        batch = batch.to(device)
        z, bad = optimise(batch, 1.0)
        if bad.any():
            retry, still = optimise(batch, RETRY_SCALE)
            z = torch.where(bad[:, None], retry, z)
            lost = bad & still
            z[lost] = 0.0
            failed += batch.index[lost].tolist()
        out.append(z.detach().cpu())
    return torch.cat(out), failed


def test_time_report(view: View, failed: list[int]) -> dict[str, Any]:
    """What a record says about the latents of a test split (``details.training.test_time``)."""
    keys = getattr(view, "keys", None)
    return {
        "shapes": len(view),
        "diverged": [keys[p] for p in failed] if keys is not None else failed,
        "rule": DIVERGENCE_RULE,
    }


def query_subset(data: dict[str, Tensor], n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` random supervision queries per shape (``coords``, ``targets``): from ``generator`` (on the data's
    device), or from torch's global RNG, which the trainer checkpoints."""
    coords, targets = data["coords"], data["targets"]
    pick = torch.randint(coords.shape[1], (coords.shape[0], min(n, coords.shape[1])), device=coords.device, generator=generator)
    return tuple(torch.gather(t, 1, pick[..., None].expand(-1, -1, t.shape[-1])) for t in (coords, targets))  # type: ignore[return-value]


def backward_by_blocks(per_item_loss: Callable[[slice], Tensor], n: int, block: int | None) -> Tensor:
    """Backpropagate the sum of ``n`` independent per-item losses ``block`` items at a time (all at once for
    ``None``), and return them detached.

    The gradients are those of one pass over all items (each item's latent gets its own loss's
    gradient, accumulated into ``.grad``); blocks only keep a CPU pass in cache: take ``block``
    from ``nfbench.device.items_per_block``."""
    size = block or n
    losses = []
    for start in range(0, n, size):
        loss = per_item_loss(slice(start, start + size))
        loss.sum().backward()
        losses.append(loss.detach())
    return torch.cat(losses)
