"""Full integrity check of a built dataset; every problem is reported as ``<file>: <problem>``."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from nfbench.errors import DataError
from nfbench.fields import params_hash, shared_init
from nfbench.hashing import sha256_file
from nfbench.store import layout
from nfbench.store.reader import INRDataset
from nfbench.store.schema import ShardRecord
from nfbench.store.writer import read_meta, read_plan

REQUIRED_SPLITS = ("train", "val", "test")


def _check_checksums(root: Path, files: dict) -> list[str]:
    problems = []
    for name, entry in sorted(files.items()):
        path = root / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != entry.bytes:
            problems.append(f"{path}: size {path.stat().st_size} bytes, expected {entry.bytes} (truncated?)")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"{path}: checksum mismatch (corrupted)")
    return problems


def _check_weights(root: Path, ds: INRDataset, record: ShardRecord) -> list[str]:
    path = root / layout.weights_file(record.shard)
    shapes = ds.spec.param_shapes()
    problems = []
    try:
        with safe_open(str(path), framework="pt") as fh:
            keys = set(fh.keys())
            if keys != set(shapes):
                return [f"{path}: tensors {sorted(keys)} do not match the architecture {sorted(shapes)}"]
            for name, shape in shapes.items():
                t = fh.get_tensor(name)
                if tuple(t.shape) != (record.count, *shape):
                    problems.append(f"{path}: {name} has shape {tuple(t.shape)}, expected {(record.count, *shape)}")
                elif not torch.isfinite(t).all():
                    problems.append(f"{path}: {name} contains NaN/inf")
    except Exception as exc:
        problems.append(f"{path}: unreadable tensor file ({exc})")
    return problems


def _check_init(root: Path, ds: INRDataset) -> list[str]:
    if params_hash(ds.spec, ds.init()) != ds.meta.init_hash:
        return [f"{root / layout.INIT}: init hash does not match meta.json"]
    if params_hash(ds.spec, shared_init(ds.spec, ds.meta.build.seed)) != ds.meta.init_hash:
        return [f"{root / layout.INIT}: init is not the shared init of this spec and seed"]
    return []


def verify_dataset(root: Path) -> list[str]:
    """Return the list of problems (empty when the dataset is intact)."""
    try:
        meta = read_meta(root)
    except DataError as exc:
        return [str(exc)]
    if not meta.complete:
        return [f"{root / layout.META}: dataset is incomplete (build not finished)"]
    problems = _check_checksums(root, meta.files)
    if problems:
        return problems  # shapes and content of corrupted files are meaningless
    ds = INRDataset(root, meta)
    if meta.init_hash is not None:  # None for imports, whose shared init is unknown
        problems += _check_init(root, ds)
    seen: list[int] = []
    for record in ds.records:
        problems += _check_weights(root, ds, record)
        seen += [it.index for it in record.items]
        for it in record.items:
            bad = [k for k, v in it.fit.items() if v != v]
            if bad:
                problems.append(f"{root / layout.record_file(record.shard)}: item {it.key} has NaN fit metrics {bad}")
    plan = read_plan(root)
    if sorted(seen) != list(range(meta.n_items)) or len(plan) != meta.n_items:
        problems.append(f"{root}: shards cover {len(set(seen))} distinct of {meta.n_items} planned items")
    splits = {s: 0 for s in REQUIRED_SPLITS} | meta.splits
    for split in REQUIRED_SPLITS:
        if splits[split] == 0:
            problems.append(f"{root / layout.META}: split {split!r} is empty")
    labels = {(it.split, it.label) for it in plan}
    for split in ("train", "test"):
        missing = [c for i, c in enumerate(meta.class_names) if (split, i) not in labels]
        if missing:
            problems.append(f"{root / layout.PLAN}: classes without {split} items: {missing[:5]}")
    return problems
