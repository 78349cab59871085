"""Views: what a method reads from an INR dataset. One module per view plus one line here.

Every view class has ``open(ctx: ViewContext, split) -> View``; the runner opens the
train and val views for ``fit`` and hands tasks a function that opens the test view.
"""

from __future__ import annotations

from nfbench.api.registry import Registry
from nfbench.api.view import View

VIEWS: Registry[type[View]] = Registry("view", base=View, entry_point_group="nfbench.views")
for _name, _ref in {
    "weights": "nfbench.views.weights:WeightsView",
    "weight-graph": "nfbench.views.weight_graph:WeightGraphView",
    "field": "nfbench.views.field:FieldView",
    "points": "nfbench.views.points:PointsView",
    "voxels": "nfbench.views.voxels:VoxelsView",
    "renders": "nfbench.views.renders:RendersView",
    "latents": "nfbench.views.latents:LatentsView",
    "supervision": "nfbench.views.supervision:SupervisionView",
}.items():
    VIEWS.register_lazy(_name, _ref)
