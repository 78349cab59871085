"""``points``: a surface cloud per INR, decoded from the field (udf projection, sdf marching
cubes, occ surface voxels), or the stored source cloud with ``--input source``."""

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


class PointsOptions(_Options):
    n_points: int = Field(2048, ge=1, description="points per cloud")
    resolution: int = Field(64, ge=8, description="grid of the sdf / occ decoders (unused for udf)")
    seed: int = 0


class PointsView(DecodedView):
    name = "points"
    description = "(n_points, 3) surface cloud per INR, decoded from the field and cached"
    Options = PointsOptions
    resolution_option = "n_points"
    source_name = "points"

    @classmethod
    def settings(cls, kind: FieldKind, options: PointsOptions) -> DecodeSettings:  # type: ignore[override]
        return DecodeSettings(view=cls.name, field_kind=kind.name, n_points=options.n_points, resolution=options.resolution, seed=options.seed)

    @classmethod
    def decode(cls, kind: FieldKind, ctx: ViewContext, options: PointsOptions, params: Params, gen: torch.Generator) -> Tensor:  # type: ignore[override]
        batch = next(iter(params.values())).shape[0]
        return kind.decode_points(
            field_fn(ctx.info.spec, params), batch, options.n_points, options.resolution, device=ctx.device, generator=gen
        )

    def read_source(self, positions: Tensor) -> Tensor:
        """The stored reference cloud, its first ``n_points`` (a uniform sample: they are drawn at random)."""
        cloud = super().read_source(positions)
        if cloud.shape[1] < self.options.n_points:
            raise ConfigError(f"source clouds have {cloud.shape[1]} points, fewer than n_points={self.options.n_points}")
        return cloud[:, : self.options.n_points]
