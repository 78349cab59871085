"""Reconstruction metrics between decoded and reference data, batched over INRs.

Every metric returns one value per batch item so that records can report a mean and a
spread over a test set. Papers disagree on Chamfer conventions (halved or not, squared or
not), so each docstring states the exact definition used here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

DEFAULT_MAX_PAIRS = 2**24
"""Pairwise distances held at once by the pure-torch nearest-neighbour search (64 MiB fp32)."""


def require_finite(t: Tensor, what: str) -> None:
    """Raise ``ValueError`` naming the batch items of ``t`` (leading axis) that hold NaN/inf."""
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = (~finite.reshape(t.shape[0], -1).all(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"{what} contains non-finite values (batch items {bad})")


def _check_clouds(a: Tensor, b: Tensor) -> None:
    if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(f"expected point clouds (B, N, D) and (B, M, D), got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] == 0 or b.shape[1] == 0:
        raise ValueError(f"point clouds must not be empty, got {tuple(a.shape)} and {tuple(b.shape)}")
    require_finite(a, "point cloud")
    require_finite(b, "point cloud")


@functools.cache
def _pytorch3d_knn() -> Callable[..., object] | None:
    """pytorch3d's fused k-NN when installed (it has no distribution on PyPI here)."""
    try:
        from pytorch3d.ops import knn_points
    except ImportError:
        return None
    return knn_points


