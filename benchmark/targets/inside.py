"""Exact distances and robust inside/outside tests against raw triangle meshes.

Raw CAD meshes (ModelNet) are not watertight: they have holes, duplicated and
double-sided faces (a face plus its reversed copy), inner faces, inconsistent
orientation and overlapping parts. The single-ray parity test behind Open3D's
``compute_signed_distance`` assumes a closed, non-intersecting surface and flips signs on
all of these. The methods here are compared against ground truth in
``nfbench.bench.sdf_sign`` (leaderboards/sdf_sign.md):

- ``parity``: Open3D's signed distance sign (one ray; the inr2vec setting).
- ``vote``: majority of the crossing parities of ``rays`` well-spread rays.
- ``flood``: the voxels reachable from the grid boundary without touching the surface
  are outside; queries in surface voxels take the label of the first free voxel that a
  probe ray reaches before hitting the surface. Exact for overlapping parts and inner
  faces, but leaks through holes larger than a voxel.
- ``flood_vote``: inside if ``flood`` or ``vote`` says so (vote survives the leaks).
- ``winding``: generalized winding number (Jacobson et al. 2013), exact, O(queries x faces).
- ``ray_winding``: the same winding number estimated from signed ray crossings: a ray
  from q crosses triangle t with probability solid_angle(t)/4pi, so the mean of
  (#exits - #entries) over random directions is an unbiased estimate of the winding
  number, at ray-casting speed.
- ``hybrid_winding`` (the default): ``ray_winding``, with the exact winding number for
  the few queries whose estimate lies within ``_REFINE_MARGIN`` of 1/2 (near holes and
  sheets): the accuracy of ``winding`` at the cost of ``ray_winding``.

Both winding methods first orient every face by visibility (its normal is flipped to the
side from which more rays escape to infinity), which repairs flipped faces, and keep one
copy of repeated faces (double-sided twins). Faces seen from infinity on both sides
(open sheets) or on neither (inner faces, surfaces buried in an overlapping part) bound
no visible volume and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import numpy as np
import open3d as o3d
import torch
from scipy import ndimage

from nfbench.decode.common import grid_centres
from nfbench.errors import DataError
from nfbench.targets.config import SignMethod
from nfbench.targets.geometry import Source, check_mesh, check_points

_ORIENT_RAYS = 32  # rays per start point for the visibility orientation
_ORIENT_POINTS = np.array([[1, 1, 1], [4, 1, 1], [1, 4, 1], [1, 1, 4]]) / np.array([[3], [6], [6], [6]])  # barycentric
_REFINE_MARGIN = 0.2  # hybrid_winding: exact winding where |estimate - 1/2| < this
_SHEET_ESCAPE = 0.5  # faces escaping to infinity on this fraction of both sides are sheets
_CHUNK = 1 << 16  # queries per ray-casting call (bounds memory at paper scale)
_PROBES = 8  # flood probe points per ray, every half voxel


def fibonacci_sphere(k: int) -> np.ndarray:
    """``k`` nearly evenly spread unit vectors ``(k, 3)``: less variance than iid directions."""
    i = np.arange(k) + 0.5
    polar = np.arccos(1 - 2 * i / k)
    azimuth = math.pi * (1 + math.sqrt(5)) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1)


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random rotation matrices ``(n, 3, 3)`` (from normalized Gaussian quaternions)."""
    quat = rng.standard_normal((4, n))
    w, x, y, z = quat / np.linalg.norm(quat, axis=0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=-1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=-1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=1,
    )


def ray_directions(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, k, 3)``: the Fibonacci set under an independent random rotation per origin."""
    return np.einsum("nij,kj->nki", random_rotations(n, rng), fibonacci_sphere(k))


def _f32(a: np.ndarray) -> o3d.core.Tensor:
    return o3d.core.Tensor(np.ascontiguousarray(a, dtype=np.float32))


def _rays(origins: np.ndarray, dirs: np.ndarray) -> o3d.core.Tensor:
    """Open3D rays ``(n*k, 6)`` from origins ``(n, 3)`` and directions ``(n, k, 3)``."""
    o = np.broadcast_to(origins[:, None, :], dirs.shape)
    return _f32(np.concatenate([o, dirs], axis=-1).reshape(-1, 6))


def solid_angles(queries: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Signed solid angles ``(n, F)`` of triangles ``(F, 3)`` seen from queries ``(n, 3)`` (Van Oosterom-Strackee).

    Expanded so that every pairwise term is a matrix product (no ``(n, F, 3)`` tensors):
    ``(a-q).(b-q) = a.b - q.(a+b) + |q|^2`` and ``det(a-q, b-q, c-q) = det(a, b, c) - q.((b-a)x(c-a))``.
    """
    qq = (queries * queries).sum(1, keepdim=True)
    la, lb, lc = (torch.cdist(queries, x) for x in (a, b, c))
    det = (a * torch.linalg.cross(b, c)).sum(1) - queries @ torch.linalg.cross(b - a, c - a).T
    dab = (a * b).sum(1) - queries @ (a + b).T + qq
    dbc = (b * c).sum(1) - queries @ (b + c).T + qq
    dca = (c * a).sum(1) - queries @ (c + a).T + qq
    return 2 * torch.atan2(det, la * lb * lc + dab * lc + dbc * la + dca * lb)


