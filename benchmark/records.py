"""Result records: one JSON file per (dataset build, task, method, preset, seed) evaluation.

Layout under a records folder::

    <dataset>/<fingerprint[:12]>/<task>/<method>.<preset>.seed<seed>.json            the record
    <dataset>/<fingerprint[:12]>/<task>/<method>.<preset>.seed<seed>.embeddings.npz  optional test embeddings

One file per evaluation means parallel jobs never share a file and re-running an
evaluation replaces exactly its own result (atomically). The dataset build's fingerprint
is part of the path because two builds of one dataset (another limit, another build
preset) are different benchmarks: their records sit side by side instead of overwriting
each other. Each record carries everything needed to judge and reproduce it: the dataset
fingerprint, the config and its hash, the code revision and a hash of the method's code,
package versions, device and timings.

Records are versioned by ``schema_version``. When the schema changes, bump
``SCHEMA_VERSION`` and add an upgrade function to ``_MIGRATIONS`` so that committed
records keep loading; ``tests/data/records`` holds version-1 records (in the version-1
layout ``<dataset>/<task>/``) and version-2 records that guard this. ``migrate_records``
(``nfbench leaderboard migrate``) rewrites a folder of older records into the current
schema and layout.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nfbench import __version__
from nfbench.errors import DataError
from nfbench.store.atomic import atomic_write, atomic_write_json

SCHEMA_VERSION = 4

FINGERPRINT_CHARS = 12
"""Characters of the dataset fingerprint in a record's path: enough to keep builds apart."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_+-]*$"  # no dots or slashes: names become path components
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_EMBEDDINGS_SUFFIX = ".embeddings.npz"
_CLOUDS_SUFFIX = ".clouds.npz"
_SIDECARS = (_EMBEDDINGS_SUFFIX, _CLOUDS_SUFFIX)  # files that live beside a record and move with it

RecordInputMode = Literal["fields", "source", "unknown"]
"""``fields``: everything the method read came from the INRs; ``source``: it read the
original discrete data (an upper bound, not a comparable entry); ``unknown``: not recorded."""


class ResultRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    method: str = Field(pattern=_NAME)
    method_preset: str = Field(pattern=_NAME)
    view: str = Field(
        pattern=_NAME,
        description="the view the method read (weights, weight-graph, field, points, voxels, renders, latents); "
        "'unknown' where a migrated record named something else",
    )
    input_mode: RecordInputMode = Field(description="where the view's data came from: the INRs or the source shapes")
    dataset: str = Field(pattern=_NAME)
    dataset_fingerprint: str = Field(
        pattern=rf"^[A-Za-z0-9]{{{FINGERPRINT_CHARS},}}$",
        description="identifies the dataset build; its first characters are a path component",
    )
    dataset_summary: dict[str, Any] = Field(description="field kind, build preset, split counts, limit, params per INR, ...")
    task: str = Field(pattern=_NAME)
    seed: int
    metrics: dict[str, float]
    main_metric: str = Field(description="the key of metrics that ranks leaderboards; its direction is its MetricSpec's")
    details: dict[str, Any] = Field(description="per-class accuracy, confusion matrix, metric definitions, ...")
    config: dict[str, Any]
    config_hash: str
    nfbench_version: str
    git_revision: str | None
    train_per_class: int | None = Field(
        None, ge=1, description="learning curves: the method was trained on the first N train INRs of each class; None: all"
    )
    training_sources: list[str] = Field(
        description="source tensors (e.g. points) the method's fit read from train/val as a training signal; [] for none"
    )
    code_hash: str | None = Field(description="hash of the method's source code; None in migrated records")
    versions: dict[str, str]
    device: str
    threads: int = Field(ge=0, description="torch CPU threads; 0 where not recorded (migrated v0 records on GPU)")
    n_parameters: int = Field(ge=0, description="parameters of the model that makes the test-time outputs")
    n_parameters_training: int = Field(ge=0, description="parameters used only for training, e.g. nf2vec's decoder")
    train_seconds: float = Field(ge=0)
    inference_ms_per_inr: float = Field(ge=0)
    created: str

    @model_validator(mode="after")
    def _consistent(self) -> ResultRecord:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version must be {SCHEMA_VERSION} (older records are upgraded by load_record)")
        if self.main_metric not in self.metrics:
            raise ValueError(f"main_metric {self.main_metric!r} is not among the metrics {sorted(self.metrics)}")
        bad = sorted(k for k, v in self.metrics.items() if not math.isfinite(v))
        if bad:
            raise ValueError(f"metrics {bad} are not finite")
        return self

    @property
    def stem(self) -> str:
        """Unique per run: a source-data run (an upper bound) never replaces the INR run of the same seed."""
        subset = "" if self.train_per_class is None else f".train{self.train_per_class}"
        source = ".source" if self.input_mode == "source" else ""
        return f"{self.method}.{self.method_preset}{subset}{source}.seed{self.seed}"


