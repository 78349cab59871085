import os

import h5py
import numpy as np
import pytest
import torch

from nfbench.errors import DataError
from nfbench.fields import FieldModule, batched_forward
from nfbench.fields.functional import flatten_params
from nfbench.fitting.build import BuildRequest, build_dataset
from nfbench.store import layout, writer
from nfbench.store.inr2vec_import import import_inr2vec_folder
from nfbench.store.reader import INRDataset
from nfbench.store.verify import verify_dataset

CPU = torch.device("cpu")


def _tiny_request(out, **kw):
    return BuildRequest("procshapes", preset="tiny", limit=2, steps=15, out=out, **kw)


def test_built_dataset_is_complete_and_verifies(tiny_dataset):
    assert verify_dataset(tiny_dataset.root) == []
    meta = tiny_dataset.meta
    assert meta.complete and meta.n_items == len(tiny_dataset.items)
    assert set(meta.splits) == {"train", "val", "test"}
    w = tiny_dataset.weights("test")
    assert w["layers.0.weight"].shape == (meta.splits["test"], *tiny_dataset.spec.param_shapes()["layers.0.weight"])
    assert len(tiny_dataset.labels("test")) == meta.splits["test"]
    fit = tiny_dataset.items[["fit_loss", "fit_chamfer", "fit_f_score"]]
    assert np.isfinite(fit.to_numpy()).all()


def test_dataset_files_are_readable_by_others_as_the_umask_allows(tiny_dataset):
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (tiny_dataset.root / layout.META, tiny_dataset.root / layout.weights_file(0)):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_split_weights_match_rows_of_all_weights(tiny_dataset):
    all_w = tiny_dataset.weights()
    idx = tiny_dataset.indices("val")
    val_w = tiny_dataset.weights("val")
    for name in all_w:
        assert torch.equal(all_w[name][idx], val_w[name])


def test_flipping_one_byte_of_a_weight_shard_fails_verify_naming_it(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset.root, copy)
    shard = copy / layout.weights_file(1)
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    problems = verify_dataset(copy)
    assert len(problems) == 1 and str(shard) in problems[0] and "checksum" in problems[0]


def test_truncated_shard_fails_verify_and_reading(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset.root, copy)
    shard = copy / layout.weights_file(0)
    shard.write_bytes(shard.read_bytes()[:100])
    problems = verify_dataset(copy)
    assert any(str(shard) in p and "truncated" in p for p in problems)
    with pytest.raises(DataError, match="00000.weights"):
        INRDataset.open(copy).weights()


def test_killed_build_resumes_bit_identical(tmp_path, monkeypatch):
    clean = tmp_path / "clean"
    build_dataset(_tiny_request(clean), CPU)

    crashed = tmp_path / "crashed"
    real_write = writer.write_shard
    calls = {"n": 0}

    def dying_write(out, shard, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # die after the weights file of the third shard, before its record
            (out / layout.weights_file(shard)).write_bytes(b"partial")
            raise KeyboardInterrupt
        return real_write(out, shard, *args, **kwargs)

    monkeypatch.setattr(writer, "write_shard", dying_write)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(_tiny_request(crashed), CPU)
    monkeypatch.setattr(writer, "write_shard", real_write)
    assert writer.finalize(crashed) is None  # incomplete
    _, complete = build_dataset(_tiny_request(crashed), CPU)
    assert complete
    a, b = INRDataset.open(clean), INRDataset.open(crashed)
    assert a.meta.n_items == b.meta.n_items
    for name, tensor in a.weights().items():
        assert torch.equal(tensor, b.weights()[name])
    assert a.items["key"].tolist() == b.items["key"].tolist()


def test_parallel_workers_cover_all_shards(tmp_path):
    out = tmp_path / "sharded"
    _, done0 = build_dataset(_tiny_request(out, shard_index=0, shard_count=2), CPU)
    assert not done0
    _, done1 = build_dataset(_tiny_request(out, shard_index=1, shard_count=2), CPU)
    assert done1 and verify_dataset(out) == []


def test_reopening_a_finished_dataset_hashes_no_shard_but_a_build_in_progress_does(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    _, done = build_dataset(_tiny_request(out, shard_index=0, shard_count=2), CPU)
    assert not done
    hashed = []
    real = writer.sha256_file
    monkeypatch.setattr(writer, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    build_dataset(_tiny_request(out, shard_index=0, shard_count=2), CPU)
    assert "00000.weights.safetensors" in hashed  # in progress: finished shards are checked
    _, done = build_dataset(_tiny_request(out, shard_index=1, shard_count=2), CPU)
    assert done
    hashed.clear()
    _, done = build_dataset(_tiny_request(out), CPU)
    assert done and hashed == []


def test_rebuilding_with_another_architecture_is_refused(tiny_dataset):
    req = BuildRequest("procshapes", preset="cpu", limit=3, out=tiny_dataset.root)
    with pytest.raises(DataError, match="meta.json.*other settings.*preset"):
        build_dataset(req, CPU)


def test_inr2vec_import_roundtrip(tiny_dataset, tmp_path):
    spec = tiny_dataset.spec
    weights = tiny_dataset.weights()
    flat = flatten_params(spec, weights).numpy()
    labels = tiny_dataset.labels().numpy()
    src = tmp_path / "inr2vec"
    for split in ("train", "test"):
        (src / split).mkdir(parents=True)
    for i in range(6):
        split = "train" if i < 4 else "test"
        with h5py.File(src / split / f"{i}.h5", "w") as f:
            f["params"] = flat[i]
            f["class_id"] = np.array(labels[i])
            f["pcd"] = np.random.default_rng(i).normal(size=(100, 3)).astype(np.float32)
    out = import_inr2vec_folder(src, tmp_path / "imported", "tiny", "sdf", tiny_dataset.class_names)
    ds = INRDataset.open(out)
    assert ds.meta.origin == "inr2vec" and ds.meta.init_hash is None
    assert ds.items["split"].tolist() == ["train"] * 4 + ["test"] * 2
    x = torch.rand(20, 3)
    imported = ds.weights()
    module = FieldModule.from_stacked(spec, imported, 2)
    torch.testing.assert_close(module(x), batched_forward(spec, weights, x)[2])


def test_inr2vec_import_rejects_wrong_parameter_count(tmp_path):
    (tmp_path / "src" / "train").mkdir(parents=True)
    bad = tmp_path / "src" / "train" / "0.h5"
    with h5py.File(bad, "w") as f:
        f["params"] = np.zeros(10, dtype=np.float32)
        f["class_id"] = np.array(0)
        f["pcd"] = np.zeros((5, 3), dtype=np.float32)
    with pytest.raises(DataError, match=r"0\.h5: has 10 parameters.*expects"):
        import_inr2vec_folder(tmp_path / "src", tmp_path / "out", "paper", "udf", None)
    assert not (tmp_path / "out").exists()
