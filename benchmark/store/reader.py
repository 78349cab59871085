"""Reading a finished INR dataset, checking everything that is read.

Weight shards are safetensors files: a JSON header of names, dtypes, shapes and offsets
followed by raw little-endian buffers. They are memory-mapped by ``safe_open``, so
reading a few rows of a 100K-INR dataset touches only those bytes, and the format has no
pickle (safe to download) and reads natively in torch, numpy and JAX.

Nothing in ``meta.json`` is taken on trust, because results are recorded under the
dataset's fingerprint: opening recomputes the build and plan hashes, checks the item
counts of the shard records against the metadata, and the tensor shapes in every shard
header against the architecture. Shard contents are hashed lazily, the first time a
process reads a shard, so opening stays cheap and no read returns unverified bytes.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor

from nfbench.errors import ConfigError, DataError
from nfbench.fields import FieldSpec, Params
from nfbench.hashing import sha256_json
from nfbench.store import layout
from nfbench.store.integrity import (
    DTYPE_BYTES,
    TensorInfo,
    check_manifest,
    dataset_path,
    read_header,
    read_verified_bytes,
    verify_file,
)
from nfbench.store.schema import (
    FORMAT_VERSION,
    SPLITS,
    DatasetMeta,
    ShardRecord,
    build_hash,
    plan_hash,
)
from nfbench.store.writer import read_meta_json

# Rows of one shard are read as one span when it is at most this large (one vectorized
# read for small INRs), else run by run, so memory stays proportional to what was asked.
# Rows are picked with index_select: advanced indexing of 3-D tensors costs milliseconds
# when torch's intra-op threads compete for busy cores (measured 7 ms vs 9 us here).
SPAN_BYTES = 16 << 20
# Open safetensors handles kept per process: each is a memory map of one shard file, and
# the pages a read touched count in the process's resident memory until it is unmapped,
# so an epoch over a paper-size dataset with many handles open grows to the dataset's
# size (measured: 5.6 GB for 2,000 paper INRs at 256 handles). Reopening costs a header parse.
MAX_OPEN_SHARDS = 8
# Shard files up to this size are read whole, once, and kept in memory (up to CACHED_BYTES per
# process): a shuffled batch of small INRs (images) touches a different shard for nearly every
# item, and slicing each through its safetensors handle cost ~30 ms a batch of 64 (MNIST INRs,
# 243 shards of 300 KB) against ~1 ms from memory. Large shards keep the row-level reads above.
WHOLE_SHARD_BYTES = 4 << 20
CACHED_BYTES = 512 << 20
# What identifies a planned item; a shard record must hold exactly the planned items.
_IDENTITY = ("index", "key", "split", "label", "locator", "fingerprint")

Indices = Sequence[int] | Tensor


class INRDataset:
    """A built dataset: metadata, an item table, and weights and sources read per item.

    Construct with :meth:`open`. Safe to pass to DataLoader worker processes: shard files
    are opened lazily in each process and open handles are never pickled.
    """

    def __init__(self, root: Path, meta: DatasetMeta, records: list[ShardRecord]) -> None:
        self.root = root
        self.meta = meta
        self.records = records
        self._starts = torch.tensor([r.start for r in records], dtype=torch.long)
        self._source_names: tuple[str, ...] = ()
        # Per-INR parameter shapes as the weight shard headers store them: the architecture on disk.
        self.stored_shapes: dict[str, tuple[int, ...]] = {}
        self._handles: OrderedDict[str, tuple[tuple[int, ...], Any]] = OrderedDict()
        self._wholes: OrderedDict[str, tuple[tuple[int, ...], dict[str, Tensor]]] = OrderedDict()
        self._pid = os.getpid()

    @classmethod
    def open(cls, root: str | Path) -> INRDataset:
        """Open a complete dataset, raising the first inconsistency found as a one-line ``DataError``."""
        ds, problems = cls.inspect(root)
        if problems:
            raise problems[0]
        assert ds is not None
        return ds

    @classmethod
    def inspect(cls, root: str | Path) -> tuple[INRDataset | None, list[DataError]]:
        """Every structural problem of the dataset (no shard contents are hashed here).

        Returns no dataset when a problem leaves nothing to check further (unreadable
        metadata, plan or shard records).
        """
        root = Path(root)
        try:
            meta, raw = read_meta_json(root)
            _check_meta(root, meta, raw)
            plan = _read_plan(root, meta)
            records = [_read_record(root, meta, s) for s in range(meta.n_shards)]
        except DataError as exc:
            return None, [exc]
        ds = cls(root, meta, records)
        return ds, ds._check_plan(plan) + ds._check_headers()

    def _check_plan(self, plan: list[tuple[Any, ...]]) -> list[DataError]:
        """The records hold the planned items in order; counts and splits in meta.json are theirs."""
        meta_path = self.root / layout.META
        problems = []
        start = 0
        splits: dict[str, int] = {}
        for record in self.records:
            path = self.root / layout.record_file(record.shard)
            if record.start != start or record.count != len(record.items):
                problems.append(DataError(path, f"holds items [{record.start}, +{len(record.items)}) with count {record.count}, expected to start at {start}"))
            elif [tuple(getattr(it, k) for k in _IDENTITY) for it in record.items] != plan[start : start + record.count]:
                problems.append(DataError(path, "its items differ from those plan.json lists for this shard"))
            for it in record.items:
                splits[it.split] = splits.get(it.split, 0) + 1
            start += record.count
        if start != self.meta.n_items:
            problems.append(DataError(meta_path, f"n_items is {self.meta.n_items} but the shards hold {start} items"))
        if dict(sorted(splits.items())) != dict(sorted(self.meta.splits.items())):
            problems.append(DataError(meta_path, f"splits {self.meta.splits} do not match the shards' items {splits}"))
        return problems

    def _check_headers(self) -> list[DataError]:
        """Tensor names and shapes from each shard's header (a few KB per file, no tensor bytes)."""
        expected = self.spec.param_shapes()
        problems: list[DataError] = []
        common: set[str] | None = None
        for record in self.records:
            n = record.count
            path = self.root / layout.weights_file(record.shard)
            try:
                weights = read_header(path)
                bad = _weight_header_problem(weights, expected, n)
                if bad:
                    problems.append(DataError(path, bad))
                elif not self.stored_shapes:
                    self.stored_shapes = {k: v.shape[1:] for k, v in weights.items()}
                path = self.root / layout.source_file(record.shard)
                source = read_header(path)
            except DataError as exc:
                problems.append(exc)
                continue
            labels = source.get("labels")
            wrong = [k for k, v in source.items() if v.shape[:1] != (n,)]
            if labels is None or labels.dtype != "I64" or wrong:
                problems.append(DataError(path, f"needs int64 labels and {n} rows in every tensor; wrong: {wrong or ['labels']}"))
            common = set(source) if common is None else common & set(source)
        self._source_names = tuple(sorted(common or ()))
        return problems

    @property
    def spec(self) -> FieldSpec:
        return self.meta.build.field

    @property
    def field_kind(self) -> str:
        return self.meta.build.field_kind

    @property
    def class_names(self) -> list[str]:
        return self.meta.class_names

    @property
    def source_names(self) -> tuple[str, ...]:
        """Tensors every source shard holds (``labels``, ``points``, ``point_parts``, ``voxels``, ``images``)."""
        return self._source_names

    @cached_property
    def fingerprint(self) -> str:
        """Identity of the content: build and plan hashes (recomputed on open) and every shard file's checksum.

        Every read verifies a shard against the checksum listed here, so a result
        recorded under this fingerprint was computed from exactly these bytes.
        """
        shards = sorted((name, entry.sha256) for r in self.records for name, entry in r.files.items())
        return sha256_json({"build_hash": self.meta.build_hash, "plan_hash": self.meta.plan_hash, "shards": shards})

    @cached_property
    def items(self) -> pd.DataFrame:
        """One row per INR (index order): key, split, label, locator, fingerprint, fit metrics, shard."""
        rows = []
        for record in self.records:
            for item in record.items:
                row = item.model_dump(exclude={"fit"})
                row.update({f"fit_{k}": v for k, v in item.fit.items()})
                row["shard"] = record.shard
                rows.append(row)
        return pd.DataFrame(rows).set_index("index").sort_index()

    @cached_property
    def _labels(self) -> Tensor:
        return torch.as_tensor(self.items["label"].to_numpy(copy=True), dtype=torch.long)

    def split_indices(self, split: str) -> Tensor:
        """Indices of the split's items, ascending (int64)."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        mask = (self.items["split"] == split).to_numpy()
        return torch.as_tensor(self.items.index.to_numpy()[mask].copy(), dtype=torch.long)

    def indices(self, split: str | None = None) -> Tensor:
        """Indices of ``split``, or of every item when None."""
        return torch.arange(self.meta.n_items) if split is None else self.split_indices(split)

    def labels_of(self, indices: Indices) -> Tensor:
        return self._labels.index_select(0, self._index(indices))

    def labels(self, split: str | None = None) -> Tensor:
        return self.labels_of(self.indices(split))

    def read_params(self, indices: Indices) -> Params:
        """Stacked parameters ``(len(indices), *shape)`` of the given items, in the given order."""
        return self._read("weights", self._index(indices), self.spec.param_names())

    def read_source(self, indices: Indices, names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Reference data of the given items (default: every tensor in :attr:`source_names`)."""
        return self._read("source", self._index(indices), list(self._source_names if names is None else names))

    def weights(self, split: str | None = None, device: torch.device | str = "cpu") -> Params:
        """Whole-split parameters, for verification and benchmarks only: methods read through views."""
        return {n: t.to(device) for n, t in self.read_params(self.indices(split)).items()}

    def source(self, split: str | None = None) -> dict[str, Tensor]:
        """Whole-split reference data, for verification and benchmarks only."""
        return self.read_source(self.indices(split))

    def init(self) -> Params:
        """The shared initialization every INR was fitted from."""
        path = self.root / layout.INIT
        if self.meta.init_hash is None:
            raise DataError(path, "this dataset has no shared init: it was imported, or fitted from one init per INR")
        verify_file(path, self.meta.files[layout.INIT])
        handle = _safe_open(path)
        try:
            return {name: handle.get_tensor(name) for name in self.spec.param_names()}
        except SafetensorError as exc:
            raise DataError(path, f"unreadable tensor file ({exc})") from exc

    def verify_checksums(self) -> list[DataError]:
        """Hash every file of the dataset now (the reports of ``data info`` and ``data verify``)."""
        return check_manifest(self.root, self.meta.files)

    def _index(self, indices: Indices) -> Tensor:
        idx = torch.as_tensor(indices)
        if idx.dim() != 1 or (idx.numel() and (idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool)):
            raise TypeError(f"expected a 1-D sequence of integer item indices, got {idx.dtype} of shape {tuple(idx.shape)}")
        idx = idx.long()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.meta.n_items):
            raise IndexError(f"item indices must be in [0, {self.meta.n_items}), got [{int(idx.min())}, {int(idx.max())}]")
        return idx

    def _read(self, kind: str, idx: Tensor, names: list[str]) -> dict[str, Tensor]:
        """Rows of each named tensor, reading every shard involved once and only the rows asked for."""
        if not idx.numel():
            path, handle = self._shard(self.records[0], kind)
            return {name: _read_rows(path, handle, name, idx) for name in names}
        unique, inverse = torch.unique(idx, sorted=True, return_inverse=True)
        shard_of = torch.searchsorted(self._starts, unique, right=True) - 1
        rows = unique - self._starts.index_select(0, shard_of)
        shards, counts = torch.unique_consecutive(shard_of, return_counts=True)
        out: dict[str, Tensor] = {}
        pos = 0
        for shard, n in zip(shards.tolist(), counts.tolist(), strict=True):
            whole = self._whole_shard(self.records[shard], kind)
            if whole is None:
                path, handle = self._shard(self.records[shard], kind)
            for name in names:
                part = rows[pos : pos + n]
                block = _read_rows(path, handle, name, part) if whole is None else whole[name].index_select(0, part)
                if name not in out:
                    out[name] = block.new_empty((len(unique), *block.shape[1:]))
                out[name][pos : pos + n] = block
            pos += n
        for name, tensor in out.items():
            self._check_finite(kind, name, tensor, unique)
        if len(unique) == len(idx) and torch.equal(unique, idx):
            return out
        return {name: t.index_select(0, inverse) for name, t in out.items()}

    def _check_finite(self, kind: str, name: str, tensor: Tensor, items: Tensor) -> None:
        """One vectorized pass over what was read; a NaN/inf row is traced back to its shard file."""
        if not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()):
            return
        finite = torch.isfinite(tensor.flatten(1) if tensor.dim() > 1 else tensor.unsqueeze(1)).all(dim=1)
        item = int(items[int((~finite).nonzero()[0])])
        shard = int(torch.searchsorted(self._starts, torch.tensor(item), right=True)) - 1
        file = layout.weights_file(shard) if kind == "weights" else layout.source_file(shard)
        raise DataError(self.root / file, f"tensor {name!r} has NaN/inf values (item {item}): the fit diverged or the file is damaged")

    def _shard(self, record: ShardRecord, kind: str) -> tuple[Path, Any]:
        """A verified, memory-mapped handle of one shard file, opened once per process."""
        name = layout.weights_file(record.shard) if kind == "weights" else layout.source_file(record.shard)
        path = self.root / name
        identity = verify_file(path, record.files[name])
        self._own_caches()
        cached = self._handles.get(name)
        if cached is not None and cached[0] == identity:
            self._handles.move_to_end(name)
            return path, cached[1]
        handle = _safe_open(path)
        self._handles[name] = (identity, handle)
        if len(self._handles) > MAX_OPEN_SHARDS:
            self._handles.popitem(last=False)
        return path, handle

    def _own_caches(self) -> None:
        """In a forked worker, start with empty caches: never share the parent's handles or blocks."""
        if self._pid != os.getpid():
            self._handles, self._wholes, self._pid = OrderedDict(), OrderedDict(), os.getpid()

    def _whole_shard(self, record: ShardRecord, kind: str) -> dict[str, Tensor] | None:
        """Every tensor of a small shard file, read once and kept while the file stays the verified one."""
        name = layout.weights_file(record.shard) if kind == "weights" else layout.source_file(record.shard)
        entry = record.files[name]
        if entry.bytes > WHOLE_SHARD_BYTES:
            return None
        self._own_caches()
        identity = verify_file(self.root / name, entry)  # a stat while the file is unchanged
        cached = self._wholes.get(name)
        if cached is not None and cached[0] == identity:
            self._wholes.move_to_end(name)
            return cached[1]
        path, handle = self._shard(record, kind)
        try:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        except SafetensorError as exc:
            raise DataError(path, f"unreadable tensor file ({exc})") from exc
        self._wholes[name] = (identity, tensors)
        total = sum(_nbytes(t) for _, t in self._wholes.values())
        while len(self._wholes) > 1 and total > CACHED_BYTES:
            total -= _nbytes(self._wholes.popitem(last=False)[1][1])
        return tensors

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = OrderedDict()
        state["_wholes"] = OrderedDict()
        return state