def nearest_neighbor(a: Tensor, b: Tensor, max_pairs: int = DEFAULT_MAX_PAIRS) -> tuple[Tensor, Tensor]:
    """Squared L2 distance ``(B, N)`` from each point of ``a`` to its nearest point in ``b``, and its index.

    The index comes from pytorch3d's ``knn_points`` when importable, otherwise from
    ``torch.cdist`` over chunks of ``a`` holding at most ``max_pairs`` distances. The
    distance is then recomputed from the matched coordinates: the matmul form of ``cdist``
    loses precision at small distances, and this keeps both backends in agreement.
    """
    _check_clouds(a, b)
    knn = _pytorch3d_knn()
    with torch.no_grad():
        if knn is not None:
            idx = knn(a, b, K=1).idx[..., 0]
        else:
            rows = max(1, max_pairs // (a.shape[0] * b.shape[1]))
            idx = torch.cat([torch.cdist(chunk, b).argmin(dim=-1) for chunk in a.split(rows, dim=1)], dim=1)
    nearest = b.gather(1, idx.unsqueeze(-1).expand(-1, -1, b.shape[-1]))
    return (a - nearest).square().sum(dim=-1), idx


def _two_way_sq(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    return nearest_neighbor(a, b)[0], nearest_neighbor(b, a)[0]


def chamfer_distance(a: Tensor, b: Tensor, squared: bool = False) -> Tensor:
    """Chamfer distance ``(B,)`` between clouds ``a (B, N, 3)`` and ``b (B, M, 3)``.

    ``CD(a, b) = mean_{p in a} min_{q in b} d(p, q) + mean_{q in b} min_{p in a} d(p, q)``
    with ``d`` the Euclidean (L2) distance, or its square when ``squared=True``. The two
    terms are summed, not halved.
    """
    d_ab, d_ba = _two_way_sq(a, b)
    if not squared:
        d_ab, d_ba = d_ab.sqrt(), d_ba.sqrt()
    return d_ab.mean(dim=1) + d_ba.mean(dim=1)


def f_score(a: Tensor, b: Tensor, threshold: float = 0.01) -> Tensor:
    """F-score ``(B,)`` at distance ``threshold`` of the prediction ``a`` against the reference ``b``.

    Precision P is the fraction of points of ``a`` whose nearest point of ``b`` lies at L2
    distance strictly below ``threshold``; recall R is the same fraction of ``b`` towards
    ``a``. ``F = 2PR / (P + R)``, and 0 when P and R are both 0.
    """
    d_ab, d_ba = _two_way_sq(a, b)
    precision = (d_ab.sqrt() < threshold).float().mean(dim=1)
    recall = (d_ba.sqrt() < threshold).float().mean(dim=1)
    # P + R > 0 means P + R >= 1/max(N, M), so the clamp only turns 0/0 into 0.
    return 2 * precision * recall / (precision + recall).clamp_min(1e-12)


def dense_cloud_metrics(pred: np.ndarray, ref: np.ndarray, threshold: float, max_queries: int | None = None) -> dict[str, float]:
    """Chamfer, one-sided distances and F-score between two dense clouds ``(N, 3)`` and ``(M, 3)``
    (``dense_distances``). ``accuracy`` is the mean L2 distance from ``pred``
    to ``ref`` (how far decoded points stray from the reference), ``completeness`` the mean
    from ``ref`` to ``pred`` (how much of the reference is covered); ``chamfer`` is their
    sum, with the conventions of ``chamfer_distance``, and ``f_score`` is ``f_score``'s.
    """
    d_pred, d_ref = dense_distances(pred, ref, max_queries)
    precision, recall = float((d_pred < threshold).mean()), float((d_ref < threshold).mean())
    accuracy, completeness = float(d_pred.mean()), float(d_ref.mean())
    return {
        "chamfer": accuracy + completeness,
        "accuracy": accuracy,
        "completeness": completeness,
        "f_score": 2 * precision * recall / max(precision + recall, 1e-12),
    }


def dense_distances(pred: np.ndarray, ref: np.ndarray, max_queries: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour L2 distances from ``pred (N, 3)`` to ``ref (M, 3)`` and back, through KD-trees.

    For 10^5-point clouds, where the pairwise search of ``chamfer_distance`` would hold
    10^10 distances; one shape per call (a KD-tree indexes one cloud). ``max_queries`` takes
    the distances from only the first ``max_queries`` points of each cloud to the whole
    other one. The sampling floor of a one-sided distance is set by the density of the cloud
    searched, not by how many points query it, so a small query set keeps the floor of a
    dense target at a fraction of the cost; the clouds must then be i.i.d. samples in random
    order (surface samples and decoded clouds are), so that their first points are an
    unbiased subset.
    """
    for name, cloud in (("pred", pred), ("ref", ref)):
        if cloud.ndim != 2 or cloud.shape[1] != 3 or len(cloud) == 0:
            raise ValueError(f"expected a non-empty cloud (N, 3) for {name}, got {cloud.shape}")
        if not np.isfinite(cloud).all():
            raise ValueError(f"{name} cloud contains non-finite values")
    return cKDTree(ref).query(pred[:max_queries], k=1, workers=-1)[0], cKDTree(pred).query(ref[:max_queries], k=1, workers=-1)[0]


def voxel_iou(pred: Tensor, gt: Tensor) -> Tensor:
    """Intersection over union ``(B,)`` of boolean occupancy grids ``(B, R, R, R)``.

    ``IoU = |pred AND gt| / |pred OR gt|`` counted in voxels; two empty grids agree
    perfectly and score 1.
    """
    if pred.dtype != torch.bool or gt.dtype != torch.bool:
        raise ValueError(f"voxel grids must be boolean, got {pred.dtype} and {gt.dtype}")
    if pred.shape != gt.shape or pred.dim() < 2:
        raise ValueError(
            f"expected two voxel grids (B, R, R, R) of one shape, got {tuple(pred.shape)} and {tuple(gt.shape)}"
        )
    inter = (pred & gt).flatten(1).sum(dim=1)
    union = (pred | gt).flatten(1).sum(dim=1)
    return torch.where(union > 0, inter / union.clamp_min(1), 1.0)


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio ``(B,)`` in dB over everything but the leading axis.

    ``PSNR = 10 log10(data_range^2 / MSE)`` with the MSE averaged over all pixels and
    channels of one item; identical items give ``inf``.
    """
    if pred.shape != target.shape or pred.dim() < 2:
        raise ValueError(
            f"expected two batches (B, ...) of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    require_finite(pred, "prediction")
    require_finite(target, "target")
    dtype = torch.promote_types(torch.promote_types(pred.dtype, target.dtype), torch.float32)
    mse = (pred.to(dtype) - target.to(dtype)).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)
