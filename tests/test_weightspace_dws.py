"""DWSNet: each block and whole layer commute with hidden-neuron permutations, the classifier is invariant,
input and output neurons are not treated as exchangeable, and configurations it cannot run are refused.

The released ``DWSNets`` code is not a package, so these tests cannot compare against it; a
one-off comparison with parameters copied across matched its layer, invariant head, batch
norm and whole MNIST classifier to float precision (see the module docstring of
``nfbench.weightspace.dws`` for where the two differ by design).
"""

from __future__ import annotations

import pytest
import torch
from support import ParamsView
from torch import Tensor

from nfbench.api import DataInfo
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, field_preset, shared_init
from nfbench.methods.dwsnet import DWSNet, DWSNetClassifier, DWSNetConfig, HiddenPooledStandardize, neuron_counts
from nfbench.weightspace.dws import DWSLayer, MLPLayout, invariant_pool, pooled_width
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.symmetry import permute_features, permute_hidden, random_permutations

pytestmark = pytest.mark.usefixtures("one_thread")

CPU = torch.device("cpu")
BATCH = 4
C_IN, C_OUT = 3, 4
# One hidden layer (the release refuses it), a first-to-last-layer neighbour, deep ones; several outputs.
SHAPES = [[2, 5, 1], [3, 6, 2], [3, 4, 6, 2], [2, 4, 4, 4, 3], [3, 5, 6, 7, 5, 2]]
ONE_HIDDEN = FieldSpec(kind="siren", in_dim=2, out_dim=1, hidden=8, depth=1)
MULTI_OUT = FieldSpec(kind="relu-mlp", in_dim=3, out_dim=3, hidden=6, depth=3)


def close(a: Tensor, b: Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def random_features(sizes: list[int], channels: int, seed: int = 0) -> WeightSpaceFeatures:
    gen = torch.Generator().manual_seed(seed)
    return WeightSpaceFeatures(
        tuple(torch.randn(BATCH, o, i, channels, generator=gen) for i, o in zip(sizes[:-1], sizes[1:])),
        tuple(torch.randn(BATCH, o, channels, generator=gen) for o in sizes[1:]),
    )


def hidden_perms(sizes: list[int], seed: int = 1) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(BATCH, n, generator=gen).argsort(1) for n in sizes[1:-1]]


def permute_weights(weights: tuple[Tensor, ...], perms: list[Tensor]) -> tuple[Tensor, ...]:
    dummy = tuple(w.new_zeros(w.shape[:2] + (1,)) for w in weights)
    return permute_features(WeightSpaceFeatures(weights, dummy), perms).weights


def permute_biases(biases: tuple[Tensor, ...], perms: list[Tensor], sizes: list[int]) -> tuple[Tensor, ...]:
    dummy = tuple(b.new_zeros(b.shape[0], o, i, 1) for b, i, o in zip(biases, sizes[:-1], sizes[1:]))
    return permute_features(WeightSpaceFeatures(dummy, biases), perms).biases


def random_params(spec: FieldSpec, batch: int = BATCH, seed: int = 0) -> Params:
    gen = torch.Generator().manual_seed(seed)
    init = shared_init(spec, seed=0)
    return {n: p + 0.3 * p.abs().mean() * torch.randn(batch, *p.shape, generator=gen) for n, p in init.items()}


def config(preset: str = "tiny", **update) -> DWSNetConfig:
    return DWSNet.presets[preset].config.model_copy(update=update)


# --------------------------------------------------------------------------- (a) layers and blocks are equivariant


