"""``nfbench data`` on bad input: one line naming the file, never a traceback or a hang."""

import os
import threading

import h5py
import numpy as np
import pytest
from support import edit_meta
from typer.testing import CliRunner

from nfbench.cli import app as app_module
from nfbench.errors import DataError
from nfbench.fields.functional import flatten_params
from nfbench.hashing import sha256_json
from nfbench.paths import ensure_writable_dir
from nfbench.store import layout
from nfbench.store.inr2vec_import import import_inr2vec_folder

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app_module.app, list(args))


def invoke_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Through ``main()``, as a user's shell runs it: exit code and stderr."""
    monkeypatch.setattr("sys.argv", ["nfbench", *args])
    with pytest.raises(SystemExit) as exc:
        app_module.main()
    return exc.value.code, capsys.readouterr().err.strip()


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_info_checks_checksums(copy):
    shard = copy / layout.weights_file(1)
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    result = invoke("data", "info", str(copy))
    assert result.exit_code == 1
    assert f"{shard}: checksum mismatch" in _error_line(result)


def test_info_prints_the_architecture_of_the_shards_and_rejects_an_edited_one(tiny_dataset, copy):
    ok = invoke("data", "info", str(tiny_dataset.root))
    assert ok.exit_code == 0 and "siren 3->16x2->1 | 353 params/INR" in ok.output
    assert "fitting cost: " in ok.output and " s per INR (" in ok.output and "init shared " in ok.output

    def edit(meta):
        meta["build"]["field"]["hidden"] = 32
        meta["build_hash"] = sha256_json(meta["build"])

    edit_meta(copy, edit)
    result = invoke("data", "info", str(copy))
    assert result.exit_code == 1
    assert f"{copy / layout.weights_file(0)}: layers.0.weight" in _error_line(result)


def test_info_on_an_inr2vec_import(tiny_dataset, tmp_path):
    flat = flatten_params(tiny_dataset.spec, tiny_dataset.read_params(range(4))).numpy()
    for i in range(4):
        split = "train" if i < 3 else "test"
        (tmp_path / "src" / split).mkdir(parents=True, exist_ok=True)
        with h5py.File(tmp_path / "src" / split / f"{i}.h5", "w") as f:
            f["params"] = flat[i]
            f["class_id"] = np.array(i % 2)
            f["pcd"] = np.random.default_rng(i).normal(size=(30, 3)).astype(np.float32)
    out = import_inr2vec_folder(tmp_path / "src", tmp_path / "imported", "tiny", "sdf", None)
    result = invoke("data", "info", str(out))
    assert result.exit_code == 0, result.output
    assert "fit: unknown (imported)" in result.output and "init unknown (imported)" in result.output
    assert "fitting cost" not in result.output  # an import's shards time the import


def _verify_in_thread(path, seconds=60):
    """Run ``data verify``; a hang (reading a device file) fails the test instead of blocking the run."""
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("result", invoke("data", "verify", str(path))), daemon=True)
    worker.start()
    worker.join(seconds)
    assert "result" in box, "nfbench data verify hung"
    return box["result"]


@pytest.mark.parametrize("kind", ["absolute", "parent", "symlink to /dev/zero", "symlink outside", "fifo"])
def test_verify_stays_inside_the_dataset_folder(copy, tmp_path, kind):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x" * 10)
    if kind == "absolute":
        name = str(outside)
    elif kind == "parent":
        name = "../outside.bin"
    elif kind == "symlink to /dev/zero":
        name = "zero"
        (copy / name).symlink_to("/dev/zero")
    elif kind == "symlink outside":
        name = layout.weights_file(0)
        (copy / name).unlink()
        (copy / name).symlink_to(outside)
    else:
        name = "pipe"
        os.mkfifo(copy / name)
    edit_meta(copy, lambda m: m["files"].update({name: {"sha256": "0" * 64, "bytes": 0}}))
    result = _verify_in_thread(copy)
    assert result.exit_code == 1
    line = _error_line(result)
    assert name in line
    assert any(word in line for word in ("not a relative path", "outside the dataset folder", "not a regular file"))


def test_build_out_is_an_existing_file(monkeypatch, capsys, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("x")
    code, err = invoke_main(monkeypatch, capsys, "data", "build", "procshapes", "--preset", "tiny", "--limit", "1", "--out", str(target))
    assert code == 2 and err.count("\n") == 0 and f"{target}: --out is an existing file" in err
    code, err = invoke_main(monkeypatch, capsys, "data", "build", "procshapes", "--preset", "tiny", "--out", str(target / "sub"))
    assert code == 2 and err.count("\n") == 0 and f"{target}: the parent of --out" in err


def test_build_with_nfbench_home_a_file(monkeypatch, capsys, tmp_path):
    home = tmp_path / "home_file"
    home.write_text("x")
    monkeypatch.setenv("NFBENCH_HOME", str(home))
    code, err = invoke_main(monkeypatch, capsys, "data", "build", "procshapes", "--preset", "tiny", "--limit", "1")
    assert code == 2 and err.count("\n") == 0 and f"{home}: the parent of the dataset home" in err


def test_import_out_is_an_existing_file(monkeypatch, capsys, tmp_path):
    target = tmp_path / "a_file"
    target.write_text("x")
    code, err = invoke_main(monkeypatch, capsys, "data", "import-inr2vec", str(tmp_path), "--out", str(target))
    assert code == 2 and f"{target}: --out is an existing file" in err


def test_ensure_writable_dir(tmp_path):
    created = ensure_writable_dir(tmp_path / "a" / "b", "cache")
    assert created.is_dir() and not list(created.iterdir())
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"file: cache is an existing file, not a directory"):
        ensure_writable_dir(tmp_path / "file", "cache")
    with pytest.raises(DataError, match=rf"{tmp_path / 'file' / 'sub'}: cache is not a writable directory \(.*file is a file\)"):
        ensure_writable_dir(tmp_path / "file" / "sub", "cache")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_ensure_writable_dir_read_only(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(DataError, match="cache is not a writable directory"):
            ensure_writable_dir(locked, "cache")
        with pytest.raises(DataError, match="cache is not a writable directory"):
            ensure_writable_dir(locked / "sub", "cache")
    finally:
        locked.chmod(0o755)
