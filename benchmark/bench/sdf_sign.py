"""Inside/outside tests for sdf supervision on damaged and raw meshes.

Run: ``python -m nfbench.bench.sdf_sign --data-root /work/shared/data``.

Part 1 (ground truth): watertight SHREC'16 meshes and CAD-like assemblies of overlapping
primitives are damaged the way raw CAD files are (deleted faces, flipped faces,
double-sided faces, inner faces, overlapping parts) and every sign method is scored on
the queries of the supervision distribution against the intact solid (the union of the
watertight parts, by their exact winding numbers).

Part 2 (raw ModelNet10 sample, no ground truth): agreement between methods, the fraction
of queries called inside, and a sanity count that must be 0: queries outside the mesh's
bounding box (and off its surface) called inside.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh

from nfbench.datasets._readers import read_obj, read_off
from nfbench.targets import MeshOracle, SamplingConfig, normalize_shape, sample_queries, sample_surface
from nfbench.targets.config import SignMethod
from nfbench.targets.inside import random_rotations, solid_angles

METHODS: tuple[SignMethod, ...] = ("parity", "vote", "flood", "flood_vote", "winding", "ray_winding", "hybrid_winding")
DAMAGES = ("clean", "holes", "flipped", "double", "inner", "sheets", "parts", "all")


@dataclass
class Part:
    """A watertight, consistently oriented triangle mesh: one solid of a case's ground truth."""

    vertices: np.ndarray
    faces: np.ndarray

    def contains(self, q: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
        """|winding number| > 1/2: exact for a closed surface, whichever way it is oriented."""
        tri = torch.from_numpy(self.vertices[self.faces])
        qt = torch.from_numpy(q)
        step = max(1, chunk // len(self.faces))
        w = torch.cat([solid_angles(qt[s : s + step], tri[:, 0], tri[:, 1], tri[:, 2]).sum(1) for s in range(0, len(q), step)])
        return (w.abs() / (4 * math.pi) > 0.5).numpy()


@dataclass
class Case:
    name: str
    damage: str
    vertices: np.ndarray
    faces: np.ndarray
    parts: list[Part]

    def truth(self, q: np.ndarray) -> np.ndarray:
        return np.any([p.contains(q) for p in self.parts], axis=0)

    def intact(self) -> tuple[np.ndarray, np.ndarray]:
        """The undamaged parts as one triangle soup."""
        offsets = np.cumsum([0] + [len(p.vertices) for p in self.parts[:-1]])
        return np.concatenate([p.vertices for p in self.parts]), np.concatenate([p.faces + o for p, o in zip(self.parts, offsets)])


# ------------------------------------------------------------------------ damage


def _holes(v: np.ndarray, f: np.ndarray, rng: np.random.Generator, frac: float = 0.03) -> tuple[np.ndarray, np.ndarray]:
    """Delete ``frac`` of the faces (at least one)."""
    drop = rng.choice(len(f), max(1, round(frac * len(f))), replace=False)
    return v, np.delete(f, drop, axis=0)


def _flipped(v: np.ndarray, f: np.ndarray, rng: np.random.Generator, frac: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Reverse the orientation of ``frac`` of the faces."""
    f = f.copy()
    flip = rng.random(len(f)) < frac
    f[flip] = f[flip][:, ::-1]
    return v, f


def _double(v: np.ndarray, f: np.ndarray, rng: np.random.Generator, frac: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Add a reversed twin to ``frac`` of the faces (most raw ModelNet files are double-sided)."""
    twins = f[rng.random(len(f)) < frac][:, ::-1]
    return v, np.concatenate([f, twins])


def _inner(v: np.ndarray, f: np.ndarray, rng: np.random.Generator, case: Case, frac: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Duplicate ``frac`` of the faces (half reversed) and add ``frac * F`` loose triangles inside the solid."""
    dup = f[rng.random(len(f)) < frac].copy()
    half = rng.random(len(dup)) < 0.5
    dup[half] = dup[half][:, ::-1]
    want = max(4, round(frac * len(f)))
    cand = rng.uniform(v.min(0), v.max(0), (40 * want, 3))
    dist = MeshOracle(*case.intact()).distance(cand)
    ok = case.truth(cand) & (dist > 0.02)
    centre, radius = cand[ok][:want], 0.9 * dist[ok][:want]
    spokes = rng.normal(size=(len(centre), 3, 3))
    spokes /= np.linalg.norm(spokes, axis=-1, keepdims=True)
    tris = (centre[:, None, :] + spokes * radius[:, None, None]).reshape(-1, 3)
    new_faces = len(v) + np.arange(len(tris)).reshape(-1, 3)
    return np.concatenate([v, tris]), np.concatenate([f, dup, new_faces])


def _sheets(v: np.ndarray, f: np.ndarray, rng: np.random.Generator, n: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Add ``n`` loose double-sided squares (ground planes, screens, decals): they bound no volume."""
    centre = rng.uniform(v.min(0), v.max(0), (n, 3))
    frame = random_rotations(n, rng)
    half = rng.uniform(0.15, 0.3, n)[:, None]
    corners = [centre + half * (su * frame[:, :, 0] + sv * frame[:, :, 1]) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    quad = np.array([[0, 1, 2], [0, 2, 3], [2, 1, 0], [3, 2, 0]])
    new_faces = (len(v) + 4 * np.arange(n)[:, None, None] + quad[None]).reshape(-1, 3)
    return np.concatenate([v, np.stack(corners, axis=1).reshape(-1, 3)]), np.concatenate([f, new_faces])


def damaged(name: str, parts: list[Part], damage: str, rng: np.random.Generator) -> Case:
    """Concatenate the parts (overlapping solids, as CAD files do) and apply ``damage``."""
    case = Case(name, damage, *Case(name, damage, np.zeros(0), np.zeros(0), parts).intact(), parts)
    v, f = case.vertices, case.faces
    steps = {"clean": [], "parts": [], "holes": ["holes"], "flipped": ["flipped"], "double": ["double"], "inner": ["inner"], "sheets": ["sheets"]}
    for step in steps.get(damage, ["holes", "flipped", "double_half", "inner", "sheets"]):
        if step == "holes":
            v, f = _holes(v, f, rng)
        elif step == "flipped":
            v, f = _flipped(v, f, rng)
        elif step == "double":
            v, f = _double(v, f, rng)
        elif step == "double_half":
            v, f = _double(v, f, rng, 0.5)
        elif step == "sheets":
            v, f = _sheets(v, f, rng)
        else:
            v, f = _inner(v, f, rng, case)
    case.vertices, case.faces = v, f
    return case


def overlapping_copy(part: Part, rng: np.random.Generator) -> Part:
    """The part shrunk to 60 % about its vertex mean and shifted: a second solid that overlaps the first."""
    c = part.vertices.mean(axis=0)
    return Part((part.vertices - c) * 0.6 + c + rng.normal(0, 0.15, 3), part.faces)


def assembly(rng: np.random.Generator) -> list[Part]:
    """3-5 overlapping boxes and cylinders with random sizes and poses, normalized as one shape."""
    meshes = []
    for _ in range(rng.integers(3, 6)):
        pose = trimesh.transformations.random_rotation_matrix(rng.random(3))
        pose[:3, 3] = rng.normal(0, 0.25, 3)
        if rng.random() < 0.5:
            meshes.append(trimesh.creation.box(extents=rng.uniform(0.1, 0.9, 3), transform=pose))
        else:
            meshes.append(trimesh.creation.cylinder(radius=rng.uniform(0.05, 0.3), height=rng.uniform(0.2, 1.0), sections=24, transform=pose))
    allv = np.concatenate([m.vertices for m in meshes])
    centre = 0.5 * (allv.min(0) + allv.max(0))
    scale = np.linalg.norm(allv - centre, axis=1).max()
    return [Part((np.asarray(m.vertices) - centre) / scale, np.asarray(m.faces, np.int64)) for m in meshes]


def shrec_parts(root: Path, limit: int) -> list[tuple[str, Part]]:
    """The first watertight train mesh of each SHREC'16 class (up to ``limit`` classes), normalized."""
    out = []
    for cls in sorted(p for p in (root / "shrec16").iterdir() if p.is_dir())[:limit]:
        for path in sorted((cls / "train").glob("*.obj")):
            shape = normalize_shape(read_obj(path), path)
            v, f = shape.vertices.astype(np.float64), shape.faces
            if trimesh.Trimesh(v, f, process=False).is_watertight:
                out.append((f"{cls.name}/{path.stem}", Part(v, f)))
                break
    return out


# ------------------------------------------------------------------------ scoring


def _time_inside(oracle_of: Callable[[], MeshOracle], q: np.ndarray, method: SignMethod, cfg: SamplingConfig, seed: int) -> tuple[np.ndarray, float]:
    """Labels and seconds, including the scene build and each method's precomputation."""
    t0 = time.perf_counter()
    labels = oracle_of().inside(q, method, np.random.default_rng(seed), cfg.sign_rays, cfg.flood_res)
    return labels, time.perf_counter() - t0


def score_cases(cases: list[Case], cfg: SamplingConfig, methods: tuple[SignMethod, ...], seed: int) -> list[dict]:
    rows = []
    for i, case in enumerate(cases):
        rng = np.random.default_rng(seed + i)
        tv, tf = case.intact()
        q = sample_queries(lambda n: sample_surface(tv, tf, n, rng)[0], cfg, rng)  # noqa: B023 (called at once, inside the iteration)
        truth = case.truth(q)
        signed = slice(0, cfg.n_queries - cfg.surface)  # on-surface queries have no sign (target 0.5 either way)
        for method in methods:
            labels, secs = _time_inside(lambda: MeshOracle(case.vertices, case.faces, case.name), q, method, cfg, seed)  # noqa: B023 (called at once, inside the iteration)
            right = labels == truth
            rows.append({"case": case.name, "damage": case.damage, "method": method, "accuracy": float(right[signed].mean()),
                         "near_accuracy": float(right[: cfg.near].mean()), "seconds": secs, "faces": len(case.faces)})
    return rows


def mesh_defects(v: np.ndarray, f: np.ndarray) -> dict[str, float]:
    """Edge statistics after merging coincident vertices: watertight, boundary / non-manifold edges, twin faces."""
    _, inv = np.unique(v, axis=0, return_inverse=True)
    f = inv.reshape(-1)[f]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    # A reversed twin has the same vertex set and the opposite cyclic order.
    rot = np.argmin(f, axis=1)
    canon = np.take_along_axis(f, (rot[:, None] + np.arange(3)) % 3, axis=1)
    rev = canon[:, [0, 2, 1]]
    both = np.concatenate([canon, rev])
    _, inverse, cnt = np.unique(both, axis=0, return_inverse=True, return_counts=True)
    has_twin = cnt[inverse[len(f):]] > 1  # the reversed face also occurs as a face
    return {"watertight": float((counts == 2).all()), "boundary_edges": float((counts == 1).mean()),
            "nonmanifold_edges": float((counts > 2).mean()), "twin_faces": float(has_twin.mean())}


def score_raw(root: Path, per_class: int, cfg: SamplingConfig, methods: tuple[SignMethod, ...], seed: int) -> tuple[list[dict], list[dict]]:
    """Per mesh and method: labels' inside fraction, time, bbox sanity; per mesh: defects; plus agreement pairs."""
    rows, meshes = [], []
    for cls in sorted(p for p in (root / "modelnet10_off_sample" / "ModelNet10").iterdir() if p.is_dir()):
        for path in sorted(cls.glob("*/*.off"))[:per_class]:
            shape = normalize_shape(read_off(path), path)
            v, f = shape.vertices.astype(np.float64), shape.faces
            rng = np.random.default_rng(seed)
            q = sample_queries(lambda n: sample_surface(v, f, n, rng)[0], cfg, rng)  # noqa: B023 (called at once, inside the iteration)
            # Outside the bounding box and off the surface: certainly outside the solid.
            off_box = np.any((q < v.min(0)) | (q > v.max(0)), axis=1) & (MeshOracle(v, f).distance(q) > 1e-4)
            labels = {}
            for method in methods:
                labels[method], secs = _time_inside(lambda: MeshOracle(v, f, path), q, method, cfg, seed)  # noqa: B023 (called at once, inside the iteration)
                rows.append({"mesh": path.name, "method": method, "seconds": secs, "inside": float(labels[method].mean()),
                             "off_box_inside": float((labels[method] & off_box).sum() / max(off_box.sum(), 1))})
            meshes.append({"mesh": path.name, "faces": len(f), **mesh_defects(v, f),
                           "agree": {f"{a}|{b}": float((labels[a] == labels[b]).mean()) for a in methods for b in methods}})
    return rows, meshes


# ------------------------------------------------------------------------ report


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report(gt_rows: list[dict], raw_rows: list[dict], raw_meshes: list[dict], methods: tuple[SignMethod, ...]) -> str:
    out = []
    groups = sorted({(r["case"].split(":")[0], r["damage"]) for r in gt_rows}, key=lambda g: (g[0], DAMAGES.index(g[1])))
    body = []
    for family, damage in groups:
        cell = []
        for m in methods:
            acc = [r["accuracy"] for r in gt_rows if r["method"] == m and r["damage"] == damage and r["case"].startswith(family + ":")]
            cell.append(f"{100 * np.mean(acc):.2f} ({100 * np.min(acc):.1f})")
        n = len({r["case"] for r in gt_rows if r["damage"] == damage and r["case"].startswith(family + ":")})
        body.append([family, damage, str(n)] + cell)
    for label, key in (("all cases", "accuracy"), ("all cases, near queries", "near_accuracy")):
        body.append([f"**{label}**", "", str(len({(r['case'], r['damage']) for r in gt_rows}))]
                    + [f"**{100 * np.mean([r[key] for r in gt_rows if r['method'] == m]):.2f}** ({100 * np.min([r[key] for r in gt_rows if r['method'] == m]):.1f})" for m in methods])
    # median: one mesh stalled by the machine must not set a method's cost
    body.append(["median seconds / mesh", "", ""] + [f"{np.median([r['seconds'] for r in gt_rows if r['method'] == m]):.2f}" for m in methods])
    out.append("### Sign accuracy against ground truth, % (worst mesh)\n\n" + _md_table(["meshes", "damage", "n"] + list(methods), body))
    if raw_rows:
        body = []
        for m in methods:
            rs = [r for r in raw_rows if r["method"] == m]
            agree = [mesh["agree"][f"{m}|{o}"] for mesh in raw_meshes for o in methods if o != m]
            body.append([m, f"{np.mean([r['seconds'] for r in rs]):.2f}", f"{np.max([r['seconds'] for r in rs]):.2f}",
                         f"{100 * np.mean([r['inside'] for r in rs]):.1f}", f"{100 * np.mean(agree):.2f}",
                         f"{100 * np.mean([r['off_box_inside'] for r in rs]):.3f}", str(sum(r["off_box_inside"] > 0 for r in rs))])
        out.append(f"### Raw ModelNet10 sample ({len(raw_meshes)} meshes)\n\n" + _md_table(
            ["method", "s / mesh", "max s", "inside %", "mean agreement with the others %", "off-box inside % (must be 0)", "meshes with off-box inside"], body))
        pair = [[a] + [f"{100 * np.mean([mesh['agree'][f'{a}|{b}'] for mesh in raw_meshes]):.2f}" for b in methods] for a in methods]
        out.append("Pairwise agreement on the raw sample, %:\n\n" + _md_table([""] + list(methods), pair))
        d = {k: np.mean([mesh[k] for mesh in raw_meshes]) for k in ("watertight", "boundary_edges", "nonmanifold_edges", "twin_faces")}
        out.append(f"Raw mesh defects (mean over meshes): watertight {100 * d['watertight']:.0f} %, boundary edges {100 * d['boundary_edges']:.1f} %, "
                   f"non-manifold edges {100 * d['nonmanifold_edges']:.1f} %, faces with a reversed twin {100 * d['twin_faces']:.1f} %, "
                   f"faces per mesh median {int(np.median([mesh['faces'] for mesh in raw_meshes]))}, max {max(mesh['faces'] for mesh in raw_meshes)}.")
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True, help="folder holding shrec16/ and modelnet10_off_sample/")
    parser.add_argument("--shrec", type=int, default=15, help="SHREC'16 classes (one watertight mesh each)")
    parser.add_argument("--assemblies", type=int, default=10, help="random overlapping-primitive assemblies")
    parser.add_argument("--raw-per-class", type=int, default=3, help="raw ModelNet10 meshes per class (0: skip)")
    parser.add_argument("--preset", default="cpu", help="sampling preset of the ground-truth part")
    parser.add_argument("--raw-preset", default="tiny", help="sampling preset of the raw part (exact winding is O(queries x faces))")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write all per-mesh numbers here")
    parser.add_argument("--from-json", type=Path, help="re-render the report from an earlier --json, running nothing")
    args = parser.parse_args(argv)
    methods = tuple(args.methods.split(","))
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        print(report(saved["ground_truth"], saved["raw"], saved["raw_meshes"], methods))
        return
    rng = np.random.default_rng(args.seed)
    cases = []
    for name, part in shrec_parts(args.data_root, args.shrec):
        for damage in DAMAGES:
            parts = [part, overlapping_copy(part, rng)] if damage in ("parts", "all") else [part]
            cases.append(damaged(f"shrec16:{name}", parts, damage, rng))
    for i in range(args.assemblies):
        parts = assembly(rng)
        for damage in ("parts", "all"):
            cases.append(damaged(f"assembly:{i}", parts, damage, rng))
    gt_rows = score_cases(cases, SamplingConfig.preset(args.preset), methods, args.seed)
    raw_rows, raw_meshes = ([], []) if args.raw_per_class == 0 else score_raw(
        args.data_root, args.raw_per_class, SamplingConfig.preset(args.raw_preset), methods, args.seed)
    print(report(gt_rows, raw_rows, raw_meshes, methods))
    if args.json:
        args.json.write_text(json.dumps({"ground_truth": gt_rows, "raw": raw_rows, "raw_meshes": raw_meshes}, indent=1))


if __name__ == "__main__":
    main()
