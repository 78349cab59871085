"""Turn a registered shape dataset into an INR dataset on disk.

The unit of work is a shard: a fixed, contiguous range of items fitted together as one
chunk. Everything random about an item (its supervision, its query indices during the
fit, the decoding that measures its fit quality) is seeded by the build seed and the
item's key alone, so shards can be fitted in any order, by any number of workers
(``--shard i/N``), with any chunk size, killed and resumed, and still produce
bit-identical weights and fit-quality numbers (on the CPU; see ``fitting.fitter``).
Everything that depends on the field kind is asked of the kind (``nfbench.fields.kinds``).
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import get_args

import numpy as np
import torch
from rich.progress import Progress

from nfbench.api.registry import did_you_mean
from nfbench.datasets import DATASETS
from nfbench.datasets.base import ItemRef, Limits, Shape, ShapeDataset, carve_val
from nfbench.decode import field_fn
from nfbench.device import describe_device
from nfbench.errors import ConfigError, DataError
from nfbench.fields import Params, params_hash, shared_init
from nfbench.fields.init import InitScheme, independent_inits
from nfbench.fields.kinds import FIELD_KINDS, FieldKind, field_kind
from nfbench.fitting.fitter import COLLAPSE_FRACTION, InitRegime, Kernels, LrSchedule, collapsed_fits, fit_batch
from nfbench.fitting.reuse import Donor, ShardFit
from nfbench.fitting.streams import ItemStreams
from nfbench.hashing import sha256_json, sha256_text
from nfbench.paths import datasets_home
from nfbench.presets import build_preset
from nfbench.store import writer
from nfbench.store.layout import META
from nfbench.store.schema import BuildConfig, DatasetMeta, ItemRecord, build_hash, plan_hash
from nfbench.targets import SamplingConfig, Supervision, normalize_shape

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
    limit_train: int | None = None
    limit_test: int | None = None
    augment: int = 0
    quality_sample: int | None = None
    reuse: Path | None = None  # a finished build whose shared items are copied, not refitted
    kernels: Kernels | None = None  # None: the preset's
    lr_schedule: LrSchedule | None = None  # None: the preset's
    init: InitRegime | None = None  # None: the preset's (shared)
    init_scheme: InitScheme | None = None  # None: the preset's (siren)

    @property
    def limits(self) -> Limits:
        """``--limit`` with its per-split overrides, as the dataset loaders take them."""
        return Limits(self.limit, self.limit_train, self.limit_test)


AUGMENT_SCALE = (2 / 3, 3 / 2)
"""Range of the uniform per-axis scale factor of ``--augment`` copies (as in inr2vec's training set)."""
AUGMENT_JITTER = 0.01
"""Std of the Gaussian noise added to every point and vertex of an ``--augment`` copy, as a fraction of
the scaled shape's bounding radius (so about 0.01 in the unit sphere the shape is then normalized into)."""


def int_seed(*parts: object) -> int:
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
    if req.limit_train is not None:
        parts.append(f"limittrain{req.limit_train}")
    if req.limit_test is not None:
        parts.append(f"limittest{req.limit_test}")
    if req.augment:
        parts.append(f"aug{req.augment}")
    if req.quality_sample is not None:
        parts.append(f"qsample{req.quality_sample}")
    if req.steps is not None:
        parts.append(f"steps{req.steps}")
    if req.kernels is not None:
        parts.append(req.kernels)
    if req.lr_schedule is not None:
        parts.append(f"lr{req.lr_schedule}")
    if req.init is not None:
        parts.append(f"init{req.init}")
    if req.init_scheme is not None:
        parts.append(f"{req.init_scheme}init")
    if req.seed != 0:
        parts.append(f"seed{req.seed}")
    return datasets_home() / "-".join(parts)


def resolve_build(req: BuildRequest) -> tuple[ShapeDataset, BuildConfig, Path]:
    dataset: ShapeDataset = DATASETS.get(req.name)()
    card = dataset.card
    unknown = [k for k in card.field_kinds if k not in FIELD_KINDS]
    if unknown:
        raise ConfigError(f"dataset {req.name!r} declares field kinds {unknown} that are not registered; known: {FIELD_KINDS.names()}")
    field = req.field or card.default_field
    if field not in card.field_kinds:
        raise ConfigError(f"dataset {req.name!r} supports fields {list(card.field_kinds)}, not {field!r}{did_you_mean(field, card.field_kinds)}")
    kind = field_kind(field)
    preset = build_preset(req.preset or card.default_preset)
    if preset.field.in_dim != kind.in_dim:
        raise ConfigError(
            f"preset {preset.name!r} fits {preset.field.in_dim}-D coordinates, but {field!r} fields take {kind.in_dim}-D ones"
        )
    if req.augment < 0:
        raise ConfigError(f"--augment {req.augment}: must be >= 0 (extra copies of each train shape)")
    if req.augment and kind.in_dim != 3:
        raise ConfigError(f"--augment scales and jitters 3-D geometry; {field!r} fields are {kind.in_dim}-D")
    if req.quality_sample is not None and req.quality_sample < 1:
        raise ConfigError(f"--quality-sample {req.quality_sample}: must be >= 1 (1 in M items is measured)")
    for flag, value, choices, noun in (
        ("--kernels", req.kernels, Kernels, "a fitting kernel"),
        ("--lr-schedule", req.lr_schedule, LrSchedule, "a schedule"),
        ("--init", req.init, InitRegime, "an init regime"),
        ("--init-scheme", req.init_scheme, InitScheme, "an init scheme"),
    ):
        if value is not None and value not in get_args(choices):
            raise ConfigError(f"{flag} {value!r}: not {noun}{did_you_mean(value, get_args(choices))}")
    overrides = {
        "steps": req.steps, "kernels": req.kernels, "lr_schedule": req.lr_schedule, "init": req.init, "init_scheme": req.init_scheme,
    }
    fit = preset.fit.model_copy(update={k: v for k, v in overrides.items() if v is not None})
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
        limit_train=req.limit_train,
        limit_test=req.limit_test,
        augment=req.augment,
        quality_sample=req.quality_sample,
    )
    out = req.out or default_out_dir(req, field, preset.name, dataset)
    return dataset, config, out


