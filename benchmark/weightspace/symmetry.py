"""The symmetries of an MLP's parameters: hidden-neuron permutations and, for odd activations, sign flips.

Reordering the neurons of a hidden layer (rows of its weight and bias, columns of the next
weight) leaves the function unchanged; so does negating a neuron's incoming weights, bias
and outgoing weights when the activation is odd (SIREN's sine, not ReLU). Inputs and
outputs keep their order. Every action here is batched: one group element per INR.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.weightspace.features import WeightSpaceFeatures


def has_sign_symmetry(spec: FieldSpec) -> bool:
    """Whether flipping a hidden neuron's sign preserves the function (odd activation)."""
    return spec.kind == "siren"


def random_permutations(spec: FieldSpec, batch: int, generator: torch.Generator | None = None, device=None) -> list[Tensor]:
    """One ``(batch, hidden)`` permutation per hidden layer, drawn independently per INR."""
    return [
        torch.rand(batch, spec.hidden, generator=generator, device=device).argsort(dim=1) for _ in range(spec.depth)
    ]


def random_signs(spec: FieldSpec, batch: int, generator: torch.Generator | None = None, device=None) -> list[Tensor]:
    """One ``(batch, hidden)`` tensor of +-1 per hidden layer."""
    return [
        torch.randint(0, 2, (batch, spec.hidden), generator=generator, device=device).mul(2).sub(1).float()
        for _ in range(spec.depth)
    ]


def _rows(w: Tensor, perm: Tensor) -> Tensor:
    """Rows of each INR's ``w`` (``(B, rows, ...)``) in the order of its ``perm`` row."""
    return w[torch.arange(w.shape[0], device=w.device)[:, None], perm]


def _cols(w: Tensor, perm: Tensor) -> Tensor:
    return _rows(w.transpose(1, 2), perm).transpose(1, 2)


def _permute(weights: list[Tensor], biases: list[Tensor], perms: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    weights, biases = list(weights), list(biases)
    for layer, perm in enumerate(perms):
        weights[layer], biases[layer] = _rows(weights[layer], perm), _rows(biases[layer], perm)
        weights[layer + 1] = _cols(weights[layer + 1], perm)
    return weights, biases


def permute_hidden(spec: FieldSpec, params: Params, perms: list[Tensor]) -> Params:
    """Hidden neuron ``i`` of layer ``l`` becomes neuron ``perms[l][b, i]`` of INR ``b``'s old order."""
    n = spec.depth + 1
    weights, biases = _permute(
        [params[f"layers.{i}.weight"] for i in range(n)], [params[f"layers.{i}.bias"] for i in range(n)], perms
    )
    return {**params, **{f"layers.{i}.weight": w for i, w in enumerate(weights)}, **{f"layers.{i}.bias": b for i, b in enumerate(biases)}}


def permute_features(features: WeightSpaceFeatures, perms: list[Tensor]) -> WeightSpaceFeatures:
    """The same action on channelled features: what an equivariant layer must commute with."""
    weights, biases = _permute(list(features.weights), list(features.biases), perms)
    return WeightSpaceFeatures(tuple(weights), tuple(biases))


def flip_signs(spec: FieldSpec, params: Params, signs: list[Tensor]) -> Params:
    """Negate the hidden neurons where ``signs[l]`` is -1 (incoming weights, bias, outgoing weights)."""
    if not has_sign_symmetry(spec):
        raise ConfigError(f"sign flips change a {spec.kind!r} field's function: its activation is not odd")
    out = dict(params)
    for layer, s in enumerate(signs):
        s = s.to(out[f"layers.{layer}.weight"].dtype)
        out[f"layers.{layer}.weight"] = out[f"layers.{layer}.weight"] * s[:, :, None]
        out[f"layers.{layer}.bias"] = out[f"layers.{layer}.bias"] * s
        out[f"layers.{layer + 1}.weight"] = out[f"layers.{layer + 1}.weight"] * s[:, None, :]
    return out
