"""The contract of a field kind: everything that depends on what a field represents.

A kind (udf, sdf, occ, image; NeRF later) decides how a shape becomes supervision, which
loss fits it, what a shard stores as its source data, how the fitted field is decoded
back into points or voxels and how its fit quality is measured. Code elsewhere asks the
kind (``FIELD_KINDS.get(name)``) instead of branching on its name, so adding a kind is one
module and one registry line. The contract speaks of ``coords`` and ``targets`` rather
than points, so that a kind whose supervision is rays can satisfy it too.

Kinds are stateless: the registry holds one instance of each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import Tensor

from nfbench.api.metrics import MetricSpec
from nfbench.decode.common import DEFAULT_MAX_QUERIES

if TYPE_CHECKING:
    from nfbench.datasets.base import Shape
    from nfbench.decode.common import FieldFn, RandomSource
    from nfbench.decode.render import RenderSettings
    from nfbench.targets.config import SamplingConfig
    from nfbench.targets.geometry import Source
    from nfbench.targets.supervision import Supervision

class FieldKind(ABC):
    """One kind of neural field. Subclasses set the class attributes and implement every method."""

    name: ClassVar[str]
    in_dim: ClassVar[int]
    """Coordinates the field takes (2 for images, 3 for shapes); a build checks its architecture against it."""
    quality_metrics: ClassVar[tuple[MetricSpec, ...]]
    """What ``fit_quality`` returns, one spec per key: records and ``nfbench data info`` format them from here."""
    surface_level: ClassVar[float | None]
    """``sigmoid(output)`` on the surface (udf 1, sdf 0.5, occ its decode threshold); ``None`` without a surface."""

    def __repr__(self) -> str:
        return f"<field kind {self.name!r}>"

    # ------------------------------------------------------------------ fitting

    @abstractmethod
    def query_count(self, cfg: SamplingConfig, image_hw: tuple[int, int] | None = None) -> int:
        """``Q``, the rows of ``supervision``: fixed by the config (and the image size), never by the shape,
        so the fitter can stack the supervision of many shapes."""

    @abstractmethod
    def supervision(self, shape: Shape, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>") -> Supervision:
        """Coordinates and targets for one normalized shape; ``DataError`` naming ``source`` when the shape lacks what the kind needs."""

    @abstractmethod
    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Fitting loss ``(B,)`` of raw outputs ``(B, N, out_dim)`` against targets: one independent value per INR."""

    @abstractmethod
    def distill_loss(self, pred: Tensor, teacher: Tensor) -> Tensor:
        """Scalar loss for a network that must reproduce another field's raw outputs ``teacher`` (shape of ``pred``);
        0 at a perfect match, so logged values compare across kinds."""

    @abstractmethod
    def source_tensors(
        self, shape: Shape, supervision: Supervision, n_reference_points: int, rng: np.random.Generator, source: Source = "<shape>"
    ) -> dict[str, np.ndarray]:
        """What a shard stores per item as its source data (reference clouds, voxels, images), by tensor name.

        Called after ``supervision`` with the same ``rng``. Names are the store's
        (``points``, ``point_parts``, ``voxels``, ``images``): views read them back with
        ``--input source``.
        """

    # ------------------------------------------------------------------ quality and decoding

    @abstractmethod
    def quality_reference(self, source: dict[str, Tensor], device: torch.device) -> Tensor:
        """From a shard's stacked source tensors, the ``reference`` of ``fit_quality``, on ``device``."""

    @abstractmethod
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
        """Per-INR agreement ``(B,)`` between decoded fields and the data they were fitted to, keyed by
        ``quality_metrics`` names. Decoding runs on ``reference.device``; ``generator`` as in ``decode_points``."""

    quality_inputs: ClassVar[tuple[str, ...]]
    """Stored source tensors ``quality_reference`` reads."""
    source_target_inputs: ClassVar[tuple[str, ...]] = ()
    """Stored source tensors ``source_targets`` needs; () when the store keeps too little of the
    source to recompute its field (an sdf needs the mesh, which is not stored)."""

    def source_targets(self, source: dict[str, Tensor], coords: Tensor) -> Tensor:
        """The source shapes' fitting targets ``(B, N, out_dim)`` at ``coords (B, N, in_dim)``, computed in
        torch from stored source tensors (``source_target_inputs``): the signal the released nf2vec
        pretext regresses, where nfbench's own pretext distils the INR. Default: a one-line refusal."""
        raise ValueError(f"{self.name} datasets store too little of the source shape to recompute its field")

    no_surface: ClassVar[str] = ""
    """Why the kind has no surface to sample (e.g. images are 2-D); '' when it has one."""
    no_inside: ClassVar[str] = ""
    """Why the kind has no inside to voxelize (e.g. an unsigned distance); '' when it has one."""

    def decode_points(
        self,
        fn: FieldFn,
        batch: int,
        n_points: int,
        resolution: int,
        *,
        device: torch.device | str | None = None,
        generator: RandomSource = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Surface clouds ``(B, n_points, 3)``; ``resolution`` is the grid of grid-based decoders.

        ``generator``: ``ItemStreams`` (one stream per INR: an INR decodes the same in any
        batch), a ``torch.Generator`` on ``device``, or ``None`` (torch's global RNG).
        ``ValueError`` for kinds without a surface (``no_surface``), the default.
        """
        raise ValueError(f"{self.name} fields have no surface to decode points from: {self.no_surface}")

    def decode_voxels(
        self,
        fn: FieldFn,
        batch: int,
        resolution: int,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Solid occupancy grids ``(B, R, R, R)`` bool indexed ``[b, x, y, z]``; by default a ``ValueError``
        for kinds without an inside (``no_inside``)."""
        raise ValueError(f"{self.name} fields have no inside to voxelize: {self.no_inside}")

    def decode_renders(
        self,
        fn: FieldFn,
        batch: int,
        settings: RenderSettings,
        *,
        device: torch.device | str | None = None,
        max_queries: int = DEFAULT_MAX_QUERIES,
    ) -> Tensor:
        """Shaded images ``(B, K, 1, H, W)`` in [0, 1] of the surface from the camera ring of ``settings``
        (``nfbench.decode.render``); by default a ``ValueError`` for kinds without a surface (``no_surface``)."""
        raise ValueError(f"{self.name} fields have no surface to render: {self.no_surface}")

    @staticmethod
    def check_reference(reference: Tensor, batch: int, shape: str, ndim: int) -> None:
        """Fail with one line when a quality reference does not hold ``batch`` items of ``ndim`` dimensions."""
        if reference.shape[0] != batch:
            raise ValueError(f"reference holds {reference.shape[0]} items for a batch of {batch} fields")
        if reference.dim() != ndim:
            raise ValueError(f"expected reference {shape}, got {tuple(reference.shape)}")
