"""``nfbench leaderboard build`` and ``nfbench leaderboard migrate``."""

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


@app.command()
def migrate(
    records: Path = typer.Argument(Path("leaderboards/records"), help="Folder of result records."),
) -> None:
    """Upgrade every record under RECORDS to the current schema and move it (with its
    embeddings) to the current layout, <dataset>/<build fingerprint>/<task>/. Safe to rerun."""
    from nfbench.records import SCHEMA_VERSION, migrate_records

    done = migrate_records(records)
    for step in done:
        if step.changed:
            console.print(f"v{step.from_version} -> v{SCHEMA_VERSION}: {step.source} -> {step.target}", highlight=False, soft_wrap=True)
    changed = sum(step.changed for step in done)
    console.print(f"migrated {changed} records; {len(done) - changed} already current", highlight=False)
