"""Lazy registries: entries are ``"module:attr"`` strings imported on first use.

Lazy loading keeps ``nfbench --help`` fast and lets third-party packages add entries
through an entry-point group without nfbench importing them eagerly. A registry knows
the base class of its entries and checks it both when an object is registered and when
a lazy reference is first imported, so a plugin that exports the wrong thing fails with
its name, not deep inside a benchmark run. A plugin whose name collides with a built-in
is an error naming both: silently preferring one would make results depend on what
happens to be installed.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from nfbench.errors import UserError

T = TypeVar("T")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Suffix for an error message: the closest valid names, or all of them if none are close."""
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}?"
    return f"; valid names: {', '.join(choices)}"


class RegistryError(UserError, KeyError):
    """A registry lookup or registration failed (unknown name, collision, wrong type).

    Also a ``KeyError`` so callers that look names up can catch it; ``str()`` gives the
    message without the quotes ``KeyError`` adds.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attr"``."""
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise RegistryError(f"registry reference {ref!r} must look like 'module:attr'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ImportError(f"{module_name!r} has no attribute {attr!r} (from {ref!r})") from exc


class Registry(Generic[T]):
    """Name -> lazily imported object, with an optional entry-point group for plugins.

    ``base`` is the class every entry must subclass (or be an instance of, for registries
    of objects); ``validate`` runs further checks on a loaded entry (e.g. its presets).
    """

    def __init__(
        self,
        kind: str,
        base: type | None = None,
        entry_point_group: str | None = None,
        validate: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.entry_point_group = entry_point_group
        self.validate = validate
        self._refs: dict[str, str] = {}
        self._origin: dict[str, str] = {}
        self._loaded: dict[str, T] = {}
        self._plugins_scanned = False

    def _check(self, name: str, obj: Any, origin: str) -> None:
        if self.base is not None:
            ok = (isinstance(obj, type) and issubclass(obj, self.base)) or isinstance(obj, self.base)
            if not ok:
                raise RegistryError(
                    f"{self.kind} {name!r} ({origin}) is {obj!r}, not a subclass of {self.base.__module__}.{self.base.__qualname__}"
                )
        if self.validate is not None:
            try:
                self.validate(name, obj)
            except (TypeError, ValueError) as exc:
                raise RegistryError(f"{self.kind} {name!r} ({origin}): {exc}") from exc

    def register_lazy(self, name: str, ref: str) -> None:
        if name in self._refs and self._refs[name] != ref:
            raise RegistryError(f"{self.kind} {name!r} is already registered as {self._refs[name]!r}, not {ref!r}")
        self._refs[name] = ref
        self._origin.setdefault(name, ref)

    def register(self, name: str, obj: T) -> T:
        if (name in self._loaded and self._loaded[name] is not obj) or name in self._refs:
            raise RegistryError(f"{self.kind} {name!r} is already registered ({self._origin.get(name, 'in code')})")
        self._check(name, obj, "registered in code")
        self._loaded[name] = obj
        self._origin[name] = "registered in code"
        return obj

    def _scan_plugins(self) -> None:
        if self._plugins_scanned or self.entry_point_group is None:
            return
        self._plugins_scanned = True
        for ep in entry_points(group=self.entry_point_group):
            dist = getattr(ep.dist, "name", "?") if ep.dist is not None else "?"
            origin = f"plugin {ep.value!r} from distribution {dist!r}"
            if ep.name in self._refs or ep.name in self._loaded:
                if self._refs.get(ep.name) == ep.value:
                    continue  # the same reference declared twice (an editable install of nfbench itself)
                raise RegistryError(
                    f"{self.kind} name {ep.name!r} of {origin} collides with the already registered "
                    f"{self._origin.get(ep.name, ep.name)!r}; rename the plugin's entry point"
                )
            self._refs[ep.name] = ep.value
            self._origin[ep.name] = origin

    def names(self) -> list[str]:
        self._scan_plugins()
        return sorted(set(self._refs) | set(self._loaded))

    def get(self, name: str) -> T:
        self._scan_plugins()
        if name not in self._loaded:
            if name not in self._refs:
                raise RegistryError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}")
            obj = load_ref(self._refs[name])
            self._check(name, obj, self._origin[name])
            self._loaded[name] = obj
        return self._loaded[name]

    def __contains__(self, name: str) -> bool:
        return name in self.names()
