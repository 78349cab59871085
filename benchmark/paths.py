"""Where built datasets live by default, and how a name or a path resolves to one."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


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
