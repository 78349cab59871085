"""Checkpoint files a training can always resume from, and the RNG states that make resuming exact.

Files are written to a temporary name and renamed, so a process killed mid-write leaves
the previous checkpoint intact. They are read with ``torch.load(weights_only=True)``,
which unpickles nothing but tensors and plain containers: RNG states are therefore kept
as tensors and plain numbers, never as numpy arrays or objects.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = 1
"""Version of the payload layout; a checkpoint of another version is not resumed."""


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write ``payload`` to ``path`` so that ``path`` is always either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_warn(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``; ``None`` (after a one-line warning) when it cannot be used.

    A damaged checkpoint must not stop a long job: losing the progress it held costs less
    than a failed run.
    """
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, garbage, forbidden pickle: all mean "unusable"
        reason = " ".join(str(exc).split())[:160]
        warnings.warn(
            f"{path}: unreadable checkpoint ({type(exc).__name__}: {reason}); training starts from scratch", stacklevel=2
        )
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        warnings.warn(f"{path}: not an nfbench trainer checkpoint of format {FORMAT}; training starts from scratch", stacklevel=2)
        return None
    return payload


def saved_train_seconds(root: Path, name: str) -> float:
    """Training seconds held by the checkpoints named ``name`` under ``root``: what earlier
    processes spent on the epochs a resumed run will not redo.

    A run resumed after a kill times only its own part; adding these makes its record
    report the whole training (minus the epochs lost after the last checkpoint, which are redone)."""
    if not root.is_dir():
        return 0.0
    payloads = (load_or_warn(path) for path in sorted(root.rglob(name)))
    return sum(float(p["result"]["train_seconds"]) for p in payloads if p is not None)


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every global RNG a training step may draw from (dropout, DataLoader seeds, augmentations)."""
    keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)[1:]
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Undo ``rng_state``: the next random draw is the one that followed the snapshot."""
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], device)
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
