"""Reading a finished INR dataset.

Weight shards are safetensors files: a JSON header of names, dtypes, shapes and offsets
followed by raw little-endian buffers. They are memory-mapped by ``safe_open``, so
reading one layer or a few rows of a 100K-INR dataset touches only those bytes, and the
format has no pickle (safe to download) and reads natively in torch, numpy and JAX.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor

from nfbench.errors import DataError
from nfbench.fields import FieldSpec, Params
from nfbench.store import layout
from nfbench.store.schema import DatasetMeta, ShardRecord
from nfbench.store.writer import read_meta


def _load_tensors(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for truncated/corrupt files
        raise DataError(path, f"unreadable tensor file ({exc})") from exc


class INRDataset:
    """A built dataset: metadata, an item table and lazily loaded weights and sources."""

    def __init__(self, root: Path, meta: DatasetMeta) -> None:
        self.root = root
        self.meta = meta

    @classmethod
    def open(cls, root: str | Path) -> "INRDataset":
        root = Path(root)
        meta = read_meta(root)
        if not meta.complete:
            raise DataError(root / layout.META, "dataset is incomplete: re-run `nfbench data build` to finish it")
        return cls(root, meta)

    @property
    def spec(self) -> FieldSpec:
        return self.meta.build.field

    @property
    def field_kind(self) -> str:
        return self.meta.build.field_kind

    @property
    def class_names(self) -> list[str]:
        return self.meta.class_names

    @cached_property
    def records(self) -> list[ShardRecord]:
        out = []
        for s in range(self.meta.n_shards):
            path = self.root / layout.record_file(s)
            try:
                out.append(ShardRecord.model_validate_json(path.read_text()))
            except (OSError, ValueError) as exc:
                raise DataError(path, f"unreadable shard record ({str(exc).splitlines()[0]})") from exc
        return out

    @cached_property
    def items(self) -> pd.DataFrame:
        """One row per INR (index order): key, split, label, locator, fingerprint, fit metrics."""
        rows = []
        for record in self.records:
            for item in record.items:
                row = item.model_dump(exclude={"fit"})
                row.update({f"fit_{k}": v for k, v in item.fit.items()})
                row["shard"] = record.shard
                rows.append(row)
        return pd.DataFrame(rows).set_index("index").sort_index()

    def indices(self, split: str | None = None) -> Tensor:
        items = self.items if split is None else self.items[self.items["split"] == split]
        return torch.as_tensor(items.index.to_numpy(copy=True), dtype=torch.long)

    def labels(self, split: str | None = None) -> Tensor:
        items = self.items if split is None else self.items[self.items["split"] == split]
        return torch.as_tensor(items["label"].to_numpy(copy=True), dtype=torch.long)

    def _concat(self, kind: str, split: str | None, names: list[str] | None) -> dict[str, Tensor]:
        wanted = None if split is None else set(self.indices(split).tolist())
        parts: dict[str, list[Tensor]] = {}
        for record in self.records:
            rows = list(range(record.count))
            if wanted is not None:
                rows = [r for r in rows if record.start + r in wanted]
                if not rows:
                    continue
            path = self.root / (layout.weights_file(record.shard) if kind == "weights" else layout.source_file(record.shard))
            try:
                with safe_open(str(path), framework="pt") as fh:
                    for name in names or list(fh.keys()):
                        sl = fh.get_slice(name)
                        block = sl[rows[0] : rows[-1] + 1]
                        parts.setdefault(name, []).append(block[torch.as_tensor(rows) - rows[0]])
            except Exception as exc:
                raise DataError(path, f"unreadable tensor file ({exc})") from exc
        return {n: torch.cat(v) for n, v in parts.items()}

    def weights(self, split: str | None = None, device: torch.device | str = "cpu") -> Params:
        """Stacked parameters ``(N, *shape)`` of the INRs of ``split`` (all when None), in index order."""
        out = self._concat("weights", split, self.spec.param_names())
        return {n: out[n].to(device) for n in self.spec.param_names()}

    def source(self, split: str | None = None) -> dict[str, Tensor]:
        """Reference data stored with the INRs (``points``, ``point_parts``, ``voxels``, ``images``)."""
        return self._concat("source", split, None)

    def init(self) -> Params:
        return _load_tensors(self.root / layout.INIT)
