"""The weight-space cost benchmark: its extrapolation, and one tiny run end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from nfbench.bench.weightspace_cost import Cost, power_fit, table, weight_space_methods
from nfbench.methods import METHODS


def test_power_fit_recovers_a_power_law() -> None:
    a, k = power_fit([32, 64, 128], [3 * w**2.0 for w in (32, 64, 128)])
    assert a == pytest.approx(3) and k == pytest.approx(2)


def test_every_supervised_weight_space_classifier_is_costed_and_nf2vec_is_not() -> None:
    names = weight_space_methods()
    assert {"mlp", "stats", "mlp-perm", "nfn-np", "nfn-hnp"} <= set(names) and "nf2vec" not in names
    assert all(METHODS.get(n).card.training == "supervised" for n in names)


def test_a_tiny_run_writes_measured_and_extrapolated_rows(tmp_path: Path, capsys) -> None:
    from nfbench.bench.weightspace_cost import main

    out = tmp_path / "cost.md"
    main(["--methods", "stats", "--preset", "tiny", "--widths", "4,8", "--batch", "4", "--repeats", "1", "--out", str(out)])
    page = out.read_text()
    assert "| stats | 4 | 2," in page and "| stats | 8 | 2," in page  # measured rows with their parameter counts
    assert "Command: `python -m nfbench.bench.weightspace_cost" in page


def test_summary_extrapolates_from_the_two_widest_widths_and_says_so() -> None:
    rows = [Cost("m", w, 10, 0.001 * w**2, 2.0 * w**2) for w in (16, 64, 128)]
    rows[0].peak_mb = 500.0  # a fixed-cost-dominated small width must not bend the law
    page = table({"m": rows}, {"m": ["256: RuntimeError: out of memory"]}, budget_gb=24)
    summary = page.splitlines()[2]
    # 2 MB * 512^2 = 512 GB at the paper width; 24 GB is reached at width sqrt(24 * 1024 / 2) ~ 111
    assert "~512.00 GB (extrapolated)" in summary and "~111" in summary and "| 2.00 |" in summary
    assert "| m | 256: RuntimeError: out of memory |" in page
