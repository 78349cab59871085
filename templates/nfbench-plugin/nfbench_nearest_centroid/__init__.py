"""A complete, minimal nfbench method plugin; copy this package to start your own.

Nearest class centroid on standardized flattened weights: no training loop, so the file
shows only what the nfbench interface asks for.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nfbench.fields import FieldSpec
from nfbench.fields.functional import flatten_params
from nfbench.method import Method, MethodCard
from nfbench.store.reader import INRDataset


class NearestCentroid(Method):
    card = MethodCard(
        name="nearest-centroid",
        description="Nearest class centroid of standardized flattened INR weights",
        reference="nfbench plugin template",
        input_kind="weights",
        tasks=("classify", "retrieve"),
    )
    # Every method has at least the presets paper, cpu and tiny (plugin check uses tiny).
    presets = {"paper": {}, "cpu": {}, "tiny": {}}

    def setup(self, spec: FieldSpec, field_kind: str, n_classes: int) -> None:
        self.spec, self.n_classes = spec, n_classes
        self.state: dict[str, Tensor] = {}

    def _features(self, data: INRDataset, split: str) -> Tensor:
        flat = flatten_params(self.spec, data.weights(split, device=self.device))
        return (flat - self.state["mean"]) / self.state["std"]

    def fit(self, data: INRDataset, progress: Any = None) -> None:
        flat = flatten_params(self.spec, data.weights("train", device=self.device))
        self.state = {"mean": flat.mean(0), "std": flat.std(0).clamp(min=1e-8)}
        x, y = self._features(data, "train"), data.labels("train").to(self.device)
        sums = torch.zeros(self.n_classes, x.shape[1], device=self.device).index_add_(0, y, x)
        counts = torch.bincount(y, minlength=self.n_classes).clamp(min=1).unsqueeze(1)
        self.state["centroids"] = sums / counts

    def embed(self, data: INRDataset, split: str) -> Tensor:
        return self._features(data, split)

    def predict(self, data: INRDataset, split: str) -> Tensor:
        return -torch.cdist(self._features(data, split), self.state["centroids"])

    def state_dict(self) -> dict[str, Any]:
        return {k: v.cpu() for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = {k: v.to(self.device) for k, v in state.items()}

    def n_parameters(self) -> int:
        return 0  # centroids are statistics, not trained parameters
