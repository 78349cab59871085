"""Discrete data back from neural fields: clouds, meshes, voxels and images (inr2vec, Appendix C).

These are kind-agnostic algorithms (projection onto a distance field's zero set, marching
cubes at a level, surface voxels of an occupancy grid, images at pixel centres); which one
a field uses, and at which level, is decided by its kind in ``nfbench.fields.kinds``.
"""

from nfbench.decode.common import (
    DEFAULT_MAX_QUERIES,
    Draws,
    FieldFn,
    RandomSource,
    evaluate_grid,
    field_fn,
    grid_centres,
    query_device,
)
from nfbench.decode.image import field_to_image, pixel_centres
from nfbench.decode.level_set import level_set_cloud, level_set_meshes, sample_mesh
from nfbench.decode.projection import DistanceFn, distance_to_cloud
from nfbench.decode.voxels import occupancy_cloud, voxels_to_cloud

__all__ = [
    "DEFAULT_MAX_QUERIES",
    "DistanceFn",
    "Draws",
    "FieldFn",
    "RandomSource",
    "distance_to_cloud",
    "evaluate_grid",
    "field_fn",
    "field_to_image",
    "grid_centres",
    "level_set_cloud",
    "level_set_meshes",
    "occupancy_cloud",
    "pixel_centres",
    "query_device",
    "sample_mesh",
    "voxels_to_cloud",
]
