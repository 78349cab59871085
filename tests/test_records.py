"""Result records: round trip, layout, atomic rewrite, schema migrations, the layout migration,
load errors, embeddings, git revision."""

from __future__ import annotations

import json
import math
import pathlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from nfbench.errors import DataError
from nfbench.hashing import sha256_json
from nfbench.records import (
    SCHEMA_VERSION,
    ResultRecord,
    embeddings_path,
    git_revision,
    load_embeddings,
    load_record,
    load_records,
    migrate_records,
    record_path,
    write_embeddings,
    write_record,
)

FIXTURES = Path(__file__).parent / "data" / "records"
V1_FIXTURE = FIXTURES / "procshapes" / "classify" / "nf2vec.cpu.seed0.json"
V2_FIXTURE = FIXTURES / "procshapes" / "3f9a1c2e7b4d" / "classify" / "dgcnn.cpu.source.seed0.json"
N_V1, N_V2 = 17, 2  # fixture records in the version-1 layout, and in the current one


def make_record(**overrides: Any) -> ResultRecord:
    config = {"lr": 1e-4, "epochs": 3}
    fields: dict[str, Any] = dict(
        method="nf2vec",
        method_preset="tiny",
        view="weights",
        input_mode="fields",
        dataset="procshapes",
        dataset_fingerprint="0123456789abcdef",
        dataset_summary={"field_kind": "udf", "splits": {"train": 6, "val": 3, "test": 3}},
        task="classify",
        seed=0,
        metrics={"accuracy": 2 / 3, "balanced_accuracy": 0.5},
        main_metric="accuracy",
        details={"confusion_matrix": [[1, 0], [1, 1]], "definitions": {"accuracy": "fraction correct"}},
        config=config,
        config_hash=sha256_json(config),
        nfbench_version="0.1.0",
        git_revision=None,
        versions={"python": "3.11.7", "torch": "2.14.1"},
        device="cpu (2 threads)",
        threads=2,
        code_hash="f" * 64,
        training_sources=[],
        n_parameters=1234,
        n_parameters_training=567,
        train_seconds=1.5,
        inference_ms_per_inr=0.25,
        created="2025-01-01T00:00:00+00:00",
    )
    fields.update(overrides)
    return ResultRecord(**fields)


def test_round_trip_and_layout(tmp_path: Path) -> None:
    record = make_record(seed=3)
    path = write_record(tmp_path, record)
    assert path == tmp_path / "procshapes" / "0123456789ab" / "classify" / "nf2vec.tiny.seed3.json"
    assert path == record_path(tmp_path, record)
    loaded = load_record(path)
    assert loaded == record
    assert loaded.metrics["accuracy"] == 2 / 3  # floats survive JSON exactly


def test_rerun_overwrites_atomically_and_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_record(tmp_path, make_record(metrics={"accuracy": 0.5}))
    path = write_record(tmp_path, make_record(metrics={"accuracy": 0.75}))
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert load_record(path).metrics == {"accuracy": 0.75}

    def crash_halfway(self: pathlib.Path, text: str, **kwargs: Any) -> int:
        with open(self, "w", encoding="utf-8") as fh:
            fh.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        write_record(tmp_path, make_record(metrics={"accuracy": 1.0}))
    monkeypatch.undo()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert load_record(path).metrics == {"accuracy": 0.75}


def test_builds_of_one_dataset_keep_their_own_records(tmp_path: Path) -> None:
    """Two builds of a dataset (another limit or preset) are different benchmarks."""
    first = write_record(tmp_path, make_record(dataset_fingerprint="aaaaaaaaaaaa0001"))
    second = write_record(tmp_path, make_record(dataset_fingerprint="bbbbbbbbbbbb0001", metrics={"accuracy": 0.25}))
    assert first != second and first.parent.parent.parent == second.parent.parent.parent
    assert [r.metrics["accuracy"] for r in load_records(tmp_path)] == [2 / 3, 0.25]


def test_a_source_data_run_never_replaces_the_inr_run_of_its_seed(tmp_path: Path) -> None:
    on_inrs = write_record(tmp_path, make_record())
    on_source = write_record(tmp_path, make_record(input_mode="source", metrics={"accuracy": 0.9}))
    assert on_inrs != on_source and on_source.name.endswith(".source.seed0.json")
    assert sorted(r.input_mode for r in load_records(tmp_path)) == ["fields", "source"]


def test_committed_v1_fixture_still_loads() -> None:
    """Guards backward compatibility: if this fails after a schema change, add a migration."""
    raw = json.loads(V1_FIXTURE.read_text())
    assert raw["schema_version"] == 1 and raw["input_kind"] == "weights"
    record = load_record(V1_FIXTURE)
    assert record.schema_version == SCHEMA_VERSION
    assert (record.method, record.method_preset, record.dataset, record.task, record.seed) == (
        "nf2vec",
        "cpu",
        "procshapes",
        "classify",
        0,
    )
    assert (record.view, record.input_mode, record.threads) == ("weights", "fields", 2)
    # v1 counted nf2vec's training-only decoder in n_parameters: kept as it was, no split invented
    assert (record.n_parameters, record.n_parameters_training, record.code_hash) == (raw["n_parameters"], 0, None)
    assert record.metrics == {"accuracy": 0.85, "balanced_accuracy": 0.84}
    assert record.config_hash == sha256_json(record.config)
    assert record.dataset_summary["splits"] == {"test": 12, "train": 24, "val": 12}
    assert record.details["confusion_matrix"][1] == [1, 3, 0]


