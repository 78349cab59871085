"""Decoded views on disk: computed once per (dataset fingerprint, decoder settings), then memory-mapped.

Decoding a cloud or a voxel grid from every INR costs far more than a training epoch of
a point-cloud baseline, and every seed and task of a method reads the same decode; so a
split is decoded once, in parts that are written atomically (a killed decode resumes at
the first missing part), each part with its checksum, and the time spent decoding each
INR is stored with it: tasks report it as part of the baseline's latency. So are the INRs
whose decode found no surface (the decoder's ``NoSurfaceWarning``, or data the view calls
empty: a grid with no occupied cell, renders with no hit), which a method then reads as a
fallback: counted and reported, never dropped.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from rich.progress import Progress
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from nfbench.decode.common import no_surface_items
from nfbench.errors import DataError
from nfbench.hashing import sha256_file, sha256_json
from nfbench.store.atomic import atomic_write, atomic_write_json
from nfbench.views.context import SplitReader

PART_SIZE = 256
"""INRs per cache part: the unit of resumption and of checksum verification."""

Decoder = Callable[[Any, torch.Generator], Tensor]
"""Stacked params of a chunk (on the decode device; or what ``read`` gives) and a seeded generator -> ``(B, ...)`` data."""
EmptyTest = Callable[[Tensor], Tensor | None]
"""Decoded ``(B, ...)`` data -> ``(B,)`` bool: items that hold no surface (None: the data cannot tell)."""


class DecodeSettings(BaseModel):
    """Everything that determines a decoded view besides the INRs; its hash names the cache."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    view: str
    field_kind: str
    n_points: int = 0
    resolution: int = 0
    chunk: int = 16
    seed: int = 0

    @property
    def key(self) -> str:
        return sha256_json(self.model_dump(mode="json"))[:12]


class PartRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    part: int
    count: int
    sha256: str
    bytes: int
    decode_seconds: list[float]
    no_surface: list[int] = []  # positions in the part whose decode found no surface (a fallback was kept)


class DecodedSplit:
    """One split's decoded data: ``read(positions)`` gathers rows, verified part by part."""

    def __init__(self, folder: Path, parts: list[PartRecord]) -> None:
        self.folder = folder
        self.parts = parts
        self._verified: set[int] = set()

    @staticmethod
    def part_file(folder: Path, part: int) -> Path:
        return folder / f"part-{part:05d}.safetensors"

    @cached_property
    def decode_seconds(self) -> Tensor:
        """Seconds spent decoding each INR of the split (its share of its chunk's wall time)."""
        return torch.tensor([s for p in self.parts for s in p.decode_seconds], dtype=torch.float64)

    @cached_property
    def no_surface(self) -> int:
        """INRs of the split whose decode found no surface."""
        return sum(len(p.no_surface) for p in self.parts)

    @property
    def fingerprint(self) -> str:
        return sha256_json([p.sha256 for p in self.parts])

    def _verify(self, part: int) -> Path:
        path = self.part_file(self.folder, part)
        if part not in self._verified:
            record = self.parts[part]
            if not path.is_file() or path.stat().st_size != record.bytes or sha256_file(path) != record.sha256:
                raise DataError(path, "decoded-view cache part is corrupted; delete its folder to decode again")
            self._verified.add(part)
        return path

    def read(self, positions: Tensor) -> Tensor:
        """Rows at ``positions`` in the given order, reading one contiguous slice per part touched."""
        sorted_pos, order = positions.sort()
        part_of = sorted_pos.div(PART_SIZE, rounding_mode="floor")
        chunks = []
        for part in part_of.unique().tolist():
            rows = sorted_pos[part_of == part] - part * PART_SIZE
            with safe_open(str(self._verify(part)), framework="pt") as fh:
                block = fh.get_slice("data")[int(rows[0]) : int(rows[-1]) + 1]
            chunks.append(block[rows - rows[0]])
        return torch.cat(chunks)[order.argsort()]


def _read_part_record(path: Path) -> PartRecord | None:
    try:
        return PartRecord.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None  # missing or half-written: decode the part again


def decoded_split(
    cache_root: Path,
    dataset_fingerprint: str,
    reader: SplitReader,
    settings: DecodeSettings,
    decode: Decoder,
    device: torch.device,
    progress: Progress | None = None,
    empty: EmptyTest | None = None,
    read: Callable[[Tensor], Any] | None = None,
) -> DecodedSplit:
    """The decoded split, decoding (and caching) the parts that are missing.

    ``read`` turns a chunk's positions into what ``decode`` takes (default: the INRs' stacked
    parameters on ``device``); views computed from the source shapes read the positions."""
    folder = cache_root / dataset_fingerprint[:16] / f"{settings.view}-{settings.key}" / reader.name
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "settings.json", settings.model_dump(mode="json") | {"dataset_fingerprint": dataset_fingerprint})
    n = len(reader)
    n_parts = -(-n // PART_SIZE)
    records = [_read_part_record(folder / f"part-{p:05d}.json") for p in range(n_parts)]
    todo = [p for p, r in enumerate(records) if r is None]
    task = progress.add_task(f"decode {settings.view} ({reader.split})", total=n) if progress and todo else None
    if task is not None and progress is not None:
        progress.advance(task, n - sum(min(PART_SIZE, n - p * PART_SIZE) for p in todo))
    for part in todo:
        positions = torch.arange(part * PART_SIZE, min(n, (part + 1) * PART_SIZE))
        gen = torch.Generator(device=device).manual_seed(int(sha256_json([settings.seed, reader.name, part])[:15], 16))
        blocks, seconds, no_surface = [], [], []
        for chunk in positions.split(settings.chunk):
            inputs = read(chunk) if read is not None else {k: v.to(device) for k, v in reader.params(chunk).items()}
            start = time.perf_counter()
            with torch.no_grad(), no_surface_items() as warned:
                block = decode(inputs, gen)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds += [(time.perf_counter() - start) / len(chunk)] * len(chunk)
            flagged = set(warned)
            blank = None if empty is None else empty(block)
            if blank is not None:
                flagged |= set(blank.nonzero().flatten().tolist())
            offset = int(chunk[0]) - part * PART_SIZE
            no_surface += sorted(offset + i for i in flagged)
            blocks.append(block.cpu())
            if task is not None and progress is not None:
                progress.advance(task, len(chunk))
        path = DecodedSplit.part_file(folder, part)
        atomic_write(path, lambda tmp, data=torch.cat(blocks).contiguous(): save_file({"data": data}, str(tmp)))
        record = PartRecord(
            part=part, count=len(positions), sha256=sha256_file(path), bytes=path.stat().st_size,
            decode_seconds=seconds, no_surface=no_surface,
        )
        if no_surface:
            warnings.warn(
                f"{settings.view} view of the {reader.name} split: {len(no_surface)} of {len(positions)} INRs in part {part} "
                "decoded without a surface (a fallback is kept, and counted in records as decoded_without_surface)",
                RuntimeWarning,
                stacklevel=2,
            )
        atomic_write_json(folder / f"part-{part:05d}.json", record.model_dump(mode="json"))
        records[part] = record
    done = [r for r in records if r is not None]
    if len(done) != n_parts:
        raise DataError(folder, f"decoded view has {len(done)} of {n_parts} parts")
    return DecodedSplit(folder, done)
