"""Why CPU test-time optimisation backpropagates in blocks of shapes (``nfbench.device.CPU_BLOCK_ROWS``).

Times one DeepSDF test-time step (``cpu`` preset decoder frozen, a batch of ``latent_batch``
codes, 2048 queries each) as one pass over the whole batch and in blocks of k shapes,
interleaved round by round so that machine noise hits every variant alike, and checks that
every variant ends at the same codes. Prints the median seconds per step and the ratio to
one pass; the block the library picks is marked.

    OMP_NUM_THREADS=1 python -m nfbench.bench.blocked_backward --out leaderboards/blocked_backward.md
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import typer
from rich.console import Console

from nfbench.device import CPU_BLOCK_ROWS, items_per_block
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.methods.deepsdf import AutoDecoder, DeepSDF
from nfbench.store.atomic import atomic_write_text
from nfbench.training.latent_codes import backward_by_blocks

CPU = torch.device("cpu")


def main(
    queries: int = typer.Option(2048, help="Queries per shape and step (the cpu preset's)."),
    blocks: str = typer.Option("1,2,4,8,16", help="Shapes per block to time, besides one pass."),
    rounds: int = typer.Option(3, help="Interleaved rounds; each times every variant over --steps steps."),
    steps: int = typer.Option(2, help="Optimisation steps per variant and round."),
    out: Path | None = typer.Option(None, help="Also write the table as markdown here."),
) -> None:
    cfg = DeepSDF.presets["cpu"].config
    n = cfg.latent_batch
    kind = FIELD_KINDS.get("udf")
    torch.manual_seed(0)
    net = AutoDecoder(cfg.latent, 3, 1, cfg).requires_grad_(False)
    coords, targets = torch.rand(n, queries, 3) * 2 - 1, torch.rand(n, queries, 1)
    sizes = [n] + [int(b) for b in blocks.split(",") if int(b) < n]

    def optimise(size: int) -> tuple[float, torch.Tensor]:
        z = (torch.randn(n, cfg.latent, generator=torch.Generator().manual_seed(1)) * cfg.code_init_std).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=cfg.infer_lr)
        start = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            backward_by_blocks(lambda s: kind.loss(net(z[s], coords[s]), targets[s]) + cfg.code_reg * z[s].pow(2).sum(dim=1), n, size)
            opt.step()
        return (time.perf_counter() - start) / steps, z.detach()

    times: dict[int, list[float]] = {size: [] for size in sizes}
    ends: dict[int, torch.Tensor] = {}
    for _ in range(rounds):
        for size in sizes:
            seconds, ends[size] = optimise(size)
            times[size].append(seconds)
    picked = items_per_block(CPU, queries) or n
    base = statistics.median(times[n])
    lines = [
        "# Test-time optimisation in blocks of shapes (CPU)",
        "",
        "`OMP_NUM_THREADS=1 python -m nfbench.bench.blocked_backward --out leaderboards/blocked_backward.md`",
        "",
        f"DeepSDF test-time step, `cpu` decoder, {n} shapes x {queries} queries, {torch.get_num_threads()} thread(s); "
        f"median of {rounds} interleaved rounds ({datetime.now(UTC).date()}). CPU_BLOCK_ROWS = {CPU_BLOCK_ROWS}: "
        f"the library takes {picked} shapes a block.",
        "",
        "| shapes per block | rows per block | s / step | vs one pass | codes equal to one pass |",
        "|---:|---:|---:|---:|---|",
    ]
    for size in sizes:
        t = statistics.median(times[size])
        same = "yes" if torch.equal(ends[size], ends[n]) else f"max diff {(ends[size] - ends[n]).abs().max().item():.1e}"
        mark = " (picked)" if size == picked else ""
        label = "one pass" if size == n else f"{size}{mark}"
        lines.append(f"| {label} | {size * queries} | {t:.3f} | {base / t:.2f}x faster | {same} |")
    text = "\n".join(lines) + "\n"
    Console().print(text)
    if out is not None:
        atomic_write_text(out, text)


if __name__ == "__main__":
    typer.run(main)
