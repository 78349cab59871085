"""How well a representation stores the test shapes: decode each to a surface cloud, compare with its source.

A method with the ``Reconstructor`` capability (the individual INRs themselves, nf2vec's
decoder from its embeddings, shared networks with per-shape latents) decodes every test
shape into a cloud, compared with the normalized source shape the INR was fitted to.

Every cloud metric has a sampling floor: two independent samples of one true surface are
not at distance 0, and the builds' stored 2,048-point references sit at a floor above
what fitted INRs score. So the comparison is dense, as in the fitting table: a source mesh
gives ``dense_points`` area-uniform samples, the method decodes as many points, and
distances go through KD-trees. A second, independent sample of the source, scored the same
way, is the floor: what a perfect reconstruction sampled as densely scores. A source known
only as a cloud is split into two random halves, the reference and the floor, and the method
decodes as many points as a half. A method within ``FLOOR_MARGIN`` of the floor is marked
``at_floor`` for that metric in the record: its differences to other such methods are
sampling noise and rank nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nfbench.api import MetricSpec, OpenView, Reconstructor, Task, TaskCard, TaskResult
from nfbench.datasets.base import Shape
from nfbench.decode.common import no_surface_items
from nfbench.errors import ConfigError
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.metrics import dense_distances
from nfbench.records import SampleClouds
from nfbench.targets.geometry import sample_surface
from nfbench.tasks.base import set_options, timed_inference

THRESHOLDS = (0.01, 0.02)
"""F-score distance thresholds, in the unit-sphere frame of the normalized shapes."""
FIGURE_SHAPES, FIGURE_POINTS = 3, 2048  # test shapes of the first classes, as decoded and as sampled, kept beside the record
FLOOR_MARGIN = 1.5
"""A metric's error within this factor of its floor's error (a distance, or 1 - F) is at the floor."""


def scores_from_distances(d_pred: Tensor, d_ref: Tensor, thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, Tensor]:
    """Per shape ``(B,)`` from nearest-neighbour distances ``(B, n)`` each way: ``cd``, the Chamfer
    distance (L2, not squared, the two directional means summed), and ``fscore@t`` per threshold."""
    scores = {"cd": d_pred.mean(dim=1) + d_ref.mean(dim=1)}
    for t in thresholds:
        precision, recall = (d_pred < t).double().mean(dim=1), (d_ref < t).double().mean(dim=1)
        scores[f"fscore@{t:g}"] = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    return scores


def dense_scores(pred: np.ndarray, ref: np.ndarray, max_queries: int) -> dict[str, float]:
    d_pred, d_ref = (torch.from_numpy(d)[None] for d in dense_distances(pred, ref, max_queries))
    return {m: float(v[0]) for m, v in scores_from_distances(d_pred, d_ref).items()}


def as_error(metric: str, value: float) -> float:
    return 1.0 - value if metric.startswith("fscore") else value


def reference_and_floor(shape: Shape, n_dense: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """Two independent samples of the shape's true surface, and how they were drawn."""
    if shape.vertices is not None and shape.faces is not None:
        first, second = (sample_surface(shape.vertices, shape.faces, n_dense, rng)[0].astype(np.float32) for _ in range(2))
        return first, second, f"{n_dense:,} area-uniform samples of each source mesh"
    if shape.points is None or len(shape.points) < 4:
        raise ConfigError("reconstruct scores against a source mesh or cloud; this dataset's shapes have neither")
    points = rng.permutation(shape.points)
    half = len(points) // 2
    return points[:half], points[half : 2 * half], f"a random half of each source cloud ({half:,} points; the other half is the floor)"


