"""PointNet++ (Qi et al., NeurIPS 2017), single-scale grouping: ``pointnet2``, on clouds decoded from the INRs.

Set abstraction levels make PointNet hierarchical: each samples centroids by farthest
point sampling, groups the points within a radius of each (a ball query, padded to a fixed
count with the first neighbour found), and runs a small PointNet on each group, whose
input is every neighbour's position relative to its centroid concatenated with its
features; a last level groups all remaining points. Each level is PyG's ``PointNetConv``
(its ``local_nn`` the shared MLP, max aggregation) on an explicit bipartite graph from
the neighbours to the centroids, built by nfbench's pure-torch sampling and grouping
(PyG's own ``fps`` and ``radius`` need pyg-lib). The graph keeps the padded repeats, so
BatchNorm sees every group at full size, as in the paper's dense grouping.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn
from torch_geometric.nn import PointNetConv

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.pointcloud.augment import PointAugment
from nfbench.pointcloud.method import POINT_KINDS, PointClassifierConfig, PointClassifierMethod
from nfbench.pointcloud.ops import ball_query, farthest_point_sample, gather_points, neighbour_edges
from nfbench.training import SharedMLP, bn_mlp


class SetAbstraction(BaseModel):
    """One set abstraction level: how many centroids, the ball around each, and its PointNet's widths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    centroids: int = Field(ge=1, description="centroids sampled by farthest point sampling")
    radius: float = Field(gt=0, description="ball radius, in the units of the clouds (shapes fit the unit sphere)")
    samples: int = Field(ge=1, description="neighbours per centroid (the first found fill a ball holding fewer)")
    mlp: tuple[int, ...] = Field(min_length=1, description="widths of the shared MLP on each group")


class PointNet2Config(PointClassifierConfig):
    levels: tuple[SetAbstraction, ...] = Field(min_length=1, description="the grouping levels, finest first")
    global_mlp: tuple[int, ...] = Field(min_length=1, description="shared MLP of the last level, which groups all points")
    head: tuple[int, ...] = Field(min_length=1, description="hidden widths of the FC head (paper 512-256)")
    dropout: float = Field(ge=0, lt=1, description="after each hidden FC layer of the head")

    @model_validator(mode="after")
    def _fewer_centroids_each_level(self) -> PointNet2Config:
        available = self.n_points
        for i, level in enumerate(self.levels):
            if level.centroids > available:
                raise ValueError(f"levels[{i}] samples {level.centroids} centroids from {available} points")
            available = level.centroids
        return self


class LocalAbstraction(nn.Module):
    """Centroids of the input points and one feature per centroid, pooled over its ball."""

    def __init__(self, level: SetAbstraction, in_features: int) -> None:
        super().__init__()
        self.level = level
        self.conv = PointNetConv(local_nn=SharedMLP(in_features + 3, level.mlp), add_self_loops=False)

    def forward(self, pos: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        b, n, _ = pos.shape
        centre = gather_points(pos, farthest_point_sample(pos, self.level.centroids))
        edges = neighbour_edges(ball_query(centre, pos, self.level.radius, self.level.samples), n)
        flat_x = None if x is None else x.reshape(b * n, -1)
        out = self.conv(flat_x, (pos.reshape(b * n, 3), centre.reshape(-1, 3)), edges)
        return centre, out.view(b, self.level.centroids, -1)


class GlobalAbstraction(nn.Module):
    """One feature per cloud from all its points: a ball around the origin holding everything.

    Positions relative to the origin are the absolute ones, concatenated with the features,
    as the paper's group-all level does.
    """

    def __init__(self, mlp: tuple[int, ...], in_features: int) -> None:
        super().__init__()
        self.conv = PointNetConv(local_nn=SharedMLP(in_features + 3, mlp), add_self_loops=False)

    def forward(self, pos: Tensor, x: Tensor) -> Tensor:
        b, n, _ = pos.shape
        everything = torch.arange(n, device=pos.device).expand(b, 1, n)
        origin = pos.new_zeros(b, 3)
        return self.conv(x.reshape(b * n, -1), (pos.reshape(b * n, 3), origin), neighbour_edges(everything, n))


class PointNet2Classifier(nn.Module):
    def __init__(self, config: PointNet2Config, n_classes: int) -> None:
        super().__init__()
        levels, width = [], 0
        for level in config.levels:
            levels.append(LocalAbstraction(level, width))
            width = level.mlp[-1]
        self.levels = nn.ModuleList(levels)
        self.group_all = GlobalAbstraction(config.global_mlp, width)
        self.head = bn_mlp(config.global_mlp[-1], config.head, n_classes, config.dropout)

    def forward(self, points: Tensor, embed: bool = False) -> Tensor:
        pos, x = points, None
        for level in self.levels:
            pos, x = level(pos, x)
        cloud = self.group_all(pos, x)
        return self.head[:-1](cloud) if embed else self.head(cloud)


def _presets() -> dict[str, Preset]:
    paper = PointNet2Config(
        levels=(
            SetAbstraction(centroids=512, radius=0.2, samples=32, mlp=(64, 64, 128)),
            SetAbstraction(centroids=128, radius=0.4, samples=64, mlp=(128, 128, 256)),
        ),
        global_mlp=(256, 512, 1024), head=(512, 256), dropout=0.5,
        n_points=2048, augment=PointAugment(rotate=True, scale=(0.8, 1.25), shift=0.1, jitter=0.01, jitter_clip=0.05),
        epochs=251, lr=1e-3, weight_decay=0.0, batch_size=16,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="2048 points (the paper's ModelNet40 runs read 1024); AdamW with OneCycle, the shared recipe, instead "
            "of Adam with the lr and BatchNorm momentum decayed in steps; no small random tilts of the training clouds",
        ),
        "cpu": Preset(
            config=paper.model_copy(update=dict(
                levels=(
                    SetAbstraction(centroids=128, radius=0.2, samples=16, mlp=(32, 32, 64)),
                    SetAbstraction(centroids=32, radius=0.4, samples=32, mlp=(64, 64, 128)),
                ),
                global_mlp=(128, 256, 512), head=(256, 128), n_points=1024, epochs=40,
            )),
            departs="centroids / 4, samples / 2, widths / 2, 1024 points, 40 epochs: about 5 minutes for 720 clouds on one CPU thread",
        ),
        "tiny": Preset(
            config=paper.model_copy(update=dict(
                levels=(SetAbstraction(centroids=16, radius=0.4, samples=8, mlp=(8,)),),
                global_mlp=(16,), head=(16,), n_points=64, decode_grid=16, epochs=3, lr=1e-2, batch_size=8, eval_batch_size=16,
            )),
            departs="one level of 16 centroids, widths 8-16, 64 points, 3 epochs: seconds, for tests",
        ),
    }  # fmt: skip


class PointNet2(PointClassifierMethod):
    card = MethodCard(
        name="pointnet2",
        description="PointNet++ (single-scale grouping) on surface clouds decoded from the INRs: two set abstraction "
        "levels (farthest point sampling, ball query, PointNet per group), a global level and an FC head.",
        reference="Qi et al., PointNet++: Deep Hierarchical Feature Learning on Point Sets in a Metric Space, NeurIPS 2017",
        view="points",
        field_kinds=POINT_KINDS,
        training="supervised",
        symmetry="none",
    )
    Config = PointNet2Config
    config: PointNet2Config
    presets = _presets()

    def build(self, info: DataInfo) -> nn.Module:
        return PointNet2Classifier(self.config, info.n_classes)
