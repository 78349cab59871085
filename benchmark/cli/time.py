"""``nfbench time``: the time task for several methods and decode resolutions in one go.

Methods with a ``resolution_field`` (the discrete baselines: points per cloud, cells per
grid side, pixels per image side) are timed at each ``--resolutions`` value, as ``--set
<resolution_field>=R``; the others (weight-space methods) decode nothing and are timed once.
Nothing is trained; each measurement writes a ``time`` record, and ``nfbench leaderboard
build`` turns them into ``leaderboards/timing.md``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _csv(text: str, what: str) -> list[str]:
    from nfbench.errors import ConfigError

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{what} {text!r}: expected a comma-separated list")
    return items


def time_methods(
    methods: str = typer.Option(..., help="Comma-separated registered methods: nf2vec,pointnet,dgcnn."),
    dataset: str = typer.Option("procshapes", help="Registered dataset, built dataset name, or dataset directory."),
    resolutions: str | None = typer.Option(None, help="Comma-separated decode resolutions (e.g. 2048,4096,8192,16384)."),
    preset: str | None = typer.Option(None, help="Method preset (paper, cpu, tiny; default: each method's)."),
    seed: int = typer.Option(0, help="Seed of the (untrained) network's initialization."),
    batch_size: int = typer.Option(32, help="Test INRs decoded and classified together (a per-INR figure either way)."),
    repeats: int = typer.Option(10, help="Timed passes (after 2 warm-up passes); medians and IQR over them."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
    out: Path = typer.Option(Path("leaderboards/records"), help="Where result records are written."),
    root: Path | None = typer.Option(None, help="Raw data root, if the dataset must be built first."),
    limit: int | None = typer.Option(None, help="Shapes per class and split, if the dataset must be built first."),
) -> None:
    """Time decode + network per INR for several methods (and resolutions) on one dataset."""
    from nfbench.device import resolve_device
    from nfbench.errors import ConfigError
    from nfbench.progress import make_progress
    from nfbench.run.runner import method_class, open_or_build_dataset, prepare_outputs, run_one, run_specs, task_for
    from nfbench.tasks.time import Time

    task = Time(batch_size=batch_size, repeats=repeats)

    levels: list[int | None] = [None]
    if resolutions is not None:
        try:
            levels = [int(r) for r in _csv(resolutions, "resolutions")]
        except ValueError as exc:
            raise ConfigError(f"--resolutions {resolutions!r}: expected comma-separated integers") from exc
    specs = []
    for name in _csv(methods, "methods"):  # bad names, presets and resolutions fail before any work
        key = method_class(name).resolution_field
        for level in levels if key is not None else [None]:
            overrides = [] if level is None else [f"{key}={level}"]
            specs += run_specs(name, preset, overrides, [seed], "fields")
        task_for(specs[-1].cls, task)
    dev = resolve_device(device)
    prepare_outputs(out)
    with make_progress() as progress:
        data = open_or_build_dataset(dataset, dev, root, limit, progress)
        records = [run_one(spec, task, data, dev, out, progress)[0] for spec in specs]
    table = Table("method", "preset", "resolution", "decode ms", "network ms", "total ms", "peak MB",
                  title=f"time per INR on {data.meta.name} ({records[0].device})")
    for r in records:
        m = r.metrics
        res = r.details.get("resolution")
        mem = m.get("peak_memory_mb")
        table.add_row(r.method, r.method_preset, "–" if res is None else str(res), f"{m['decode_ms']:.4g}",
                      f"{m['network_ms']:.4g}", f"{m['latency_ms']:.4g}", "–" if mem is None else f"{mem:.1f}")
    console.print(table)
