"""Weight-space augmentations for training on INR weights, as options of a method's config.

Permutations and sign flips move an INR to another point of its symmetry orbit (same
function), which is how symmetry-blind models (the flat-weight MLP) are taught the
symmetry, as in Navon et al. (ICML 2023); noise and weight dropout perturb the function a
little. Each draws from torch's global RNG on the batch's device, which the shared
``Trainer`` checkpoints, so a resumed fit replays the same augmentations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from pydantic import BaseModel, ConfigDict, Field

from nfbench.api.view import ViewBatch
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.weightspace.symmetry import flip_signs, has_sign_symmetry, permute_hidden, random_permutations, random_signs


class WeightAugment(BaseModel):
    """What to do to each training INR's weights, drawn afresh per batch; all off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    permute: bool = Field(False, description="random hidden-neuron permutation per INR (function unchanged)")
    sign_flip: bool = Field(False, description="random sign per hidden neuron, SIREN only (function unchanged)")
    noise: float = Field(0.0, ge=0, description="Gaussian noise with std = this fraction of each tensor's RMS, per INR")
    dropout: float = Field(0.0, ge=0, lt=1, description="probability of zeroing each weight; biases are kept")

    @property
    def active(self) -> bool:
        return self.permute or self.sign_flip or self.noise > 0 or self.dropout > 0

    def check(self, spec: FieldSpec) -> None:
        if self.sign_flip and not has_sign_symmetry(spec):
            raise ConfigError(f"augment.sign_flip needs SIREN fields; these are {spec.kind!r}, whose activation is not odd")

    def __call__(self, spec: FieldSpec, params: Params) -> Params:
        batch = params["layers.0.weight"].shape[0]
        device = params["layers.0.weight"].device
        if self.permute:
            params = permute_hidden(spec, params, random_permutations(spec, batch, device=device))
        if self.sign_flip:
            params = flip_signs(spec, params, random_signs(spec, batch, device=device))
        if self.noise > 0:
            params = {
                n: p + self.noise * p.flatten(1).square().mean(1).sqrt().view(-1, *[1] * (p.dim() - 1)) * torch.randn_like(p)
                for n, p in params.items()
            }
        if self.dropout > 0:
            params = {
                n: p * (torch.rand_like(p) >= self.dropout) if n.endswith("weight") else p for n, p in params.items()
            }
        return params


def batch_augment(spec: FieldSpec, augment: WeightAugment) -> Callable[[ViewBatch], ViewBatch] | None:
    """The training-batch transform of ``fit_classifier`` for weights views, or None when nothing is on."""
    if not augment.active:
        return None
    augment.check(spec)
    return lambda batch: replace(batch, data=augment(spec, batch.data))
