"""The registry of field kinds: one module per kind, one line here per kind.

Entries are ``FieldKind`` instances, imported on first use (a kind pulls in its target and
decoder code). Plugins add kinds through the ``nfbench.field_kinds`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from nfbench.api.registry import Registry
from nfbench.fields.kinds.base import FieldKind


def _named_as_registered(name: str, kind: Any) -> None:
    if kind.name != name:
        raise ValueError(f"is registered as {name!r} but calls itself {kind.name!r}")


FIELD_KINDS: Registry[FieldKind] = Registry(
    "field kind", base=FieldKind, entry_point_group="nfbench.field_kinds", validate=_named_as_registered
)
FIELD_KINDS.register_lazy("udf", "nfbench.fields.kinds.udf:UDF")
FIELD_KINDS.register_lazy("sdf", "nfbench.fields.kinds.sdf:SDF")
FIELD_KINDS.register_lazy("occ", "nfbench.fields.kinds.occ:OCC")
FIELD_KINDS.register_lazy("image", "nfbench.fields.kinds.image:IMAGE")


def field_kind(name: str) -> FieldKind:
    """The registered kind ``name``; a ``RegistryError`` with the closest names on a typo."""
    return FIELD_KINDS.get(name)


__all__ = ["FIELD_KINDS", "FieldKind", "field_kind"]
