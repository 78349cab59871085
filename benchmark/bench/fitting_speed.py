"""Batched fitting vs fitting the same INRs one at a time, measured side by side.

Run: ``python -m nfbench.bench.fitting_speed [--presets cpu,image] [--inrs 64] [--steps 40]``.
The one-at-a-time baseline is what per-shape fitting scripts do: one network (``F.linear``
layers) and one Adam per INR. Both sides see the same supervision, points per step and step counts,
both are warmed up first (which also compiles every shape timed), and all four columns
are timed alternately per chunk size so machine noise hits all of them. Each side runs
eager and compiled (``FitConfig.kernels``; for one INR at a time, the network's forward
and loss under ``torch.compile``).

Batching removes per-step Python, dispatch and optimizer overhead; it cannot make the
arithmetic itself faster. So the table also prints the GFLOP/s each side reaches and the
dense-matmul GFLOP/s of this machine: ``peak / one-at-a-time`` is the largest ratio any
batching could reach for that preset here. Where one INR-step is already compute-bound
(the ``cpu`` preset's 2048 points x 12.8K parameters), that ceiling is small; where it is
overhead-bound (8x8 digit images), the ratio is large. The percentages are of that
measured peak. The last column times a hidden layer's three matmuls alone at the chunk's
shapes (forward, input and weight gradients): the part of a step that no fusion removes.
Small-width layers keep it well under the square-matmul peak, and it, not the peak, is
the ceiling of the batched columns.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import torch
from rich.console import Console
from rich.table import Table

from nfbench.fields import Params, shared_init
from nfbench.fields.functional import linear_functional
from nfbench.fields.kinds import field_kind
from nfbench.fitting.fitter import FitConfig, Kernels, fit_batch
from nfbench.markdown import markdown_table
from nfbench.presets import BuildPreset, build_preset
from nfbench.store.atomic import atomic_write_text

# Queries per shape the benchmark draws from: 2-D presets fit 8x8 digit images, 64 pixels;
# 3D supervision pools are far larger than one step's sample.
IMAGE_QUERIES = 64
SHAPE_QUERIES = 20_000

SINGLE_INRS = 16
"""INRs the one-at-a-time columns fit per measurement: their rate does not depend on the chunk size."""

OneLoss = Callable[[Params, torch.Tensor, torch.Tensor], torch.Tensor]


def _supervision(n: int, in_dim: int, queries: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spheres (discs for 2D) of random radius and centre as clamped-sdf targets: cheap to make,
    and as hard per step as a real shape."""
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(n, queries, in_dim, generator=gen) * 2 - 1
    centres = (torch.rand(n, 1, in_dim, generator=gen) - 0.5) * 0.4
    radii = 0.3 + 0.4 * torch.rand(n, 1, 1, generator=gen)
    sdf = (coords - centres).norm(dim=-1, keepdim=True) - radii
    return coords, (sdf.clamp(-0.1, 0.1) + 0.1) / 0.2


def _one_loss(preset: BuildPreset) -> OneLoss:
    """One INR's loss from its module's parameters: the graph the compiled one-at-a-time column compiles."""
    loss_fn = field_kind("sdf").loss

    def loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(linear_functional(preset.field, params, x).unsqueeze(0), y.unsqueeze(0)).sum()

    return loss


def _fit_one_at_a_time(preset: BuildPreset, init, coords, targets, cfg: FitConfig, seed: int, loss: OneLoss) -> None:
    gen = torch.Generator().manual_seed(seed)
    n_pts = min(cfg.points_per_step, coords.shape[1])  # as fit_batch does
    for i in range(coords.shape[0]):
        # Plain leaf tensors rather than an nn.Module's Parameters: dynamo treats Parameters as
        # static and would recompile for every new module; the maths (F.linear, Adam) is the same.
        params = {n: p.clone().requires_grad_(True) for n, p in init.items()}
        opt = torch.optim.Adam(params.values(), lr=cfg.lr)
        for _ in range(cfg.steps):
            idx = torch.randint(coords.shape[1], (n_pts,), generator=gen)
            value = loss(params, coords[i, idx], targets[i, idx])
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()


def _fit_batched(preset: BuildPreset, init, coords, targets, cfg: FitConfig) -> None:
    loss_fn = field_kind("sdf").loss
    for s in range(0, coords.shape[0], cfg.chunk_size):
        c, t = coords[s : s + cfg.chunk_size], targets[s : s + cfg.chunk_size]
        fit_batch(preset.field, init, c, t, loss_fn, cfg, seeds=range(s, s + len(c)))


def _rate(fn, work: int) -> float:
    t0 = time.perf_counter()
    fn()
    return work / (time.perf_counter() - t0)


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Dense fp32 matmul throughput of this machine: the ceiling for any fitting scheme.

    Other processes lower it while they run, so ``run`` takes the largest of several
    measurements spread over the benchmark; a page's percentages use its final value."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    return max(_rate(lambda: a @ b, 2 * n**3) for _ in range(repeats)) / 1e9


def layer_matmul_gflops(batch: int, n_pts: int, width: int, repeats: int = 3) -> float:
    """Throughput of one hidden layer's three batched matmuls at a chunk's shapes.

    Forward ``(B, N, H) @ (B, H, H)^T``, input gradient ``(B, N, H) @ (B, H, H)`` and weight
    gradient ``(B, H, N) @ (B, N, H)``: a step is mostly these, so their rate, not the
    square-matmul peak, bounds what fusing the rest of a step can reach."""
    h, g, w = torch.randn(batch, n_pts, width), torch.randn(batch, n_pts, width), torch.randn(batch, width, width)

    def layer() -> None:
        torch.bmm(h, w.transpose(1, 2))
        torch.bmm(g, w)
        torch.bmm(g.transpose(1, 2), h)

    layer()  # warm-up
    return max(_rate(layer, 3 * 2 * batch * n_pts * width * width) for _ in range(repeats)) / 1e9


