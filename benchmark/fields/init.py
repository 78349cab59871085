"""The shared initialization every INR in a dataset starts from, or one init per INR.

inr2vec showed that weight-space learning only converges when all INRs share one random
init (it aligns hidden units across INRs), so the init is a dataset-level artifact:
deterministic from (spec, seed), stored next to the weights and identified by a hash.
The DWSNet and NFN datasets instead start every INR from its own random init, which is
where symmetry-aware learners earn their keep; builds offer both (``FitConfig.init``).
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

import torch

from nfbench.fields.functional import Params
from nfbench.fields.spec import FieldSpec

InitScheme = Literal["siren", "dwsnet"]
"""How a SIREN starts. ``siren``: Sitzmann et al.'s, first layer U(+-1/fan_in), later layers
U(+-sqrt(6/fan_in)/w0), biases as ``nn.Linear``'s U(+-1/sqrt(fan_in)). ``dwsnet``: the MNIST INRs
of DWSNet (Navon et al. 2023), every layer U(+-sqrt(6/fan_in)/w0) (no special first layer) and
zero biases; their +0.5 output offset is not applied (it only shifts the last bias)."""


def shared_init(spec: FieldSpec, seed: int, scheme: InitScheme = "siren") -> Params:
    """Unbatched parameters for ``spec`` (``scheme`` for siren, PyTorch default otherwise).

    Generated on CPU in float32 so the hash does not depend on the device.
    """
    gen = torch.Generator().manual_seed(seed)
    params: Params = {}
    for i, (out_f, in_f) in enumerate(spec.layer_shapes()):
        if spec.kind == "siren":
            bound = 1.0 / in_f if i == 0 and scheme == "siren" else math.sqrt(6.0 / in_f) / spec.w0
        else:
            bound = 1.0 / math.sqrt(in_f)  # kaiming_uniform(a=sqrt(5)) as nn.Linear
        params[f"layers.{i}.weight"] = (torch.rand(out_f, in_f, generator=gen) * 2 - 1) * bound
        bias = (torch.rand(out_f, generator=gen) * 2 - 1) / math.sqrt(in_f)
        params[f"layers.{i}.bias"] = torch.zeros_like(bias) if scheme == "dwsnet" and spec.kind == "siren" else bias
    return params


def independent_inits(spec: FieldSpec, seeds: list[int], scheme: InitScheme = "siren") -> Params:
    """``(B, *shape)`` parameters: ``shared_init`` drawn once per seed.

    One generator per INR (not one draw for the whole chunk) keeps an INR's start, and so its
    fit, independent of which chunk it is fitted in; drawing a few thousand numbers per INR
    is nothing beside its fit.
    """
    inits = [shared_init(spec, seed, scheme) for seed in seeds]
    return {name: torch.stack([init[name] for init in inits]) for name in spec.param_names()}


def params_hash(spec: FieldSpec, params: Params) -> str:
    """sha256 over the spec and the float32 bytes of the parameters in ``state_dict`` order."""
    digest = hashlib.sha256(spec.model_dump_json().encode())
    for name in spec.param_names():
        digest.update(params[name].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()
