"""The fitting-speed benchmark runs end to end on a tiny preset and fills every column."""

from nfbench.bench.fitting_speed import HEADER, layer_matmul_gflops, run


def test_layer_matmul_rate_is_positive_and_finite():
    rate = layer_matmul_gflops(batch=2, n_pts=32, width=8, repeats=1)
    assert 0 < rate < float("inf")


def test_run_fills_one_row_per_chunk_with_every_column():
    result = run("tiny", n_inrs=4, steps=2, chunk_sizes=[2, 4], queries=64, peak=1.0)
    assert [row[0] for row in result.rows] == ["2", "4"]
    assert all(len(row) == len(HEADER) for row in result.rows)
    assert result.peak >= 1.0  # re-measured per row, never below what was passed in
    assert "GFLOP/s" in result.caption
