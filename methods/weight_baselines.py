"""Symmetry-blind baselines on INR weights: an MLP on the flat weights, and one on weight statistics.

They bound what a weight-space method must beat: ``mlp`` sees every parameter but ignores
that permuting hidden units leaves the INR unchanged; ``stats`` keeps only permutation-
invariant summaries per tensor (the StatNN baseline of Unterthiner et al. 2020, used by
NFN, Zhou et al. 2023). Both standardize their features with train statistics, stream
their inputs from the weights view (a paper-size split does not fit in memory) and train
with the shared ``Trainer``: OneCycle AdamW, selection on val accuracy, DDP under torchrun.
Their embedding is the classifier's penultimate activation.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View
from nfbench.fields import FieldSpec, Params
from nfbench.fields.functional import flatten_params
from nfbench.training import Standardize, bn_mlp
from nfbench.training.evaluation import fit_standardize, predict_view
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import TrainerConfig

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STATS_PER_TENSOR = 2 + len(QUANTILES)  # mean, variance, quantiles
ALL_KINDS = ("udf", "sdf", "occ", "image")


class WeightMLPConfig(MethodConfig):
    hidden: tuple[int, ...] = Field(min_length=1)
    dropout: float = Field(ge=0, lt=1)
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    batch_size: int = Field(ge=2)
    eval_batch_size: int = Field(256, ge=1, description="INRs per batch when standardizing and predicting")
    early_stopping_patience: int | None = Field(None, ge=1, description="epochs without a better val accuracy before stopping")


def _presets(paper_hidden: tuple[int, ...], paper_source: str) -> dict[str, Preset]:
    """Only the widths differ between the two baselines; the training settings are shared."""
    paper = WeightMLPConfig(hidden=paper_hidden, dropout=0.0, epochs=150, lr=1e-3, weight_decay=1e-2, batch_size=256)
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


class WeightMLPMethod(Method):
    """The shared fit path of both baselines; subclasses choose the feature map."""

    Config = WeightMLPConfig
    config: WeightMLPConfig

    @abstractmethod
    def feature_map(self, spec: FieldSpec) -> tuple[nn.Module, int]:
        """The feature module and its output width."""

    def setup(self, info: DataInfo) -> None:
        features, dim = self.feature_map(info.spec)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # same init on every device
            self.model = FeatureClassifier(features, dim, self.config.hidden, info.n_classes, self.config.dropout)
        self.model.to(self.device)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        cfg = self.config
        fit_standardize(self.model.standardize, self.model.features, train, cfg.eval_batch_size, self.device)
        self.history = fit_classifier(
            self.model,
            train,
            val,
            TrainerConfig(
                epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=self.seed,
                early_stopping_patience=cfg.early_stopping_patience, checkpoint_dir=self.checkpoint_dir("classifier"),
            ),
            batch_size=cfg.batch_size,
            eval_batch_size=cfg.eval_batch_size,
            device=self.device,
            progress=progress,
            description=f"{self.card.name} classifier",
        )

    def embed(self, view: View) -> Tensor:
        return predict_view(lambda params: self.model(params, embed=True), self.model, view, self.config.eval_batch_size, self.device)

    def predict(self, view: View) -> Tensor:
        return predict_view(self.model, self.model, view, self.config.eval_batch_size, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])


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
