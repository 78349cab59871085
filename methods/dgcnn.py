"""DGCNN (Wang et al., Dynamic Graph CNN for Learning on Point Clouds, TOG 2019): ``dgcnn``, on clouds decoded from the INRs.

EdgeConv layers compute a feature for every edge of a k-nearest-neighbour graph, from a
point's feature and its difference to a neighbour's, and max-pool over each point's edges.
The graph is dynamic: every layer rebuilds it in the feature space of its input, so points
far apart in space but alike in shape share information. The layers' outputs are
concatenated, lifted to 1024 features, and max- and mean-pooled into the cloud feature.
Each layer is PyG's ``EdgeConv`` on explicit edges from nfbench's pure-torch kNN (PyG's
``knn_graph`` and ``DynamicEdgeConv`` need pyg-lib).
"""

from __future__ import annotations

from functools import partial

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn
from torch_geometric.nn import EdgeConv

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.pointcloud.augment import PointAugment
from nfbench.pointcloud.method import POINT_KINDS, PointClassifierConfig, PointClassifierMethod
from nfbench.pointcloud.ops import knn, neighbour_edges
from nfbench.training import SharedMLP, bn_mlp

LEAKY_SLOPE = 0.2


class DGCNNConfig(PointClassifierConfig):
    k: int = Field(ge=1, description="neighbours per point in every layer's graph, the point itself included")
    edge_widths: tuple[int, ...] = Field(min_length=1, description="output width of each EdgeConv layer (paper 64-64-128-256)")
    embedding: int = Field(ge=1, description="width of the point features pooled into the cloud feature (paper 1024)")
    head: tuple[int, ...] = Field(min_length=1, description="hidden widths of the FC head (paper 512-256)")
    dropout: float = Field(ge=0, lt=1, description="after each hidden FC layer of the head")

    @model_validator(mode="after")
    def _enough_points(self) -> DGCNNConfig:
        if self.k > self.n_points:
            raise ValueError(f"k={self.k} neighbours need at least as many points (n_points={self.n_points})")
        return self


class DGCNNClassifier(nn.Module):
    def __init__(self, config: DGCNNConfig, n_classes: int) -> None:
        super().__init__()
        self.k = config.k
        act = partial(nn.LeakyReLU, LEAKY_SLOPE)
        widths = (3, *config.edge_widths)
        # EdgeConv's message is mlp([x_i, x_j - x_i]), twice the input width
        self.edge_convs = nn.ModuleList(EdgeConv(SharedMLP(2 * a, (b,), act)) for a, b in zip(widths, widths[1:]))
        self.lift = SharedMLP(sum(config.edge_widths), (config.embedding,), act)
        self.head = bn_mlp(2 * config.embedding, config.head, n_classes, config.dropout, act)

    def forward(self, points: Tensor, embed: bool = False) -> Tensor:
        b, n, _ = points.shape
        x, layers = points, []
        for conv in self.edge_convs:
            edges = neighbour_edges(knn(x, x, self.k), n)
            x = conv(x.reshape(b * n, -1), edges).view(b, n, -1)
            layers.append(x)
        features = self.lift(torch.cat(layers, dim=-1))
        cloud = torch.cat([features.amax(dim=1), features.mean(dim=1)], dim=-1)
        return self.head[:-1](cloud) if embed else self.head(cloud)


def _presets() -> dict[str, Preset]:
    paper = DGCNNConfig(
        k=20, edge_widths=(64, 64, 128, 256), embedding=1024, head=(512, 256), dropout=0.5,
        n_points=2048, augment=PointAugment(scale=(2 / 3, 3 / 2), anisotropic=True, shift=0.2),
        epochs=250, lr=1e-3, weight_decay=1e-4, batch_size=32,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="2048 points with k = 20 (the paper's ModelNet40 runs read 1024); AdamW with OneCycle, the shared "
            "recipe, at the Adam lr of the paper's release instead of its SGD with cosine annealing",
        ),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(k=10, edge_widths=(32, 32, 64, 128), embedding=256, head=(128, 64), n_points=256, epochs=30, batch_size=16)
            ),
            departs="k = 10, widths / 2 (embedding 256), 256 points, 30 epochs, batch 16: about 8 minutes for 720 clouds on one CPU thread",
        ),
        "tiny": Preset(
            config=paper.model_copy(update=dict(
                k=4, edge_widths=(8, 8), embedding=16, head=(16,), n_points=64, decode_grid=16, epochs=3, lr=1e-2, batch_size=8, eval_batch_size=16,
            )),
            departs="k = 4, two EdgeConv layers of 8, 64 points, 3 epochs: seconds, for tests",
        ),
    }  # fmt: skip


class DGCNN(PointClassifierMethod):
    card = MethodCard(
        name="dgcnn",
        description="DGCNN on surface clouds decoded from the INRs: four EdgeConv layers on kNN graphs rebuilt in "
        "feature space, lifted to 1024, max and mean pooled, FC head.",
        reference="Wang et al., Dynamic Graph CNN for Learning on Point Clouds, ACM Transactions on Graphics 2019",
        view="points",
        field_kinds=POINT_KINDS,
        training="supervised",
        symmetry="none",
    )
    Config = DGCNNConfig
    config: DGCNNConfig
    presets = _presets()

    def build(self, info: DataInfo) -> nn.Module:
        return DGCNNClassifier(self.config, info.n_classes)
