"""``conv3d``: VoxNet (Maturana & Scherer, IROS 2015) on occupancy grids decoded from the fields.

The nf2vec paper's voxel baseline (its "Conv3DNet"). Two 3D convolutions (32 filters of
5^3 with stride 2, then 32 of 3^3), a 2^3 max pool, a 128-unit hidden layer and the class
layer, with leaky ReLUs (slope 0.1) and VoxNet's dropouts (0.2, 0.3, 0.4). The grid comes
from the ``voxels`` view: occ fields thresholded at 0.5, sdf fields at their zero level;
``resolution`` sets its cells per side (VoxNet: 32) and the hidden layer's input follows it.
Training batches are rotated about the up axis (the dataset card's, unless the config
names one) by a random angle (VoxNet trains on 12 rotations of each shape), resampled
nearest-neighbour so the grid stays binary, and mirrored across a vertical plane with
probability 1/2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.api import Axis, DataInfo, MethodCard, Preset
from nfbench.api.view import ViewBatch
from nfbench.training.classifier_method import ClassifierConfig, ClassifierMethod

_AXES = {"x": 0, "y": 1, "z": 2}


class Conv3DConfig(ClassifierConfig):
    resolution: int = Field(32, ge=8, le=256, description="grid cells per side of the decoded occupancy grid")
    filters: tuple[int, int] = Field((32, 32), description="filters of the two convolutions")
    hidden: int = Field(128, ge=1, description="units of the hidden fully connected layer")
    dropout: tuple[float, float, float] = Field((0.2, 0.3, 0.4), description="after conv1, after the pool, after the hidden layer")
    rotate: bool = Field(True, description="train on random rotations about the up axis")
    flip: bool = Field(True, description="train on random mirror images across a vertical plane")
    up_axis: Axis | None = Field(None, description="the axis rotations turn about; None: the dataset card's")


class VoxNet(nn.Module):
    def __init__(self, config: Conv3DConfig, n_classes: int) -> None:
        super().__init__()
        f1, f2 = config.filters
        d1, d2, d3 = config.dropout
        self.features = nn.Sequential(
            nn.Conv3d(1, f1, kernel_size=5, stride=2),
            nn.LeakyReLU(0.1),
            nn.Dropout(d1),
            nn.Conv3d(f1, f2, kernel_size=3),
            nn.LeakyReLU(0.1),
            nn.MaxPool3d(2),
            nn.Dropout(d2),
            nn.Flatten(),
        )
        side = ((config.resolution - 5) // 2 + 1 - 2) // 2
        if side < 1:
            raise ValueError(f"a {config.resolution}^3 grid is too small for VoxNet's two convolutions and pool")
        self.hidden = nn.Sequential(nn.Linear(f2 * side**3, config.hidden), nn.ReLU(), nn.Dropout(d3))
        self.out = nn.Linear(config.hidden, n_classes)

    def forward(self, grids: Tensor, embed: bool = False) -> Tensor:
        h = self.hidden(self.features(grids.float().unsqueeze(1)))
        return h if embed else self.out(h)


def rotate_grids(grids: Tensor, up_axis: Axis, angle: Tensor, mirror: Tensor) -> Tensor:
    """``(B, R, R, R)`` grids indexed ``[b, x, y, z]`` rotated by ``angle`` (radians, per item) about
    ``up_axis``, first mirrored where ``mirror`` is -1; nearest-neighbour, so a binary grid stays binary."""
    b = grids.shape[0]
    up = 2 - _AXES[up_axis]  # affine_grid orders its coordinates (W, H, D) = (z, y, x)
    i, j = [a for a in range(3) if a != up]
    theta = torch.zeros(b, 3, 4)
    theta[:, up, up] = 1.0
    theta[:, i, i], theta[:, i, j] = torch.cos(angle) * mirror, -torch.sin(angle)
    theta[:, j, i], theta[:, j, j] = torch.sin(angle) * mirror, torch.cos(angle)
    grid = F.affine_grid(theta.to(grids.device), [b, 1, *grids.shape[1:]], align_corners=False)
    moved = F.grid_sample(grids.float().unsqueeze(1), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return moved.squeeze(1).to(grids.dtype)


def _presets() -> dict[str, Preset]:
    paper = Conv3DConfig(epochs=100, lr=1e-3, weight_decay=1e-3, batch_size=32)
    return {
        "paper": Preset(
            config=paper,
            departs="VoxNet's network on 32^3 grids; the shared AdamW/OneCycle recipe instead of its SGD with momentum, "
            "random rotations instead of 12 fixed ones, and no rotation voting at test time",
        ),
        "cpu": Preset(
            config=paper.model_copy(update=dict(epochs=40)),
            departs="the paper network for 40 epochs",
        ),
        "tiny": Preset(
            config=paper.model_copy(update=dict(resolution=12, filters=(4, 4), hidden=16, epochs=8, lr=1e-2, batch_size=8, eval_batch_size=16)),
            departs="12^3 grids, 4 filters, hidden 16, 8 epochs: seconds, for tests",
        ),
    }


class Conv3D(ClassifierMethod):
    card = MethodCard(
        name="conv3d",
        description="VoxNet 3D CNN on occupancy grids decoded from the fields (sdf or occ).",
        reference="Maturana & Scherer, VoxNet, IROS 2015",
        view="voxels",
        field_kinds=("occ", "sdf"),
        training="supervised",
        symmetry="none",
    )
    Config = Conv3DConfig
    config: Conv3DConfig
    presets = _presets()
    resolution_field = "resolution"

    @classmethod
    def view_options(cls, config: Conv3DConfig) -> dict[str, Any]:  # type: ignore[override]
        return {"resolution": config.resolution}

    def check(self, info: DataInfo) -> None:
        cfg = self.config  # rotations and mirror images both act about the up axis: fail before any work without one
        self.up_axis = info.up(cfg.up_axis, "conv3d's rotations and mirror images") if cfg.rotate or cfg.flip else None

    def build(self, info: DataInfo) -> nn.Module:
        return VoxNet(self.config, info.n_classes)

    def train_transform(self) -> Callable[[ViewBatch], ViewBatch] | None:
        cfg, up = self.config, self.up_axis
        if up is None:  # neither rotations nor mirror images
            return None

        def augment(batch: ViewBatch) -> ViewBatch:
            b = len(batch)
            angle = torch.rand(b) * 2 * math.pi if cfg.rotate else torch.zeros(b)
            mirror = torch.where(torch.rand(b) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(b)
            return replace(batch, data=rotate_grids(batch.data, up, angle, mirror))

        return augment
