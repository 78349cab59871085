"""``renders``: K shaded images per INR from a fixed camera ring (the input of single- and multi-view CNNs).

Items are ``(K, 1, H, W)`` float32 tensors in [0, 1]: grey Lambert shading of the field's
surface, background 0, from the cameras that ``nfbench.decode.render`` describes (a ring
around the up axis at 30 degrees elevation, 2.5 units out, 50-degree field of view, by
default). Each field kind says how it is rendered (sphere tracing of the decoded distance
for sdf and udf, marching to the decision threshold for occ); kinds without a surface
(images) are refused before anything is decoded. Renders are decoded once per dataset
and render settings, and cached like points and voxels. Datasets store no renders, so
there is no ``--input source`` form.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from nfbench.decode import field_fn
from nfbench.decode.render import RenderSettings
from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.fields.kinds import FIELD_KINDS, FieldKind
from nfbench.views.cache import DecodeSettings
from nfbench.views.context import ViewContext
from nfbench.views.decoded import DecodedView


class RenderDecodeSettings(DecodeSettings):
    """The cache key of renders: the generic settings plus the cameras and the marching."""

    render: RenderSettings


class RendersView(DecodedView):
    name = "renders"
    description = "(K, 1, H, W) shaded renders in [0, 1] of each INR from a fixed camera ring, decoded from the field and cached"
    Options = RenderSettings
    resolution_option = "size"
    source_name = "renders"

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> DecodedView:
        """Refuses fields without a surface before any decoding (or cache folder) happens."""
        kind = FIELD_KINDS.get(ctx.info.field_kind)
        if ctx.input_mode == "fields" and kind.no_surface:
            raise ConfigError(f"the {cls.name!r} view cannot render {kind.name} fields: {kind.no_surface}")
        up = ctx.info.up(ctx.options.get("up"), f"the {cls.name!r} view's camera ring")  # the cache key names the axis used
        return super().open(replace(ctx, options={**ctx.options, "up": up}), split)

    @classmethod
    def settings(cls, kind: FieldKind, options: RenderSettings) -> DecodeSettings:  # type: ignore[override]
        return RenderDecodeSettings(view=cls.name, field_kind=kind.name, render=options)

    @classmethod
    def empty_items(cls, data: Tensor) -> Tensor:
        return data.flatten(1).amax(dim=1) <= 0  # no ray of any view hit the surface

    @classmethod
    def decode(cls, kind: FieldKind, ctx: ViewContext, options: RenderSettings, params: Params, gen: torch.Generator) -> Tensor:  # type: ignore[override]
        batch = next(iter(params.values())).shape[0]
        return kind.decode_renders(field_fn(ctx.info.spec, params), batch, options, device=ctx.device)