def _check_meta(root: Path, meta: DatasetMeta, raw: dict[str, Any]) -> None:
    """Metadata fields that every later check relies on; also confines every listed file name."""
    path = root / layout.META
    if meta.format_version != FORMAT_VERSION:
        raise DataError(path, f"format version {meta.format_version}; this nfbench reads version {FORMAT_VERSION}")
    if not meta.complete:
        raise DataError(path, "dataset is incomplete: re-run `nfbench data build` to finish it")
    if build_hash(raw["build"]) != meta.build_hash:
        raise DataError(path, "build_hash does not match the build config stored with it (meta.json edited?)")
    listed = sum(1 for name in meta.files if name.startswith(f"{layout.SHARDS}/") and name.endswith(".json"))
    if listed != meta.n_shards or meta.n_shards == 0:
        raise DataError(path, f"n_shards is {meta.n_shards} but the manifest lists {listed} shard records")
    required = [layout.PLAN] + ([layout.INIT] if meta.init_hash is not None else [])
    required += [f(s) for s in range(meta.n_shards) for f in (layout.record_file, layout.weights_file, layout.source_file)]
    missing = [name for name in required if name not in meta.files]
    if missing:
        raise DataError(path, f"the manifest does not list {missing[0]} ({len(missing)} required files unlisted)")
    resolved: dict[Path, Path] = {}
    for name in meta.files:
        dataset_path(root, name, resolved)