@pytest.mark.parametrize("set_layer", ["ds", "sab"])
@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_every_block_and_the_layer_commute_with_hidden_permutations(sizes: list[int], set_layer: str) -> None:
    layer = DWSLayer(sizes, C_IN, C_OUT, set_layer, "max", heads=2)
    f, perms = random_features(sizes, C_IN), hidden_perms(sizes)
    moved = permute_features(f, perms)
    blocks, blocks_moved = layer.block_outputs(f), layer.block_outputs(moved)
    assert set(blocks) == {"weight_to_weight", "bias_to_weight", "bias_to_bias", "weight_to_bias"}
    for name, out in blocks.items():
        if name.endswith("to_weight"):
            assert [t.shape for t in out] == [w.shape[:3] + (C_OUT,) for w in f.weights]
            want = permute_weights(out, perms)
        else:
            assert [t.shape for t in out] == [b.shape[:2] + (C_OUT,) for b in f.biases]
            want = permute_biases(out, perms, sizes)
        for a, b in zip(want, blocks_moved[name]):
            close(a, b)
        # not vacuous: the first hidden layer's entries really moved with the permutation
        assert not torch.allclose(blocks_moved[name][0], out[0], atol=1e-4), name
    want, got = permute_features(layer(f), perms), layer(moved)
    for a, b in zip(want.weights + want.biases, got.weights + got.biases):
        close(a, b)


@pytest.mark.parametrize("reduction", ["max", "mean", "sum"])
def test_each_reduction_keeps_the_layer_equivariant_and_the_pool_invariant(reduction: str) -> None:
    sizes = [3, 4, 6, 2]
    layer = DWSLayer(sizes, C_IN, C_OUT, "ds", reduction)
    f, perms = random_features(sizes, C_IN), hidden_perms(sizes)
    want, got = permute_features(layer(f), perms), layer(permute_features(f, perms))
    for a, b in zip(want.weights + want.biases, got.weights + got.biases):
        close(a, b)
    layout = MLPLayout(sizes)
    pooled = invariant_pool(got, layout, reduction)
    assert pooled.shape == (BATCH, pooled_width(layout, C_OUT))
    close(pooled, invariant_pool(layer(f), layout, reduction))


# --------------------------------------------------------------------------- (b) the classifier is invariant


@pytest.mark.parametrize(
    "spec", [ONE_HIDDEN, field_preset("tiny"), field_preset("image"), MULTI_OUT], ids=["1-hidden", "tiny", "image", "multi-out"]
)
@pytest.mark.parametrize("preset", ["tiny", "cpu"])
def test_classifier_logits_and_embeddings_ignore_hidden_permutations(spec: FieldSpec, preset: str) -> None:
    torch.manual_seed(0)
    model = DWSNetClassifier(spec, config(preset, hidden_dim=8, n_layers=3), n_classes=5)
    params = random_params(spec)
    standardize = model.standardize
    assert standardize is not None
    standardize.fit_(
        ParamsView(DataInfo(spec=spec, field_kind="sdf", class_names=("a",)), "train", params, torch.zeros(BATCH)), 3, CPU
    )
    moved = permute_hidden(spec, params, random_permutations(spec, BATCH, torch.Generator().manual_seed(2)))
    for training in (True, False):  # batch statistics and running statistics alike
        model.train(training)
        close(model(moved), model(params))
        close(model(moved, embed=True), model(params, embed=True))
    assert model(params, embed=True).shape == (BATCH, pooled_width(MLPLayout(neuron_counts(spec)), 8))


# --------------------------------------------------------------------------- (c) inputs and outputs are not a set


def test_input_and_output_neurons_keep_their_identity() -> None:
    """Permuting input coordinates or output channels changes the INR's function; DWSNet must see it.

    A layer that treated them as sets (NFN's NP, or a DeepSets over all neurons) would map
    these permuted INRs to the same logits and fail here.
    """
    spec = MULTI_OUT
    torch.manual_seed(0)
    model = DWSNetClassifier(spec, config("tiny"), n_classes=5).eval()
    params = random_params(spec)
    last = spec.depth
    flip_in = torch.tensor([2, 0, 1])
    flip_out = torch.tensor([1, 2, 0])
    inputs_moved = dict(params, **{"layers.0.weight": params["layers.0.weight"][:, :, flip_in]})
    outputs_moved = dict(
        params,
        **{
            f"layers.{last}.weight": params[f"layers.{last}.weight"][:, flip_out],
            f"layers.{last}.bias": params[f"layers.{last}.bias"][:, flip_out],
        },
    )
    base = model(params)
    for moved in (inputs_moved, outputs_moved):
        assert not torch.allclose(model(moved), base, rtol=1e-3, atol=1e-4)
    # and at the level of one layer: its output does not follow a permutation of the input neurons
    sizes = neuron_counts(spec)
    layer = DWSLayer(sizes, C_IN, C_OUT, "ds")
    f = random_features(sizes, C_IN)
    f_in = WeightSpaceFeatures((f.weights[0][:, :, flip_in], *f.weights[1:]), f.biases)
    assert not torch.allclose(layer(f_in).weights[0], layer(f).weights[0][:, :, flip_in], atol=1e-4)


