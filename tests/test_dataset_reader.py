"""The dataset reader checks what it reads: metadata against content, shards against checksums."""

import hashlib
import json
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file
from support import edit_meta
from torch.utils.data import DataLoader, Dataset

import nfbench.store.integrity as integrity
import nfbench.store.reader as reader
from nfbench.errors import ConfigError, DataError
from nfbench.hashing import sha256_json
from nfbench.store import layout
from nfbench.store.reader import INRDataset
from nfbench.store.verify import verify_dataset


def _flip_byte(path, offset=-5):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _entry(path):
    return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}


def _reseal(root, shard, tensors):
    """Rewrite a weight shard and every checksum that lists it, as a build that wrote these tensors would."""
    name, record_name = layout.weights_file(shard), layout.record_file(shard)
    save_file(tensors, str(root / name))
    record = json.loads((root / record_name).read_text())
    record["files"][name] = _entry(root / name)
    (root / record_name).write_text(json.dumps(record))

    def update(meta):
        meta["files"][name] = _entry(root / name)
        meta["files"][record_name] = _entry(root / record_name)

    edit_meta(root, update)


def _edit_architecture_and_rehash(meta):
    meta["build"]["field"]["hidden"] = 32
    meta["build_hash"] = sha256_json(meta["build"])


EDITS = {
    "n_items": (lambda m: m.update(n_items=5), "n_items is 5"),
    "splits": (lambda m: m["splits"].update(test=1), "splits"),
    "architecture": (lambda m: m["build"]["field"].update(hidden=32), "build_hash does not match"),
    "architecture and build_hash": (_edit_architecture_and_rehash, r"00000\.weights\.safetensors: layers\.0\.weight"),
    "plan_hash": (lambda m: m.update(plan_hash="0" * 64), "plan_hash does not match"),
    "n_shards": (lambda m: m.update(n_shards=m["n_shards"] + 1), "n_shards"),
    "checksum of a record": (lambda m: m["files"][layout.record_file(0)].update(sha256="0" * 64), r"00000\.json: checksum"),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_open_rejects_a_meta_json_that_does_not_match_the_content(copy, edit):
    change, message = EDITS[edit]
    edit_meta(copy, change)
    with pytest.raises(DataError, match=message) as exc:
        INRDataset.open(copy)
    assert "\n" not in str(exc.value)
    assert verify_dataset(copy)


def test_open_rejects_an_edited_plan_even_with_its_checksum_updated(copy):
    plan = json.loads((copy / layout.PLAN).read_text())
    plan[0]["label"] = (plan[0]["label"] + 1) % 12
    (copy / layout.PLAN).write_text(json.dumps(plan))
    edit_meta(copy, lambda m: m["files"].update({layout.PLAN: _entry(copy / layout.PLAN)}))
    with pytest.raises(DataError, match="plan_hash does not match"):
        INRDataset.open(copy)


def test_opening_hashes_no_shard_and_reading_verifies_only_the_shards_read(copy, monkeypatch):
    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    _flip_byte(copy / layout.weights_file(1))
    ds = INRDataset.open(copy)
    assert hashed == []
    first = ds.records[0]
    rows = list(range(first.start, first.start + 2))
    ds.read_params(rows)
    ds.read_params(rows)  # verified once per process
    assert hashed == ["00000.weights.safetensors"]
    second = ds.records[1]
    with pytest.raises(DataError, match=r"00001\.weights\.safetensors: checksum mismatch"):
        ds.read_params([second.start])
    with pytest.raises(DataError, match=r"00001\.weights\.safetensors"):
        ds.weights()


def test_a_shard_changed_after_it_was_verified_is_checked_again(copy):
    ds = INRDataset.open(copy)
    ds.read_params([0])
    _flip_byte(copy / layout.weights_file(0))
    with pytest.raises(DataError, match=r"00000\.weights\.safetensors: checksum mismatch"):
        ds.read_params([1])


def test_fingerprint_comes_from_content(tiny_dataset, copy):
    assert INRDataset.open(copy).fingerprint == tiny_dataset.fingerprint
    tensors = load_file(str(copy / layout.weights_file(0)))
    tensors["layers.0.bias"][0] += 1.0
    _reseal(copy, 0, tensors)
    changed = INRDataset.open(copy)
    assert changed.meta.build_hash == tiny_dataset.meta.build_hash
    assert changed.fingerprint != tiny_dataset.fingerprint


def test_nan_weights_fail_naming_the_shard_and_the_tensor(copy):
    tensors = load_file(str(copy / layout.weights_file(2)))
    tensors["layers.1.weight"][3, 0, 0] = float("nan")
    _reseal(copy, 2, tensors)
    ds = INRDataset.open(copy)
    bad = ds.records[2].start + 3
    with pytest.raises(DataError, match=rf"00002\.weights\.safetensors: tensor 'layers\.1\.weight' has NaN/inf values \(item {bad}\)"):
        ds.read_params([0, bad])
    ds.read_params([bad - 1])  # other INRs of the shard stay readable
    problems = verify_dataset(copy)
    assert len(problems) == 1 and "00002.weights.safetensors" in problems[0] and "layers.1.weight" in problems[0]


@pytest.mark.parametrize(
    ("span_bytes", "whole_bytes"),
    [(reader.SPAN_BYTES, 0), (0, 0), (reader.SPAN_BYTES, reader.WHOLE_SHARD_BYTES)],
    ids=["span", "runs", "whole-shards"],
)
def test_read_params_returns_the_requested_rows_in_order(tiny_dataset, monkeypatch, span_bytes, whole_bytes):
    monkeypatch.setattr(reader, "SPAN_BYTES", span_bytes)
    monkeypatch.setattr(reader, "WHOLE_SHARD_BYTES", whole_bytes)
    monkeypatch.setattr(tiny_dataset, "_wholes", type(tiny_dataset._wholes)())  # blocks other tests cached
    every = tiny_dataset.weights()
    n = tiny_dataset.meta.n_items
    order = [n - 1, 0, 2, 3, 9, 10, 2, 12]
    got = tiny_dataset.read_params(torch.tensor(order))
    assert list(got) == tiny_dataset.spec.param_names()
    for name, tensor in every.items():
        assert torch.equal(got[name], tensor[order])
    empty = tiny_dataset.read_params([])
    assert {k: tuple(v.shape) for k, v in empty.items()} == {k: (0, *s) for k, s in tiny_dataset.spec.param_shapes().items()}
    assert bool(tiny_dataset._wholes) == (whole_bytes > 0)  # small shards are served from memory only when allowed


def test_read_source_labels_and_splits(tiny_dataset):
    test = tiny_dataset.split_indices("test")
    assert test.dtype == torch.int64 and torch.equal(test, test.sort().values)
    assert len(test) == tiny_dataset.meta.splits["test"]
    assert torch.equal(tiny_dataset.labels_of(test), tiny_dataset.labels("test"))
    picked = test[[2, 0]]
    source = tiny_dataset.read_source(picked)
    assert set(source) == set(tiny_dataset.source_names) >= {"labels", "points"}
    assert torch.equal(source["labels"], tiny_dataset.labels_of(picked))
    assert source["points"].shape[0] == 2
    assert list(tiny_dataset.read_source(picked, ["labels"])) == ["labels"]
    with pytest.raises(ConfigError, match="unknown split 'tset'"):
        tiny_dataset.split_indices("tset")
    with pytest.raises(IndexError):
        tiny_dataset.read_params([tiny_dataset.meta.n_items])


class _PerItem(Dataset):
    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return self.ds.meta.n_items

    def __getitem__(self, i):
        return self.ds.read_params([i])["layers.0.weight"][0]


def test_dataloader_workers_read_through_their_own_handles(tiny_dataset):
    tiny_dataset.read_params([0])  # the parent holds an open handle now
    assert tiny_dataset._handles
    assert not pickle.loads(pickle.dumps(tiny_dataset))._handles
    loader = DataLoader(_PerItem(tiny_dataset), batch_size=8, num_workers=2)
    got = torch.cat(list(loader))
    assert torch.equal(got, tiny_dataset.weights()["layers.0.weight"])


def test_imported_dataset_has_no_init(tiny_dataset, copy):
    edit_meta(copy, lambda m: m.update(init_hash=None))
    with pytest.raises(DataError, match="has no shared init: it was imported"):
        INRDataset.open(copy).init()
    assert set(tiny_dataset.init()) == set(tiny_dataset.spec.param_names())
