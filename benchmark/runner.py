"""``nfbench run``: one (method, task, dataset, seed) evaluation -> one result record.

Training is cached under ``$NFBENCH_HOME/artifacts`` by a hash of (method, preset config,
dataset fingerprint, seed), so ``classify`` and ``retrieve`` of one method share a
training and re-running a finished evaluation costs only inference.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from nfbench import __version__
from nfbench.device import describe_device
from nfbench.errors import DataError
from nfbench.hashing import sha256_json
from nfbench.method import Method
from nfbench.methods import METHODS
from nfbench.paths import nfbench_home
from nfbench.records import ResultRecord, git_revision, write_embeddings, write_record
from nfbench.api.registry import did_you_mean
from nfbench.store.atomic import atomic_write
from nfbench.store.reader import INRDataset
from nfbench.tasks import TASKS
from nfbench.tasks.base import Task, TaskResult
from nfbench.fitting.build import package_versions


def method_class(name: str) -> type[Method]:
    return METHODS.get(name)


def method_config(cls: type[Method], preset: str | None) -> tuple[str, dict[str, Any]]:
    name = preset or cls.default_preset
    if name not in cls.presets:
        raise KeyError(f"method {cls.card.name!r} has no preset {name!r}{did_you_mean(name, cls.presets)}")
    return name, dict(cls.presets[name])


def dataset_fingerprint(data: INRDataset) -> str:
    return sha256_json([data.meta.build_hash, data.meta.plan_hash])[:16]


def dataset_summary(data: INRDataset) -> dict[str, Any]:
    b = data.meta.build
    return {
        "field_kind": b.field_kind,
        "build_preset": b.preset,
        "splits": dict(data.meta.splits),
        "limit": b.limit,
        "classes": len(data.class_names),
        "params_per_inr": data.spec.n_params,
        "fit_steps": b.fit.steps if b.fit else None,
        "origin": data.meta.origin,
    }


@dataclass
class TrainedMethod:
    method: Method
    preset: str
    config: dict[str, Any]
    train_seconds: float
    from_cache: bool


def train_or_load(
    name: str, preset: str | None, data: INRDataset, seed: int, device: torch.device, progress: Progress | None = None
) -> TrainedMethod:
    cls = method_class(name)
    preset_name, config = method_config(cls, preset)
    method = cls(config, device, seed)
    method.setup(data.spec, data.field_kind, len(data.class_names))
    key = sha256_json({"method": name, "config": config, "data": dataset_fingerprint(data), "seed": seed, "version": __version__})
    path = nfbench_home() / "artifacts" / name / f"{key[:24]}.pt"
    if path.exists():
        cached = torch.load(path, map_location=device, weights_only=False)
        method.load_state_dict(cached["state"])
        return TrainedMethod(method, preset_name, config, cached["train_seconds"], True)
    torch.manual_seed(seed)
    start = time.perf_counter()
    method.fit(data, progress)
    seconds = time.perf_counter() - start
    buffer = io.BytesIO()
    torch.save({"state": method.state_dict(), "train_seconds": seconds}, buffer)
    atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    return TrainedMethod(method, preset_name, config, seconds, False)


def check_task_supported(cls: type[Method], task: str) -> Task:
    task_obj: Task = TASKS.get(task)()
    if task not in cls.card.tasks:
        raise ValueError(f"method {cls.card.name!r} does not support task {task!r} (it declares {list(cls.card.tasks)})")
    return task_obj


def run_one(
    method: str,
    task: str,
    data: INRDataset,
    seed: int,
    preset: str | None,
    device: torch.device,
    out_dir: Path,
    progress: Progress | None = None,
) -> tuple[ResultRecord, Path, TaskResult]:
    task_obj = check_task_supported(method_class(method), task)
    trained = train_or_load(method, preset, data, seed, device, progress)
    result = task_obj.evaluate(trained.method, data)
    record = ResultRecord(
        method=method,
        method_preset=trained.preset,
        input_kind=trained.method.card.input_kind,
        dataset=data.meta.name,
        dataset_fingerprint=dataset_fingerprint(data),
        dataset_summary=dataset_summary(data),
        task=task,
        seed=seed,
        metrics=result.metrics,
        main_metric=task_obj.main_metric,
        details=result.details,
        config=trained.config,
        config_hash=sha256_json(trained.config),
        nfbench_version=__version__,
        git_revision=git_revision(),
        versions=package_versions(),
        device=describe_device(device),
        threads=torch.get_num_threads(),
        n_parameters=trained.method.n_parameters(),
        train_seconds=trained.train_seconds,
        inference_ms_per_inr=result.inference_ms_per_inr,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    path = write_record(out_dir, record)
    if result.embeddings is not None and result.labels is not None:
        write_embeddings(out_dir, record, result.embeddings, result.labels, data.class_names)
    return record, path, result


def open_or_build_dataset(
    dataset: str, device: torch.device, root: Path | None, limit: int | None, progress: Progress | None
) -> INRDataset:
    """A dataset directory, a built dataset's name, or a registered dataset to build now."""
    from nfbench.datasets import DATASETS
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.paths import resolve_dataset_dir

    path = Path(dataset).expanduser()
    if path.exists():
        return INRDataset.open(path)
    if dataset not in DATASETS:
        built = resolve_dataset_dir(dataset)
        if built.exists():
            return INRDataset.open(built)
        DATASETS.get(dataset)  # raises with the closest registered names
    req = BuildRequest(dataset, root=root, limit=limit)
    path, complete = build_dataset(req, device, progress)
    if not complete:
        raise DataError(path, "dataset build did not complete")
    return INRDataset.open(path)


def tiny_check_dataset(device: torch.device, progress: Progress | None = None, limit: int = 3) -> INRDataset:
    """The tiny procshapes INR dataset used by plugin checks and smoke tests (built once, cached)."""
    from nfbench.fitting.build import BuildRequest, build_dataset

    path, _ = build_dataset(BuildRequest("procshapes", preset="tiny", limit=limit), device, progress)
    return INRDataset.open(path)
