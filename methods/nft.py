"""NFT (Zhou et al., Neural Functional Transformers, NeurIPS 2023): attention over an INR's neurons.

The released INR classifier (``classify_siren_configs/nfnet/nft_ff.yaml``): Gaussian Fourier
features of every weight (128 frequencies, scale 3, so 256 channels), learned layer and
input/output-neuron embeddings, four pre-norm weight-space Transformer blocks (8 heads,
feed-forward x2, dropout 0.1), and a Perceiver-style head whose 32 learned latents
cross-attend over all weight and bias entries, self-attend twice and are averaged into
logits. The config names an ``NPTransformer`` model that the release does not contain; it
is assembled here from the released parts as its Inr2Array encoder assembles them
(encoding, embeddings, ``Block``s, cross-attention pooling). Attention makes the blocks
nonlinear in how neurons interact, where NFN's layers are linear. The embedding is the
head's normalized mean latent.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod
from nfbench.weightspace.nfn import FourierFeatures
from nfbench.weightspace.nft import IOEmbedding, LatentCrossAttention, NFTBlock

KINDS = ("udf", "sdf", "occ", "image")
HEAD_FF_MULT = 4  # the Perceiver head's feed-forward width, as in the release


class NFTConfig(WeightClassifierConfig):
    fourier_features: int = Field(ge=1, description="Gaussian Fourier frequencies per weight; the blocks carry twice as many channels")
    fourier_scale: float = Field(gt=0, description="std of the Fourier frequencies")
    io_embedding: bool = Field(True, description="learned layer and input/output-neuron embeddings (else NP-invariant)")
    blocks: int = Field(ge=1, description="weight-space Transformer blocks")
    heads: int = Field(ge=1, description="attention heads of each block; must divide the channels")
    ff_factor: int = Field(ge=1, description="feed-forward width of a block, in multiples of its channels")
    dropout: float = Field(ge=0, lt=1, description="dropout of the blocks' attention probabilities and residual branches")
    head_dropout: float = Field(ge=0, lt=1, description="dropout of the head's attention probabilities and feed-forwards")
    latents: int = Field(ge=1, description="learned latent queries of the cross-attention head")
    latent_dim: int = Field(ge=1)
    cross_heads: int = Field(ge=1)
    cross_head_dim: int = Field(ge=1)
    latent_heads: int = Field(ge=1)
    latent_head_dim: int = Field(ge=1)
    latent_blocks: int = Field(ge=0, description="latent self-attention blocks after the cross-attention")


def neuron_counts(spec: FieldSpec) -> list[int]:
    return [spec.encoded_dim, *[spec.hidden] * spec.depth, spec.out_dim]


class NFTClassifier(nn.Module):
    def __init__(self, spec: FieldSpec, config: NFTConfig, n_classes: int, seed: int) -> None:
        super().__init__()
        self.spec = spec
        sizes = neuron_counts(spec)
        n_layers, channels = len(sizes) - 1, 2 * config.fourier_features
        layers: list[nn.Module] = [FourierFeatures(1, config.fourier_features, config.fourier_scale, torch.Generator().manual_seed(seed))]
        if config.io_embedding:
            layers.append(IOEmbedding(n_layers, sizes[0], sizes[-1], channels))
        layers += [NFTBlock(n_layers, channels, config.heads, config.ff_factor, config.dropout) for _ in range(config.blocks)]
        self.body = nn.Sequential(*layers)
        self.head = LatentCrossAttention(
            channels, n_classes, n_latents=config.latents, latent_dim=config.latent_dim, cross_heads=config.cross_heads,
            cross_head_dim=config.cross_head_dim, latent_heads=config.latent_heads, latent_head_dim=config.latent_head_dim,
            n_self=config.latent_blocks, ff_mult=HEAD_FF_MULT, dropout=config.head_dropout,
        )  # fmt: skip

    def forward(self, params: Params, embed: bool = False) -> Tensor:
        embedding = self.head(self.body(WeightSpaceFeatures.from_params(self.spec, params)))
        return embedding if embed else self.head.classify(embedding)


def _presets() -> dict[str, Preset]:
    paper = NFTConfig(
        fourier_features=128, fourier_scale=3.0, io_embedding=True, blocks=4, heads=8, ff_factor=2, dropout=0.1, head_dropout=0.1,
        latents=32, latent_dim=128, cross_heads=1, cross_head_dim=64, latent_heads=4, latent_head_dim=64, latent_blocks=2,
        epochs=150, lr=1e-4, weight_decay=1e-2, batch_size=32,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="the release's nft_ff settings (its NPTransformer wrapper is unreleased: layer/IO embeddings as in its "
            "Inr2Array encoder; AdamW lr 1e-4, wd 0.01); it trains 200K steps of batch 32 with a 10K-step warmup, "
            "here the shared OneCycle recipe for 150 epochs",
        ),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(
                    fourier_features=4, blocks=1, heads=1, dropout=0.0, latents=16, latent_dim=64, cross_head_dim=32,
                    latent_heads=2, latent_head_dim=32, latent_blocks=1, epochs=60, lr=1e-3,
                )
            ),
            departs="8 channels, 1 block of 1 head without block dropout, head of 16 latents of 64 with 1 self-attention, "
            "60 epochs at lr 1e-3: attention over a 64-wide INR's neurons costs O(width^3 x channels), ~0.3 s per block "
            "for a CPU batch of 32 at 8 channels",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(
                    fourier_features=4, blocks=1, heads=2, latents=4, latent_dim=16, cross_head_dim=8, latent_heads=2,
                    latent_head_dim=8, latent_blocks=1, epochs=20, lr=3e-3, batch_size=16, eval_batch_size=16,
                )
            ),
            departs="8 channels, 1 block, head of 4 latents of 16, 20 epochs: seconds, for tests",
        ),
    }


class NFT(WeightClassifierMethod):
    Config = NFTConfig
    config: NFTConfig
    presets = _presets()
    card = MethodCard(
        name="nft",
        description="Neural functional Transformer: weight-space self-attention over each layer's neurons, "
        "equivariant to hidden-neuron permutations; invariant latent cross-attention head.",
        reference="Zhou et al., Neural Functional Transformers, NeurIPS 2023",
        view="weights",
        field_kinds=KINDS,
        training="supervised",
        symmetry="permutation",
    )

    def build(self, info: DataInfo) -> nn.Module:
        channels = 2 * self.config.fourier_features
        if channels % self.config.heads:
            raise ConfigError(
                f"nft: {info.spec.kind} {neuron_counts(info.spec)} features carry {channels} channels (2 x fourier_features), "
                f"which heads={self.config.heads} must divide"
            )
        return NFTClassifier(info.spec, self.config, info.n_classes, self.seed)
