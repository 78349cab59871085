"""The batched fitter, and fitting determinism: an INR's weights and fit quality depend on
its item alone, never on the chunk size, the shard or the number of workers (CPU, bit-identical)."""

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nfbench.errors import ConfigError
from nfbench.fields import batched_forward, field_preset, shared_init
from nfbench.fitting.build import BuildRequest, build_dataset, fit_shard, plan_items, resolve_build
from nfbench.fitting.fitter import FitConfig, collapsed_fits, fit_batch
from nfbench.presets import BUILD_PRESETS
from nfbench.store.reader import INRDataset

CPU = torch.device("cpu")


def _bce(pred, target):
    return F.binary_cross_entropy_with_logits(pred, target, reduction="none").mean(dim=(1, 2))


def _sphere_data(radii, n=2000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    coords = torch.rand(len(radii), n, 3, generator=gen) * 2 - 1
    r = torch.tensor(radii).view(-1, 1, 1)
    sdf = coords.norm(dim=-1, keepdim=True) - r
    return coords, (sdf.clamp(-0.1, 0.1) + 0.1) / 0.2


def _cfg(**kw) -> FitConfig:
    return FitConfig(**({"steps": 20, "lr": 1e-3, "points_per_step": 500, "chunk_size": 2, "seeding": "per-item"} | kw))


def test_fitting_reduces_loss_and_is_deterministic():
    spec = field_preset("tiny")
    init = shared_init(spec, 0)
    coords, targets = _sphere_data([0.3, 0.6])
    cfg = _cfg(steps=80, lr=3e-3, points_per_step=512)
    start = _bce(batched_forward(spec, {n: p.unsqueeze(0).repeat(2, *[1] * p.dim()) for n, p in init.items()}, coords), targets)
    params, loss = fit_batch(spec, init, coords, targets, _bce, cfg, seeds=[5, 6])
    assert (loss < 0.8 * start).all()
    again, _ = fit_batch(spec, init, coords, targets, _bce, cfg, seeds=[5, 6])
    other, _ = fit_batch(spec, init, coords, targets, _bce, cfg, seeds=[5, 7])
    for n in params:
        assert torch.equal(params[n], again[n])
        assert torch.equal(params[n][0], other[n][0]) and not torch.equal(params[n][1], other[n][1])


def test_inrs_in_a_batch_do_not_influence_each_other():
    """Sum of per-INR losses + element-wise Adam + own index streams: changing INR 1's data leaves INR 0 untouched."""
    spec = field_preset("tiny")
    init = shared_init(spec, 0)
    coords, targets = _sphere_data([0.4, 0.7])
    base, _ = fit_batch(spec, init, coords, targets, _bce, _cfg(), seeds=[0, 1])
    other_targets = targets.clone()
    other_targets[1] = 1 - other_targets[1]
    changed, _ = fit_batch(spec, init, coords, other_targets, _bce, _cfg(), seeds=[0, 1])
    for n in base:
        assert torch.equal(base[n][0], changed[n][0])
    assert not torch.allclose(base["layers.0.weight"][1], changed["layers.0.weight"][1])


def _chunked_fit(spec, init, coords, targets, cfg, seeds, size: int) -> dict[str, torch.Tensor]:
    n = len(seeds)
    parts = [
        fit_batch(spec, init, coords[s : s + size], targets[s : s + size], _bce, cfg, seeds[s : s + size])[0]
        for s in range(0, n, size)
    ]
    return {name: torch.cat([p[name] for p in parts]) for name in parts[0]}


@pytest.mark.parametrize("preset", ["tiny", "cpu"])
def test_weights_do_not_depend_on_the_chunking(preset):
    """8 INRs fitted as one chunk, in chunks of 3 (3, 3, 2) and of 7 (7, then one alone) are bit-identical.

    The lone INR is the case torch's CPU bmm treats differently (plain gemm); ``field_fn``
    evaluates it as a pair of copies. 17 steps cross a block of drawn indices.
    """
    spec = field_preset(preset)
    init = shared_init(spec, 0)
    coords, targets = _sphere_data(torch.linspace(0.2, 0.8, 8).tolist(), n=1000)
    seeds = list(range(100, 108))
    cfg = _cfg(steps=17, points_per_step=256)

    whole = _chunked_fit(spec, init, coords, targets, cfg, seeds, 8)
    for size in (3, 7):
        for n, tensor in _chunked_fit(spec, init, coords, targets, cfg, seeds, size).items():
            assert torch.equal(tensor, whole[n]), (size, n)


def test_per_shard_seeding_is_refused_with_one_line():
    legacy = FitConfig(steps=2, lr=1e-3, points_per_step=10, chunk_size=2)
    assert legacy.seeding == "per-shard"  # what a meta.json written before the field existed means
    coords, targets = _sphere_data([0.5, 0.5], n=50)
    with pytest.raises(ConfigError, match="redo the build") as err:
        fit_batch(field_preset("tiny"), shared_init(field_preset("tiny"), 0), coords, targets, _bce, legacy, seeds=[0, 1])
    assert "\n" not in str(err.value)
    assert all(p.fit.seeding == "per-item" for p in BUILD_PRESETS.values())


def _by_key(root: Path) -> dict[str, tuple[dict[str, torch.Tensor], dict[str, float]]]:
    ds = INRDataset.open(root)
    weights = ds.weights()
    items = ds.items
    fit_cols = [c for c in items.columns if c.startswith("fit_")]
    return {
        key: ({n: w[i] for n, w in weights.items()}, items.iloc[i][fit_cols].to_dict())
        for i, key in enumerate(items["key"])
    }


@pytest.mark.filterwarnings("ignore:distance_to_cloud:RuntimeWarning")  # 20 steps fit no surface yet; the decode stays random
def test_chunk_size_changes_no_inr_and_no_fit_quality():
    """The same procshapes items (udf: its quality decoding is random) fitted in chunks of 16 and of 4."""
    req = BuildRequest("procshapes", field="udf", preset="tiny", limit=2, steps=20)
    dataset, config, _ = resolve_build(req)
    items = plan_items(dataset, req)[:16]
    init = shared_init(config.field, config.seed)

    def fit(chunk: int):
        cfg = config.model_copy(update={"fit": config.fit.model_copy(update={"chunk_size": chunk})})
        shards = [fit_shard(dataset, None, cfg, init, items[s : s + chunk], CPU) for s in range(0, len(items), chunk)]
        weights = {n: torch.cat([params[n] for params, _, _ in shards]) for n in shards[0][0]}
        return weights, [item.fit for _, _, fitted in shards for item in fitted]

    w16, fit16 = fit(16)
    w4, fit4 = fit(4)
    for n in w16:
        assert torch.equal(w16[n], w4[n]), n
    assert fit16 == fit4
    assert len({round(f["chamfer"], 9) for f in fit16}) > 1  # real, item-specific numbers


@pytest.mark.filterwarnings("ignore:distance_to_cloud:RuntimeWarning")
def test_two_shard_workers_write_what_one_worker_writes(tmp_path):
    def request(out: Path, index: int = 0, count: int = 1) -> BuildRequest:
        return BuildRequest("procshapes", field="udf", preset="tiny", limit=2, steps=10, out=out, shard_index=index, shard_count=count)

    build_dataset(request(tmp_path / "one"), CPU)
    build_dataset(request(tmp_path / "two", 1, 2), CPU)  # the second worker may well start first
    _, complete = build_dataset(request(tmp_path / "two", 0, 2), CPU)
    assert complete
    one, two = _by_key(tmp_path / "one"), _by_key(tmp_path / "two")
    assert one.keys() == two.keys()
    for key, (weights, fit) in one.items():
        assert all(torch.equal(w, two[key][0][n]) for n, w in weights.items()), key
        assert fit == two[key][1], key


@pytest.mark.parametrize("preset", ["tiny", "cpu"])
def test_compiled_kernels_match_eager_to_rounding_and_keep_per_item_streams(preset):
    """``kernels="compiled"`` follows the eager trajectory to float rounding, and chunkings stay bit-identical.

    Tolerance: Inductor's vectorized sin/cos differ from ATen's by about one ulp, so a
    step's gradients differ by ~1e-7 relative. Adam divides each gradient by its own
    running RMS, so the first steps move every weight by about ``lr`` whatever the
    gradient's size, and a weight whose gradient is ~0 can move by up to ``lr`` in either
    direction; 5 steps at lr 1e-3 then bound a difference by 5e-3, while a systematic
    error (a wrong derivative, a missing w0) moves weights by that much almost everywhere.
    So: the median difference must be at the rounding level (1e-6) and the largest within
    the Adam bound.
    """
    spec = field_preset(preset)
    init = shared_init(spec, 0)
    coords, targets = _sphere_data(torch.linspace(0.2, 0.8, 4).tolist(), n=1000)
    seeds = list(range(4))
    eager_cfg = _cfg(steps=5, points_per_step=256)
    fast_cfg = eager_cfg.model_copy(update={"kernels": "compiled"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a fallback to eager would make the test vacuous
        fast = _chunked_fit(spec, init, coords, targets, fast_cfg, seeds, 4)
        fast_pairs = _chunked_fit(spec, init, coords, targets, fast_cfg, seeds, 3)
    eager = _chunked_fit(spec, init, coords, targets, eager_cfg, seeds, 4)
    diffs = torch.cat([(fast[n] - eager[n]).abs().flatten() for n in eager])
    assert diffs.median() < 1e-6 and diffs.max() <= 5 * eager_cfg.lr, (diffs.median(), diffs.max())
    assert any(not torch.equal(fast[n], eager[n]) for n in eager) or preset == "tiny"
    for n in fast:
        assert torch.equal(fast[n], fast_pairs[n]), n


def test_failed_compilation_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(*_args, **_kwargs):
        def fail(*_a):
            raise RuntimeError("no C compiler")

        return fail

    monkeypatch.setattr(torch, "compile", broken)
    spec = field_preset("tiny")
    init = shared_init(spec, 0)
    coords, targets = _sphere_data([0.3, 0.5, 0.7], n=300)
    cfg = _cfg(steps=3, points_per_step=64)
    with pytest.warns(RuntimeWarning, match="no C compiler") as record:
        fast, _ = fit_batch(spec, init, coords, targets, _bce, cfg.model_copy(update={"kernels": "compiled"}), [1, 2, 3])
    assert len(record) == 1
    eager, _ = fit_batch(spec, init, coords, targets, _bce, cfg, [1, 2, 3])
    for n in eager:
        assert torch.equal(fast[n], eager[n])


@pytest.mark.parametrize(("field", "old", "new"), [("kernels", "eager", "compiled"), ("lr_schedule", "constant", "cosine")])
def test_later_fit_fields_leave_stored_fit_configs_and_build_hashes_alone(field: str, old: str, new: str):
    """Fields that joined FitConfig later are absent from the JSON while they keep the old behaviour."""
    base = _cfg()
    assert field not in base.model_dump(mode="json")
    changed = base.model_copy(update={field: new})
    assert changed.model_dump(mode="json")[field] == new
    assert FitConfig.model_validate(changed.model_dump(mode="json")) == changed
    assert getattr(FitConfig.model_validate(base.model_dump(mode="json")), field) == old


def test_cosine_schedule_decays_the_rate_to_zero_over_the_fit(monkeypatch):
    """Each Adam step runs at lr * (1 + cos(pi t / steps)) / 2; the constant schedule keeps lr."""
    spec = field_preset("tiny")
    coords, targets = _sphere_data([0.3, 0.6])
    seen: list[float] = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    cosine, _ = fit_batch(spec, shared_init(spec, 0), coords, targets, _bce, _cfg(lr_schedule="cosine"), seeds=[5, 6])
    expected = [1e-3 * (1 + math.cos(math.pi * t / 20)) / 2 for t in range(20)]
    assert seen == pytest.approx(expected, rel=1e-6) and seen[-1] < 0.01 * seen[0]
    seen.clear()
    constant, _ = fit_batch(spec, shared_init(spec, 0), coords, targets, _bce, _cfg(), seeds=[5, 6])
    assert seen == [1e-3] * 20
    assert not torch.equal(cosine["layers.0.weight"], constant["layers.0.weight"])


def test_collapsed_fits_are_those_no_better_than_a_zero_output():
    """BCE of a zero logit is ln 2 whatever the targets; for an MSE-style loss it is the targets' mean square."""
    targets = torch.rand(3, 100, 1)
    bce = torch.tensor([0.64, math.log(2), 0.70])
    assert collapsed_fits(bce, targets, _bce) == [1, 2]
    mse = lambda p, t: (p - t).square().mean(dim=(1, 2))  # noqa: E731
    half = torch.full((2, 50, 3), 0.5)
    assert collapsed_fits(torch.tensor([0.2, 0.249]), half, mse) == [1]


@pytest.mark.filterwarnings("ignore:distance_to_cloud:RuntimeWarning")
def test_a_collapsed_fit_is_flagged_in_its_record_and_warned_about(monkeypatch):
    """A fit that falls back to a zero output (loss ln 2) is marked, and the sound ones keep their records."""
    req = BuildRequest("procshapes", field="sdf", preset="tiny", limit=1)
    dataset, config, _ = resolve_build(req)
    items = plan_items(dataset, req)[:2]
    init = shared_init(config.field, config.seed)
    real_fit = fit_batch

    def second_collapses(*args, **kwargs):
        params, loss = real_fit(*args, **kwargs)
        return params, torch.stack([loss[0], torch.tensor(math.log(2))])

    monkeypatch.setattr("nfbench.fitting.build.fit_batch", second_collapses)
    with pytest.warns(RuntimeWarning, match="1 of 2 INRs hold no shape"):
        _, _, fitted = fit_shard(dataset, None, config, init, items, CPU)
    assert "collapsed" not in fitted[0].fit and fitted[1].fit["collapsed"] == 1.0
