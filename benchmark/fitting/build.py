"""Turn a registered shape dataset into an INR dataset on disk.

The unit of work is a shard: a fixed, contiguous range of items fitted together as one
chunk. Shard contents, their supervision and the fitting seed depend only on the build
config and the shard index, so shards can be fitted in any order, by any number of
workers (``--shard i/N``), killed and resumed, and still produce bit-identical weights.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from nfbench.datasets import DATASETS
from nfbench.datasets.base import ItemRef, ShapeDataset, carve_val
from nfbench.decode import field_fn, fit_quality
from nfbench.device import describe_device
from nfbench.errors import DataError
from nfbench.fields import Params, params_hash, shared_init
from nfbench.fitting.fitter import fit_batch
from nfbench.hashing import sha256_json, sha256_text
from nfbench.paths import datasets_home
from nfbench.presets import build_preset
from nfbench.store import writer
from nfbench.store.layout import META
from nfbench.store.schema import BuildConfig, DatasetMeta, ItemRecord
from nfbench.targets import SamplingConfig, field_loss, make_supervision, normalize_shape, reference_points

_VERSIONED = ("nfbench", "torch", "numpy", "open3d", "trimesh", "scikit-image", "safetensors")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class BuildRequest:
    name: str
    root: Path | None = None
    field: str | None = None
    preset: str | None = None
    limit: int | None = None
    steps: int | None = None
    seed: int = 0
    shard_index: int = 0
    shard_count: int = 1
    out: Path | None = None


def _int_seed(*parts: object) -> int:
    return int(sha256_text(":".join(map(str, parts)))[:15], 16)


def default_out_dir(req: BuildRequest, field: str, preset: str, dataset: ShapeDataset) -> Path:
    """``<home>/datasets/<name>`` plus a suffix for every non-default option."""
    card = dataset.card
    parts = [req.name]
    if field != card.default_field:
        parts.append(field)
    if preset != card.default_preset:
        parts.append(preset)
    if req.limit is not None:
        parts.append(f"limit{req.limit}")
    if req.steps is not None:
        parts.append(f"steps{req.steps}")
    if req.seed != 0:
        parts.append(f"seed{req.seed}")
    return datasets_home() / "-".join(parts)


def resolve_build(req: BuildRequest) -> tuple[ShapeDataset, BuildConfig, Path]:
    dataset: ShapeDataset = DATASETS.get(req.name)()
    card = dataset.card
    field = req.field or card.default_field
    if field not in card.field_kinds:
        raise ValueError(f"dataset {req.name!r} supports fields {list(card.field_kinds)}, not {field!r}")
    preset = build_preset(req.preset or card.default_preset)
    if (field == "image") != (preset.field.in_dim == 2):
        raise ValueError(f"preset {preset.name!r} ({preset.field.in_dim}-D input) does not fit {field!r} fields")
    if card.needs_root and req.root is None:
        raise DataError(req.name, f"needs --root pointing at the local data (expected layout: {card.layout or card.source})")
    fit = preset.fit if req.steps is None else preset.fit.model_copy(update={"steps": req.steps})
    sampling = SamplingConfig.preset(preset.sampling)
    config = BuildConfig(
        dataset=req.name,
        field_kind=field,
        preset=preset.name,
        field=preset.field,
        sampling=sampling.model_dump(mode="json"),
        fit=fit,
        seed=req.seed,
        limit=req.limit,
        n_reference_points=preset.n_reference_points,
        quality_resolution=preset.quality_resolution,
    )
    out = req.out or default_out_dir(req, field, preset.name, dataset)
    return dataset, config, out


def plan_items(dataset: ShapeDataset, req: BuildRequest) -> list[ItemRecord]:
    refs = sorted(carve_val(dataset.list_items(req.root, req.limit, req.seed)), key=lambda r: r.key)
    if not refs:
        raise DataError(req.root or req.name, "no items found")
    return [ItemRecord(index=i, key=r.key, split=r.split, label=r.label, locator=r.locator, fingerprint=r.fingerprint) for i, r in enumerate(refs)]


def _prepare_shard(
    dataset: ShapeDataset, root: Path | None, items: list[ItemRecord], config: BuildConfig
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Load, normalize and sample supervision for each item of a shard (I/O-bound, per shape)."""
    sampling = SamplingConfig.model_validate(config.sampling)
    coords, targets = [], []
    source: dict[str, list[np.ndarray]] = {}
    for item in items:
        ref = ItemRef(item.key, item.split, item.label, item.locator, item.fingerprint)  # type: ignore[arg-type]
        shape = normalize_shape(dataset.load(root, ref), item.locator)
        rng = np.random.default_rng(_int_seed(config.seed, item.key))
        sup = make_supervision(shape, config.field_kind, sampling, rng, item.locator)  # type: ignore[arg-type]
        coords.append(sup.coords)
        targets.append(sup.targets)
        if config.field_kind in ("udf", "sdf", "occ"):
            points, parts = reference_points(shape, config.n_reference_points, rng, item.locator)
            source.setdefault("points", []).append(points)
            if parts is not None:
                source.setdefault("point_parts", []).append(parts)
        if config.field_kind == "occ":
            source.setdefault("voxels", []).append(sup.targets.reshape(-1).astype(np.uint8))
        if config.field_kind == "image":
            assert shape.image is not None
            source.setdefault("images", []).append(shape.image)
        source.setdefault("labels", []).append(np.asarray(item.label))
    stacked = {k: torch.from_numpy(np.stack(v)) for k, v in source.items() if len(v) == len(items)}
    return torch.from_numpy(np.stack(coords)), torch.from_numpy(np.stack(targets)), stacked


