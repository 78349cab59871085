"""The command line as a user types it (in-process through typer's runner)."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from nfbench.cli import app as app_module
from nfbench.store import layout

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app_module.app, list(args))


def invoke_main(monkeypatch, *args: str) -> int:
    """Through ``main()``, which turns expected errors into one line and exit code 2."""
    monkeypatch.setattr("sys.argv", ["nfbench", *args])
    with pytest.raises(SystemExit) as exc:
        app_module.main()
    return exc.value.code


def test_data_list_shows_every_dataset():
    result = invoke("data", "list")
    assert result.exit_code == 0
    for name in ("procshapes", "digits", "modelnet40", "modelnet10", "manifold40", "shrec16", "shapenet10", "scannet10"):
        assert name in result.output


def test_unknown_dataset_suggests_closest(monkeypatch, capsys):
    code = invoke_main(monkeypatch, "data", "build", "procshape", "--preset", "tiny")
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'procshapes'" in err and "Traceback" not in err


def test_missing_root_is_one_clear_line(monkeypatch, capsys, tmp_path):
    code = invoke_main(monkeypatch, "data", "build", "shrec16", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "nowhere" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_info_and_verify_on_a_built_dataset(tiny_dataset, tmp_path):
    info = invoke("data", "info", str(tiny_dataset.root))
    assert info.exit_code == 0
    assert "INRs per class and split" in info.output and "chamfer" in info.output and "353" in info.output
    ok = invoke("data", "verify", str(tiny_dataset.root))
    assert ok.exit_code == 0 and "OK" in ok.output
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset.root, broken)
    meta = json.loads((broken / layout.META).read_text())
    meta["init_hash"] = "0" * 64
    (broken / layout.META).write_text(json.dumps(meta))
    bad = invoke("data", "verify", str(broken))
    assert bad.exit_code == 1 and "init hash" in bad.output


def test_build_by_name_resolves_under_home(isolated_home):
    result = invoke("data", "build", "digits", "--limit", "2", "--steps", "5")
    assert result.exit_code == 0, result.output
    info = invoke("data", "info", "digits-limit2-steps5")
    assert info.exit_code == 0 and "psnr" in info.output


def test_run_writes_record_and_leaderboard_builds(tiny_dataset, tmp_path):
    records = tmp_path / "records"
    result = invoke("run", "--method", "stats", "--task", "classify", "--dataset", str(tiny_dataset.root),
                    "--preset", "tiny", "--seed", "0", "--seed", "1", "--out", str(records))
    assert result.exit_code == 0, result.output
    assert "mean ± std" in result.output and "accuracy" in result.output
    written = sorted(p.name for p in records.glob("procshapes/*/classify/*.json"))
    assert written == ["stats.tiny.seed0.json", "stats.tiny.seed1.json"]
    board = invoke("leaderboard", "build", "--records", str(records), "--out", str(tmp_path / "lb"))
    assert board.exit_code == 0
    page = (tmp_path / "lb" / "procshapes.md").read_text()
    assert "| 1 | stats | tiny |" in page


def test_run_rejects_unsupported_task(monkeypatch, capsys, tiny_dataset):
    code = invoke_main(monkeypatch, "run", "--method", "stats", "--task", "segment", "--dataset", str(tiny_dataset.root))
    assert code == 2 and "segment" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args,expected",
    [
        (("--method", "nf2vc"), "did you mean 'nf2vec'"),
        (("--method", "mlp", "--task", "clasify"), "did you mean 'classify'"),
        (("--method", "mlp", "--preset", "cpuu"), "did you mean 'cpu'"),
    ],
)
def test_run_checks_names_before_building_the_default_dataset(monkeypatch, capsys, isolated_home, args, expected):
    code = invoke_main(monkeypatch, "run", *args)
    assert code == 2 and expected in capsys.readouterr().err
    assert not (isolated_home / "datasets" / "procshapes").exists()  # the default build never started


@pytest.mark.parametrize("kind,expected", [("methods", "nf2vec"), ("datasets", "procshapes"), ("tasks", "map@10")])
def test_list(kind, expected):
    result = invoke("list", kind)
    assert result.exit_code == 0 and expected in result.output
