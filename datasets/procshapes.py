"""``procshapes``: the embedded default dataset of procedural ShapeNet-like objects.

Nothing is downloaded: every shape is assembled from primitive parts (boxes, cylinders,
cones, spheres, capsules, tori, surfaces of revolution and convex hulls) placed by a
category-specific generator. A shape is a pure function of ``(seed, category, split,
index)``, so any item can be rebuilt on its own, in any order, by any worker.

The mesh of a shape is the concatenation of its closed part meshes. Parts overlap (a leg
enters the seat), so the mesh is a union of watertight pieces, not one watertight
manifold: ray-parity inside tests are wrong where parts overlap. Each piece is listed in
``extras["face_instances"]``, and the occupancy given here (``voxels``) and the surface
points (``points``, only where no other part covers them) are computed on the true union.
"""

from __future__ import annotations

import functools
import hashlib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import trimesh
from scipy.spatial import ConvexHull

from nfbench.errors import DataError

from .base import DatasetCard, ItemRef, Shape, ShapeDataset

GENERATOR_VERSION = "procshapes-1"
N_POINTS = 2048
VOXEL_RES = 32
DEFAULT_LIMIT = 12

PART_NAMES: dict[str, tuple[str, ...]] = {
    "chair": ("seat", "back", "leg", "arm"),
    "table": ("top", "leg", "apron", "shelf"),
    "lamp": ("base", "stem", "shade"),
    "airplane": ("fuselage", "wing", "tail", "engine"),
    "mug": ("body", "handle"),
    "bottle": ("body", "neck", "cap"),
    "rocket": ("body", "nose", "fin", "engine", "booster"),
    "car": ("body", "cabin", "wheel", "light"),
    "bench": ("seat", "leg", "back", "arm"),
    "guitar": ("body", "neck", "head", "bridge"),
    "sofa": ("base", "cushion", "back", "arm", "leg"),
    "vase": ("body", "foot", "handle"),
}
CATEGORIES: tuple[str, ...] = tuple(PART_NAMES)

_SECTIONS = 24
_LOCATOR = re.compile(r"seed=(-?\d+)/([a-z]+)/(train|test)/(\d+)")

# ----------------------------------------------------------------------------- geometry


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _align_z(direction: np.ndarray) -> np.ndarray:
    """Rotation taking +z onto ``direction`` (primitives are built along z)."""
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    v = np.cross([0.0, 0.0, 1.0], d)
    c = d[2]
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else _rot_x(np.pi)
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


_unit_planes = functools.cache(lambda kind: _face_planes(*_unit_mesh(kind)))


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
class _Solid:
    """One closed primitive in local coordinates plus its affine placement ``A q + t``.

    Inside tests are exact for the tessellated mesh (not the ideal primitive), so voxels,
    surface points and mesh-based fields all describe the same solid.
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


class _Assembly:
    """Collects placed parts; ``frame`` nests local coordinate systems (e.g. a tilted back)."""

    def __init__(self, category: str) -> None:
        self.names = PART_NAMES[category]
        self.solids: list[_Solid] = []
        self._frames: list[tuple[np.ndarray, np.ndarray]] = [(np.eye(3), np.zeros(3))]

    @contextmanager
    def frame(self, rot: np.ndarray | None = None, origin=(0.0, 0.0, 0.0)) -> Iterator[None]:
        r0, t0 = self._frames[-1]
        r = np.eye(3) if rot is None else rot
        self._frames.append((r0 @ r, r0 @ np.asarray(origin, float) + t0))
        try:
            yield
        finally:
            self._frames.pop()

    def _add(self, part: str, kind: str, linear: np.ndarray, offset, params: tuple = ()) -> None:
        r0, t0 = self._frames[-1]
        self.solids.append(
            _Solid(kind, self.names.index(part), r0 @ linear, r0 @ np.asarray(offset, float) + t0, params)
        )

    def box(self, part: str, center, size) -> None:
        self._add(part, "box", np.diag(size), center)

    def beam(self, part: str, a, b, width: float, depth: float | None = None) -> None:
        """Square-section bar from ``a`` to ``b``."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        r = _align_z(b - a)
        size = (width, width if depth is None else depth, np.linalg.norm(b - a))
        self._add(part, "box", r @ np.diag(size), (a + b) / 2)

    def rod(self, part: str, a, b, radius: float, radius2: float | None = None) -> None:
        """Cylinder from ``a`` to ``b``; ``radius2`` makes the section elliptic."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        r = _align_z(b - a)
        size = (radius, radius if radius2 is None else radius2, np.linalg.norm(b - a))
        self._add(part, "cylinder", r @ np.diag(size), (a + b) / 2)

    def disk(self, part: str, center, rx: float, height: float, rz: float | None = None) -> None:
        """Vertical-axis cylinder, elliptic when ``rz`` is given."""
        lin = _rot_x(-np.pi / 2) @ np.diag((rx, rx if rz is None else rz, height))
        self._add(part, "cylinder", lin, center)

    def cone(self, part: str, base, tip, radius: float) -> None:
        base, tip = np.asarray(base, float), np.asarray(tip, float)
        lin = _align_z(tip - base) @ np.diag((radius, radius, np.linalg.norm(tip - base)))
        self._add(part, "cone", lin, base)

    def ellipsoid(self, part: str, center, radii) -> None:
        self._add(part, "sphere", np.diag(radii), center)

    def capsule(self, part: str, a, b, radius: float, squash: tuple | None = None) -> None:
        """Rounded rod; ``squash=(direction, factor)`` stretches it across one direction."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        lin = _align_z(b - a)
        if squash is not None:
            u = np.asarray(squash[0], float)
            u = u / np.linalg.norm(u)
            lin = (np.eye(3) + (squash[1] - 1.0) * np.outer(u, u)) @ lin
        self._add(part, "capsule", lin, (a + b) / 2, (float(np.linalg.norm(b - a)), radius))

    def torus(self, part: str, center, major: float, minor: float) -> None:
        """Horizontal ring as the revolve of a closed 10-gon (keeps the exact inside test)."""
        t = np.linspace(0.0, 2 * np.pi, 11)
        self.revolve(part, center, np.column_stack([major + minor * np.cos(t), minor * np.sin(t)]))

    def revolve(self, part: str, base, profile, axis=(0, 1, 0)) -> None:
        """Solid of revolution of a closed ``(radius, height)`` profile from axis to axis."""
        prof = np.asarray(profile, float)
        self._add(part, "revolve", _align_z(axis), base, (prof,))

    def hull(self, part: str, points) -> None:
        self._add(part, "hull", np.eye(3), np.zeros(3), (np.asarray(points, float),))

    def arc(self, part: str, center, radius: float, a0: float, a1: float, tube: float,
            e1=(1, 0, 0), n: int = 5, squash: tuple | None = None) -> None:
        """Bent tube as a chain of capsules along a circular arc in the vertical plane (e1, y)."""
        t = np.linspace(a0, a1, n + 1)
        c, e1 = np.asarray(center, float), np.asarray(e1, float)
        pts = c + radius * (np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * np.array([0.0, 1.0, 0.0]))
        for p, q in zip(pts[:-1], pts[1:]):
            self.capsule(part, p, q, tube, squash)


