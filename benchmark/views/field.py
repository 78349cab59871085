"""``field``: query access to each INR's function, without handing out its weights as data."""

from __future__ import annotations

from torch import Tensor

from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.views.context import INRView


class FieldBatch:
    """A batch of INRs as functions: ``batch(coords (B, N, in_dim)) -> (B, N, out_dim)`` raw outputs."""

    def __init__(self, spec: FieldSpec, params: Params) -> None:
        self.spec = spec
        self._params = params

    def __len__(self) -> int:
        return next(iter(self._params.values())).shape[0]

    def to(self, device) -> FieldBatch:  # type: ignore[no-untyped-def]
        return FieldBatch(self.spec, {k: v.to(device) for k, v in self._params.items()})

    def __call__(self, coords: Tensor) -> Tensor:
        return batched_forward(self.spec, self._params, coords)


class FieldView(INRView):
    name = "field"
    description = "each INR as a callable field: coordinates in, raw field values out"

    def from_params(self, params: Params) -> FieldBatch:
        return FieldBatch(self.info.spec, params)
