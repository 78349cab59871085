"""``nfbench run``: one (method, task, dataset, seed) evaluation -> one result record.

The runner is the only code that holds the dataset. It opens the method's view of the
train and val splits for ``fit``; the test view is opened only inside the task's
evaluation; the original discrete data reaches a method only with ``input_mode="source"``,
and the record says which input was used. Under ``torchrun`` every rank trains and
evaluates, and rank 0 alone writes the training cache and the records.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress

from nfbench import __version__
from nfbench.api import Axis, DataInfo, InputMode, Method, MethodConfig, Task, View
from nfbench.datasets.base import Shape
from nfbench.device import describe_device
from nfbench.errors import ConfigError, DataError
from nfbench.fitting.build import package_versions
from nfbench.hashing import sha256_json
from nfbench.methods import METHODS
from nfbench.paths import ensure_writable_dir, nfbench_home
from nfbench.records import ResultRecord, git_revision, write_clouds, write_embeddings, write_record
from nfbench.run.cache import TrainedCache, code_hash
from nfbench.run.config import resolve_config
from nfbench.store.reader import INRDataset
from nfbench.tasks import TASKS
from nfbench.training.checkpoint import saved_train_seconds
from nfbench.training.distributed import barrier, is_main
from nfbench.training.trainer import CHECKPOINT_NAME
from nfbench.views import VIEWS
from nfbench.views.context import SplitReader, ViewContext


def method_class(name: str) -> type[Method]:
    return METHODS.get(name)


def task_for(cls: type[Method], task: str | Task) -> Task:
    """The task object (a name, or an instance with its own options), after checking the method
    offers the capability the task needs."""
    task_cls = type(task) if isinstance(task, Task) else TASKS.get(task)
    if not task_cls.card.supports(cls):
        card = task_cls.card
        needs = f"a {card.capability} ({card.capability.capitalize()} protocol in nfbench.api.capabilities)"
        if card.reads_params:
            needs += f" reading a view computed from the INR parameters (its {cls.card.view!r} view is not)"
        raise ConfigError(f"method {cls.card.name!r} cannot run task {card.name!r}: it needs {needs}")
    return task if isinstance(task, Task) else task_cls()


def data_info(data: INRDataset, input_mode: InputMode) -> DataInfo:
    return DataInfo(
        spec=data.spec, field_kind=data.field_kind, class_names=tuple(data.class_names), input_mode=input_mode,
        up_axis=up_axis_of(data),
    )


def up_axis_of(data: INRDataset) -> Axis | None:
    """The up axis its stored card declares, or (builds older than the field) its registered card's."""
    if "up_axis" in data.meta.card:
        return data.meta.card["up_axis"]
    from nfbench.datasets import DATASETS

    source = data.meta.card.get("name", "")
    return DATASETS.get(source).card.up_axis if source in DATASETS.names() else None


def check_compatible(cls: type[Method], data: INRDataset) -> None:
    """Fail before training when the method cannot take this dataset's fields."""
    if data.field_kind not in cls.card.field_kinds:
        raise ConfigError(
            f"method {cls.card.name!r} reads the {cls.card.view!r} view, which it takes from {list(cls.card.field_kinds)} "
            f"fields; dataset {data.meta.name!r} holds {data.field_kind!r} fields ({data.spec.describe()})"
        )


def describe_init(regime: str, scheme: str) -> str:
    """``independent``, or ``independent, dwsnet scheme`` when the SIRENs do not start from Sitzmann et al.'s init."""
    return regime if scheme == "siren" else f"{regime}, {scheme} scheme"


def dataset_summary(data: INRDataset) -> dict[str, Any]:
    b = data.meta.build
    return {
        "field_kind": b.field_kind,
        "build_preset": b.preset,
        "splits": dict(data.meta.splits),
        "limit": b.limit,
        **{k: v for k in ("limit_train", "limit_test", "augment", "quality_sample") if (v := getattr(b, k, None))},
        "classes": len(data.class_names),
        "params_per_inr": data.spec.n_params,
        "fit_steps": b.fit.steps if b.fit else None,
        **({"lr_schedule": b.fit.lr_schedule} if b.fit and b.fit.lr_schedule != "constant" else {}),
        **({"init": describe_init(b.fit.init, b.fit.init_scheme)} if b.fit and (b.fit.init, b.fit.init_scheme) != ("shared", "siren") else {}),
        "origin": data.meta.origin,
    }


