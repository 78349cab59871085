"""Where built datasets live by default, and how a name or a path resolves to one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from nfbench.errors import DataError


def nfbench_home() -> Path:
    """``$NFBENCH_HOME`` or the user cache directory; never the working directory."""
    env = os.environ.get("NFBENCH_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("nfbench"))


def datasets_home() -> Path:
    return nfbench_home() / "datasets"


def resolve_dataset_dir(name_or_path: str) -> Path:
    """A path as given if it exists, else a built dataset of that name under the home."""
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    return datasets_home() / name_or_path


def ensure_writable_dir(path: Path, what: str) -> Path:
    """Create ``path`` if needed and prove it takes files, before any work is spent.

    A build or a run that fails on its first write after minutes of fitting, or with a
    ``NotADirectoryError`` traceback, says less than one line naming the folder. Writing
    a probe file is the only reliable test: permission bits say nothing for root, on
    read-only mounts or under ACLs.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise DataError(path, f"{what} is an existing file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".nfbench-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else exc.strerror or str(exc)
        raise DataError(path, f"{what} is not a writable directory ({reason})") from exc
    return path