class Reconstruct(Task):
    dense_points = 100_000  # samples of each source mesh, and points decoded from each representation
    max_queries = 20_000  # points of each cloud whose nearest neighbour in the other is searched

    def __init__(self, dense_points: int | None = None, max_queries: int | None = None) -> None:
        set_options(self, {"dense_points": dense_points, "max_queries": max_queries}, {"dense_points": 8, "max_queries": 8})

    card = TaskCard(
        name="reconstruct",
        description="surface clouds decoded from each test shape's representation against its source shape, densely sampled",
        capability="reconstructor",
        metrics=(
            MetricSpec(
                name="cd", higher_is_better=False,
                definition="mean over test shapes of the L2 Chamfer distance (not squared; the two directional means of "
                "nearest-neighbour distances, summed), in the unit-sphere frame of the normalized shapes, between the cloud "
                "decoded from the representation and a dense sample of the source shape",
            ),
            MetricSpec(
                name="fscore", higher_is_better=True, percent=True,
                definition="mean over test shapes of the F-score at distance threshold k (unit-sphere frame) between the same "
                "two clouds",
            ),
        ),
        main_metric="cd",
    )

    def evaluate(self, method: Reconstructor, open_view: OpenView) -> TaskResult:
        name = method.card.name  # type: ignore[attr-defined]
        view = open_view("test")
        kind = FIELD_KINDS.get(view.info.field_kind)
        if kind.no_surface:
            raise ConfigError(f"reconstruct compares surface clouds; {kind.name} fields have none: {kind.no_surface}")
        keys, pairs = [], []
        for i, (key, shape) in enumerate(open_view.source_shapes("test")):
            keys.append(key)
            pairs.append(reference_and_floor(shape, self.dense_points, np.random.default_rng([7, i])))
        n_points = min(len(ref) for ref, _, _ in pairs)
        warned: list[int] = []

        def decode() -> Tensor:
            with no_surface_items() as items:
                clouds = method.reconstruct(view, n_points)
            warned.extend(items)
            return clouds

        clouds, ms = timed_inference(decode, view, method.device, f"{name}.reconstruct")  # type: ignore[attr-defined]
        if clouds.shape != (len(view), n_points, 3):
            raise ValueError(f"{name}.reconstruct returned shape {tuple(clouds.shape)}, expected {(len(view), n_points, 3)}")
        per_shape = [dense_scores(c.float().numpy(), ref, self.max_queries) for c, (ref, _, _) in zip(clouds, pairs)]
        floor_per_shape = [dense_scores(second, ref, self.max_queries) for ref, second, _ in pairs]
        metrics = {m: float(np.mean([s[m] for s in per_shape])) for m in per_shape[0]}
        floor = {m: float(np.mean([s[m] for s in floor_per_shape])) for m in metrics}
        details = {
            "points_decoded": n_points,
            "reference": pairs[0][2],
            "floor": floor,
            "at_floor": {m: as_error(m, metrics[m]) <= FLOOR_MARGIN * as_error(m, floor[m]) for m in metrics},
            "median": {m: float(np.median([s[m] for s in per_shape])) for m in metrics},
            "decode_ms_per_inr": view.decode_ms_per_inr,
            "decoded_without_surface": view.decoded_without_surface + len(warned),
            "definitions": {
                "floor": "the same metrics for a second, independent sample of each source surface against the first: what "
                f"a perfect reconstruction decoded as densely scores; distances from {self.max_queries:,} points of each cloud",
                "at_floor": f"a metric whose error (a distance, or 1 - F) is within {FLOOR_MARGIN:g}x the floor's: it ranks nothing",
            },
        }
        firsts = sorted(int(torch.nonzero(view.labels == c)[0]) for c in view.labels.unique())  # one shape per class
        shown = (firsts + [i for i in range(len(view)) if i not in firsts])[:FIGURE_SHAPES]
        sample = SampleClouds(
            [keys[i] for i in shown],
            np.stack([clouds[i, :FIGURE_POINTS].numpy() for i in shown]),
            np.stack([pairs[i][0][:FIGURE_POINTS] for i in shown]),
            view.info.up_axis or "y",
        )
        return TaskResult(metrics, details, ms, clouds=sample)
