"""Fit quality against cost, measured where the metrics resolve: the table behind the ``cpu`` preset.

Run: ``python -m nfbench.bench.fitting_table --data-root ../shared/data --n 20 --out leaderboards/fitting.md
--rows fitting_rows.json --note-file leaderboards/notes/fitting.md``.

The builds' own fit quality compares 2,048-point clouds, whose Chamfer distance and F-score
at 0.01 sit at their sampling floor (two independent samples of one sphere score about what
fitted INRs score), so they cannot rank fits. Here each fit is decoded into a dense cloud
(``--mesh-dense`` samples of the marching-cubes surface at ``--resolution`` for sdf,
``--cloud-dense`` points by gradient projection for udf) and compared through KD-trees with a
dense reference: ``--mesh-dense`` area-uniform samples of the normalized source mesh, or all
points of a source cloud. Two 10^5-sample sets of a SHREC'16 mesh are still 0.005 apart in
Chamfer distance (median over 20 meshes), 0.4 of what a 32 x 400 fit scores; the floor falls
as 1/sqrt(samples), and the default 2 x 10^6 puts it at 0.0012. Distances are taken from
``--queries`` points of each cloud to the whole other one: the floor is set by the density
of the cloud searched, the query count only sets the noise. Every median is printed beside
its floor, the same metric for an independent dense sample of the source: a second set of
mesh samples, or, for clouds (whose surface is known only through its points), the exact
distance field of the points decoded the same way as the fits.

Settings (width x steps, and the learning-rate schedule) are fitted on ``n`` test shapes per source, taken round-robin over
the classes, with the cost per INR (fitting and the build's own quality decode, not the dense
evaluation; compilation, when ``--kernels compiled``, is warmed up first and not counted).
A ranking check then fits the SHREC'16 shapes for 50, 200 and 1,000 steps with two fitting
seeds and asks whether both metrics order them by steps with gaps above the seed spread. Its
fits decay the learning rate (cosine): at a constant rate of 1e-3, 1,000-step fits collapse
on some shapes (the field falls to logit 0 everywhere), which the check counts from the final
losses of constant-rate fits.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from torch import Tensor

from nfbench.datasets.base import ItemRef, Shape, ShapeDataset
from nfbench.decode.common import FieldFn, field_fn
from nfbench.fields import FieldSpec, shared_init
from nfbench.fields.kinds import field_kind
from nfbench.fields.kinds.base import FieldKind
from nfbench.fitting.build import BuildRequest, fit_shard, int_seed, plan_items, resolve_build
from nfbench.fitting.fitter import COLLAPSE_FRACTION, Kernels, LrSchedule
from nfbench.fitting.streams import ItemStreams
from nfbench.markdown import markdown_table
from nfbench.metrics import dense_cloud_metrics
from nfbench.store.atomic import atomic_write_text
from nfbench.store.schema import ItemRecord
from nfbench.targets import normalize_shape, sample_surface

SETTINGS: list[tuple[int, int, LrSchedule]] = [
    (32, 400, "constant"), (64, 200, "constant"), (64, 400, "constant"), (128, 200, "constant"), (64, 200, "cosine")
]
"""Width, steps and learning-rate schedule of each row of the settings table."""
RANKING_STEPS = (50, 200, 1000)
RANKING_SEEDS = (0, 1)
RANKING_WIDTH = 64
RANKING_SCHEDULE: LrSchedule = "cosine"
"""The ranking fits decay the rate: at a constant rate, long SHREC'16 fits collapse (see ``collapsed``)."""
METRICS: dict[str, bool] = {"chamfer": False, "accuracy": False, "completeness": False, "f_score": True}
"""Dense metrics and whether higher is better."""
FLOOR_FRACTION = 0.2
"""A metric resolves when its floor (as an error: a distance, or 1 - F) is under this fraction of the typical fit's."""


@dataclass(frozen=True)
class Source:
    name: str
    folder: str
    field: str
    meshes: bool  # a surface to sample densely (else a cloud, compared whole)


SOURCES = (
    Source("shrec16", "shrec16", "sdf", meshes=True),
    Source("modelnet40", "modelnet40_ply_hdf5_1024", "udf", meshes=False),
)


@dataclass(frozen=True)
class Dense:
    """How fits are compared: recorded in the page."""

    mesh_points: int  # mesh sources: reference samples and decoded points
    cloud_points: int  # cloud sources: decoded points (the reference is the whole cloud)
    resolution: int
    threshold: float
    kernels: Kernels
    queries: int  # points of each cloud whose distance to the other is measured

    def points(self, source: Source) -> int:
        return self.mesh_points if source.meshes else self.cloud_points


