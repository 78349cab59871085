"""The time task: decode and network timed apart, nothing trained, decodes done afresh, source input refused."""

from __future__ import annotations

import pytest
import torch
from support import PointsSpy, SpyConfig

from nfbench.errors import ConfigError
from nfbench.paths import nfbench_home
from nfbench.run.runner import RunSpec, run_one, run_specs
from nfbench.tasks.time import Time
from nfbench.views.points import PointsView

CPU = torch.device("cpu")


def test_weight_space_method_is_timed_untrained_with_almost_no_decode(tiny_dataset, tmp_path):
    (spec,) = run_specs("mlp", "tiny", [], [0], "fields")
    artifacts = nfbench_home() / "artifacts" / "mlp"
    before = set(artifacts.glob("*")) if artifacts.exists() else set()
    record, path = run_one(spec, "time", tiny_dataset, CPU, tmp_path)
    m = record.metrics
    assert path is not None and record.task == "time" and record.main_metric == "latency_ms"
    assert record.train_seconds == 0 and (set(artifacts.glob("*")) if artifacts.exists() else set()) == before
    assert m["network_ms"] > 0 and 0 <= m["decode_ms"] < m["network_ms"]  # the weights are the input
    assert m["latency_ms"] == pytest.approx(record.inference_ms_per_inr)
    d = record.details
    assert d["batch_size"] == min(Time.batch_size, len(tiny_dataset.split_indices("test")))
    assert d["repeats"] == Time.repeats and d["view"] == "weights"
    lo, hi = d["iqr_ms"]["latency"]
    assert lo <= hi


def test_decoded_view_is_decoded_afresh_on_every_pass(tiny_dataset, tmp_path, monkeypatch):
    calls = {"n": 0}
    decode = PointsView.decode.__func__

    def counting(cls, *args, **kwargs):
        calls["n"] += 1
        return decode(cls, *args, **kwargs)

    monkeypatch.setattr(PointsView, "decode", classmethod(counting))
    config = SpyConfig(n_points=61)  # view settings no other test decodes: this test's own cache
    spec = RunSpec(PointsSpy, "tiny+61", config, 0)
    record, _ = run_one(spec, "time", tiny_dataset, CPU, tmp_path)
    assert calls["n"] == Time.warmup + 1 + Time.repeats  # the timed head is never decoded into a cache
    assert not list((nfbench_home() / "views").rglob("*-head*"))
    assert record.metrics["decode_ms"] > 0 and record.details["view_options"]["n_points"] == spec.config.n_points


def test_source_input_has_no_decode_to_time(tiny_dataset, tmp_path):
    spec = RunSpec(PointsSpy, "tiny", PointsSpy.presets["tiny"].config, 0, "source")
    with pytest.raises(ConfigError, match="--input source: it decodes nothing"):
        run_one(spec, "time", tiny_dataset, CPU, tmp_path)


def test_time_command_writes_records_and_the_timing_page(tiny_dataset, tmp_path):
    from typer.testing import CliRunner

    from nfbench.cli.app import app

    records, board = tmp_path / "records", tmp_path / "lb"
    result = CliRunner().invoke(app, ["time", "--methods", "mlp,stats", "--resolutions", "64,128", "--preset", "tiny",
                                      "--batch-size", "2", "--repeats", "3",
                                      "--dataset", str(tiny_dataset.root), "--out", str(records)])
    assert result.exit_code == 0, result.output
    assert "decode ms" in result.output
    from nfbench.records import load_records

    assert {(r.details["batch_size"], r.details["repeats"]) for r in load_records(records)} == {(2, 3)}
    written = sorted(p.name for p in records.glob("procshapes/*/time/*.json"))
    assert written == ["mlp.tiny.seed0.json", "stats.tiny.seed0.json"]  # no resolution to vary: timed once each
    assert CliRunner().invoke(app, ["leaderboard", "build", "--records", str(records), "--out", str(board)]).exit_code == 0
    page = (board / "timing.md").read_text()
    assert "| mlp | weights | – |" in page and "| stats | weights | – |" in page
    assert "(timing.md)" in (board / "README.md").read_text()
    assert len(list((board / "plots").glob("timing.*.png"))) == 1
    assert not list((board / "plots").glob("*.time.*latency*.png"))  # no latency-against-latency plot


def test_time_command_varies_the_resolution_of_methods_that_decode(tiny_dataset, tmp_path):
    from typer.testing import CliRunner

    from nfbench.cli.app import app
    from nfbench.records import load_records

    records = tmp_path / "records"
    result = CliRunner().invoke(app, ["time", "--methods", "conv3d,mlp", "--resolutions", "12,16", "--preset", "tiny",
                                      "--dataset", str(tiny_dataset.root), "--out", str(records)])
    assert result.exit_code == 0, result.output
    timed = {(r.method, r.details["resolution"]): r for r in load_records(records)}
    assert set(timed) == {("conv3d", 12), ("conv3d", 16), ("mlp", None)}
    assert timed[("conv3d", 16)].config["resolution"] == 16 and timed[("conv3d", 16)].method_preset.startswith("tiny+")
    assert all(timed[("conv3d", r)].metrics["decode_ms"] > 0 for r in (12, 16))


def test_a_resolution_field_must_name_a_config_field():
    from nfbench.api.method import validate_method_class
    from nfbench.methods import METHODS

    validate_method_class("resnet-mv", METHODS.get("resnet-mv"))  # a nested key: render.size

    class Misnamed(METHODS.get("conv3d")):
        resolution_field = "render.size"

    with pytest.raises(ValueError, match="resolution_field 'render.size' is not a field of Conv3DConfig"):
        validate_method_class("conv3d", Misnamed)


def test_time_command_rejects_bad_lists_before_any_work(monkeypatch, capsys, isolated_home):
    from nfbench.cli.app import main

    for args, expected in ((["--methods", "mlp", "--resolutions", "2k"], "comma-separated integers"),
                           (["--methods", "pointnett"], "did you mean")):
        monkeypatch.setattr("sys.argv", ["nfbench", "time", *args])
        with pytest.raises(SystemExit) as exc:
            main()
        assert exc.value.code == 2 and expected in capsys.readouterr().err
    assert not (isolated_home / "datasets" / "procshapes").exists()


def test_classify_latency_includes_the_decode_its_cache_paid(tiny_dataset, tmp_path):
    import json

    spec = RunSpec(PointsSpy, "tiny", PointsSpy.presets["tiny"].config, 0)
    record, _ = run_one(spec, "classify", tiny_dataset, CPU, tmp_path, rerun=True)
    decode = record.details["decode_ms_per_inr"]
    assert decode > 0 and record.inference_ms_per_inr > decode
    (folder,) = (nfbench_home() / "views").glob("*/points-*/test")
    seconds = [s for p in sorted(folder.glob("part-*.json")) for s in json.loads(p.read_text())["decode_seconds"]]
    assert decode == pytest.approx(1000 * sum(seconds) / len(seconds))  # what the cache's part records measured
    (weights,) = run_specs("mlp", "tiny", [], [0], "fields")
    assert run_one(weights, "classify", tiny_dataset, CPU, tmp_path)[0].details["decode_ms_per_inr"] == 0.0


def test_a_method_whose_view_does_not_come_from_the_params_cannot_be_timed():
    from nfbench.run.runner import method_class, task_for

    with pytest.raises(ConfigError, match="its 'supervision' view is not"):
        task_for(method_class("deepsdf"), "time")
