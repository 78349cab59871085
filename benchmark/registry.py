"""Lazy registries: entries are ``"module:attr"`` strings imported on first use.

Lazy loading keeps ``nfbench --help`` fast and lets third-party packages add entries
through an entry-point group without nfbench importing them eagerly.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, Iterable, TypeVar

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Suffix for an error message: the closest valid names, or all of them if none are close."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}?"
    return f"; valid names: {', '.join(choices)}"


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attr"``."""
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"registry reference {ref!r} must look like 'module:attr'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ImportError(f"{module_name!r} has no attribute {attr!r} (from {ref!r})") from exc


class Registry(Generic[T]):
    """Name -> lazily imported object, with an optional entry-point group for plugins."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._refs: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._plugins_scanned = False

    def register_lazy(self, name: str, ref: str) -> None:
        if name in self._refs and self._refs[name] != ref:
            raise ValueError(f"{self.kind} {name!r} is already registered as {self._refs[name]!r}")
        self._refs[name] = ref

    def register(self, name: str, obj: T) -> T:
        if name in self._loaded and self._loaded[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._loaded[name] = obj
        return obj

    def _scan_plugins(self) -> None:
        if self._plugins_scanned or self.entry_point_group is None:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._refs and ep.name not in self._loaded:
                self._refs[ep.name] = ep.value

    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(set(self._refs) | set(self._loaded))

    def get(self, name: str) -> T:
        self._scan_plugins()
        if name not in self._loaded:
            if name not in self._refs:
                raise KeyError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}")
            self._loaded[name] = load_ref(self._refs[name])
        return self._loaded[name]

    def __contains__(self, name: str) -> bool:
        return name in self.names()
