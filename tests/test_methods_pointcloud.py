"""The point-cloud baselines (PointNet, PointNet++, DGCNN): the symmetries and grouping their papers promise,
the PointNet regularizer, and the frame they share (view options, augmentation of training batches only)."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import Tensor, nn
from torch_geometric.nn import PointNetConv

from nfbench.api import DataInfo, View
from nfbench.fields import field_preset
from nfbench.methods.dgcnn import DGCNN, DGCNNConfig
from nfbench.methods.pointnet import PointNet, TNet
from nfbench.methods.pointnet2 import PointNet2, PointNet2Config, SetAbstraction
from nfbench.pointcloud.augment import PointAugment
from nfbench.training import take_auxiliary_loss

CPU = torch.device("cpu")
INFO = DataInfo(spec=field_preset("tiny"), field_kind="udf", class_names=("a", "b", "c"), up_axis="z")

pytestmark = pytest.mark.usefixtures("one_thread")


def clouds(b: int, n: int, seed: int = 0) -> Tensor:
    points = torch.randn(b, n, 3, generator=torch.Generator().manual_seed(seed))
    return points / points.norm(dim=-1, keepdim=True).amax(dim=1, keepdim=True)  # in the unit sphere, as the views' clouds


def built(cls, seed: int = 0, **update):
    method = cls(cls.presets["tiny"].config.model_copy(update=update), CPU, seed)
    method.setup(INFO)
    return method


def trained_statistics(model: nn.Module, x: Tensor) -> nn.Module:
    """Give BatchNorm running statistics of real activations, then switch to eval mode."""
    model.train()
    with torch.no_grad():
        model(x)
    take_auxiliary_loss(model)
    return model.eval()


@pytest.mark.parametrize("cls", [PointNet, DGCNN])
def test_logits_do_not_depend_on_the_order_of_the_points(cls):
    method = built(cls)
    for module in method.model.modules():
        if isinstance(module, TNet):  # away from the identity it starts at, so the T-Nets take part
            nn.init.normal_(module.fc[-1].weight, std=0.1)
    x = clouds(4, 64)
    model = trained_statistics(method.model, x)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, shuffled = model(x), model(x[:, perm])
        embedding = model(x, embed=True)
    assert logits.shape == (4, 3) and embedding.shape == (4, method.config.head[-1])
    torch.testing.assert_close(shuffled, logits, atol=1e-5, rtol=1e-4)


def test_pointnet2_groups_only_neighbours_within_the_radius():
    level = SetAbstraction(centroids=16, radius=0.3, samples=8, mlp=(8,))
    method = built(PointNet2, levels=(level,))
    seen: list[tuple] = []
    conv = next(m for m in method.model.modules() if isinstance(m, PointNetConv))
    conv.register_forward_pre_hook(lambda module, args: seen.append(args))
    x = clouds(3, 64)
    logits = method.model.eval()(x)
    assert logits.shape == (3, 3) and method.model(x, embed=True).shape == (3, 16)
    (_, (source_pos, centre_pos), edges), *_ = seen
    assert centre_pos.shape == (3 * 16, 3)
    assert ((source_pos[edges[0]] - centre_pos[edges[1]]).norm(dim=-1) < 0.3).all()
    per_centre = edges[1].bincount(minlength=3 * 16)
    assert (per_centre == 8).all()  # padded to a fixed count
    within = (torch.cdist(centre_pos.view(3, 16, 3), x) < 0.3).sum(-1).flatten()  # (B * S,) points in each ball
    distinct = torch.tensor([len(set(edges[0, edges[1] == c].tolist())) for c in range(3 * 16)])
    assert torch.equal(distinct, within.clamp(max=8))  # every point in a small ball, and only those, is a neighbour


def test_pointnet_feature_transform_regularizer_is_zero_at_the_identity_and_only_in_training():
    method = built(PointNet)
    model, x = method.model.train(), clouds(4, 64)
    model(x)
    assert float(take_auxiliary_loss(model).detach()) == 0.0  # both T-Nets start at the identity
    tnet = model.feature_transform
    nn.init.normal_(tnet.fc[-1].weight, std=0.1)
    model(x)
    penalty = take_auxiliary_loss(model)
    assert float(penalty.detach()) > 0 and penalty.requires_grad
    assert take_auxiliary_loss(model) == 0.0  # taken once
    model.eval()(x)
    assert take_auxiliary_loss(model) == 0.0


def test_configs_refuse_more_centroids_or_neighbours_than_points():
    with pytest.raises(ValidationError, match="samples 128 centroids from 64 points"):
        PointNet2Config.model_validate(
            PointNet2.presets["tiny"].config.model_dump()
            | {"levels": [{"centroids": 128, "radius": 0.2, "samples": 8, "mlp": [8]}]}
        )
    with pytest.raises(ValidationError, match="k=80 neighbours need at least as many points"):
        DGCNNConfig.model_validate(DGCNN.presets["tiny"].config.model_dump() | {"k": 80})


class CloudView(View):
    name = "points"
    description = "clouds in memory"

    def __init__(self, points: Tensor, labels: Tensor, split: str) -> None:
        super().__init__(INFO, split, labels)
        self.points = points

    def read(self, positions: Tensor) -> Tensor:
        return self.points[positions]


@pytest.mark.parametrize("cls", [PointNet, PointNet2, DGCNN])
def test_fit_augments_training_clouds_only_and_reads_its_cloud_size(cls):
    config = cls.presets["tiny"].config.model_copy(update=dict(augment=PointAugment(shift=5.0), epochs=1))
    assert cls.view_options(config) == {"n_points": 64, "resolution": 16}
    method = cls(config, CPU, 0)
    method.setup(INFO)
    labels = torch.arange(3).repeat(4)
    train, val = CloudView(clouds(12, 64, seed=1), labels, "train"), CloudView(clouds(6, 64, seed=2), labels[:6], "val")
    inputs: dict[bool, list[Tensor]] = {True: [], False: []}
    method.model.register_forward_pre_hook(lambda module, args: inputs[module.training].append(args[0]))
    method.fit(train, val)
    assert inputs[True] and inputs[False]
    assert all(x.abs().amax() > 1.5 for x in inputs[True])  # shifted away from the unit sphere
    assert torch.equal(torch.cat(inputs[False]), val.points)  # validation reads the plain clouds
