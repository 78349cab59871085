"""Images from 2D fields: intensities sampled at pixel centres."""

from __future__ import annotations

import torch
from torch import Tensor

from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, evaluate, query_device


def pixel_centres(height: int, width: int, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """``(H * W, 2)`` row-major pixel centres in ``[-1, 1]^2``; ``[..., 0]`` is x (column), ``[..., 1]`` y (row)."""
    ys = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    xs = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx, yy], dim=-1).reshape(-1, 2)


def field_to_image(
    fn: FieldFn,
    batch: int,
    height: int,
    width: int,
    channels: int = 1,
    *,
    device: torch.device | str | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Images ``(B, H, W, C)`` in ``[0, 1]``: the field at pixel centres, clamped (fields overshoot)."""
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    points = pixel_centres(height, width, query_device(device)).expand(batch, -1, -1)
    return evaluate(fn, points, channels, max_queries).clamp(0, 1).reshape(batch, height, width, channels)
