"""``latents``: samples of each INR's function, for methods that fit their own shared network.

Functa and DeepSDF do not read another network's weights: they fit one shared network
and a latent code per shape to the shape's field. In nfbench the INRs are the data, so
these methods fit their latents to samples of each INR: ``coords`` drawn per item from a
seeded stream (the same item always gets the same samples) and the INR's ``values``.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from nfbench.fields import Params, batched_forward
from nfbench.fitting.streams import ItemStreams
from nfbench.hashing import sha256_json
from nfbench.views.context import INRView, SplitReader, ViewContext


class LatentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_samples: int = Field(4096, ge=1, description="coordinates sampled per INR")
    seed: int = 0


class LatentsView(INRView):
    name = "latents"
    description = "per INR: coords (n_samples, in_dim) uniform in [-1, 1] and the INR's raw values there"

    def __init__(self, ctx: ViewContext, reader: SplitReader) -> None:
        super().__init__(ctx, reader)
        self.options = ctx.parse_options(LatentOptions, self.name)
        self._keys = reader.keys

    @classmethod
    def check(cls, ctx: ViewContext) -> None:
        ctx.parse_options(LatentOptions, cls.name)  # bad options fail before any item is read

    def _coords(self, positions: Tensor) -> Tensor:
        """Per-item seeded uniform coordinates: independent of batching and shuffling."""
        seeds = [int(sha256_json([self.options.seed, self._keys[p]])[:15], 16) for p in positions.tolist()]
        return ItemStreams(seeds).uniform(self.options.n_samples, self.info.spec.in_dim) * 2 - 1

    def read(self, positions: Tensor) -> dict[str, Tensor]:
        return self._sample(self._reader.params(positions), self._coords(positions))

    def from_params(self, params: Params) -> dict[str, Tensor]:
        """Samples at the coordinates of the first items (timing: the cost, not which coordinates)."""
        n = next(iter(params.values())).shape[0]
        return self._sample(params, self._coords(torch.arange(n)).to(next(iter(params.values())).device))

    def _sample(self, params: Params, coords: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            values = batched_forward(self.info.spec, params, coords)
        return {"coords": coords, "values": values}
