"""The runner's promises: views per split, no test split in fit, source only on request,
typed --set overrides, a safe training cache keyed by code, and torchrun on CPU."""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import PointsSpy, SpyConfig
from typer.testing import CliRunner

from nfbench.api import DataInfo, View
from nfbench.cli.app import app, main
from nfbench.errors import ConfigError
from nfbench.methods import METHODS
from nfbench.records import load_records
from nfbench.run.cache import TrainedCache, code_hash
from nfbench.run.runner import RunSpec, run_one, run_specs, train_or_load
from nfbench.store.reader import INRDataset
from nfbench.training.checkpoint import save_atomic

CPU = torch.device("cpu")




@pytest.fixture
def spy_registered():
    PointsSpy.seen.clear()
    yield PointsSpy


def spy_spec(input_mode: str = "fields") -> RunSpec:
    return RunSpec(PointsSpy, "tiny", PointsSpy.presets["tiny"].config, 0, input_mode)


def test_points_view_method_reads_decoded_clouds_not_the_source(spy_registered, tiny_dataset, tmp_path, monkeypatch):
    def no_source(self, *args, **kwargs):
        raise AssertionError("a fields-mode view read the source shards")

    monkeypatch.setattr(INRDataset, "read_source", no_source)
    spec = spy_spec()
    record, _ = run_one(spec, "classify", tiny_dataset, CPU, tmp_path, rerun=True)
    seen = PointsSpy.seen
    assert seen["splits"] == ("train", "val")
    assert seen["n_train"] == len(tiny_dataset.split_indices("train")) and seen["n_val"] == len(tiny_dataset.split_indices("val"))
    assert seen["train_clouds"].shape == (seen["n_train"], 64, 3)
    assert record.input_mode == "fields" and record.view == "points"
    monkeypatch.undo()
    source = tiny_dataset.read_source(tiny_dataset.split_indices("train"), ["points"])["points"][:, :64]
    assert not torch.allclose(seen["train_clouds"], source)  # decoded from the INRs, not the stored clouds


def test_input_source_reads_the_stored_clouds_and_the_record_says_so(spy_registered, tiny_dataset, tmp_path):
    spec = spy_spec("source")
    record, path = run_one(spec, "classify", tiny_dataset, CPU, tmp_path, rerun=True)
    source = tiny_dataset.read_source(tiny_dataset.split_indices("train"), ["points"])["points"][:, :64]
    assert torch.equal(PointsSpy.seen["train_clouds"], source)
    assert record.input_mode == "source" and json.loads(Path(path).read_text())["input_mode"] == "source"


