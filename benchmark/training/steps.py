"""Guards shared by every training loop: a non-finite loss must never reach the weights."""

from __future__ import annotations

import torch
from torch import Tensor


class TrainingDiverged(RuntimeError):
    """A training loss became NaN/inf: results would be silently meaningless."""


def check_finite(loss: Tensor, what: str) -> None:
    if not bool(torch.isfinite(loss).all()):
        raise TrainingDiverged(f"{what}: loss became non-finite ({loss.detach().flatten()[:4].tolist()})")
