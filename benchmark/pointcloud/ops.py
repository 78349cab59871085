"""Sampling and grouping on batched point clouds ``(B, N, C)``, in plain torch.

PyG's ``fps``, ``knn`` and ``radius`` need pyg-lib, which has no installable build here,
so the point networks sample and group with these and hand PyG's convolutions explicit
edges (``neighbour_edges``). Every op works on a whole batch at once; only farthest point
sampling loops, over its samples, which is inherent to it. Indices are computed without
gradients: they select points, the networks differentiate through the gathered values.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gather_points(x: Tensor, idx: Tensor) -> Tensor:
    """Rows of each cloud by index: ``x`` ``(B, N, C)``, ``idx`` ``(B, *S)`` -> ``(B, *S, C)``."""
    flat = idx.reshape(idx.shape[0], -1, 1).expand(-1, -1, x.shape[-1])
    return torch.gather(x, 1, flat).view(*idx.shape, x.shape[-1])


@torch.no_grad()
def farthest_point_sample(points: Tensor, n_samples: int) -> Tensor:
    """``(B, n_samples)`` indices: each next point is the one farthest from those chosen so far.

    Every cloud starts from its point 0, as PointNet++'s kernel does, so the result depends
    only on the input; the views' clouds are random surface samples, so point 0 is a random
    start in distribution. Ties go to the lowest index.
    """
    b, n, _ = points.shape
    if not 0 < n_samples <= n:
        raise ValueError(f"cannot sample {n_samples} of {n} points")
    rows = torch.arange(b, device=points.device)
    chosen = torch.empty(b, n_samples, dtype=torch.long, device=points.device)
    nearest = torch.full((b, n), float("inf"), dtype=points.dtype, device=points.device)  # squared distance to the chosen set
    latest = torch.zeros(b, dtype=torch.long, device=points.device)
    for i in range(n_samples):
        chosen[:, i] = latest
        nearest = torch.minimum(nearest, (points - points[rows, latest][:, None]).square().sum(-1))
        latest = nearest.argmax(dim=1)
    return chosen


@torch.no_grad()
def knn(query: Tensor, points: Tensor, k: int) -> Tensor:
    """``(B, M, k)`` indices of the ``k`` points nearest each query, nearest first.

    A query that is also one of ``points`` is its own nearest neighbour (DGCNN keeps that
    edge: it carries the point's own feature). Large batches of distances go through a
    matrix product, as DGCNN's release computes them, so near-duplicate points may swap.
    """
    if not 0 < k <= points.shape[1]:
        raise ValueError(f"cannot take {k} neighbours among {points.shape[1]} points")
    return torch.cdist(query, points).topk(k, dim=-1, largest=False).indices


@torch.no_grad()
def ball_query(centroids: Tensor, points: Tensor, radius: float, n_samples: int) -> Tensor:
    """``(B, S, n_samples)`` indices of points within ``radius`` of each centroid (PointNet++'s grouping).

    The first ``n_samples`` in index order are taken; a ball holding fewer repeats its
    first point to fill the row, so every centroid has the same number of neighbours (a
    max pool ignores the repeats). Every ball must hold a point: centroids sampled from the
    cloud hold themselves (distances are computed exactly, so theirs is 0).
    """
    n = points.shape[1]
    dist = torch.cdist(centroids, points, compute_mode="donot_use_mm_for_euclid_dist")
    order = torch.arange(n, device=points.device).expand_as(dist)
    ranked = torch.where(dist < radius, order, n).topk(min(n_samples, n), dim=-1, largest=False, sorted=True).values
    if n_samples > n:
        ranked = torch.cat([ranked, ranked[..., :1].expand(*ranked.shape[:-1], n_samples - n)], dim=-1)
    return torch.where(ranked == n, ranked[..., :1], ranked)


def neighbour_edges(idx: Tensor, n_sources: int) -> Tensor:
    """PyG ``edge_index`` ``(2, B * S * K)`` of neighbour indices ``(B, S, K)`` into clouds of ``n_sources`` points.

    The clouds of a batch become one graph: source ``j`` of cloud ``b`` is node
    ``b * n_sources + j`` and centre ``s`` is node ``b * S + s`` of the (possibly other)
    target set, so the same edges serve bipartite grouping (centroids) and kNN graphs.
    """
    b, s, k = idx.shape
    offsets = torch.arange(b, device=idx.device).view(b, 1, 1) * n_sources
    source = (idx + offsets).reshape(-1)
    target = torch.arange(b * s, device=idx.device).repeat_interleave(k)
    return torch.stack([source, target])
