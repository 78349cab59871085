"""Neural functional layers (Zhou et al., Permutation Equivariant Neural Functionals, NeurIPS 2023).

A linear layer on weight-space features that commutes with the permutation group is a sum
of a few kinds of terms: each entry mapped on its own, row and column means broadcast back,
the neighbouring layers' means and biases that share a neuron index, and global means.
``NP`` assumes every neuron, inputs and outputs included, may be permuted (fewer terms);
``HNP`` fixes the input and output neurons, so entries touching them keep their index and
are mixed as whole vectors. The term sets are those of the released ``nfn`` package
(including its choice to leave the second-to-last bias out of the last layer's terms), so
the layers compute what the published numbers were measured with; a test checks that
against the package with shared parameters.

Features are channel-last (``nfbench.weightspace.features``), so every term is an
``nn.Linear`` over concatenated channel groups.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.weightspace.features import WeightSpaceFeatures


def _uniform_init(*linears: nn.Linear) -> None:
    """Init the terms summed into one output as one linear layer over all their inputs would be."""
    bound = 1 / math.sqrt(sum(lin.in_features for lin in linears))
    for lin in linears:
        nn.init.uniform_(lin.weight, -bound, bound)
        if lin.bias is not None:
            nn.init.uniform_(lin.bias, -bound, bound)


def _add_layer_terms(module: nn.Module, widths: list[tuple[int, int]], c_in: int, c_out: int, n_global: int) -> None:
    """The terms of every weight whose rows and columns are both permuted, one per ``(row, column)`` input width.

    A weight's output is pointwise + row broadcast + column broadcast + global; its bias's is
    column broadcast + global. Each term list becomes a ``ModuleList`` on ``module``.
    """
    names = ("point", "row", "col", "glob", "bias_col", "bias_glob")
    for name in names:
        setattr(module, name, nn.ModuleList())
    for n_row, n_col in widths:
        w_terms = (nn.Linear(c_in, c_out), nn.Linear(n_row, c_out), nn.Linear(n_col, c_out), nn.Linear(n_global, c_out))
        b_terms = (nn.Linear(n_col, c_out), nn.Linear(n_global, c_out))
        _uniform_init(*w_terms)
        _uniform_init(*b_terms)
        for name, term in zip(names, w_terms + b_terms):
            getattr(module, name).append(term)


def _flat(x: Tensor) -> Tensor:
    """``(B, n, C) -> (B, n * C)``."""
    return x.flatten(1)


class _Means:
    """The means every term draws on, computed once per forward."""

    def __init__(self, f: WeightSpaceFeatures) -> None:
        self.rows = [w.mean(1) for w in f.weights]  # (B, n_in, C): mean over a weight's output neurons
        self.cols = [w.mean(2) for w in f.weights]  # (B, n_out, C): mean over its input neurons
        self.alls = [w.mean((1, 2)) for w in f.weights]  # (B, C)
        self.bias = [b.mean(1) for b in f.biases]  # (B, C)


class NPLinear(nn.Module):
    """Equivariant to permutations of every layer's neurons, inputs and outputs included."""

    def __init__(self, n_layers: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.n_layers, self.c_in, self.c_out = n_layers, c_in, c_out
        n_global = 2 * n_layers * c_in
        widths = [((1 + (2 if i > 0 else 0)) * c_in, (2 + (1 if i < n_layers - 1 else 0)) * c_in) for i in range(n_layers)]
        _add_layer_terms(self, widths, c_in, c_out, n_global)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        m = _Means(f)
        g = torch.cat(m.alls + m.bias, dim=-1)
        weights, biases = [], []
        for i, (w, b) in enumerate(zip(f.weights, f.biases)):
            rows = [m.rows[i]] + ([m.cols[i - 1], f.biases[i - 1]] if i > 0 else [])
            cols = torch.cat([m.cols[i], b] + ([m.rows[i + 1]] if i < self.n_layers - 1 else []), dim=-1)
            glob = self.glob[i](g)
            weights.append(
                self.point[i](w) + self.row[i](torch.cat(rows, dim=-1))[:, None] + self.col[i](cols)[:, :, None] + glob[:, None, None]
            )
            biases.append(self.bias_col[i](cols) + self.bias_glob[i](g)[:, None])
        return WeightSpaceFeatures(tuple(weights), tuple(biases))


class HNPLinear(nn.Module):
    """Equivariant to permutations of hidden neurons only; input and output neurons keep their index.

    ``sizes`` are the neuron counts ``[n_in, hidden..., n_out]`` (at least one hidden layer).
    """

    def __init__(self, sizes: list[int], c_in: int, c_out: int) -> None:
        super().__init__()
        if len(sizes) < 3:
            raise ValueError(f"HNPLinear needs at least one hidden layer, got neuron counts {sizes}")
        self.sizes, self.c_in, self.c_out = list(sizes), c_in, c_out
        n_layers = len(sizes) - 1
        self.n_layers = n_layers
        n_in, n_out = sizes[0], sizes[-1]
        n_global = (2 * n_layers + n_in + 2 * n_out) * c_in
        # First layer: everything about hidden neuron j of layer 0, mixed into its n_in weights and its bias.
        n_first = n_in + 2 + (n_out if n_layers == 2 else 0)
        self.first_w, self.first_w_glob = nn.Linear(n_first * c_in, n_in * c_out), nn.Linear(n_global, n_in * c_out)
        self.first_b, self.first_b_glob = nn.Linear(n_first * c_in, c_out), nn.Linear(n_global, c_out)
        # Last layer: everything about hidden neuron k feeding the outputs; its bias sees only global terms.
        n_last = n_out + 1 + (n_in if n_layers == 2 else 0)
        self.last_w, self.last_w_glob = nn.Linear(n_last * c_in, n_out * c_out), nn.Linear(n_global, n_out * c_out)
        self.last_b_glob = nn.Linear(n_global, n_out * c_out)
        _uniform_init(self.first_b, self.first_b_glob)
        _uniform_init(self.last_w, self.last_w_glob)
        widths = [
            ((3 + (n_in if i == 1 else 0)) * c_in, (3 + (n_out if i == n_layers - 2 else 0)) * c_in) for i in range(1, n_layers - 1)
        ]
        _add_layer_terms(self, widths, c_in, c_out, n_global)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        m = _Means(f)
        last = self.n_layers - 1
        batch, n_in, n_out, c = f.weights[0].shape[0], self.sizes[0], self.sizes[-1], self.c_out
        first_full = _flat_rows(f.weights[0])  # (B, hidden_0, n_in * C): each hidden neuron's input weights
        last_full = _flat_rows(f.weights[last].transpose(1, 2))  # (B, hidden_last, n_out * C): its output weights
        g = torch.cat(m.alls + m.bias + [_flat(m.rows[0]), _flat(m.cols[last]), _flat(f.biases[last])], dim=-1)
        weights, biases = [], []

        first = [first_full, m.rows[1], f.biases[0]] + ([last_full] if self.n_layers == 2 else [])
        first_in = torch.cat(first, dim=-1)
        weights.append(
            (self.first_w(first_in) + self.first_w_glob(g)[:, None]).view(batch, -1, n_in, c)
        )
        biases.append(self.first_b(first_in) + self.first_b_glob(g)[:, None])

        for j, i in enumerate(range(1, last)):
            rows = [m.rows[i], m.cols[i - 1], f.biases[i - 1]] + ([first_full] if i == 1 else [])
            cols = torch.cat([m.cols[i], f.biases[i], m.rows[i + 1]] + ([last_full] if i == last - 1 else []), dim=-1)
            weights.append(
                self.point[j](f.weights[i])
                + self.row[j](torch.cat(rows, dim=-1))[:, None]
                + self.col[j](cols)[:, :, None]
                + self.glob[j](g)[:, None, None]
            )
            biases.append(self.bias_col[j](cols) + self.bias_glob[j](g)[:, None])

        last_in = torch.cat([last_full, m.cols[last - 1]] + ([first_full] if self.n_layers == 2 else []), dim=-1)
        per_col = (self.last_w(last_in) + self.last_w_glob(g)[:, None]).view(batch, -1, n_out, c)
        weights.append(per_col.transpose(1, 2))
        biases.append(self.last_b_glob(g).view(batch, n_out, c))
        return WeightSpaceFeatures(tuple(weights), tuple(biases))


def _flat_rows(w: Tensor) -> Tensor:
    """``(B, rows, cols, C) -> (B, rows, cols * C)``: each row as one vector."""
    return w.flatten(2)


def np_pool(f: WeightSpaceFeatures) -> Tensor:
    """``(B, 2L, C)``: the mean of every weight and bias, invariant to all neuron permutations."""
    items = []
    for w, b in zip(f.weights, f.biases):
        items += [w.mean((1, 2))[:, None], b.mean(1)[:, None]]
    return torch.cat(items, dim=1)


def hnp_pool(f: WeightSpaceFeatures) -> Tensor:
    """``(B, K, C)``: means over hidden neurons only, so entries at input and output neurons stay apart."""
    last = f.n_layers - 1
    items = []
    for i, (w, b) in enumerate(zip(f.weights, f.biases)):
        if i == 0:
            items.append(w.mean(1))  # per input neuron
        elif i == last:
            items.append(w.mean(2))  # per output neuron
        else:
            items.append(w.mean((1, 2))[:, None])
        items.append(b if i == last else b.mean(1)[:, None])
    return torch.cat(items, dim=1)


def pooled_size(mode: str, sizes: list[int]) -> int:
    """Rows ``K`` of the pool of ``mode`` for an MLP with neuron counts ``sizes``."""
    n_layers = len(sizes) - 1
    if mode == "np":
        return 2 * n_layers
    return sizes[0] + 1 + 2 * (n_layers - 2) + 2 * sizes[-1]


class FourierFeatures(nn.Module):
    """Each scalar entry -> ``[sin(2 pi x B), cos(2 pi x B)]`` with fixed Gaussian frequencies ``B``.

    NFN's input encoding: weights span orders of magnitude that a linear layer mixes badly.
    """

    def __init__(self, c_in: int, size: int, scale: float, generator: torch.Generator) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.randn(c_in, size, generator=generator) * scale)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        def encode(x: Tensor) -> Tensor:
            z = 2 * math.pi * (x @ self.freqs)
            return torch.cat([torch.sin(z), torch.cos(z)], dim=-1)

        return f.map(encode)


class ChannelDropout(nn.Module):
    """Drops whole channels of a weight matrix per INR (``Dropout2d``) and single bias entries."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        if not self.training or self.p == 0:
            return f
        weights = tuple(w * F.dropout(w.new_ones(w.shape[0], 1, 1, w.shape[-1]), self.p) for w in f.weights)
        return WeightSpaceFeatures(weights, tuple(F.dropout(b, self.p) for b in f.biases))


class Pointwise(nn.Module):
    """An elementwise function on every feature (the nonlinearity between equivariant layers)."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        return f.map(self.fn)