def _read_plan(root: Path, meta: DatasetMeta) -> list[tuple[Any, ...]]:
    """The identity of each planned item, after checking the plan's checksum and recomputing its hash."""
    path = root / layout.PLAN
    try:
        rows = json.loads(read_verified_bytes(path, meta.files[layout.PLAN]))
        identities = [tuple(row[k] for k in _IDENTITY) for row in rows]
        recomputed = plan_hash(rows)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(path, f"unreadable item plan ({type(exc).__name__}: {exc})") from exc
    if recomputed != meta.plan_hash:
        raise DataError(root / layout.META, "plan_hash does not match plan.json (edited?)")
    if len(identities) != meta.n_items:
        raise DataError(root / layout.META, f"n_items is {meta.n_items} but plan.json has {len(identities)} items")
    return identities


def _read_record(root: Path, meta: DatasetMeta, shard: int) -> ShardRecord:
    name = layout.record_file(shard)
    path = root / name
    try:
        record = ShardRecord.model_validate_json(read_verified_bytes(path, meta.files[name]))
    except ValueError as exc:
        raise DataError(path, f"unreadable shard record ({str(exc).splitlines()[0]})") from exc
    own = {layout.weights_file(shard), layout.source_file(shard)}
    if record.shard != shard or set(record.files) != own:
        raise DataError(path, f"describes shard {record.shard} with files {sorted(record.files)}, expected {sorted(own)}")
    if any(record.files[n] != meta.files[n] for n in own):
        raise DataError(path, "its file checksums differ from those in meta.json")
    return record