def finished_build(out: Path, config: BuildConfig) -> bool:
    """Whether ``out`` holds a complete build of exactly ``config``: one that can be reopened
    (to train and evaluate on its INRs) without the raw data it was fitted from."""
    if not (out / META).is_file():
        return False
    meta = writer.read_meta(out)
    return meta.complete and meta.build_hash == build_hash(config.model_dump(mode="json"))


def plan_items(dataset: ShapeDataset, req: BuildRequest) -> list[ItemRecord]:
    """The ordered plan: the listed items with val carved from train, then ``req.augment`` copies of
    every train item (key ``<key>#aug<k>``), all sorted by key.

    Copies are added after the carving, so val and test never hold one and the split of an
    original does not depend on ``--augment``.
    """
    refs = carve_val(dataset.list_items(req.root, req.limits, req.seed))
    if not refs:
        raise DataError(req.root or req.name, "no items found")
    rows = [(r.key, r, None) for r in refs]
    rows += [(f"{r.key}#aug{k}", r, r.key) for r in refs if r.split == "train" for k in range(1, req.augment + 1)]
    rows.sort(key=lambda row: row[0])
    return [
        ItemRecord(
            index=i, key=key, split=r.split, label=r.label, locator=r.locator, fingerprint=r.fingerprint, augment_of=original
        )
        for i, (key, r, original) in enumerate(rows)
    ]


