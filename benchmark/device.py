"""The one place that turns a user's ``--device`` into a ``torch.device``."""

from __future__ import annotations

import torch

from nfbench.errors import ConfigError


def resolve_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for an absent CUDA is an error, not a fallback.

    A silent fallback would make a cluster job that lost its GPU run for days on CPU, and
    a GPU index past the last one would otherwise fail only at the first tensor moved.
    """
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"--device {name!r} is not a device (use auto, cpu, cuda or cuda:<index>)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def describe_device(device: torch.device) -> str:
    """Human-readable device name for records (GPU model or CPU thread count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


CPU_BLOCK_ROWS = 4096
"""Rows (items x queries) one CPU forward/backward block should hold. A 128-wide activation of 4K rows
(2 MB) stays in cache; at 131K rows (a DeepSDF test-time batch of 64 shapes x 2048 queries) the
same step ran about 3 times slower on these machines, bound by memory traffic in the ReLUs.
Blocks of 2K to 4K rows were fastest (``nfbench.bench.blocked_backward``); 4K takes half the
Python iterations of 2K."""


def items_per_block(device: torch.device, rows_per_item: int) -> int | None:
    """How many items a memory-bound forward/backward should take at once on ``device``: enough for about
    ``CPU_BLOCK_ROWS`` rows on the CPU, all of them (``None``) on a GPU, which wants large kernels."""
    if device.type == "cuda":
        return None
    return max(1, CPU_BLOCK_ROWS // max(1, rows_per_item))
