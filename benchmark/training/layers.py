"""Building blocks shared by nfbench's weight-space models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nfbench.api.view import View


class TrainStatistic(nn.Module, ABC):
    """A module whose buffers hold statistics of the train view (e.g. per-layer scales of the weights).

    ``WeightClassifierMethod.prepare`` fits every one inside a model before training, and the
    buffers travel in the ``state_dict``, so a restored model transforms inputs as in training.
    """

    @abstractmethod
    def fit_(self, view: View, batch_size: int, device: torch.device) -> None:
        """Stream the view (it may not fit in memory) and set the buffers."""


class Standardize(nn.Module):
    """Per-feature ``(x - mean) / std`` with train statistics, stored as buffers.

    As a module it travels inside a model's ``state_dict``, so a restored model standardizes
    new inputs exactly as it did during training.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    @torch.no_grad()
    def fit_(self, x_train: Tensor) -> Standardize:
        """Constant features (std 0) are centred but not scaled, instead of dividing by zero."""
        std, mean = torch.std_mean(x_train.float(), dim=0, correction=0)  # where x lives: it may be huge
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        return self

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def bn_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float) -> nn.Sequential:
    """``Linear -> BN -> ReLU [-> Dropout]`` per hidden width, then a linear output layer.

    The one MLP of nfbench's weight-space methods (classifier heads, nf2vec's row encoder).
    The last module is the output layer, so ``model[:-1]`` gives the penultimate
    activations, used as embeddings.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
