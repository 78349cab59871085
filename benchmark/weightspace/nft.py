"""Neural functional Transformer layers (Zhou et al., Neural Functional Transformers, NeurIPS 2023).

Weight-space self-attention treats every layer of neurons ``k`` of an MLP as a sequence
axis. The entries that touch neuron layer ``k`` come in vectors indexed by its neurons:
each column of the weight into ``k`` (one per neuron of layer ``k - 1``), the bias of
``k``, and each row of the weight out of ``k`` (one per neuron of layer ``k + 1``). Those
vectors are the tokens of one attention; a token's features are all its entries' channels,
so a dot product sums over the neurons of ``k`` and is unchanged when they are reordered,
while reordering the neighbouring neurons only reorders tokens. Every weight is a column
token of one attention and a row token of the next, and receives both outputs, plus a
layer term: attention among the per-tensor means of the queries, keys and values, whose
output is broadcast over the tensor. This is the released ``nfn.layers.NPAttention``
(shared projections, no output projection), equivariant to permutations of every neuron
layer, inputs and outputs included; ``IOEmbedding`` ties input and output neurons to their
index, leaving the hidden-neuron symmetry of an INR.

A block is pre-norm: ``x + attn(norm(x))``, then ``x + ff(norm(x))`` with a per-tensor
two-layer GELU feed-forward, as the release's ``Block``. The classifier pools with
``LatentCrossAttention``, the Perceiver head of the release's INR classifier: learned
latent queries attend over every weight and bias entry as one unordered set (invariant to
any reordering of entries, so to every neuron permutation), then self-attend.

Features are channel-last (``nfbench.weightspace.features``); heads split channels
head-major, and the fused ``qkv`` projection holds all queries, then keys, then values.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.weightspace.features import WeightSpaceFeatures


def _attention(q: Tensor, k: Tensor, v: Tensor, dropout: float, training: bool) -> Tensor:
    """Scaled dot-product attention ``(..., T, D)``, dropout on the probabilities (few tokens: plain matmuls)."""
    probs = torch.softmax((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5, dim=-1)
    return F.dropout(probs, dropout, training) @ v


class WeightSpaceSelfAttention(nn.Module):
    """Self-attention over weight space, equivariant to permuting the neurons of every layer.

    ``channels`` stay the same; ``heads`` split them; ``dropout`` drops attention probabilities
    of the neuron-layer attentions (the layer term has only ``2L`` tokens and keeps them all).
    """

    def __init__(self, channels: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels cannot be split into {heads} heads")
        self.channels, self.heads, self.dropout = channels, heads, dropout
        self.qkv = nn.Linear(channels, 3 * channels)  # output rows: all queries, then keys, then values

    def _heads(self, x: Tensor) -> Tensor:
        """``(B, T, n, C)`` tokens -> ``(B, heads, T, n * d)``: each head's part of every token, flattened."""
        batch, tokens, n, _ = x.shape
        if self.heads == 1:
            return x.view(batch, 1, tokens, -1)
        return x.view(batch, tokens, n, self.heads, -1).permute(0, 3, 1, 2, 4).reshape(batch, self.heads, tokens, -1)

    def _merge(self, x: Tensor, n: int) -> Tensor:
        """Inverse of ``_heads``: ``(B, heads, T, n * d) -> (B, T, n, C)``."""
        batch, heads, tokens = x.shape[:3]
        if heads == 1:
            return x.view(batch, tokens, n, -1)
        return x.view(batch, heads, tokens, n, -1).permute(0, 2, 3, 1, 4).flatten(3)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        n, c = f.n_layers, self.channels
        qkv_w = [self.qkv(w) for w in f.weights]  # (B, n_out, n_in, 3C)
        qkv_b = [self.qkv(b)[:, None] for b in f.biases]  # (B, 1, n_out, 3C)
        # Layer term: one token per weight and per bias, the mean of its queries, keys and values,
        # broadcast back over the tensor.
        means = torch.stack([w.mean((1, 2)) for w in qkv_w] + [b.mean((1, 2)) for b in qkv_b], dim=1)[:, :, None]
        q, k, v = (self._heads(means[..., i * c : (i + 1) * c]) for i in range(3))
        layer = self._merge(_attention(q, k, v, 0.0, self.training), 1)[:, :, 0]  # (B, 2L, C)
        weights: list[list[Tensor]] = [[layer[:, i, None, None]] for i in range(n)]
        biases: list[list[Tensor]] = [[layer[:, n + i, None]] for i in range(n)]
        # Neuron layer j = 0 (inputs) .. n (outputs): tokens are vectors over its neurons: the columns of
        # the weight into j, then its bias, then the rows of the weight out of j.
        for j in range(n + 1):
            parts = ([qkv_w[j - 1].transpose(1, 2), qkv_b[j - 1]] if j > 0 else []) + ([qkv_w[j]] if j < n else [])
            q, k, v = (self._heads(torch.cat([p[..., i * c : (i + 1) * c] for p in parts], dim=1)) for i in range(3))
            out = self._merge(_attention(q, k, v, self.dropout, self.training), parts[0].shape[2])  # (B, T, n_j, C)
            start = 0
            if j > 0:
                start = f.weights[j - 1].shape[2]
                weights[j - 1].append(out[:, :start].transpose(1, 2))
                biases[j - 1].append(out[:, start])
                start += 1
            if j < n:
                weights[j].append(out[:, start:])
        return WeightSpaceFeatures(tuple(_total(t) for t in weights), tuple(_total(t) for t in biases))


