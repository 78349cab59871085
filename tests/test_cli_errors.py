"""How failures reach the user: their mistakes as one line (exit 2), bugs with a traceback (exit 1).

Most tests swap the CLI's typer app for one whose only command raises the exception
under test, so they exercise ``main()`` itself and not whichever command fails today.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import typer

from nfbench.api.registry import RegistryError
from nfbench.cli import app as app_module
from nfbench.device import resolve_device
from nfbench.errors import ConfigError, DataError, UserError
from nfbench.fields import field_preset
from nfbench.presets import build_preset


def run_main(monkeypatch: pytest.MonkeyPatch, command: Callable[[], None]) -> int:
    """Exit code of ``main()`` with ``command`` as the whole CLI."""
    fake = typer.Typer()
    fake.command()(command)
    monkeypatch.setattr(app_module, "app", fake)
    monkeypatch.setattr(sys, "argv", ["nfbench"])
    with pytest.raises(SystemExit) as exit_info:
        app_module.main()
    return exit_info.value.code


def raising(exc: BaseException) -> Callable[[], None]:
    def command() -> None:
        raise exc

    return command


@pytest.mark.parametrize(
    "exc,line",
    [
        (DataError("/data/chair.off", "not an OFF file"), "error: /data/chair.off: not an OFF file"),
        (ConfigError("--set fit.steps=-1: must be >= 1"), "error: --set fit.steps=-1: must be >= 1"),
        (RegistryError("unknown method 'nf2vc'; did you mean 'nf2vec'?"), "error: unknown method 'nf2vc'; did you mean 'nf2vec'?"),
        (UserError("a message\nover two lines"), "error: a message over two lines"),
    ],
)
def test_user_errors_are_one_line_exit_2(monkeypatch, capsys, exc, line) -> None:
    assert run_main(monkeypatch, raising(exc)) == 2
    assert capsys.readouterr().err == line + "\n"


@pytest.mark.parametrize(
    "exc,line",
    [
        (PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/ro/out"), "error: /ro/out: Permission denied"),
        (OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/records"), "error: /mnt/ro/records: Read-only file system"),
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/big/w.safetensors"), "error: /big/w.safetensors: No space left on device"),
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "error: No space left on device"),  # write() names no path
        (OSError(errno.EACCES, os.strerror(errno.EACCES), "/a/.tmp", None, "/a/meta.json"), "error: /a/.tmp -> /a/meta.json: Permission denied"),
    ],
)
def test_os_refusing_a_path_is_one_line_naming_it(monkeypatch, capsys, exc, line) -> None:
    assert run_main(monkeypatch, raising(exc)) == 2
    assert capsys.readouterr().err == line + "\n"


def test_out_that_is_an_existing_file(monkeypatch, capsys, tmp_path: Path) -> None:
    """A real OS error, as ``--out`` pointing at a file produces it."""
    occupied = tmp_path / "out"
    occupied.write_text("not a directory")
    assert run_main(monkeypatch, lambda: (occupied / "records").mkdir(parents=True)) == 2
    assert capsys.readouterr().err == f"error: {occupied / 'records'}: Not a directory\n"


@pytest.mark.parametrize(
    "exc",
    [KeyError("layers.9.weight"), ValueError("shapes do not match"), TypeError("bad operand"), OSError(errno.EBADF, "Bad file descriptor")],
)
def test_bugs_propagate_unchanged(monkeypatch, capsys, exc) -> None:
    """Not a user error (and an OSError naming no path): ``main`` must not turn it into a line."""
    fake = typer.Typer()
    fake.command()(raising(exc))
    monkeypatch.setattr(app_module, "app", fake)
    monkeypatch.setattr(sys, "argv", ["nfbench"])
    with pytest.raises(type(exc)) as caught:
        app_module.main()
    assert caught.value is exc and "error:" not in capsys.readouterr().err


def test_internal_error_prints_its_full_traceback() -> None:
    """The real entry point in a fresh interpreter: Python's plain traceback, exit code 1."""
    script = textwrap.dedent(
        """
        import sys
        from nfbench.cli import app as app_module

        def deep_inside() -> None:
            raise ValueError("internal bug 1234")

        @app_module.app.command("boom")
        def boom() -> None:
            deep_inside()

        sys.argv = ["nfbench", "boom"]
        app_module.main()
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback (most recent call last):" in proc.stderr
    assert "in deep_inside" in proc.stderr  # every frame, down to the one that raised
    assert proc.stderr.rstrip().splitlines()[-1] == "ValueError: internal bug 1234"
    assert "error:" not in proc.stderr


@pytest.mark.parametrize(
    "args,expected",
    [(("run", "--no-such-option"), "No such option"), (("lst",), "No such command")],
)
def test_typer_usage_errors_still_exit_2(monkeypatch, capsys, args, expected) -> None:
    monkeypatch.setattr(sys, "argv", ["nfbench", *args])
    with pytest.raises(SystemExit) as exit_info:
        app_module.main()
    assert exit_info.value.code == 2 and expected in capsys.readouterr().err


def test_unknown_listing_suggests_closest(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["nfbench", "list", "methodz"])
    with pytest.raises(SystemExit) as exit_info:
        app_module.main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err == "error: unknown listing 'methodz'; did you mean 'methods'?\n"


def test_unknown_presets_are_registry_errors() -> None:
    """User errors, and still ``KeyError`` for callers that look names up."""
    with pytest.raises(RegistryError, match="did you mean 'cpu'"):
        build_preset("cpuu")
    with pytest.raises(KeyError, match="did you mean 'tiny'"):
        field_preset("tiyn")


def test_bad_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'gpu' is not a device"):
        resolve_device("gpu")
    if torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