# ------------------------------------------------------------------------------ palettes

_WOOD = [(0.55, 0.36, 0.2), (0.72, 0.53, 0.33), (0.36, 0.22, 0.12), (0.82, 0.68, 0.48)]
_METAL = [(0.62, 0.62, 0.64), (0.12, 0.12, 0.13), (0.8, 0.8, 0.78)]
_FABRIC = [(0.5, 0.5, 0.53), (0.75, 0.2, 0.15), (0.2, 0.3, 0.62), (0.85, 0.78, 0.62), (0.2, 0.45, 0.3)]
_PAINT = [(0.8, 0.1, 0.1), (0.15, 0.3, 0.75), (0.92, 0.92, 0.9), (0.1, 0.1, 0.1), (0.7, 0.7, 0.72),
          (0.95, 0.75, 0.1)]
_GLASS = [(0.2, 0.55, 0.3), (0.45, 0.3, 0.12), (0.7, 0.85, 0.9), (0.15, 0.3, 0.6)]
_CERAMIC = [(0.93, 0.92, 0.88), (0.2, 0.35, 0.6), (0.75, 0.3, 0.2), (0.3, 0.3, 0.32), (0.55, 0.7, 0.55)]

# An int entry reuses the base colour picked for that part id (seat and back in one fabric).
PALETTES: dict[str, tuple[list | int, ...]] = {
    "chair": (_FABRIC + _WOOD, 0, _WOOD + _METAL, 2),
    "table": (_WOOD + [(0.92, 0.92, 0.9)], _WOOD + _METAL, 1, 0),
    "lamp": (_METAL + _CERAMIC, _METAL, [(0.95, 0.9, 0.75), (0.92, 0.92, 0.9), (0.6, 0.2, 0.15)]),
    "airplane": ([(0.9, 0.9, 0.92), (0.6, 0.62, 0.65)], [(0.75, 0.76, 0.78)],
                 [(0.2, 0.3, 0.6), (0.75, 0.1, 0.1)], [(0.45, 0.45, 0.48)]),
    "mug": (_CERAMIC, 0),
    "bottle": (_GLASS, 0, [(0.85, 0.75, 0.3), (0.1, 0.1, 0.1), (0.8, 0.1, 0.1)]),
    "rocket": ([(0.92, 0.92, 0.9)], [(0.8, 0.1, 0.1), (0.15, 0.15, 0.15)],
               [(0.15, 0.15, 0.15), (0.2, 0.3, 0.6)], [(0.35, 0.35, 0.38)], 0),
    "car": (_PAINT, [(0.25, 0.35, 0.45)], [(0.08, 0.08, 0.08)], [(0.95, 0.9, 0.6)]),
    "bench": (_WOOD, _METAL + _WOOD, 0, 1),
    "guitar": ([(0.8, 0.5, 0.2), (0.6, 0.1, 0.1), (0.1, 0.1, 0.1), (0.9, 0.85, 0.7)], _WOOD, 1,
               [(0.2, 0.12, 0.08)]),
    "sofa": (_FABRIC, _FABRIC, 0, 0, _WOOD + _METAL),
    "vase": (_CERAMIC + _GLASS, _CERAMIC, 0),
}