def stratified(items: list[ItemRecord], n: int) -> list[ItemRecord]:
    """The first ``n`` items taken round-robin over classes (plans are sorted by class)."""
    rank: dict[int, int] = {}
    order = []
    for it in items:
        order.append((rank.get(it.label, 0), it.label, it))
        rank[it.label] = rank.get(it.label, 0) + 1
    return [it for _, _, it in sorted(order, key=lambda o: o[:2])][:n]


@dataclass(frozen=True)
class ShapeSet:
    """The ``n`` test shapes of one source every measurement uses, loaded and densely sampled once."""

    source: Source
    root: Path
    dataset: ShapeDataset
    items: list[ItemRecord]
    shapes: list[Shape]
    references: list[np.ndarray]


def shape_set(source: Source, root: Path, n: int, dense: Dense) -> ShapeSet:
    """Planned with seed 0, so every fitting seed fits the same shapes."""
    req = BuildRequest(source.name, root=root, field=source.field, preset="cpu")
    dataset, _, _ = resolve_build(req)
    items = stratified([it for it in plan_items(dataset, req) if it.split == "test"], n)
    shapes = [
        normalize_shape(dataset.load(root, ItemRef(it.key, it.split, it.label, it.locator, it.fingerprint)), it.locator)  # type: ignore[arg-type]
        for it in items
    ]
    refs = [dense_reference(shape, dense.points(source), np.random.default_rng(0)) for shape in shapes]
    return ShapeSet(source, root, dataset, items, shapes, refs)


