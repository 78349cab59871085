import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nfbench.api.registry import Registry, RegistryError
from nfbench.cli.app import app
from nfbench.plugin_check import check_plugin

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "nfbench-plugin"
CPU = torch.device("cpu")
TASK_STEPS = ["task classify", "task retrieve", "task time"]
STEPS = ["import", "interface", "setup", "fit", "determinism", "state_dict round trip", "batch invariance"]


@pytest.fixture
def plugin_paths(monkeypatch):
    monkeypatch.syspath_prepend(str(TEMPLATE))
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))


def failed(checks):
    return [(c.step, c.message) for c in checks if not c.ok]


def test_template_plugin_passes_every_check(plugin_paths, tiny_dataset):
    checks = check_plugin("nfbench_nearest_centroid:NearestCentroid", lambda: tiny_dataset, CPU)
    assert [c.step for c in checks] == STEPS + TASK_STEPS
    assert all(c.ok for c in checks), checks


def test_wrong_output_shape_is_reported(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:WrongShape", lambda: tiny_dataset, CPU)
    assert [step for step, _ in failed(checks)] == ["task classify"]
    assert "returned shape" in failed(checks)[0][1]


def test_nan_outputs_are_named_not_blamed_on_the_round_trip(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:NaNOutputs", lambda: tiny_dataset, CPU)
    step, message = failed(checks)[0]
    assert step == "determinism" and "NaN" in message and "round trip" not in message


def test_a_hanging_fit_is_stopped_by_the_step_time_limit(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:Hangs", lambda: tiny_dataset, CPU, step_seconds=2)
    assert failed(checks) and failed(checks)[0][0] == "fit" and "did not finish within 2 s" in failed(checks)[0][1]


def test_sys_exit_in_fit_is_reported_not_silent(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:Exits", lambda: tiny_dataset, CPU)
    assert failed(checks)[0][0] == "fit" and "SystemExit" in failed(checks)[0][1]


def test_fit_reading_the_test_split_fails_the_check(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:PeeksAtTest", lambda: tiny_dataset, CPU)
    assert failed(checks)[0][0] == "fit" and "test split" in failed(checks)[0][1]


def test_batch_dependent_inference_is_caught(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:BatchDependent", lambda: tiny_dataset, CPU)
    assert [step for step, _ in failed(checks)] == ["batch invariance"]


def test_missing_presets_fail_the_interface_check(plugin_paths):
    never = lambda: pytest.fail("dataset must not be built for an invalid plugin")  # noqa: E731
    checks = check_plugin("broken_plugin:MissingPreset", never, CPU)
    assert failed(checks)[0][0] == "interface" and "'paper'" in failed(checks)[0][1]


def test_not_a_method_and_missing_module_fail_early(plugin_paths):
    never = lambda: pytest.fail("dataset must not be built for an invalid plugin")  # noqa: E731
    checks = check_plugin("broken_plugin:NotAMethod", never, CPU)
    assert not checks[-1].ok and "not a subclass" in checks[-1].message
    checks = check_plugin("no_such_module_xyz:Thing", never, CPU)
    assert len(checks) == 1 and not checks[0].ok and "ModuleNotFoundError" in checks[0].message


def test_cli_plugin_check_exit_codes(plugin_paths, tiny_dataset):
    runner = CliRunner()
    ok = runner.invoke(app, ["plugin", "check", "nfbench_nearest_centroid:NearestCentroid"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["plugin", "check", "broken_plugin:WrongShape"])
    assert bad.exit_code == 1 and "FAIL" in bad.output


def _fake_distribution(tmp_path, monkeypatch, group, name, module_source):
    dist = tmp_path / "fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{name} = fake_plugin_mod:Fancy\n")
    (tmp_path / "fake_plugin_mod.py").write_text(textwrap.dedent(module_source))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("fake_plugin_mod", None)


def test_entry_point_group_adds_a_method(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, monkeypatch, "nfbench.test_methods", "fancy", "class Fancy(dict):\n    pass\n")
    registry = Registry("method", base=dict, entry_point_group="nfbench.test_methods")
    registry.register_lazy("builtin", "builtins:dict")
    assert registry.names() == ["builtin", "fancy"]
    assert registry.get("fancy").__name__ == "Fancy"
    with pytest.raises(KeyError, match="did you mean 'fancy'"):
        registry.get("fanci")


def test_plugin_colliding_with_a_builtin_is_an_error_naming_both(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, monkeypatch, "nfbench.test_methods", "builtin", "class Fancy(dict):\n    pass\n")
    registry = Registry("method", entry_point_group="nfbench.test_methods")
    registry.register_lazy("builtin", "builtins:dict")
    with pytest.raises(RegistryError, match=r"'builtin'.*fake_plugin_mod:Fancy.*collides.*builtins:dict"):
        registry.names()


def test_registry_checks_the_base_class_at_lazy_lookup(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, monkeypatch, "nfbench.test_methods", "fancy", "class Fancy:\n    pass\n")
    registry = Registry("method", base=dict, entry_point_group="nfbench.test_methods")
    with pytest.raises(RegistryError, match="not a subclass of builtins.dict"):
        registry.get("fancy")
    with pytest.raises(RegistryError, match="not a subclass"):
        registry.register("other", object)
