"""What a task returns, and the timing of a method's inference on the test split."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from nfbench.method import Method
from nfbench.store.reader import INRDataset


@dataclass
class TaskResult:
    metrics: dict[str, float]
    details: dict[str, Any]
    inference_ms_per_inr: float
    embeddings: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)


def timed_inference(fn: Callable[[], Tensor], n_items: int, device: torch.device) -> tuple[Tensor, float]:
    """Run ``fn`` once and return its output with the wall time per INR in milliseconds.

    Synchronizes CUDA so asynchronous kernels are counted. The measurement includes reading
    the test INRs from disk, as a user classifying stored INRs would pay it.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    if not torch.isfinite(out).all():
        raise FloatingPointError("method produced NaN/inf outputs on the test split")
    return out.detach().cpu(), 1000.0 * elapsed / max(n_items, 1)


class Task(ABC):
    name: ClassVar[str]
    main_metric: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def evaluate(self, method: Method, data: INRDataset) -> TaskResult:
        """Evaluate a trained method once on the test split."""
