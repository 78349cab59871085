"""One entry point per question: which points does a field encode, and how well does it fit its data.

Discrete baselines only ever see what decoding recovers from the INRs, and the
representation-quality numbers of a dataset come from comparing that decode with the
shape it was fitted to, so both go through the same dispatch on the field kind.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, FieldKind
from nfbench.decode.image import field_to_image
from nfbench.decode.occ import occ_to_cloud, occ_to_voxels
from nfbench.decode.sdf import sdf_to_cloud
from nfbench.decode.udf import udf_to_cloud
from nfbench.metrics import chamfer_distance, f_score, psnr, voxel_iou

FIT_F_SCORE_THRESHOLD = 0.01
"""F-score distance threshold for fit quality, in the unit-sphere normalization of the shapes."""


def reconstruct_points(
    fn: FieldFn,
    batch: int,
    field_kind: FieldKind,
    n_points: int = 2048,
    resolution: int = 64,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """``(B, n_points, 3)`` clouds decoded from 3D fields: udf by gradient projection, sdf by
    sampling the marching-cubes surface, occ as surface-voxel centres. ``resolution`` is the
    grid of the sdf/occ decoders and unused for udf.
    """
    common: dict[str, Any] = dict(device=device, generator=generator, max_queries=max_queries)
    if field_kind == "udf":
        return udf_to_cloud(fn, batch, n_points, **common)
    if field_kind == "sdf":
        return sdf_to_cloud(fn, batch, n_points, resolution, **common)
    if field_kind == "occ":
        return occ_to_cloud(fn, batch, n_points, resolution, **common)
    raise ValueError(f"cannot reconstruct points from a {field_kind!r} field; expected 'udf', 'sdf' or 'occ'")


def fit_quality(
    fn: FieldFn,
    batch: int,
    field_kind: FieldKind,
    reference: Tensor,
    *,
    resolution: int = 64,
    generator: torch.Generator | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> dict[str, Tensor]:
    """Per-INR agreement ``(B,)`` between the decoded fields and the data they were fitted to.

    - udf / sdf: ``reference`` is a cloud ``(B, P, 3)``; the decoded cloud has P points
      (sdf via a ``resolution`` grid). Returns ``chamfer`` (L2, not squared, the two
      directional means summed) and ``f_score`` at ``FIT_F_SCORE_THRESHOLD``.
    - occ: ``reference`` is a boolean grid ``(B, R, R, R)``; returns ``iou`` at the same R.
    - image: ``reference`` is ``(B, H, W, C)`` in ``[0, 1]``; returns ``psnr`` (range 1).
    Decoding runs on ``reference.device``.
    """
    if reference.shape[0] != batch:
        raise ValueError(f"reference holds {reference.shape[0]} items for a batch of {batch} fields")
    device = reference.device
    if field_kind in ("udf", "sdf"):
        if reference.dim() != 3 or reference.shape[-1] != 3:
            raise ValueError(f"expected reference points (B, P, 3), got {tuple(reference.shape)}")
        cloud = reconstruct_points(
            fn, batch, field_kind, reference.shape[1], resolution,
            device=device, generator=generator, max_queries=max_queries,
        )
        return {
            "chamfer": chamfer_distance(cloud, reference),
            "f_score": f_score(cloud, reference, FIT_F_SCORE_THRESHOLD),
        }
    if field_kind == "occ":
        if reference.dim() != 4:
            raise ValueError(f"expected reference voxels (B, R, R, R), got {tuple(reference.shape)}")
        voxels = occ_to_voxels(fn, batch, reference.shape[1], device=device, max_queries=max_queries)
        return {"iou": voxel_iou(voxels, reference)}
    if field_kind == "image":
        if reference.dim() != 4:
            raise ValueError(f"expected reference images (B, H, W, C), got {tuple(reference.shape)}")
        _, height, width, channels = reference.shape
        image = field_to_image(fn, batch, height, width, channels, device=device, max_queries=max_queries)
        return {"psnr": psnr(image, reference)}
    raise ValueError(f"unknown field kind {field_kind!r}; expected 'udf', 'sdf', 'occ' or 'image'")
