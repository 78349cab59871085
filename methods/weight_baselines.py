"""Symmetry-blind baselines on INR weights: an MLP on the flat weights, and one on weight statistics.

They bound what a weight-space method must beat: ``mlp`` sees every parameter but ignores
that permuting hidden units leaves the INR unchanged; ``stats`` keeps only permutation-
invariant summaries per tensor (the StatNN baseline of Unterthiner et al. 2020, used by
NFN, Zhou et al. 2023). Both standardize their features with train statistics and share
nfbench's classifier loop; their embedding is the classifier's penultimate activation.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.fields import FieldSpec, Params
from nfbench.fields.functional import flatten_params
from nfbench.method import Method, MethodCard
from nfbench.store.reader import INRDataset
from nfbench.training import Standardize, batch_params, bn_mlp, predict_logits, train_classifier

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STATS_PER_TENSOR = 2 + len(QUANTILES)  # mean, variance, quantiles


class WeightMLPConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hidden: tuple[int, ...] = Field(min_length=1)
    dropout: float = Field(ge=0, lt=1)
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    batch_size: int = Field(ge=2)
    feature_batch_size: int = Field(ge=1, description="INRs per chunk when computing features")


def _presets(paper_hidden: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Only the widths differ between the two baselines; the training settings are shared."""
    paper = WeightMLPConfig(
        hidden=paper_hidden, dropout=0.0, epochs=150, lr=1e-3, weight_decay=1e-2, batch_size=256, feature_batch_size=256
    )
    return {
        "paper": paper.model_dump(),
        "cpu": paper.model_copy(update=dict(hidden=(256, 256), dropout=0.2, epochs=100, batch_size=64)).model_dump(),
        "tiny": paper.model_copy(update=dict(hidden=(32,), dropout=0.1, epochs=30, lr=1e-2, batch_size=16)).model_dump(),
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


class WeightMLPMethod(Method):
    """The shared fit path: features of the weights -> Standardize -> BN MLP -> class logits."""

    def __init__(self, config: dict[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        self.cfg = WeightMLPConfig.model_validate(config)
        self.history: dict[str, Any] = {}

    @abstractmethod
    def feature_dim(self, spec: FieldSpec) -> int: ...

    @abstractmethod
    def features(self, params: Params) -> Tensor:
        """``(N, feature_dim)`` for stacked params of ``self.spec``."""

    def setup(self, spec: FieldSpec, field_kind: str, n_classes: int) -> None:
        self.spec = spec
        dim = self.feature_dim(spec)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # same init on every device
            self.model = nn.Sequential(Standardize(dim), *bn_mlp(dim, self.cfg.hidden, n_classes, self.cfg.dropout))
        self.model.to(self.device)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def _features(self, data: INRDataset, split: str) -> Tensor:
        return self.features(data.weights(split))

    def fit(self, data: INRDataset, progress: Progress | None = None) -> None:
        x_train = self._features(data, "train")
        self.model[0].fit_(x_train)
        result = train_classifier(
            self.model,
            x_train,
            data.labels("train"),
            self._features(data, "val"),
            data.labels("val"),
            epochs=self.cfg.epochs,
            lr=self.cfg.lr,
            weight_decay=self.cfg.weight_decay,
            batch_size=self.cfg.batch_size,
            seed=self.seed,
            device=self.device,
            progress=progress,
            description=f"{self.card.name} classifier",
        )
        self.history = {
            "classifier_val_accuracy": result.best_val_accuracy,
            "classifier_best_epoch": result.best_epoch,
            "classifier_seconds": result.train_seconds,
        }

    def embed(self, data: INRDataset, split: str) -> Tensor:
        return predict_logits(self.model[:-1], self._features(data, split), self.cfg.batch_size).cpu()

    def predict(self, data: INRDataset, split: str) -> Tensor:
        return predict_logits(self.model, self._features(data, split), self.cfg.batch_size).cpu()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "history": self.history}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.history = dict(state["history"])


class FlatMLP(WeightMLPMethod):
    card = MethodCard(
        name="mlp",
        description="MLP on all INR parameters flattened in state_dict order, standardized with train statistics.",
        reference="MLP baseline on flattened weights, as in Navon et al., Equivariant Architectures for "
        "Learning in Deep Weight Spaces, ICML 2023",
        input_kind="weights",
        tasks=("classify", "retrieve"),
    )
    # paper: the widths of DWSNet's MLP classification baseline (3 x 256).
    presets = _presets((256, 256, 256))

    def feature_dim(self, spec: FieldSpec) -> int:
        return spec.n_params

    def features(self, params: Params) -> Tensor:
        return flatten_params(self.spec, params)


class WeightStats(WeightMLPMethod):
    card = MethodCard(
        name="stats",
        description="MLP on per-tensor weight statistics (mean, variance, quantiles 0/.25/.5/.75/1).",
        reference="Unterthiner et al., Predicting Neural Network Accuracy from Weights, 2020 "
        "(StatNN, as a baseline in Zhou et al., Permutation Equivariant Neural Functionals, NeurIPS 2023)",
        input_kind="weights",
        tasks=("classify", "retrieve"),
    )
    # paper: NFN's StatNet head, 2 x 1000.
    presets = _presets((1000, 1000))

    def feature_dim(self, spec: FieldSpec) -> int:
        return STATS_PER_TENSOR * len(spec.param_names())

    def features(self, params: Params) -> Tensor:
        """Chunked over INRs on ``self.device``: sorting a whole split of large INRs at once would not fit."""
        n = params["layers.0.weight"].shape[0]
        chunks = torch.arange(n).split(self.cfg.feature_batch_size)
        return torch.cat([weight_statistics(self.spec, batch_params(params, i, self.device)) for i in chunks])
