"""Helpers shared by test modules (plain functions; fixtures live in conftest.py)."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import Field
from torch import Tensor

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View
from nfbench.fields import Params
from nfbench.store import layout
from nfbench.views.weight_graph import graph_edges, to_graphs


def edit_meta(root: Path, change: Callable[[dict], None]) -> None:
    """Apply ``change`` to a dataset's meta.json dict and write it back (to fake damaged or edited copies)."""
    path = root / layout.META
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


class ParamsView(View):
    """A weights view over stacked parameters held in memory."""

    name = "weights"
    description = "synthetic weights"

    def __init__(self, info: DataInfo, split: str, params: Params, labels: Tensor) -> None:
        super().__init__(info, split, labels)
        self.params = params

    def read(self, positions: Tensor) -> Params:
        return {n: p[positions] for n, p in self.params.items()}


class ParamsGraphView(ParamsView):
    """The same INRs as neural graphs (what ``weight-graph`` methods read)."""

    name = "weight-graph"
    description = "synthetic neural graphs"

    def read(self, positions: Tensor):
        return to_graphs(self.info.spec, super().read(positions), *graph_edges(self.info.spec))


def params_view(view_name: str, info: DataInfo, split: str, params: Params, labels: Tensor) -> View:
    """An in-memory view of ``params`` in the form a method of ``view_name`` reads."""
    return (ParamsGraphView if view_name == "weight-graph" else ParamsView)(info, split, params, labels)


class SpyConfig(MethodConfig):
    n_points: int = Field(64, ge=1)


class PointsSpy(Method):
    """Records what ``fit`` is given; classifies by the mean cloud radius (a real, tiny rule)."""

    card = MethodCard(name="points-spy", description="test", reference="test", view="points",
                      field_kinds=("udf", "sdf", "occ"), training="none", symmetry="permutation")
    Config = SpyConfig
    presets = {p: Preset(config=SpyConfig(), departs="") for p in ("paper", "cpu", "tiny")}
    seen: dict[str, Any] = {}

    @classmethod
    def view_options(cls, config: SpyConfig) -> dict[str, Any]:
        return {"n_points": config.n_points, "resolution": 16}

    def setup(self, info: DataInfo) -> None:
        self.info = info
        self.centre = torch.zeros(info.n_classes)

    def fit(self, train: View, val: View, progress=None) -> None:
        clouds = torch.cat([b.data for b in train.batches(8)])
        PointsSpy.seen.update(splits=(train.split, val.split), train_clouds=clouds, n_train=len(train), n_val=len(val))
        radius = clouds.norm(dim=-1).mean(1)
        self.centre = torch.zeros(self.info.n_classes).index_add_(0, train.labels, radius) / torch.bincount(
            train.labels, minlength=self.info.n_classes
        ).clamp(min=1)

    def predict(self, view: View) -> torch.Tensor:
        radius = torch.cat([b.data.norm(dim=-1).mean(1) for b in view.batches(8)])
        return -(radius[:, None] - self.centre[None]).abs()

    def state_dict(self) -> dict[str, Any]:
        return {"centre": self.centre}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.centre = state["centre"]

    def n_parameters(self) -> int:
        return 0
