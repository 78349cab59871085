"""Import INRs fitted by the inr2vec / nf2vec code: ``<split>/<idx>.h5`` files.

Each file holds ``params`` (all parameters flattened in ``state_dict`` order), ``class_id``
and the source cloud ``pcd`` (or ``vertices``). Their shared init is not stored in the
files, so an imported dataset records ``init_hash = None`` and ``origin = "inr2vec"``.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import torch

from nfbench.errors import DataError
from nfbench.fields import field_preset
from nfbench.fields.functional import unflatten_params
from nfbench.hashing import sha256_file, sha256_json
from nfbench.store import writer
from nfbench.store.schema import SPLITS, BuildConfig, DatasetMeta, ItemRecord, build_hash, plan_hash

IMPORT_CHUNK = 64
REFERENCE_POINTS = 2048


def _read_h5(path: Path, n_params: int) -> tuple[np.ndarray, int, np.ndarray]:
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("params", "class_id") if k not in f]
            if missing:
                raise DataError(path, f"missing dataset(s) {missing}; expected params, class_id and pcd")
            params = np.asarray(f["params"], dtype=np.float32).reshape(-1)
            label = int(np.asarray(f["class_id"]).reshape(-1)[0])
            cloud_key = "pcd" if "pcd" in f else "vertices" if "vertices" in f else None
            if cloud_key is None:
                raise DataError(path, "has neither 'pcd' nor 'vertices' to keep as the source shape")
            cloud = np.asarray(f[cloud_key], dtype=np.float32).reshape(-1, 3)
    except OSError as exc:
        raise DataError(path, f"unreadable HDF5 file ({exc})") from exc
    if params.size != n_params:
        raise DataError(path, f"has {params.size} parameters, the chosen preset expects {n_params} (pass --preset)")
    if not np.isfinite(params).all() or not np.isfinite(cloud).all():
        raise DataError(path, "contains NaN/inf")
    if len(cloud) == 0:
        raise DataError(path, "empty source cloud")
    return params, label, cloud


def _files(source: Path) -> list[tuple[str, Path]]:
    if not source.is_dir():
        raise DataError(source, "not a directory; expected <split>/<idx>.h5 files")
    found = []
    for split in SPLITS:
        files = sorted((source / split).glob("*.h5"), key=lambda p: (len(p.stem), p.stem))
        found += [(split, f) for f in files]
    if not found:
        raise DataError(source, f"no <split>/<idx>.h5 files under splits {list(SPLITS)}")
    return found


def import_inr2vec_folder(
    source: Path, out: Path, preset: str, field: str, class_names: list[str] | None
) -> Path:
    spec = field_preset(preset)
    files = _files(source)
    rng = np.random.default_rng(0)
    loaded = [(split, f, *_read_h5(f, spec.n_params)) for split, f in files]
    n_classes = max(label for *_, label, _ in loaded) + 1
    names = class_names or [f"class_{i}" for i in range(n_classes)]
    if len(names) < n_classes:
        raise DataError(source, f"class ids go up to {n_classes - 1} but only {len(names)} class names were given")
    plan = [
        ItemRecord(index=i, key=f"{split}/{f.stem}", split=split, label=label, locator=str(f.relative_to(source)), fingerprint=sha256_file(f))
        for i, (split, f, _, label, _) in enumerate(loaded)
    ]
    config = BuildConfig(
        dataset=f"inr2vec:{source.name}", field_kind=field, preset=preset, field=spec, sampling={}, fit=None,
        seed=0, limit=None, n_reference_points=REFERENCE_POINTS, quality_resolution=0,
    )
    meta = DatasetMeta(
        name=source.name, card={}, build=config, build_hash=build_hash(config.model_dump(mode="json")),
        init_hash=None, class_names=names, n_items=len(plan), n_shards=math.ceil(len(plan) / IMPORT_CHUNK),
        plan_hash=plan_hash([p.model_dump() for p in plan]),
        source_fingerprint=sha256_json([p.fingerprint for p in plan]), versions={},
        created=datetime.now(UTC).isoformat(timespec="seconds"), origin="inr2vec",
    )
    writer.begin(out, meta, plan, init=None, spec=spec)
    for s in range(meta.n_shards):
        start = time.perf_counter()
        rows = loaded[s * IMPORT_CHUNK : (s + 1) * IMPORT_CHUNK]
        flat = torch.from_numpy(np.stack([r[2] for r in rows]))
        clouds = np.stack([c[rng.choice(len(c), REFERENCE_POINTS, replace=len(c) < REFERENCE_POINTS)] for *_, c in rows])
        source_tensors = {"points": torch.from_numpy(clouds), "labels": torch.tensor([r[3] for r in rows])}
        items = plan[s * IMPORT_CHUNK : s * IMPORT_CHUNK + len(rows)]
        writer.write_shard(out, s, s * IMPORT_CHUNK, unflatten_params(spec, flat), source_tensors, items, time.perf_counter() - start, "import")
    writer.finalize(out)
    return out
