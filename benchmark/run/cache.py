"""The cache of trained methods: safetensors for tensors, JSON for the rest; never pickle.

The key covers the method's config, the dataset's content fingerprint, the seed, the
view and input mode, and a hash of the method's source code, so editing a method never
serves a model trained by the old code. An unreadable entry (truncated, edited, from an
older layout) is treated as absent: one warning line naming it, then training again.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from nfbench.api import Method
from nfbench.hashing import sha256_json, sha256_text
from nfbench.store.atomic import atomic_write, atomic_write_text

SEP = "/"


def code_hash(cls: type[Method]) -> str:
    """sha256 over the source files of every class in the method's MRO outside the stdlib and torch.

    A method built on nfbench's shared layers also changes when those change, so the
    modules of its nfbench bases count too.
    """
    files: dict[str, str] = {}
    for klass in cls.__mro__:
        module = sys.modules.get(klass.__module__)
        name = klass.__module__.split(".")[0]
        if module is None or name in ("builtins", "abc", "typing", "torch") or name in sys.stdlib_module_names:
            continue
        try:
            files[klass.__module__] = inspect.getsource(module)
        except (OSError, TypeError):
            files[klass.__module__] = klass.__qualname__  # no source available (compiled): best effort
    return sha256_json({k: sha256_text(v) for k, v in sorted(files.items())})


def flatten(state: dict[str, Any], prefix: str = "") -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Nested dicts -> (tensors by path, JSON leaves by path)."""
    tensors: dict[str, Tensor] = {}
    other: dict[str, Any] = {}
    for key, value in state.items():
        if SEP in str(key):
            raise ValueError(f"state key {key!r} must not contain {SEP!r}")
        path = f"{prefix}{key}"
        if isinstance(value, Tensor):
            tensors[path] = value.detach().to("cpu").clone()  # own storage: safetensors refuses shared tensors
        elif isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            t, o = flatten(value, path + SEP)
            tensors.update(t)
            other.update(o)
        else:
            other[path] = value
    return tensors, other


def unflatten(tensors: dict[str, Tensor], other: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for path, value in [*tensors.items(), *other.items()]:
        node = state
        *parents, leaf = path.split(SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return state


class TrainedCache:
    """``<root>/<method>/<key>.safetensors`` + ``<key>.json``; the JSON is written last."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self, method: str, key: str) -> tuple[Path, Path]:
        stem = self.root / method / key[:24]
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")

    def load(self, method: str, key: str, device: torch.device, warn) -> tuple[dict[str, Any], dict[str, Any]] | None:  # type: ignore[no-untyped-def]
        tensors_path, meta_path = self.paths(method, key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != key:
                raise ValueError("key mismatch")
            tensors = load_file(str(tensors_path), device=str(device))
            return unflatten(tensors, meta["state"]), meta
        except Exception as exc:  # any unreadable entry means: train again
            warn(f"warning: {meta_path}: unreadable training cache ({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); retraining")
            return None

    def save(self, method: str, key: str, state: dict[str, Any], meta: dict[str, Any]) -> None:
        tensors_path, meta_path = self.paths(method, key)
        tensors, other = flatten(state)
        atomic_write(tensors_path, lambda tmp: save_file(tensors, str(tmp)))
        atomic_write_text(meta_path, json.dumps({**meta, "key": key, "state": other}, indent=1, sort_keys=True) + "\n")
