"""PointNet (Qi et al., CVPR 2017): ``pointnet``, on clouds decoded from the INRs.

A shared MLP lifts every point to 1024 features and a max over the points gives a cloud
feature that does not depend on the order of the points; an FC head classifies it. Two
T-Nets (mini PointNets) predict a 3x3 transform of the input and a 64x64 transform of the
point features, aligning clouds before the layers that follow. The feature transform is
kept near orthogonal by the paper's regularizer ``w * ||I - A A^T||_F^2``, a term of the
loss that the shared recipe collects from the T-Net (``AuxiliaryLoss``); averaged over
the batch, so its weight does not depend on the batch size.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.pointcloud.augment import PointAugment
from nfbench.pointcloud.method import POINT_KINDS, PointClassifierConfig, PointClassifierMethod
from nfbench.training import AuxiliaryLoss, SharedMLP, bn_layers, bn_mlp


class PointNetConfig(PointClassifierConfig):
    point_mlp: tuple[int, ...] = Field(min_length=1, description="shared MLP before the feature transform (paper 64-64)")
    global_mlp: tuple[int, ...] = Field(
        min_length=1, description="shared MLP after it; the last width is the cloud feature (paper 64-128-1024). The T-Nets' too"
    )
    head: tuple[int, ...] = Field(min_length=1, description="hidden widths of the FC head (paper 512-256). The T-Nets' too")
    dropout: float = Field(ge=0, lt=1, description="after each hidden FC layer of the head (paper: keep ratio 0.7)")
    input_transform: bool = Field(description="a T-Net predicts a 3x3 transform of the input points")
    feature_transform: bool = Field(description="a T-Net predicts a transform of the point features after point_mlp")
    transform_reg: float = Field(ge=0, description="weight of ||I - A A^T||_F^2 of the feature transform A in the loss")


class TNet(AuxiliaryLoss):
    """A ``k x k`` transform of each cloud's ``(N, k)`` points, predicted from the cloud; the identity at init.

    The paper's T-Net is a PointNet of its own (shared MLP, max pool, FC layers) with the
    classifier's widths; starting from the identity lets training begin from the plain
    network. With ``reg > 0`` it adds the orthogonality regularizer to the training loss.
    """

    def __init__(self, k: int, mlp: tuple[int, ...], head: tuple[int, ...], reg: float) -> None:
        super().__init__()
        self.k, self.reg = k, reg
        self.points = SharedMLP(k, mlp)
        self.fc = nn.Sequential(*bn_layers(mlp[-1], head), nn.Linear(head[-1], k * k))
        nn.init.zeros_(self.fc[-1].weight)
        with torch.no_grad():
            self.fc[-1].bias.copy_(torch.eye(k).flatten())

    def forward(self, x: Tensor) -> Tensor:
        transform = self.fc(self.points(x).amax(dim=1)).view(-1, self.k, self.k)
        if self.reg > 0 and self.training:
            eye = torch.eye(self.k, dtype=x.dtype, device=x.device)
            self.add_loss(self.reg * (eye - transform @ transform.transpose(1, 2)).square().sum((1, 2)).mean())
        return x @ transform


class PointNetClassifier(nn.Module):
    def __init__(self, config: PointNetConfig, n_classes: int) -> None:
        super().__init__()
        c = config
        self.input_transform = TNet(3, c.global_mlp, c.head, 0.0) if c.input_transform else nn.Identity()
        self.point_mlp = SharedMLP(3, c.point_mlp)
        self.feature_transform = (
            TNet(c.point_mlp[-1], c.global_mlp, c.head, c.transform_reg) if c.feature_transform else nn.Identity()
        )
        self.global_mlp = SharedMLP(c.point_mlp[-1], c.global_mlp)
        self.head = bn_mlp(c.global_mlp[-1], c.head, n_classes, c.dropout)

    def forward(self, points: Tensor, embed: bool = False) -> Tensor:
        x = self.feature_transform(self.point_mlp(self.input_transform(points)))
        cloud = self.global_mlp(x).amax(dim=1)
        return self.head[:-1](cloud) if embed else self.head(cloud)


def _presets() -> dict[str, Preset]:
    paper = PointNetConfig(
        point_mlp=(64, 64), global_mlp=(64, 128, 1024), head=(512, 256), dropout=0.3,
        input_transform=True, feature_transform=True, transform_reg=0.001,
        n_points=2048, augment=PointAugment(rotate=True, jitter=0.01, jitter_clip=0.05),
        epochs=250, lr=1e-3, weight_decay=0.0, batch_size=32,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="2048 points (the paper's ModelNet40 runs read 1024); AdamW with OneCycle, the shared recipe, instead "
            "of Adam with the lr and BatchNorm momentum decayed in steps",
        ),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(point_mlp=(32, 32), global_mlp=(32, 64, 256), head=(128, 64), n_points=512, epochs=60)
            ),
            departs="widths / 2 (cloud feature 256, head 128-64), 512 points, 60 epochs: about 5 minutes for 720 clouds on one CPU thread",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(
                    point_mlp=(8,), global_mlp=(16,), head=(16,), n_points=64, decode_grid=16, epochs=3, lr=1e-2, batch_size=8, eval_batch_size=16
                )
            ),
            departs="widths 8-16, 64 points, 3 epochs: seconds, for tests",
        ),
    }


class PointNet(PointClassifierMethod):
    card = MethodCard(
        name="pointnet",
        description="PointNet on surface clouds decoded from the INRs: input and feature T-Nets, shared MLP to 1024, "
        "max pool, FC head.",
        reference="Qi et al., PointNet: Deep Learning on Point Sets for 3D Classification and Segmentation, CVPR 2017",
        view="points",
        field_kinds=POINT_KINDS,
        training="supervised",
        symmetry="none",
    )
    Config = PointNetConfig
    config: PointNetConfig
    presets = _presets()

    def build(self, info: DataInfo) -> nn.Module:
        return PointNetClassifier(self.config, info.n_classes)