def augment_shape(shape: Shape, rng: np.random.Generator, source: str) -> Shape:
    """A random anisotropic rescaling plus a small jitter of a raw shape (``--augment``).

    Every axis is scaled by a factor drawn from U(``AUGMENT_SCALE``), then every point and
    mesh vertex gets Gaussian noise of std ``AUGMENT_JITTER`` times the scaled shape's
    bounding radius; the caller normalizes into the unit sphere afterwards, as for any shape.
    Points and vertices share the transform so a mesh and its cloud stay aligned (mesh
    topology, part ids and face data are unchanged). A voxel grid given with a mesh is
    dropped so that occupancy is voxelized from the transformed mesh; voxels alone (or an
    image) cannot be transformed this way.
    """
    parts = {name: arr.astype(np.float64) for name in ("points", "vertices") if (arr := getattr(shape, name)) is not None}
    has_mesh = shape.vertices is not None and shape.faces is not None
    if not parts or (shape.voxels is not None and not has_mesh):
        raise DataError(source, "--augment transforms points or meshes; this shape has only voxels or an image")
    scale = rng.uniform(*AUGMENT_SCALE, size=3)
    scaled = {name: arr * scale for name, arr in parts.items()}
    both = np.concatenate(list(scaled.values()))
    radius = float(np.linalg.norm(both - 0.5 * (both.min(axis=0) + both.max(axis=0)), axis=1).max())
    jittered = {
        name: (arr + rng.normal(0.0, AUGMENT_JITTER * radius, size=arr.shape)).astype(np.float32) for name, arr in scaled.items()
    }
    return dataclasses.replace(shape, voxels=None, **jittered)


def quality_measured(config: BuildConfig, key: str) -> bool:
    """Whether ``--quality-sample`` measures the fit quality of item ``key``.

    Decided by a hash of (seed, key) alone, so the same items are measured whatever the
    chunk size, shard layout or number of workers; about 1 in ``quality_sample`` items is.
    """
    return config.quality_sample is None or int_seed(config.seed, "quality-sample", key) % config.quality_sample == 0


def load_item_shape(dataset: ShapeDataset, root: Path | None, item: ItemRecord, seed: int) -> Shape:
    """The normalized shape an item's INR is fitted to, its ``--augment`` transform included
    (the build's ``seed``): what the fit saw, and what a reconstruction is scored against."""
    ref = ItemRef(item.augment_of or item.key, item.split, item.label, item.locator, item.fingerprint)  # type: ignore[arg-type]
    raw = dataset.load(root, ref)
    if item.augment_of is not None:
        raw = augment_shape(raw, np.random.default_rng(int_seed(seed, "augment", item.key)), item.locator)
    return normalize_shape(raw, item.locator)


def item_supervision(shape: Shape, item: ItemRecord, config: BuildConfig, kind: FieldKind) -> tuple[Supervision, np.random.Generator]:
    """The queries and targets the item's INR is fitted to, and the item's generator after drawing them
    (the build goes on to draw the stored reference cloud from it)."""
    rng = np.random.default_rng(int_seed(config.seed, item.key))
    return kind.supervision(shape, SamplingConfig.model_validate(config.sampling), rng, item.locator), rng