def test_v1_input_kinds_other_than_weights_become_unknown_views() -> None:
    record = load_record(FIXTURES / "manifold40" / "reconstruct" / "functa.cpu.seed0.json")  # input_kind "queries"
    assert (record.view, record.input_mode) == ("unknown", "fields")


def test_committed_v2_fixture_loads() -> None:
    raw = json.loads(V2_FIXTURE.read_text())
    assert raw["schema_version"] == 2
    record = load_record(V2_FIXTURE)
    assert record.model_dump(mode="json") == raw | {"schema_version": SCHEMA_VERSION, "train_per_class": None, "training_sources": []}
    assert (record.view, record.input_mode, record.n_parameters_training) == ("points", "source", 0)
    assert V2_FIXTURE == record_path(FIXTURES, record)


def migrated_fixtures(dest: Path) -> Path:
    shutil.copytree(FIXTURES, dest)
    migrate_records(dest)
    return dest


def test_load_records_rejects_the_old_layout() -> None:
    with pytest.raises(DataError) as err:
        load_records(FIXTURES)  # the version-1 fixtures sit in the version-1 layout
    message = str(err.value)
    assert message.startswith(str(FIXTURES / "manifold40" / "classify")) and "\n" not in message
    assert f"nfbench leaderboard migrate {FIXTURES}" in message


def test_load_records_rejects_a_misplaced_record(tmp_path: Path) -> None:
    path = write_record(tmp_path, make_record())
    wrong = tmp_path / "procshapes" / "ffffffffffff" / "classify" / path.name
    wrong.parent.mkdir(parents=True)
    path.rename(wrong)
    with pytest.raises(DataError, match=r"belongs at .*0123456789ab.*nfbench leaderboard migrate"):
        load_records(tmp_path)
    migrate_records(tmp_path)
    assert load_records(tmp_path) == [make_record()]


