"""Closed primitive solids with inside tests that are exact for their tessellated meshes.

Voxels, visible surface points and mesh-based fields must all describe the same solid,
so a part's inside test is computed from the very triangles that go into the shape's
mesh (supporting planes for convex parts, the polygonal profile for revolves), never
from the ideal primitive it approximates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

_SECTIONS = 24  # segments around the axis of cylinders, cones and revolves


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def align_z(direction: np.ndarray) -> np.ndarray:
    """Rotation taking +z onto ``direction`` (primitives are built along z)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    v = np.cross([0.0, 0.0, 1.0], d)
    c = d[2]
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else rot_x(np.pi)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


@functools.cache
def _unit_mesh(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit primitives are shared by all shapes; sizes come from the part's affine map."""
    mesh = {
        "box": lambda: trimesh.creation.box(extents=(1.0, 1.0, 1.0)),
        "cylinder": lambda: trimesh.creation.cylinder(radius=1.0, height=1.0, sections=_SECTIONS),
        "cone": lambda: trimesh.creation.cone(radius=1.0, height=1.0, sections=_SECTIONS),
        "sphere": lambda: trimesh.creation.icosphere(subdivisions=2, radius=1.0),
        "capsule": lambda: trimesh.creation.capsule(height=1.0, radius=1.0, count=[10, 12]),
    }[kind]()
    verts, faces = np.asarray(mesh.vertices, float), np.asarray(mesh.faces, np.int64)
    verts.flags.writeable = faces.flags.writeable = False
    return verts, faces


def _face_planes(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct supporting planes (unit outward normal, offset) of a closed convex mesh."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(n, axis=1)
    keep = length > 1e-12 * length.max()
    n = n[keep] / length[keep, None]
    d = np.einsum("ij,ij->i", n, tri[keep, 0])
    _, first = np.unique(np.round(np.column_stack([n, d]), 9), axis=0, return_index=True)
    return n[first], d[first]


@functools.cache
def _unit_planes(kind: str) -> tuple[np.ndarray, np.ndarray]:
    return _face_planes(*_unit_mesh(kind))


def _hull_mesh(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convex hull as a mesh with outward-wound faces."""
    hull = ConvexHull(points)
    faces = hull.simplices.copy()
    v = points[faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    flip = np.einsum("ij,ij->i", n, hull.equations[:, :3]) < 0
    faces[flip] = faces[flip][:, ::-1]
    used, faces = np.unique(faces, return_inverse=True)
    return points[used], faces.reshape(-1, 3).astype(np.int64)


def _in_polygon(pts: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule of 2D points against a closed polygon (crossings of a +x ray)."""
    a, b = poly, np.roll(poly, -1, axis=0)
    px, py = pts[:, :1], pts[:, 1:]
    straddle = (a[None, :, 1] > py) != (b[None, :, 1] > py)
    dy = np.where(b[:, 1] == a[:, 1], 1.0, b[:, 1] - a[:, 1])
    x_cross = a[None, :, 0] + (py - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / dy[None]
    return (np.count_nonzero(straddle & (px < x_cross), axis=1) % 2) == 1


def _polygonal_radius(q: np.ndarray) -> np.ndarray:
    """Radius measured against the revolve's inscribed polygon (vertices at multiples of 2pi/N).

    A revolve mesh is exactly the set of points whose polygonal radius and height lie in
    the profile, because each band between two rings is a planar trapezoid.
    """
    step = 2 * np.pi / _SECTIONS
    theta = np.arctan2(q[:, 1], q[:, 0])
    centre = (np.floor(theta / step) + 0.5) * step
    return np.hypot(q[:, 0], q[:, 1]) * np.cos(theta - centre) / np.cos(step / 2)


@dataclass
class Solid:
    """One closed primitive in local coordinates plus its affine placement ``A q + t``.

    ``local_mesh`` is both what the shape's mesh is made of and what ``contains`` tests.
    """

    kind: str  # box, cylinder, cone, sphere, capsule, hull (convex) or revolve
    part: int
    linear: np.ndarray
    offset: np.ndarray
    params: tuple = ()

    @functools.cached_property
    def local_mesh(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind in ("box", "cylinder", "cone", "sphere"):
            return _unit_mesh(self.kind)
        if self.kind == "hull":
            return _hull_mesh(self.params[0])
        if self.kind == "capsule":
            # the unit capsule's halves (z >= 0.5, z <= -0.5) are hemispheres: rescale and shift
            verts, faces = _unit_mesh("capsule")
            h, r = self.params
            half = np.sign(verts[:, 2:])
            return r * (verts - half * (0, 0, 0.5)) + half * (0, 0, h / 2), faces
        m = trimesh.creation.revolve(self.params[0], sections=_SECTIONS)
        return np.asarray(m.vertices, float), np.asarray(m.faces, np.int64)

    @functools.cached_property
    def planes(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind in ("box", "cylinder", "cone", "sphere"):
            return _unit_planes(self.kind)
        return _face_planes(*self.local_mesh)

    def world_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        world = self.local_mesh[0] @ self.linear.T + self.offset
        return world.min(axis=0), world.max(axis=0)

    def contains(self, pts: np.ndarray, margin: float = 1e-9) -> np.ndarray:
        """Strictly-inside test; convex parts need ``margin`` (local units) past each face."""
        lo, hi = self.world_bounds()
        near = np.all((pts >= lo) & (pts <= hi), axis=1)
        out = np.zeros(len(pts), dtype=bool)
        if near.any():
            q = np.linalg.solve(self.linear, (pts[near] - self.offset).T).T
            if self.kind == "revolve":
                out[near] = _in_polygon(np.column_stack([_polygonal_radius(q), q[:, 2]]), self.params[0])
            else:
                normals, offsets = self.planes
                out[near] = np.all(q @ normals.T - offsets < -margin, axis=1)
        return out
