"""udf: unsigned distance to a surface, from point clouds (or meshes).

Target ``1 - clip(d, 0, 0.1) / 0.1`` with ``d`` the distance to the surface (1-NN to the
cloud, or the exact point-to-triangle distance for a mesh): 1 on the surface, BCE-with-logits
(inr2vec). Decoded by projecting points along the gradient of the decoded distance, and
rendered by sphere tracing it down to the hit distance (it never changes sign).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from nfbench.datasets.base import Shape
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, RandomSource
from nfbench.decode.projection import distance_to_cloud
from nfbench.decode.render import RenderSettings, render_distance
from nfbench.errors import DataError
from nfbench.fields.kinds.surface import SurfaceKind
from nfbench.targets import SamplingConfig, Supervision, cloud_draw, finish_supervision, mesh_draw, mesh_oracle, sample_queries
from nfbench.targets.geometry import Source, check_mesh, check_points

UDF_CLIP = 0.1
"""Distances are clipped to [0, UDF_CLIP] in the fitting target."""


def udf_target(distance: np.ndarray) -> np.ndarray:
    return 1.0 - np.clip(distance, 0.0, UDF_CLIP) / UDF_CLIP


def logits_to_udf(logits: Tensor) -> Tensor:
    """Invert the fitting target: ``udf = UDF_CLIP * (1 - sigmoid(logit))``."""
    return UDF_CLIP * (1 - torch.sigmoid(logits))


class UdfKind(SurfaceKind):
    name = "udf"
    surface_level = 1.0
    source_target_inputs = ("points",)
    no_inside = "an unsigned distance does not tell the sides apart; decode voxels from sdf or occ fields"

    def supervision(self, shape: Shape, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>") -> Supervision:
        """From the cloud if the shape has one, else from the mesh."""
        if shape.points is not None:
            pts = check_points(shape.points, "points", source)
            coords = sample_queries(cloud_draw(pts, rng), cfg, rng)
            dist = cKDTree(pts).query(coords, k=1)[0]
        elif shape.vertices is not None and shape.faces is not None:
            v, f = check_mesh(shape.vertices, shape.faces, source)
            coords = sample_queries(mesh_draw(v, f, rng), cfg, rng)
            dist = mesh_oracle(v, f, source).distance(coords)
        else:
            raise DataError(source, "udf fields need a point cloud or a mesh")
        return finish_supervision(coords, udf_target(dist)[:, None], source)

    def source_targets(self, source: dict[str, Tensor], coords: Tensor) -> Tensor:
        """The fitting target of the distance to the nearest stored source point (the reference cloud)."""
        points = source["points"].to(coords)
        chunk = max(1, (1 << 24) // max(1, coords.shape[0] * points.shape[1]))  # bound the (B, n, P) distances
        dist = torch.cat([torch.cdist(c, points).amin(dim=-1) for c in coords.split(chunk, dim=1)], dim=1)
        return (1.0 - dist.clamp(0.0, UDF_CLIP) / UDF_CLIP).unsqueeze(-1)

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
        """Gradient projection onto the zero set of the decoded distance (no grid: ``resolution`` is unused)."""
        return distance_to_cloud(
            lambda x: logits_to_udf(fn(x)), batch, n_points, device=device, generator=generator, max_queries=max_queries
        )

    def decode_renders(
        self,
        fn: FieldFn,
        batch: int,
        settings: RenderSettings,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Sphere tracing of the decoded distance until it drops below ``settings.hit_distance``."""
        return render_distance(lambda x: logits_to_udf(fn(x)), batch, settings, device=device, max_queries=max_queries)


UDF = UdfKind()
