"""ResNet-18 on renders of the INRs: ``resnet-sv`` (one view) and ``resnet-mv`` (several views, majority vote).

The image baselines of nf2vec (Zama Ramirez et al.): an image CNN that never looks at
the weights, on pictures of the objects the INRs hold. nf2vec's baselines see images of
the objects its NeRFs encode; the INRs here are shape fields, so the pictures are the
``renders`` view, grey shaded renders of each field's surface from a fixed camera ring.

Both methods are one network: torchvision's ResNet-18, grey renders repeated into its RGB
stem, its 512-d pooled feature (the penultimate activation), and a linear head. Training
treats every view as an image of its own (``train_transform`` splits each item's K views
into K items carrying its label, then augments them), so ``batch_size`` counts INRs, each
bringing K images. An item's prediction is a majority vote of its views' argmax classes,
ties broken by the views' summed logits (``majority_vote``); its embedding is the mean of
the views' penultimate features. ``resnet-sv`` is the case K = 1: the ring's first camera,
where the vote is the logits themselves.

Trained from scratch by default; ``weights`` names a local torchvision ``resnet18``
state_dict to start from (its ``fc`` head is dropped). Nothing is ever downloaded.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn
from torch.nn import functional as F
from torchvision.models import ResNet, resnet18

from nfbench.api import DataInfo, MethodCard, Preset, ViewBatch
from nfbench.decode.render import RenderSettings
from nfbench.errors import ConfigError, DataError
from nfbench.training.classifier_method import ClassifierConfig, ClassifierMethod

RENDER_KINDS = ("udf", "sdf", "occ")


class ImageAugment(BaseModel):
    """Augmentations of training images (never of validation or test views)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flip: bool = Field(True, description="mirror each training image left-right with probability 1/2")
    shift: int = Field(
        0, ge=0, description="translate each training image by up to this many pixels each way (zero fill: the background)"
    )

    def __call__(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` images, each with its own draws from torch's global RNG."""
        n, c, h, w = images.shape
        if self.flip:
            images = torch.where(torch.rand(n, 1, 1, 1, device=images.device) < 0.5, images.flip(-1), images)
        if self.shift:
            s = self.shift
            padded = F.pad(images, (s, s, s, s))
            dy, dx = torch.randint(0, 2 * s + 1, (2, n, 1), device=images.device)
            rows = (dy + torch.arange(h, device=images.device))[:, None, :, None]
            cols = (dx + torch.arange(w, device=images.device))[:, None, None, :]
            items = torch.arange(n, device=images.device)[:, None, None, None]
            images = padded[items, torch.arange(c, device=images.device)[None, :, None, None], rows, cols]
        return images


class ResNetViewsConfig(ClassifierConfig):
    render: RenderSettings = Field(description="cameras and ray marching of the renders view (render.n_views is K)")
    augment: ImageAugment = Field(default_factory=ImageAugment, description="augmentations of training images")
    weights: Path | None = Field(
        None, description="local torchvision resnet18 state_dict to start from (never downloaded); None: from scratch"
    )


def majority_vote(view_logits: Tensor) -> Tensor:
    """Class scores ``(B, C)`` from per-view logits ``(B, K, C)``, whose argmax is the majority vote.

    Each view votes for its argmax class; the scores are the vote counts plus the softmax
    of the logits summed over views, a number in (0, 1) that cannot outweigh one vote, so
    it only orders the classes tied on votes. With one view the scores are its logits
    (same argmax), so a single-view item trains with cross-entropy on true logits.
    """
    if view_logits.shape[1] == 1:
        return view_logits[:, 0]
    votes = F.one_hot(view_logits.argmax(dim=-1), view_logits.shape[-1]).sum(dim=1)
    return votes + view_logits.sum(dim=1).softmax(dim=-1)


def load_weights(net: ResNet, path: Path) -> None:
    """Start ``net`` from a local resnet18 state_dict, all but its ``fc`` head; a one-line ``DataError`` otherwise."""
    if not path.is_file():
        raise DataError(path, "no such weights file (a torchvision resnet18 state_dict; nfbench never downloads weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise DataError(path, f"cannot be read as a torch state_dict: {exc}") from exc
    if not isinstance(state, dict):
        raise DataError(path, f"holds a {type(state).__name__}, not a state_dict")
    try:
        missing, unexpected = net.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise DataError(path, f"is not a resnet18 state_dict: {exc}") from exc
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise DataError(path, f"is not a resnet18 state_dict: missing {missing[:3]}..., unexpected {unexpected[:3]}...")


class ViewsResNet(nn.Module):
    """``(B, K, 1, H, W)`` renders -> vote scores ``(B, C)``, or the views' mean 512-d feature with ``embed=True``."""

    def __init__(self, n_classes: int, weights: Path | None) -> None:
        super().__init__()
        backbone = resnet18(weights=None)
        if weights is not None:
            load_weights(backbone, weights)
        self.head = nn.Linear(backbone.fc.in_features, n_classes)
        backbone.fc = nn.Identity()
        self.backbone = backbone

    def forward(self, views: Tensor, embed: bool = False) -> Tensor:
        b, k = views.shape[:2]
        # grey renders into the RGB stem, as a pretrained state_dict expects
        features = self.backbone(views.flatten(0, 1).expand(-1, 3, -1, -1)).view(b, k, -1)
        return features.mean(dim=1) if embed else majority_vote(self.head(features))


def _presets(single_view: bool) -> dict[str, Preset]:
    """One recipe for both methods: they differ in the number of views, the batch (in INRs) and the cpu epochs."""
    k = {"paper": 1, "cpu": 1, "tiny": 1} if single_view else {"paper": 12, "cpu": 6, "tiny": 2}
    paper = ResNetViewsConfig(
        render=RenderSettings(n_views=k["paper"], size=224),
        augment=ImageAugment(flip=True, shift=16), epochs=100, lr=1e-3, weight_decay=1e-2,
        batch_size=64 if single_view else 16, eval_batch_size=32,
    )  # fmt: skip
    cpu = paper.model_copy(
        update=dict(
            render=RenderSettings(n_views=k["cpu"], size=64, max_steps=48),
            augment=ImageAugment(flip=True, shift=4),
            epochs=25 if single_view else 6,
            eval_batch_size=64,
        )
    )
    tiny = paper.model_copy(
        update=dict(
            render=RenderSettings(n_views=k["tiny"], size=16, max_steps=16),
            augment=ImageAugment(flip=True, shift=1),
            epochs=2,
            batch_size=8,
            eval_batch_size=16,
        )
    )
    return {
        "paper": Preset(
            config=paper,
            departs=f"grey Lambert renders of the fitted surface ({k['paper']} view(s) from a 30-degree ring, 224 px) instead "
            "of the colour images of nf2vec's NeRF experiment; AdamW/OneCycle for 100 epochs, the shared classifier recipe",
        ),
        "cpu": Preset(
            config=cpu,
            departs=f"{k['cpu']} view(s) of 64 px, {cpu.epochs} epochs: 5-10 minutes for 720 shapes on one CPU thread "
            "(about 11-17 ms per 64 px image and step), plus the renders, decoded once",
        ),
        "tiny": Preset(config=tiny, departs="16 px renders, 2 epochs: seconds, for tests"),
    }


class _ResNetViews(ClassifierMethod):
    Config = ResNetViewsConfig
    config: ResNetViewsConfig
    single_view: ClassVar[bool]
    resolution_field = "render.size"

    @classmethod
    def view_options(cls, config: ResNetViewsConfig) -> dict[str, Any]:  # type: ignore[override]
        return config.render.model_dump()

    def check(self, info: DataInfo) -> None:
        if self.single_view and self.config.render.n_views != 1:
            raise ConfigError(
                f"{self.card.name} classifies one view: render.n_views must be 1, not {self.config.render.n_views} (resnet-mv reads several)"
            )

    def build(self, info: DataInfo) -> nn.Module:
        return ViewsResNet(info.n_classes, self.config.weights)

    def train_transform(self) -> Callable[[ViewBatch], ViewBatch]:
        augment = self.config.augment

        def every_view_an_item(batch: ViewBatch) -> ViewBatch:
            k = batch.data.shape[1]
            images = augment(batch.data.flatten(0, 1)).unsqueeze(1)
            return ViewBatch(images, batch.labels.repeat_interleave(k), batch.index.repeat_interleave(k))

        return every_view_an_item


_REFERENCE = (
    "He et al., Deep Residual Learning for Image Recognition, CVPR 2016; as an image baseline in Zama Ramirez et al., "
    "Deep Learning on Object-centric 3D Neural Fields (nf2vec), TPAMI 2024"
)


class ResNetSV(_ResNetViews):
    single_view = True
    card = MethodCard(
        name="resnet-sv",
        description="ResNet-18 from scratch on one shaded render of each INR's surface (the ring's first camera).",
        reference=_REFERENCE,
        view="renders",
        field_kinds=RENDER_KINDS,
        training="supervised",
        symmetry="none",
    )
    presets = _presets(single_view=True)


class ResNetMV(_ResNetViews):
    single_view = False
    card = ResNetSV.card.model_copy(
        update=dict(
            name="resnet-mv",
            description="ResNet-18 from scratch on K shaded renders of each INR's surface from a camera ring, every view "
            "trained as an image; majority vote over the views (ties: summed logits), embedding the views' mean feature.",
        )
    )
    presets = _presets(single_view=False)
