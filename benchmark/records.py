"""Result records: one JSON file per (dataset, task, method, preset, seed) evaluation.

Layout under a records folder::

    <dataset>/<task>/<method>.<preset>.seed<seed>.json                 the record
    <dataset>/<task>/<method>.<preset>.seed<seed>.embeddings.npz       optional test embeddings

One file per evaluation means parallel jobs never share a file and re-running an
evaluation replaces exactly its own result (atomically). Each record carries everything
needed to judge and reproduce it: the dataset fingerprint, the config and its hash, the
code revision, package versions, device and timings.

Records are versioned by ``schema_version``. When the schema changes, bump
``SCHEMA_VERSION`` and add an upgrade function to ``_MIGRATIONS`` so that committed
records keep loading; ``tests/data/records`` holds version-1 records that guard this.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nfbench import __version__
from nfbench.errors import DataError
from nfbench.store.atomic import atomic_write, atomic_write_json

SCHEMA_VERSION = 1

LOWER_IS_BETTER = frozenset({"chamfer", "emd", "mmd", "1nna"})
"""Metric families (the name before any ``@k``) where lower is better; all others rank
higher-is-better. ``1nna`` is ideally 50 %, but a method above 50 % improves by going down."""

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_+-]*$"  # no dots or slashes: names become path components
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def metric_family(metric: str) -> str:
    """``map@10`` -> ``map``: the part that decides direction and formatting."""
    return metric.split("@", 1)[0]


def higher_is_better(metric: str) -> bool:
    return metric_family(metric) not in LOWER_IS_BETTER


class ResultRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    method: str = Field(pattern=_NAME)
    method_preset: str = Field(pattern=_NAME)
    input_kind: str = Field(description="what the method reads (weights, points, ...); 'unknown' in migrated v0 records")
    dataset: str = Field(pattern=_NAME)
    dataset_fingerprint: str = Field(min_length=1)
    dataset_summary: dict[str, Any] = Field(description="field kind, build preset, split counts, limit, params per INR, ...")
    task: str = Field(pattern=_NAME)
    seed: int
    metrics: dict[str, float]
    main_metric: str = Field(description="the key of metrics that ranks leaderboards (direction: LOWER_IS_BETTER)")
    details: dict[str, Any] = Field(description="per-class accuracy, confusion matrix, metric definitions, ...")
    config: dict[str, Any]
    config_hash: str
    nfbench_version: str
    git_revision: str | None
    versions: dict[str, str]
    device: str
    threads: int = Field(ge=0, description="torch CPU threads; 0 where not recorded (migrated v0 records on GPU)")
    n_parameters: int = Field(ge=0)
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
        return f"{self.method}.{self.method_preset}.seed{self.seed}"


def _from_v0(raw: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (records from before versioning) had no ``input_kind`` and no ``threads``.

    The thread count is recovered from the device description ("cpu (4 threads)") where
    it appears; the input kind cannot be recovered and is marked unknown.
    """
    found = re.search(r"\((\d+) threads?\)", str(raw.get("device", "")))
    return {**raw, "input_kind": "unknown", "threads": int(found.group(1)) if found else 0}


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_v0}
"""``_MIGRATIONS[v]`` turns a version-v record dict into a version-(v+1) one."""


def _upgrade(raw: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """Bring a record dict of any known version up to ``SCHEMA_VERSION``."""
    version = raw.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DataError(path, f"schema_version {version!r} is not a non-negative integer")
    if version > SCHEMA_VERSION:
        raise DataError(
            path, f"record schema_version {version} is newer than this nfbench {__version__} reads (up to {SCHEMA_VERSION}); upgrade nfbench"
        )
    while version < SCHEMA_VERSION:
        raw = {**_MIGRATIONS[version](raw), "schema_version": version + 1}
        version += 1
    return raw


def record_path(out_dir: Path, record: ResultRecord) -> Path:
    return Path(out_dir) / record.dataset / record.task / f"{record.stem}.json"


def write_record(out_dir: Path, record: ResultRecord) -> Path:
    path = record_path(out_dir, record)
    atomic_write_json(path, record.model_dump(mode="json"))
    return path


def _validation_summary(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in err.errors())


def load_record(path: Path) -> ResultRecord:
    """Read, upgrade and validate one record; any problem is a one-line ``DataError`` naming ``path``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(path, f"cannot read record ({err.strerror or err})") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"not valid JSON ({err})") from err
    if not isinstance(raw, dict):
        raise DataError(path, f"a record must be a JSON object, got {type(raw).__name__}")
    try:
        return ResultRecord.model_validate(_upgrade(raw, path))
    except ValidationError as err:
        raise DataError(path, f"invalid record: {_validation_summary(err)}") from err


def _sort_key(record: ResultRecord) -> tuple[Any, ...]:
    return (record.dataset, record.task, record.method, record.method_preset, record.seed, record.dataset_fingerprint)


def load_records(out_dir: Path) -> list[ResultRecord]:
    """Every record under ``out_dir`` (``<dataset>/<task>/*.json``), in a fixed order."""
    return sorted((load_record(p) for p in sorted(Path(out_dir).glob("*/*/*.json"))), key=_sort_key)


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
    return record_path(out_dir, record).with_name(f"{record.stem}.embeddings.npz")


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
