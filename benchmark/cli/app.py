"""The ``nfbench`` command line. Sub-commands live in small modules and are imported lazily."""

from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

import typer

from nfbench.errors import UserError

# Plain tracebacks: a bug report needs every frame, pasteable from a log (rich's panels are neither).
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Benchmark suite for deep learning on neural fields.",
)

# The disk refusing a write is the user's to fix even when the failing call names no path.
_DISK_FULL = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name))


def _register() -> None:
    from nfbench.cli import data, leaderboard, listing, plugin, run, time

    app.add_typer(data.app, name="data", help="Build, inspect and verify INR datasets.")
    app.add_typer(leaderboard.app, name="leaderboard", help="Leaderboards from result records.")
    app.add_typer(plugin.app, name="plugin", help="Check a method plugin before submitting it.")
    app.command("run")(run.run)
    app.command("time")(time.time_methods)
    app.command("list")(listing.list_entries)


_register()


def _os_error_line(exc: OSError) -> str | None:
    """``<path>: <reason>`` when the OS refused a path (or the disk is full); None for anything else."""
    reason = exc.strerror or str(exc)
    paths = [p for p in (exc.filename, exc.filename2) if isinstance(p, (str, bytes, os.PathLike))]
    if paths:
        return f"{' -> '.join(os.fsdecode(p) for p in paths)}: {reason}"
    return reason if exc.errno in _DISK_FULL else None


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {' '.join(message.split())}", fg="red", err=True)
    sys.exit(2)


def main() -> None:
    """Entry point: the user's mistakes are one red line (exit 2); bugs keep their traceback (exit 1).

    A ``UserError`` (bad data, option or name) or the OS refusing a path (read-only or
    occupied ``--out``, a full disk) is something the user fixes, and a traceback would
    bury the one line that says what. Every other exception is a bug in nfbench or a
    plugin, so it propagates and Python prints all of it. typer's usage errors never
    reach here: click reports them itself, with exit code 2.
    """
    try:
        app()
    except UserError as exc:
        _fail(str(exc))
    except OSError as exc:
        line = _os_error_line(exc)
        if line is None:
            raise
        _fail(line)