@dataclass
class RunSpec:
    """What one run evaluates; ``cache_key`` names its trained state."""

    cls: type[Method]
    preset: str
    config: MethodConfig
    seed: int
    input_mode: InputMode = "fields"
    train_per_class: int | None = None  # learning curves: the first N train INRs of each class

    @property
    def method(self) -> str:
        return self.cls.card.name

    def training_sources(self, data: INRDataset) -> tuple[str, ...]:
        return tuple(self.cls.training_sources(self.config, data_info(data, self.input_mode)))

    def cache_key(self, data: INRDataset) -> str:
        return sha256_json(
            {
                "method": self.method,
                "config": self.config.model_dump(mode="json"),
                "data": data.fingerprint,
                "seed": self.seed,
                "view": self.cls.card.view,
                "input": self.input_mode,
                "train_per_class": self.train_per_class,
                "code": code_hash(self.cls),
                "version": __version__,
            }
        )


@dataclass(frozen=True)
class ViewOpener:
    """The ``OpenView`` the runner hands to ``fit`` (train, val) and to a task (test, and its references)."""

    ctx: ViewContext
    view_name: str

    def __call__(self, split: str, first: int | None = None) -> View:
        return VIEWS.get(self.view_name).open(replace(self.ctx, first=first), split)

    def source_shapes(self, split: str) -> Iterator[tuple[str, Shape]]:
        items, load = self.ctx.source_items(split)
        for item in items:
            yield item.key, load(item)


def view_opener(
    data: INRDataset, spec: RunSpec, device: torch.device, progress: Progress | None, root: Path | None = None
) -> ViewOpener:
    info = data_info(data, spec.input_mode)
    options = spec.cls.view_options(spec.config)
    ctx = ViewContext(
        data, info, spec.input_mode, device, nfbench_home() / "views", options, progress, spec.train_per_class, root=root
    )
    return ViewOpener(ctx, spec.cls.card.view)


@dataclass
class TrainedMethod:
    method: Method
    train_seconds: float
    from_cache: bool


def new_method(spec: RunSpec, data: INRDataset, device: torch.device) -> Method:
    """The method with its networks built for ``data`` (seeded), untrained."""
    check_compatible(spec.cls, data)
    method = spec.cls(spec.config, device, spec.seed)
    method.setup(data_info(data, spec.input_mode))
    return method


def train_or_load(
    spec: RunSpec, data: INRDataset, device: torch.device, progress: Progress | None = None, rerun: bool = False,
    warn: Callable[[str], None] = print,
    root: Path | None = None,
) -> TrainedMethod:
    method = new_method(spec, data, device)
    key = spec.cache_key(data)
    cache = TrainedCache(nfbench_home() / "artifacts")
    cached = None if rerun else cache.load(spec.method, key, device, warn)
    if cached is not None:
        state, meta = cached
        method.load_state_dict(state)
        method.history = meta.get("history", {})
        return TrainedMethod(method, float(meta["train_seconds"]), True)
    open_view = view_opener(data, spec, device, progress, root)
    train, val = open_view("train"), open_view("val")
    sources = spec.training_sources(data)
    missing = [name for name in sources if name not in data.source_names]
    if missing:
        raise ConfigError(
            f"{spec.method} trains on source {missing} (training_sources), which dataset {data.meta.name!r} does not store "
            f"(it has {list(data.source_names)}); change the method's config"
        )
    for view in (train, val):
        view.grant_sources(sources)
    checkpoints = nfbench_home() / "checkpoints" / spec.method / key[:24]
    if rerun and is_main():
        shutil.rmtree(checkpoints, ignore_errors=True)
    barrier()
    method.checkpoint_root = checkpoints  # a killed fit resumes from its last finished epoch
    earlier = saved_train_seconds(checkpoints, CHECKPOINT_NAME)  # spent by killed processes before this one
    torch.manual_seed(spec.seed)
    start = time.perf_counter()
    method.fit(train, val, progress)
    seconds = earlier + time.perf_counter() - start
    if is_main():
        cache.save(spec.method, key, method.state_dict(), {"train_seconds": seconds, "history": method.history})
        shutil.rmtree(checkpoints, ignore_errors=True)  # the trained state is cached: checkpoints are done
    return TrainedMethod(method, seconds, False)


