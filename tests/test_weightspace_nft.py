"""NFT layers and the ``nft`` method: symmetry, agreement with the released ``nfn`` package, learning.

The package's ``NPAttention`` is channel-first and splits its fused projection per head
(each head's queries, keys, values side by side); ours is channel-last with all queries,
then all keys, then all values. Copying the projection across reorders its output rows;
the attention outputs then agree entry by entry.
"""

from __future__ import annotations

import pytest
import torch
from support import ParamsView
from test_methods_weightspace import SyntheticINRs
from torch import Tensor

from nfbench.api import DataInfo
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, field_preset
from nfbench.methods.nft import NFT, NFTClassifier, neuron_counts
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.nft import (
    IOEmbedding,
    LatentCrossAttention,
    NFTBlock,
    TensorwiseLinear,
    WeightSpaceLayerNorm,
    WeightSpaceSelfAttention,
)
from nfbench.weightspace.symmetry import permute_features, permute_hidden

pytestmark = pytest.mark.usefixtures("one_thread")

CPU = torch.device("cpu")
BATCH, CHANNELS, HEADS = 3, 8, 2
SHAPES = [[2, 6, 1], [3, 5, 7, 2], [2, 4, 4, 4, 3]]


def random_features(sizes: list[int], channels: int, seed: int = 0) -> WeightSpaceFeatures:
    gen = torch.Generator().manual_seed(seed)
    weights = tuple(torch.randn(BATCH, o, i, channels, generator=gen) for i, o in zip(sizes[:-1], sizes[1:]))
    biases = tuple(torch.randn(BATCH, o, channels, generator=gen) for o in sizes[1:])
    return WeightSpaceFeatures(weights, biases)


def hidden_perms(sizes: list[int], seed: int = 1) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(BATCH, n, generator=gen).argsort(dim=1) for n in sizes[1:-1]]


def assert_features_close(a: WeightSpaceFeatures, b: WeightSpaceFeatures, tol: float = 1e-5) -> None:
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        torch.testing.assert_close(x, y, rtol=tol, atol=tol)


def assert_equivariant(layer: torch.nn.Module, sizes: list[int]) -> None:
    f, perms = random_features(sizes, CHANNELS), hidden_perms(sizes)
    layer.eval()
    with torch.no_grad():
        assert_features_close(layer(permute_features(f, perms)), permute_features(layer(f), perms))


# --------------------------------------------------------------------------- equivariance


