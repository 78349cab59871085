"""``weights``: each INR's parameters, one tensor per layer, read from the shards per batch."""

from __future__ import annotations

from nfbench.fields import Params
from nfbench.views.context import INRView


class WeightsView(INRView):
    name = "weights"
    description = "per-layer weight and bias tensors of each INR (memory-mapped shards)"

    def from_params(self, params: Params) -> Params:
        return params  # the weights are the data: nothing to decode