def run_one(
    spec: RunSpec,
    task: str | Task,
    data: INRDataset,
    device: torch.device,
    out_dir: Path,
    progress: Progress | None = None,
    rerun: bool = False,
    root: Path | None = None,
) -> tuple[ResultRecord, Path | None]:
    """``root``: the raw data the dataset was built from, for tasks that score against the source shapes."""
    task_obj = task_for(spec.cls, task)
    if task_obj.card.needs_training:
        trained = train_or_load(spec, data, device, progress, rerun, root=root)
    else:  # timing: the untrained network costs what the trained one does
        trained = TrainedMethod(new_method(spec, data, device), 0.0, False)
    result = task_obj.evaluate(trained.method, view_opener(data, spec, device, progress, root))
    card = trained.method.card
    record = ResultRecord(
        method=spec.method,
        method_preset=spec.preset,
        view=card.view,
        input_mode=spec.input_mode,
        train_per_class=spec.train_per_class,
        training_sources=list(spec.training_sources(data)),
        dataset=data.meta.name,
        dataset_fingerprint=data.fingerprint,
        dataset_summary=dataset_summary(data),
        task=task_obj.card.name,
        seed=spec.seed,
        metrics=result.metrics,
        main_metric=task_obj.card.main_metric,
        details=result.details
        | {"train_inrs": len(SplitReader(data, "train", spec.train_per_class)), "training": trained.method.history},
        config=spec.config.model_dump(mode="json"),
        config_hash=sha256_json(spec.config.model_dump(mode="json")),
        code_hash=code_hash(spec.cls),
        nfbench_version=__version__,
        git_revision=git_revision(),
        versions=package_versions(),
        device=describe_device(device),
        threads=torch.get_num_threads(),
        n_parameters=trained.method.n_parameters(),
        n_parameters_training=trained.method.n_training_parameters(),
        train_seconds=trained.train_seconds,
        inference_ms_per_inr=result.inference_ms_per_inr,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if not is_main():
        return record, None
    path = write_record(out_dir, record)
    if result.embeddings is not None and result.labels is not None:
        write_embeddings(out_dir, record, result.embeddings, result.labels, data.class_names)
    if result.clouds is not None:
        write_clouds(out_dir, record, result.clouds)
    return record, path


def prepare_outputs(out_dir: Path) -> None:
    """Fail before any training when the records folder or the cache cannot be written."""
    ensure_writable_dir(out_dir, "records folder (--out)")
    ensure_writable_dir(nfbench_home() / "artifacts", "training cache ($NFBENCH_HOME/artifacts)")


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


def run_specs(
    method: str,
    preset: str | None,
    overrides: Sequence[str],
    seeds: Sequence[int],
    input_mode: InputMode,
    train_per_class: int | None = None,
) -> list[RunSpec]:
    """One spec per seed. With ``--set`` overrides the preset is labelled ``<preset>+<config hash>``,
    so records of an edited config never replace, or average with, the preset's own."""
    cls = method_class(method)
    preset_name, config = resolve_config(cls, preset, overrides)
    if config != cls.presets[preset_name].config:
        preset_name = f"{preset_name}+{sha256_json(config.model_dump(mode='json'))[:8]}"
    if train_per_class is not None and train_per_class < 1:
        raise ConfigError(f"--train-per-class {train_per_class}: must be at least 1")
    return [RunSpec(cls, preset_name, config, s, input_mode, train_per_class) for s in seeds]