class MeshOracle:
    """Distance, inside tests and voxelization for one triangle mesh (an Open3D/Embree scene)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, source: Source = "<mesh>") -> None:
        self.source = source
        self.vertices, self.faces = check_mesh(vertices, faces, source)
        self.scene = o3d.t.geometry.RaycastingScene()
        self.scene.add_triangles(_f32(self.vertices), o3d.core.Tensor(self.faces.astype(np.uint32)))
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        self.normals = np.cross(b - a, c - a)  # area-weighted, in the file's orientation

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        return check_points(queries, "query points", self.source) if len(queries) else np.zeros((0, 3))

    def distance(self, queries: np.ndarray) -> np.ndarray:
        """Exact unsigned distance to the nearest triangle, ``(n,)`` float64."""
        q = self._queries(queries)
        return self.scene.compute_distance(_f32(q)).numpy().astype(np.float64)

    def signed_distance(self, queries: np.ndarray, method: SignMethod, rng: np.random.Generator, rays: int = 15, flood_res: int = 128) -> np.ndarray:
        """Exact distance, negative inside (sign from ``inside``)."""
        q = self._queries(queries)
        return np.where(self.inside(q, method, rng, rays, flood_res), -1.0, 1.0) * self.distance(q)

    def inside(self, queries: np.ndarray, method: SignMethod, rng: np.random.Generator, rays: int = 15, flood_res: int = 128) -> np.ndarray:
        """Boolean ``(n,)`` inside test; see the module docstring for the methods."""
        q = self._queries(queries)
        if method == "parity":
            return self.scene.compute_signed_distance(_f32(q)).numpy() < 0
        if method == "vote":
            return self._chunked(self._vote, q, rng, rays)
        if method == "flood":
            return self._flood(q, rng, rays, flood_res)
        if method == "flood_vote":
            return self._flood(q, rng, rays, flood_res) | self._chunked(self._vote, q, rng, rays)
        if method == "winding":
            return self.winding_number(q) > 0.5
        if method == "ray_winding":
            return self._chunked(self._ray_winding, q, rng, rays) > 0.5
        if method == "hybrid_winding":
            estimate = self._chunked(self._ray_winding, q, rng, rays)
            out = estimate > 0.5
            unsure = np.abs(estimate - 0.5) < _REFINE_MARGIN
            out[unsure] = self.winding_number(q[unsure]) > 0.5
            return out
        raise ValueError(f"unknown sign method {method!r}")

    def voxelize(self, res: int, method: SignMethod, rng: np.random.Generator, rays: int = 15, flood_res: int = 128) -> np.ndarray:
        """``(res, res, res)`` bool over [-1, 1]^3 (axes x, y, z): the inside test at voxel centres."""
        centres = voxel_centres(res)
        return self.inside(centres, method, rng, rays, flood_res).reshape(res, res, res)

    @staticmethod
    def _chunked(fn: Callable[[np.ndarray, np.random.Generator, int], np.ndarray], q: np.ndarray, rng: np.random.Generator, rays: int) -> np.ndarray:
        if len(q) == 0:
            return fn(q, rng, rays)
        return np.concatenate([fn(q[s : s + _CHUNK], rng, rays) for s in range(0, len(q), _CHUNK)])

    # ---------------------------------------------------------------- ray parity vote

    def _vote(self, q: np.ndarray, rng: np.random.Generator, rays: int) -> np.ndarray:
        hits = self.scene.count_intersections(_rays(q, ray_directions(len(q), rays, rng))).numpy()
        return 2 * (hits.reshape(-1, rays) % 2).sum(axis=1) > rays

    # ---------------------------------------------------------------- winding numbers

    @cached_property
    def escape_fractions(self) -> np.ndarray:
        """``(F, 2)``: fraction of rays from each face that reach infinity on its (front, back) side.

        Rays leave from the centroid and three points towards the corners (a big face can
        be partly buried in another part), a hair off the face so that the face itself,
        and a coincident reversed twin, are not hit. Fixed seed: one answer per mesh.
        """
        rng = np.random.default_rng(0)
        eps = 1e-5 * float(np.ptp(self.vertices, axis=0).max())
        return np.concatenate([self._escapes(s, min(s + _CHUNK // 8, len(self.faces)), rng, eps) for s in range(0, len(self.faces), _CHUNK // 8)])

    def _escapes(self, start: int, stop: int, rng: np.random.Generator, eps: float) -> np.ndarray:
        n = self.normals[start:stop] / np.maximum(np.linalg.norm(self.normals[start:stop], axis=1), 1e-300)[:, None]
        starts = np.einsum("pc,fcd->fpd", _ORIENT_POINTS, self.vertices[self.faces[start:stop]])  # (f, P, 3)
        dirs = ray_directions(len(n) * len(_ORIENT_POINTS), _ORIENT_RAYS, rng).reshape(len(n), -1, 3)
        side = np.sign(np.einsum("fkd,fd->fk", dirs, n))
        origins = np.repeat(starts, _ORIENT_RAYS, axis=1) + eps * (side[..., None] * n[:, None, :] + dirs)
        escaped = np.isinf(self.scene.cast_rays(_f32(np.concatenate([origins, dirs], -1).reshape(-1, 6)))["t_hit"].numpy())
        escaped = escaped.reshape(side.shape)
        front = (escaped & (side > 0)).sum(1) / np.maximum((side > 0).sum(1), 1)
        back = (escaped & (side < 0)).sum(1) / np.maximum((side < 0).sum(1), 1)
        return np.stack([front, back], axis=1)

    @cached_property
    def face_weights(self) -> np.ndarray:
        """Per face +1 (keep its orientation), -1 (flip it) or 0 (leave it out of the winding number).

        The side that sees more of infinity is outside. Faces that see infinity on neither
        side (inner faces, surfaces buried in an overlapping part) or on both sides (open
        sheets) bound no visible volume and are left out, as are degenerate faces.
        """
        front, back = self.escape_fractions.T
        weights = np.where(back > front, -1.0, 1.0)
        sheet = np.minimum(front, back) >= _SHEET_ESCAPE
        weights[sheet | (np.maximum(front, back) == 0) | ~(np.linalg.norm(self.normals, axis=1) > 0)] = 0.0
        weights[self._repeated_faces()] = 0.0
        return weights

    def _repeated_faces(self) -> np.ndarray:
        """All but the first of faces spanning the same three points in any order.

        Double-sided CAD faces come as a face plus its reversed twin; once both face out
        they would count twice in the winding number (ray casting reports such coincident
        hits once), so one copy is kept.
        """
        _, merged = np.unique(self.vertices, axis=0, return_inverse=True)
        keys = np.sort(merged.reshape(-1)[self.faces], axis=1)
        _, first = np.unique(keys, axis=0, return_index=True)
        repeated = np.ones(len(self.faces), dtype=bool)
        repeated[first] = False
        return repeated

    def winding_number(self, queries: np.ndarray, chunk_pairs: int = 1 << 20) -> np.ndarray:
        """Exact generalized winding number ``(n,)`` of the oriented faces (float64, torch on CPU)."""
        q = torch.from_numpy(self._queries(queries))
        keep = self.face_weights != 0
        tri = torch.from_numpy(self.vertices[self.faces[keep]])
        w = torch.from_numpy(self.face_weights[keep])
        a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
        step = max(1, chunk_pairs // max(len(tri), 1))
        out = [solid_angles(q[s : s + step], a, b, c) @ w for s in range(0, len(q), step)]
        return (torch.cat(out) / (4 * math.pi)).numpy() if out else np.zeros(0)

    def _ray_winding(self, q: np.ndarray, rng: np.random.Generator, rays: int) -> np.ndarray:
        dirs = ray_directions(len(q), rays, rng)
        hits = self.scene.list_intersections(_rays(q, dirs))
        ray_ids = hits["ray_ids"].numpy().astype(np.int64)
        prim = hits["primitive_ids"].numpy().astype(np.int64)
        normals = self.normals[prim] * self.face_weights[prim, None]
        crossing = np.sign(np.einsum("nd,nd->n", normals, dirs.reshape(-1, 3)[ray_ids]))
        return np.bincount(ray_ids // rays, weights=crossing, minlength=len(q)) / rays

    # ---------------------------------------------------------------- flood fill

    def _flood(self, q: np.ndarray, rng: np.random.Generator, rays: int, res: int) -> np.ndarray:
        grid = _FloodGrid(self, res)
        band, enclosed = grid.lookup(q)
        out = enclosed.copy()
        idx = np.flatnonzero(band)
        for s in range(0, len(idx), _CHUNK):
            sel = idx[s : s + _CHUNK]
            out[sel] = grid.probe(q[sel], rng, rays)
        return out


class _FloodGrid:
    """Surface voxels (within half a voxel diagonal of a triangle) and the voxels they enclose."""

    def __init__(self, oracle: MeshOracle, res: int) -> None:
        lo, hi = oracle.vertices.min(0), oracle.vertices.max(0)
        self.h = float((hi - lo).max()) / res
        n = res + 4
        n += -n % 8  # three exact halvings for the coarse-to-fine surface search
        self.n = n
        self.origin = 0.5 * (lo + hi) - 0.5 * n * self.h
        self.oracle = oracle
        self.surface = self._surface_voxels()
        self.enclosed = ndimage.binary_fill_holes(self.surface) & ~self.surface

    def _surface_voxels(self) -> np.ndarray:
        """Coarse to fine: a cell can hold a surface voxel only if the surface is within half its diagonal."""
        cells = np.indices((self.n // 8,) * 3).reshape(3, -1).T
        children = np.indices((2, 2, 2)).reshape(3, -1).T
        for level in (8, 4, 2, 1):
            size = level * self.h
            centres = self.origin + (cells + 0.5) * size
            cells = cells[self.oracle.distance(centres) <= size * math.sqrt(3) / 2]
            if level > 1:
                cells = (2 * cells[:, None, :] + children[None]).reshape(-1, 3)
        grid = np.zeros((self.n,) * 3, dtype=bool)
        grid[tuple(cells.T)] = True
        return grid

    def lookup(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(is in a surface voxel, is in an enclosed voxel) for points ``(..., 3)``; off-grid is outside."""
        idx = np.floor((p - self.origin) / self.h).astype(np.int64)
        on = np.all((idx >= 0) & (idx < self.n), axis=-1)
        i, j, k = np.moveaxis(np.clip(idx, 0, self.n - 1), -1, 0)
        return self.surface[i, j, k] & on, self.enclosed[i, j, k] & on

    def probe(self, q: np.ndarray, rng: np.random.Generator, rays: int) -> np.ndarray:
        """Vote of the rays whose free segment (before the first hit) reaches a labelled voxel.

        A point just outside sees free space in some direction; a point inside a part
        reaches its enclosed voxels. If no ray gets out of the surface voxels (thin parts),
        the point is enclosed at this resolution and counts as inside.
        """
        dirs = ray_directions(len(q), rays, rng)
        t_hit = self.oracle.scene.cast_rays(_rays(q, dirs))["t_hit"].numpy().reshape(len(q), rays)
        steps = (np.arange(1, _PROBES + 1) * self.h / 2)
        points = q[:, None, None, :] + dirs[:, :, None, :] * steps[None, None, :, None]
        band, enclosed = self.lookup(points)  # (n, rays, probes)
        decisive = (steps[None, None, :] < t_hit[..., None]) & ~band
        reached = decisive.any(axis=-1)
        first = np.take_along_axis(enclosed, decisive.argmax(axis=-1)[..., None], axis=-1)[..., 0]
        n_in = (reached & first).sum(axis=1)
        n_out = (reached & ~first).sum(axis=1)
        return (n_in > n_out) | (n_in + n_out == 0)


def voxel_centres(res: int) -> np.ndarray:
    """``grid_centres`` as float64 numpy: ``(res^3, 3)``, C order over (x, y, z), the decoders' grid."""
    return grid_centres(res, torch.device("cpu"), torch.float64).numpy()


def mesh_oracle(vertices: np.ndarray | None, faces: np.ndarray | None, source: Source) -> MeshOracle:
    """A ``MeshOracle``, or ``DataError`` when the shape has no mesh."""
    if vertices is None or faces is None:
        raise DataError(source, "sdf and occ fields need a triangle mesh, and this shape has none (a point cloud gives --field udf)")
    return MeshOracle(vertices, faces, source)
