import pytest
import torch

from nfbench.fields import FIELD_PRESETS, FieldModule, batched_forward, field_preset, params_hash, shared_init
from nfbench.fields.functional import flatten_params, linear_functional, unflatten_params
from nfbench.fitting.fitter import stack_init


def test_paper_preset_has_the_published_parameter_count():
    assert field_preset("paper").n_params == 790_529


def test_unknown_preset_suggests_closest():
    with pytest.raises(KeyError, match="did you mean 'paper'"):
        field_preset("papr")


@pytest.mark.parametrize("name", sorted(FIELD_PRESETS))
def test_batched_forward_matches_per_inr_module(name):
    spec = field_preset(name)
    gen = torch.Generator().manual_seed(1)
    params = {n: torch.randn(3, *s, generator=gen) * 0.1 for n, s in spec.param_shapes().items()}
    x = torch.rand(3, 50, spec.in_dim, generator=gen) * 2 - 1
    batched = batched_forward(spec, params, x)
    assert batched.shape == (3, 50, spec.out_dim)
    for i in range(3):
        module = FieldModule.from_stacked(spec, params, i)
        torch.testing.assert_close(module(x[i]), batched[i], rtol=1e-5, atol=1e-5)
        one = {n: p[i] for n, p in params.items()}
        torch.testing.assert_close(linear_functional(spec, one, x[i]), batched[i], rtol=1e-5, atol=1e-5)


def test_shared_points_broadcast_to_every_inr():
    spec = field_preset("tiny")
    params = stack_init(shared_init(spec, 0), 2, torch.device("cpu"))
    x = torch.rand(7, 3)
    out = batched_forward(spec, params, x)
    torch.testing.assert_close(out[0], out[1])


def test_module_state_dict_follows_spec_order():
    spec = field_preset("nerf")
    assert list(FieldModule(spec).state_dict()) == spec.param_names()
    assert sum(p.numel() for p in FieldModule(spec).parameters()) == spec.n_params


def test_init_is_deterministic_and_hash_detects_changes():
    spec = field_preset("cpu")
    a, b = shared_init(spec, 0), shared_init(spec, 0)
    assert params_hash(spec, a) == params_hash(spec, b)
    assert params_hash(spec, a) != params_hash(spec, shared_init(spec, 1))
    a["layers.1.bias"][0] += 1e-6
    assert params_hash(spec, a) != params_hash(spec, b)


def test_siren_init_bounds():
    spec = field_preset("paper")
    p = shared_init(spec, 0)
    assert p["layers.0.weight"].abs().max() <= 1 / 3
    bound = (6 / 512) ** 0.5 / 30
    assert p["layers.2.weight"].abs().max() <= bound
    assert p["layers.2.weight"].abs().max() > 0.9 * bound


def test_flatten_roundtrip_and_length_check():
    spec = field_preset("tiny")
    params = stack_init(shared_init(spec, 3), 4, torch.device("cpu"))
    flat = flatten_params(spec, params)
    assert flat.shape == (4, spec.n_params)
    back = unflatten_params(spec, flat)
    for n in spec.param_names():
        torch.testing.assert_close(back[n], params[n])
    with pytest.raises(ValueError, match="expected"):
        unflatten_params(spec, flat[:, :-1])
