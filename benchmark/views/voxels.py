"""``voxels``: an occupancy grid per INR decoded from the field, or the stored source grid with ``--input source``."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor

from nfbench.decode import field_fn
from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.fields.kinds import FieldKind
from nfbench.views.cache import DecodeSettings
from nfbench.views.context import ViewContext
from nfbench.views.decoded import DecodedView, _Options


class VoxelOptions(_Options):
    resolution: int = Field(32, ge=4, le=256, description="grid cells per side")


class VoxelsView(DecodedView):
    name = "voxels"
    description = "(R, R, R) occupancy grid per INR (uint8), decoded from the field and cached"
    Options = VoxelOptions
    resolution_option = "resolution"
    source_name = "voxels"

    @classmethod
    def settings(cls, kind: FieldKind, options: VoxelOptions) -> DecodeSettings:  # type: ignore[override]
        return DecodeSettings(view=cls.name, field_kind=kind.name, resolution=options.resolution)

    @classmethod
    def decode(cls, kind: FieldKind, ctx: ViewContext, options: VoxelOptions, params: Params, gen: torch.Generator) -> Tensor:  # type: ignore[override]
        batch = next(iter(params.values())).shape[0]
        return kind.decode_voxels(field_fn(ctx.info.spec, params), batch, options.resolution, device=ctx.device).to(torch.uint8)

    @classmethod
    def empty_items(cls, data: Tensor) -> Tensor:
        return data.flatten(1).amax(dim=1) == 0  # no occupied cell

    def read_source(self, positions: Tensor) -> Tensor:
        """Stored voxels are flat ``(N, R^3)`` at the build's resolution, which must match."""
        flat = super().read_source(positions)
        res = round(flat.shape[1] ** (1 / 3))
        if res != self.options.resolution:
            raise ConfigError(f"source voxels are {res}^3, not the requested resolution {self.options.resolution}")
        return flat.reshape(-1, res, res, res)
