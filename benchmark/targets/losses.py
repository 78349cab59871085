"""Fitting losses, one value per INR (each field kind picks one).

The fitter trains many INRs in one batch and sums their losses: a per-INR mean (over
points and outputs) keeps each INR's gradient independent of the others and of the
batch size. Inputs are ``(B, N, out_dim)``; everything follows the tensors' device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

FOCAL_ALPHA = 0.1
FOCAL_GAMMA = 3.0
LossFn = Callable[[Tensor, Tensor], Tensor]


def _check(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape or pred.dim() != 3:
        raise ValueError(f"expected predictions and targets of one shape (B, N, out_dim), got {tuple(pred.shape)} and {tuple(target.shape)}")


def bce_loss(logits: Tensor, target: Tensor) -> Tensor:
    """udf / sdf: BCE-with-logits against targets in [0, 1]."""
    _check(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=(1, 2))


def focal_loss(logits: Tensor, target: Tensor, alpha: float = FOCAL_ALPHA, gamma: float = FOCAL_GAMMA) -> Tensor:
    """occ: ``-a_t (1 - p_t)^gamma log p_t`` (Lin et al. 2017), as in inr2vec.

    ``alpha`` weights the positive (occupied) class and ``1 - alpha`` the negatives, so
    alpha = 0.1 favours empty space; the ``(1 - p_t)^gamma`` factor makes the rare,
    hard voxels near the surface dominate. Pair it with the 0.4 decode threshold.
    """
    _check(logits, target)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")  # -log p_t
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * (1 - p_t) ** gamma * bce).mean(dim=(1, 2))


def mse_loss(pred: Tensor, target: Tensor) -> Tensor:
    """image: MSE of the raw output against intensities in [0, 1]."""
    _check(pred, target)
    return (pred - target).square().mean(dim=(1, 2))

