"""The init-signal diagnostic: the input share of an embedding, and a run over registered methods."""

import pytest
import torch

from nfbench.bench.init_signal import init_shares, input_share, parse_entry
from nfbench.errors import ConfigError


def test_input_share_is_zero_for_one_vector_and_one_for_centred_embeddings():
    e = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert input_share(torch.ones(10, 8) * 3) == 0
    assert input_share(e - e.mean(0)) == pytest.approx(1)
    assert input_share(e + 100) < 1e-3  # a constant offset dominates: what a collapsed head looks like


def test_parse_entry_splits_overrides():
    assert parse_entry("nft") == ("nft", [])
    assert parse_entry("nft:fourier_scale=30,blocks=2") == ("nft", ["fourier_scale=30", "blocks=2"])


def test_init_shares_builds_each_seed_like_a_run(tiny_dataset, one_thread):
    flat = init_shares(tiny_dataset, "mlp", 2, 2, "tiny", torch.device("cpu"))
    overridden = init_shares(tiny_dataset, "nft:fourier_scale=30", 1, 2, "tiny", torch.device("cpu"))
    assert len(flat) == 2 and flat[0] != flat[1]  # seeds draw different networks
    assert all(0 < s <= 1 for s in flat + overridden)


def test_init_shares_refuses_a_method_without_a_classifier_network(tiny_dataset):
    with pytest.raises(ConfigError, match="deepsdf is not a supervised classifier"):
        init_shares(tiny_dataset, "deepsdf", 1, 2, "tiny", torch.device("cpu"))