def test_load_records_is_sorted_and_complete(tmp_path: Path) -> None:
    records = load_records(migrated_fixtures(tmp_path / "records"))
    assert len(records) == N_V1 + N_V2
    keys = [(r.dataset, r.task, r.method, r.method_preset, r.seed) for r in records]
    assert keys == sorted(keys)
    assert keys[0] == ("manifold40", "classify", "mlp", "cpu", 0)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_migration_moves_upgrades_and_is_idempotent(tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(FIXTURES, records)
    old_embeddings = records / "procshapes" / "retrieve" / "nf2vec.cpu.seed0.embeddings.npz"
    np.savez_compressed(old_embeddings, embeddings=np.eye(3, dtype=np.float16), labels=np.arange(3), class_names=np.array(["a", "b", "c"]))
    before = {p.relative_to(records): load_record(p) for p in records.rglob("*.json")}

    done = migrate_records(records)
    assert len(done) == N_V1 + N_V2 and all(m.changed for m in done)
    assert {m.from_version for m in done} == {1, 2}
    assert not list(records.glob("*/*/*.json")) and len(list(records.glob("*/*/*/*.json"))) == N_V1 + N_V2
    assert not (records / "procshapes" / "retrieve").exists()  # emptied old folders are removed
    for m in done:
        assert load_record(m.target) == before[m.source.relative_to(records)]  # same content, upgraded
        assert json.loads(m.target.read_text())["schema_version"] == SCHEMA_VERSION
    record = load_record(records / "procshapes" / "3f9a1c2e7b4d" / "retrieve" / "nf2vec.cpu.seed0.json")
    assert not old_embeddings.exists()
    assert load_embeddings(embeddings_path(records, record)).class_names == ["a", "b", "c"]
    assert len(load_records(records)) == N_V1 + N_V2

    snapshot = tree(records)
    assert not any(m.changed for m in migrate_records(records))
    assert tree(records) == snapshot


def test_migration_finishes_after_a_crash(tmp_path: Path) -> None:
    """Killed after writing the new record but before removing the old file: a rerun completes."""
    old = tmp_path / "procshapes" / "classify" / V1_FIXTURE.name
    old.parent.mkdir(parents=True)
    shutil.copy(V1_FIXTURE, old)
    write_record(tmp_path, load_record(V1_FIXTURE))
    (done,) = [m for m in migrate_records(tmp_path) if m.changed]
    assert done.source == old and not old.exists() and not old.parent.exists()
    assert load_records(tmp_path) == [load_record(V1_FIXTURE)]


def test_migration_refuses_to_overwrite_a_different_record(tmp_path: Path) -> None:
    old = tmp_path / "procshapes" / "classify" / V1_FIXTURE.name
    old.parent.mkdir(parents=True)
    shutil.copy(V1_FIXTURE, old)
    newer = load_record(V1_FIXTURE).model_copy(update={"metrics": {"accuracy": 0.5}})
    write_record(tmp_path, newer)
    snapshot = tree(tmp_path)
    with pytest.raises(DataError, match="keep one of them"):
        migrate_records(tmp_path)
    assert tree(tmp_path) == snapshot  # checked before anything moved


def test_migration_of_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no records folder"):
        migrate_records(tmp_path / "typo")


def test_version_0_is_upgraded(tmp_path: Path) -> None:
    raw = make_record(device="cpu (4 threads)", threads=4).model_dump(mode="json")
    for key in ("schema_version", "view", "input_mode", "n_parameters_training", "code_hash", "threads"):  # what v0 lacked
        del raw[key]
    path = tmp_path / "v0.json"
    path.write_text(json.dumps(raw))
    record = load_record(path)
    assert record.schema_version == SCHEMA_VERSION
    assert record.threads == 4
    assert (record.view, record.input_mode, record.n_parameters_training, record.code_hash) == ("unknown", "fields", 0, None)
    assert record.metrics == {"accuracy": 2 / 3, "balanced_accuracy": 0.5}

    path.write_text(json.dumps({**raw, "schema_version": 0, "device": "NVIDIA H100"}))
    assert load_record(path).threads == 0  # not recoverable from a GPU name


def test_newer_version_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**make_record().model_dump(mode="json"), "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(DataError) as err:
        load_record(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "newer" in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"method": "nf2vec",', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"schema_version": "one"}', "not a non-negative integer"),
        ('{"schema_version": 1, "method": "nf2vec"}', "invalid record"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_record(path)
    assert str(err.value).startswith(f"{path}: ") and expected in str(err.value)
    assert "\n" not in str(err.value)


def test_load_records_reports_the_bad_file(tmp_path: Path) -> None:
    write_record(tmp_path, make_record())
    bad = tmp_path / "procshapes" / "0123456789ab" / "retrieve" / "x.tiny.seed0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{")
    with pytest.raises(DataError, match="x.tiny.seed0.json"):
        load_records(tmp_path)


@pytest.mark.parametrize(
    "overrides",
    [
        {"main_metric": "map@10"},  # not among the metrics
        {"metrics": {"accuracy": math.nan}},
        {"method": "../escape"},  # names become path components
        {"method_preset": "a.b"},  # dots would make file names ambiguous
        {"schema_version": 0},  # only load_record may bring old versions in
        {"input_mode": "inrs"},
        {"view": "points/../x"},
        {"dataset_fingerprint": "0123456789a"},  # shorter than its path component
        {"dataset_fingerprint": "../0123456789ab"},
        {"unexpected": 1},
    ],
)
def test_invalid_records_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_record(**overrides)


def test_embeddings_round_trip(tmp_path: Path) -> None:
    record = make_record(task="retrieve")
    vectors = np.random.default_rng(0).normal(size=(7, 5))
    labels = np.array([0, 1, 1, 0, 2, 2, 1])
    path = write_embeddings(tmp_path, record, vectors, labels, ["a", "b", "c"])
    assert path == embeddings_path(tmp_path, record)
    assert path == record_path(tmp_path, record).with_name("nf2vec.tiny.seed0.embeddings.npz")
    with np.load(path) as raw:
        assert raw["embeddings"].dtype == np.float16
    loaded = load_embeddings(path)
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_allclose(loaded.vectors, vectors, rtol=1e-3, atol=1e-3)
    assert loaded.labels.tolist() == labels.tolist()
    assert loaded.class_names == ["a", "b", "c"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_embeddings_fall_back_to_float32_on_overflow(tmp_path: Path) -> None:
    vectors = np.array([[1e6, 1.0], [2.0, -3e5]])
    path = write_embeddings(tmp_path, make_record(), vectors, np.array([0, 1]), ["a", "b"])
    loaded = load_embeddings(path)
    assert np.isfinite(loaded.vectors).all()
    np.testing.assert_allclose(loaded.vectors, vectors)


def test_embeddings_reject_mismatched_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected embeddings"):
        write_embeddings(tmp_path, make_record(), np.zeros((3, 2)), np.zeros(4, dtype=int), ["a"])
    with pytest.raises(ValueError, match="class names"):
        write_embeddings(tmp_path, make_record(), np.zeros((2, 2)), np.array([0, 2]), ["a", "b"])
    bad = tmp_path / "bad.embeddings.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.embeddings.npz"):
        load_embeddings(bad)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True)


def test_git_revision(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None  # not a checkout
    _git(tmp_path, "init", "-q")
    assert git_revision(tmp_path) is None  # no commit yet
    (tmp_path / "a.txt").write_text("one")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "init")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_revision(tmp_path) == head and len(head) == 40
    (tmp_path / "new_record.json").write_text("{}")
    assert git_revision(tmp_path) == head  # untracked files (new records) do not count
    (tmp_path / "a.txt").write_text("two")
    assert git_revision(tmp_path) == head + "-dirty"
    sub = tmp_path / "sub"
    sub.mkdir()
    assert git_revision(sub) is None  # inside, but not the root of, a checkout
