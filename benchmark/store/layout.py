"""File names inside a dataset directory, in one place."""

from __future__ import annotations

META = "meta.json"
PLAN = "plan.json"
INIT = "init.safetensors"
SHARDS = "shards"


def shard_stem(shard: int) -> str:
    return f"{SHARDS}/{shard:05d}"


def weights_file(shard: int) -> str:
    return f"{shard_stem(shard)}.weights.safetensors"


def source_file(shard: int) -> str:
    return f"{shard_stem(shard)}.source.safetensors"


def record_file(shard: int) -> str:
    return f"{shard_stem(shard)}.json"