def _quality_reference(config: BuildConfig, source: dict[str, torch.Tensor], device: torch.device) -> torch.Tensor:
    if config.field_kind == "image":
        return source["images"].to(device)
    if config.field_kind == "occ":
        res = round(source["voxels"].shape[1] ** (1 / 3))
        return source["voxels"].reshape(-1, res, res, res).bool().to(device)
    return source["points"].to(device)


def fit_shard(
    dataset: ShapeDataset,
    root: Path | None,
    config: BuildConfig,
    init: Params,
    items: list[ItemRecord],
    shard: int,
    device: torch.device,
    on_step=None,
) -> tuple[Params, dict[str, torch.Tensor], list[ItemRecord]]:
    coords, targets, source = _prepare_shard(dataset, root, items, config)
    params, loss = fit_batch(
        config.field,
        init,
        coords.to(device),
        targets.to(device),
        field_loss(config.field_kind),  # type: ignore[arg-type]
        config.fit,
        seed=_int_seed(config.seed, "shard", shard),
        on_step=on_step,
    )
    quality = fit_quality(
        field_fn(config.field, params),
        len(items),
        config.field_kind,
        _quality_reference(config, source, device),
        resolution=config.quality_resolution,
    )
    fitted = []
    for i, item in enumerate(items):
        fit = {"loss": float(loss[i])} | {k: float(v[i]) for k, v in quality.items()}
        fitted.append(item.model_copy(update={"fit": fit}))
    return params, source, fitted


def build_dataset(req: BuildRequest, device: torch.device, progress: Progress | None = None) -> tuple[Path, bool]:
    """Fit this worker's missing shards; returns the directory and whether it is complete."""
    if not 0 <= req.shard_index < req.shard_count:
        raise ValueError(f"--shard {req.shard_index}/{req.shard_count}: index must be in [0, {req.shard_count})")
    dataset, config, out = resolve_build(req)
    plan = plan_items(dataset, req)
    spec = config.field
    init = shared_init(spec, config.seed)
    chunk = config.fit.chunk_size
    meta = DatasetMeta(
        name=req.name,
        card=dataset.card.model_dump(mode="json"),
        build=config,
        build_hash=sha256_json(config.model_dump(mode="json")),
        init_hash=params_hash(spec, init),
        class_names=dataset.class_names(req.root),
        n_items=len(plan),
        n_shards=math.ceil(len(plan) / chunk),
        plan_hash=sha256_json([[p.key, p.split, p.label, p.fingerprint] for p in plan]),
        source_fingerprint=sha256_json([p.fingerprint for p in plan]),
        versions=package_versions(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    if not (out / META).exists() and plan:
        _prepare_shard(dataset, req.root, plan[:1], config)  # fail on bad input before writing anything
    meta = writer.begin(out, meta, plan, init, spec)
    todo = [
        s
        for s in range(meta.n_shards)
        if s % req.shard_count == req.shard_index and writer.read_shard_record(out, s) is None
    ]
    n_todo = sum(len(plan[s * chunk : (s + 1) * chunk]) for s in todo)
    # no bar when nothing is left to fit (re-opening a finished dataset)
    task = progress.add_task(f"fit {req.name}", total=n_todo, unit="INRs") if progress and n_todo else None
    for s in todo:
        items = plan[s * chunk : (s + 1) * chunk]
        start = time.perf_counter()
        step_share = len(items) / config.fit.steps

        def on_step(_: int, share: float = step_share) -> None:
            if progress is not None and task is not None:
                progress.advance(task, share)

        params, source, fitted = fit_shard(dataset, req.root, config, init, items, s, device, on_step)
        writer.write_shard(
            out, s, s * chunk, params, source, fitted, time.perf_counter() - start, describe_device(device)
        )
    return out, writer.finalize(out) is not None