def _prepare_shard(
    dataset: ShapeDataset, root: Path | None, items: list[ItemRecord], config: BuildConfig, kind: FieldKind
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Load, normalize and sample supervision and source data for each item of a shard (I/O-bound, per shape)."""
    coords, targets = [], []
    source: dict[str, list[np.ndarray]] = {}
    for item in items:
        shape = load_item_shape(dataset, root, item, config.seed)
        sup, rng = item_supervision(shape, item, config, kind)
        coords.append(sup.coords)
        targets.append(sup.targets)
        stored = kind.source_tensors(shape, sup, config.n_reference_points, rng, item.locator) | {"labels": np.asarray(item.label)}
        for name, array in stored.items():
            source.setdefault(name, []).append(array)
    # A tensor only some items have (part ids) is not stored for the shard.
    stacked = {k: torch.from_numpy(np.stack(v)) for k, v in source.items() if len(v) == len(items)}
    return torch.from_numpy(np.stack(coords)), torch.from_numpy(np.stack(targets)), stacked


def fit_shard(
    dataset: ShapeDataset,
    root: Path | None,
    config: BuildConfig,
    init: Params,
    items: list[ItemRecord],
    device: torch.device,
    on_step: Callable[[int], None] | None = None,
) -> tuple[Params, dict[str, torch.Tensor], list[ItemRecord]]:
    """Fit one chunk of items; returns the stacked weights, the source tensors and the items with their fit record."""
    kind = field_kind(config.field_kind)
    coords, targets, source = _prepare_shard(dataset, root, items, config, kind)
    if config.fit.init == "independent":
        init = independent_inits(config.field, [int_seed(config.seed, "init", item.key) for item in items], config.fit.init_scheme)
    params, loss = fit_batch(
        config.field,
        init,
        coords.to(device),
        targets.to(device),
        kind.loss,
        config.fit,
        seeds=[int_seed(config.seed, "fit", item.key) for item in items],
        on_step=on_step,
    )
    collapsed = collapsed_fits(loss, targets, kind.loss)
    if collapsed:
        warnings.warn(
            f"{len(collapsed)} of {len(items)} INRs hold no shape (final loss within {1 - COLLAPSE_FRACTION:.0%} of a "
            f"zero output's: a collapsed or too short fit), e.g. {items[collapsed[0]].locator}; marked `collapsed` in "
            "their fit record. Long fits need --lr-schedule cosine",
            RuntimeWarning,
            stacklevel=2,
        )
    measured = [i for i, item in enumerate(items) if quality_measured(config, item.key)]
    quality: dict[int, dict[str, float]] = {i: {} for i in range(len(items))}
    if measured:
        rows = torch.tensor(measured)
        metrics = kind.fit_quality(
            field_fn(config.field, {name: p[rows.to(p.device)] for name, p in params.items()}),
            len(measured),
            kind.quality_reference({name: t[rows] for name, t in source.items()}, device),
            resolution=config.quality_resolution,
            generator=ItemStreams([int_seed(config.seed, "quality", items[i].key) for i in measured]),
        )
        for j, i in enumerate(measured):
            quality[i] = {k: float(v[j]) for k, v in metrics.items()}
    flags = {i: {"collapsed": 1.0} for i in collapsed}  # only when set: records of sound fits keep their bytes
    fitted = [
        item.model_copy(update={"fit": {"loss": float(loss[i])} | flags.get(i, {}) | quality[i]}) for i, item in enumerate(items)
    ]
    return params, source, fitted


def build_dataset(req: BuildRequest, device: torch.device, progress: Progress | None = None) -> tuple[Path, bool]:
    """Fit this worker's missing shards; returns the directory and whether it is complete."""
    if not 0 <= req.shard_index < req.shard_count:
        raise ConfigError(f"--shard {req.shard_index}/{req.shard_count}: index must be in [0, {req.shard_count})")
    dataset, config, out = resolve_build(req)
    card = dataset.card
    if card.needs_root and req.root is None:
        if finished_build(out, config):
            return out, True  # nothing to fit and nothing to check against the source
        raise DataError(req.name, f"needs --root pointing at the local data (expected layout: {card.layout or card.source})")
    plan = plan_items(dataset, req)
    spec = config.field
    init = shared_init(spec, config.seed, config.fit.init_scheme)  # the start of every INR, or (independent inits) of none
    shared = config.fit.init == "shared"
    chunk = config.fit.chunk_size
    meta = DatasetMeta(
        name=req.name,
        card=dataset.card.model_dump(mode="json"),
        build=config,
        build_hash=build_hash(config.model_dump(mode="json")),
        init_hash=params_hash(spec, init) if shared else None,
        class_names=dataset.class_names(req.root),
        n_items=len(plan),
        n_shards=math.ceil(len(plan) / chunk),
        plan_hash=plan_hash([p.model_dump() for p in plan]),
        source_fingerprint=sha256_json([p.fingerprint for p in plan]),
        versions=package_versions(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if not (out / META).exists() and plan:
        _prepare_shard(dataset, req.root, plan[:1], config, field_kind(config.field_kind))  # fail on bad input before writing anything
    donor = Donor(req.reuse, config) if req.reuse is not None else None
    meta = writer.begin(out, meta, plan, init if shared else None, spec)
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

        def fit(part: list[ItemRecord], on_step: Callable[[int], None] = on_step) -> ShardFit:
            return fit_shard(dataset, req.root, config, init, part, device, on_step)

        if donor is None:
            params, source, fitted = fit(items)
        else:
            (params, source, fitted), copied = donor.fit_or_copy(items, fit)
            if progress is not None and task is not None:
                progress.advance(task, copied)
        writer.write_shard(
            out, s, s * chunk, params, source, fitted, time.perf_counter() - start, describe_device(device)
        )
    return out, writer.finalize(out) is not None
