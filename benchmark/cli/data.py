"""``nfbench data``: list, build, info, verify and import INR datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from nfbench.paths import resolve_dataset_dir

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("list")
def list_datasets() -> None:
    """Registered datasets and their cards."""
    from nfbench.datasets import DATASETS

    table = Table("name", "classes", "fields", "default", "needs root", "source")
    for name in DATASETS.names():
        card = DATASETS.get(name).card
        table.add_row(
            name, str(card.classes), ",".join(card.field_kinds), f"{card.default_field}/{card.default_preset}",
            "yes" if card.needs_root else "no", card.source,
        )
    console.print(table)


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise typer.BadParameter(f"--shard expects I/N (e.g. 0/4), got {text!r}") from exc
    return index, count


@app.command()
def build(
    name: str,
    root: Optional[Path] = typer.Option(None, help="Local folder with the raw data (never downloaded)."),
    field: Optional[str] = typer.Option(None, help="Field kind: udf, sdf, occ or image (default: the dataset's)."),
    preset: Optional[str] = typer.Option(None, help="Build preset: paper, cpu, tiny, image."),
    limit: Optional[int] = typer.Option(None, help="At most N shapes per class in each split."),
    steps: Optional[int] = typer.Option(None, help="Override the preset's fitting steps."),
    seed: int = typer.Option(0, help="Seed of the shared init, sampling and fitting."),
    shard: str = typer.Option("0/1", help="Fit only shards s with s % N == I (for parallel workers)."),
    out: Optional[Path] = typer.Option(None, help="Output directory (default: $NFBENCH_HOME/datasets/<name>...)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
) -> None:
    """Fit a dataset into INRs (resumable: re-running fits only the missing shards)."""
    from nfbench.device import resolve_device
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.progress import make_progress

    index, count = _parse_shard(shard)
    req = BuildRequest(name, root, field, preset, limit, steps, seed, index, count, out)
    with make_progress() as progress:
        path, complete = build_dataset(req, resolve_device(device), progress)
    state = "complete" if complete else "partial (other shards still missing)"
    console.print(f"dataset {state}: [bold]{path}[/bold]")


@app.command()
def info(dataset: str = typer.Argument(..., help="A dataset directory or the name of a built dataset.")) -> None:
    """Counts per class and split, parameters per INR, fit quality."""
    from nfbench.cli.dataset_info import print_info
    from nfbench.store.reader import INRDataset

    print_info(INRDataset.open(resolve_dataset_dir(dataset)), console)


@app.command()
def verify(dataset: str = typer.Argument(..., help="A dataset directory or the name of a built dataset.")) -> None:
    """Check checksums, shapes, NaN/inf, the init hash and split coverage; exit 1 on any problem."""
    from nfbench.store.verify import verify_dataset

    path = resolve_dataset_dir(dataset)
    problems = verify_dataset(path)
    for p in problems:
        console.print(f"[red]FAIL[/red] {p}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] {path}")


@app.command("import-inr2vec")
def import_inr2vec(
    source: Path = typer.Argument(..., help="Folder with <split>/<idx>.h5 files from the inr2vec code."),
    out: Path = typer.Option(..., help="Output dataset directory."),
    preset: str = typer.Option("paper", help="Field preset the INRs were fitted with."),
    field: str = typer.Option("udf", help="Field kind the INRs represent."),
    class_names: Optional[str] = typer.Option(None, help="Comma-separated class names (default: class_<id>)."),
) -> None:
    """Convert inr2vec-style per-shape HDF5 files into an nfbench dataset."""
    from nfbench.store.inr2vec_import import import_inr2vec_folder

    names = class_names.split(",") if class_names else None
    path = import_inr2vec_folder(source, out, preset, field, names)
    console.print(f"imported into [bold]{path}[/bold]")
