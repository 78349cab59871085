"""The one place that turns a user's ``--device`` into a ``torch.device``."""

from __future__ import annotations

import torch


def resolve_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks CUDA when present; asking for an absent CUDA is an error, not a fallback.

    A silent fallback would make a cluster job that lost its GPU run for days on CPU.
    """
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return device


def describe_device(device: torch.device) -> str:
    """Human-readable device name for records (GPU model or CPU thread count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"
