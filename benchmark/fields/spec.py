"""Field architectures described as data.

An INR dataset stores its architecture as a ``FieldSpec`` so that every consumer (fitter,
weight-space methods, decoders, importers) derives layer shapes from one place instead of
guessing them from tensors.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FieldSpec(BaseModel):
    """An MLP neural field: ``in_dim -> [hidden] * depth -> out_dim``.

    ``depth`` counts hidden layers, so the network has ``depth + 1`` linear layers. SIREN
    applies ``sin(w0 * x)`` after every hidden layer; ``relu-mlp`` applies ReLU. The last
    layer is always linear (the fitter's loss decides how outputs are read).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["siren", "relu-mlp"]
    in_dim: int = Field(ge=1)
    out_dim: int = Field(ge=1)
    hidden: int = Field(ge=1)
    depth: int = Field(ge=1)
    w0: float = 30.0
    encoding: Literal["none", "freq"] = "none"
    n_freqs: int = Field(default=0, ge=0)

    @property
    def encoded_dim(self) -> int:
        """Width of the input after the (optional) frequency encoding."""
        if self.encoding == "freq":
            return self.in_dim * (1 + 2 * self.n_freqs)
        return self.in_dim

    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(out_features, in_features)`` of each linear layer, input to output."""
        dims = [self.encoded_dim] + [self.hidden] * self.depth + [self.out_dim]
        return [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]

    def param_names(self) -> list[str]:
        """Parameter names in ``state_dict`` order (weight then bias, layer by layer)."""
        names = []
        for i in range(self.depth + 1):
            names += [f"layers.{i}.weight", f"layers.{i}.bias"]
        return names

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (out_f, in_f) in enumerate(self.layer_shapes()):
            shapes[f"layers.{i}.weight"] = (out_f, in_f)
            shapes[f"layers.{i}.bias"] = (out_f,)
        return shapes

    @property
    def n_params(self) -> int:
        return sum(o * i + o for o, i in self.layer_shapes())

    def describe(self) -> str:
        """``siren 3->64x4->1``, plus the input encoding if any: what error messages name."""
        text = f"{self.kind} {self.in_dim}->{self.hidden}x{self.depth}->{self.out_dim}"
        return text + (f" with {self.encoding} encoding ({self.n_freqs} frequencies)" if self.encoding != "none" else "")


FIELD_PRESETS: dict[str, FieldSpec] = {
    # inr2vec / nf2vec shapes: 790,529 parameters.
    "paper": FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=512, depth=4, w0=30.0),
    # CPU scale-down, chosen from leaderboards/fitting.md (best fit per CPU-second; ~1.7 CPU-s per INR on clouds).
    "cpu": FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=64, depth=4, w0=30.0),
    # Small enough for unit tests to fit dozens of INRs in seconds.
    "tiny": FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=16, depth=2, w0=30.0),
    # DWSNet / NFN image INRs (MNIST-INR analog).
    "image": FieldSpec(kind="siren", in_dim=2, out_dim=1, hidden=32, depth=2, w0=30.0),
    # nf2vec NeRF: ReLU MLP, frequency-encoded xyz, RGB + density, no view direction.
    "nerf": FieldSpec(kind="relu-mlp", in_dim=3, out_dim=4, hidden=64, depth=3, encoding="freq", n_freqs=10),
}


def field_preset(name: str) -> FieldSpec:
    """Look up a field preset, suggesting the closest names on a typo."""
    from nfbench.api.registry import RegistryError, did_you_mean

    if name not in FIELD_PRESETS:
        raise RegistryError(f"unknown field preset {name!r}{did_you_mean(name, FIELD_PRESETS)}")
    return FIELD_PRESETS[name]
