"""``nfbench plugin check MODULE:ATTR``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
console = Console()
CHECK_LIMIT = 3  # shapes per class and split of the tiny procshapes dataset


@app.command()
def check(
    ref: str = typer.Argument(..., help="The method class as 'package.module:Class'."),
    device: str = typer.Option("cpu", help="Device for the check (cpu by default, as CI runs it)."),
    step_seconds: int = typer.Option(300, help="Time limit of each step, in seconds (0: none)."),
) -> None:
    """Run a method through a tiny dataset and each task it can run; exit 1 on any failure."""
    from nfbench.device import resolve_device
    from nfbench.plugin_check import check_plugin
    from nfbench.progress import make_progress
    from nfbench.run.runner import tiny_check_dataset

    dev = resolve_device(device)

    def load():
        with make_progress(transient=True) as progress:
            return tiny_check_dataset(dev, progress)

    checks = check_plugin(ref, load, dev, step_seconds)
    table = Table("step", "result", "details", title=f"plugin check: {ref}")
    for c in checks:
        table.add_row(c.step, "[green]PASS" if c.ok else "[red]FAIL", c.message)
    console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