def dense_reference(shape: Shape, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` area-uniform samples of a mesh, or every point of a cloud."""
    if shape.vertices is not None and shape.faces is not None:
        return sample_surface(shape.vertices, shape.faces, n, rng)[0].astype(np.float32)
    assert shape.points is not None
    return shape.points


def exact_field(kind: FieldKind, points: Tensor) -> FieldFn:
    """The field a perfect fit of clouds ``points (B, P, 3)`` would hold, as raw outputs (logits)."""

    def fn(x: Tensor) -> Tensor:
        return torch.logit(kind.source_targets({"points": points}, x).clamp(1e-6, 1 - 1e-6))

    return fn


def _per_item(decoded: Tensor, references: Sequence[np.ndarray], dense: Dense) -> list[dict[str, float]]:
    # One KD-tree per shape: trees index a single cloud, so this loop is over shapes by construction.
    return [dense_cloud_metrics(d.numpy(), r, dense.threshold, dense.queries) for d, r in zip(decoded, references, strict=True)]


def source_floor(data: ShapeSet, dense: Dense) -> dict[str, float]:
    """Median over the shapes of the dense metrics of an independent sample of the source against the reference."""
    source = data.source
    if source.meshes:
        rng = np.random.default_rng(1)
        other = [dense_reference(s, dense.points(source), rng) for s in data.shapes]
        return medians([dense_cloud_metrics(o, r, dense.threshold, dense.queries) for o, r in zip(other, data.references, strict=True)])
    kind = field_kind(source.field)
    points = torch.stack([torch.as_tensor(s.points) for s in data.shapes])
    streams = ItemStreams([int_seed("floor", i) for i in range(len(data.shapes))])
    decoded = kind.decode_points(exact_field(kind, points), len(data.shapes), dense.points(source), dense.resolution, generator=streams)
    return medians(_per_item(decoded, data.references, dense))


def fit_and_measure(
    data: ShapeSet, hidden: int, steps: int, seed: int, dense: Dense, device: torch.device,
    lr_schedule: LrSchedule = "constant", measure_dense: bool = True,
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Fit the test shapes with one setting and fitting seed; per shape, the final fitting loss and
    (unless ``measure_dense`` is off) the dense metrics; and the cost per INR."""
    source, root, items, n = data.source, data.root, data.items, len(data.items)
    _, config, _ = resolve_build(BuildRequest(source.name, root=root, field=source.field, preset="cpu", steps=steps))
    spec = FieldSpec(**(config.field.model_dump() | {"hidden": hidden}))
    fit = config.fit.model_copy(update={"kernels": dense.kernels, "lr_schedule": lr_schedule})
    config = config.model_copy(update={"field": spec, "fit": fit, "seed": seed})
    kind = field_kind(source.field)
    init = shared_init(spec, config.seed)
    chunk = config.fit.chunk_size
    chunks = [items[s : s + chunk] for s in range(0, n, chunk)]
    if dense.kernels == "compiled":  # compile every chunk shape outside the timed region
        warm = config.model_copy(update={"fit": config.fit.model_copy(update={"steps": 2})})
        for part in chunks:
            fit_shard(data.dataset, root, warm, init, part, device)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    shards = [fit_shard(data.dataset, root, config, init, part, device) for part in chunks]
    cost = {
        "params": spec.n_params, "CPU s/INR": (time.process_time() - cpu0) / n, "wall s/INR": (time.perf_counter() - wall0) / n
    }
    losses = [{"fit_loss": it.fit["loss"]} for _, _, fitted in shards for it in fitted]
    if not measure_dense:
        return losses, cost
    metrics: list[dict[str, float]] = []
    for part, (params, _, _) in zip(chunks, shards, strict=True):
        decoded = kind.decode_points(
            field_fn(spec, params), len(part), dense.points(source), dense.resolution,
            generator=ItemStreams([int_seed(seed, "dense", it.key) for it in part]),
        )
        metrics += _per_item(decoded, data.references[len(metrics) : len(metrics) + len(part)], dense)
    return [loss | m for loss, m in zip(losses, metrics, strict=True)], cost


def medians(per_item: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(v) for k, v in pd.DataFrame(per_item).median().items()}


def as_error(metric: str, value: float) -> float:
    """Distances are errors already; an F-score's error is ``1 - F``."""
    return 1 - value if METRICS[metric] else value


def resolving(floor: dict[str, float], typical: dict[str, float]) -> dict[str, bool]:
    """Whether each metric's floor error is under ``FLOOR_FRACTION`` of the typical fit's error."""
    return {m: as_error(m, floor[m]) < FLOOR_FRACTION * as_error(m, typical[m]) for m in METRICS}


def ranking_verdicts(rows: pd.DataFrame, steps: Sequence[int] = RANKING_STEPS) -> dict[str, str]:
    """Per metric, whether fits of more steps score better, each gap larger than the spread over seeds.

    ``rows`` holds one median per (steps, seed) and metric. The gap between consecutive step
    counts is the change of the seed-mean in the metric's good direction; the spread is the
    largest range over seeds at either step count.
    """
    verdicts = {}
    for metric, higher in METRICS.items():
        by_steps = rows.groupby("steps")[metric]
        mean, spread = by_steps.mean(), by_steps.max() - by_steps.min()
        notes, ok = [], True
        for a, b in zip(steps, steps[1:]):
            gap = (mean[b] - mean[a]) * (1 if higher else -1)
            noise = max(spread[a], spread[b])
            ok &= bool(gap > noise)
            notes.append(f"{a}->{b} steps: gap {gap:.3g} vs seed spread {noise:.3g}")
        verdicts[metric] = ("ranked" if ok else "NOT ranked") + " (" + "; ".join(notes) + ")"
    return verdicts


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _row_key(source: Source, hidden: int, steps: int, seed: int, n: int, dense: Dense, variant: str = "") -> str:
    """``variant`` names what differs from a settings row (a schedule, a loss-only fit); rows without one keep
    the keys they were first measured under."""
    key = [source.name, hidden, steps, seed, n, dense.points(source), dense.resolution, dense.threshold, dense.kernels, dense.queries]
    return json.dumps(key + ([variant] if variant else []))


class Rows:
    """Finished measurements by key, saved after each one, so that a stopped run resumes.

    The file is read again before each measurement and merged before each write, so
    processes measuring different ``--part``s can share it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.done: dict[str, dict] = {}
        self._merge()

    def _merge(self) -> None:
        if self.path and self.path.exists():
            self.done |= json.loads(self.path.read_text())

    def get(self, key: str, compute: Callable[[], dict]) -> dict:
        self._merge()
        if key not in self.done:
            value = compute()
            self._merge()
            self.done[key] = value
            Console(stderr=True).print(key, {k: v for k, v in value.items() if k != "items"})
            if self.path:
                atomic_write_text(self.path, json.dumps(self.done, indent=1))
        return self.done[key]


def _measure(
    data: ShapeSet, hidden: int, steps: int, seed: int, dense: Dense, lr_schedule: LrSchedule = "constant", measure_dense: bool = True
) -> dict:
    per_item, cost = fit_and_measure(data, hidden, steps, seed, dense, torch.device("cpu"), lr_schedule, measure_dense)
    return {"medians": medians(per_item), "cost": cost, "items": per_item}


def collapsed(items: list[dict[str, float]]) -> int:
    """Fits whose final BCE is within ``1 - COLLAPSE_FRACTION`` of ln 2, the loss of logit 0 everywhere: the
    fitter's ``collapsed_fits`` test for sdf fields, applied to losses stored before the fitter flagged it."""
    return sum(it["fit_loss"] >= COLLAPSE_FRACTION * math.log(2) for it in items)


def _cells(res: dict, floor: dict[str, float]) -> list[str]:
    return [f"{_fmt(res['medians'][m])} [{_fmt(floor[m])}]" for m in METRICS]


def _floor_lines(source: Source, floor: dict[str, float], typical: dict[str, float]) -> list[str]:
    ok = resolving(floor, typical)
    parts = [
        f"{m} floor {_fmt(as_error(m, floor[m]))} vs typical {_fmt(as_error(m, typical[m]))}: "
        + ("resolves" if ok[m] else f"does NOT resolve (floor above {FLOOR_FRACTION:g} of typical)")
        for m in METRICS
    ]
    return [f"- {source.name} (errors; F-score as 1 - F): " + "; ".join(parts) + "."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--n", type=int, default=20, help="test shapes per source")
    # 2M: the two-sample Chamfer floor falls as 1/sqrt(samples) (0.0053 at 100K, 0.0017 at 1M on
    # SHREC'16), and at 1M it was still just above a fifth of the cpu preset's Chamfer.
    parser.add_argument("--mesh-dense", type=int, default=2_000_000, help="mesh sources: reference samples and decoded points")
    parser.add_argument("--cloud-dense", type=int, default=100_000, help="cloud sources: decoded points")
    parser.add_argument("--resolution", type=int, default=128, help="marching-cubes grid of sdf decoding")
    parser.add_argument("--threshold", type=float, default=0.01, help="F-score distance")
    parser.add_argument(
        "--queries", type=int, default=100_000,
        help="points of each cloud whose distance to the whole other cloud is measured (sets noise, not the floor)",
    )
    parser.add_argument("--kernels", choices=get_args(Kernels), default="compiled")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rows", type=Path, default=None, help="JSON of finished measurements: reused, so a stopped run resumes")
    parser.add_argument(
        "--part", choices=["all", "settings", "ranking"], default="all",
        help="measure only the settings grid or the ranking check (workers sharing --rows); the page needs all",
    )
    parser.add_argument(
        "--ranking-seed", type=int, choices=RANKING_SEEDS, default=None,
        help="with --part ranking: measure only this fitting seed's rows (one worker per seed)",
    )
    parser.add_argument("--note-file", type=Path, default=None, help="hand-written text the page ends with")
    args = parser.parse_args()
    dense = Dense(args.mesh_dense, args.cloud_dense, args.resolution, args.threshold, args.kernels, args.queries)
    rows = Rows(args.rows)

    loaded: dict[str, ShapeSet] = {}

    def data_of(source: Source) -> ShapeSet:
        """Loaded on first use: a resumed run whose measurements are all done loads nothing."""
        if source.name not in loaded:
            loaded[source.name] = shape_set(source, args.data_root / source.folder, args.n, dense)
        return loaded[source.name]

    def measured(source: Source, hidden: int, steps: int, seed: int, schedule: LrSchedule = "constant") -> dict:
        key = _row_key(source, hidden, steps, seed, args.n, dense, "" if schedule == "constant" else schedule)
        return rows.get(key, lambda: _measure(data_of(source), hidden, steps, seed, dense, schedule))

    def loss_only(source: Source, hidden: int, steps: int, seed: int) -> dict:
        """A constant-rate fit's final losses alone: enough to count collapsed fits, whose dense metrics
        would cost a KD-tree search over the whole reference for every stray point."""
        key = _row_key(source, hidden, steps, seed, args.n, dense, "loss-only")
        return rows.get(key, lambda: _measure(data_of(source), hidden, steps, seed, dense, measure_dense=False))

    def floor(source: Source) -> dict[str, float]:
        return rows.get(_row_key(source, 0, 0, -1, args.n, dense), lambda: source_floor(data_of(source), dense))

    def ranking(seeds: Sequence[int] = RANKING_SEEDS) -> list[dict]:
        out = []
        for steps in RANKING_STEPS:
            for seed in seeds:
                res = measured(SOURCES[0], RANKING_WIDTH, steps, seed, RANKING_SCHEDULE)
                out.append({"steps": steps, "seed": seed, "collapsed": collapsed(res["items"]), **res["medians"]})
        return out

    def constant_collapses(seeds: Sequence[int] = RANKING_SEEDS) -> list[tuple[int, int]]:
        return [(seed, collapsed(loss_only(SOURCES[0], RANKING_WIDTH, max(RANKING_STEPS), seed)["items"])) for seed in seeds]

    if args.part == "ranking":
        seeds = RANKING_SEEDS if args.ranking_seed is None else [args.ranking_seed]
        ranking(seeds)
        constant_collapses(seeds)
        return
    floor_of = {s.name: floor(s) for s in SOURCES}
    settings = {s.name: [(setting, measured(s, *setting[:2], 0, setting[2])) for setting in SETTINGS] for s in SOURCES}
    if args.part == "settings":
        return
    header = ["data", "width", "steps", "lr schedule", "params", "INRs", *(f"median {m} [floor]" for m in METRICS), "CPU s/INR", "wall s/INR"]
    body, floor_lines = [], []
    for source in SOURCES:
        results = settings[source.name]
        for (hidden, steps, schedule), res in results:
            cost = res["cost"]
            body.append([
                f"{source.name} ({source.field})", str(hidden), str(steps), schedule, str(cost["params"]), str(args.n),
                *_cells(res, floor_of[source.name]), _fmt(cost["CPU s/INR"]), _fmt(cost["wall s/INR"]),
            ])
        typical = medians([r["medians"] for _, r in results])
        floor_lines += _floor_lines(source, floor_of[source.name], typical)

    ranking_source, width = SOURCES[0], RANKING_WIDTH
    ranked = ranking()
    frame = pd.DataFrame(ranked)
    rank_lines = markdown_table(
        ["steps", "seed", *(f"median {m}" for m in METRICS), "collapsed fits"],
        [[str(r["steps"]), str(r["seed"]), *(_fmt(r[m]) for m in METRICS), f"{r['collapsed']} / {args.n}"] for r in ranked],
    )
    verdicts = [f"- {m}: {v}" for m, v in ranking_verdicts(frame).items()]
    longest = max(RANKING_STEPS)
    constant_line = (
        f"The same {longest}-step fits at a constant rate: "
        + ", ".join(f"{c} / {args.n} collapsed (seed {seed})" for seed, c in constant_collapses())
        + f". A fit counts as collapsed when its final BCE is at least {COLLAPSE_FRACTION:g} x ln 2, the loss of "
        "logit 0 everywhere: its marching-cubes surface fills the volume."
    )

    command = (
        f"python -m nfbench.bench.fitting_table --data-root DATA --n {args.n} --mesh-dense {args.mesh_dense} "
        f"--cloud-dense {args.cloud_dense} "
        f"--resolution {args.resolution} --threshold {args.threshold} --queries {args.queries} --kernels {args.kernels}"
        + (f" --out {args.out}" if args.out else "") + (f" --rows {args.rows}" if args.rows else "")
        + (f" --note-file {args.note_file}" if args.note_file else "")
    )
    lines = [
        "# Fit quality against cost",
        "",
        f"Command: `{command}` ({torch.get_num_threads()} threads).",
        "",
        f"Each fit is decoded into a dense cloud (sdf: {args.mesh_dense:,} samples of the marching-cubes surface at "
        f"{args.resolution}^3; udf: {args.cloud_dense:,} points by gradient projection) and compared through KD-trees "
        f"(distances from {args.queries:,} points of each cloud to the whole other one) with a dense reference: {args.mesh_dense:,} area-uniform samples of the normalized source mesh (SHREC'16) or "
        "all 1,024 source points (ModelNet40). `accuracy`: mean distance from "
        "decoded to reference points; `completeness`: from reference to decoded; `chamfer`: their sum (L2, not "
        f"squared); `f_score`: F at distance {args.threshold}. Shapes in the unit sphere. In brackets, the floor: the "
        "same metric for an independent dense sample of the source (meshes: another set of surface samples; clouds: "
        "the exact distance field of the source points, decoded like the fits). CPU seconds are process time "
        f"(all threads) of fitting and of the build's own quality decode, with `{args.kernels}` kernels "
        "(compilation warmed up first, not counted); the dense evaluation is not counted.",
        "",
        *markdown_table(header, body),
        "",
        f"Floors against the typical fit (median over the settings); a metric resolves when its floor is under "
        f"{FLOOR_FRACTION:g} of it:",
        "",
        *floor_lines,
        "",
        f"## Ranking check: {ranking_source.name}, width {width}, {args.n} shapes, fitting seeds {list(RANKING_SEEDS)}, "
        f"{RANKING_SCHEDULE} learning-rate schedule",
        "",
        *rank_lines,
        "",
        *verdicts,
        "",
        constant_line,
        "",
    ]
    if args.note_file and args.note_file.is_file():
        lines += [args.note_file.read_text(encoding="utf-8").strip(), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
