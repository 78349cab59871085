"""``nfbench data``: list, build, info, verify and import INR datasets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from nfbench.errors import DataError
from nfbench.paths import datasets_home, ensure_writable_dir, resolve_dataset_dir

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


def _check_out(out: Path | None) -> None:
    """Fail on an unwritable output location before any fitting, without creating it yet.

    The nearest existing folder on the way is probed, so a build that then fails on its
    input leaves nothing behind.
    """
    target = out.expanduser() if out is not None else datasets_home()
    what = "--out" if out is not None else "the dataset home ($NFBENCH_HOME/datasets)"
    existing = next(p for p in (target, *target.parents) if p.exists())
    ensure_writable_dir(existing, what if existing == target else f"the parent of {what} {target}")


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise typer.BadParameter(f"--shard expects I/N (e.g. 0/4), got {text!r}") from exc
    return index, count


def _registered_field_kind(name: str) -> str:
    from nfbench.api.registry import did_you_mean
    from nfbench.fields.kinds import FIELD_KINDS

    if name not in FIELD_KINDS:
        raise typer.BadParameter(f"unknown field kind {name!r}{did_you_mean(name, FIELD_KINDS.names())}")
    return name


@app.command()
def build(
    name: str,
    root: Path | None = typer.Option(None, help="Local folder with the raw data (never downloaded)."),
    field: str | None = typer.Option(None, help="Field kind, one the dataset supports (see `nfbench data list`; default: the dataset's)."),
    preset: str | None = typer.Option(None, help="Build preset: paper, cpu, tiny, image."),
    limit: int | None = typer.Option(None, help="At most N shapes per class in each split."),
    limit_train: int | None = typer.Option(None, help="At most N train shapes per class (val is carved from them); overrides --limit."),
    limit_test: int | None = typer.Option(None, help="At most N test shapes per class; overrides --limit."),
    augment: int = typer.Option(0, help="Fit K extra copies of every train shape, randomly scaled per axis and jittered."),
    quality_sample: int | None = typer.Option(
        None, help="Measure fit quality on about 1 in M items only (chosen by a hash of seed and key); default: all."
    ),
    reuse: Path | None = typer.Option(
        None, help="A finished build of the same settings that selects other items (--limit*, --augment): "
        "its fits of shared items are copied instead of refitted (same bytes).",
    ),
    steps: int | None = typer.Option(None, help="Override the preset's fitting steps."),
    kernels: str | None = typer.Option(
        None, help="eager (the presets') or compiled: torch.compile of the fitting step, faster, equal to eager up to "
        "float rounding (so a build of its own)."
    ),
    lr_schedule: str | None = typer.Option(
        None, help="constant or cosine (decay the rate to 0 over the steps, which keeps fits of many steps from "
        "collapsing); default: the preset's (cpu: cosine, others: constant)."
    ),
    init: str | None = typer.Option(
        None, help="shared (the presets': every INR starts from one init, as in inr2vec) or independent (one random "
        "init per INR, as in the DWSNet and NFN datasets)."
    ),
    init_scheme: str | None = typer.Option(
        None, help="siren (the presets': Sitzmann et al.'s init) or dwsnet (the DWSNet MNIST INRs' init: no special "
        "first layer, zero biases)."
    ),
    seed: int = typer.Option(0, help="Seed of the shared init, sampling and fitting."),
    shard: str = typer.Option("0/1", help="Fit only shards s with s % N == I (for parallel workers)."),
    out: Path | None = typer.Option(None, help="Output directory (default: $NFBENCH_HOME/datasets/<name>...)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ..."),
) -> None:
    """Fit a dataset into INRs (resumable: re-running fits only the missing shards)."""
    from nfbench.device import resolve_device
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.progress import make_progress

    index, count = _parse_shard(shard)
    _check_out(out)
    req = BuildRequest(
        name, root, field, preset, limit, steps, seed, index, count, out,
        limit_train=limit_train, limit_test=limit_test, augment=augment, quality_sample=quality_sample, reuse=reuse,
        kernels=kernels, lr_schedule=lr_schedule, init=init, init_scheme=init_scheme,
    )
    with make_progress() as progress:
        path, complete = build_dataset(req, resolve_device(device), progress)
    state = "complete" if complete else "partial (other shards still missing)"
    console.print(f"dataset {state}: [bold]{path}[/bold]")


@app.command()
def info(dataset: str = typer.Argument(..., help="A dataset directory or the name of a built dataset.")) -> None:
    """Counts per class and split, parameters per INR, fit quality (checks every checksum first; exit 1 on a problem)."""
    from nfbench.cli.dataset_info import print_info
    from nfbench.store.reader import INRDataset

    try:
        ds = INRDataset.open(resolve_dataset_dir(dataset))
        problems = ds.verify_checksums()
    except DataError as exc:
        problems = [exc]
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        typer.secho(f"error: {problems[0]}{more}", fg="red", err=True)
        raise typer.Exit(1)
    print_info(ds, console)


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
    field: str = typer.Option("udf", help="Field kind the INRs represent (a registered kind).", callback=_registered_field_kind),
    class_names: str | None = typer.Option(None, help="Comma-separated class names (default: class_<id>)."),
) -> None:
    """Convert inr2vec-style per-shape HDF5 files into an nfbench dataset."""
    from nfbench.store.inr2vec_import import import_inr2vec_folder

    names = class_names.split(",") if class_names else None
    _check_out(out)
    path = import_inr2vec_folder(source, out, preset, field, names)
    console.print(f"imported into [bold]{path}[/bold]")
