"""The ``nfbench`` command line. Sub-commands live in small modules and are imported lazily."""

from __future__ import annotations

import sys

import typer

from nfbench.errors import DataError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Benchmark suite for deep learning on neural fields.")


def _register() -> None:
    from nfbench.cli import data, leaderboard, listing, plugin, run

    app.add_typer(data.app, name="data", help="Build, inspect and verify INR datasets.")
    app.add_typer(leaderboard.app, name="leaderboard", help="Leaderboards from result records.")
    app.add_typer(plugin.app, name="plugin", help="Check a method plugin before submitting it.")
    app.command("run")(run.run)
    app.command("list")(listing.list_entries)


_register()


def main() -> None:
    """Entry point: expected failures become one red line and exit code 2, not a traceback."""
    try:
        app()
    except (DataError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        typer.secho(f"error: {message}", fg="red", err=True)
        sys.exit(2)
