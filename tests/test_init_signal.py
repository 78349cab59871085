"""The init-signal diagnostic: the input share of an embedding, and a run over registered methods."""

import pytest
import torch

from nfbench.bench.init_signal import init_shares, input_share, parse_entry


def test_input_share_is_zero_for_one_vector_and_one_for_centred_embeddings():
    e = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert input_share(torch.ones(10, 8) * 3) == 0
    assert input_share(e - e.mean(0)) == pytest.approx(1)
    assert input_share(e + 100) < 1e-3  # a constant offset dominates: what a collapsed head looks like


def test_parse_entry_splits_overrides():
    assert parse_entry("nft") == ("nft", [])
    assert parse_entry("nft:fourier_scale=30,blocks=2") == ("nft", ["fourier_scale=30", "blocks=2"])


def test_init_shares_builds_each_seed_like_a_run(tiny_dataset, one_thread):
    flat = init_shares(str(tiny_dataset.root), "mlp", 2, 2, "tiny", torch.device("cpu"))
    overridden = init_shares(str(tiny_dataset.root), "nft:fourier_scale=30", 1, 2, "tiny", torch.device("cpu"))
    assert len(flat) == 2 and flat[0] != flat[1]  # seeds draw different networks
    assert all(0 < s <= 1 for s in flat + overridden)
