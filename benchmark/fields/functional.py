"""A batched functional forward over the stacked weights of many INRs.

Fitting and decoding thousands of small MLPs one module at a time is dominated by Python
overhead; stacking the parameters of B INRs along a leading axis turns every layer into
one ``baddbmm``. ``FieldModule`` is the per-INR ``nn.Module`` view of the same maths, for
users who want a plain PyTorch model out of a dataset.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.fields.spec import FieldSpec

Params = dict[str, Tensor]
"""Parameters by name (``FieldSpec.param_names``); stacked tensors carry a leading INR axis."""


def encode(spec: FieldSpec, x: Tensor) -> Tensor:
    """NeRF-style frequency encoding ``[x, sin(2^k pi x), cos(2^k pi x)]`` (k < n_freqs)."""
    if spec.encoding == "none":
        return x
    freqs = (2.0 ** torch.arange(spec.n_freqs, device=x.device, dtype=x.dtype)) * math.pi
    scaled = x.unsqueeze(-1) * freqs  # (..., in_dim, n_freqs)
    enc = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=-1).flatten(-2)
    return torch.cat([x, enc], dim=-1)


def activation(spec: FieldSpec, h: Tensor) -> Tensor:
    return torch.sin(spec.w0 * h) if spec.kind == "siren" else torch.relu(h)


def batched_forward(spec: FieldSpec, params: Params, x: Tensor, bias_in_gemm: bool = True) -> Tensor:
    """Evaluate B fields at their own query points.

    ``params[name]`` has shape ``(B, *param_shape)``; ``x`` is ``(B, N, in_dim)``, or
    ``(N, in_dim)`` to query every field at the same points. Returns ``(B, N, out_dim)``.

    ``bias_in_gemm=False`` adds each bias after a plain ``bmm`` instead of through
    ``baddbmm``, whose CPU kernel first copies the broadcast bias into a ``(B, N, width)``
    output. Alone that is slower, but under ``torch.compile`` the add fuses into the
    activation's loop and the copy (a sixth of a compiled fitting step's non-matmul time)
    disappears. Sums round differently, so it is the compiled fitting step's choice only.

    A lone INR is evaluated as a pair of copies: torch's CPU ``baddbmm`` hands a batch of
    one to plain ``gemm`` (``cpublas::gemm_batched_with_stride``), whose MKL kernel rounds
    differently from the batched kernel used for two or more (the ``out_dim`` 1 layer
    differs by ~1e-7). With the pair, an INR's outputs, and so its fit, its decodes and
    what methods read from it, are bit-identical whatever batch it is evaluated in.
    """
    batch = params["layers.0.weight"].shape[0]
    if x.dim() == 2:
        x = x.unsqueeze(0).expand(batch, -1, -1)
    if batch == 1:
        pair = {name: torch.cat([p, p]) for name, p in params.items()}
        return batched_forward(spec, pair, x.expand(2, *x.shape[1:]), bias_in_gemm)[:1]
    h = encode(spec, x)
    for i in range(spec.depth + 1):
        w = params[f"layers.{i}.weight"]
        b = params[f"layers.{i}.bias"]
        if bias_in_gemm:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        else:
            h = torch.bmm(h, w.transpose(1, 2)) + b.unsqueeze(1)
        if i < spec.depth:
            h = activation(spec, h)
    return h


class FieldModule(nn.Module):
    """One INR as a regular ``nn.Module`` whose ``state_dict`` matches the dataset layout."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(nn.Linear(i, o) for o, i in spec.layer_shapes())

    @classmethod
    def from_stacked(cls, spec: FieldSpec, params: Params, index: int) -> FieldModule:
        module = cls(spec)
        module.load_state_dict({name: params[name][index] for name in spec.param_names()})
        return module

    def forward(self, x: Tensor) -> Tensor:
        h = encode(self.spec, x)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < self.spec.depth:
                h = activation(self.spec, h)
        return h


def flatten_params(spec: FieldSpec, params: Params) -> Tensor:
    """Stacked params -> ``(B, n_params)`` in ``state_dict`` order (the inr2vec flat layout)."""
    return torch.cat([params[n].flatten(1) for n in spec.param_names()], dim=1)


def unflatten_params(spec: FieldSpec, flat: Tensor) -> Params:
    """Inverse of ``flatten_params``; raises if the length does not match the spec."""
    if flat.shape[-1] != spec.n_params:
        raise ValueError(f"expected {spec.n_params} parameters per INR for {spec}, got {flat.shape[-1]}")
    out: Params = {}
    offset = 0
    for name, shape in spec.param_shapes().items():
        size = math.prod(shape)
        out[name] = flat[:, offset : offset + size].reshape(flat.shape[0], *shape)
        offset += size
    return out


def linear_functional(spec: FieldSpec, params_one: Params, x: Tensor) -> Tensor:
    """Reference single-INR forward with ``F.linear``; used to test the batched path."""
    h = encode(spec, x)
    for i in range(spec.depth + 1):
        h = F.linear(h, params_one[f"layers.{i}.weight"], params_one[f"layers.{i}.bias"])
        if i < spec.depth:
            h = activation(spec, h)
    return h
