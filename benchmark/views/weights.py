"""``weights``: each INR's parameters, one tensor per layer, read from the shards per batch."""

from __future__ import annotations

from torch import Tensor

from nfbench.api.view import View
from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.views.context import SplitReader, ViewContext


class WeightsView(View):
    name = "weights"
    description = "per-layer weight and bias tensors of each INR (memory-mapped shards)"

    def __init__(self, ctx: ViewContext, reader: SplitReader) -> None:
        super().__init__(ctx.info, reader.split, reader.labels)
        self._reader = reader

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> WeightsView:
        if ctx.input_mode != "fields":
            raise ConfigError(f"the {cls.name!r} view exists only for INRs; --input {ctx.input_mode} has no weights")
        return cls(ctx, ctx.reader(split))

    def read(self, positions: Tensor) -> Params:
        return self._reader.params(positions)
