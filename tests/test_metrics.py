"""Reconstruction metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from nfbench.metrics import chamfer_distance, f_score, nearest_neighbor, psnr, voxel_iou


def cloud(*points: tuple[float, float, float]) -> torch.Tensor:
    return torch.tensor([points], dtype=torch.float32)


def test_chamfer_two_single_points() -> None:
    a, b = cloud((0, 0, 0)), cloud((3, 4, 0))
    assert chamfer_distance(a, b).item() == pytest.approx(10.0)  # 5 each way, summed
    assert chamfer_distance(a, b, squared=True).item() == pytest.approx(50.0)


def test_chamfer_small_clouds_known_nearest_neighbours() -> None:
    a = cloud((0, 0, 0), (2, 0, 0))
    b = cloud((0, 0, 1))
    # a -> b: 1 and sqrt(5), mean (1 + sqrt 5) / 2; b -> a: 1.
    assert chamfer_distance(a, b).item() == pytest.approx((1 + math.sqrt(5)) / 2 + 1, rel=1e-6)
    assert chamfer_distance(a, b, squared=True).item() == pytest.approx((1 + 5) / 2 + 1, rel=1e-6)
    assert chamfer_distance(b, a).item() == pytest.approx(chamfer_distance(a, b).item())


def test_chamfer_is_per_batch_item() -> None:
    a = torch.zeros(2, 1, 3)
    b = torch.tensor([[[1.0, 0, 0]], [[0, 0, 2.0]]])
    assert chamfer_distance(a, b).tolist() == pytest.approx([2.0, 4.0])


def test_small_distances_keep_precision() -> None:
    # Far from the origin with a 1e-4 offset, where the matmul form of cdist alone loses the answer.
    b = torch.tensor([[[0.9, 0.0, 0.0], [0.0, 0.9, 0.0], [0.0, 0.0, -0.9], [-0.6, 0.6, 0.3]]]).repeat(1, 16, 1)
    b = b + torch.arange(64).view(1, 64, 1) * 1e-1  # spread the copies apart
    a = b + torch.tensor([1e-4, 0.0, 0.0])
    assert chamfer_distance(a, b).item() == pytest.approx(2e-4, rel=1e-2)


def test_nearest_neighbor_matches_brute_force_with_tiny_chunks() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 50, 3, generator=gen), torch.rand(3, 70, 3, generator=gen)
    sq, idx = nearest_neighbor(a, b, max_pairs=100)  # 100 // (3 * 70) -> one row a chunk
    brute = (a[:, :, None] - b[:, None]).square().sum(-1)
    assert torch.allclose(sq, brute.min(-1).values, atol=1e-6)
    assert torch.equal(idx, brute.argmin(-1))


def test_f_score_by_hand() -> None:
    a = cloud((0, 0, 0), (1, 0, 0), (2, 0, 0), (5, 5, 5))
    b = cloud((0, 0, 0.005), (1, 0, 0.005), (2, 0, 0.005), (3, 0, 0))
    # 3 of 4 points of a lie within 0.01 of b (precision), and 3 of 4 of b within 0.01 of a.
    assert f_score(a, b).item() == pytest.approx(0.75)
    b[0, 2, 2] = 0.02  # (2, 0, 0) and (2, 0, 0.02) no longer match: P = R = 1/2
    assert f_score(a, b).item() == pytest.approx(0.5)
    a[0, 3] = torch.tensor([2.0, 0, 0.011])  # 0.009 from b[2]: P = 3/4, R = 3/4
    assert f_score(a, b, threshold=0.01).item() == pytest.approx(0.75)
    assert f_score(a, b, threshold=0.008).item() == pytest.approx(0.5)  # P = R = 2/4
    # At 0.021 every point of a matches (P = 1) while b's (3, 0, 0) still does not (R = 3/4).
    assert f_score(a, b, threshold=0.021).item() == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert f_score(a, b, threshold=0.021).item() == pytest.approx(f_score(b, a, threshold=0.021).item())


def test_f_score_zero_when_nothing_matches() -> None:
    score = f_score(cloud((0, 0, 0)), cloud((1, 1, 1)))
    assert score.item() == 0.0
    assert torch.isfinite(score).all()


def test_voxel_iou_shifted_cube() -> None:
    gt = torch.zeros(1, 8, 8, 8, dtype=torch.bool)
    gt[0, 2:6, 2:6, 2:6] = True  # 64 voxels
    pred = torch.roll(gt, shifts=1, dims=1)  # overlap 3 * 4 * 4 = 48, union 80
    assert voxel_iou(pred, gt).item() == pytest.approx(48 / 80)
    assert voxel_iou(gt, gt).item() == 1.0


def test_voxel_iou_empty_and_validation() -> None:
    empty = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    full = torch.ones(2, 4, 4, 4, dtype=torch.bool)
    assert voxel_iou(empty, empty).tolist() == [1.0, 1.0]
    assert voxel_iou(empty, full).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="boolean"):
        voxel_iou(empty.float(), full)
    with pytest.raises(ValueError, match="one shape"):
        voxel_iou(empty, full[:, :2])


def test_psnr_by_hand() -> None:
    target = torch.full((2, 4, 4, 1), 0.6)
    pred = torch.stack([torch.full((4, 4, 1), 0.5), torch.full((4, 4, 1), 0.6)])
    value = psnr(pred, target)
    assert value[0].item() == pytest.approx(20.0, abs=1e-4)  # mse 0.01
    assert value[1].item() == math.inf
    assert psnr(pred[:1], target[:1], data_range=2.0).item() == pytest.approx(10 * math.log10(4 / 0.01), abs=1e-4)


def test_non_finite_inputs_raise() -> None:
    a = torch.zeros(2, 3, 3)
    a[1, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite.*\[1\]"):
        chamfer_distance(a, torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="non-finite"):
        f_score(torch.zeros(2, 3, 3), a)
    with pytest.raises(ValueError, match="non-finite"):
        psnr(a, torch.zeros(2, 3, 3))


def test_shape_validation() -> None:
    with pytest.raises(ValueError, match="point clouds"):
        chamfer_distance(torch.zeros(2, 3, 3), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="empty"):
        chamfer_distance(torch.zeros(1, 0, 3), torch.zeros(1, 3, 3))
