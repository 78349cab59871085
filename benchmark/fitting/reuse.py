"""Copying fits from a finished build instead of refitting them (``nfbench data build --reuse DIR``).

With per-item seeding an INR's weights depend only on its shape, the build seed and the
fitting settings, never on which other items a build holds. So builds that differ only
in which items they select (``--limit``, ``--limit-train``, ``--limit-test``, ``--augment``)
share the fit of every item they have in common: a learning-curve build serves a smaller
benchmark subset, and an ``--augment`` build its un-augmented base, for the cost of the
new items only. Copied bytes equal refitted ones, so a build made this way has the
fingerprint of one fitted from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from nfbench.errors import ConfigError
from nfbench.fields import Params
from nfbench.store.reader import INRDataset
from nfbench.store.schema import BuildConfig, ItemRecord

SELECTION_FIELDS = frozenset({"limit", "limit_train", "limit_test", "augment"})
"""BuildConfig fields that choose which items a build holds, not how each one is fitted."""

ShardFit = tuple[Params, dict[str, torch.Tensor], list[ItemRecord]]


class Donor:
    """A finished build whose items another build copies when key and source fingerprint match."""

    def __init__(self, root: Path, config: BuildConfig) -> None:
        self.dataset = INRDataset.open(root)
        mine = config.model_dump(mode="json", exclude=set(SELECTION_FIELDS))
        theirs = self.dataset.meta.build.model_dump(mode="json", exclude=set(SELECTION_FIELDS))
        differ = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if differ:
            raise ConfigError(
                f"--reuse {root}: that build differs in {differ}; only builds that differ in "
                f"{sorted(SELECTION_FIELDS)} fit shared items alike"
            )
        self._found = {
            (item.key, item.fingerprint): item
            for record in self.dataset.records
            for item in record.items
        }

    def find(self, item: ItemRecord) -> ItemRecord | None:
        """The donor's record of ``item`` (same key, same source bytes), or None."""
        return self._found.get((item.key, item.fingerprint))

    def fit_or_copy(self, items: list[ItemRecord], fit: Callable[[list[ItemRecord]], ShardFit]) -> tuple[ShardFit, int]:
        """``fit``'s result for ``items``, fitting only those the donor lacks; also how many were copied."""
        hits = [self.find(it) for it in items]
        new = [i for i, h in enumerate(hits) if h is None]
        old = [i for i, h in enumerate(hits) if h is not None]
        parts: list[tuple[list[int], ShardFit]] = []
        if new:
            parts.append((new, fit([items[i] for i in new])))
        if old:
            rows = [hits[i].index for i in old]  # type: ignore[union-attr]
            copied = [items[i].model_copy(update={"fit": hits[i].fit}) for i in old]  # type: ignore[union-attr]
            parts.append((old, (self.dataset.read_params(rows), self.dataset.read_source(rows), copied)))
        if len(parts) == 1:
            return parts[0][1], len(old)
        order = torch.tensor([i for positions, _ in parts for i in positions]).argsort()
        names = set.intersection(*(set(part[1]) for _, part in parts))  # a tensor only some items have is not stored
        params = {n: torch.cat([part[0][n].cpu() for _, part in parts])[order] for n in parts[0][1][0]}
        source = {n: torch.cat([part[1][n].cpu() for _, part in parts])[order] for n in sorted(names)}
        records = [r for _, part in parts for r in part[2]]
        return (params, source, [records[i] for i in order.tolist()]), len(old)
