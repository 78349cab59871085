"""A complete, minimal nfbench method plugin; copy this package to start your own.

Nearest class centroid on standardized flattened weights: no training loop, so the file
shows only what the nfbench interface asks for: a card, a typed config with the three
presets, ``setup``, ``fit`` on the train view, the capabilities it offers (``embed`` makes
it an Embedder for retrieval, ``predict`` a Classifier), and its state.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import Tensor

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View
from nfbench.fields.functional import flatten_params


class NearestCentroidConfig(MethodConfig):
    batch_size: int = Field(64, ge=1, description="INRs read from disk at a time")


class NearestCentroid(Method):
    card = MethodCard(
        name="nearest-centroid",
        description="Nearest class centroid of standardized flattened INR weights",
        reference="nfbench plugin template",
        view="weights",
        field_kinds=("udf", "sdf", "occ", "image"),
        training="supervised",
        symmetry="none",
    )
    Config = NearestCentroidConfig
    config: NearestCentroidConfig
    # Every method has at least the presets paper, cpu and tiny (plugin check uses tiny).
    presets = {
        "paper": Preset(config=NearestCentroidConfig(), departs="no paper: a template"),
        "cpu": Preset(config=NearestCentroidConfig(), departs="same as paper"),
        "tiny": Preset(config=NearestCentroidConfig(batch_size=8), departs="smaller reads"),
    }

    def setup(self, info: DataInfo) -> None:
        self.info = info
        self.state: dict[str, Tensor] = {}

    def _flat(self, view: View) -> Tensor:
        """All items of the view, flattened (fine for a template; large methods stream batches)."""
        return torch.cat([flatten_params(self.info.spec, b.to(self.device).data) for b in view.batches(self.config.batch_size)])

    def _features(self, view: View) -> Tensor:
        return (self._flat(view) - self.state["mean"]) / self.state["std"]

    def fit(self, train: View, val: View, progress: Any = None) -> None:
        flat = self._flat(train)
        self.state = {"mean": flat.mean(0), "std": flat.std(0).clamp(min=1e-8)}
        x, y = (flat - self.state["mean"]) / self.state["std"], train.labels.to(self.device)
        sums = torch.zeros(self.info.n_classes, x.shape[1], device=self.device).index_add_(0, y, x)
        counts = torch.bincount(y, minlength=self.info.n_classes).clamp(min=1).unsqueeze(1)
        self.state["centroids"] = sums / counts

    def embed(self, view: View) -> Tensor:
        return self._features(view).cpu()

    def predict(self, view: View) -> Tensor:
        return -torch.cdist(self._features(view), self.state["centroids"]).cpu()

    def state_dict(self) -> dict[str, Any]:
        return {k: v.cpu() for k, v in self.state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = {k: v.to(self.device) for k, v in state.items()}

    def n_parameters(self) -> int:
        return 0  # centroids are statistics, not trained parameters
