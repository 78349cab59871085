"""The frame of every supervised classifier on the ``points`` view: the shared classifier frame
plus the cloud size it reads and the augmentations of its training clouds.

The point networks (PointNet, PointNet++, DGCNN) differ only in the network from a batch of
clouds ``(B, N, 3)`` to logits; how many points they read and how training clouds are
augmented is common, and so is the recipe (``ClassifierMethod``), so that their comparison
with weight-space learners measures architectures, not training code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from nfbench.api import DataInfo
from nfbench.api.view import ViewBatch
from nfbench.pointcloud.augment import PointAugment, batch_augment
from nfbench.training.classifier_method import ClassifierConfig, ClassifierMethod

POINT_KINDS = ("udf", "sdf", "occ")  # the field kinds with a surface to decode clouds from


class PointClassifierConfig(ClassifierConfig):
    """Training settings every point-cloud classifier shares."""

    n_points: int = Field(2048, ge=2, description="points per cloud read from the points view (decoded or source)")
    decode_grid: int = Field(64, ge=8, description="grid cells per side of the sdf/occ surface decoders (udf clouds need none)")
    augment: PointAugment = Field(default_factory=PointAugment, description="augmentations of training clouds")


class PointClassifierMethod(ClassifierMethod):
    """A classifier ``model(points, embed=False)`` on ``(B, n_points, 3)`` clouds from the points view."""

    config: PointClassifierConfig
    resolution_field = "n_points"

    @classmethod
    def view_options(cls, config: PointClassifierConfig) -> dict[str, Any]:  # type: ignore[override]
        return {"n_points": config.n_points, "resolution": config.decode_grid}

    def check(self, info: DataInfo) -> None:
        augment = self.config.augment
        if augment.rotate:  # rotations turn about the dataset's up axis unless the config names one
            augment = augment.model_copy(update={"up_axis": info.up(augment.up_axis, f"{self.card.name}'s augment.rotate")})
        self.augment = augment

    def train_transform(self) -> Callable[[ViewBatch], ViewBatch] | None:
        return batch_augment(self.augment)