def test_fit_gets_train_and_val_views_only_and_they_cannot_reach_test(spy_registered, tiny_dataset):
    test = set(tiny_dataset.split_indices("test").tolist())
    spec = spy_spec()
    train_or_load(spec, tiny_dataset, CPU, rerun=True)
    assert PointsSpy.seen["splits"] == ("train", "val")
    from nfbench.views.context import SplitReader

    for split in ("train", "val"):
        assert not test & set(SplitReader(tiny_dataset, split).indices.tolist())


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``nfbench ARGS`` through ``main()``, which prints user errors as one line (exit 2)."""
    monkeypatch.setattr("sys.argv", ["nfbench", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


def test_set_overrides_are_validated_by_the_config_class(tiny_dataset, tmp_path, monkeypatch, capsys):
    common = ["run", "--method", "mlp", "--preset", "tiny", "--dataset", str(tiny_dataset.root), "--out", str(tmp_path)]
    ok = CliRunner().invoke(app, [*common, "--set", "epochs=3", "--set", "lr=3e-4"])
    assert ok.exit_code == 0, ok.output
    (record,) = load_records(tmp_path)
    assert record.config["epochs"] == 3 and record.config["lr"] == 3e-4
    code, err = _main(monkeypatch, capsys, *common, "--set", "epoch=3")
    assert code == 2 and "--set epoch" in err and "did you mean 'epochs'" in err and len(err.strip().splitlines()) == 1
    code, err = _main(monkeypatch, capsys, *common, "--set", "epochs=many")
    assert code == 2 and "--set epochs='many'" in err and len(err.strip().splitlines()) == 1


def test_set_reaches_fields_of_nested_configs(tmp_path) -> None:
    """``--set augment.permute=true`` edits one field of the augmentation config; typos get suggestions."""
    from nfbench.methods import METHODS
    from nfbench.run.config import resolve_config

    _, config = resolve_config(METHODS.get("mlp"), "tiny", ["augment.permute=true", "augment.noise=0.05"])
    assert config.augment.permute and config.augment.noise == 0.05 and config.augment.dropout == 0
    for bad, message in (
        ("augment.permut=true", "has no key 'permut'; did you mean 'permute'"),
        ("epochs.x=1", "'epochs' has no sub-keys"),
        ("augment.noise=-1", "--set augment.noise=-1: Input should be greater than or equal to 0"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            resolve_config(METHODS.get("mlp"), "tiny", [bad])


def test_training_cache_is_safetensors_and_a_broken_entry_retrains(tiny_dataset, capsys):
    (spec,) = run_specs("mlp", "tiny", [], [0], "fields")
    first = train_or_load(spec, tiny_dataset, CPU, rerun=True)
    tensors, meta = TrainedCache(Path(os.environ["NFBENCH_HOME"]) / "artifacts").paths("mlp", spec.cache_key(tiny_dataset))
    assert tensors.suffix == ".safetensors" and meta.exists()
    cached = train_or_load(spec, tiny_dataset, CPU)
    assert cached.from_cache
    tensors.write_bytes(tensors.read_bytes()[:100])  # truncated
    again = train_or_load(spec, tiny_dataset, CPU, warn=print)
    assert not again.from_cache and "unreadable training cache" in capsys.readouterr().out
    assert first.method.n_parameters() == again.method.n_parameters()


def test_cache_key_changes_with_the_method_source():
    class Edited(PointsSpy):
        def n_parameters(self) -> int:  # an edit in a subclass's module changes nothing here,
            return 1  # but another class in another module must hash differently

    assert code_hash(PointsSpy) == code_hash(PointsSpy)
    assert code_hash(METHODS.get("mlp")) != code_hash(METHODS.get("nf2vec"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(tiny_dataset: INRDataset, out: Path, home: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "nfbench.cli", "run", "--method", "mlp", "--preset", "tiny",
           "--dataset", str(tiny_dataset.root), "--device", "cpu", "--out", str(out), "--rerun"]
    env = {**os.environ, "NFBENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_torchrun_two_cpu_processes_write_one_record_reproducibly(tiny_dataset, tmp_path):
    results = []
    for attempt in range(2):
        out = tmp_path / f"records{attempt}"
        done = _torchrun(tiny_dataset, out, tmp_path / "home")
        assert done.returncode == 0, done.stderr[-3000:]
        records = load_records(out)
        assert len(records) == 1 and len(list(out.rglob("*.json"))) == 1
        assert all(math.isfinite(v) for v in records[0].metrics.values())
        results.append(records[0].metrics)
    assert results[0] == results[1]


def test_a_crafted_pickle_in_the_cache_is_never_executed(tiny_dataset, tmp_path, capsys):
    """The old cache used torch.load(weights_only=False): a crafted file ran code on load."""
    import pickle

    (spec,) = run_specs("mlp", "tiny", [], [0], "fields")
    train_or_load(spec, tiny_dataset, CPU, rerun=True)
    tensors, _ = TrainedCache(Path(os.environ["NFBENCH_HOME"]) / "artifacts").paths("mlp", spec.cache_key(tiny_dataset))
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    tensors.write_bytes(pickle.dumps(Payload()))
    again = train_or_load(spec, tiny_dataset, CPU, warn=print)
    assert not marker.exists() and not again.from_cache
    assert "unreadable training cache" in capsys.readouterr().out


def test_unwritable_outputs_fail_before_any_training(tiny_dataset, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    def never(*args, **kwargs):
        raise AssertionError("trained although the records could not be written")

    monkeypatch.setattr("nfbench.run.runner.train_or_load", never)
    code, err = _main(monkeypatch, capsys, "run", "--method", "mlp", "--preset", "tiny", "--dataset", str(tiny_dataset.root),
                      "--out", str(blocker))
    assert code == 2 and str(blocker) in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("NFBENCH_HOME", str(blocker))
    code, err = _main(monkeypatch, capsys, "run", "--method", "mlp", "--preset", "tiny", "--dataset", str(tiny_dataset.root),
                      "--out", str(tmp_path / "records"))
    assert code == 2 and str(blocker) in err and len(err.strip().splitlines()) == 1


def test_a_killed_fit_resumes_from_its_checkpoint_and_ends_identical(tiny_dataset, monkeypatch):
    from nfbench.training.trainer import Trainer

    (spec,) = run_specs("mlp", "tiny", ["epochs=8"], [0], "fields")
    straight = train_or_load(spec, tiny_dataset, CPU, rerun=True).method.state_dict()["model"]

    validate = Trainer._validate
    calls = {"n": 0}

    def killed_at_epoch_5(self, model, result, epoch):
        if epoch == 5:
            raise KeyboardInterrupt("killed")
        calls["n"] += 1
        return validate(self, model, result, epoch)

    monkeypatch.setattr(Trainer, "_validate", killed_at_epoch_5)
    with pytest.raises(KeyboardInterrupt):
        train_or_load(spec, tiny_dataset, CPU, rerun=True)
    checkpoints = Path(os.environ["NFBENCH_HOME"]) / "checkpoints" / "mlp" / spec.cache_key(tiny_dataset)[:24]
    checkpoint = checkpoints / "classifier" / "last.pt"
    saved = torch.load(checkpoint, weights_only=True)
    saved["result"]["train_seconds"] = 1000.0  # as if the killed process had trained for that long
    save_atomic({k: v for k, v in saved.items() if k != "format"}, checkpoint)
    monkeypatch.setattr(Trainer, "_validate", validate)
    for path in TrainedCache(Path(os.environ["NFBENCH_HOME"]) / "artifacts").paths("mlp", spec.cache_key(tiny_dataset)):
        path.unlink()  # the straight run's cached state: the next call must train, from the checkpoint
    resumed = train_or_load(spec, tiny_dataset, CPU)
    assert not resumed.from_cache and calls["n"] == 5
    assert 1000 < resumed.train_seconds < 1100  # the killed process's seconds count, not only this one's
    state = resumed.method.state_dict()["model"]
    assert all(torch.equal(state[k], straight[k]) for k in straight)
    assert not checkpoints.exists()  # done: the trained state is in the cache


def test_train_per_class_takes_the_first_items_of_each_class_and_is_recorded(tiny_dataset, tmp_path):
    from nfbench.views.context import SplitReader, first_per_class

    train = tiny_dataset.split_indices("train")
    subset = first_per_class(tiny_dataset, train, 1)
    labels = tiny_dataset.labels_of(subset)
    assert sorted(labels.tolist()) == list(range(len(tiny_dataset.class_names)))  # one per class
    for c in range(len(tiny_dataset.class_names)):  # the first of its class in build order
        assert int(subset[labels == c][0]) == int(train[tiny_dataset.labels_of(train) == c][0])
    assert set(subset.tolist()) <= set(first_per_class(tiny_dataset, train, 2).tolist())  # nested
    assert len(SplitReader(tiny_dataset, "train", 1)) == len(tiny_dataset.class_names)

    (full,) = run_specs("stats", "tiny", [], [0], "fields")
    (small,) = run_specs("stats", "tiny", [], [0], "fields", train_per_class=1)
    assert full.cache_key(tiny_dataset) != small.cache_key(tiny_dataset)
    record, path = run_one(small, "classify", tiny_dataset, CPU, tmp_path)
    assert record.train_per_class == 1 and path.name == "stats.tiny.train1.seed0.json"
    run_one(full, "classify", tiny_dataset, CPU, tmp_path)
    assert len(load_records(tmp_path)) == 2  # side by side, not overwritten


def test_set_overrides_get_their_own_preset_label(tiny_dataset):
    (plain,) = run_specs("mlp", "tiny", [], [0], "fields")
    (edited,) = run_specs("mlp", "tiny", ["epochs=3"], [0], "fields")
    (same,) = run_specs("mlp", "tiny", ["epochs=30"], [0], "fields")  # the preset's own value
    assert plain.preset == "tiny" and same.preset == "tiny"
    assert edited.preset.startswith("tiny+") and len(edited.preset) == len("tiny+") + 8


class SourceSpy(PointsSpy):
    """Reads the stored source clouds of its train items as a training signal, as nf2vec's released pretext does."""

    card = PointsSpy.card.model_copy(update={"name": "source-spy", "view": "weights"})

    @classmethod
    def training_sources(cls, config: SpyConfig, info: DataInfo) -> tuple[str, ...]:
        return ("points",)

    def fit(self, train: View, val: View, progress=None) -> None:
        batch = next(iter(train.batches(4)))
        SourceSpy.seen.update(source=train.training_source(batch.index, "points"), val=val.training_source(batch.index[:1], "points"))
        with pytest.raises(ConfigError, match="grants no source 'voxels'"):
            train.training_source(batch.index, "voxels")

    def predict(self, view: View) -> torch.Tensor:
        with pytest.raises(ConfigError, match="grants no source 'points'"):
            view.training_source(torch.tensor([0]), "points")  # the test view is never granted
        return torch.zeros(len(view), self.info.n_classes)


