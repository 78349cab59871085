"""occ: occupancy on a voxel grid, from voxels (or meshes voxelized by the inside test).

Targets are 1 inside and 0 outside at every voxel centre ``-1 + (2i + 1)/R`` of
``[-1, 1]^3`` (C order over x, y, z, so ``targets.reshape(R, R, R)`` is the grid), fitted
with a focal loss (alpha 0.1, gamma 3) whose decision threshold is 0.4 (inr2vec). An
occupancy gives no distance to sphere-trace, so renders march each ray to the threshold.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nfbench.api.metrics import MetricSpec
from nfbench.datasets.base import Shape
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, RandomSource, evaluate_grid, query_device
from nfbench.decode.render import RenderSettings, render_level
from nfbench.decode.voxels import occupancy_cloud
from nfbench.errors import DataError
from nfbench.fields.kinds.surface import SurfaceKind, logit
from nfbench.metrics import voxel_iou
from nfbench.targets import (
    SamplingConfig,
    Supervision,
    check_voxels,
    finish_supervision,
    focal_loss,
    mesh_oracle,
    resample_voxels,
    voxel_centres,
)
from nfbench.targets.geometry import Source

OCC_THRESHOLD = 0.4
"""A voxel is occupied where ``sigmoid(logit) > OCC_THRESHOLD`` at its centre (pairs with the focal loss)."""


class OccKind(SurfaceKind):
    name = "occ"
    surface_level = OCC_THRESHOLD
    source_target_inputs = ("voxels",)
    quality_inputs = ("voxels",)
    quality_metrics = (
        MetricSpec(
            name="iou",
            higher_is_better=True,
            percent=True,
            definition=f"voxel IoU between the INR thresholded at sigmoid > {OCC_THRESHOLD} at voxel centres "
            "and the grid it was fitted to, at that grid's resolution",
        ),
    )

    def query_count(self, cfg: SamplingConfig, image_hw: tuple[int, int] | None = None) -> int:
        return cfg.voxel_res**3

    def supervision(self, shape: Shape, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>") -> Supervision:
        """The voxel grid resampled to ``cfg.voxel_res``, else the mesh voxelized with ``cfg.sign`` at voxel centres."""
        if shape.voxels is not None:
            grid = resample_voxels(check_voxels(shape.voxels, source), cfg.voxel_res)
        elif shape.vertices is not None and shape.faces is not None:
            oracle = mesh_oracle(shape.vertices, shape.faces, source)
            grid = oracle.voxelize(cfg.voxel_res, cfg.sign, rng, cfg.sign_rays, cfg.flood_res)
        else:
            raise DataError(source, "occ fields need a voxel grid or a mesh")
        return finish_supervision(voxel_centres(cfg.voxel_res), grid.reshape(-1, 1), source)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return focal_loss(pred, target)

    def source_targets(self, source: dict[str, Tensor], coords: Tensor) -> Tensor:
        """Occupancy of the stored grid's cell containing each coordinate (the grid the INR was fitted to)."""
        flat = source["voxels"].to(coords.device)
        res = round(flat.shape[1] ** (1 / 3))
        cell = ((coords + 1) / 2 * res).floor().long().clamp(0, res - 1)  # [x, y, z] cell indices
        index = (cell[..., 0] * res + cell[..., 1]) * res + cell[..., 2]  # C order over x, y, z
        return torch.gather(flat, 1, index).to(coords.dtype).unsqueeze(-1)

    def source_tensors(
        self, shape: Shape, supervision: Supervision, n_reference_points: int, rng: np.random.Generator, source: Source = "<shape>"
    ) -> dict[str, np.ndarray]:
        """The reference cloud, plus the fitted grid flattened to ``(R^3,)`` uint8."""
        voxels = supervision.targets.reshape(-1).astype(np.uint8)
        return super().source_tensors(shape, supervision, n_reference_points, rng, source) | {"voxels": voxels}

    def quality_reference(self, source: dict[str, Tensor], device: torch.device) -> Tensor:
        flat = source["voxels"]
        res = round(flat.shape[1] ** (1 / 3))
        if res**3 != flat.shape[1]:
            raise ValueError(f"stored voxels have {flat.shape[1]} cells per item, not a cube")
        return flat.reshape(-1, res, res, res).bool().to(device)

    def fit_quality(
        self,
        fn: FieldFn,
        batch: int,
        reference: Tensor,
        *,
        resolution: int,
        generator: RandomSource = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> dict[str, Tensor]:
        """``iou`` against the reference grids ``(B, R, R, R)``, decoded at their R (``resolution`` is unused)."""
        self.check_reference(reference, batch, "voxels (B, R, R, R)", 4)
        voxels = self.decode_voxels(fn, batch, reference.shape[1], device=reference.device, max_queries=max_queries)
        return {"iou": voxel_iou(voxels, reference)}

    def _occupied(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits) > self.surface_level

    def decode_voxels(
        self,
        fn: FieldFn,
        batch: int,
        resolution: int,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        return self._occupied(evaluate_grid(fn, batch, resolution, query_device(device), max_queries))

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
        """Centres of surface voxels of the thresholded ``resolution^3`` grid."""
        logits = evaluate_grid(fn, batch, resolution, query_device(device), max_queries)
        return occupancy_cloud(logits, self._occupied(logits), logit(self.surface_level), n_points, generator)

    def decode_renders(
        self,
        fn: FieldFn,
        batch: int,
        settings: RenderSettings,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Fixed-step marching to the first point above the decision threshold, refined by bisection."""
        return render_level(fn, logit(self.surface_level), batch, settings, device=device, max_queries=max_queries)


OCC = OccKind()
