"""NFN (Zhou et al., Permutation Equivariant Neural Functionals, NeurIPS 2023): ``nfn-np`` and ``nfn-hnp``.

The released INR classifier: Gaussian Fourier features of every weight, three equivariant
layers (512 channels, ReLU, channel dropout), an invariant pool, and an MLP head with two
hidden layers of 1000. ``hnp`` is equivariant to hidden-neuron permutations only, the
exact symmetry of an INR; ``np`` also treats input and output neurons as exchangeable,
which costs expressivity but far fewer parameters in the first and last layers. The
embedding is the head's penultimate activation.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.fields import FieldSpec, Params
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod
from nfbench.weightspace.nfn import (
    ChannelDropout,
    FourierFeatures,
    HNPLinear,
    NPLinear,
    Pointwise,
    hnp_pool,
    np_pool,
    pooled_size,
)

Mode = Literal["np", "hnp"]
KINDS = ("udf", "sdf", "occ", "image")


class NFNConfig(WeightClassifierConfig):
    channels: tuple[int, ...] = Field(min_length=1, description="channels of each equivariant layer")
    fourier_features: int = Field(ge=0, description="Gaussian Fourier frequencies per weight (2x channels); 0: the raw weight")
    fourier_scale: float = Field(gt=0, description="std of the Fourier frequencies")
    feature_dropout: float = Field(ge=0, lt=1, description="channel dropout after each equivariant layer")
    head_hidden: int = Field(ge=1, description="width of the head's two hidden layers")
    head_dropout: float = Field(ge=0, lt=1)


def neuron_counts(spec: FieldSpec) -> list[int]:
    return [spec.encoded_dim, *[spec.hidden] * spec.depth, spec.out_dim]


class NFNClassifier(nn.Module):
    def __init__(self, spec: FieldSpec, mode: Mode, config: NFNConfig, n_classes: int, seed: int) -> None:
        super().__init__()
        self.spec, self.mode = spec, mode
        sizes = neuron_counts(spec)
        layers: list[nn.Module] = []
        width = 1
        if config.fourier_features:
            gen = torch.Generator().manual_seed(seed)
            layers.append(FourierFeatures(1, config.fourier_features, config.fourier_scale, gen))
            width = 2 * config.fourier_features
        for c in config.channels:
            layer = NPLinear(len(sizes) - 1, width, c) if mode == "np" else HNPLinear(sizes, width, c)
            layers += [layer, Pointwise(nn.ReLU()), ChannelDropout(config.feature_dropout)]
            width = c
        self.body = nn.Sequential(*layers)
        self.pool = np_pool if mode == "np" else hnp_pool
        h, p = config.head_hidden, config.head_dropout
        self.head = nn.Sequential(
            nn.Linear(pooled_size(mode, sizes) * width, h), nn.ReLU(), nn.Dropout(p),
            nn.Linear(h, h), nn.ReLU(), nn.Dropout(p),
            nn.Linear(h, n_classes),
        )  # fmt: skip

    def forward(self, params: Params, embed: bool = False) -> Tensor:
        pooled = self.pool(self.body(WeightSpaceFeatures.from_params(self.spec, params))).flatten(1)
        return self.head[:-1](pooled) if embed else self.head(pooled)


def _presets() -> dict[str, Preset]:
    paper = NFNConfig(
        channels=(512, 512, 512), fourier_features=128, fourier_scale=3.0, feature_dropout=0.1,
        head_hidden=1000, head_dropout=0.1, epochs=150, lr=1e-4, weight_decay=1e-2, batch_size=32,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="the release's MNIST settings (its AdamW option: lr 1e-4, wd 0.01); it trains 200K steps of batch 32 "
            "with a 10K-step warmup, here the shared OneCycle recipe for 150 epochs",
        ),
        "cpu": Preset(
            config=paper.model_copy(update=dict(channels=(32, 32), fourier_features=16, head_hidden=256, epochs=60, lr=1e-3)),
            departs="2 layers of 32 channels, 16 Fourier frequencies, head 256, 60 epochs at lr 1e-3: a CPU batch of "
            "64-wide INRs at 512 channels needs gigabytes per layer",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(channels=(4,), fourier_features=2, head_hidden=16, epochs=20, lr=1e-2, batch_size=16, eval_batch_size=16)
            ),
            departs="1 layer of 4 channels, head 16, 20 epochs: seconds, for tests",
        ),
    }


class _NFN(WeightClassifierMethod):
    Config = NFNConfig
    config: NFNConfig
    mode: Mode
    presets = _presets()

    def build(self, info: DataInfo) -> nn.Module:
        return NFNClassifier(info.spec, self.mode, self.config, info.n_classes, self.seed)


_REFERENCE = "Zhou et al., Permutation Equivariant Neural Functionals, NeurIPS 2023"


class NFNHNP(_NFN):
    mode = "hnp"
    card = MethodCard(
        name="nfn-hnp",
        description="Neural functional network with HNP layers: equivariant to hidden-neuron permutations, "
        "inputs and outputs kept apart; invariant pool and MLP head.",
        reference=_REFERENCE,
        view="weights",
        field_kinds=KINDS,
        training="supervised",
        symmetry="permutation",
    )


class NFNNP(_NFN):
    mode = "np"
    card = NFNHNP.card.model_copy(
        update=dict(
            name="nfn-np",
            description="Neural functional network with NP layers: equivariant to permutations of every layer's "
            "neurons, inputs and outputs included; invariant pool and MLP head.",
        )
    )