def test_training_sources_reach_train_and_val_only_and_are_recorded(tiny_dataset, tmp_path):
    SourceSpy.seen.clear()
    spec = RunSpec(SourceSpy, "tiny", SourceSpy.presets["tiny"].config, 0)
    record, path = run_one(spec, "classify", tiny_dataset, CPU, tmp_path, rerun=True)
    train = tiny_dataset.split_indices("train")[:4]
    assert torch.equal(SourceSpy.seen["source"], tiny_dataset.read_source(train, ["points"])["points"])
    assert record.training_sources == ["points"] and json.loads(Path(path).read_text())["training_sources"] == ["points"]


def test_train_per_class_counts_shapes_and_brings_their_augmented_copies(tmp_path):
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.views.context import first_per_class

    out, _ = build_dataset(BuildRequest("procshapes", preset="tiny", limit=2, augment=1, out=tmp_path / "aug"), CPU)
    data = INRDataset.open(out)
    train = data.split_indices("train")
    chosen = first_per_class(data, train, 1)
    items = data.items.loc[chosen.tolist()]
    originals, copies = items[items["augment_of"].isna()], items[items["augment_of"].notna()]
    assert len(originals) == len(data.class_names) and sorted(originals["label"]) == list(range(len(data.class_names)))
    assert set(copies["augment_of"]) == set(originals["key"]) and len(copies) == len(originals)


