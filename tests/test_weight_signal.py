"""The weight-signal benchmark runs on a small independent-init image build and reports its probes."""

import pytest
import torch

from nfbench.bench import weight_signal
from nfbench.fitting.build import BuildRequest, build_dataset


@pytest.mark.parametrize("scheme", ["siren", "dwsnet"])
def test_weight_signal_probes_pixels_statistics_and_displacements(isolated_home, tmp_path, capsys, scheme):
    path, complete = build_dataset(
        BuildRequest("digits", limit=6, steps=20, init="independent", init_scheme=scheme, out=tmp_path / "digits"),
        torch.device("cpu"),
    )
    assert complete
    weight_signal.main(["--dataset", str(path), "--train", "40", "--test", "30", "--side", "8"])
    out = capsys.readouterr().out
    assert "layers.0.weight: median |theta - theta0| / |theta0| = " in out  # inits are re-drawn for the displacement
    moved = float(out.split("layers.0.weight: median |theta - theta0| / |theta0| = ")[1].split()[0])
    assert 0 < moved < 0.5  # a re-drawn init that missed the real one would sit about sqrt(2) away
    assert ("layers.0.bias: starts at 0; median |theta| = " in out) == (scheme == "dwsnet")  # zero-init biases
    for probe in ("decoded pixels", "weight statistics", "statistics of (weights - own init)"):
        line = next(x for x in out.splitlines() if f"linear probe on {probe}:" in x)
        assert 0 <= float(line.split("test accuracy ")[1].split()[0]) <= 100
