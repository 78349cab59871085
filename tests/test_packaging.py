import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_of_benchmark_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"nfbench", "nfbench.methods", "nfbench.datasets"}
    found |= {f"nfbench.{p.parent.name}" for p in (ROOT / "benchmark").glob("*/__init__.py")}
    assert found == listed
