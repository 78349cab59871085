"""Building blocks shared by nfbench's models: train statistics, auxiliary losses, BN MLPs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

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


class AuxiliaryLoss(nn.Module):
    """A module that adds a term to the training loss from inside the forward pass.

    Some regularizers are functions of intermediate activations (PointNet's orthogonality
    of its feature transform), which the loss function never sees. Such a module calls
    ``add_loss`` in its forward; the recipe (``fit_classifier``) adds every pending term of
    the model to the batch's loss with ``take_auxiliary_loss``, which clears them. Terms are
    kept only in training mode, so validation and inference leave nothing behind.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[Tensor] = []

    def add_loss(self, value: Tensor) -> None:
        """Record a scalar term (already weighted) of this training forward."""
        if self.training:
            self._pending.append(value)


def take_auxiliary_loss(model: nn.Module) -> Tensor | float:
    """The sum of the terms every ``AuxiliaryLoss`` in ``model`` recorded since the last call (0 if none), cleared."""
    total: Tensor | float = 0.0
    for module in model.modules():
        if isinstance(module, AuxiliaryLoss):
            total = sum(module._pending, total)
            module._pending = []
    return total


def bn_layers(
    in_dim: int, widths: Sequence[int], dropout: float = 0.0, activation: Callable[[], nn.Module] = nn.ReLU
) -> list[nn.Module]:
    """``Linear -> BN -> activation [-> Dropout]`` per width, on ``(rows, channels)`` inputs."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in widths:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), activation()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return layers


class SharedMLP(nn.Sequential):
    """``bn_layers`` applied to every row of a ``(..., C)`` input: the point networks' shared MLP.

    PointNet's 1x1 convolutions over points, PointNet++'s over grouped neighbours and
    DGCNN's over edges are one MLP applied to each row with BatchNorm over all rows; the
    leading dimensions are flattened into rows and restored.
    """

    def __init__(self, in_dim: int, widths: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__(*bn_layers(in_dim, widths, activation=activation))

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1], -1)


def bn_mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float, activation: Callable[[], nn.Module] = nn.ReLU
) -> nn.Sequential:
    """``bn_layers`` for the hidden widths, then a linear output layer.

    The one classifier head of nfbench's methods (and nf2vec's row encoder). The last
    module is the output layer, so ``model[:-1]`` gives the penultimate activations, used
    as embeddings.
    """
    width = hidden[-1] if hidden else in_dim
    return nn.Sequential(*bn_layers(in_dim, hidden, dropout, activation), nn.Linear(width, out_dim))
