"""Everything nfbench knows about ranks, in one place.

Every helper also works in a plain single process (no process group): it then returns
its input or does nothing, so callers never branch on whether they run under ``torchrun``.
Collectives (``barrier``, ``all_gather_rows``, ``broadcast_object`` ...) must be called by
every rank in the same order, as with ``torch.distributed`` itself.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data import Dataset, DistributedSampler, RandomSampler, Sampler, SequentialSampler

T = TypeVar("T")

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` without a process group."""
    if _active():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Rank 0 alone writes files (caches, records, checkpoints) and reports progress."""
    return world()[0] == 0


def init_from_env(device: torch.device) -> bool:
    """Join the process group ``torchrun`` describes in the environment; True when joined.

    NCCL for CUDA (after selecting GPU ``LOCAL_RANK``, so ``torch.device("cuda")`` means
    this rank's GPU), gloo for CPU. Calling it again, or without torchrun's variables,
    changes nothing.
    """
    if _active():
        return True
    if not dist.is_available() or any(name not in os.environ for name in TORCHRUN_ENV):
        return False
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend="nccl")
    else:
        dist.init_process_group(backend="gloo")
    return True


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join ``torchrun``'s process group (if any) for the block, and leave it cleanly.

    After a block that ended normally, every rank first waits for the others: a rank that
    tears down its connections while a peer still sends its last collective can abort
    (gloo: "terminate called without an active exception"). Unreachable objects that hold
    the group (a finished ``DistributedDataParallel`` wrapper) are collected while the
    interpreter is fully alive, so the group is not destroyed during interpreter shutdown.
    After an exception nothing waits, so the failing rank's peers see the connection drop
    and fail too, instead of waiting forever in a barrier.
    """
    init_from_env(device)
    try:
        yield
    except BaseException:
        _leave()
        raise
    barrier()
    _leave()


def _leave() -> None:
    if _active():
        gc.collect()
        dist.destroy_process_group()


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. builds a cache), the other ranks after it (and read it)."""
    main = is_main()
    if not main:
        barrier()
    try:
        yield
    finally:
        if main:
            barrier()


class EpochRandomSampler(RandomSampler):
    """A seeded shuffle with ``DistributedSampler``'s ``set_epoch``, for a single process.

    ``set_epoch(e)`` makes epoch ``e``'s order a function of ``(seed, e)`` alone, which is
    what lets a resumed training replay the exact batches it would have seen. Without
    ``set_epoch`` the generator simply advances, so a hand-written loop still gets a new
    order every epoch.
    """

    def __init__(self, data_source: Sized, seed: int) -> None:
        super().__init__(data_source, generator=torch.Generator().manual_seed(seed))
        self.seed = seed

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(self.seed + epoch)


def sampler_for(dataset: Dataset, shuffle: bool, seed: int, drop_last: bool) -> Sampler:
    """The training sampler of ``dataset``: this rank's shard when distributed.

    A ``DistributedSampler`` pads (or, with ``drop_last``, trims) so every rank gets the
    same number of batches; that suits training, not evaluation (see ``ShardSampler``).
    """
    rank, size = world()
    if size > 1:
        return DistributedSampler(dataset, num_replicas=size, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
    if shuffle:
        return EpochRandomSampler(dataset, seed)
    return SequentialSampler(dataset)


class ShardSampler(Sampler[int]):
    """For evaluation on every rank: this rank's contiguous block of items, unpadded, so no
    item is counted twice (all items on a single process).

    Blocks are in rank order, so ``all_gather_rows`` of per-rank outputs is in item order.
    """

    def __init__(self, dataset: Sized) -> None:
        rank, size = world()
        n = len(dataset)
        per_rank = -(-n // size)
        self.indices = range(min(n, rank * per_rank), min(n, (rank + 1) * per_rank))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def all_gather_rows(t: Tensor) -> Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order; row counts may differ.

    ``t`` must live where the backend communicates (CUDA for NCCL, CPU for gloo) and have
    the same trailing shape and dtype on every rank.
    """
    size = world()[1]
    if size == 1:
        return t
    n = torch.tensor([t.shape[0]], device=t.device)
    counts = [torch.empty_like(n) for _ in range(size)]
    dist.all_gather(counts, n)
    longest = int(max(int(c) for c in counts))
    padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype, device=t.device)
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(c)] for part, c in zip(parts, counts, strict=True)])


def sum_over_ranks(t: Tensor) -> Tensor:
    """The elementwise sum of ``t`` over ranks (a new tensor; ``t`` itself on one process)."""
    if world()[1] == 1:
        return t
    total = t.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank (picklable objects; other ranks' ``obj`` is ignored)."""
    if world()[1] == 1:
        return obj
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, indexed by rank, on every rank."""
    size = world()[1]
    if size == 1:
        return [obj]
    out: list[Any] = [None] * size
    dist.all_gather_object(out, obj)
    return out


def broadcast_tensors_(tensors: Iterable[Tensor]) -> None:
    """Overwrite each tensor in place with rank 0's value (e.g. BatchNorm statistics)."""
    if world()[1] == 1:
        return
    for t in tensors:
        dist.broadcast(t, src=0)
