"""``supervision``: the queries and targets each shape's INR was fitted to, for methods that fit their own
shared network (DeepSDF's auto-decoder, Functa).

Such methods never read the INRs: they fit one network and a latent code per shape to the
same data the suite's INRs were fitted to, so the two representations compete on equal
supervision. The build does not store it, so this view draws it again exactly as the build
did (``nfbench.fitting.build.item_supervision``: the item's normalized source shape and its
own seed) and caches it like a decoded view, in checksummed parts. It reads the source
shapes, so a dataset that needs ``--root`` to build needs it here too; records name the view.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor

from nfbench.api.view import View
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.fitting.build import item_supervision
from nfbench.views.cache import DecodedSplit, DecodeSettings, decoded_split
from nfbench.views.context import ViewContext


class SupervisionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupervisionView(View):
    name = "supervision"
    description = "per shape: the build's query coordinates (Q, in_dim) and targets (Q, out_dim) in [0, 1], drawn again and cached"

    def __init__(self, ctx: ViewContext, split: str, labels: Tensor, data: DecodedSplit, keys: list[str]) -> None:
        super().__init__(ctx.info, split, labels)
        self._data = data
        self._in_dim = ctx.info.spec.in_dim
        self.keys = keys  # item keys, for reports that name shapes

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> SupervisionView:
        ctx.parse_options(SupervisionOptions, cls.name)
        reader = ctx.reader(split)
        items, load = ctx.source_items(split)
        build = ctx.dataset.meta.build
        kind = FIELD_KINDS.get(build.field_kind)

        def draw(positions: Tensor, _: torch.Generator) -> Tensor:
            rows = []
            for p in positions.tolist():  # per shape: loading and sampling a source is I/O- and mesh-bound
                sup, _rng = item_supervision(load(items[p]), items[p], build, kind)
                rows.append(torch.cat([torch.from_numpy(sup.coords), torch.from_numpy(sup.targets)], dim=1).float())
            return torch.stack(rows)

        settings = DecodeSettings(view=cls.name, field_kind=build.field_kind, seed=build.seed)
        data = decoded_split(ctx.cache_root, ctx.dataset.fingerprint, reader, settings, draw, ctx.device, ctx.progress, read=lambda c: c)
        return cls(ctx, split, reader.labels, data, reader.keys)

    def read(self, positions: Tensor) -> dict[str, Tensor]:
        rows = self._data.read(positions)
        return {"coords": rows[..., : self._in_dim], "targets": rows[..., self._in_dim :]}
