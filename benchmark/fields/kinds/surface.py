"""What the 3-D shape kinds (udf, sdf, occ) share.

Their fields take ``xyz`` in ``[-1, 1]^3`` and output one logit whose sigmoid is a target in
``[0, 1]``, so one reproduces another field by matching Bernoulli distributions; each item
stores a reference cloud sampled from its source shape; and fit quality compares a cloud
decoded from the field with that reference (occ, fitted to voxels, compares voxels instead).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.api.metrics import MetricSpec
from nfbench.datasets.base import Shape
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, RandomSource
from nfbench.fields.kinds.base import FieldKind
from nfbench.metrics import chamfer_distance, f_score
from nfbench.targets import SamplingConfig, Supervision, bce_loss, reference_points
from nfbench.targets.geometry import Source

FIT_F_SCORE_THRESHOLD = 0.01
"""F-score distance threshold for fit quality, in the unit-sphere normalization of the shapes."""

CLOUD_METRICS = (
    MetricSpec(
        name="chamfer",
        higher_is_better=False,
        failed=4.0,  # no two points of the unit sphere lie farther apart than 2, in either direction
        definition="L2 Chamfer distance (not squared; the two directional means of nearest-neighbour distances, summed) "
        "between the cloud decoded from the INR and the stored reference cloud of as many points, shapes in the unit sphere",
    ),
    MetricSpec(
        name="f_score",
        higher_is_better=True,
        percent=True,
        failed=0.0,
        definition=f"F-score at distance {FIT_F_SCORE_THRESHOLD} between the cloud decoded from the INR and the stored "
        "reference cloud of as many points, shapes in the unit sphere",
    ),
)


def logit(p: float) -> float:
    """The raw output at which ``sigmoid`` equals ``p``: decoders threshold raw outputs, kinds state probabilities."""
    return math.log(p / (1 - p))


class SurfaceKind(FieldKind):
    """A 3-D kind with a surface at ``sigmoid(logit) == surface_level``, fitted with BCE by default."""

    in_dim = 3
    surface_level: float
    quality_metrics = CLOUD_METRICS
    quality_inputs = ("points",)

    def query_count(self, cfg: SamplingConfig, image_hw: tuple[int, int] | None = None) -> int:
        return cfg.n_queries

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return bce_loss(pred, target)

    def distill_loss(self, pred: Tensor, teacher: Tensor) -> Tensor:
        """BCE against the teacher's probabilities minus their own entropy, i.e. the KL divergence:
        the gradients of plain BCE, but 0 at a perfect match."""
        p = torch.sigmoid(teacher)
        return F.binary_cross_entropy_with_logits(pred, p) - F.binary_cross_entropy_with_logits(teacher, p)

    def source_tensors(
        self, shape: Shape, supervision: Supervision, n_reference_points: int, rng: np.random.Generator, source: Source = "<shape>"
    ) -> dict[str, np.ndarray]:
        points, parts = reference_points(shape, n_reference_points, rng, source)
        return {"points": points} if parts is None else {"points": points, "point_parts": parts}

    def quality_reference(self, source: dict[str, Tensor], device: torch.device) -> Tensor:
        return source["points"].to(device)

    def fit_quality(
        self,
        fn: FieldFn,
        batch: int,
        reference: Tensor,
        *,
        resolution: int,
        generator: RandomSource = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> dict[str, Tensor]:
        """``chamfer`` and ``f_score`` of a decoded cloud of as many points as the reference ``(B, P, 3)``."""
        self.check_reference(reference, batch, "points (B, P, 3)", 3)
        cloud = self.decode_points(
            fn, batch, reference.shape[1], resolution, device=reference.device, generator=generator, max_queries=max_queries
        )
        return {"chamfer": chamfer_distance(cloud, reference), "f_score": f_score(cloud, reference, FIT_F_SCORE_THRESHOLD)}