def _total(terms: list[Tensor]) -> Tensor:
    """The sum of a tensor's terms (broadcast layer term first)."""
    out = terms[0] + terms[1]
    for t in terms[2:]:
        out = out + t
    return out


class WeightSpaceLayerNorm(nn.Module):
    """Layer norm of each entry over its channels, with a scale and shift per weight and per bias tensor.

    The release divides by the unbiased std plus ``eps``; this is the standard layer norm
    (biased variance plus ``eps``, under the root), the same map up to a constant factor
    ``sqrt((C - 1) / C)`` on the learned scale, and several times faster on the CPU.
    """

    def __init__(self, n_layers: int, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps
        self.weight_scale, self.bias_scale = (nn.Parameter(torch.ones(n_layers, channels)) for _ in range(2))
        self.weight_shift, self.bias_shift = (nn.Parameter(torch.zeros(n_layers, channels)) for _ in range(2))

    def _norm(self, x: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
        return F.layer_norm(x, (self.channels,), scale, shift, self.eps)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        return WeightSpaceFeatures(
            tuple(self._norm(w, self.weight_scale[i], self.weight_shift[i]) for i, w in enumerate(f.weights)),
            tuple(self._norm(b, self.bias_scale[i], self.bias_shift[i]) for i, b in enumerate(f.biases)),
        )


class TensorwiseLinear(nn.Module):
    """A channel map applied to every entry, with its own ``nn.Linear`` for each weight and each bias tensor."""

    def __init__(self, n_layers: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.weight_maps = nn.ModuleList(nn.Linear(c_in, c_out) for _ in range(n_layers))
        self.bias_maps = nn.ModuleList(nn.Linear(c_in, c_out) for _ in range(n_layers))

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        return WeightSpaceFeatures(
            tuple(m(w) for m, w in zip(self.weight_maps, f.weights)), tuple(m(b) for m, b in zip(self.bias_maps, f.biases))
        )


class NFTBlock(nn.Module):
    """Pre-norm Transformer block in weight space: self-attention, then a GELU feed-forward, both residual."""

    def __init__(self, n_layers: int, channels: int, heads: int, ff_factor: int, dropout: float) -> None:
        super().__init__()
        self.norm_attn, self.norm_ff = WeightSpaceLayerNorm(n_layers, channels), WeightSpaceLayerNorm(n_layers, channels)
        self.attn = WeightSpaceSelfAttention(channels, heads, dropout)
        self.ff_in = TensorwiseLinear(n_layers, channels, ff_factor * channels)
        self.ff_out = TensorwiseLinear(n_layers, ff_factor * channels, channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        attended = self.attn(self.norm_attn(f))
        f = WeightSpaceFeatures(
            tuple(x + self.drop(a) for x, a in zip(f.weights, attended.weights)),
            tuple(x + self.drop(a) for x, a in zip(f.biases, attended.biases)),
        )
        fed = self.ff_out(self.ff_in(self.norm_ff(f)).map(F.gelu)).map(self.drop)
        return WeightSpaceFeatures(
            tuple(x + y for x, y in zip(f.weights, fed.weights)), tuple(x + y for x, y in zip(f.biases, fed.biases))
        )


class IOEmbedding(nn.Module):
    """Learned embeddings added to the features: one per layer (weights and biases apart), input and output neuron.

    Self-attention alone may exchange input neurons, or output neurons, or whole layers'
    roles where shapes allow; these embeddings tell them apart, so the model keeps only
    the hidden-neuron symmetry of the INR.
    """

    def __init__(self, n_layers: int, n_in: int, n_out: int, channels: int) -> None:
        super().__init__()
        self.layer_weight, self.layer_bias = nn.Parameter(torch.randn(n_layers, channels)), nn.Parameter(torch.randn(n_layers, channels))
        self.inputs, self.outputs = nn.Parameter(torch.randn(n_in, channels)), nn.Parameter(torch.randn(n_out, channels))

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        last = f.n_layers - 1
        weights, biases = [], []
        for i, (w, b) in enumerate(zip(f.weights, f.biases)):
            w, b = w + self.layer_weight[i], b + self.layer_bias[i]
            if i == 0:
                w = w + self.inputs  # (n_in, C): along the input axis
            if i == last:
                w, b = w + self.outputs[:, None], b + self.outputs  # along the output axis
            weights.append(w)
            biases.append(b)
        return WeightSpaceFeatures(tuple(weights), tuple(biases))


def flatten_entries(f: WeightSpaceFeatures) -> Tensor:
    """``(B, N, C)``: every weight and bias entry as one token (weights row-major, then the bias, layer by layer)."""
    items = []
    for w, b in zip(f.weights, f.biases):
        items += [w.flatten(1, 2), b]
    return torch.cat(items, dim=1)


class _Attention(nn.Module):
    """Multi-head self-attention of a set of vectors, projected back to their width."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.to_q = nn.Linear(dim, heads * head_dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * heads * head_dim, bias=False)
        self.to_out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q = self.to_q(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, h, T, d)
        k, v = self.to_kv(x).unflatten(-1, (2, self.heads, -1)).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.to_out(out.transpose(1, 2).flatten(2))


class _CrossAttention(nn.Module):
    """Multi-head attention of latents over a long set of narrow context vectors (the weight entries).

    Keys and values are bias-free projections of the context, so ``q . (K x) = (K^T q) . x``
    and ``sum_j a_j V x_j = V sum_j a_j x_j``: queries are mapped into the context's
    channels and attend over the entries as they are, and only the few pooled vectors are
    projected. Exactly standard cross-attention, without projecting every entry.
    """

    def __init__(self, dim: int, context_dim: int, heads: int, head_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.to_q = nn.Linear(dim, heads * head_dim, bias=False)
        self.to_k = nn.Parameter(torch.empty(heads, head_dim, context_dim))
        self.to_v = nn.Parameter(torch.empty(heads, head_dim, context_dim))
        bound = context_dim**-0.5  # nn.Linear's default init for these projections
        nn.init.uniform_(self.to_k, -bound, bound)
        nn.init.uniform_(self.to_v, -bound, bound)
        self.to_out = nn.Linear(heads * head_dim, dim)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        q = self.to_q(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, h, M, d)
        q = q @ self.to_k  # (B, h, M, C): the query in context space
        ctx = context[:, None].expand(-1, self.heads, -1, -1)  # (B, h, N, C)
        pooled = F.scaled_dot_product_attention(
            q, ctx, ctx, dropout_p=self.dropout if self.training else 0.0, scale=self.head_dim**-0.5
        )  # (B, h, M, C)
        out = pooled @ self.to_v.transpose(1, 2)  # (B, h, M, d)
        return self.to_out(out.transpose(1, 2).flatten(2))


class _FeedForward(nn.Module):
    """Pre-norm GEGLU feed-forward (hidden ``mult * dim``), dropout on its output."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.up, self.down = nn.Linear(dim, 2 * mult * dim), nn.Linear(mult * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.up(self.norm(x)).chunk(2, dim=-1)
        return self.drop(self.down(value * F.gelu(gate)))


class LatentCrossAttention(nn.Module):
    """Invariant head: learned latents cross-attend over all entries, self-attend, and are averaged.

    One cross-attention (with feed-forward) from ``n_latents`` latents of ``latent_dim`` to
    the entries' ``channels``, then ``n_self`` latent self-attention blocks; ``forward``
    returns the layer-normed mean latent (the embedding), ``classify`` maps it to logits.
    """

    def __init__(
        self,
        channels: int,
        n_classes: int,
        *,
        n_latents: int,
        latent_dim: int,
        cross_heads: int,
        cross_head_dim: int,
        latent_heads: int,
        latent_head_dim: int,
        n_self: int,
        ff_mult: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(n_latents, latent_dim))
        self.norm_latents, self.norm_entries = nn.LayerNorm(latent_dim), nn.LayerNorm(channels)
        self.cross = _CrossAttention(latent_dim, channels, cross_heads, cross_head_dim, dropout)
        self.cross_ff = _FeedForward(latent_dim, ff_mult, dropout)
        self.self_norms = nn.ModuleList(nn.LayerNorm(latent_dim) for _ in range(n_self))
        self.self_attns = nn.ModuleList(_Attention(latent_dim, latent_heads, latent_head_dim, dropout) for _ in range(n_self))
        self.self_ffs = nn.ModuleList(_FeedForward(latent_dim, ff_mult, dropout) for _ in range(n_self))
        self.norm_out = nn.LayerNorm(latent_dim)
        self.to_logits = nn.Linear(latent_dim, n_classes)

    def forward(self, f: WeightSpaceFeatures) -> Tensor:
        entries = self.norm_entries(flatten_entries(f))
        x = self.latents.expand(entries.shape[0], -1, -1)
        x = x + self.cross(self.norm_latents(x), entries)
        x = x + self.cross_ff(x)
        for norm, attn, ff in zip(self.self_norms, self.self_attns, self.self_ffs):
            x = x + attn(norm(x))
            x = x + ff(x)
        return self.norm_out(x.mean(1))

    def classify(self, embedding: Tensor) -> Tensor:
        return self.to_logits(embedding)
