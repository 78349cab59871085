"""The documented on-disk format of an INR dataset (see docs/format.md).

Everything a consumer needs to interpret the weights is in ``meta.json``; each shard has
its own record so that independent workers can write shards in any order without
touching a shared file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from nfbench.fields import FieldSpec
from nfbench.fitting.fitter import FitConfig
from nfbench.hashing import sha256_json

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildConfig(_Strict):
    """Everything that determines the content of a dataset; its hash names the build."""

    dataset: str
    field_kind: str
    preset: str
    field: FieldSpec
    sampling: dict[str, Any]
    fit: FitConfig | None = Field(description="None for datasets imported from other tools")
    seed: int
    limit: int | None
    n_reference_points: int
    quality_resolution: int
    limit_train: int | None = Field(None, description="--limit-train: train shapes per class (val carved from them); None: `limit`")
    limit_test: int | None = Field(None, description="--limit-test: test shapes per class; None: `limit`")
    augment: int = Field(0, ge=0, description="--augment: extra scaled and jittered copies of every train shape")
    quality_sample: int | None = Field(
        None, ge=1, description="--quality-sample M: fit quality measured only on items with hash(seed, key) % M == 0; None: all"
    )

    @model_serializer(mode="wrap")
    def _omit_unused_options(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Options added after format version 1 are left out of the JSON while they keep their default.

        A build that uses none of them thus keeps the ``build_hash`` it had before they
        existed (an older build in progress still resumes), and old ``meta.json`` files,
        which lack them, read back with the defaults, i.e. the old behaviour.
        """
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        return {k: v for k, v in data.items() if k not in _LATER_OPTIONS or v != fields[k].default}


_LATER_OPTIONS = frozenset({"limit_train", "limit_test", "augment", "quality_sample"})
"""BuildConfig fields added after format version 1 (their defaults mean the old behaviour)."""


class ItemRecord(_Strict):
    index: int
    key: str
    split: str
    label: int
    locator: str
    fingerprint: str
    fit: dict[str, float] = Field(
        default_factory=dict,
        description="final loss; `collapsed` 1.0 when that loss is no better than a zero output's; fit quality unless "
        "--quality-sample left the item unmeasured",
    )
    augment_of: str | None = Field(None, description="--augment copies: the key of the train item they transform")


class FileEntry(_Strict):
    sha256: str
    bytes: int


class ShardRecord(_Strict):
    """Written last, atomically: a shard exists exactly when its record does."""

    format_version: int = FORMAT_VERSION
    shard: int
    start: int
    count: int
    files: dict[str, FileEntry]
    items: list[ItemRecord]
    seconds: float
    device: str


class DatasetMeta(_Strict):
    format_version: int = FORMAT_VERSION
    name: str
    card: dict[str, Any]
    build: BuildConfig
    build_hash: str
    init_hash: str | None = Field(description="None without a shared init: imports (unknown) and independent-init builds")
    class_names: list[str]
    n_items: int
    n_shards: int
    plan_hash: str = Field(description="sha256 of the ordered item plan (keys, splits, fingerprints)")
    source_fingerprint: str
    versions: dict[str, str]
    created: str
    complete: bool = False
    splits: dict[str, int] = Field(default_factory=dict)
    files: dict[str, FileEntry] = Field(default_factory=dict, description="checksums of every file, when complete")
    origin: str = "nfbench"


def build_hash(build: Mapping[str, Any]) -> str:
    """``meta.build_hash``: sha256 of the build config in its JSON form, as stored in ``meta.json``.

    Readers hash the stored JSON itself rather than a re-validated model, so an edited
    ``meta.json`` is caught even when later code versions add defaulted config fields.
    """
    return sha256_json(build)


def plan_hash(plan: Iterable[Mapping[str, Any]]) -> str:
    """``meta.plan_hash``: what identifies the items (key, split, label, raw-file hash), in index order.

    Takes the plan's JSON rows (``item.model_dump()``, as stored in ``plan.json``) so that
    a reader hashes a 100K-item plan without building a model per item.
    """
    return sha256_json([[p["key"], p["split"], p["label"], p["fingerprint"]] for p in plan])
