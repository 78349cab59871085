"""``renders``: K images per INR rendered from the field (the input of single- and multi-view CNNs).

Items are ``(K, C, H, W)`` float tensors in [0, 1], views on a fixed camera ring around
the unit sphere. The renderer (sphere tracing of sdf/udf fields, ray marching of occ and
NeRF fields) arrives with the ResNet baselines; until then opening this view is a clear
error rather than a silent fallback to some other input.
"""

from __future__ import annotations

from torch import Tensor

from nfbench.api.view import View
from nfbench.errors import ConfigError
from nfbench.views.context import ViewContext


class RendersView(View):
    name = "renders"
    description = "(K, C, H, W) renders of each INR from a fixed camera ring (renderer: with the ResNet baselines)"

    @classmethod
    def open(cls, ctx: ViewContext, split: str) -> RendersView:
        raise ConfigError(
            f"the {cls.name!r} view needs the field renderer, which ships with the ResNet single/multi-view baselines; "
            "no registered method can read it yet"
        )

    def read(self, positions: Tensor) -> Tensor:
        raise ConfigError(f"the {self.name!r} view cannot be read before its renderer exists")
