"""nfbench's NFN layers against the released ``nfn`` package, with parameters copied across.

The package is channel-first and flattens (channel, neuron) pairs channel-major; ours is
channel-last and neuron-major. Copying a parameter therefore reorders the input (and,
for the HNP first and last layers, output) columns of the blocks that carry whole
rows of input or output weights; everything else copies as is.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from nfbench.weightspace.features import WeightSpaceFeatures
from nfbench.weightspace.nfn import HNPLinear, NPLinear, hnp_pool, np_pool, pooled_size

nfn_layers = pytest.importorskip("nfn.layers")
nfn_common = pytest.importorskip("nfn.common")

C_IN, C_OUT, BATCH = 3, 4, 5


def random_features(sizes: list[int], channels: int, seed: int = 0) -> WeightSpaceFeatures:
    gen = torch.Generator().manual_seed(seed)
    weights = tuple(torch.randn(BATCH, o, i, channels, generator=gen) for i, o in zip(sizes[:-1], sizes[1:]))
    biases = tuple(torch.randn(BATCH, o, channels, generator=gen) for o in sizes[1:])
    return WeightSpaceFeatures(weights, biases)


def to_package(f: WeightSpaceFeatures):
    return nfn_common.WeightSpaceFeatures(
        [w.permute(0, 3, 1, 2) for w in f.weights], [b.permute(0, 2, 1) for b in f.biases]
    )


def from_package(f) -> WeightSpaceFeatures:
    return WeightSpaceFeatures(tuple(w.permute(0, 2, 3, 1) for w in f.weights), tuple(b.permute(0, 2, 1) for b in f.biases))


def order(blocks: list[int], channels: int) -> Tensor:
    """Package position of each of our positions, for concatenated blocks of ``n`` neurons x ``channels``.

    A block of one neuron is a plain channel group (same order in both); a block of ``n``
    is ours neuron-major (``a * C + c``) and the package's channel-major (``c * n + a``).
    """
    index, start = [], 0
    for n in blocks:
        a, c = torch.meshgrid(torch.arange(n), torch.arange(channels), indexing="ij")
        index.append(start + (c * n + a).flatten())
        start += n * channels
    return torch.cat(index)


def copy(ours: nn.Linear, theirs: nn.Module, cols: Tensor | None = None, rows: Tensor | None = None) -> None:
    w = theirs.weight.detach().reshape(theirs.weight.shape[0], -1)
    b = theirs.bias.detach()
    if cols is not None:
        w = w[:, cols]
    if rows is not None:
        w, b = w[rows], b[rows]
    ours.weight.data.copy_(w)
    ours.bias.data.copy_(b)


def spec_of(sizes: list[int]):
    return nfn_common.network_spec_from_wsfeat(to_package(random_features(sizes, 1)), set_all_dims=True)


def assert_same(ours: WeightSpaceFeatures, theirs) -> None:
    theirs = from_package(theirs)
    for a, b in zip(ours.weights + ours.biases, theirs.weights + theirs.biases):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sizes", [[2, 6, 1], [3, 5, 7, 2], [2, 4, 4, 4, 3]], ids=str)
def test_np_linear_matches_the_released_layer(sizes: list[int]) -> None:
    theirs = nfn_layers.NPLinear(spec_of(sizes), C_IN, C_OUT)
    ours = NPLinear(len(sizes) - 1, C_IN, C_OUT)
    for i in range(len(sizes) - 1):
        for mine, name in zip(
            (ours.point, ours.row, ours.col, ours.glob, ours.bias_col, ours.bias_glob), ("", "_r", "_c", "_rc", None, None)
        ):
            if name is not None:
                copy(mine[i], getattr(theirs, f"layer_{i}{name}"))
        copy(ours.bias_col[i], getattr(theirs, f"bias_{i}"))
        copy(ours.bias_glob[i], getattr(theirs, f"bias_{i}_rc"))
    f = random_features(sizes, C_IN)
    assert_same(ours(f), theirs(to_package(f)))


@pytest.mark.parametrize("sizes", [[2, 6, 1], [3, 5, 7, 2], [2, 4, 4, 4, 3]], ids=str)
def test_hnp_linear_matches_the_released_layer(sizes: list[int]) -> None:
    theirs = nfn_layers.HNPLinear(spec_of(sizes), C_IN, C_OUT)
    ours = HNPLinear(sizes, C_IN, C_OUT)
    n_in, n_out, n_layers = sizes[0], sizes[-1], len(sizes) - 1
    two = n_layers == 2
    glob = order([1] * (2 * n_layers) + [n_in, n_out, n_out], C_IN)
    first = order([n_in, 1, 1] + ([n_out] if two else []), C_IN)
    first_out = order([n_in], C_OUT)
    copy(ours.first_w, theirs.w0_rpt, first, first_out)
    copy(ours.first_w_glob, theirs.w0_rbdcst, glob, first_out)
    copy(ours.first_b, theirs.bias_0, first)
    copy(ours.first_b_glob, theirs.bias_0_rc, glob)
    last = order([n_out, 1] + ([n_in] if two else []), C_IN)
    last_out = order([n_out], C_OUT)
    copy(ours.last_w, theirs.wfin_cpt, last, last_out)
    copy(ours.last_w_glob, theirs.wfin_cbdcst, glob, last_out)
    copy(ours.last_b_glob, theirs.bias_fin_rc, glob, last_out)
    for j, i in enumerate(range(1, n_layers - 1)):
        rows = order([1, 1, 1] + ([n_in] if i == 1 else []), C_IN)
        cols = order([1, 1, 1] + ([n_out] if i == n_layers - 2 else []), C_IN)
        copy(ours.point[j], getattr(theirs, f"layer_{i}"))
        copy(ours.row[j], getattr(theirs, f"layer_{i}_r"), rows)
        copy(ours.col[j], getattr(theirs, f"layer_{i}_c"), cols)
        copy(ours.glob[j], getattr(theirs, f"layer_{i}_rc"), glob)
        copy(ours.bias_col[j], getattr(theirs, f"bias_{i}"), cols)
        copy(ours.bias_glob[j], getattr(theirs, f"bias_{i}_rc"), glob)
    f = random_features(sizes, C_IN)
    assert_same(ours(f), theirs(to_package(f)))


@pytest.mark.parametrize("sizes", [[2, 6, 1], [3, 5, 7, 2]], ids=str)
def test_pools_match_the_released_pools(sizes: list[int]) -> None:
    f = random_features(sizes, C_IN)
    spec = spec_of(sizes)
    for mode, ours, theirs in (("np", np_pool, nfn_layers.NPPool), ("hnp", hnp_pool, nfn_layers.HNPPool)):
        pooled = ours(f)
        assert pooled.shape == (BATCH, pooled_size(mode, sizes), C_IN)
        torch.testing.assert_close(pooled, theirs(spec)(to_package(f)).transpose(1, 2))
