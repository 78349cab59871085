"""Retrieval over test embeddings with Euclidean k-NN.

Two scores are reported because the literature mixes them. ``map@k`` is mean average
precision at k: for a query with R relevant items (same class, itself excluded),
``AP@k = sum_{i<=k} P(i) rel(i) / min(k, R)``. ``hit@k`` is the fraction of queries with at
least one relevant item among the k nearest: the quantity the inr2vec code computes and
calls mAP. ``precision@k`` is the mean fraction of relevant items among the k nearest.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nfbench.api import Embedder, MetricSpec, OpenView, Task, TaskCard, TaskResult
from nfbench.tasks.base import timed_inference

KS = (1, 5, 10)


def retrieval_scores(embeddings: Tensor, labels: Tensor, ks: tuple[int, ...] = KS) -> dict[str, float]:
    n = len(labels)
    k_max = min(max(ks), n - 1)
    dist = torch.cdist(embeddings.double(), embeddings.double())
    dist.fill_diagonal_(float("inf"))
    neighbours = dist.topk(k_max, dim=1, largest=False).indices  # ties broken by index order of topk
    rel = (labels[neighbours] == labels.unsqueeze(1)).double()  # (n, k_max)
    n_relevant = torch.bincount(labels)[labels] - 1  # same-class items other than the query
    precision_at = rel.cumsum(dim=1) / torch.arange(1, k_max + 1, dtype=torch.float64)
    scores = {}
    for k in ks:
        kk = min(k, k_max)
        denom = n_relevant.clamp(max=kk).double()
        ap = (precision_at[:, :kk] * rel[:, :kk]).sum(dim=1) / denom.clamp(min=1)
        valid = n_relevant > 0
        scores[f"map@{k}"] = float(ap[valid].mean()) if valid.any() else 0.0
        scores[f"hit@{k}"] = float((rel[:, :kk].sum(dim=1) > 0).double().mean())
        scores[f"precision@{k}"] = float(rel[:, :kk].mean(dim=1).mean())
    return scores


class Retrieve(Task):
    card = TaskCard(
        name="retrieve",
        description="Euclidean k-NN over test embeddings, same class = relevant",
        capability="embedder",
        metrics=(
            MetricSpec(
                name="map", higher_is_better=True, percent=True,
                definition="mean over queries (with >=1 relevant item) of sum_{i<=k} P(i) rel(i) / min(k, R)",
            ),
            MetricSpec(
                name="hit", higher_is_better=True, percent=True,
                definition="fraction of queries with a same-class item among the k nearest (inr2vec's 'mAP')",
            ),
            MetricSpec(
                name="precision", higher_is_better=True, percent=True,
                definition="mean fraction of same-class items among the k nearest",
            ),
        ),
        main_metric="map@10",
    )

    def evaluate(self, method: Embedder, open_view: OpenView) -> TaskResult:
        view = open_view("test")
        labels = view.labels
        emb, ms = timed_inference(lambda: method.embed(view), view, method.device, f"{method.card.name}.embed")
        if emb.dim() != 2 or emb.shape[0] != len(labels):
            raise ValueError(f"{method.card.name}.embed returned shape {tuple(emb.shape)}, expected ({len(labels)}, D)")
        details = {
            "definitions": {m.name + "@k": m.definition for m in self.card.metrics}
            | {"neighbours": "Euclidean distance over test embeddings, the query itself excluded"},
            "embedding_dim": int(emb.shape[1]),
            "decode_ms_per_inr": view.decode_ms_per_inr,
            "decoded_without_surface": view.decoded_without_surface,
        }
        return TaskResult(retrieval_scores(emb, labels), details, ms, emb.numpy(), labels.numpy())
