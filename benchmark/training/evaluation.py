"""Passes over a view that are not training steps: feature statistics and batched inference.

They stream the view batch by batch, so a split larger than memory (paper-size INRs)
is standardized and predicted with one batch on the device at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from nfbench.api.view import View
from nfbench.training.layers import Standardize


@torch.no_grad()
def fit_standardize(standardize: Standardize, features: Callable[[Any], Tensor], view: View, batch_size: int, device: torch.device) -> None:
    """Train mean and std of ``features(batch.data)`` over the whole view, accumulated in float64.

    Constant features (std 0) are centred but not scaled, as ``Standardize.fit_`` does.
    """
    total, total_sq, n = None, None, 0
    for batch in view.batches(batch_size):
        x = features(batch.to(device).data).double()
        total = x.sum(0) if total is None else total + x.sum(0)
        total_sq = x.square().sum(0) if total_sq is None else total_sq + x.square().sum(0)
        n += len(x)
    if total is None or total_sq is None:
        raise ValueError(f"cannot standardize on an empty {view.split} view")
    mean, std = mean_std(total, total_sq, n)
    standardize.mean.copy_(mean)
    standardize.std.copy_(std)


def mean_std(total: Tensor, total_sq: Tensor, count: Tensor | int) -> tuple[Tensor, Tensor]:
    """float32 mean and std from float64 sums streamed over a view; a std of (nearly) 0 becomes 1,
    so a constant feature is centred but not scaled."""
    mean = total / count
    std = (total_sq / count - mean.square()).clamp(min=0).sqrt()
    return mean.float(), torch.where(std > 1e-8, std, torch.ones_like(std)).float()


@torch.no_grad()
def predict_view(fn: Callable[[Any], Tensor], model: nn.Module, view: View, batch_size: int, device: torch.device) -> Tensor:
    """``fn(batch.data)`` over the view in item order, with ``model`` in eval mode; on the CPU."""
    model.eval()
    return torch.cat([fn(batch.to(device).data).float().cpu() for batch in view.batches(batch_size)])


def accuracy_of(model: nn.Module, view: View, batch_size: int, device: torch.device) -> float:
    """Accuracy of ``model``'s argmax logits on the view (validation score of classifiers)."""
    logits = predict_view(model, model, view, batch_size, device)
    return float((logits.argmax(dim=1) == view.labels).float().mean())
