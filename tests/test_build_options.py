"""Build options of issue 8: ``--augment``, per-split limits and ``--quality-sample``."""

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nfbench.cli import app as app_module
from nfbench.datasets.base import Limits, Shape
from nfbench.datasets.digits import Digits
from nfbench.datasets.modelnet import ModelNet10, ModelNet40
from nfbench.errors import ConfigError, DataError
from nfbench.fitting.build import (
    AUGMENT_SCALE,
    BuildRequest,
    augment_shape,
    build_dataset,
    default_out_dir,
    fit_shard,
    plan_items,
    quality_measured,
    resolve_build,
)
from nfbench.run.runner import dataset_summary
from nfbench.store import layout
from nfbench.store.reader import INRDataset
from nfbench.store.schema import BuildConfig, build_hash
from nfbench.store.verify import verify_dataset

CPU = torch.device("cpu")
runner = CliRunner()
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _request(out: Path, **kw) -> BuildRequest:
    """Two train shapes (one goes to val) and one test shape per class: the smallest build that verifies."""
    return BuildRequest("procshapes", out=out, **({"preset": "tiny", "limit_train": 2, "limit_test": 1, "steps": 5} | kw))


def test_augment_plans_copies_of_train_items_only() -> None:
    req = BuildRequest("procshapes", preset="tiny", limit=2, augment=2)
    plan = plan_items(resolve_build(req)[0], req)
    originals = {p.key: p for p in plan if p.augment_of is None}
    copies = [p for p in plan if p.augment_of is not None]
    train = [k for k, p in originals.items() if p.split == "train"]
    assert {p.split for p in originals.values()} == {"train", "val", "test"}
    assert sorted(p.key for p in copies) == sorted(f"{k}#aug{i}" for k in train for i in (1, 2))
    for p in copies:
        source = originals[p.augment_of]
        assert (p.split, p.label, p.locator, p.fingerprint) == ("train", source.label, source.locator, source.fingerprint)
    assert [p.index for p in plan] == list(range(len(plan))) and [p.key for p in plan] == sorted(p.key for p in plan)


def test_augmented_copies_differ_and_rebuild_bit_identically(tmp_path: Path) -> None:
    out = tmp_path / "aug"
    result = runner.invoke(
        app_module.app,
        [
            "data", "build", "procshapes", "--preset", "tiny", "--limit-train", "2", "--limit-test", "1", "--steps", "5",
            "--augment", "2", "--out", str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    ds = INRDataset.open(out)
    items = ds.items
    originals = items[items["augment_of"].isna()]
    copies = items[items["augment_of"].notna()]
    train_keys = set(originals.loc[originals["split"] == "train", "key"])
    assert Counter(copies["augment_of"]) == {key: 2 for key in train_keys}
    assert ds.meta.build.augment == 2 and ds.meta.splits["train"] == 3 * len(train_keys)

    index = {key: i for i, key in items["key"].items()}
    key = sorted(train_keys)[0]
    rows = [index[key], index[f"{key}#aug1"], index[f"{key}#aug2"]]
    weights = ds.read_params(rows)["layers.0.weight"]
    points = ds.read_source(rows, ["points"])["points"]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert not torch.equal(weights[a], weights[b])
        assert not torch.equal(points[a], points[b])

    info = runner.invoke(app_module.app, ["data", "info", str(out)])
    assert info.exit_code == 0 and f"augmented copies: {len(copies)} (2 per train shape)" in info.output
    assert verify_dataset(out) == []

    again, complete = build_dataset(_request(tmp_path / "again", augment=2), CPU)
    assert complete and INRDataset.open(again).fingerprint == ds.fingerprint


def test_augment_scales_each_axis_and_jitters_deterministically() -> None:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 5)] * 3), -1).reshape(-1, 3).astype(np.float32)
    shape = Shape(points=grid, voxels=np.zeros((4, 4, 4), bool), vertices=grid[:3], faces=np.array([[0, 1, 2]]))
    a = augment_shape(shape, np.random.default_rng(1), "cube")
    b = augment_shape(shape, np.random.default_rng(1), "cube")
    assert np.array_equal(a.points, b.points) and np.array_equal(a.vertices, b.vertices)
    assert a.voxels is None  # re-voxelized from the transformed mesh by occ fields
    extent = np.ptp(a.points, axis=0) / 2
    assert np.all(extent > AUGMENT_SCALE[0] - 0.1) and np.all(extent < AUGMENT_SCALE[1] + 0.1)
    assert not np.allclose(a.points / extent, grid, atol=1e-3)  # jittered, not only scaled
    with pytest.raises(DataError, match="only voxels"):
        augment_shape(Shape(voxels=np.zeros((4, 4, 4), bool)), np.random.default_rng(0), "vox")