def _from_v0(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (records from before versioning) had no ``input_kind`` and no ``threads``.

    The thread count is recovered from the device description ("cpu (4 threads)") where
    it appears; the input kind cannot be recovered and is marked unknown.
    """
    found = re.search(r"\((\d+) threads?\)", str(raw.get("device", "")))
    return {**raw, "input_kind": "unknown", "threads": int(found.group(1)) if found else 0}


def _from_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 2 replaces ``input_kind`` by the ``view`` read and its ``input_mode``, and adds
    ``n_parameters_training`` and ``code_hash``.

    Every version-1 method read INR weights through nfbench, so ``input_mode`` is "fields";
    an ``input_kind`` other than "weights" names no view and becomes "unknown". Version 1's
    ``n_parameters`` is kept as it was: for nf2vec it also counted the decoder that only
    serves training, but the record does not say how many parameters were the decoder's,
    so no split is invented and ``n_parameters_training`` is 0. No code hash was recorded.
    """
    rest = {k: v for k, v in raw.items() if k != "input_kind"}
    view = "weights" if raw.get("input_kind") == "weights" else "unknown"
    return {**rest, "view": view, "input_mode": "fields", "n_parameters_training": 0, "code_hash": None}


def _from_v2(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 3 adds ``train_per_class`` (learning curves); every earlier run used the whole train split."""
    return {**raw, "train_per_class": None}


def _from_v3(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 4 adds ``training_sources``; no earlier method read source data in training."""
    return {**raw, "training_sources": []}


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_v0, 1: _from_v1, 2: _from_v2, 3: _from_v3}
"""``_MIGRATIONS[v]`` turns a version-v record dict into a version-(v+1) one."""


def _version(raw: dict[str, Any], path: Path | str) -> int:
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DataError(path, f"schema_version {version!r} is not a non-negative integer")
    if version > SCHEMA_VERSION:
        raise DataError(
            path, f"record schema_version {version} is newer than this nfbench {__version__} reads (up to {SCHEMA_VERSION}); upgrade nfbench"
        )
    return version


def _upgrade(raw: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """Bring a record dict of any known version up to ``SCHEMA_VERSION``."""
    version = _version(raw, path)
    while version < SCHEMA_VERSION:
        raw = {**_MIGRATIONS[version](raw), "schema_version": version + 1}
        version += 1
    return raw


def record_path(out_dir: Path, record: ResultRecord) -> Path:
    """``<dataset>/<fingerprint[:12]>/<task>/<method>.<preset>.seed<seed>.json`` under ``out_dir``."""
    build = record.dataset_fingerprint[:FINGERPRINT_CHARS]
    return Path(out_dir) / record.dataset / build / record.task / f"{record.stem}.json"


def write_record(out_dir: Path, record: ResultRecord) -> Path:
    path = record_path(out_dir, record)
    atomic_write_json(path, record.model_dump(mode="json"))
    return path


def _validation_summary(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in err.errors())


def _read_raw(path: Path) -> dict[str, Any]:
    """The record file's JSON object, as stored (any schema version)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(path, f"cannot read record ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"not valid JSON ({err})") from err
    if not isinstance(raw, dict):
        raise DataError(path, f"a record must be a JSON object, got {type(raw).__name__}")
    return raw


def _validate(raw: dict[str, Any], path: Path) -> ResultRecord:
    try:
        return ResultRecord.model_validate(_upgrade(raw, path))
    except ValidationError as err:
        raise DataError(path, f"invalid record: {_validation_summary(err)}") from err


def load_record(path: Path) -> ResultRecord:
    """Read, upgrade and validate one record; any problem is a one-line ``DataError`` naming ``path``."""
    return _validate(_read_raw(path), path)


def _sort_key(record: ResultRecord) -> tuple[Any, ...]:
    return (record.dataset, record.task, record.method, record.method_preset, record.seed, record.dataset_fingerprint)


def load_records(out_dir: Path) -> list[ResultRecord]:
    """Every record under ``out_dir`` (``<dataset>/<build>/<task>/*.json``), in a fixed order.

    A record in the version-1 layout, or anywhere but its own path, is an error rather than
    skipped: a leaderboard silently missing results (or their embeddings, found by path)
    would look complete.
    """
    out_dir = Path(out_dir)
    for old in sorted(out_dir.glob("*/*/*.json")):
        raise DataError(
            old, f"record in the layout before schema 2 (<dataset>/<task>/); run `nfbench leaderboard migrate {out_dir}`"
        )
    records = []
    for path in sorted(out_dir.glob("*/*/*/*.json")):
        record = load_record(path)
        expected = record_path(out_dir, record)
        if path != expected:
            raise DataError(path, f"this record belongs at {expected}; run `nfbench leaderboard migrate {out_dir}`")
        records.append(record)
    return sorted(records, key=_sort_key)


@dataclass(frozen=True)
class Migration:
    """One record file brought to the current schema and layout; ``changed``: moved or rewritten."""

    source: Path
    target: Path
    from_version: int
    changed: bool


def _beside(record_file: Path, suffix: str) -> Path:
    return record_file.with_name(record_file.name.removesuffix(".json") + suffix)


def migrate_records(records_dir: Path) -> list[Migration]:
    """Upgrade every record under ``records_dir`` to the current schema and move it (and its
    embeddings file) to its current path.

    Every file is read and checked before anything changes, so a bad record or two records
    claiming one path stops the migration with nothing touched. Each step is atomic (a
    record is written to its new path before the old file goes; embeddings move by rename)
    and a rerun after a crash, or on migrated records, finishes or repeats nothing.
    """
    records_dir = Path(records_dir)
    if not records_dir.is_dir():
        raise DataError(records_dir, "no records folder here")
    by_target: dict[Path, list[tuple[Path, dict[str, Any], ResultRecord]]] = {}
    for source in sorted(records_dir.rglob("*.json")):
        raw = _read_raw(source)
        record = _validate(raw, source)
        by_target.setdefault(record_path(records_dir, record), []).append((source, raw, record))
    for target, claims in by_target.items():
        first = claims[0][2].model_dump(mode="json")
        for source, _, record in claims[1:]:
            if record.model_dump(mode="json") != first:
                raise DataError(source, f"migrates to {target}, as does the different record {claims[0][0]}; keep one of them")

    done = []
    for target, claims in sorted(by_target.items()):
        current = claims[0][2].model_dump(mode="json")
        in_place = any(source == target and raw == current for source, raw, _ in claims)
        if not in_place:
            atomic_write_json(target, current)
        for source, raw, _ in claims:
            if source != target:
                for suffix in _SIDECARS:
                    if _beside(source, suffix).exists():
                        os.replace(_beside(source, suffix), _beside(target, suffix))
                source.unlink()
                _remove_empty_folders(source.parent, records_dir)
            done.append(Migration(source, target, _version(raw, source), changed=source != target or not in_place))
    return sorted(done, key=lambda m: m.source)


def _remove_empty_folders(folder: Path, root: Path) -> None:
    """Drop ``folder`` and its parents up to (not including) ``root`` while they are empty."""
    while folder != root and folder.is_relative_to(root) and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def git_revision(repo_dir: Path = _PACKAGE_ROOT) -> str | None:
    """HEAD of the checkout at ``repo_dir`` (by default nfbench's own), ``-dirty`` with
    uncommitted changes to tracked files; None when ``repo_dir`` is not a checkout's root
    (an installed wheel inside some other repository must not report that repository).

    Untracked files are ignored: new result records land inside the checkout and would
    otherwise mark every later run dirty.
    """

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, check=True, timeout=10)
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(repo_dir).resolve():
            return None
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64, indices into class_names
    class_names: list[str]


def embeddings_path(out_dir: Path, record: ResultRecord) -> Path:
    return _beside(record_path(out_dir, record), _EMBEDDINGS_SUFFIX)


def clouds_path(out_dir: Path, record: ResultRecord) -> Path:
    return _beside(record_path(out_dir, record), _CLOUDS_SUFFIX)


@dataclass(frozen=True)
class SampleClouds:
    """A few test shapes as a reconstruct record decoded them, with their source samples, for figures."""

    keys: list[str]
    decoded: np.ndarray  # (K, P, 3) float32
    source: np.ndarray  # (K, P, 3) float32
    up_axis: str = "y"  # the axis the shapes stand along (the dataset card's; y where it declares none)


def write_clouds(out_dir: Path, record: ResultRecord, clouds: SampleClouds) -> Path:
    if clouds.decoded.ndim != 3 or clouds.decoded.shape[2] != 3 or clouds.source.shape != clouds.decoded.shape:
        raise ValueError(f"expected decoded and source clouds (K, P, 3) alike, got {clouds.decoded.shape} and {clouds.source.shape}")
    path = clouds_path(out_dir, record)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, keys=np.array(clouds.keys, dtype=str), decoded=clouds.decoded.astype(np.float16),
                source=clouds.source.astype(np.float16), up_axis=np.array(clouds.up_axis),
            )

    atomic_write(path, write)
    return path


def load_clouds(path: Path) -> SampleClouds:
    try:
        with np.load(path, allow_pickle=False) as npz:
            clouds = SampleClouds(
                [str(k) for k in npz["keys"]], npz["decoded"].astype(np.float32), npz["source"].astype(np.float32), str(npz["up_axis"])
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(path, f"not a readable clouds file ({err})") from err
    if clouds.decoded.shape != clouds.source.shape or len(clouds.keys) != len(clouds.decoded):
        raise DataError(path, f"decoded {clouds.decoded.shape}, source {clouds.source.shape} and {len(clouds.keys)} keys do not match")
    return clouds


def write_embeddings(
    out_dir: Path, record: ResultRecord, embeddings: np.ndarray, labels: np.ndarray, class_names: list[str]
) -> Path:
    """Store test embeddings for plots, float16 to keep committed files small (float32 if
    float16 would overflow)."""
    vectors = np.asarray(embeddings)
    labels = np.asarray(labels)
    if vectors.ndim != 2 or labels.shape != (vectors.shape[0],):
        raise ValueError(f"expected embeddings (N, D) and labels (N,), got {vectors.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must index the {len(class_names)} class names")
    with np.errstate(over="ignore"):
        half = vectors.astype(np.float16)
    stored = half if np.isfinite(half).all() else vectors.astype(np.float32)
    path = embeddings_path(out_dir, record)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a path
            np.savez_compressed(
                fh, embeddings=stored, labels=labels.astype(np.int64), class_names=np.array(class_names, dtype=str)
            )

    atomic_write(path, write)
    return path


def load_embeddings(path: Path) -> Embeddings:
    try:
        with np.load(path, allow_pickle=False) as npz:
            vectors = npz["embeddings"].astype(np.float32)
            labels = npz["labels"].astype(np.int64)
            class_names = [str(c) for c in npz["class_names"]]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(path, f"not a readable embeddings file ({err})") from err
    if vectors.ndim != 2 or labels.shape != (vectors.shape[0],):
        raise DataError(path, f"embeddings {vectors.shape} and labels {labels.shape} do not match")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise DataError(path, f"labels do not index the {len(class_names)} class names")
    return Embeddings(vectors, labels, class_names)