KERNELS: tuple[Kernels, ...] = get_args(Kernels)
HEADER = (
    "chunk",
    *(f"batched {k} INR-steps/s" for k in KERNELS),
    *(f"one-at-a-time {k} INR-steps/s" for k in KERNELS),
    "batched compiled / eager",
    "batched compiled / one-at-a-time compiled",
    *(f"batched {k} GFLOP/s (of peak)" for k in KERNELS),
    *(f"one-at-a-time {k} GFLOP/s (of peak)" for k in KERNELS),
    "hidden-layer matmuls alone GFLOP/s (of peak)",
)


@dataclass
class SpeedResult:
    peak: float
    title: str
    rows: list[list[str]]
    caption: str


def run(preset_name: str, n_inrs: int, steps: int, chunk_sizes: list[int], queries: int | None, peak: float) -> SpeedResult:
    preset = build_preset(preset_name)
    init = shared_init(preset.field, 0)
    queries = queries or (IMAGE_QUERIES if preset.field.in_dim == 2 else SHAPE_QUERIES)
    coords, targets = _supervision(n_inrs, preset.field.in_dim, queries, 0)
    n_single = min(n_inrs, SINGLE_INRS)
    n_pts = min(preset.fit.points_per_step, queries)
    gflop = 6 * n_pts * preset.field.n_params / 1e9  # forward + backward per INR-step
    one_loss = {"eager": _one_loss(preset), "compiled": torch.compile(_one_loss(preset), dynamic=False)}
    for chunk in chunk_sizes:  # warm-up: compiles every shape timed below
        for kernels in KERNELS:
            warm = preset.fit.model_copy(update={"steps": 2, "chunk_size": chunk, "kernels": kernels})
            _fit_batched(preset, init, coords, targets, warm)
        _fit_one_at_a_time(preset, init, coords[:2], targets[:2], warm, 0, one_loss[kernels])

    measured, best_single = [], 0.0
    for chunk in chunk_sizes:
        peak = max(peak, matmul_peak_gflops())  # re-measured per row: a busy moment must not set the ceiling
        batched, single = {}, {}
        for kernels in KERNELS:
            cfg = preset.fit.model_copy(update={"steps": steps, "chunk_size": chunk, "kernels": kernels})
            batched[kernels] = _rate(functools.partial(_fit_batched, preset, init, coords, targets, cfg), n_inrs * steps)
            one = functools.partial(_fit_one_at_a_time, preset, init, coords[:n_single], targets[:n_single], cfg, 0, one_loss[kernels])
            single[kernels] = _rate(one, n_single * steps)
        best_single = max(best_single, *single.values())
        layer = layer_matmul_gflops(chunk, n_pts, preset.field.hidden) / gflop  # as INR-steps/s, for ``cell``
        measured.append((chunk, batched, single, layer))

    def cell(rate: float) -> str:
        return f"{rate * gflop:.1f} ({rate * gflop / peak:.0%})"

    rows = []
    for chunk, batched, single, layer in measured:
        rows.append(
            [
                str(chunk),
                *(f"{batched[k]:.0f}" for k in KERNELS),
                *(f"{single[k]:.0f}" for k in KERNELS),
                f"{batched['compiled'] / batched['eager']:.2f}x",
                f"{batched['compiled'] / single['compiled']:.1f}x",
                *(cell(batched[k]) for k in KERNELS),
                *(cell(single[k]) for k in KERNELS),
                cell(layer),
            ]
        )
    return SpeedResult(
        peak=peak,
        title=f"preset {preset_name}: {preset.field.n_params:,} params, {n_pts} pts/step, {steps} steps, "
        f"{n_inrs} INRs batched, {n_single} one at a time, {torch.get_num_threads()} threads",
        rows=rows,
        caption=f"matmul peak {peak:.0f} GFLOP/s: no batching can beat {peak / (best_single * gflop):.0f}x "
        "over the best one-at-a-time column for this preset on this machine",
    )


def _markdown(results: list[SpeedResult], command: str, note: str) -> str:
    lines = ["# Batched fitting against one INR at a time", "", f"Command: `{command}`", ""]
    lines += [note, ""] if note else []
    lines += [__doc__.split("\n\n")[1].strip(), "", __doc__.split("\n\n")[2].strip(), ""]
    for r in results:
        lines += [f"### {r.title}", "", *markdown_table(HEADER, r.rows, ["---:"] * len(HEADER)), "", r.caption + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="cpu,image", help="comma-separated build presets")
    parser.add_argument("--inrs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--chunks", default="16,32,64")
    parser.add_argument("--queries", type=int, default=None, help="queries per shape (default: 64 for image, else 20000)")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here as markdown")
    parser.add_argument("--note", default="", help="a line for the markdown page, e.g. what else loaded the machine")
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    console = Console(width=260)  # twelve columns
    peak = matmul_peak_gflops()
    results = []
    for name in args.presets.split(","):
        results.append(run(name, args.inrs, args.steps, chunks, args.queries, peak))
        peak = results[-1].peak
        table = Table(*HEADER, title=results[-1].title, caption=results[-1].caption)
        for row in results[-1].rows:
            table.add_row(*row)
        console.print(table)
    if args.out:
        command = "python -m nfbench.bench.fitting_speed " + shlex.join(sys.argv[1:])
        atomic_write_text(args.out, _markdown(results, command, args.note))


if __name__ == "__main__":
    main()
