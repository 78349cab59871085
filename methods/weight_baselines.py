"""Symmetry-blind baselines on INR weights: an MLP on the flat weights, and one on weight statistics.

They bound what a weight-space method must beat: ``mlp`` sees every parameter but ignores
that permuting hidden units leaves the INR unchanged; ``stats`` keeps only permutation-
invariant summaries per tensor (the StatNN baseline of Unterthiner et al. 2020, used by
NFN, Zhou et al. 2023). Both standardize their features with train statistics, stream
their inputs from the weights view (a paper-size split does not fit in memory) and train
in the frame every weight-space classifier shares (``nfbench.weightspace.method``).
``mlp-perm`` is ``mlp`` trained on randomly permuted copies, the symmetry taught by data.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from pydantic import Field
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset, View
from nfbench.fields import FieldSpec, Params
from nfbench.fields.functional import flatten_params
from nfbench.training import Standardize, bn_mlp
from nfbench.training.evaluation import fit_standardize
from nfbench.weightspace.augment import WeightAugment
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STATS_PER_TENSOR = 2 + len(QUANTILES)  # mean, variance, quantiles
ALL_KINDS = ("udf", "sdf", "occ", "image")


class WeightMLPConfig(WeightClassifierConfig):
    hidden: tuple[int, ...] = Field(min_length=1)
    dropout: float = Field(ge=0, lt=1)


def _presets(paper_hidden: tuple[int, ...], paper_source: str, augment: WeightAugment | None = None) -> dict[str, Preset]:
    """Only the widths (and, for ``mlp-perm``, the augmentation) differ between the baselines."""
    aug = {} if augment is None else {"augment": augment}
    paper = WeightMLPConfig(hidden=paper_hidden, dropout=0.0, epochs=150, lr=1e-3, weight_decay=1e-2, batch_size=256, **aug)
    return {
        "paper": Preset(config=paper, departs=f"widths from {paper_source}; AdamW/OneCycle/150 epochs are nfbench's shared classifier recipe"),
        "cpu": Preset(
            config=paper.model_copy(update=dict(hidden=(256, 256), dropout=0.2, epochs=100, batch_size=64)),
            departs="2 x 256 with dropout 0.2, 100 epochs, batch 64: sized for CPU datasets of a few hundred INRs",
        ),
        "tiny": Preset(
            config=paper.model_copy(update=dict(hidden=(32,), dropout=0.1, epochs=30, lr=1e-2, batch_size=16, eval_batch_size=16)),
            departs="1 x 32, 30 epochs: seconds, for tests",
        ),
    }


def sorted_quantiles(sorted_rows: Tensor, qs: Tensor) -> Tensor:
    """Quantiles ``(B, len(qs))`` of each row of an ascending-sorted ``(B, P)`` tensor.

    Linear interpolation, as ``torch.quantile``, which refuses inputs above 2^24 elements
    (a chunk of paper-size INRs has far more).
    """
    pos = qs.to(sorted_rows) * (sorted_rows.shape[1] - 1)
    lo, hi = pos.floor().long(), pos.ceil().long()
    frac = pos - lo
    return sorted_rows[:, lo] * (1 - frac) + sorted_rows[:, hi] * frac


def weight_statistics(spec: FieldSpec, params: Params) -> Tensor:
    """``(B, 7 * n_tensors)``: mean, variance and quantiles 0/.25/.5/.75/1 of every weight and bias."""
    qs = torch.tensor(QUANTILES)
    feats = []
    for name in spec.param_names():
        t = params[name].flatten(1)
        var, mean = torch.var_mean(t, dim=1, unbiased=False)
        feats += [mean[:, None], var[:, None], sorted_quantiles(t.sort(dim=1).values, qs)]
    return torch.cat(feats, dim=1)


class FeatureClassifier(nn.Module):
    """``features(params) -> Standardize -> BN MLP``; the head's last layer gives class logits."""

    def __init__(self, features: nn.Module, dim: int, hidden: tuple[int, ...], n_classes: int, dropout: float) -> None:
        super().__init__()
        self.features = features
        self.standardize = Standardize(dim)
        self.head = bn_mlp(dim, hidden, n_classes, dropout)

    def forward(self, params: Params, embed: bool = False) -> Tensor:
        x = self.standardize(self.features(params))
        return self.head[:-1](x) if embed else self.head(x)


class FlatWeights(nn.Module):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec

    def forward(self, params: Params) -> Tensor:
        return flatten_params(self.spec, params)


class WeightStatistics(FlatWeights):
    def forward(self, params: Params) -> Tensor:
        return weight_statistics(self.spec, params)


class WeightMLPMethod(WeightClassifierMethod):
    """Both baselines: a feature map, standardized with train statistics, into a BN MLP."""

    Config = WeightMLPConfig
    config: WeightMLPConfig

    @abstractmethod
    def feature_map(self, spec: FieldSpec) -> tuple[nn.Module, int]:
        """The feature module and its output width."""

    def build(self, info: DataInfo) -> nn.Module:
        features, dim = self.feature_map(info.spec)
        return FeatureClassifier(features, dim, self.config.hidden, info.n_classes, self.config.dropout)

    def prepare(self, train: View) -> None:
        fit_standardize(self.model.standardize, self.model.features, train, self.config.eval_batch_size, self.device)


class FlatMLP(WeightMLPMethod):
    card = MethodCard(
        name="mlp",
        description="MLP on all INR parameters flattened in state_dict order, standardized with train statistics.",
        reference="MLP baseline on flattened weights, as in Navon et al., Equivariant Architectures for "
        "Learning in Deep Weight Spaces, ICML 2023",
        view="weights",
        field_kinds=ALL_KINDS,
        training="supervised",
        symmetry="none",
    )
    presets = _presets((256, 256, 256), "DWSNet's MLP baseline (3 x 256)")

    def feature_map(self, spec: FieldSpec) -> tuple[nn.Module, int]:
        return FlatWeights(spec), spec.n_params


class WeightStats(WeightMLPMethod):
    card = MethodCard(
        name="stats",
        description="MLP on per-tensor weight statistics (mean, variance, quantiles 0/.25/.5/.75/1).",
        reference="Unterthiner et al., Predicting Neural Network Accuracy from Weights, 2020 "
        "(StatNN, as a baseline in Zhou et al., Permutation Equivariant Neural Functionals, NeurIPS 2023)",
        view="weights",
        field_kinds=ALL_KINDS,
        training="supervised",
        symmetry="permutation",
    )
    presets = _presets((1000, 1000), "NFN's StatNet head (2 x 1000)")

    def feature_map(self, spec: FieldSpec) -> tuple[nn.Module, int]:
        return WeightStatistics(spec), STATS_PER_TENSOR * len(spec.param_names())


class PermutedFlatMLP(FlatMLP):
    card = FlatMLP.card.model_copy(
        update=dict(
            name="mlp-perm",
            description="MLP on flattened INR parameters, trained on a fresh random hidden-neuron permutation of every "
            "INR in every batch (same function, other weights).",
            reference="MLP with permutation augmentation, the strongest simple baseline of Navon et al., Equivariant "
            "Architectures for Learning in Deep Weight Spaces, ICML 2023",
        )
    )
    presets = _presets((256, 256, 256), "DWSNet's MLP baseline (3 x 256)", WeightAugment(permute=True))
