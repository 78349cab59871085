"""sdf: signed distance to a mesh, negative inside.

Target ``(clip(s, -0.1, 0.1) + 0.1) / 0.2``: the surface is target 0.5, i.e. logit 0, with
the inside below it; BCE-with-logits (inr2vec). The sign comes from the inside test named by
the sampling config (``nfbench.targets.inside``). Decoded by marching cubes at logit 0, and
rendered by sphere tracing the decoded (clipped) distance.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nfbench.datasets.base import Shape
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, RandomSource, evaluate_grid, query_device
from nfbench.decode.level_set import level_set_cloud
from nfbench.decode.render import RenderSettings, render_distance
from nfbench.fields.kinds.surface import SurfaceKind, logit
from nfbench.targets import SamplingConfig, Supervision, finish_supervision, mesh_draw, mesh_oracle, sample_queries
from nfbench.targets.geometry import Source

SDF_CLIP = 0.1
"""Signed distances are clipped to [-SDF_CLIP, SDF_CLIP] in the fitting target."""


def sdf_target(signed: np.ndarray) -> np.ndarray:
    return (np.clip(signed, -SDF_CLIP, SDF_CLIP) + SDF_CLIP) / (2 * SDF_CLIP)


def logits_to_sdf(logits: Tensor) -> Tensor:
    """Invert the fitting target: ``sdf = 2 * SDF_CLIP * sigmoid(logit) - SDF_CLIP``, within the clip."""
    return 2 * SDF_CLIP * torch.sigmoid(logits) - SDF_CLIP


class SdfKind(SurfaceKind):
    name = "sdf"
    surface_level = 0.5

    def supervision(self, shape: Shape, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>") -> Supervision:
        oracle = mesh_oracle(shape.vertices, shape.faces, source)
        coords = sample_queries(mesh_draw(oracle.vertices, oracle.faces, rng), cfg, rng)
        signed = oracle.signed_distance(coords, cfg.sign, rng, cfg.sign_rays, cfg.flood_res)
        return finish_supervision(coords, sdf_target(signed)[:, None], source)

    def decode_points(
        self,
        fn: FieldFn,
        batch: int,
        n_points: int,
        resolution: int,
        *,
        device: torch.device | str | None = None,
        generator: RandomSource = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Uniform samples of the marching-cubes surface at logit 0 on a ``resolution^3`` grid."""
        return level_set_cloud(
            fn, batch, n_points, resolution, logit(self.surface_level), device=device, generator=generator, max_queries=max_queries
        )

    def decode_voxels(
        self,
        fn: FieldFn,
        batch: int,
        resolution: int,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Inside where the logit is below 0 (a negative signed distance) at voxel centres."""
        return evaluate_grid(fn, batch, resolution, query_device(device), max_queries) < logit(self.surface_level)

    def decode_renders(
        self,
        fn: FieldFn,
        batch: int,
        settings: RenderSettings,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Sphere tracing of the decoded signed distance (steps of at most the clip, 0.1)."""
        return render_distance(lambda x: logits_to_sdf(fn(x)), batch, settings, device=device, max_queries=max_queries)


SDF = SdfKind()
