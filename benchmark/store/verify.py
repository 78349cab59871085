"""Full integrity check of a built dataset; every problem is reported as ``<file>: <problem>``.

The checks run from the outside in, and each stage stops the report when it fails: the
files a damaged or crafted ``meta.json`` lists (inside the folder, regular, the listed
bytes), then the structure the reader checks on open (hashes, counts, shard headers),
then the content (NaN/inf, the shared init, split and class coverage). Later stages on
files that failed an earlier one would only report noise.
"""

from __future__ import annotations

from pathlib import Path

from nfbench.errors import DataError
from nfbench.fields import params_hash, shared_init
from nfbench.store import layout
from nfbench.store.integrity import check_manifest
from nfbench.store.reader import INRDataset
from nfbench.store.schema import SPLITS
from nfbench.store.writer import read_meta


def _check_content(ds: INRDataset) -> list[DataError]:
    problems = []
    for record in ds.records:
        rows = range(record.start, record.start + record.count)
        for read in (ds.read_params, ds.read_source):  # both reject NaN/inf, naming file and tensor
            try:
                read(rows)
            except DataError as exc:
                problems.append(exc)
        for it in record.items:
            bad = [k for k, v in it.fit.items() if v != v]
            if bad:
                problems.append(DataError(ds.root / layout.record_file(record.shard), f"item {it.key} has NaN fit metrics {bad}"))
    return problems


def _check_init(ds: INRDataset) -> list[DataError]:
    path = ds.root / layout.INIT
    if params_hash(ds.spec, ds.init()) != ds.meta.init_hash:
        return [DataError(path, "init hash does not match meta.json")]
    if params_hash(ds.spec, shared_init(ds.spec, ds.meta.build.seed, ds.meta.build.fit.init_scheme)) != ds.meta.init_hash:
        return [DataError(path, "init is not the shared init of this spec and seed")]
    return []


def _check_coverage(ds: INRDataset) -> list[DataError]:
    problems = [
        DataError(ds.root / layout.META, f"split {split!r} is empty") for split in SPLITS if not ds.meta.splits.get(split)
    ]
    present = set(zip(ds.items["split"], ds.items["label"], strict=True))
    for split in ("train", "test"):
        missing = [c for i, c in enumerate(ds.class_names) if (split, i) not in present]
        if missing:
            problems.append(DataError(ds.root / layout.PLAN, f"classes without {split} items: {missing[:5]}"))
    return problems


def verify_dataset(root: Path) -> list[str]:
    """Return the list of problems (empty when the dataset is intact)."""
    try:
        meta = read_meta(root)
    except DataError as exc:
        return [str(exc)]
    if not meta.complete:
        return [f"{root / layout.META}: dataset is incomplete (build not finished)"]
    problems = check_manifest(root, meta.files)
    if not problems:
        ds, problems = INRDataset.inspect(root)
        if ds is not None and not problems:
            problems = _check_content(ds)
            if meta.init_hash is not None:  # None for imports and independent-init builds: no shared init
                problems += _check_init(ds)
            problems += _check_coverage(ds)
    return [str(p) for p in problems]
