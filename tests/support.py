"""Helpers shared by test modules (plain functions; fixtures live in conftest.py)."""

import json
from collections.abc import Callable
from pathlib import Path

from torch import Tensor

from nfbench.api import DataInfo, View
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