@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_self_attention_is_equivariant_to_hidden_permutations(sizes: list[int]) -> None:
    torch.manual_seed(0)
    attn = WeightSpaceSelfAttention(CHANNELS, HEADS)
    assert_equivariant(attn, sizes)
    out = attn(random_features(sizes, CHANNELS))
    assert [w.shape for w in out.weights] == [(BATCH, o, i, CHANNELS) for i, o in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_self_attention_also_exchanges_input_and_output_neurons(sizes: list[int]) -> None:
    """Without embeddings the layer is NP-equivariant: inputs and outputs may be permuted too."""
    torch.manual_seed(0)
    attn = WeightSpaceSelfAttention(CHANNELS, HEADS).eval()
    f = random_features(sizes, CHANNELS)
    gen = torch.Generator().manual_seed(2)
    p_in, p_out = torch.randperm(sizes[0], generator=gen), torch.randperm(sizes[-1], generator=gen)

    def io(g: WeightSpaceFeatures) -> WeightSpaceFeatures:
        w, b = list(g.weights), list(g.biases)
        w[0] = w[0][:, :, p_in]
        w[-1], b[-1] = w[-1][:, p_out], b[-1][:, p_out]
        return WeightSpaceFeatures(tuple(w), tuple(b))

    with torch.no_grad():
        assert_features_close(attn(io(f)), io(attn(f)))


@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_block_and_embedding_are_equivariant(sizes: list[int]) -> None:
    torch.manual_seed(0)
    n = len(sizes) - 1
    assert_equivariant(NFTBlock(n, CHANNELS, HEADS, ff_factor=2, dropout=0.1), sizes)
    assert_equivariant(IOEmbedding(n, sizes[0], sizes[-1], CHANNELS), sizes)


def test_cross_attention_head_is_invariant() -> None:
    sizes = [3, 5, 7, 2]
    torch.manual_seed(0)
    head = LatentCrossAttention(
        CHANNELS, 4, n_latents=3, latent_dim=8, cross_heads=2, cross_head_dim=4, latent_heads=2, latent_head_dim=4,
        n_self=1, ff_mult=2, dropout=0.1,
    ).eval()  # fmt: skip
    f = random_features(sizes, CHANNELS)
    with torch.no_grad():
        torch.testing.assert_close(head(permute_features(f, hidden_perms(sizes))), head(f), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hidden,depth", [(6, 1), (5, 3)])
def test_classifier_logits_are_invariant_to_hidden_permutations(hidden: int, depth: int) -> None:
    spec = FieldSpec(kind="siren", in_dim=2, out_dim=1, hidden=hidden, depth=depth)
    config = NFT.presets["tiny"].config.model_copy(update=dict(blocks=2))
    torch.manual_seed(0)
    model = NFTClassifier(spec, config, n_classes=3, seed=0).eval()
    params = {name: torch.randn(4, *shape) for name, shape in spec.param_shapes().items()}
    perms = [torch.rand(4, hidden).argsort(dim=1) for _ in range(depth)]
    with torch.no_grad():
        logits = model(params)
        torch.testing.assert_close(model(permute_hidden(spec, params, perms)), logits, rtol=1e-4, atol=1e-5)
        moved = {**params, "layers.0.weight": params["layers.0.weight"].flip(2)}  # inputs are not exchangeable
        assert not torch.allclose(model(moved), logits, atol=1e-4)


# --------------------------------------------------------------------------- against the released package

nfn_layers = pytest.importorskip("nfn.layers")
nfn_common = pytest.importorskip("nfn.common")


def to_package(f: WeightSpaceFeatures):
    return nfn_common.WeightSpaceFeatures([w.permute(0, 3, 1, 2) for w in f.weights], [b.permute(0, 2, 1) for b in f.biases])


def from_package(f) -> WeightSpaceFeatures:
    return WeightSpaceFeatures(tuple(w.permute(0, 2, 3, 1) for w in f.weights), tuple(b.permute(0, 2, 1) for b in f.biases))


def spec_of(sizes: list[int]):
    return nfn_common.network_spec_from_wsfeat(to_package(random_features(sizes, 1)), set_all_dims=True)


def qkv_rows(channels: int, heads: int) -> Tensor:
    """Package row of each of our fused-projection rows: ours ``part, head, i``; theirs ``head, part, i``."""
    d = channels // heads
    part, head, i = torch.meshgrid(torch.arange(3), torch.arange(heads), torch.arange(d), indexing="ij")
    return (head * 3 * d + part * d + i).flatten()


@pytest.mark.parametrize("sizes", SHAPES, ids=str)
@pytest.mark.parametrize("heads", [1, 2])
def test_self_attention_matches_the_released_layer(sizes: list[int], heads: int) -> None:
    torch.manual_seed(0)
    theirs = nfn_layers.NPAttention(spec_of(sizes), CHANNELS, num_heads=heads).eval()
    ours = WeightSpaceSelfAttention(CHANNELS, heads).eval()
    rows = qkv_rows(CHANNELS, heads)
    ours.qkv.weight.data.copy_(theirs.to_qkv.linear.weight.detach()[rows])
    ours.qkv.bias.data.copy_(theirs.to_qkv.linear.bias.detach()[rows])
    f = random_features(sizes, CHANNELS)
    with torch.no_grad():
        assert_features_close(ours(f), from_package(theirs(to_package(f))))


@pytest.mark.parametrize("sizes", SHAPES[:2], ids=str)
def test_tensorwise_linear_and_embedding_match_the_released_layers(sizes: list[int]) -> None:
    torch.manual_seed(0)
    spec, n = spec_of(sizes), len(sizes) - 1
    f = random_features(sizes, CHANNELS)
    theirs = nfn_layers.Pointwise(spec, CHANNELS, 5)
    ours = TensorwiseLinear(n, CHANNELS, 5)
    for mine, their in zip(list(ours.weight_maps) + list(ours.bias_maps), list(theirs.weight_maps) + list(theirs.bias_maps)):
        mine.weight.data.copy_(their.weight.detach().flatten(1))
        mine.bias.data.copy_(their.bias.detach())
    assert_features_close(ours(f), from_package(theirs(to_package(f))))

    their_emb = nfn_layers.LearnedPosEmbedding(spec, CHANNELS)
    our_emb = IOEmbedding(n, sizes[0], sizes[-1], CHANNELS)
    for mine, their in ((our_emb.layer_weight, their_emb.weight_emb), (our_emb.layer_bias, their_emb.bias_emb),
                        (our_emb.inputs, their_emb.inp_emb), (our_emb.outputs, their_emb.out_emb)):  # fmt: skip
        mine.data.copy_(their.weight.detach())
    assert_features_close(our_emb(f), from_package(their_emb(to_package(f))))


def test_layer_norm_is_the_released_norm_up_to_its_scale() -> None:
    """The release divides by the unbiased std (+ eps); ours by the biased one: a fixed factor on the scale."""
    sizes = [3, 5, 7, 2]
    torch.manual_seed(0)
    theirs = nfn_layers.SimpleLayerNorm(spec_of(sizes), CHANNELS)
    ours = WeightSpaceLayerNorm(len(sizes) - 1, CHANNELS)
    factor = ((CHANNELS - 1) / CHANNELS) ** 0.5
    for i, (w_norm, b_norm) in enumerate(zip(theirs.w_norms, theirs.v_norms)):
        w_norm.gamma.data.uniform_(0.5, 1.5)
        w_norm.beta.data.normal_()
        ours.weight_scale.data[i], ours.weight_shift.data[i] = w_norm.gamma.detach() * factor, w_norm.beta.detach()
        ours.bias_scale.data[i], ours.bias_shift.data[i] = b_norm.gamma.detach() * factor, b_norm.beta.detach()
    f = random_features(sizes, CHANNELS)
    with torch.no_grad():
        assert_features_close(ours(f), from_package(theirs(to_package(f))), tol=1e-4)


# --------------------------------------------------------------------------- the method


def test_presets_card_and_architecture_errors() -> None:
    assert {"paper", "cpu", "tiny"} <= set(NFT.presets) and all(p.departs for p in NFT.presets.values())
    assert NFT.card.name == "nft" and NFT.card.view == "weights" and NFT.card.symmetry == "permutation"
    paper = NFT.presets["paper"].config
    assert 2 * paper.fourier_features == 256 and paper.blocks == 4 and paper.heads == 8 and paper.latents == 32
    info = DataInfo(spec=field_preset("image"), field_kind="image", class_names=("a", "b"))
    method = NFT(NFT.presets["tiny"].config.model_copy(update=dict(heads=3)), CPU, 0)
    with pytest.raises(ConfigError, match=r"nft: .*heads=3"):
        method.setup(info)
    assert neuron_counts(field_preset("image")) == [2, 32, 32, 1]


def test_nft_learns_a_synthetic_three_class_problem() -> None:
    data = SyntheticINRs(field_preset("tiny"))
    method = NFT(NFT.presets["tiny"].config, CPU, 0)
    method.setup(data.info)
    method.fit(data.view("train"), data.view("val"))
    test: ParamsView = data.view("test")
    logits = method.predict(test)
    assert logits.shape == (60, 3) and torch.isfinite(logits).all()
    accuracy = float((logits.argmax(1) == data.labels("test")).float().mean())
    assert accuracy > 0.8, accuracy
    embedding = method.embed(test)
    assert embedding.shape == (60, NFT.presets["tiny"].config.latent_dim) and torch.isfinite(embedding).all()