# --------------------------------------------------------------------------- (d) what DWSNet refuses


def test_attention_heads_must_divide_the_channels() -> None:
    method = DWSNet(config("tiny", hidden_dim=12, n_heads=8), CPU, 0)
    with pytest.raises(ConfigError, match=r"dwsnet: .*n_heads=8.*multiple of n_heads"):
        method.setup(DataInfo(spec=field_preset("tiny"), field_kind="sdf", class_names=("a", "b")))
    DWSNet(config("tiny", hidden_dim=12, n_heads=8, set_layer="ds"), CPU, 0).setup(
        DataInfo(spec=field_preset("tiny"), field_kind="sdf", class_names=("a", "b"))
    )  # DeepSets layers have no heads


def test_layout_needs_a_hidden_layer() -> None:
    with pytest.raises(ValueError, match="hidden layer"):
        MLPLayout([3, 1])


# --------------------------------------------------------------------------- method frame


def test_paper_preset_matches_the_release_parameter_count() -> None:
    """552,650 parameters on 2 -> 32 -> 32 -> 1 INRs, as the released DWSModelForClassification with MNIST defaults."""
    model = DWSNetClassifier(field_preset("image"), config("paper"), n_classes=10)
    assert sum(p.numel() for p in model.parameters()) == 552_650


def test_standardization_is_shared_across_hidden_neurons_only() -> None:
    spec = field_preset("tiny")
    params = random_params(spec, batch=16)
    std = HiddenPooledStandardize(neuron_counts(spec))
    std.fit_(ParamsView(DataInfo(spec=spec, field_kind="sdf", class_names=("a",)), "train", params, torch.zeros(16)), 5, CPU)
    assert std.w0_mean.shape == (1, spec.in_dim) and std.w1_mean.shape == (1, 1) and std.w2_mean.shape == (spec.out_dim, 1)
    out = std(params)
    for name in ("layers.0.weight", "layers.1.weight", "layers.1.bias"):
        dims = (0, 1) if name == "layers.0.weight" else tuple(range(out[name].dim()))
        close(out[name].mean(dims), torch.zeros_like(out[name].mean(dims)))
        close(out[name].std(dims, unbiased=False), torch.ones_like(out[name].mean(dims)))


def test_tiny_preset_fits_and_separates_synthetic_classes() -> None:
    """Classes differ by a shift of one hidden layer's weights: only a model that reads them can tell."""
    spec = field_preset("tiny")
    gen = torch.Generator().manual_seed(0)
    info = DataInfo(spec=spec, field_kind="sdf", class_names=("a", "b", "c"))
    views = {}
    for split, n in (("train", 30), ("val", 10)):
        labels = torch.arange(3).repeat_interleave(n)
        params = random_params(spec, batch=len(labels), seed=int(torch.randint(0, 1000, (1,), generator=gen)))
        params["layers.1.weight"] = params["layers.1.weight"] + 0.1 * (labels - 1).view(-1, 1, 1)
        views[split] = ParamsView(info, split, params, labels)
    method = DWSNet(config("tiny", epochs=10), CPU, 0)
    method.setup(info)
    method.fit(views["train"], views["val"])
    assert method.model.standardize.w1_std.item() != 1.0  # train statistics were fitted
    assert method.history["classifier_val_accuracy"] > 0.8
    assert method.embed(views["val"]).shape == (30, pooled_width(MLPLayout(neuron_counts(spec)), 8))
