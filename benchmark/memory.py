"""Peak working memory of a block of code, on CUDA or on a Linux CPU.

On CUDA it is the rise of ``max_memory_allocated`` over what was allocated before. On CPU
it is the rise of the kernel's peak-RSS mark (``VmHWM``, reset to the current RSS through
``/proc/self/clear_refs``) over the RSS before: what the block needed on top of what the
process already held. Freed blocks leave RSS only when the allocator returns them, so a
caller after exact CPU figures runs the block in a fresh process with
``MALLOC_MMAP_THRESHOLD_`` set low (see ``nfbench.bench.weightspace_cost``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def cpu_peak_supported() -> bool:
    """The peak-RSS reset needs Linux's ``/proc/self/clear_refs``."""
    return Path("/proc/self/clear_refs").exists()


@dataclass
class PeakMemory:
    bytes: int | None = None  # set when the block ends; None where it cannot be measured

    @property
    def mb(self) -> float | None:
        return None if self.bytes is None else self.bytes / 2**20


@contextmanager
def peak_memory(device: torch.device) -> Iterator[PeakMemory]:
    """Measure the peak memory the block adds on ``device``; ``result.bytes`` stays None where unmeasurable."""
    result = PeakMemory()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        result.bytes = max(torch.cuda.max_memory_allocated(device) - base, 0)
    elif cpu_peak_supported():
        Path("/proc/self/clear_refs").write_text("5")
        base = _status_kb("VmRSS") * 1024
        yield result
        result.bytes = max(_status_kb("VmHWM") * 1024 - base, 0)
    else:
        yield result
