"""Supervision for fitting fields: normalization, query sampling, targets, inside tests and losses."""

from nfbench.targets.config import SAMPLING_PRESETS, SamplingConfig, SignMethod, query_count
from nfbench.targets.geometry import normalize_shape, sample_surface
from nfbench.targets.inside import MeshOracle, voxel_centres
from nfbench.targets.losses import FOCAL_ALPHA, FOCAL_GAMMA, bce_loss, field_loss, focal_loss, mse_loss
from nfbench.targets.supervision import (
    SDF_CLIP,
    UDF_CLIP,
    Supervision,
    make_supervision,
    pixel_centres,
    reference_points,
    resample_voxels,
    sample_queries,
)

__all__ = [
    "SAMPLING_PRESETS",
    "SamplingConfig",
    "SignMethod",
    "query_count",
    "normalize_shape",
    "sample_surface",
    "MeshOracle",
    "voxel_centres",
    "FOCAL_ALPHA",
    "FOCAL_GAMMA",
    "bce_loss",
    "field_loss",
    "focal_loss",
    "mse_loss",
    "SDF_CLIP",
    "UDF_CLIP",
    "Supervision",
    "make_supervision",
    "pixel_centres",
    "reference_points",
    "resample_voxels",
    "sample_queries",
]
