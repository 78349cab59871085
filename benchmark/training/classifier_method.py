"""The frame of every supervised classifier method, whatever view it reads.

Weight-space learners, point-cloud networks, voxel CNNs and image CNNs differ only in the
network that maps a view batch to logits and in how training batches are augmented. The
recipe (``fit_classifier``), embeddings (the penultimate activation), inference and state
are shared, so comparisons between them measure architectures, not training code.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.api import DataInfo, Method, MethodConfig, View
from nfbench.api.view import ViewBatch
from nfbench.training.evaluation import predict_view
from nfbench.training.layers import TrainStatistic
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import TrainerConfig


class ClassifierConfig(MethodConfig):
    """Training settings every supervised classifier shares."""

    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    batch_size: int = Field(ge=2)
    eval_batch_size: int = Field(256, ge=1, description="items per batch when standardizing and predicting")
    early_stopping_patience: int | None = Field(None, ge=1, description="epochs without a better val accuracy before stopping")
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm (the graph metanetworks' releases clip at 10)")


class ClassifierMethod(Method):
    """A network ``model(data, embed=False)`` on the method's view, trained by ``fit_classifier``.

    Subclasses implement ``build``; they may override ``train_transform`` (augmentation of
    training batches only) and ``check`` (refuse a dataset before any network is built).
    """

    config: ClassifierConfig

    @abstractmethod
    def build(self, info: DataInfo) -> nn.Module:
        """The network for ``info``; raise ``ConfigError`` when the data cannot be taken."""

    def check(self, info: DataInfo) -> None:
        """Refuse, with one line, a dataset or config this method cannot take, and resolve what the config
        leaves to the dataset (e.g. the up axis), before any network is built (default: accept)."""

    def train_transform(self) -> Callable[[ViewBatch], ViewBatch] | None:
        """Rewrites each training batch on the device; it must draw from torch's global RNG."""
        return None

    def prepare(self, train: View) -> None:
        """Fit what the model estimates from the train view before training: every ``TrainStatistic`` in it."""
        for module in self.model.modules():
            if isinstance(module, TrainStatistic):
                module.fit_(train, self.config.eval_batch_size, self.device)

    def setup(self, info: DataInfo) -> None:
        self.info = info
        self.check(info)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # same init on every device
            self.model = self.build(info)
        self.model.to(self.device)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        cfg = self.config
        self.prepare(train)
        self.history = fit_classifier(
            self.model,
            train,
            val,
            TrainerConfig(
                epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, seed=self.seed,
                early_stopping_patience=cfg.early_stopping_patience, grad_clip=cfg.grad_clip,
                checkpoint_dir=self.checkpoint_dir("classifier"),
            ),
            batch_size=cfg.batch_size,
            eval_batch_size=cfg.eval_batch_size,
            device=self.device,
            progress=progress,
            description=f"{self.card.name} classifier",
            augment=self.train_transform(),
        )

    def embed(self, view: View) -> Tensor:
        return predict_view(lambda data: self.model(data, embed=True), self.model, view, self.config.eval_batch_size, self.device)

    def predict(self, view: View) -> Tensor:
        return predict_view(self.model, self.model, view, self.config.eval_batch_size, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
