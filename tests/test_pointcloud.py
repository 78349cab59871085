"""nfbench.pointcloud: sampling and grouping against brute force, and the training-cloud augmentations."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from nfbench.api.view import ViewBatch
from nfbench.pointcloud.augment import AXES, PointAugment, batch_augment
from nfbench.pointcloud.ops import ball_query, farthest_point_sample, gather_points, knn, neighbour_edges

pytestmark = pytest.mark.usefixtures("one_thread")


def clouds(b: int, n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


# --------------------------------------------------------------------------- ops


def test_knn_matches_brute_force_nearest_first():
    query, points = clouds(2, 7, seed=1), clouds(2, 30, seed=2)
    idx = knn(query, points, 5)
    for b in range(2):
        for m in range(7):
            dist = [float((query[b, m] - points[b, j]).norm()) for j in range(30)]
            assert idx[b, m].tolist() == sorted(range(30), key=dist.__getitem__)[:5]


def test_knn_of_a_cloud_on_itself_finds_each_point_first():
    points = clouds(3, 40)
    assert torch.equal(knn(points, points, 4)[..., 0], torch.arange(40).expand(3, 40))
    with pytest.raises(ValueError, match="cannot take 41 neighbours among 40 points"):
        knn(points, points, 41)


def brute_ball(centre: torch.Tensor, points: torch.Tensor, radius: float, n_samples: int) -> list[int]:
    inside = [j for j in range(len(points)) if float((points[j] - centre).norm()) < radius][:n_samples]
    return inside + [inside[0]] * (n_samples - len(inside))


@pytest.mark.parametrize("n_samples", [3, 8, 40])  # 40: more than the cloud holds
def test_ball_query_takes_the_first_points_within_the_radius_and_pads_with_the_first(n_samples):
    points = clouds(2, 25, seed=3)
    centres = gather_points(points, torch.tensor([[0, 5, 9], [3, 3, 24]]))
    idx = ball_query(centres, points, 0.6, n_samples)
    assert idx.shape == (2, 3, n_samples)
    counts = []
    for b in range(2):
        for s in range(3):
            expected = brute_ball(centres[b, s], points[b], 0.6, n_samples)
            assert idx[b, s].tolist() == expected
            counts.append(len(set(expected)))
    assert min(counts) < n_samples  # some balls were padded


def test_ball_query_of_an_isolated_centroid_repeats_the_centroid():
    points = torch.tensor([[[0.0, 0, 0], [5, 0, 0], [5.1, 0, 0]]])
    idx = ball_query(points[:, :1], points, 0.5, 4)
    assert idx.tolist() == [[[0, 0, 0, 0]]]


def test_farthest_point_sampling_picks_the_farthest_point_each_time():
    points = clouds(3, 50, seed=4)
    idx = farthest_point_sample(points, 12)
    assert torch.equal(idx, farthest_point_sample(points, 12))  # deterministic
    for b in range(3):
        chosen = idx[b].tolist()
        assert chosen[0] == 0 and len(set(chosen)) == 12
        for i in range(1, 12):
            to_set = [min(float((points[b, j] - points[b, c]).norm()) for c in chosen[:i]) for j in range(50)]
            assert to_set[chosen[i]] == pytest.approx(max(to_set))
    with pytest.raises(ValueError, match="cannot sample 51 of 50 points"):
        farthest_point_sample(points, 51)


def test_neighbour_edges_number_the_clouds_of_a_batch_apart():
    idx = torch.tensor([[[1, 0], [2, 2]], [[0, 1], [1, 1]]])  # 2 clouds, 2 centres, 2 neighbours, 3 source points
    source, target = neighbour_edges(idx, 3).tolist()
    assert source == [1, 0, 2, 2, 3, 4, 4, 4]
    assert target == [0, 0, 1, 1, 2, 2, 3, 3]


def test_gather_points_keeps_the_index_shape():
    x = torch.arange(2 * 4 * 2).view(2, 4, 2)
    out = gather_points(x, torch.tensor([[[3, 0]], [[1, 1]]]))
    assert out.tolist() == [[[[6, 7], [0, 1]]], [[[10, 11], [10, 11]]]]


# --------------------------------------------------------------------------- augmentations


@pytest.mark.parametrize("up", ["x", "y", "z"])
def test_rotation_keeps_the_up_coordinate_and_the_norms(up):
    x = clouds(6, 20).float()
    out = PointAugment(rotate=True, up_axis=up)(x)
    axis = AXES[up]
    assert out.shape == x.shape
    torch.testing.assert_close(out[..., axis], x[..., axis])
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    assert (out - x).abs().amax() > 0.1  # it did rotate
    det = torch.linalg.det(torch.linalg.lstsq(x[0], out[0]).solution)
    assert float(det) == pytest.approx(1.0, abs=1e-4)  # a rotation, not a reflection


@pytest.mark.parametrize("anisotropic", [True, False])
def test_scaling_stays_in_range_per_axis_or_per_cloud(anisotropic):
    x = clouds(200, 5).float() + 2  # no coordinate near 0: ratios are well defined
    ratio = PointAugment(scale=(2 / 3, 3 / 2), anisotropic=anisotropic)(x) / x
    per_cloud = ratio[:, 0]  # (B, 3): one point's ratios stand for the cloud's
    torch.testing.assert_close(ratio, per_cloud[:, None].expand_as(ratio))
    assert per_cloud.min() >= 2 / 3 - 1e-6 and per_cloud.max() <= 3 / 2 + 1e-6
    assert per_cloud.max() - per_cloud.min() > 0.5  # spans the range
    spread = (per_cloud.amax(1) - per_cloud.amin(1)).max()
    assert (spread > 0.01) if anisotropic else (spread < 1e-5)


def test_shift_and_jitter_stay_within_their_bounds():
    x = clouds(50, 400).float()
    shift = PointAugment(shift=0.2)(x) - x
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift))
    assert shift.abs().max() <= 0.2 and shift.abs().max() > 0.15
    noise = PointAugment(jitter=0.01, jitter_clip=0.02)(x) - x
    assert noise.abs().max() <= 0.02 + 1e-6
    assert float(noise.std()) == pytest.approx(0.01, rel=0.1)


def test_augmentations_draw_from_the_global_rng_reproducibly():
    aug = PointAugment(rotate=True, up_axis="z", scale=(0.8, 1.25), shift=0.1, jitter=0.01)
    x = clouds(4, 30).float()
    torch.manual_seed(3)
    first = aug(x)
    torch.manual_seed(3)
    assert torch.equal(aug(x), first)
    assert not torch.equal(aug(x), first)  # the next draw differs


def test_nothing_on_means_no_transform_and_bad_ranges_are_refused():
    assert batch_augment(PointAugment()) is None
    batch = ViewBatch(clouds(2, 8).float(), torch.tensor([0, 1]), torch.tensor([0, 1]))
    out = batch_augment(PointAugment(jitter=0.01))(batch)
    assert out.data.shape == batch.data.shape and out.labels is batch.labels and out.index is batch.index
    with pytest.raises(ValidationError, match="needs 0 < low <= high"):
        PointAugment(scale=(1.5, 1.0))


def test_rotations_take_the_datasets_up_axis_and_fail_in_one_line_without_one():
    from nfbench.api import DataInfo
    from nfbench.errors import ConfigError
    from nfbench.fields import FieldSpec
    from nfbench.methods import METHODS

    cls = METHODS.get("pointnet")
    spec = FieldSpec(kind="siren", in_dim=3, hidden=8, depth=2, out_dim=1)
    method = cls(cls.presets["tiny"].config, torch.device("cpu"), 0)
    method.setup(DataInfo(spec=spec, field_kind="udf", class_names=("a", "b"), up_axis="y"))
    assert method.config.augment.rotate and method.augment.up_axis == "y"
    with pytest.raises(ConfigError, match="pointnet's augment.rotate needs the shapes' up axis"):
        cls(cls.presets["tiny"].config, torch.device("cpu"), 0).setup(DataInfo(spec=spec, field_kind="udf", class_names=("a", "b")))
