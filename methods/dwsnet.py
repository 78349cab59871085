"""DWSNet (Navon et al., Equivariant Architectures for Learning in Deep Weight Spaces, ICML 2023): ``dwsnet``.

The released MNIST INR classifier: weights and biases standardized with train statistics,
a stack of DWS layers (32 channels; batch norm, ReLU and dropout between them), a ReLU,
an invariant pool (means or maxima over hidden neurons, input and output neurons kept
apart) and one linear map to the classes. Equivariant to hidden-neuron permutations only,
the exact symmetry of an INR. The embedding is the pooled invariant vector, the input of
that last linear map.

The release standardizes every entry with its own train mean and std, which a permuted INR
would not share; here statistics are pooled over hidden neurons (kept per input or output
neuron), so the whole model stays invariant.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset, View
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.training.evaluation import mean_std
from nfbench.training.layers import TrainStatistic
from nfbench.weightspace.augment import WeightAugment
from nfbench.weightspace.dws import DWSLayer, MLPLayout, TensorBatchNorm, invariant_pool, pooled_width
from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod
from nfbench.weightspace.nfn import Pointwise

KINDS = ("udf", "sdf", "occ", "image")


class DWSNetConfig(WeightClassifierConfig):
    hidden_dim: int = Field(ge=1, description="channels of every DWS layer")
    n_layers: int = Field(ge=1, description="DWS layers (the release's n_hidden counts those after the first)")
    set_layer: Literal["ds", "sab"] = Field(description="set layer of the one-shared-axis terms: DeepSets (affine) or attention")
    n_heads: int = Field(ge=1, description="attention heads of 'sab' terms (the last layer uses one, as the release)")
    reduction: Literal["max", "mean", "sum"] = Field(
        description="pooling of every set axis, in the layers and the invariant pool"
    )
    dropout: float = Field(ge=0, lt=1, description="elementwise dropout after every ReLU")
    batch_norm: bool = Field(description="batch norm per tensor before every ReLU but the last")
    normalize: bool = Field(description="standardize weights and biases with train statistics pooled over hidden neurons")


def neuron_counts(spec: FieldSpec) -> list[int]:
    return [spec.encoded_dim, *[spec.hidden] * spec.depth, spec.out_dim]


def _keep(sizes: list[int], layer: int, bias: bool) -> tuple[bool, ...]:
    """Per axis of a weight ``(n_out, n_in)`` or bias ``(n_out,)``: whether it indexes fixed (input/output) neurons."""
    last = len(sizes) - 2
    out_fixed = layer == last
    return (out_fixed,) if bias else (out_fixed, layer == 0)


class HiddenPooledStandardize(TrainStatistic):
    """``(x - mean) / std`` per tensor, statistics over INRs and hidden neurons, per input or output neuron.

    Entries of one hidden neuron are exchangeable with any other's under the symmetry, so
    they share a statistic; an input or output neuron keeps its own, as in the release.
    """

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.n = len(sizes) - 1
        for i in range(self.n):
            for bias, shape in ((False, (sizes[i + 1], sizes[i])), (True, (sizes[i + 1],))):
                kept = tuple(s if k else 1 for s, k in zip(shape, _keep(sizes, i, bias)))
                self.register_buffer(f"{self._name(i, bias)}_mean", torch.zeros(kept))
                self.register_buffer(f"{self._name(i, bias)}_std", torch.ones(kept))

    @staticmethod
    def _name(layer: int, bias: bool) -> str:
        return f"{'b' if bias else 'w'}{layer}"

    def _reduced(self, layer: int, bias: bool) -> tuple[int, ...]:
        """Dims of a batched tensor to reduce: the batch and every hidden-neuron axis."""
        return (0, *(1 + a for a, k in enumerate(_keep(self.sizes, layer, bias)) if not k))

    @torch.no_grad()
    def fit_(self, view: View, batch_size: int, device: torch.device) -> None:
        """Accumulated in float64 over the whole view, which may not fit in memory."""
        sums: dict[str, list[Tensor]] = {}
        count: dict[str, int] = {}
        for batch in view.batches(batch_size):
            params = batch.to(device).data
            for i in range(self.n):
                for bias in (False, True):
                    x = params[f"layers.{i}.{'bias' if bias else 'weight'}"].double()
                    dims, name = self._reduced(i, bias), self._name(i, bias)
                    s, sq = x.sum(dims), x.square().sum(dims)
                    prev = sums.get(name)
                    sums[name] = [s, sq] if prev is None else [prev[0] + s, prev[1] + sq]
                    count[name] = count.get(name, 0) + x.numel() // s.numel()
        if not sums:
            raise ValueError(f"cannot standardize on an empty {view.split} view")
        for name, (s, sq) in sums.items():
            mean, std = mean_std(s, sq, count[name])
            getattr(self, f"{name}_mean").copy_(mean.view_as(getattr(self, f"{name}_mean")))
            getattr(self, f"{name}_std").copy_(std.view_as(getattr(self, f"{name}_std")))

    def forward(self, params: Params) -> Params:
        out = dict(params)
        for i in range(self.n):
            for bias in (False, True):
                key, name = f"layers.{i}.{'bias' if bias else 'weight'}", self._name(i, bias)
                out[key] = (params[key] - getattr(self, f"{name}_mean")) / getattr(self, f"{name}_std")
        return out


class DWSNetClassifier(nn.Module):
    def __init__(self, spec: FieldSpec, config: DWSNetConfig, n_classes: int) -> None:
        super().__init__()
        self.spec = spec
        sizes = neuron_counts(spec)
        self.layout = MLPLayout(sizes)
        self.reduction = config.reduction
        self.standardize = HiddenPooledStandardize(sizes) if config.normalize else None
        c = config.hidden_dim
        layers: list[nn.Module] = []
        for k in range(config.n_layers):
            if k > 0:
                if config.batch_norm:
                    layers.append(TensorBatchNorm(self.layout.n_layers, c))
                layers += self._activation(config.dropout)
            heads = config.n_heads if k < config.n_layers - 1 else 1
            layers.append(DWSLayer(sizes, 1 if k == 0 else c, c, config.set_layer, config.reduction, heads))
        self.body = nn.Sequential(*layers, *self._activation(config.dropout))
        self.head = nn.Linear(pooled_width(self.layout, c), n_classes)

    @staticmethod
    def _activation(dropout: float) -> list[nn.Module]:
        return [Pointwise(nn.ReLU())] + ([Pointwise(nn.Dropout(dropout))] if dropout > 0 else [])

    def forward(self, params: Params, embed: bool = False) -> Tensor:
        if self.standardize is not None:
            params = self.standardize(params)
        pooled = invariant_pool(self.body(WeightSpaceFeatures.from_params(self.spec, params)), self.layout, self.reduction)
        return pooled if embed else self.head(pooled)


def _presets() -> dict[str, Preset]:
    paper = DWSNetConfig(
        hidden_dim=32, n_layers=5, set_layer="sab", n_heads=8, reduction="max", dropout=0.0, batch_norm=True,
        normalize=True, epochs=100, lr=5e-3, weight_decay=5e-4, batch_size=512, augment=WeightAugment(dropout=0.01),
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="the release's MNIST settings (experiments/mnist/trainer.py defaults, DWSModelForClassification's 8 "
            "heads); its constant-lr AdamW(amsgrad) is the shared OneCycle AdamW recipe, its per-entry standardization "
            "is pooled over hidden neurons, and of its INR augmentations only the 1% weight dropout exists here",
        ),
        "cpu": Preset(
            config=paper.model_copy(update=dict(set_layer="ds", hidden_dim=16, n_layers=3, epochs=60, lr=1e-3, batch_size=32)),
            departs="the paper's affine DeepSets layers, not the release's attention (about 2x faster on a CPU), 3 layers "
            "of 16 channels, batch 32 at the release notebook's lr 1e-3, 60 epochs: 0.3-0.5 s per batch of 32 cpu-preset INRs",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(hidden_dim=8, n_layers=2, n_heads=2, epochs=20, lr=1e-2, batch_size=16, eval_batch_size=16)
            ),
            departs="2 attention layers of 8 channels (2 heads), 20 epochs: seconds, for tests",
        ),
    }


class DWSNet(WeightClassifierMethod):
    Config = DWSNetConfig
    config: DWSNetConfig
    presets = _presets()
    card = MethodCard(
        name="dwsnet",
        description="Deep Weight Space network: layers equivariant to hidden-neuron permutations built from pooling, "
        "set layers and broadcasting over every weight and bias; invariant pool and linear head.",
        reference="Navon et al., Equivariant Architectures for Learning in Deep Weight Spaces, ICML 2023",
        view="weights",
        field_kinds=KINDS,
        training="supervised",
        symmetry="permutation",
    )

    def build(self, info: DataInfo) -> nn.Module:
        cfg = self.config
        if cfg.set_layer == "sab" and cfg.n_layers > 1 and cfg.hidden_dim % cfg.n_heads:
            raise ConfigError(
                f"dwsnet: set_layer 'sab' splits every term's {cfg.hidden_dim} channels (times the input or output "
                f"neurons folded in) into n_heads={cfg.n_heads} heads; hidden_dim must be a multiple of n_heads"
            )
        return DWSNetClassifier(info.spec, cfg, info.n_classes)

