"""Plumbing shared by the decoders: batched field callables, query grids, chunked evaluation, random draws.

Decoders take a plain batched callable instead of ``(spec, params)`` so that analytic
fields can stand in for fitted INRs in tests, and any batched model can be decoded. They
know nothing about field kinds: each kind (``nfbench.fields.kinds``) says which decoder
it uses and at which level its surface lies.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.fitting.streams import ItemStreams
from nfbench.metrics import require_finite

FieldFn = Callable[[Tensor], Tensor]
"""Batched field: queries ``(B, N, in_dim)`` -> raw outputs (logits) ``(B, N, out_dim)``."""

DEFAULT_MAX_QUERIES = 2**17
"""Query points sent through a field in one call, summed over the INRs of a batch."""

RandomSource = torch.Generator | ItemStreams | None
"""Where a decoder's random numbers come from: one stream per INR (``ItemStreams``: an INR
decodes the same whatever else is in its batch), one generator for the whole batch (on the
decode device), or ``None`` for torch's global generator."""



class NoSurfaceWarning(RuntimeWarning):
    """A decoder found no surface for some INRs of its batch and gave them a fallback.

    ``items`` are their positions in the batch, so that a caller that keeps decodes (the
    decoded-view cache) can count them per INR instead of parsing the message.
    """

    def __init__(self, message: str, items: list[int]) -> None:
        super().__init__(message)
        self.items = items

@contextlib.contextmanager
def no_surface_items() -> Iterator[list[int]]:
    """Collects the batch positions that ``NoSurfaceWarning``s inside the block name (in the
    order warned; one decode call per block keeps them unambiguous); other warnings pass on."""
    flagged: list[int] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NoSurfaceWarning)
        yield flagged
    for w in caught:
        if isinstance(w.message, NoSurfaceWarning):
            flagged += w.message.items
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def field_fn(spec: FieldSpec, params: Params) -> FieldFn:
    """Bind stacked INR parameters ``(B, *shape)`` into the callable the decoders and the fitter use."""
    return functools.partial(batched_forward, spec, params)


def query_device(device: torch.device | str | None) -> torch.device:
    """Where decoders put their queries: ``device``, or torch's default device when ``None``."""
    return torch.get_default_device() if device is None else torch.device(device)


def inverse_cdf(weights: Tensor, u: Tensor) -> Tensor:
    """Indices into the last axis of ``weights (..., M)`` drawn with probability proportional to
    the weights, from uniforms ``u (..., n)`` in ``[0, 1)``; zero-weight entries are never drawn."""
    cdf = weights.cumsum(dim=-1)
    idx = torch.searchsorted(cdf, u.to(cdf.dtype) * cdf[..., -1:], right=True)
    return idx.clamp_(max=weights.shape[-1] - 1)


class Draws:
    """The random numbers of one decode of ``batch`` INRs, as ``(B, *shape)`` tensors on ``device``."""

    def __init__(self, source: RandomSource, batch: int, device: torch.device) -> None:
        if isinstance(source, ItemStreams) and len(source) != batch:
            raise ValueError(f"{len(source)} item streams for a batch of {batch} fields")
        self.source, self.batch, self.device = source, batch, device

    def uniform(self, *shape: int) -> Tensor:
        if isinstance(self.source, ItemStreams):
            return self.source.uniform(*shape).to(self.device)
        return torch.rand(self.batch, *shape, generator=self.source, device=self.device)

    def normal(self, *shape: int) -> Tensor:
        if isinstance(self.source, ItemStreams):
            return self.source.normal(*shape).to(self.device)
        return torch.randn(self.batch, *shape, generator=self.source, device=self.device)

    def weighted(self, weights: Tensor, n: int) -> Tensor:
        """``(B, n)`` indices into ``weights (B, M)``, drawn with replacement in proportion to the weights."""
        return inverse_cdf(weights, self.uniform(n))


