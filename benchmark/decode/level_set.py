"""Meshes and surface clouds at a level set of a scalar field (marching cubes on a grid of raw outputs).

A kind whose surface is a level of its raw output (sdf: logit 0) decodes here. Marching
cubes runs on the raw outputs, not on probabilities: a sigmoid would flatten the values
that the interpolation relies on.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import trimesh
from skimage import measure
from torch import Tensor

from nfbench.decode.common import (
    DEFAULT_MAX_QUERIES,
    Draws,
    FieldFn,
    NoSurfaceWarning,
    RandomSource,
    check_count,
    closest_to_level,
    evaluate_grid,
    inverse_cdf,
    query_device,
)


def _marching_cubes(grid: np.ndarray, level: float) -> trimesh.Trimesh:
    """The ``level`` surface of one ``(R, R, R)`` grid, in ``[-1, 1]^3``; empty without a crossing."""
    if not grid.min() < level < grid.max():
        return trimesh.Trimesh()
    resolution = grid.shape[0]
    # The default gradient direction orients faces outwards for fields that are below the level inside.
    verts, faces, _, _ = measure.marching_cubes(grid, level=level, spacing=(2 / resolution,) * 3)
    # Vertex coordinates start at the first voxel centre, -1 + 1/R.
    return trimesh.Trimesh(vertices=verts - 1 + 1 / resolution, faces=faces, process=False)


def _grid_meshes(grid: Tensor, level: float) -> list[trimesh.Trimesh]:
    return [_marching_cubes(g, level) for g in grid.detach().cpu().numpy()]


def level_set_meshes(
    fn: FieldFn,
    batch: int,
    resolution: int = 64,
    level: float = 0.0,
    *,
    device: torch.device | str | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> list[trimesh.Trimesh]:
    """One mesh per field, from marching cubes at ``level`` on an ``R^3`` grid of voxel centres.

    Faces point towards increasing values (outwards when the inside is below the level).
    A field with no crossing on the grid yields an empty ``trimesh.Trimesh``
    (``mesh.is_empty``); callers decide what that means for them.
    """
    return _grid_meshes(evaluate_grid(fn, batch, resolution, query_device(device), max_queries), level)


def sample_mesh(mesh: trimesh.Trimesh, u: Tensor) -> Tensor:
    """Points ``(n, 3)`` uniform over the area of a non-empty mesh, from uniforms ``u (n, 3)``.

    ``u[:, 0]`` picks the face (in proportion to its area), ``u[:, 1:]`` the barycentric
    position in it; points land on ``u``'s device.
    """
    tri = torch.as_tensor(mesh.vertices[mesh.faces], dtype=torch.float32, device=u.device)
    area = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]).norm(dim=-1)
    face = tri[inverse_cdf(area, u[:, 0])]
    a, b = u[:, 1:2], u[:, 2:3]
    # Uniform barycentrics: fold the half of the unit square outside the triangle back in.
    outside = a + b > 1
    a, b = torch.where(outside, 1 - a, a), torch.where(outside, 1 - b, b)
    return face[:, 0] + a * (face[:, 1] - face[:, 0]) + b * (face[:, 2] - face[:, 0])


def level_set_cloud(
    fn: FieldFn,
    batch: int,
    n_points: int = 2048,
    resolution: int = 64,
    level: float = 0.0,
    *,
    device: torch.device | str | None = None,
    generator: RandomSource = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """``(B, n_points, 3)`` points sampled uniformly on the marching-cubes surface of each field.

    A field whose mesh is empty (no crossing, or zero area) gets instead the centres of
    the grid cells whose value is closest to ``level``, with a ``NoSurfaceWarning``: a
    finite cloud, but not a failure by its score, since those cells can lie close to the
    shape. Callers that rank decodes count these (``no_surface_items``).
    """
    check_count("n_points", n_points)
    device = query_device(device)
    draws = Draws(generator, batch, device)
    grid = evaluate_grid(fn, batch, resolution, device, max_queries)
    meshes = _grid_meshes(grid, level)
    u = draws.uniform(n_points, 3)
    empty = {i for i, mesh in enumerate(meshes) if not mesh.area > 0}
    if empty:
        warnings.warn(
            NoSurfaceWarning(
                f"level_set_cloud: no surface at level {level:g} for INR(s) {sorted(empty)}; using the grid cells closest to it",
                sorted(empty),
            ),
            stacklevel=2,
        )
        fallback = closest_to_level(grid, level, n_points)
    return torch.stack([fallback[i] if i in empty else sample_mesh(mesh, u[i]) for i, mesh in enumerate(meshes)])
