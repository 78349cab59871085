"""The reconstruct task: cloud scores, the sampling floor it scores against, and what it refuses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor

from nfbench.api import View
from nfbench.errors import ConfigError
from nfbench.fitting.build import BuildRequest, build_dataset
from nfbench.run.runner import run_specs, view_opener
from nfbench.store.reader import INRDataset
from nfbench.tasks.reconstruct import FLOOR_MARGIN, Reconstruct, dense_scores, reference_and_floor

CPU = torch.device("cpu")
TASK = Reconstruct(dense_points=2000, max_queries=500)


def test_cloud_scores_of_a_shift_smaller_than_the_spacing():
    g = np.arange(20) * 0.1  # a plane grid 0.1 apart: each shifted point's nearest is its own original
    ref = np.stack(np.meshgrid(g, g, [0.0], indexing="ij"), axis=-1).reshape(-1, 3)
    for shift, f1, f2 in ((0.005, 1.0, 1.0), (0.015, 0.0, 1.0)):
        s = dense_scores(ref + np.array([shift, 0.0, 0.0]), ref, max_queries=1000)
        assert s["cd"] == pytest.approx(2 * shift, rel=1e-6)
        assert (s["fscore@0.01"], s["fscore@0.02"]) == (f1, f2)
    assert dense_scores(ref, ref, max_queries=1000)["cd"] == 0.0


class Echo:
    """A reconstructor whose clouds are given: what the task does with them is under test."""

    card = SimpleNamespace(name="echo")
    device = CPU

    def __init__(self, clouds) -> None:  # type: ignore[no-untyped-def]
        self.clouds = clouds

    def reconstruct(self, view: View, n_points: int) -> Tensor:
        return self.clouds(view, n_points)


def opener(dataset: INRDataset):  # type: ignore[no-untyped-def]
    (spec,) = run_specs("inr", "tiny", [], [0], "fields")
    return view_opener(dataset, spec, CPU, None)


def second_samples(open_view, shift: float = 0.0) -> Tensor:  # type: ignore[no-untyped-def]
    """What the task draws as each test shape's floor sample (same seeds), moved by ``shift``."""
    shapes = open_view.source_shapes("test")
    floors = [reference_and_floor(s, TASK.dense_points, np.random.default_rng([7, i]))[1] for i, (_, s) in enumerate(shapes)]
    return torch.from_numpy(np.stack(floors)) + shift


def test_a_second_sample_of_the_true_surface_scores_the_floor(tiny_dataset):
    open_view = opener(tiny_dataset)
    floors = second_samples(open_view)
    result = TASK.evaluate(Echo(lambda view, n: floors), open_view)
    assert result.metrics == pytest.approx(result.details["floor"])
    assert all(result.details["at_floor"].values()) and result.details["points_decoded"] == TASK.dense_points
    assert "area-uniform samples of each source mesh" in result.details["reference"]


def test_a_displaced_surface_scores_above_the_floor(tiny_dataset):
    open_view = opener(tiny_dataset)
    moved = second_samples(open_view, shift=0.2)
    result = TASK.evaluate(Echo(lambda view, n: moved), open_view)
    assert result.metrics["cd"] > FLOOR_MARGIN * result.details["floor"]["cd"]
    assert not result.details["at_floor"]["cd"] and result.details["median"]["cd"] > 0
    assert result.inference_ms_per_inr > 0


def test_a_source_cloud_is_split_into_reference_and_floor():
    shape = SimpleNamespace(vertices=None, faces=None, points=np.random.default_rng(0).normal(size=(101, 3)))
    ref, floor, how = reference_and_floor(shape, 10_000, np.random.default_rng(0))  # type: ignore[arg-type]
    assert len(ref) == len(floor) == 50 and "random half of each source cloud" in how
    assert not set(map(tuple, ref)) & set(map(tuple, floor))  # disjoint: the floor is a second sample


def test_a_cloud_of_the_wrong_shape_is_refused(tiny_dataset):
    with pytest.raises(ValueError, match=r"echo.reconstruct returned shape"):
        TASK.evaluate(Echo(lambda view, n: torch.zeros(len(view), n + 1, 3)), opener(tiny_dataset))


def test_image_fields_have_no_surface_to_reconstruct(tmp_path):
    path, _ = build_dataset(BuildRequest("digits", out=tmp_path / "d", limit=1, steps=1), CPU)
    with pytest.raises(ConfigError, match="reconstruct compares surface clouds; image fields have none"):
        TASK.evaluate(Echo(lambda view, n: torch.zeros(len(view), n, 3)), opener(INRDataset.open(path)))


def test_a_run_keeps_sample_clouds_that_the_page_draws(tiny_dataset, tmp_path):
    from nfbench.leaderboard import build_leaderboards
    from nfbench.records import clouds_path, load_clouds
    from nfbench.run.runner import run_one

    (spec,) = run_specs("inr", "tiny", [], [0], "fields")
    record, _ = run_one(spec, TASK, tiny_dataset, CPU, tmp_path / "records")
    clouds = load_clouds(clouds_path(tmp_path / "records", record))
    assert clouds.decoded.shape == clouds.source.shape == (3, TASK.dense_points, 3)
    assert len({key.split("/")[1] for key in clouds.keys}) == 3  # one shape from each of three classes
    written = build_leaderboards(tmp_path / "records", tmp_path / "out")
    assert any(p.name.endswith(".reconstructions.png") for p in written)
    assert "## Reconstructions" in (tmp_path / "out" / "procshapes.md").read_text(encoding="utf-8")