def test_an_architecture_a_method_cannot_take_fails_before_training_in_one_line(tiny_dataset, tmp_path, monkeypatch, capsys):
    """Field kinds are checked against the card; what a method's network needs is checked when it is built."""
    from nfbench.methods import METHODS
    from nfbench.run.runner import check_compatible

    def never(*args, **kwargs):
        raise AssertionError("trained a method that cannot take this dataset")

    monkeypatch.setattr("nfbench.training.classifier_method.fit_classifier", never)
    code, err = _main(monkeypatch, capsys, "run", "--method", "ng-t", "--preset", "tiny", "--dataset", str(tiny_dataset.root),
                      "--set", "d_attn=5", "--out", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "ng-t" in err and "d_attn=5" in err and "multiple of n_heads" in err

    class UdfOnly(METHODS.get("mlp")):
        card = METHODS.get("mlp").card.model_copy(update=dict(field_kinds=("udf",)))

    with pytest.raises(ConfigError, match=r"'mlp' reads the 'weights' view, which it takes from \['udf'\] fields; dataset .* holds 'sdf' fields \(siren 3->16x2->1\)"):
        check_compatible(UdfOnly, tiny_dataset)


def test_records_carry_the_training_curves_also_when_loaded_from_the_cache(tiny_dataset, tmp_path):
    (spec,) = run_specs("mlp", "tiny", [], [0], "fields")
    trained, _ = run_one(spec, "classify", tiny_dataset, CPU, tmp_path, rerun=True)
    training = trained.details["training"]
    epochs = training["classifier_epochs_run"]
    assert epochs == spec.config.epochs
    assert len(training["classifier_train_loss"]) == len(training["classifier_val_accuracy_per_epoch"]) == epochs
    best = training["classifier_best_epoch"]
    assert training["classifier_val_accuracy_per_epoch"][best] == pytest.approx(training["classifier_val_accuracy"], abs=1e-5)
    cached, _ = run_one(spec, "classify", tiny_dataset, CPU, tmp_path)
    assert cached.details["training"] == training
