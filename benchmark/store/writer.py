"""Writing a dataset: begin (or resume), write shards in any order, finalize.

Shards are immutable once their record exists, so re-running a killed build, or running
N workers with ``--shard i/N`` over one directory, only ever adds missing shards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import Tensor

from nfbench.errors import DataError
from nfbench.fields import FieldSpec, Params
from nfbench.hashing import sha256_file
from nfbench.store import layout
from nfbench.store.atomic import atomic_write, atomic_write_json, atomic_write_text
from nfbench.store.schema import DatasetMeta, FileEntry, ItemRecord, ShardRecord


def _save_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(cpu, str(tmp)))


def _file_entry(path: Path) -> FileEntry:
    return FileEntry(sha256=sha256_file(path), bytes=path.stat().st_size)


def _describe_mismatch(old: DatasetMeta, new: DatasetMeta) -> str:
    a, b = old.build.model_dump(), new.build.model_dump()
    diffs = [f"{k}={a[k]!r} (asked {b[k]!r})" for k in a if a[k] != b.get(k)]
    return "; ".join(diffs) if diffs else "the item plan differs (source data changed?)"


def begin(out: Path, meta: DatasetMeta, plan: list[ItemRecord], init: Params | None, spec: FieldSpec) -> DatasetMeta:
    """Create the dataset directory, or check that an existing one is the same build."""
    meta_path = out / layout.META
    if meta_path.exists():
        old = read_meta(out)
        if old.build_hash != meta.build_hash or old.plan_hash != meta.plan_hash:
            raise DataError(
                meta_path,
                f"existing dataset was built with other settings: {_describe_mismatch(old, meta)}; "
                "use another --out or delete the directory",
            )
        return old
    out.mkdir(parents=True, exist_ok=True)
    if init is not None:
        _save_tensors(out / layout.INIT, {n: init[n] for n in spec.param_names()})
    atomic_write_text(out / layout.PLAN, json.dumps([p.model_dump() for p in plan]) + "\n")
    atomic_write_json(meta_path, meta.model_dump(mode="json"))
    return meta


def read_meta_json(out: Path) -> tuple[DatasetMeta, dict[str, Any]]:
    """The metadata and the raw JSON it was parsed from (readers re-hash the stored build config)."""
    path = out / layout.META
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "not an nfbench dataset (meta.json missing)"
        raise DataError(path, what)
    try:
        raw = json.loads(path.read_bytes())
        return DatasetMeta.model_validate(raw), raw
    except OSError as exc:
        raise DataError(path, f"unreadable ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise DataError(path, f"unreadable dataset metadata: {str(exc).splitlines()[0]}") from exc


def read_meta(out: Path) -> DatasetMeta:
    return read_meta_json(out)[0]


_manifests: dict[Path, tuple[tuple[int, int, int], dict[str, FileEntry]]] = {}


def _complete_manifest(out: Path) -> dict[str, FileEntry]:
    """The file checksums of a complete dataset (``{}`` while building), parsed once per meta.json version.

    Called once per shard by a resuming build: re-parsing a 100K-INR manifest per shard
    would cost more than the hashing it saves.
    """
    path = out / layout.META
    try:
        st = path.stat()
    except OSError:
        return {}
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _manifests.get(path)
    if cached is None or cached[0] != key:
        try:
            meta = read_meta(out)
        except DataError:
            return {}
        cached = (key, meta.files if meta.complete else {})
        _manifests[path] = cached
    return cached[1]


def read_shard_record(out: Path, shard: int) -> ShardRecord | None:
    """The shard's record if the shard is complete and intact, else ``None`` (refit it).

    A complete dataset is immutable: when its manifest lists exactly the checksums this
    record lists, the files are not re-hashed (re-opening a finished 100K-INR dataset
    would otherwise read all of it). Shards of a build in progress are always hashed.
    The reader verifies checksums again on first read.
    """
    path = out / layout.record_file(shard)
    if not path.is_file():
        return None
    try:
        record = ShardRecord.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None
    if record.shard != shard or set(record.files) != {layout.weights_file(shard), layout.source_file(shard)}:
        return None
    manifest = _complete_manifest(out)
    for name, entry in record.files.items():
        f = out / name
        if not f.is_file() or f.stat().st_size != entry.bytes:
            return None
        if manifest.get(name) != entry and sha256_file(f) != entry.sha256:
            return None
    return record


def write_shard(
    out: Path,
    shard: int,
    start: int,
    weights: Params,
    source: dict[str, Tensor],
    items: list[ItemRecord],
    seconds: float,
    device: str,
) -> ShardRecord:
    files = {}
    for name, tensors in ((layout.weights_file(shard), weights), (layout.source_file(shard), source)):
        _save_tensors(out / name, tensors)
        files[name] = _file_entry(out / name)
    record = ShardRecord(
        shard=shard, start=start, count=len(items), files=files, items=items, seconds=seconds, device=device
    )
    atomic_write_json(out / layout.record_file(shard), record.model_dump(mode="json"))
    return record


def finalize(out: Path) -> DatasetMeta | None:
    """Mark the dataset complete once every shard exists; return ``None`` while some are missing."""
    meta = read_meta(out)
    if meta.complete:  # immutable from here on: nothing to re-hash or rewrite
        return meta
    records = [read_shard_record(out, s) for s in range(meta.n_shards)]
    if any(r is None for r in records):
        return None
    files = {name: _file_entry(out / name) for name in (layout.INIT, layout.PLAN) if (out / name).exists()}
    splits: dict[str, int] = {}
    for s, record in enumerate(records):
        assert record is not None
        files.update(record.files)
        files[layout.record_file(s)] = _file_entry(out / layout.record_file(s))
        for item in record.items:
            splits[item.split] = splits.get(item.split, 0) + 1
    meta = meta.model_copy(update={"complete": True, "files": files, "splits": dict(sorted(splits.items()))})
    atomic_write_json(out / layout.META, meta.model_dump(mode="json"))
    return meta