def query_chunks(batch: int, n_queries: int, max_queries: int) -> list[slice]:
    """Slices over the query axis so that one call sees at most ``max_queries`` points in total."""
    step = max(1, max_queries // max(batch, 1))
    return [slice(start, min(start + step, n_queries)) for start in range(0, n_queries, step)]


def call_field(fn: FieldFn, x: Tensor, out_dim: int) -> Tensor:
    """Call ``fn`` and check that it answered one ``out_dim`` vector per query."""
    out = fn(x)
    expected = (*x.shape[:2], out_dim)
    if out.shape != expected:
        raise ValueError(f"field returned shape {tuple(out.shape)} for queries {tuple(x.shape)}, expected {expected}")
    return out


def evaluate(fn: FieldFn, x: Tensor, out_dim: int, max_queries: int = DEFAULT_MAX_QUERIES) -> Tensor:
    """``fn(x)`` for ``x (B, N, d)`` without autograd, in chunks; raises on non-finite outputs."""
    with torch.no_grad():
        out = torch.cat([call_field(fn, x[:, s], out_dim) for s in query_chunks(*x.shape[:2], max_queries)], dim=1)
    require_finite(out, "field output")
    return out


def value_and_grad(fn: FieldFn, x: Tensor, max_queries: int = DEFAULT_MAX_QUERIES) -> tuple[Tensor, Tensor]:
    """A scalar field ``(B, N)`` and its gradient in the queries ``(B, N, d)`` at ``x (B, N, d)``, in chunks.

    Autograd is switched on here, so callers may run under ``torch.no_grad`` (decoders do).
    Raises on non-finite values or gradients.
    """
    values, grads = [], []
    for s in query_chunks(*x.shape[:2], max_queries):
        xc = x[:, s].detach().requires_grad_(True)
        with torch.enable_grad():
            value = call_field(fn, xc, 1)[..., 0]
            # A field that ignores its input (constant) has no graph back to x: zero gradient.
            grad = torch.autograd.grad(value.sum(), xc, allow_unused=True)[0] if value.requires_grad else None
        values.append(value.detach())
        grads.append(torch.zeros_like(xc) if grad is None else grad)
    value, grad = torch.cat(values, dim=1), torch.cat(grads, dim=1)
    require_finite(value, "field output")
    require_finite(grad, "field gradient")
    return value, grad


def grid_centres(resolution: int, device: torch.device, dtype: torch.dtype = torch.float32) -> Tensor:
    """Voxel centres ``-1 + (2i + 1) / R`` as ``(R^3, 3)``; ``reshape(R, R, R)`` indexes ``[x, y, z]``."""
    c = (2 * torch.arange(resolution, device=device, dtype=dtype) + 1) / resolution - 1
    return torch.stack(torch.meshgrid(c, c, c, indexing="ij"), dim=-1).reshape(-1, 3)


def evaluate_grid(
    fn: FieldFn, batch: int, resolution: int, device: torch.device, max_queries: int = DEFAULT_MAX_QUERIES
) -> Tensor:
    """Scalar field values on the voxel-centre grid, ``(B, R, R, R)`` indexed ``[b, x, y, z]``."""
    if resolution < 2:
        raise ValueError(f"grid resolution must be at least 2, got {resolution}")
    points = grid_centres(resolution, device).expand(batch, -1, -1)
    return evaluate(fn, points, 1, max_queries)[..., 0].reshape(batch, resolution, resolution, resolution)


def closest_to_level(grid: Tensor, level: float, n_points: int) -> Tensor:
    """Centres ``(B, n_points, 3)`` of the grid cells whose value is closest to ``level``.

    The fallback cloud for a field with no surface at its decision level: a deliberately
    poor but finite answer, so that metrics score the failure instead of seeing NaNs.
    Cells repeat cyclically when the grid has fewer than ``n_points`` of them.
    """
    resolution = grid.shape[1]
    k = min(n_points, grid[0].numel())
    idx = (grid.flatten(1) - level).abs().topk(k, dim=1, largest=False).indices
    idx = idx[:, torch.arange(n_points, device=grid.device) % k]
    return grid_centres(resolution, grid.device, grid.dtype)[idx]


def check_count(name: str, value: int) -> None:
    """Fail early on sizes that would otherwise surface as obscure errors from topk or searchsorted."""
    if value < 1:
        raise ValueError(f"{name} must be positive, got {value}")
