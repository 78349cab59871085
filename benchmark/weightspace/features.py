"""Channelled features on every weight and bias of an MLP: the tensors equivariant layers pass on.

Layer ``l`` of an INR has a weight ``(n_out, n_in)`` and a bias ``(n_out,)``; a feature
map keeps that index structure and adds a channel axis last, so a channel mixing is a
plain ``nn.Linear`` and a symmetry acts on features exactly as on the parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from nfbench.fields import FieldSpec, Params


@dataclass(frozen=True)
class WeightSpaceFeatures:
    """``weights[l]``: ``(B, n_out_l, n_in_l, C)``; ``biases[l]``: ``(B, n_out_l, C)``."""

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...]

    @classmethod
    def from_params(cls, spec: FieldSpec, params: Params) -> WeightSpaceFeatures:
        """One channel: the parameters themselves."""
        n = spec.depth + 1
        return cls(
            tuple(params[f"layers.{i}.weight"].unsqueeze(-1) for i in range(n)),
            tuple(params[f"layers.{i}.bias"].unsqueeze(-1) for i in range(n)),
        )

    def to_params(self) -> Params:
        """Inverse of ``from_params`` for one-channel features."""
        out: Params = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"layers.{i}.weight"], out[f"layers.{i}.bias"] = w.squeeze(-1), b.squeeze(-1)
        return out

    def map(self, fn: Callable[[Tensor], Tensor]) -> WeightSpaceFeatures:
        return WeightSpaceFeatures(tuple(fn(w) for w in self.weights), tuple(fn(b) for b in self.biases))

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    @property
    def channels(self) -> int:
        return self.weights[0].shape[-1]