def _weight_header_problem(header: dict[str, TensorInfo], expected: dict[str, tuple[int, ...]], n: int) -> str | None:
    if set(header) != set(expected):
        return f"tensors {sorted(header)} do not match meta.json's architecture {sorted(expected)}"
    for name, shape in expected.items():
        info = header[name]
        if info.dtype != "F32" or info.shape != (n, *shape):
            return f"{name} is {info.dtype} {info.shape}; meta.json's architecture says F32 {(n, *shape)}"
    return None


def _nbytes(tensors: dict[str, Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _safe_open(path: Path) -> Any:
    try:
        return safe_open(str(path), framework="pt")
    except (SafetensorError, OSError) as exc:
        raise DataError(path, f"unreadable tensor file ({exc})") from exc


def _read_rows(path: Path, handle: Any, name: str, rows: Tensor) -> Tensor:
    """Ascending ``rows`` of one tensor of a shard file.

    Rows close together are read as one span and indexed; rows of large INRs far apart
    are read run by run, so a sparse request never reads a whole shard.
    """
    try:
        sl = handle.get_slice(name)
        if not rows.numel():
            block = sl[0:0]
        else:
            row_bytes = DTYPE_BYTES[sl.get_dtype()] * math.prod(sl.get_shape()[1:])
            lo, hi = rows[[0, -1]].tolist()
            hi += 1
            if hi - lo == len(rows) or (hi - lo) * row_bytes <= SPAN_BYTES:
                block = sl[lo:hi]
                block = block if hi - lo == len(rows) else block.index_select(0, rows - lo)
            else:
                breaks = torch.nonzero(torch.diff(rows) != 1).flatten() + 1
                starts = torch.cat([rows[:1], rows[breaks]]).tolist()
                ends = (torch.cat([rows[breaks - 1], rows[-1:]]) + 1).tolist()
                block = torch.cat([sl[a:b] for a, b in zip(starts, ends, strict=True)])
    except SafetensorError as exc:
        raise DataError(path, f"cannot read tensor {name!r} ({exc})") from exc
    return block
