"""Random numbers drawn per item, so that an INR's randomness does not depend on its neighbours.

Fitting and fit-quality decoding process INRs in chunks. With one generator per chunk,
an INR's draws would depend on the chunk size, its position in the chunk and the other
INRs in it; with one stream per item, keyed by a seed derived from the item itself, the
same item gets the same numbers whatever the chunking, the shard or the worker.

Each call draws one block of values for every item (one Python loop over the items per
call, not per value): callers batch their draws, e.g. the fitter draws the query indices
of several steps at once. Streams are torch CPU generators (mt19937), whose sequences are
the same on every machine; values are moved to the caller's device afterwards, so CPU and
GPU fits see the same indices. torch seeds mt19937 from the low 32 bits of the seed: two
items share a stream with probability 2^-32 per pair, which only correlates their draws.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def position_seed(seed: int, position: int) -> int:
    """The stream seed of the item at ``position`` of a view under a run's ``seed``: distinct for every
    (seed, position) pair a run meets (positions stay below the prime multiplier)."""
    return seed * 1_000_003 + position


class ItemStreams:
    """One random stream per item; every draw returns a ``(B, *shape)`` tensor on the CPU."""

    def __init__(self, seeds: Sequence[int]) -> None:
        if len(seeds) == 0:
            raise ValueError("ItemStreams needs at least one seed")
        self._generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]

    def __len__(self) -> int:
        return len(self._generators)

    def _draw(self, sample: Callable[[torch.Generator], Tensor]) -> Tensor:
        return torch.stack([sample(g) for g in self._generators])

    def uniform(self, *shape: int) -> Tensor:
        """float32 in ``[0, 1)``."""
        return self._draw(lambda g: torch.rand(shape, generator=g))

    def normal(self, *shape: int) -> Tensor:
        """float32 standard normal."""
        return self._draw(lambda g: torch.randn(shape, generator=g))

    def integers(self, high: int, *shape: int) -> Tensor:
        """int64 uniform in ``[0, high)``."""
        return self._draw(lambda g: torch.randint(high, shape, generator=g))
