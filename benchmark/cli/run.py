"""``nfbench run``: evaluate a method on a task and dataset, for one or more seeds.

Under ``torchrun --nproc-per-node N -m nfbench.cli run ...`` every rank trains its share
(DistributedDataParallel inside the shared trainer) and rank 0 alone prints and writes.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def run(
    method: str = typer.Option(..., help="Registered method (see `nfbench list methods`)."),
    task: str = typer.Option("classify", help="Task (see `nfbench list tasks`)."),
    dataset: str = typer.Option("procshapes", help="Registered dataset, built dataset name, or dataset directory."),
    seed: list[int] = typer.Option([0], help="Repeat for several seeds: --seed 0 --seed 1 --seed 2."),
    preset: str | None = typer.Option(None, help="Method preset (paper, cpu, tiny; default: the method's)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config field of the preset: --set epochs=3 --set lr=3e-4."),
    input_mode: str = typer.Option("fields", "--input", help="fields: read only the INRs; source: the original data (upper bound)."),
    train_per_class: int | None = typer.Option(
        None, help="Train on the first N train INRs of each class (learning curves; recorded, own leaderboard section)."
    ),
    rerun: bool = typer.Option(False, help="Ignore the training cache and train again."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
    out: Path = typer.Option(Path("leaderboards/records"), help="Where result records are written."),
    root: Path | None = typer.Option(
        None, help="Raw data root: to build the dataset first, and for tasks that score against the source shapes (reconstruct)."
    ),
    limit: int | None = typer.Option(None, help="Shapes per class and split, if the dataset must be built first."),
) -> None:
    """Train (or load the cached training of) a method and evaluate it once on the test split."""
    from nfbench.device import resolve_device
    from nfbench.errors import ConfigError
    from nfbench.progress import make_progress
    from nfbench.run.runner import open_or_build_dataset, prepare_outputs, run_one, run_specs, task_for
    from nfbench.training import distributed

    if input_mode not in ("fields", "source"):
        raise ConfigError(f"--input {input_mode!r}: expected 'fields' or 'source'")
    specs = run_specs(method, preset, set_, seed, input_mode, train_per_class)  # bad names and --set fail before any work
    task_for(specs[0].cls, task)
    dev = resolve_device(device)
    with distributed.process_group(dev):
        main = distributed.is_main()
        if main:
            prepare_outputs(out)
        with make_progress(disable=not main) as progress:
            with distributed.main_process_first():  # rank 0 builds the dataset if needed, the others then open it
                data = open_or_build_dataset(dataset, dev, root, limit, progress)
            results = [run_one(spec, task, data, dev, out, progress, rerun, root) for spec in specs]
    if not main:
        return
    _print_table(method, task, data.meta.name, input_mode, [rec for rec, _ in results])
    for _, path in results:
        console.print(f"record: {path}")


def _print_table(method: str, task: str, dataset: str, input_mode: str, records: list) -> None:  # type: ignore[type-arg]
    multi = len(records) > 1
    table = Table("metric", *(f"seed {r.seed}" for r in records), *(["mean ± std"] if multi else []),
                  title=f"{method} / {task} / {dataset} (test split, input {input_mode})")
    rows = {k: [r.metrics[k] for r in records] for k in records[0].metrics}
    rows["train s"] = [r.train_seconds for r in records]
    rows["ms / INR"] = [r.inference_ms_per_inr for r in records]
    for name, values in rows.items():
        summary = [f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"] if multi else []
        table.add_row(name, *(f"{v:.4f}" for v in values), *summary)
    console.print(table)
