"""The frame of every supervised classifier on INR weights: build a network, train it with the shared recipe.

The weight-space learners (flat MLP, weight statistics, NFN, DWSNet, ...) differ only in
the network that maps a batch of parameters to logits. Everything else, the training
recipe, augmentations, embeddings (the penultimate activation), inference and state, is
the same, so comparisons between them measure architectures, not training code.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.api import DataInfo, Method, MethodConfig, View
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec
from nfbench.training.evaluation import predict_view
from nfbench.training.layers import TrainStatistic
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import TrainerConfig
from nfbench.weightspace.augment import WeightAugment, batch_augment


class WeightClassifierConfig(MethodConfig):
    """Training settings every weight-space classifier shares."""

    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    batch_size: int = Field(ge=2)
    eval_batch_size: int = Field(256, ge=1, description="INRs per batch when standardizing and predicting")
    early_stopping_patience: int | None = Field(None, ge=1, description="epochs without a better val accuracy before stopping")
    grad_clip: float | None = Field(None, gt=0, description="max global gradient norm (the graph metanetworks' releases clip at 10)")
    augment: WeightAugment = Field(default_factory=WeightAugment, description="weight-space augmentations of training batches")


class WeightClassifierMethod(Method):
    """A classifier ``model(params, embed=False)`` on the weights view, trained by ``fit_classifier``."""

    config: WeightClassifierConfig

    @abstractmethod
    def build(self, info: DataInfo) -> nn.Module:
        """The network for ``info``; raise ``ConfigError`` when the architecture cannot be taken."""

    def prepare(self, train: View) -> None:
        """Fit what the model estimates from the train view before training: every ``TrainStatistic`` in it."""
        for module in self.model.modules():
            if isinstance(module, TrainStatistic):
                module.fit_(train, self.config.eval_batch_size, self.device)

    def setup(self, info: DataInfo) -> None:
        self.spec: FieldSpec = info.spec
        self.config.augment.check(info.spec)
        if self.config.augment.active and self.card.view != "weights":
            raise ConfigError(f"{self.card.name}: weight augmentations act on the 'weights' view, not {self.card.view!r}")
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
            augment=batch_augment(self.spec, cfg.augment),
        )

    def embed(self, view: View) -> Tensor:
        return predict_view(lambda params: self.model(params, embed=True), self.model, view, self.config.eval_batch_size, self.device)

    def predict(self, view: View) -> Tensor:
        return predict_view(self.model, self.model, view, self.config.eval_batch_size, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
