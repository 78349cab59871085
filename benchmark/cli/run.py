"""``nfbench run``: evaluate a method on a task and dataset, for one or more seeds."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def run(
    method: str = typer.Option(..., help="Registered method (see `nfbench list methods`)."),
    task: str = typer.Option("classify", help="classify or retrieve (see `nfbench list tasks`)."),
    dataset: str = typer.Option("procshapes", help="Registered dataset, built dataset name, or dataset directory."),
    seed: List[int] = typer.Option([0], help="Repeat for several seeds: --seed 0 --seed 1 --seed 2."),
    preset: Optional[str] = typer.Option(None, help="Method preset (paper, cpu, tiny; default: the method's)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
    out: Path = typer.Option(Path("leaderboards/records"), help="Where result records are written."),
    root: Optional[Path] = typer.Option(None, help="Raw data root, if the dataset must be built first."),
    limit: Optional[int] = typer.Option(None, help="Shapes per class and split, if the dataset must be built first."),
) -> None:
    """Train (or load the cached training of) a method and evaluate it once on the test split."""
    from nfbench.device import resolve_device
    from nfbench.progress import make_progress
    from nfbench.runner import check_task_supported, method_class, method_config, open_or_build_dataset, run_one

    cls = method_class(method)  # bad names fail before any dataset is built
    check_task_supported(cls, task)
    method_config(cls, preset)
    dev = resolve_device(device)
    with make_progress() as progress:
        data = open_or_build_dataset(dataset, dev, root, limit, progress)
        results = [run_one(method, task, data, s, preset, dev, out, progress) for s in seed]
    records = [rec for rec, _, _ in results]
    multi = len(records) > 1
    table = Table("metric", *(f"seed {r.seed}" for r in records), *(["mean ± std"] if multi else []),
                  title=f"{method} / {task} / {data.meta.name} (test split)")
    rows = {k: [r.metrics[k] for r in records] for k in records[0].metrics}
    rows["train s"] = [r.train_seconds for r in records]
    rows["ms / INR"] = [r.inference_ms_per_inr for r in records]
    for name, values in rows.items():
        summary = [f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"] if multi else []
        table.add_row(name, *(f"{v:.4f}" for v in values), *summary)
    console.print(table)
    for _, path, _ in results:
        console.print(f"record: {path}")