def test_bad_build_options_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--augment -1"):
        resolve_build(_request(tmp_path, augment=-1))
    with pytest.raises(ConfigError, match="3-D geometry"):
        resolve_build(BuildRequest("digits", augment=1))
    with pytest.raises(ConfigError, match="--quality-sample 0"):
        resolve_build(_request(tmp_path, quality_sample=0))
    with pytest.raises(ConfigError, match="--limit-test 0"):
        build_dataset(BuildRequest("procshapes", preset="tiny", limit_test=0, out=tmp_path / "none"), CPU)
    assert not (tmp_path / "none").exists()


def test_per_split_limits_keep_the_test_set_of_a_plain_limit(tmp_path: Path) -> None:
    req = BuildRequest("procshapes", preset="tiny", limit_train=3, limit_test=2)
    dataset, config, out = resolve_build(req)
    assert (config.limit, config.limit_train, config.limit_test) == (None, 3, 2)
    assert out.name == "procshapes-tiny-limittrain3-limittest2"
    plan = plan_items(dataset, req)
    per_class = Counter((p.label, "test" if p.split == "test" else "train+val") for p in plan)
    assert set(per_class.values()) == {3, 2}
    assert all(n == (2 if split == "test" else 3) for (_, split), n in per_class.items())
    plain = plan_items(dataset, BuildRequest("procshapes", preset="tiny", limit=2))
    assert [p.key for p in plan if p.split == "test"] == [p.key for p in plain if p.split == "test"]

    digits = Digits().list_items(None, Limits(default=2, train=5), 0)
    counts = Counter((it.label, it.split) for it in digits)
    assert {counts[(0, "train")], counts[(0, "test")]} == {5, 2}
    assert default_out_dir(BuildRequest("digits", limit=2, limit_train=5), "image", "image", Digits()).name == "digits-limit2-limittrain5"


@pytest.mark.skipif(not DATA.is_dir(), reason="real data in ../shared/data is absent")
@pytest.mark.parametrize(
    ("dataset", "root"), [(ModelNet40(), DATA / "modelnet40_ply_hdf5_1024"), (ModelNet10(), DATA / "modelnet10_off_sample")]
)
def test_file_loaders_cap_each_split_and_keep_the_plain_limit_prefix(dataset, root: Path) -> None:
    split_limits = dataset.list_items(root, Limits(default=1, train=2), 0)
    counts = Counter((it.label, it.split) for it in split_limits)
    assert max(n for (_, split), n in counts.items() if split == "train") == 2
    assert max(n for (_, split), n in counts.items() if split == "test") == 1
    plain = dataset.list_items(root, 1, 0)
    assert [it.key for it in split_limits if it.split == "test"] == [it.key for it in plain if it.split == "test"]


def test_quality_sample_measures_a_hashed_subset(tmp_path: Path) -> None:
    out, _ = build_dataset(_request(tmp_path / "q", quality_sample=3), CPU)
    ds = INRDataset.open(out)
    measured = {r.key: quality_measured(ds.meta.build, r.key) for rec in ds.records for r in rec.items}
    assert 0 < sum(measured.values()) < len(measured)
    for rec in ds.records:
        for item in rec.items:
            assert ("chamfer" in item.fit) == measured[item.key] and "loss" in item.fit
    assert verify_dataset(out) == []
    info = runner.invoke(app_module.app, ["data", "info", str(out)])
    assert info.exit_code == 0, info.output
    assert f"fit quality measured on {sum(measured.values())} of {len(measured)} INRs" in info.output


def test_new_build_fields_leave_old_identities_alone() -> None:
    _, config, _ = resolve_build(BuildRequest("procshapes", preset="tiny", limit=2))
    stored = config.model_dump(mode="json")
    assert not {"limit_train", "limit_test", "augment", "quality_sample"} & set(stored)  # an old meta.json's build
    old = BuildConfig.model_validate(stored)
    assert (old.limit_train, old.limit_test, old.augment, old.quality_sample) == (None, None, 0, None)
    augmented = config.model_copy(update={"augment": 1}).model_dump(mode="json")
    assert augmented["augment"] == 1 and build_hash(augmented) != build_hash(stored)


