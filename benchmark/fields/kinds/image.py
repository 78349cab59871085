"""image: intensities of a 2-D image (the DWSNet / NFN image INRs).

Coordinates are pixel centres in ``[-1, 1]^2``, row-major, ``x`` (the column, left to
right) first and ``y`` (the row, top to bottom) second; targets are the ``(H*W, C)``
intensities in ``[0, 1]``, fitted with MSE on the raw output. Images have no surface and
no inside: they decode only to images.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from nfbench.api.metrics import MetricSpec
from nfbench.datasets.base import Shape
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, RandomSource
from nfbench.decode.image import field_to_image, pixel_centres
from nfbench.errors import DataError
from nfbench.fields.kinds.base import FieldKind
from nfbench.metrics import psnr
from nfbench.targets import SamplingConfig, Supervision, check_image, finish_supervision, mse_loss
from nfbench.targets.geometry import Source


class ImageKind(FieldKind):
    name = "image"
    in_dim = 2
    surface_level = None
    source_target_inputs = ("images",)
    quality_inputs = ("images",)
    no_surface = "images are 2-D intensity fields"
    no_inside = "images are 2-D intensity fields"
    quality_metrics = (
        MetricSpec(
            name="psnr",
            higher_is_better=True,
            unit="dB",
            definition="PSNR (data range 1) of the INR sampled at pixel centres and clamped to [0, 1], against the image it was fitted to",
        ),
    )

    def query_count(self, cfg: SamplingConfig, image_hw: tuple[int, int] | None = None) -> int:
        """One query per pixel, whatever the sampling config."""
        if image_hw is None:
            raise ValueError("image fields have one query per pixel: pass image_hw=(H, W)")
        return image_hw[0] * image_hw[1]

    def supervision(self, shape: Shape, cfg: SamplingConfig, rng: np.random.Generator, source: Source = "<shape>") -> Supervision:
        if shape.image is None:
            raise DataError(source, "image fields need an image")
        img = check_image(shape.image, source)
        coords = pixel_centres(img.shape[0], img.shape[1], torch.device("cpu"), torch.float64).numpy()
        return finish_supervision(coords, img.reshape(-1, img.shape[2]), source)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return mse_loss(pred, target)

    def distill_loss(self, pred: Tensor, teacher: Tensor) -> Tensor:
        return F.mse_loss(pred, teacher)

    def source_tensors(
        self, shape: Shape, supervision: Supervision, n_reference_points: int, rng: np.random.Generator, source: Source = "<shape>"
    ) -> dict[str, np.ndarray]:
        """The checked image ``(H, W, C)`` float32, as fitted."""
        height, width = np.shape(shape.image)[:2]
        return {"images": supervision.targets.reshape(height, width, -1)}

    def quality_reference(self, source: dict[str, Tensor], device: torch.device) -> Tensor:
        return source["images"].to(device)

    def source_targets(self, source: dict[str, Tensor], coords: Tensor) -> Tensor:
        """The stored image's pixel containing each coordinate (x is the column, y the row, as ``pixel_centres``)."""
        images = source["images"].to(coords)
        b, height, width, channels = images.shape
        col = ((coords[..., 0] + 1) / 2 * width).floor().long().clamp(0, width - 1)
        row = ((coords[..., 1] + 1) / 2 * height).floor().long().clamp(0, height - 1)
        index = (row * width + col).unsqueeze(-1).expand(-1, -1, channels)
        return torch.gather(images.reshape(b, height * width, channels), 1, index)

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
        """``psnr`` against the reference images ``(B, H, W, C)``, sampled at their size (``resolution`` is unused)."""
        self.check_reference(reference, batch, "images (B, H, W, C)", 4)
        _, height, width, channels = reference.shape
        image = field_to_image(fn, batch, height, width, channels, device=reference.device, max_queries=max_queries)
        return {"psnr": psnr(image, reference)}


IMAGE = ImageKind()
