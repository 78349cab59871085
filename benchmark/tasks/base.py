"""Timing of a method's inference, shared by every task."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor

from nfbench.api.view import View
from nfbench.errors import ConfigError

T = TypeVar("T")


def clocked(fn: Callable[[], T], device: torch.device) -> tuple[T, float]:
    """``fn()`` and its wall time in seconds; CUDA is synchronized on both sides so that
    asynchronous kernels count where they run, not where they were queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def timed_inference(fn: Callable[[], Tensor], view: View, device: torch.device, what: str) -> tuple[Tensor, float]:
    """Run ``fn`` once and return its output with the time per INR in milliseconds.

    The measurement includes reading
    the test items from disk and, for views decoded from the fields (clouds, grids,
    renders), the decode the view's cache paid per item, as a user classifying stored INRs
    would pay both. A NaN/inf in the output is reported naming the method call (``check_finite``).
    """
    out, elapsed = clocked(fn, device)
    check_finite(out, what)
    return out.detach().cpu(), 1000.0 * elapsed / max(len(view), 1) + view.decode_ms_per_inr


def check_finite(out: Tensor, what: str) -> None:
    """A NaN/inf in a method's output is reported naming the call, not averaged into a metric."""
    bad = ~torch.isfinite(out)
    if bad.any():
        rows = bad.reshape(len(out), -1).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ConfigError(f"{what} returned NaN/inf on the test split (items {rows}...)")


def set_options(task: object, values: dict[str, int | None], minimum: dict[str, int]) -> None:
    """Override a task's class defaults with the options given (``None``: keep the default); a value below
    its ``minimum`` is a one-line error naming the task and the option."""
    for name, value in values.items():
        if value is not None:
            if value < minimum.get(name, 1):
                raise ConfigError(f"{type(task).__name__.lower()} task: {name}={value} is too small")
            setattr(task, name, value)
