"""Discrete data back from neural fields: clouds, meshes, voxels and images (inr2vec, Appendix C)."""

from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, FieldKind, field_fn, grid_centres
from nfbench.decode.image import field_to_image, pixel_centres
from nfbench.decode.occ import OCC_THRESHOLD, occ_to_cloud, occ_to_voxels, voxels_to_cloud
from nfbench.decode.quality import FIT_F_SCORE_THRESHOLD, fit_quality, reconstruct_points
from nfbench.decode.sdf import sample_surface, sdf_to_cloud, sdf_to_mesh
from nfbench.decode.udf import UDF_CLIP, logits_to_udf, udf_to_cloud

__all__ = [
    "DEFAULT_MAX_QUERIES",
    "FIT_F_SCORE_THRESHOLD",
    "OCC_THRESHOLD",
    "UDF_CLIP",
    "FieldFn",
    "FieldKind",
    "field_fn",
    "field_to_image",
    "fit_quality",
    "grid_centres",
    "logits_to_udf",
    "occ_to_cloud",
    "occ_to_voxels",
    "pixel_centres",
    "reconstruct_points",
    "sample_surface",
    "sdf_to_cloud",
    "sdf_to_mesh",
    "udf_to_cloud",
    "voxels_to_cloud",
]
