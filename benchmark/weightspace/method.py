"""The frame of every supervised classifier on INR weights: the shared classifier frame plus weight augmentations.

The weight-space learners (flat MLP, weight statistics, NFN, DWSNet, ...) differ only in
the network that maps a batch of parameters to logits; ``ClassifierMethod`` holds the
rest. What is particular to weights is their augmentation (hidden-neuron permutation,
sign flips, noise, dropout), which needs the INR architecture to act on.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import Field

from nfbench.api import DataInfo
from nfbench.api.view import ViewBatch
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec
from nfbench.training.classifier_method import ClassifierConfig, ClassifierMethod
from nfbench.weightspace.augment import WeightAugment, batch_augment


class WeightClassifierConfig(ClassifierConfig):
    """Training settings every weight-space classifier shares."""

    augment: WeightAugment = Field(default_factory=WeightAugment, description="weight-space augmentations of training batches")


class WeightClassifierMethod(ClassifierMethod):
    """A classifier ``model(params, embed=False)`` on the weights (or weight-graph) view."""

    config: WeightClassifierConfig

    def check(self, info: DataInfo) -> None:
        self.spec: FieldSpec = info.spec
        self.config.augment.check(info.spec)
        if self.config.augment.active and self.card.view != "weights":
            raise ConfigError(f"{self.card.name}: weight augmentations act on the 'weights' view, not {self.card.view!r}")

    def train_transform(self) -> Callable[[ViewBatch], ViewBatch] | None:
        return batch_augment(self.spec, self.config.augment)
