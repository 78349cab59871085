"""``procshapes``: the embedded default dataset of procedural ShapeNet-like objects.

Nothing is downloaded: every shape is assembled from primitive parts (boxes, cylinders,
cones, spheres, capsules, tori, surfaces of revolution and convex hulls) placed by a
category-specific builder. A shape is a pure function of ``(seed, category, split,
index)``, so any item can be rebuilt on its own, in any order, by any worker.

The mesh of a shape is the concatenation of its closed part meshes. Parts overlap (a leg
enters the seat), so the mesh is a union of watertight pieces, not one watertight
manifold: ray-parity inside tests are wrong where parts overlap. Each piece is listed in
``extras["face_instances"]``, and the occupancy given here (``voxels``) and the surface
points (``points``, only where no other part covers them) are computed on the true union.

Modules, from the bottom up: ``geometry`` (primitive solids and their exact inside
tests), ``assembly`` (how builders place named parts), ``colors`` (swatches and
palettes), the category families ``furniture``, ``vessels``, ``vehicles`` and
``instruments``, ``catalog`` (categories in label order), ``generation`` (one shape from
its identity) and ``dataset`` (the registered ``ProcShapes``).
"""

from .catalog import CATALOG, CATEGORIES, PART_NAMES
from .dataset import DEFAULT_LIMIT, ProcShapes, split_sizes
from .generation import GENERATOR_VERSION, N_POINTS, VOXEL_RES, generate

__all__ = [
    "CATALOG",
    "CATEGORIES",
    "DEFAULT_LIMIT",
    "GENERATOR_VERSION",
    "N_POINTS",
    "PART_NAMES",
    "VOXEL_RES",
    "ProcShapes",
    "generate",
    "split_sizes",
]
