import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from nfbench.cli.app import app
from nfbench.plugin_check import check_plugin
from nfbench.api.registry import Registry

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "nfbench-plugin"
CPU = torch.device("cpu")


@pytest.fixture
def plugin_paths(monkeypatch):
    monkeypatch.syspath_prepend(str(TEMPLATE))
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugins"))


def test_template_plugin_passes_every_check(plugin_paths, tiny_dataset):
    checks = check_plugin("nfbench_nearest_centroid:NearestCentroid", lambda: tiny_dataset, CPU)
    assert [c.step for c in checks] == ["import", "interface", "setup", "fit", "state_dict round trip", "task classify", "task retrieve"]
    assert all(c.ok for c in checks), checks


def test_wrong_output_shape_is_reported(plugin_paths, tiny_dataset):
    checks = check_plugin("broken_plugin:WrongShape", lambda: tiny_dataset, CPU)
    failed = [c for c in checks if not c.ok]
    assert [c.step for c in failed] == ["task classify"]
    assert "returned shape" in failed[0].message


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


def test_entry_point_group_adds_a_method(tmp_path, monkeypatch):
    dist = tmp_path / "fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [nfbench.test_methods]
        fancy = fake_plugin_mod:Fancy
    """))
    (tmp_path / "fake_plugin_mod.py").write_text("class Fancy:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("method", entry_point_group="nfbench.test_methods")
    registry.register_lazy("builtin", "builtins:dict")
    assert registry.names() == ["builtin", "fancy"]
    assert registry.get("fancy").__name__ == "Fancy"
    with pytest.raises(KeyError, match="did you mean 'fancy'"):
        registry.get("fanci")
    sys.modules.pop("fake_plugin_mod", None)
