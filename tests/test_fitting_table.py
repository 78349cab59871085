"""The dense fit-quality metrics and the checks of the fitting table (``nfbench.bench.fitting_table``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from nfbench.bench.fitting_table import collapsed, dense_reference, exact_field, ranking_verdicts, resolving
from nfbench.datasets.base import Shape
from nfbench.fields.kinds import field_kind
from nfbench.fitting.streams import ItemStreams
from nfbench.metrics import chamfer_distance, dense_cloud_metrics, f_score


def test_dense_metrics_agree_with_the_batched_torch_metrics() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 3)), rng.normal(size=(500, 3))
    dense = dense_cloud_metrics(a, b, 0.3)
    ta, tb = torch.tensor(a)[None], torch.tensor(b)[None]
    assert dense["chamfer"] == pytest.approx(float(chamfer_distance(ta, tb)[0]), rel=1e-6)
    assert dense["f_score"] == pytest.approx(float(f_score(ta, tb, 0.3)[0]), rel=1e-6)
    assert dense["accuracy"] + dense["completeness"] == pytest.approx(dense["chamfer"])


def test_one_sided_distances_tell_a_partial_cloud_from_a_stray_one() -> None:
    ref = np.random.default_rng(1).uniform(-1, 1, size=(2000, 3))
    part = ref[ref[:, 0] < 0]  # every decoded point on the reference, half of it covered
    m = dense_cloud_metrics(part, ref, 0.01)
    assert m["accuracy"] == 0.0
    assert m["completeness"] > 0.1
    with pytest.raises(ValueError, match="non-finite"):
        dense_cloud_metrics(np.full((3, 3), np.nan), ref, 0.01)


def test_a_query_subset_keeps_the_floor_of_the_dense_clouds_searched() -> None:
    """Distances from the first points of two i.i.d. sphere samples to the whole other sample: the
    floor is that of the dense clouds (far below a sparse pair's), within the subset's noise."""
    rng = np.random.default_rng(2)

    def sphere(n: int) -> np.ndarray:
        x = rng.normal(size=(n, 3))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    a, b = sphere(200_000), sphere(200_000)
    full = dense_cloud_metrics(a, b, 0.01)
    sub = dense_cloud_metrics(a, b, 0.01, max_queries=20_000)
    sparse = dense_cloud_metrics(a[:20_000], b[:20_000], 0.01)
    for metric in ("chamfer", "accuracy", "completeness"):
        assert sub[metric] == pytest.approx(full[metric], rel=0.02)
        assert sparse[metric] > 2.5 * full[metric]  # the floor falls as 1/sqrt(points searched)
    assert sub["f_score"] == pytest.approx(full["f_score"], abs=0.01)


def test_mesh_references_are_area_samples_and_clouds_are_kept_whole() -> None:
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)
    mesh = Shape(vertices=v, faces=np.array([[0, 1, 2]]))
    pts = dense_reference(mesh, 1000, np.random.default_rng(0))
    assert pts.shape == (1000, 3) and np.allclose(pts[:, 2], 0) and (pts[:, :2].sum(axis=1) <= 1 + 1e-6).all()
    cloud = Shape(points=v)
    assert dense_reference(cloud, 1000, np.random.default_rng(0)) is cloud.points


def test_the_exact_udf_decodes_onto_the_source_points() -> None:
    """The clouds' floor: a perfect udf fit, decoded like a fitted one, lands on its points."""
    kind = field_kind("udf")
    points = torch.rand(2, 64, 3) * 1.2 - 0.6
    decoded = kind.decode_points(exact_field(kind, points), 2, 2000, 0, generator=ItemStreams([0, 1]))
    for d, p in zip(decoded, points, strict=True):
        m = dense_cloud_metrics(d.numpy(), p.numpy(), 0.01)
        assert m["accuracy"] < 1e-3
        assert m["f_score"] > 0.9


def _ranking(values: dict[tuple[int, int], float]) -> pd.DataFrame:
    rows = [{"steps": s, "seed": seed, "chamfer": v, "accuracy": v, "completeness": v, "f_score": 1 - v} for (s, seed), v in values.items()]
    return pd.DataFrame(rows)


def test_ranking_needs_every_gap_above_the_seed_spread() -> None:
    clean = _ranking({(50, 0): 0.10, (50, 1): 0.11, (200, 0): 0.05, (200, 1): 0.055, (1000, 0): 0.02, (1000, 1): 0.021})
    assert all(v.startswith("ranked") for v in ranking_verdicts(clean).values())
    noisy = _ranking({(50, 0): 0.10, (50, 1): 0.11, (200, 0): 0.05, (200, 1): 0.055, (1000, 0): 0.02, (1000, 1): 0.06})
    assert all(v.startswith("NOT ranked") for v in ranking_verdicts(noisy).values())
    reversed_ = _ranking({(50, 0): 0.02, (50, 1): 0.02, (200, 0): 0.05, (200, 1): 0.05, (1000, 0): 0.1, (1000, 1): 0.1})
    assert all(v.startswith("NOT ranked") for v in ranking_verdicts(reversed_).values())


def test_a_metric_resolves_when_its_floor_error_is_under_a_fifth_of_the_typical_error() -> None:
    typical = {"chamfer": 0.05, "accuracy": 0.02, "completeness": 0.03, "f_score": 0.5}
    floor = {"chamfer": 0.005, "accuracy": 0.005, "completeness": 0.001, "f_score": 0.95}
    assert resolving(floor, typical) == {"chamfer": True, "accuracy": False, "completeness": True, "f_score": True}


def test_participation_ratio_counts_the_directions_embeddings_use() -> None:
    from nfbench.bench.embedding_spectrum import between_class_share, participation_ratio

    rng = np.random.default_rng(0)
    iso = rng.normal(size=(20_000, 8))
    assert participation_ratio(iso) == pytest.approx(8, rel=0.05)
    collapsed = np.outer(rng.normal(size=5000), rng.normal(size=8)) + 1e-6 * rng.normal(size=(5000, 8))
    assert participation_ratio(collapsed) == pytest.approx(1, abs=1e-3)
    labels = np.repeat([0, 1], 100)
    separated = np.concatenate([np.zeros((100, 2)), np.ones((100, 2))])
    assert between_class_share(separated, labels) == pytest.approx(1.0)


def test_a_fit_at_the_loss_of_logit_zero_counts_as_collapsed() -> None:
    """BCE of logit 0 is ln 2 whatever the targets; good SHREC'16 fits end near 0.64."""
    items = [{"fit_loss": 0.645}, {"fit_loss": math.log(2)}, {"fit_loss": 0.6911}, {"fit_loss": 0.67}]
    assert collapsed(items) == 2
