"""One shape from its identity: parts, mesh, colours, visible surface points and voxels.

A shape is a pure function of ``(seed, category, split, index)``, so any item can be
rebuilt on its own, in any order, by any worker. Geometry, colours and point sampling
draw from separate streams of that identity, so changing one (say, the number of
points) leaves the others as they were.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..base import Shape
from .assembly import Assembly
from .catalog import CATALOG, CATEGORIES
from .colors import part_colors
from .geometry import Solid

GENERATOR_VERSION = "procshapes-1"
N_POINTS = 2048
VOXEL_RES = 32


def identity(seed: int, category: str, split: str, index: int) -> str:
    """The string every random choice of an item derives from; also its fingerprint's input."""
    return f"{GENERATOR_VERSION}|{seed}|{category}|{split}|{index}"


def _streams(seed: int, category: str, split: str, index: int) -> list[np.random.Generator]:
    """Independent streams for geometry, colours and sampling, all from the item's identity."""
    digest = hashlib.sha256(identity(seed, category, split, index).encode()).digest()
    entropy = np.frombuffer(digest, dtype=np.uint32)
    return [np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(3)]


def _sample_surface(verts: np.ndarray, faces: np.ndarray, face_inst: np.ndarray, solids: list[Solid],
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


def _voxelize(solids: list[Solid], max_norm: float, res: int) -> np.ndarray:
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
    if category not in CATALOG:
        raise KeyError(f"unknown procshapes category {category!r}; valid: {', '.join(CATEGORIES)}")
    spec = CATALOG[category]
    geom_rng, color_rng, sample_rng = _streams(seed, category, split, index)
    asm = Assembly(spec.parts)
    spec.build(asm, geom_rng)
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
    for solid in solids:  # inside tests must see the normalized placement too
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
        part_colors=part_colors(spec.palette, color_rng),
        extras={"face_instances": face_inst},
    )