def _colors(category: str, rng: np.random.Generator) -> np.ndarray:
    """A palette pick per part (or a tie to another part), then per-shape and per-part jitter."""
    base: list[tuple] = []
    for opts in PALETTES[category]:
        base.append(base[opts] if isinstance(opts, int) else opts[rng.integers(len(opts))])
    jitter = rng.normal(0.0, 0.03, 3) + rng.uniform(-0.05, 0.05, (len(base), 3))
    return np.clip(np.array(base, float) + jitter, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------- categories


def _chair(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    w, d, hs, ts = u(0.42, 0.6), u(0.4, 0.56), u(0.4, 0.5), u(0.03, 0.08)
    legs = rng.choice(["four", "splay", "pedestal", "sled", "three"], p=[0.4, 0.18, 0.15, 0.15, 0.12])
    round_seat = rng.random() < (0.5 if legs in ("pedestal", "three") else 0.1)
    ymid = hs - ts / 2
    if round_seat:
        a.disk("seat", (0, ymid, 0), w / 2, ts, d / 2)
    else:
        a.box("seat", (0, ymid, 0), (w, ts, d))
    lt = u(0.025, 0.05)
    round_legs = rng.random() < 0.5

    def post(p, q) -> None:
        if round_legs:
            a.rod("leg", p, q, lt / 2)
        else:
            a.beam("leg", p, q, lt)

    shrink = 0.68 if round_seat else 1.0
    xs, zs = shrink * (w / 2 - u(0.0, 0.05) - lt / 2), shrink * (d / 2 - u(0.0, 0.05) - lt / 2)
    if legs in ("four", "splay"):
        k = 0.0 if legs == "four" else u(0.12, 0.3)
        for sx in (-1, 1):
            for sz in (-1, 1):
                post((sx * xs * (1 + k), 0, sz * zs * (1 + k)), (sx * xs, ymid, sz * zs))
        if legs == "four" and rng.random() < 0.4:
            hst = u(0.08, 0.2)
            for sx in (-1, 1):
                post((sx * xs, hst, zs), (sx * xs, hst, -zs))
    elif legs == "three":
        rr = min(xs, zs)
        for ang in np.pi / 2 + 2 * np.pi / 3 * np.arange(3):
            c, s = np.cos(ang), np.sin(ang)
            post((1.45 * rr * c, 0, 1.45 * rr * s), (rr * c, ymid, rr * s))
    elif legs == "pedestal":
        a.rod("leg", (0, 0.06, 0), (0, ymid, 0), u(0.025, 0.04))
        reach, n_feet = u(0.24, 0.32), int(rng.choice([4, 5]))
        for ang in 2 * np.pi / n_feet * np.arange(n_feet) + u(0, np.pi):
            c, s = np.cos(ang), np.sin(ang)
            a.beam("leg", (0, 0.08, 0), (reach * c, 0.05, reach * s), 0.04, 0.03)
            a.ellipsoid("leg", (reach * c, 0.025, reach * s), (0.025,) * 3)
    else:  # sled: two U-shaped runners
        r = lt / 2
        for sx in (-1, 1):
            x = sx * xs
            a.capsule("leg", (x, r, zs), (x, ymid, zs), r)
            a.capsule("leg", (x, r, -zs), (x, ymid, -zs), r)
            a.capsule("leg", (x, r, zs + 0.04), (x, r, -zs - 0.04), r)

    hb, bt, tilt = u(0.3, 0.6), u(0.02, 0.06), u(0.0, 0.3)
    bw = w * (u(0.45, 0.6) if round_seat else u(0.8, 1.0))
    style = rng.choice(["solid", "slats", "spindles", "shell"], p=[0.35, 0.25, 0.15, 0.25])
    zb = -d / 2 + bt / 2 if not round_seat else -d / 2 * 0.85
    with a.frame(_rot_x(-tilt), (0, ymid, zb)):
        top = ts / 2 + hb
        if style == "solid":
            a.box("back", (0, top / 2, 0), (bw, top, bt))
            if rng.random() < 0.3:
                a.rod("back", (-bw / 2, top, 0), (bw / 2, top, 0), bt * 0.9)
        elif style == "shell":
            a.ellipsoid("back", (0, hb * 0.55, 0), (bw / 2, hb * 0.55, bt * 0.9))
            a.beam("back", (0, -ts / 2, 0), (0, hb * 0.3, 0), 0.05, bt * 0.8)
        else:
            pw = max(lt, 0.03)
            for sx in (-1, 1):
                a.beam("back", (sx * (bw / 2 - pw / 2), 0, 0), (sx * (bw / 2 - pw / 2), top, 0), pw)
            a.box("back", (0, top - 0.04, 0), (bw, 0.08, bt))
            n = int(rng.integers(2, 5))
            if style == "slats":
                for y in np.linspace(ts / 2 + 0.08, top - 0.12, n - 1):
                    a.box("back", (0, y, 0), (bw, 0.05, bt * 0.8))
            else:
                for x in np.linspace(-bw / 2, bw / 2, n + 3)[1:-1]:
                    a.rod("back", (x, 0, 0), (x, top, 0), 0.012)

    if rng.random() < 0.4:
        ha, at = u(0.16, 0.26), u(0.03, 0.06)
        arm = rng.choice(["rod", "panel", "box"])
        za, zf = -d / 2 + 0.02, d / 2 - 0.04
        for sx in (-1, 1):
            x = sx * (w / 2 - at / 2)
            if arm == "rod":
                a.capsule("arm", (x, hs + ha, zf), (x, hs + ha, za), at / 2)
                a.capsule("arm", (x, ymid, zf - 0.03), (x, hs + ha, zf - 0.03), at / 2)
            elif arm == "panel":
                a.box("arm", (x, (ymid + hs + ha) / 2, -0.01), (at, hs + ha - ymid, d * 0.9))
            else:
                a.box("arm", (x, hs + ha, 0.0), (at * 1.5, 0.03, d * 0.85))
                for z in (zf - 0.03, za + 0.05):
                    a.beam("arm", (x, ymid, z), (x, hs + ha, z), at * 0.7)


def _table(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    h, tt = u(0.42, 1.05), u(0.025, 0.06)
    shape = rng.choice(["rect", "round", "oval"], p=[0.6, 0.25, 0.15])
    if shape == "rect":
        rx = u(0.35, 0.9)
        rz = rx * u(0.45, 0.9)
        a.box("top", (0, h - tt / 2, 0), (2 * rx, tt, 2 * rz))
        legs = rng.choice(["four", "trestle", "pedestal"], p=[0.7, 0.2, 0.1])
    else:
        rx = u(0.3, 0.6) if shape == "round" else u(0.5, 0.9)
        rz = rx if shape == "round" else rx * u(0.5, 0.75)
        a.disk("top", (0, h - tt / 2, 0), rx, tt, rz)
        legs = rng.choice(["pedestal", "three", "four"], p=[0.45, 0.25, 0.3])
    ytop = h - tt / 2
    lt = u(0.03, 0.08)
    shrink = 0.68 if shape != "rect" else 1.0
    xs = shrink * (rx - u(0.0, 0.08) - lt / 2)
    zs = shrink * (rz - u(0.0, 0.08) - lt / 2)
    if legs in ("four", "three"):
        splay = u(0.0, 0.25) if rng.random() < 0.25 else 0.0
        if legs == "four":
            corners = [(sx * xs, sz * zs) for sx in (-1, 1) for sz in (-1, 1)]
        else:
            angs = np.pi / 2 + 2 * np.pi / 3 * np.arange(3)
            corners = [(xs * np.cos(t), zs * np.sin(t)) for t in angs]
        rnd = rng.random() < 0.5
        for x, z in corners:
            p, q = (x * (1 + splay), 0, z * (1 + splay)), (x, ytop, z)
            if rnd:
                a.rod("leg", p, q, lt / 2)
            else:
                a.beam("leg", p, q, lt)
        if legs == "four" and rng.random() < 0.5:
            ah = u(0.06, 0.12)
            y = ytop - tt / 2 - ah / 2
            for sx in (-1, 1):
                a.box("apron", (sx * xs, y, 0), (0.02, ah, 2 * zs))
            for sz in (-1, 1):
                a.box("apron", (0, y, sz * zs), (2 * xs, ah, 0.02))
        if legs == "four" and rng.random() < 0.3:
            a.box("shelf", (0, u(0.1, 0.3) * h, 0), (2 * xs + lt, 0.025, 2 * zs + lt))
    elif legs == "trestle":
        pt = u(0.04, 0.08)
        for sx in (-1, 1):
            x = sx * (rx - u(0.1, 0.2))
            a.box("leg", (x, ytop / 2, 0), (pt, ytop, rz))
            a.box("leg", (x, 0.03, 0), (pt * 1.4, 0.06, 1.7 * rz))
        a.box("apron", (0, u(0.2, 0.4) * h, 0), (2 * rx - 0.3, 0.06, 0.05))
    else:
        a.rod("leg", (0, 0.02, 0), (0, ytop, 0), u(0.04, 0.09))
        if rng.random() < 0.5:
            a.disk("leg", (0, 0.02, 0), 0.6 * min(rx, rz) + 0.1, 0.04)
        else:
            reach = 0.8 * min(rx, rz) + 0.05
            for ang in np.pi / 4 + np.pi / 2 * np.arange(4):
                a.beam("leg", (0, 0.04, 0), (reach * np.cos(ang), 0.03, reach * np.sin(ang)), 0.06, 0.05)
        if rng.random() < 0.3:
            a.disk("shelf", (0, u(0.25, 0.45) * h, 0), 0.6 * rx, 0.025, 0.6 * rz)


def _frustum(r0: float, r1: float, h: float) -> list[tuple[float, float]]:
    return [(0.0, 0.0), (r0, 0.0), (r1, h), (0.0, h)]


def _lamp(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["floor", "table", "desk", "arc"], p=[0.3, 0.3, 0.25, 0.15])
    rb = u(0.1, 0.2) if kind != "table" else u(0.08, 0.12)
    base_style = rng.choice(["disk", "box", "dome"])
    hb = u(0.02, 0.05)
    if base_style == "disk":
        a.disk("base", (0, hb / 2, 0), rb, hb)
    elif base_style == "box":
        a.box("base", (0, hb / 2, 0), (2 * rb, hb, 2 * rb * u(0.7, 1.0)))
    else:
        a.revolve("base", (0, 0, 0), _dome(rb, 2 * hb))
    sr = u(0.01, 0.02)
    if kind in ("floor", "table"):
        if kind == "floor":
            h = u(1.3, 1.8)
            a.rod("stem", (0, 0, 0), (0, h, 0), sr)
        else:
            h = u(0.45, 0.7)
            body_h, body_r = u(0.15, 0.3), u(0.06, 0.12)
            neck = u(0.2, 0.5)
            a.revolve("base", (0, hb * 0.5, 0), [(0, 0), (body_r * neck, 0), (body_r, body_h * 0.4),
                                                   (body_r * 0.9, body_h * 0.8), (body_r * neck, body_h),
                                                   (0, body_h)])
            a.rod("stem", (0, body_h, 0), (0, h, 0), sr)
        n_shades = 3 if kind == "floor" and rng.random() < 0.25 else 1
        shade_b, shade_h = u(0.12, 0.24), u(0.15, 0.32)
        shade_t = shade_b * u(0.45, 1.0)
        if n_shades == 1:
            y0 = h - shade_h * u(0.3, 0.7)
            if rng.random() < 0.2:
                a.revolve("shade", (0, y0, 0), _dome(shade_b, shade_h))
            else:
                a.revolve("shade", (0, y0, 0), _frustum(shade_b, shade_t, shade_h))
            a.ellipsoid("stem", (0, y0 + 0.03, 0), (0.03, 0.04, 0.03))
        else:
            sb, sh = shade_b * 0.6, shade_h * 0.6
            for ang in 2 * np.pi / 3 * np.arange(3) + u(0, np.pi):
                tip = np.array([0.3 * np.cos(ang), h + 0.1, 0.3 * np.sin(ang)])
                a.capsule("stem", (0, h - 0.15, 0), tip, sr)
                a.revolve("shade", tip - (0, sh * 0.4, 0), _frustum(sb, sb * 0.6, sh))
    elif kind == "desk":
        l1, l2 = u(0.3, 0.45), u(0.3, 0.45)
        t1, t2 = u(-0.5, 0.1), u(0.7, 1.5)
        p0 = np.array([0, hb, -0.3 * rb])
        p1 = p0 + l1 * np.array([0, np.cos(t1), np.sin(t1)])
        p2 = p1 + l2 * np.array([0, np.cos(t2), np.sin(t2)])
        for p, q in ((p0, p1), (p1, p2)):
            a.capsule("stem", p, q, sr)
        a.ellipsoid("stem", p1, (sr * 2,) * 3)
        direction = np.array([0, -np.cos(u(0.2, 0.9)), np.sin(u(0.2, 0.9))])
        direction /= np.linalg.norm(direction)
        sl = u(0.1, 0.2)
        a.revolve("shade", p2 - 0.02 * direction, _frustum(0.03, u(0.07, 0.13), sl), axis=direction)
    else:  # arc floor lamp
        h, reach = u(1.0, 1.4), u(0.5, 0.9)
        a.rod("stem", (0, 0, 0), (0, h - reach, 0), sr)
        a.arc("stem", (reach, h - reach, 0), reach, np.pi, np.pi / 2, sr, n=6)
        sb = u(0.12, 0.22)
        a.revolve("shade", (reach, h - 0.05 - sb * 0.8, 0), _dome(sb, sb * 0.8))


def _dome(r: float, h: float) -> list[tuple[float, float]]:
    """Quarter-ellipse profile: a half-ellipsoid standing on its flat base."""
    t = np.linspace(0.0, np.pi / 2, 7)[:-1]
    return [(0.0, 0.0)] + [(r * np.cos(s), h * np.sin(s)) for s in t] + [(0.0, h)]


def _airplane(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["airliner", "fighter", "prop", "glider"], p=[0.4, 0.2, 0.25, 0.15])
    length = u(1.0, 1.5)
    r = length * {"airliner": u(0.045, 0.065), "fighter": u(0.05, 0.07),
                  "prop": u(0.05, 0.07), "glider": u(0.03, 0.045)}[kind]
    nose, tail = length * (u(0.25, 0.35) if kind == "fighter" else u(0.08, 0.18)), length * u(0.2, 0.35)
    prof = [(0.0, 0.0), (0.15 * r, 0.0), (0.6 * r, 0.5 * tail), (r, tail), (r, length - nose)]
    prof += [(r * np.cos(s), length - nose + nose * np.sin(s)) for s in np.linspace(0.3, 1.3, 4)]
    prof += [(0.0, length)]
    a.revolve("fuselage", (0, 0, -length / 2), prof, axis=(0, 0, 1))

    span = length * {"airliner": u(0.8, 1.1), "fighter": u(0.45, 0.65),
                     "prop": u(0.8, 1.2), "glider": u(1.4, 1.9)}[kind]
    cr = length * {"airliner": u(0.15, 0.22), "fighter": u(0.35, 0.5),
                   "prop": u(0.1, 0.16), "glider": u(0.06, 0.1)}[kind]
    ct = cr * (u(0.05, 0.2) if kind == "fighter" else u(0.3, 0.7))
    sweep = span / 2 * {"airliner": u(0.3, 0.6), "fighter": u(0.7, 1.1),
                        "prop": u(-0.05, 0.1), "glider": u(0.0, 0.1)}[kind]
    yw = r * {"airliner": u(-0.6, -0.3), "fighter": u(-0.2, 0.1),
              "prop": u(0.5, 0.8), "glider": u(0.2, 0.7)}[kind]
    dihedral = u(0.0, 0.1)
    z0 = length * (u(0.05, 0.2) if kind != "fighter" else u(-0.05, 0.1))
    tw = r * 0.35

    def wing(part: str, y: float, z: float, half: float, c0: float, c1: float, sw: float,
             dh: float, thick: float) -> None:
        for sx in (-1, 1):
            pts = []
            for x, zl, c, yy, t in ((0.0, z, c0, y, thick), (sx * half, z - sw, c1, y + dh * half, thick * 0.5)):
                pts += [(x, yy + s * t / 2, zz) for s in (-1, 1) for zz in (zl, zl - c)]
            a.hull(part, pts)

    wing("wing", yw, z0, span / 2, cr, ct, sweep, dihedral, tw)
    zt = -length / 2 + 0.02
    hs_span, hs_c = span * u(0.25, 0.4), cr * u(0.4, 0.65)
    if kind == "fighter":
        hs_span, hs_c = span * u(0.45, 0.7), cr * u(0.3, 0.45)
    fin_h, fin_c = r * u(2.0, 3.5), hs_c * u(1.0, 1.4)
    t_tail = kind != "fighter" and rng.random() < 0.3
    fins = (-0.8 * r, 0.8 * r) if kind == "fighter" and rng.random() < 0.6 else (0.0,)
    for x in fins:
        a.hull("tail", [(x + s * tw / 2, y, z) for s in (-1, 1)
                        for y, z in ((0.0, zt + fin_c), (0.0, zt), (fin_h, zt - 0.2 * fin_c + fin_c * 0.5),
                                     (fin_h, zt - 0.2 * fin_c))])
    wing("tail", fin_h * 0.95 if t_tail else r * 0.2, zt + hs_c + 0.02, hs_span / 2, hs_c, hs_c * 0.5,
         hs_span * 0.25, 0.0, tw * 0.8)

    if kind == "airliner":
        n_eng = int(rng.choice([2, 4], p=[0.7, 0.3]))
        stations = [0.35] if n_eng == 2 else [0.28, 0.55]
        rn, ln = r * u(0.35, 0.5), cr * u(0.5, 0.8)
        for frac in stations:
            for sx in (-1, 1):
                x = sx * frac * span / 2
                zl = z0 - sweep * frac
                yc = yw + dihedral * frac * span / 2 - rn * 1.4
                a.rod("engine", (x, yc, zl + 0.3 * ln), (x, yc, zl - 0.7 * ln), rn)
                a.box("engine", (x, yc + rn, zl - 0.2 * ln), (tw * 0.6, rn * 1.2, ln * 0.6))
    elif kind == "prop":
        rn, ln = r * u(0.35, 0.5), cr * u(0.8, 1.2)
        if rng.random() < 0.6:
            for sx in (-1, 1):
                x = sx * u(0.25, 0.35) * span / 2
                a.rod("engine", (x, yw, z0 + 0.4 * ln), (x, yw, z0 - 0.6 * ln), rn)
                a.cone("engine", (x, yw, z0 + 0.4 * ln), (x, yw, z0 + 0.4 * ln + rn * 1.2), rn * 0.6)
        else:
            a.cone("engine", (0, 0, length / 2 - 0.01), (0, 0, length / 2 + r * 0.8), r * 0.35)


def _loop_handle(a: _Assembly, part: str, wall_x: Callable[[float], float], y0: float, y1: float,
                 bulge: float, tube: float, side: int = 1, squash: tuple | None = None) -> None:
    """Arc from the wall at ``y0`` to the wall at ``y1``; ``bulge`` > 0 grows it past a half circle.

    ``wall_x(y)`` is the mid-wall radius: a tube no thicker than the wall never pokes inside.
    """
    yc, half = (y0 + y1) / 2, (y1 - y0) / 2
    rad = float(np.hypot(half, bulge))
    phi = np.pi / 2 + np.arcsin(bulge / rad)
    centre = np.array([side * (wall_x(yc) + bulge), yc, 0.0])
    a.arc(part, centre, rad, -phi, phi, tube, e1=(side, 0, 0), n=7, squash=squash)
    for y in (y0, y1):
        if abs(wall_x(y) - wall_x(yc)) > 1e-6:
            a.capsule(part, (side * wall_x(yc), y, 0), (side * wall_x(y), y, 0), tube, squash)


def _mug(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    rb = u(0.3, 0.45)
    rt = rb * u(0.95, 1.25)
    h = 2 * rb * u(0.75, 1.5)
    t = rb * u(0.12, 0.2)
    a.revolve("body", (0, 0, 0), [(0, 0), (rb, 0), (rt, h), (rt - t, h), (rb - t, t), (0, t)])
    tube = t * u(0.38, 0.5)
    widen = (np.array([0, 0, 1.0]), u(1.0, 1.8))
    y0, y1 = h * u(0.12, 0.3), h * u(0.7, 0.88)

    def wall_x(y: float) -> float:
        return rb + (rt - rb) * y / h - t / 2

    if rng.random() < 0.65:
        _loop_handle(a, "handle", wall_x, y0, y1, u(0.0, 0.8) * (y1 - y0) / 2, tube, squash=widen)
    else:
        x = max(wall_x(y0), wall_x(y1)) + u(0.25, 0.45) * h
        corners = [(wall_x(y1), y1, 0), (x, y1, 0), (x, y0, 0), (wall_x(y0), y0, 0)]
        for p, q in zip(corners[:-1], corners[1:]):
            a.capsule("handle", p, q, tube, widen)


def _bottle(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["wine", "soda", "square", "flask"], p=[0.35, 0.3, 0.15, 0.2])
    rad = u(0.08, 0.14)
    hb = rad * {"wine": u(3.0, 4.5), "soda": u(2.5, 4.0), "square": u(2.0, 3.2), "flask": u(1.4, 2.2)}[kind]
    rn = rad * {"wine": u(0.25, 0.35), "soda": u(0.3, 0.42), "square": u(0.25, 0.4), "flask": u(0.2, 0.3)}[kind]
    sh = rad * {"wine": u(0.8, 1.5), "soda": u(0.6, 1.2), "square": u(0.2, 0.5), "flask": u(0.3, 0.6)}[kind]
    nl = rad * {"wine": u(1.5, 2.5), "soda": u(0.6, 1.2), "square": u(0.5, 1.0), "flask": u(1.0, 2.0)}[kind]
    if kind == "square":
        depth = u(0.6, 1.0)
        a.box("body", (0, hb / 2, 0), (2 * rad, hb, 2 * rad * depth))
        a.hull("body", [(x * s, y, z * s * k) for y, s, k in ((hb - 0.01, rad, depth), (hb + sh, rn, 1.0))
                        for x in (-1, 1) for z in (-1, 1)])
    else:
        prof = [(0.0, 0.0), (rad * 0.9, 0.0), (rad, 0.03 * hb)]
        if kind == "soda":
            waist = u(0.8, 0.95)
            prof += [(rad, 0.3 * hb), (rad * waist, 0.5 * hb), (rad, 0.7 * hb)]
        if kind == "flask":
            prof = [(0.0, 0.0), (rad * 0.5, 0.0)] + [(rad * np.sin(s), hb * 0.5 * (1 - np.cos(s)))
                                                   for s in np.linspace(0.6, np.pi - 0.6, 6)]
        else:
            prof += [(rad, hb)]
        top = prof[-1][1]
        prof += [(rn + (prof[-1][0] - rn) * np.cos(s) ** 2, top + sh * np.sin(s))
                 for s in np.linspace(0.3, np.pi / 2, 4)]
        prof += [(0.0, top + sh)]
        a.revolve("body", (0, 0, 0), prof)
        hb = top
    y = hb + sh
    a.rod("neck", (0, y - 0.02, 0), (0, y + nl, 0), rn)
    a.torus("neck", (0, y + nl - 0.5 * rn * 0.3, 0), rn, rn * 0.3)
    if rng.random() < 0.75:
        a.rod("cap", (0, y + nl - 0.3 * rn, 0), (0, y + nl + u(0.6, 2.0) * rn, 0), rn * u(1.1, 1.3))


def _rocket(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    r = u(0.06, 0.1)
    hb = r * u(6.0, 12.0)
    ye = r * u(0.4, 0.8)
    a.rod("body", (0, ye, 0), (0, ye + hb, 0), r)
    top, rt = ye + hb, r
    if rng.random() < 0.35:
        r2, h2 = r * u(0.6, 0.85), r * u(2.0, 4.0)
        a.revolve("body", (0, top - 0.01, 0), _frustum(r, r2, r * 0.6))
        a.rod("body", (0, top + r * 0.6 - 0.02, 0), (0, top + r * 0.6 + h2, 0), r2)
        top, rt = top + r * 0.6 + h2, r2
    nl = rt * u(2.0, 4.5)
    if rng.random() < 0.4:
        a.cone("nose", (0, top - 0.01, 0), (0, top + nl, 0), rt)
    else:
        s = np.linspace(0.0, 1.0, 8)
        a.revolve("nose", (0, top - 0.01, 0), [(0, 0)] + [(rt * np.sqrt(1 - v**1.6), nl * v) for v in s[:-1]]
                  + [(0, nl)])
    n_boost = int(rng.choice([0, 2, 4], p=[0.55, 0.3, 0.15]))
    n_eng = int(rng.choice([1, 3, 4], p=[0.6, 0.2, 0.2]))
    spots = [(0.0, 0.0)] if n_eng == 1 else [(0.5 * r * np.cos(t), 0.5 * r * np.sin(t))
                                               for t in 2 * np.pi / n_eng * np.arange(n_eng)]
    er = r * (0.8 if n_eng == 1 else 0.42)
    for x, z in spots:
        a.revolve("engine", (x, 0, z), _frustum(er, er * 0.45, ye + 0.02))
    if n_boost == 0 or rng.random() < 0.3:
        n_fin = int(rng.choice([3, 4]))
        span, fc = r * u(1.0, 2.5), r * u(2.0, 4.0)
        sweep = u(0.0, 1.0) * fc
        for ang in 2 * np.pi / n_fin * np.arange(n_fin) + np.pi / 4:
            out = np.array([np.cos(ang), 0, np.sin(ang)])
            side = np.array([-np.sin(ang), 0, np.cos(ang)]) * r * 0.12
            root0 = out * r * 0.8 + (0, ye, 0)
            tip_lo = out * (r + span) + (0, ye - r * 0.3 + sweep * 0.3, 0)
            pts = [root0, root0 + (0, fc, 0), tip_lo, tip_lo + (0, fc * 0.4, 0)]
            a.hull("fin", [p + s * side for p in pts for s in (-1, 1)])
    rbst = r * u(0.35, 0.55)
    hbst = hb * u(0.45, 0.75)
    for ang in 2 * np.pi / max(n_boost, 1) * np.arange(n_boost):
        c = np.array([(r + rbst * 0.9) * np.cos(ang), 0, (r + rbst * 0.9) * np.sin(ang)])
        a.rod("booster", c + (0, ye * 0.7, 0), c + (0, ye + hbst, 0), rbst)
        a.cone("booster", c + (0, ye + hbst - 0.01, 0), c + (0, ye + hbst + rbst * 2.5, 0), rbst)
        a.revolve("booster", c, _frustum(rbst * 0.8, rbst * 0.4, ye * 0.7 + 0.01))


def _car(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["sedan", "hatch", "suv", "pickup", "sports"], p=[0.3, 0.2, 0.2, 0.15, 0.15])
    length = u(3.6, 5.0)
    w = u(1.6, 2.0)
    clear = {"suv": u(0.25, 0.35), "pickup": u(0.25, 0.35), "sports": u(0.1, 0.15)}.get(kind, u(0.14, 0.2))
    hb = {"suv": u(0.6, 0.8), "pickup": u(0.6, 0.8), "sports": u(0.35, 0.5)}.get(kind, u(0.45, 0.6))
    hc = {"suv": u(0.6, 0.8), "sports": u(0.3, 0.4)}.get(kind, u(0.4, 0.55))
    wr = u(0.3, 0.42)
    hood = u(0.05, 0.15)
    y0, y1 = clear, clear + hb
    zf, zb = length / 2, -length / 2
    a.hull("body", [(sx * w / 2, y, z) for sx in (-1, 1) for y, z in
                    ((y0, zf - 0.2), (y0, zb + 0.1), (y1 - hood, zf), (y1, zf - 0.6), (y1, zb), (y0 + 0.2, zb))])
    fr, bk = {"sedan": (u(0.15, 0.3), u(-0.3, -0.15)), "hatch": (u(0.15, 0.3), u(-0.5, -0.42)),
              "suv": (u(0.2, 0.3), u(-0.5, -0.45)), "pickup": (u(0.25, 0.3), u(-0.05, 0.05)),
              "sports": (u(0.05, 0.2), u(-0.3, -0.2))}[kind]
    c0, c1 = fr * length, bk * length
    slope_f, slope_b = u(0.3, 0.6), u(0.05, 0.5) if kind not in ("suv", "hatch") else u(0.0, 0.15)
    cw = w * u(0.82, 0.92)
    a.hull("cabin", [(sx * s, y, z) for sx in (-1, 1) for s, y, z in
                     ((w / 2 * 0.98, y1 - 0.02, c0), (w / 2 * 0.98, y1 - 0.02, c1),
                      (cw / 2, y1 + hc, c0 - slope_f * hc * 1.5), (cw / 2, y1 + hc, c1 + slope_b * hc))])
    if kind == "pickup":
        bed, zc, wall = abs(zb - c1) - 0.05, (zb + c1 - 0.05) / 2, 0.06
        for sx in (-1, 1):
            a.box("body", (sx * (w / 2 - wall / 2), y1 + 0.15, zc), (wall, 0.32, bed))
        a.box("body", (0, y1 + 0.15, zb + wall / 2), (w, 0.32, wall))
    axle = length / 2 - u(0.6, 0.9)
    ww = u(0.2, 0.3)
    for sz in (-1, 1):
        for sx in (-1, 1):
            x = sx * (w / 2 - ww / 2 + 0.05)
            a.rod("wheel", (x - ww / 2, wr, sz * axle), (x + ww / 2, wr, sz * axle), wr)
    ly = y1 - hood - 0.12
    for sx in (-1, 1):
        a.box("light", (sx * w * 0.35, ly, zf - 0.06), (w * 0.18, 0.1, 0.14))
        a.box("light", (sx * w * 0.38, y0 + 0.35, zb + 0.03), (w * 0.14, 0.1, 0.08))


def _bench(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    length, d, hs, ts = u(1.0, 2.2), u(0.3, 0.55), u(0.38, 0.5), u(0.04, 0.08)
    ymid = hs - ts / 2
    if rng.random() < 0.5:
        a.box("seat", (0, ymid, 0), (length, ts, d))
    else:
        n = int(rng.integers(3, 6))
        sw = d / n * 0.8
        for z in np.linspace(-d / 2 + sw / 2, d / 2 - sw / 2, n):
            a.box("seat", (0, ymid, z), (length, ts, sw))
    legs = rng.choice(["posts", "panels", "aframe"], p=[0.5, 0.3, 0.2])
    xe = length / 2 - u(0.05, 0.2)
    lt = u(0.04, 0.08)
    if legs == "posts":
        xs = [-xe, xe] if length < 1.6 else [-xe, 0.0, xe]
        for x in xs:
            for sz in (-1, 1):
                a.beam("leg", (x, 0, sz * (d / 2 - lt)), (x, ymid, sz * (d / 2 - lt)), lt)
            if rng.random() < 0.5:
                a.beam("leg", (x, 0.12, -d / 2 + lt), (x, 0.12, d / 2 - lt), lt * 0.7)
    elif legs == "panels":
        for sx in (-1, 1):
            a.box("leg", (sx * xe, ymid / 2, 0), (lt, ymid, d * u(0.8, 1.0)))
    else:
        for sx in (-1, 1):
            for sz in (-1, 1):
                a.beam("leg", (sx * xe, 0, sz * d * 0.55), (sx * xe, ymid, -sz * d * 0.15), lt * 0.8)
    if rng.random() < 0.6:
        hb, tilt = u(0.25, 0.5), u(0.0, 0.3)
        with a.frame(_rot_x(-tilt), (0, ymid, -d / 2 + 0.03)):
            for x in ([-xe, xe] if length < 1.6 else [-xe, 0.0, xe]):
                a.beam("back", (x, 0, 0), (x, ts / 2 + hb, 0), 0.05)
            n = int(rng.integers(1, 4))
            bh = hb / n * 0.6
            for y in np.linspace(ts / 2 + hb - bh / 2, ts / 2 + hb * 0.35, n):
                a.box("back", (0, y, 0.03), (length * 0.98, bh, 0.03))
    if rng.random() < 0.35:
        ha = u(0.18, 0.28)
        for sx in (-1, 1):
            x = sx * (length / 2 - 0.03)
            a.box("arm", (x, hs + ha, 0), (0.06, 0.04, d * 0.9))
            a.beam("arm", (x, ymid, d * 0.3), (x, hs + ha, d * 0.3), 0.04)


def _guitar(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["acoustic", "electric", "bass", "ukulele"], p=[0.35, 0.35, 0.15, 0.15])
    scale = 0.6 if kind == "ukulele" else 1.0
    rx = scale * (u(0.18, 0.23) if kind in ("acoustic", "ukulele") else u(0.15, 0.19))
    ry = rx * u(0.95, 1.15)
    thick = scale * (u(0.08, 0.12) if kind in ("acoustic", "ukulele") else u(0.04, 0.055))
    a.rod("body", (0, 0, -thick / 2), (0, 0, thick / 2), rx, ry)
    if kind in ("acoustic", "ukulele"):
        r2 = rx * u(0.7, 0.82)
        yu = ry * u(0.85, 1.0)
        a.rod("body", (0, yu, -thick / 2), (0, yu, thick / 2), r2, r2 * u(0.9, 1.05))
        top = yu + r2 * 0.9
    else:
        yu = ry * u(0.5, 0.7)
        top = yu + rx * 0.45
        a.rod("body", (0, yu * 0.8, -thick / 2), (0, yu * 0.8, thick / 2), rx * 0.8, rx * 0.7)
        for sx, grow in ((-1, u(0.9, 1.3)), (1, u(0.5, 1.0))):
            tip = np.array([sx * rx * 0.55, yu + rx * 0.55 * grow, 0.0])
            flat = ((0, 0, 1), thick / (rx * 0.6))  # horns as thick as the body
            a.capsule("body", (sx * rx * 0.45, yu * 0.4, 0), tip, rx * 0.3, squash=flat)
    nl = scale * (u(0.42, 0.5) if kind != "bass" else u(0.6, 0.75))
    nw = scale * u(0.045, 0.06)
    a.box("neck", (0, top + nl / 2 - 0.05, thick * 0.3), (nw, nl + 0.1, 0.025))
    yh = top + nl - 0.05
    hl = scale * u(0.14, 0.2)
    with a.frame(_rot_x(-u(0.0, 0.25)), (0, yh, thick * 0.3)):  # headstock leans back
        a.box("head", (0, hl / 2, 0), (nw * u(1.3, 1.8), hl, 0.02))
        pegs = 4 if kind in ("bass", "ukulele") else 6
        inline = kind == "electric" and rng.random() < 0.6
        for i in range(pegs):
            if inline:
                y, sx = hl * (0.15 + 0.75 * i / (pegs - 1)), -1
            else:
                y, sx = hl * (0.25 + 0.6 * (i // 2) / max(pegs // 2 - 1, 1)), (-1) ** i
            a.rod("head", (0, y, 0), (sx * (nw * 0.9 + 0.04), y, 0), 0.008)
    a.box("bridge", (0, -ry * u(0.3, 0.5), thick / 2 + 0.005), (rx * 0.6, 0.03, 0.02))


def _sofa(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    w, d = u(1.4, 2.6), u(0.75, 1.0)
    hl = u(0.0, 0.15) if rng.random() < 0.7 else 0.0
    hb = u(0.2, 0.35)
    a.box("base", (0, hl + hb / 2, 0), (w, hb, d))
    if hl > 0:
        for sx in (-1, 1):
            for sz in (-1, 1):
                a.beam("leg", (sx * (w / 2 - 0.06), 0, sz * (d / 2 - 0.06)),
                       (sx * (w / 2 - 0.06), hl + 0.02, sz * (d / 2 - 0.06)), 0.05)
    bt, bh = u(0.15, 0.25), u(0.35, 0.6)
    ytop = hl + hb
    arms = rng.choice(["box", "rolled", "none"], p=[0.45, 0.35, 0.2])
    at, ah = (u(0.12, 0.22), u(0.15, 0.3)) if arms != "none" else (0.0, 0.0)
    inner = w - 2 * at
    n_cush = int(rng.choice([1, 2, 3]))
    ct = u(0.08, 0.16)
    cw = inner / n_cush
    for i in range(n_cush):
        x = -inner / 2 + cw * (i + 0.5)
        a.box("cushion", (x, ytop + ct / 2 - 0.01, bt / 2), (cw * 0.97, ct, d - bt - 0.02))
    a.box("back", (0, ytop + bh / 2 - 0.01, -d / 2 + bt / 2), (w, bh, bt))
    if rng.random() < 0.4:
        for i in range(n_cush):
            x = -inner / 2 + cw * (i + 0.5)
            a.box("cushion", (x, ytop + ct + bh * 0.4, -d / 2 + bt + 0.06), (cw * 0.95, bh * 0.6, 0.14))
    if rng.random() < 0.2:
        side = rng.choice([-1, 1])
        ext = u(0.5, 0.8)
        a.box("base", (side * (w / 2 - at - cw / 2), hl + hb / 2, d / 2 + ext / 2), (cw + 0.01, hb, ext))
        a.box("cushion", (side * (w / 2 - at - cw / 2), ytop + ct / 2 - 0.01, d / 2 + ext / 2 - 0.02),
              (cw * 0.97, ct, ext))
    for sx in (-1, 1) if arms != "none" else ():
        x = sx * (w / 2 - at / 2)
        a.box("arm", (x, ytop + ah / 2 - 0.01, 0.0), (at, ah, d))
        if arms == "rolled":
            a.rod("arm", (x, ytop + ah, d / 2), (x, ytop + ah, -d / 2), at * 0.6)


def _vase(a: _Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    h = u(0.5, 1.0)
    ys = np.linspace(0.0, h, 12)
    base_r = u(0.12, 0.22)
    belly = np.sin(np.pi * (ys / h) ** u(0.6, 1.4))
    radii = base_r * (1 + u(0.2, 0.9) * belly) * (1 - u(0.0, 0.5) * (ys / h) ** 3)
    if rng.random() < 0.6:  # flared lip
        radii[-2:] *= (1.0, u(1.1, 1.5))
    radii[0] = base_r * u(0.5, 0.95)
    t = base_r * u(0.1, 0.16)
    outer = list(zip(radii, ys))
    inner = [(max(r - t, 0.02), y) for r, y in outer[::-1] if y > t]
    a.revolve("body", (0, 0, 0), [(0.0, 0.0)] + outer + inner + [(0.0, t)])
    if rng.random() < 0.5:
        a.disk("foot", (0, 0.015, 0), radii[0] * u(1.05, 1.4), 0.03)
    if rng.random() < 0.35:
        y0, y1 = u(0.35, 0.55) * h, u(0.75, 0.9) * h
        bulge = u(0.0, 0.6) * (y1 - y0) / 2

        def wall_x(y: float) -> float:
            return float(np.interp(y, ys, radii)) - t / 2

        for side in (-1, 1):
            _loop_handle(a, "handle", wall_x, y0, y1, bulge, t * 0.45, side)


_BUILDERS: dict[str, Callable[[_Assembly, np.random.Generator], None]] = {
    "chair": _chair, "table": _table, "lamp": _lamp, "airplane": _airplane, "mug": _mug,
    "bottle": _bottle, "rocket": _rocket, "car": _car, "bench": _bench, "guitar": _guitar,
    "sofa": _sofa, "vase": _vase,
}


# ----------------------------------------------------------------------------- generation


def _streams(seed: int, category: str, split: str, index: int) -> list[np.random.Generator]:
    """Independent streams for geometry, colours and sampling, all from the item's identity.

    Separate streams keep the geometry unchanged if, say, the number of points changes.
    """
    digest = hashlib.sha256(_identity(seed, category, split, index).encode()).digest()
    entropy = np.frombuffer(digest, dtype=np.uint32)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(3)]


def _identity(seed: int, category: str, split: str, index: int) -> str:
    return f"{GENERATOR_VERSION}|{seed}|{category}|{split}|{index}"


def _sample_surface(verts: np.ndarray, faces: np.ndarray, face_inst: np.ndarray, solids: list[_Solid],
                    n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted points on the union's surface: samples covered by another part are dropped."""
    tri = verts[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    cdf = np.cumsum(area) / area.sum()
    pts_kept, faces_kept, have = [], [], 0
    for _ in range(10):
        m = 2 * (n - have) + 64
        fi = np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), len(faces) - 1)
        s1, r2 = np.sqrt(rng.random(m)), rng.random(m)
        w = np.stack([1 - s1, s1 * (1 - r2), s1 * r2], axis=1)
        p = np.einsum("mk,mkd->md", w, tri[fi])
        covered = np.zeros(m, dtype=bool)
        for j, solid in enumerate(solids):
            covered |= solid.contains(p) & (face_inst[fi] != j)
        pts_kept.append(p[~covered])
        faces_kept.append(fi[~covered])
        have += int((~covered).sum())
        if have >= n:
            return np.concatenate(pts_kept)[:n], np.concatenate(faces_kept)[:n]
    raise RuntimeError("procshapes: could not sample enough visible surface points")


def _voxelize(solids: list[_Solid], max_norm: float, res: int) -> np.ndarray:
    """Occupancy of voxel centres over [-1, 1]^3 of the shape scaled into the unit sphere."""
    g = (np.arange(res) + 0.5) / res * 2.0 - 1.0
    centres = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3) * max_norm
    occ = np.zeros(len(centres), dtype=bool)
    for solid in solids:
        occ |= solid.contains(centres, margin=0.0)
    return occ.reshape(res, res, res)


def generate(category: str, seed: int, split: str, index: int, voxel_res: int = VOXEL_RES) -> Shape:
    """Build one shape from its identity; ``voxel_res=0`` skips the occupancy grid.

    Vertices are centred on their bounding box with the longest side 1 (y up, +z front);
    ``voxels`` are on the shape rescaled into the unit sphere, as nfbench normalizes it.
    """
    if category not in _BUILDERS:
        raise KeyError(f"unknown procshapes category {category!r}; valid: {', '.join(CATEGORIES)}")
    geom_rng, color_rng, sample_rng = _streams(seed, category, split, index)
    asm = _Assembly(category)
    _BUILDERS[category](asm, geom_rng)
    solids = asm.solids

    verts, faces, parts, inst, start = [], [], [], [], 0
    for j, solid in enumerate(solids):
        lv, lf = solid.local_mesh
        verts.append(lv @ solid.linear.T + solid.offset)
        faces.append(lf + start)
        parts.append(np.full(len(lf), solid.part, np.int64))
        inst.append(np.full(len(lf), j, np.int64))
        start += len(lv)
    v = np.concatenate(verts)
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre, scale = (lo + hi) / 2, 1.0 / float((hi - lo).max())
    v = (v - centre) * scale
    for solid in solids:
        solid.linear = solid.linear * scale
        solid.offset = (solid.offset - centre) * scale
    f, face_parts, face_inst = np.concatenate(faces), np.concatenate(parts), np.concatenate(inst)

    points, point_faces = _sample_surface(v, f, face_inst, solids, N_POINTS, sample_rng)
    voxels = _voxelize(solids, float(np.linalg.norm(v, axis=1).max()), voxel_res) if voxel_res else None
    return Shape(
        points=points.astype(np.float32),
        vertices=v.astype(np.float32),
        faces=f,
        voxels=voxels,
        point_parts=face_parts[point_faces],
        face_parts=face_parts,
        part_colors=_colors(category, color_rng),
        extras={"face_instances": face_inst},
    )


def split_sizes(limit: int | None) -> tuple[int, int]:
    """Shapes per class in (train, test): ``limit`` and ``min(limit, max(2, limit // 3))``."""
    n = DEFAULT_LIMIT if limit is None else int(limit)
    if n < 1:
        raise ValueError(f"procshapes: limit must be >= 1, got {limit}")
    return n, min(n, max(2, n // 3))


class ProcShapes(ShapeDataset):
    """Procedural objects in 12 categories with per-face semantic part labels and colours.

    No root is needed; ``seed`` picks the whole dataset, and each item is rebuilt from its
    locator alone. See the module docstring for how overlapping parts are handled.
    """

    card = DatasetCard(
        name="procshapes",
        description=(
            "Procedural ShapeNet-like objects assembled from primitive parts in "
            f"{len(CATEGORIES)} categories ({', '.join(CATEGORIES)}), with per-face semantic "
            "part labels, part colours, surface points and 32^3 voxels. Deterministic from a seed."
        ),
        source="generated by nfbench (no download)",
        citation="nfbench procedural shapes (this package)",
        classes=len(CATEGORIES),
        field_kinds=("sdf", "udf", "occ"),
        default_field="sdf",
        default_preset="cpu",
        needs_root=False,
        layout=(
            "in memory; locator 'seed=<seed>/<class>/<split>/<index>'; per class "
            f"train=limit and test=min(limit, max(2, limit // 3)), limit defaults to {DEFAULT_LIMIT}"
        ),
    )

    def class_names(self, root: Path | None = None) -> list[str]:
        return list(CATEGORIES)

    @staticmethod
    def part_names(category: str) -> tuple[str, ...]:
        """Semantic part types of a category, indexed by the ids in ``face_parts``."""
        return PART_NAMES[category]

    def list_items(self, root: Path | None, limit: int | None, seed: int) -> list[ItemRef]:
        n_train, n_test = split_sizes(limit)
        items = []
        for label, category in enumerate(CATEGORIES):
            for split, count in (("train", n_train), ("test", n_test)):
                for i in range(count):
                    ident = _identity(seed, category, split, i)
                    items.append(ItemRef(
                        key=f"{split}/{category}/{category}_{i:04d}",
                        split=split,
                        label=label,
                        locator=f"seed={seed}/{category}/{split}/{i}",
                        fingerprint=hashlib.sha256(ident.encode()).hexdigest(),
                    ))
        return sorted(items, key=lambda it: it.key)

    def load(self, root: Path | None, item: ItemRef) -> Shape:
        match = _LOCATOR.fullmatch(item.locator)
        if match is None or match.group(2) not in _BUILDERS:
            raise DataError(item.locator,
                            "not a procshapes locator 'seed=<int>/<class>/<train|test>/<index>'")
        seed, category, split, index = match.groups()
        return generate(category, int(seed), split, int(index))
