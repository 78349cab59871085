"""resnet-sv / resnet-mv: the multi-view vote, embeddings, training views as items, and local weights files."""

import pytest
import torch
from torchvision.models import resnet18

from nfbench.api import DataInfo, ViewBatch
from nfbench.errors import ConfigError, DataError
from nfbench.fields import field_preset
from nfbench.methods import METHODS
from nfbench.methods.resnet_views import ImageAugment, ViewsResNet, majority_vote

INFO = DataInfo(spec=field_preset("tiny"), field_kind="sdf", class_names=("a", "b", "c"))


def method(name: str, **update):
    cls = METHODS.get(name)
    return cls(cls.presets["tiny"].config.model_copy(update=update), torch.device("cpu"), seed=0)


def test_majority_vote_counts_views_and_breaks_ties_by_summed_logits():
    view_logits = torch.tensor(
        [
            [[5.0, 0, 0], [0, 1, 0], [0, 1, 0]],  # two views for class 1 outvote one confident view for class 0
            [[3.0, 0, 0], [0, 0, 1], [0, 0, 1.5]],  # class 2 wins two votes to one
            [[2.0, 0, 0], [0, 4, 0], [0, 0, 1]],  # a three-way tie: the largest summed logit (class 1) wins
            [[1.0, 0, 0], [0, 1.5, 0], [0, 0, 0]],  # last view votes 0 (argmax of a tie is the first): 0 has 2 votes
        ]
    )
    assert majority_vote(view_logits).argmax(dim=1).tolist() == [1, 2, 1, 0]
    tie = torch.tensor([[[2.0, 0, 0], [0, 3, 0]], [[0, 0, 2.5], [2.0, 0, 0]]])
    assert majority_vote(tie).argmax(dim=1).tolist() == [1, 2]
    single = torch.randn(4, 1, 3)
    assert torch.equal(majority_vote(single), single[:, 0])  # one view: its logits, for cross-entropy


def test_embedding_is_the_mean_feature_of_the_views():
    torch.manual_seed(0)
    net = ViewsResNet(3, None).eval()
    views = torch.rand(2, 3, 1, 32, 32)
    with torch.no_grad():
        together = net(views, embed=True)
        alone = torch.stack([net(views[:, k : k + 1], embed=True) for k in range(3)]).mean(0)
    assert together.shape == (2, 512) and torch.allclose(together, alone, atol=1e-5)


def test_training_batches_make_every_view_an_item():
    mv = method("resnet-mv", augment=ImageAugment(flip=False, shift=0))
    mv.setup(INFO)
    views = torch.rand(2, 3, 1, 8, 8)
    batch = mv.train_transform()(ViewBatch(views, torch.tensor([2, 0]), torch.tensor([5, 7])))
    assert torch.equal(batch.data, views.flatten(0, 1).unsqueeze(1))
    assert batch.labels.tolist() == [2, 2, 2, 0, 0, 0] and batch.index.tolist() == [5, 5, 5, 7, 7, 7]


def test_augmentation_mirrors_and_shifts_with_background_fill():
    torch.manual_seed(0)
    images = torch.zeros(64, 1, 12, 12)
    images[:, :, 4:7, 3:6] = torch.rand(64, 1, 3, 3)
    flipped = ImageAugment(flip=True, shift=0)(images)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert bool((mirrored | (flipped == images).flatten(1).all(1)).all()) and 10 < int(mirrored.sum()) < 54
    shifted = ImageAugment(flip=False, shift=2)(images)
    assert torch.allclose(shifted.sum((1, 2, 3)), images.sum((1, 2, 3)))  # the patch moved, nothing was cut
    assert not torch.equal(shifted, images)
    assert bool((shifted[:, :, :2] == 0).all() and (shifted[:, :, 9:] == 0).all())  # at most 2 pixels: the border stays empty


def test_single_view_refuses_several_views():
    with pytest.raises(ConfigError, match="resnet-sv classifies one view: render.n_views must be 1, not 4"):
        method(
            "resnet-sv", render=METHODS.get("resnet-sv").presets["tiny"].config.render.model_copy(update={"n_views": 4})
        ).setup(INFO)


def test_a_missing_weights_file_is_a_one_line_error_naming_it(tmp_path):
    missing = tmp_path / "resnet18.pth"
    with pytest.raises(DataError) as err:
        method("resnet-mv", weights=missing).setup(INFO)
    assert str(err.value).startswith(f"{missing}: no such weights file") and "\n" not in str(err.value)


def test_a_local_weights_file_starts_the_backbone(tmp_path):
    torch.manual_seed(1)
    state = resnet18(weights=None).state_dict()  # ImageNet-shaped: a 1000-class fc the method drops
    torch.save(state, tmp_path / "resnet18.pth")
    mv = method("resnet-mv", weights=tmp_path / "resnet18.pth")
    mv.setup(INFO)
    assert torch.equal(mv.model.backbone.conv1.weight, state["conv1.weight"])
    assert mv.model.head.out_features == 3
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(DataError, match="other.pth: is not a resnet18 state_dict"):
        method("resnet-mv", weights=tmp_path / "other.pth").setup(INFO)
