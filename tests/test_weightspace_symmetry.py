"""Weight-space symmetries: the group actions keep each INR's function, and methods that declare a
symmetry are blind to it (``mlp`` is the negative control that is not)."""

from __future__ import annotations

import pytest
import torch
from support import params_view

from nfbench.api import DataInfo
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, batched_forward, field_preset, shared_init
from nfbench.methods import METHODS
from nfbench.weightspace.augment import WeightAugment, batch_augment
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.nfn import HNPLinear, NPLinear, hnp_pool, np_pool
from nfbench.weightspace.symmetry import flip_signs, permute_features, permute_hidden, random_permutations, random_signs

SIREN = field_preset("tiny")
RELU = FieldSpec(kind="relu-mlp", in_dim=3, out_dim=2, hidden=8, depth=3)
BATCH = 6


def random_params(spec: FieldSpec, seed: int = 0) -> Params:
    gen = torch.Generator().manual_seed(seed)
    init = shared_init(spec, seed=0)
    return {n: p + 0.3 * p.abs().mean() * torch.randn(BATCH, *p.shape, generator=gen) for n, p in init.items()}


def outputs(spec: FieldSpec, params: Params) -> torch.Tensor:
    x = torch.rand(200, spec.in_dim, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return batched_forward(spec, params, x)


def group_element(spec: FieldSpec, seed: int = 2) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    return random_permutations(spec, BATCH, gen), random_signs(spec, BATCH, gen)


@pytest.mark.parametrize("spec", [SIREN, RELU], ids=["siren", "relu-mlp"])
def test_permuting_hidden_neurons_moves_weights_but_keeps_the_function(spec: FieldSpec) -> None:
    params = random_params(spec)
    perms, _ = group_element(spec)
    moved = permute_hidden(spec, params, perms)
    assert not torch.equal(moved["layers.1.weight"], params["layers.1.weight"])
    assert torch.equal(moved[f"layers.{spec.depth}.bias"], params[f"layers.{spec.depth}.bias"])  # outputs keep their order
    torch.testing.assert_close(outputs(spec, moved), outputs(spec, params), rtol=1e-5, atol=1e-5)


def test_sign_flips_keep_a_siren_and_are_refused_for_relu() -> None:
    params = random_params(SIREN)
    _, signs = group_element(SIREN)
    flipped = flip_signs(SIREN, params, signs)
    assert not torch.equal(flipped["layers.0.weight"], params["layers.0.weight"])
    torch.testing.assert_close(outputs(SIREN, flipped), outputs(SIREN, params), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="not odd"):
        flip_signs(RELU, random_params(RELU), group_element(RELU)[1])


@pytest.mark.parametrize("sizes", [[2, 5, 1], [3, 4, 6, 5, 2]], ids=str)
def test_nfn_layers_commute_with_hidden_permutations_and_pools_ignore_them(sizes: list[int]) -> None:
    gen = torch.Generator().manual_seed(0)
    f = WeightSpaceFeatures(
        tuple(torch.randn(BATCH, o, i, 3, generator=gen) for i, o in zip(sizes[:-1], sizes[1:])),
        tuple(torch.randn(BATCH, o, 3, generator=gen) for o in sizes[1:]),
    )
    perms = [torch.rand(BATCH, n, generator=gen).argsort(1) for n in sizes[1:-1]]
    moved = permute_features(f, perms)
    for layer in (NPLinear(len(sizes) - 1, 3, 4), HNPLinear(sizes, 3, 4)):
        want, got = permute_features(layer(f), perms), layer(moved)
        for a, b in zip(want.weights + want.biases, got.weights + got.biases):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for pool in (np_pool, hnp_pool):
        torch.testing.assert_close(pool(moved), pool(f), rtol=1e-5, atol=1e-5)


WEIGHT_METHODS = [n for n in METHODS.names() if METHODS.get(n).card.view in ("weights", "weight-graph")]


@pytest.mark.parametrize("name", WEIGHT_METHODS)
def test_methods_are_blind_to_the_symmetry_they_declare(name: str) -> None:
    cls = METHODS.get(name)
    method = cls(cls.presets["tiny"].config, torch.device("cpu"), 0)
    info = DataInfo(spec=SIREN, field_kind="sdf", class_names=("a", "b", "c"))
    method.setup(info)
    params = random_params(SIREN)
    perms, signs = group_element(SIREN)
    labels = torch.zeros(BATCH, dtype=torch.long)

    def logits(p: Params) -> torch.Tensor:
        return method.predict(params_view(cls.card.view, info, "test", p, labels))

    base = logits(params)
    permuted = logits(permute_hidden(SIREN, params, perms))
    flipped = logits(flip_signs(SIREN, params, signs))
    symmetry = cls.card.symmetry
    if symmetry == "none":
        assert not torch.allclose(permuted, base, rtol=1e-3, atol=1e-4), f"{name} declares no symmetry but ignores permutations"
    else:
        torch.testing.assert_close(permuted, base, rtol=1e-4, atol=1e-5)
    if symmetry == "permutation+sign":
        torch.testing.assert_close(flipped, base, rtol=1e-4, atol=1e-5)
    else:
        assert not torch.allclose(flipped, base, rtol=1e-3, atol=1e-4), f"{name} declares no sign symmetry but ignores sign flips"


def test_augmentations_keep_or_perturb_the_function_as_documented() -> None:
    params = random_params(SIREN)
    base = outputs(SIREN, params)
    torch.manual_seed(0)
    same = WeightAugment(permute=True, sign_flip=True)(SIREN, params)
    assert not torch.equal(same["layers.1.weight"], params["layers.1.weight"])
    torch.testing.assert_close(outputs(SIREN, same), base, rtol=1e-5, atol=1e-5)
    noisy = WeightAugment(noise=0.1)(SIREN, params)
    for n, p in params.items():
        if p[0].numel() >= 16:  # enough entries for the noise's norm to sit near its expectation
            rel = (noisy[n] - p).flatten(1).norm(dim=1) / p.flatten(1).norm(dim=1)
            assert torch.all((rel > 0.05) & (rel < 0.2)), (n, rel)
    dropped = WeightAugment(dropout=0.5)(SIREN, params)
    zeroed = (dropped["layers.1.weight"] == 0).float().mean()
    assert 0.35 < zeroed < 0.65 and torch.equal(dropped["layers.1.bias"], params["layers.1.bias"])
    assert batch_augment(SIREN, WeightAugment()) is None
    with pytest.raises(ConfigError, match="sign_flip needs SIREN"):
        batch_augment(RELU, WeightAugment(sign_flip=True))


def test_mlp_perm_trains_on_permuted_copies_and_records_it() -> None:
    cls = METHODS.get("mlp-perm")
    assert cls.presets["cpu"].config.augment == WeightAugment(permute=True)
    assert METHODS.get("mlp").presets["cpu"].config.augment == WeightAugment()
    assert cls.presets["cpu"].config.model_dump()["augment"]["permute"] is True  # what a record's config holds