def test_reuse_copies_shared_fits_and_gives_the_fingerprint_of_a_fresh_build(tmp_path: Path, monkeypatch) -> None:
    """A subset of a finished build (fewer train shapes, or with --augment copies) costs only its new items."""
    import nfbench.fitting.build as build_module

    donor, _ = build_dataset(_request(tmp_path / "donor", limit_train=3), CPU)
    fresh, _ = build_dataset(_request(tmp_path / "fresh", augment=1), CPU)
    fitted: list[str] = []
    real_fit_shard = build_module.fit_shard

    def counting(dataset, root, config, init, items, *args, **kwargs):
        fitted.extend(it.key for it in items)
        return real_fit_shard(dataset, root, config, init, items, *args, **kwargs)

    monkeypatch.setattr(build_module, "fit_shard", counting)
    reused, complete = build_dataset(_request(tmp_path / "reused", augment=1, reuse=donor), CPU)
    assert complete and INRDataset.open(reused).fingerprint == INRDataset.open(fresh).fingerprint
    assert fitted and all("#aug" in key for key in fitted)  # every original came from the donor
    assert verify_dataset(reused) == []

    with pytest.raises(ConfigError, match=r"that build differs in \['fit'\]"):  # other steps fit other weights
        build_dataset(_request(tmp_path / "other", steps=6, reuse=donor), CPU)
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    ("option", "field", "value", "default", "suffix", "typo"),
    [
        ("--kernels", "kernels", "compiled", "eager", "-compiled", "compild"),
        ("--lr-schedule", "lr_schedule", "cosine", "constant", "-lrcosine", "cosin"),
        ("--init", "init", "independent", "shared", "-initindependent", "independant"),
    ],
)
def test_fit_option_reaches_the_fit_config_hash_and_folder(
    option: str, field: str, value: str, default: str, suffix: str, typo: str, monkeypatch, capsys, tmp_path: Path
) -> None:
    """A fitting option that changes the fitted bytes is a build of its own; its default leaves the hash alone."""
    _, base, _ = resolve_build(BuildRequest("procshapes", preset="tiny"))
    _, chosen, out = resolve_build(BuildRequest("procshapes", preset="tiny", **{field: value}))
    assert (getattr(base.fit, field), getattr(chosen.fit, field)) == (default, value)
    assert field not in base.model_dump(mode="json")["fit"]  # builds from before the option keep their hash
    assert build_hash(base.model_dump(mode="json")) != build_hash(chosen.model_dump(mode="json"))
    assert out.name.endswith(suffix)
    monkeypatch.setattr("sys.argv", ["nfbench", "data", "build", "procshapes", option, typo, "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as exit_info:
        app_module.main()
    assert exit_info.value.code == 2 and f"did you mean {value!r}" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_independent_inits_give_each_inr_its_own_start_and_store_no_shared_init(tmp_path: Path) -> None:
    """One init per INR, drawn from (seed, key): INRs start apart, the dataset stores no shared init,
    and an INR's weights do not depend on the chunk it was fitted in."""
    shared_root, _ = build_dataset(_request(tmp_path / "shared", steps=1), CPU)
    own_root, complete = build_dataset(_request(tmp_path / "own", steps=1, init="independent"), CPU)
    shared, own = INRDataset.open(shared_root), INRDataset.open(own_root)
    assert complete and own.meta.init_hash is None and not (own_root / layout.INIT).exists()
    assert own.meta.build.fit.init == "independent" and verify_dataset(own_root) == []
    assert dataset_summary(own)["init"] == "independent" and "init" not in dataset_summary(shared)  # records name it
    rows = torch.arange(4)

    def spread(ds: INRDataset) -> float:  # how far apart INRs are after one step, relative to their size
        w = ds.read_params(rows)["layers.1.weight"]
        return float((w - w.mean(0)).norm() / w.norm())

    assert spread(own) > 0.7 and spread(shared) < 0.2  # 4 independent zero-mean draws: about sqrt(3/4)
    with pytest.raises(DataError, match="no shared init"):
        own.init()
    items = own.records[0].items[:3]
    dataset, config, _ = resolve_build(_request(tmp_path / "own", steps=1, init="independent"))
    alone = fit_shard(dataset, None, config, shared.init(), items[1:2], CPU)[0]
    together = own.read_params(torch.tensor([1]))
    for name, p in alone.items():
        torch.testing.assert_close(p, together[name])


def test_the_dwsnet_init_scheme_has_no_special_first_layer_and_zero_biases(tmp_path: Path) -> None:
    from nfbench.fields import field_preset
    from nfbench.fields.init import shared_init

    spec = field_preset("image")
    siren, dws = shared_init(spec, 0), shared_init(spec, 0, "dwsnet")
    first = math.sqrt(6.0 / spec.in_dim) / spec.w0  # the hidden layers' bound, now also the first layer's
    assert siren["layers.0.weight"].abs().max() > 0.3 and dws["layers.0.weight"].abs().max() <= first
    assert all(float(dws[n].abs().max()) == 0.0 for n in spec.param_names() if n.endswith("bias"))
    torch.testing.assert_close(dws["layers.1.weight"], siren["layers.1.weight"])  # the later layers are drawn as before
    root, complete = build_dataset(
        BuildRequest("digits", out=tmp_path / "dws", limit=2, steps=1, init="independent", init_scheme="dwsnet"), CPU
    )
    data = INRDataset.open(root)
    assert complete and data.meta.build.fit.init_scheme == "dwsnet" and verify_dataset(root) == []
    assert dataset_summary(data)["init"] == "independent, dwsnet scheme"
    assert "init_scheme" not in json.dumps(INRDataset.open(build_dataset(_request(tmp_path / "plain", steps=1), CPU)[0]).meta.build.model_dump(mode="json"))
    with pytest.raises(ConfigError, match="--init-scheme 'dwsnt': not an init scheme.*dwsnet"):
        resolve_build(BuildRequest("digits", init_scheme="dwsnt"))  # type: ignore[arg-type]
