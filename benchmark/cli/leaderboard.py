"""``nfbench leaderboard build``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command()
def build(
    records: Path = typer.Option(Path("leaderboards/records"), help="Folder of result records."),
    out: Path = typer.Option(Path("leaderboards"), help="Where markdown and plots are written."),
) -> None:
    """Regenerate leaderboard markdown and plots from the records (deterministic)."""
    from nfbench.leaderboard import build_leaderboards

    for path in build_leaderboards(records, out):
        console.print(f"wrote {path}")
