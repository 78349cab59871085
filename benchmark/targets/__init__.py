"""Supervision for fitting fields: normalization, query sampling, inside tests and losses.

Kind-agnostic building blocks only; each field kind in ``nfbench.fields.kinds`` combines
them into its supervision, target encoding and loss.
"""

from nfbench.targets.config import SAMPLING_PRESETS, SamplingConfig, SignMethod
from nfbench.targets.geometry import normalize_shape, sample_surface
from nfbench.targets.inside import MeshOracle, mesh_oracle, voxel_centres
from nfbench.targets.losses import FOCAL_ALPHA, FOCAL_GAMMA, LossFn, bce_loss, focal_loss, mse_loss
from nfbench.targets.supervision import (
    Supervision,
    check_image,
    check_voxels,
    cloud_draw,
    finish_supervision,
    mesh_draw,
    reference_points,
    resample_voxels,
    sample_queries,
)

__all__ = [
    "SAMPLING_PRESETS",
    "SamplingConfig",
    "SignMethod",
    "normalize_shape",
    "sample_surface",
    "MeshOracle",
    "mesh_oracle",
    "voxel_centres",
    "FOCAL_ALPHA",
    "FOCAL_GAMMA",
    "LossFn",
    "bce_loss",
    "focal_loss",
    "mse_loss",
    "Supervision",
    "check_image",
    "check_voxels",
    "cloud_draw",
    "finish_supervision",
    "mesh_draw",
    "reference_points",
    "resample_voxels",
    "sample_queries",
]
