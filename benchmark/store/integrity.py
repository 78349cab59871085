"""Checks that every read of a dataset file goes through: confinement, size, checksum, header.

``meta.json`` lists file names and checksums. A name is data, not a path to follow: it
must stay inside the dataset folder and name a regular file, or a crafted or damaged
``meta.json`` could make a reader hash ``/dev/zero`` forever or read files elsewhere.
Checksums are verified once per file and process (large shards are hashed only when first
read) and remembered with the file's identity, so a file replaced after its check is
hashed again before its bytes are used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nfbench.errors import DataError
from nfbench.hashing import sha256_file
from nfbench.store import layout
from nfbench.store.schema import FileEntry

# safetensors dtype codes -> bytes per element (the codes the format defines).
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
# A safetensors header is a few KB; anything near this is a damaged length field, not a header.
_MAX_HEADER_BYTES = 100 << 20

_verified: dict[tuple[str, str], tuple[int, ...]] = {}
_verified_lock = threading.Lock()


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]


def dataset_path(root: Path, name: str, resolved: dict[Path, Path] | None = None) -> Path:
    """The file ``name`` (as listed in ``meta.json`` or a shard record) inside ``root``.

    Checked with ``lstat``/``stat`` only, never opened: a device file or FIFO listed here
    must fail, not block. ``resolved`` caches the real paths of folders when one caller
    checks the thousands of names of a large dataset (a dataset has two folders).
    """
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise DataError(root / layout.META, f"lists file {name!r}, which is not a relative path inside the dataset")
    path = root / name
    folders = {} if resolved is None else resolved
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            real = path.resolve(strict=True)
            st = real.stat()
        else:  # the real path of a non-link is its folder's real path plus its name
            if path.parent not in folders:
                folders[path.parent] = path.parent.resolve(strict=True)
            real = folders[path.parent] / path.name
        if root not in folders:
            folders[root] = root.resolve(strict=True)
    except FileNotFoundError as exc:
        raise DataError(path, "missing") from exc
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python < 3.13
        raise DataError(path, f"cannot be resolved ({exc})") from exc
    if not real.is_relative_to(folders[root]):
        raise DataError(path, f"resolves to {real}, outside the dataset folder")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(path, "is not a regular file")
    return path


def _file_id(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _check_size(path: Path, st: os.stat_result, entry: FileEntry) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise DataError(path, "is not a regular file")
    if st.st_size != entry.bytes:
        raise DataError(path, f"size {st.st_size} bytes, expected {entry.bytes} (truncated or replaced)")


def _checksum_error(path: Path) -> DataError:
    return DataError(path, "checksum mismatch (corrupted or modified after the build); run `nfbench data verify`")


def verify_file(path: Path, entry: FileEntry) -> tuple[int, ...]:
    """Check ``path`` against ``entry`` (hashed on first use in this process and after any change).

    Returns the identity of the file that was verified (device, inode, size, mtime), so a
    cached memory map can be tied to exactly the verified file.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(path, f"unreadable ({exc.strerror or exc})") from exc
    key, identity = (str(path), entry.sha256), _file_id(st)
    if _verified.get(key) == identity:
        return identity
    _check_size(path, st, entry)
    if sha256_file(path) != entry.sha256:
        raise _checksum_error(path)
    with _verified_lock:
        _verified[key] = identity
    return identity


def check_manifest(root: Path, files: dict[str, FileEntry]) -> list[DataError]:
    """One problem per listed file that is outside the folder, not a regular file, or not its listed bytes."""
    problems = []
    resolved: dict[Path, Path] = {}
    for name, entry in sorted(files.items()):
        try:
            verify_file(dataset_path(root, name, resolved), entry)
        except DataError as exc:
            problems.append(exc)
    return problems


def read_verified_bytes(path: Path, entry: FileEntry) -> bytes:
    """The whole (small) file, hashed from the very bytes returned, so what is parsed is what was checked."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            _check_size(path, st, entry)
            data = fh.read()
    except OSError as exc:
        raise DataError(path, f"unreadable ({exc.strerror or exc})") from exc
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise _checksum_error(path)
    return data


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Names, dtypes and shapes from a safetensors header, reading only the header bytes.

    Also checks that the header's byte ranges end exactly at the end of the file, which
    catches truncation without reading the tensors.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 0 < n <= min(_MAX_HEADER_BYTES, size - 8):
                raise DataError(path, "not a safetensors file (bad header length)")
            raw = json.loads(fh.read(n))
    except OSError as exc:
        raise DataError(path, f"unreadable ({exc.strerror or exc})") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a safetensors file (unreadable header: {exc})") from exc
    if not isinstance(raw, dict):
        raise DataError(path, "not a safetensors file (header is not a JSON object)")
    out: dict[str, TensorInfo] = {}
    end = 0
    for name, info in raw.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (lo, hi) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
            expected = DTYPE_BYTES[dtype] * math.prod(shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(path, f"not a safetensors file (bad entry for tensor {name!r})") from exc
        if hi - lo != expected:
            raise DataError(path, f"tensor {name!r}: {hi - lo} bytes for shape {shape} {dtype}")
        out[name] = TensorInfo(dtype, shape)
        end = max(end, hi)
    if 8 + n + end != size:
        raise DataError(path, f"size {size} bytes, its header describes {8 + n + end} (truncated?)")
    return out

