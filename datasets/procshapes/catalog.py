"""The categories of procshapes in label order.

A category's position is its class label and its name is part of every item's identity,
so entries are only ever appended: reordering or renaming one relabels or regenerates
the dataset. Adding a category is one ``@category`` builder in a family module and one
entry here.
"""

from __future__ import annotations

from . import furniture, instruments, vehicles, vessels
from .assembly import Category

CATALOG: dict[str, Category] = {
    c.name: c
    for c in (
        furniture.chair, furniture.table, furniture.lamp, vehicles.airplane, vessels.mug, vessels.bottle,
        vehicles.rocket, vehicles.car, furniture.bench, instruments.guitar, furniture.sofa, vessels.vase,
    )
}
CATEGORIES: tuple[str, ...] = tuple(CATALOG)
PART_NAMES: dict[str, tuple[str, ...]] = {name: c.parts for name, c in CATALOG.items()}
