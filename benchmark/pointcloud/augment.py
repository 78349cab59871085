"""The point networks' augmentations of training clouds, as options of a method's config.

PointNet rotates each training cloud about the up axis and jitters its points; PointNet++
adds a random scale and a shift; DGCNN scales each axis on its own and shifts. One typed
config covers the three, each paper's preset turning on its own. Every draw comes from
torch's global RNG on the batch's device, which the shared ``Trainer`` checkpoints, so a
resumed fit replays the same augmentations; validation and test clouds are never touched
(``fit_classifier`` applies the transform to training batches only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor

from nfbench.api.view import Axis, ViewBatch

AXES: dict[str, int] = {"x": 0, "y": 1, "z": 2}


class PointAugment(BaseModel):
    """What to do to each training cloud ``(N, 3)``, drawn afresh per batch, in this order; all off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotate: bool = Field(False, description="random rotation about the up axis, angle uniform in [0, 2 pi)")
    up_axis: Axis | None = Field(
        None, description="the axis rotations turn about; None: the dataset card's (z for ModelNet, y for procshapes)"
    )
    scale: tuple[float, float] = Field((1.0, 1.0), description="range of the random scale factors, uniform")
    anisotropic: bool = Field(False, description="one scale factor per axis (DGCNN) instead of one per cloud (PointNet++)")
    shift: float = Field(0.0, ge=0, description="random translation per cloud, uniform in [-shift, shift] per axis")
    jitter: float = Field(0.0, ge=0, description="std of Gaussian noise added to every coordinate of every point")
    jitter_clip: float = Field(0.05, gt=0, description="the noise is clipped to [-jitter_clip, jitter_clip]")

    @model_validator(mode="after")
    def _scale_range(self) -> PointAugment:
        low, high = self.scale
        if not 0 < low <= high:
            raise ValueError(f"scale {self.scale}: needs 0 < low <= high")
        return self

    @property
    def active(self) -> bool:
        return self.rotate or self.scale != (1.0, 1.0) or self.shift > 0 or self.jitter > 0

    def __call__(self, points: Tensor) -> Tensor:
        """``(B, N, 3)`` clouds, augmented each on its own."""
        b, like = points.shape[0], dict(dtype=points.dtype, device=points.device)
        if self.rotate:
            if self.up_axis is None:
                raise ValueError("PointAugment.rotate needs an up axis: resolve it from the dataset first (DataInfo.up)")
            points = points @ up_rotations(torch.rand(b, **like) * (2 * math.pi), AXES[self.up_axis]).transpose(1, 2)
        low, high = self.scale
        if (low, high) != (1.0, 1.0):
            points = points * (low + (high - low) * torch.rand(b, 1, 3 if self.anisotropic else 1, **like))
        if self.shift > 0:
            points = points + self.shift * (2 * torch.rand(b, 1, 3, **like) - 1)
        if self.jitter > 0:
            points = points + (self.jitter * torch.randn_like(points)).clamp(-self.jitter_clip, self.jitter_clip)
        return points


def up_rotations(angles: Tensor, up: int) -> Tensor:
    """``(B, 3, 3)`` right-handed rotations by ``angles`` about axis ``up``, which they leave fixed."""
    a, b = (up + 1) % 3, (up + 2) % 3  # the plane of rotation, in cyclic order
    cos, sin = angles.cos(), angles.sin()
    rot = torch.eye(3, dtype=angles.dtype, device=angles.device).repeat(len(angles), 1, 1)
    rot[:, a, a], rot[:, a, b], rot[:, b, a], rot[:, b, b] = cos, -sin, sin, cos
    return rot


def batch_augment(augment: PointAugment) -> Callable[[ViewBatch], ViewBatch] | None:
    """The training-batch transform of ``fit_classifier`` for points views, or None when nothing is on."""
    if not augment.active:
        return None
    return lambda batch: replace(batch, data=augment(batch.data))
