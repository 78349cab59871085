"""Batched fitting vs fitting the same INRs one at a time, measured side by side.

Run: ``python -m nfbench.bench.fitting_speed [--preset cpu] [--inrs 64] [--steps 40]``.
The one-at-a-time baseline is what per-shape fitting scripts do: one ``nn.Module`` and
one Adam per INR. Both sides see the same supervision and step counts; the two are
timed alternately per chunk so machine noise hits both.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from nfbench.fields import FieldModule, shared_init
from nfbench.fitting.fitter import FitConfig, fit_batch
from nfbench.presets import build_preset
from nfbench.targets import field_loss


def _sphere_supervision(n: int, queries: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Spheres of random radius and centre as sdf targets: cheap, and as hard as a real shape per step."""
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(n, queries, 3, generator=gen) * 2 - 1
    centres = (torch.rand(n, 1, 3, generator=gen) - 0.5) * 0.4
    radii = 0.3 + 0.4 * torch.rand(n, 1, 1, generator=gen)
    sdf = (coords - centres).norm(dim=-1, keepdim=True) - radii
    return coords, (sdf.clamp(-0.1, 0.1) + 0.1) / 0.2


def _fit_one_at_a_time(preset, init, coords, targets, cfg: FitConfig, seed: int) -> None:
    loss_fn = field_loss("sdf")
    gen = torch.Generator().manual_seed(seed)
    for i in range(coords.shape[0]):
        module = FieldModule(preset.field)
        module.load_state_dict(init)
        opt = torch.optim.Adam(module.parameters(), lr=cfg.lr)
        for _ in range(cfg.steps):
            idx = torch.randint(coords.shape[1], (cfg.points_per_step,), generator=gen)
            loss = loss_fn(module(coords[i, idx]).unsqueeze(0), targets[i, idx].unsqueeze(0)).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def run(preset_name: str, n_inrs: int, steps: int, chunk_sizes: list[int], queries: int) -> Table:
    preset = build_preset(preset_name)
    init = shared_init(preset.field, 0)
    coords, targets = _sphere_supervision(n_inrs, queries, 0)
    loss_fn = field_loss("sdf")
    table = Table(
        "chunk", "batched INR-steps/s", "one-at-a-time INR-steps/s", "ratio",
        title=f"fitting throughput, preset {preset_name} ({preset.field.n_params:,} params, "
        f"{preset.fit.points_per_step} pts/step, {steps} steps, {n_inrs} INRs, {torch.get_num_threads()} threads)",
    )
    for chunk in chunk_sizes:
        cfg = preset.fit.model_copy(update={"steps": steps, "chunk_size": chunk})
        t0 = time.perf_counter()
        for s in range(0, n_inrs, chunk):
            fit_batch(preset.field, init, coords[s : s + chunk], targets[s : s + chunk], loss_fn, cfg, seed=s)
        batched = n_inrs * steps / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        _fit_one_at_a_time(preset, init, coords, targets, cfg, seed=0)
        single = n_inrs * steps / (time.perf_counter() - t0)
        table.add_row(str(chunk), f"{batched:.0f}", f"{single:.0f}", f"{batched / single:.1f}x")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--inrs", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--chunks", default="16,32,64")
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    Console().print(run(args.preset, args.inrs, args.steps, chunks, args.queries))


if __name__ == "__main__":
    main()
