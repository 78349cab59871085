"""DWSNet layers (Navon et al., Equivariant Architectures for Learning in Deep Weight Spaces, ICML 2023).

The paper characterizes every affine map on an MLP's weights and biases that commutes with
permutations of its hidden neurons, and shows that each of its blocks (weight->weight,
bias->bias, bias->weight, weight->bias, one per pair of layers) is built from three
operations: pool the input over the neuron axes the output lacks, apply a set layer over
the neuron axis both share (DeepSets, or the product of two DeepSets when a weight maps to
itself), and broadcast over the output's remaining axes. One generic term therefore covers
every block here, instead of a class per case.

Input and output neurons are not permuted, so their axis is no set: it is folded into the
channels and mixed by a full linear map. That is the paper's (and its release's) treatment
of the first and last layers, and it also covers an MLP with one hidden layer, which the
release does not accept. Terms are summed per output before broadcasting, so a layer
writes each full-size weight tensor a few times, not once per term.

Features are channel-last (``nfbench.weightspace.features``); the per-term parameters
follow the released ``DWSNets`` code one to one, so its weights can be copied across, with
one deliberate difference: two kinds of its terms into the last weight (from the weight
before it, and from biases that are not its neighbours) give every output neuron the same
value (a flag that branch never reads, and a case with no flag), where the
characterization, and this code, allow one value per output neuron. With a single output
neuron, as in the release's MNIST INRs, the two are the same map.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.weightspace.features import WeightSpaceFeatures

Reduction = Literal["max", "mean", "sum"]
SetLayerKind = Literal["ds", "sab"]
Axes = tuple[int | None, ...]  # per canonical set axis: the hidden neuron layer it indexes, None for a folded one
Pattern = tuple[bool, ...]  # per canonical set axis of an output: whether a term's result varies along it


def pool(x: Tensor, dims: tuple[int, ...], how: Reduction, keepdim: bool = False) -> Tensor:
    """A symmetric reduction over ``dims``; reducing over no dims leaves ``x`` as it is."""
    if not dims:
        return x
    if how == "max":
        return x.amax(dim=dims, keepdim=keepdim)
    if how == "mean":
        return x.mean(dim=dims, keepdim=keepdim)
    return x.sum(dim=dims, keepdim=keepdim)


class MLPLayout:
    """Which axes of each weight and bias are sets of hidden neurons, and how the others fold into channels.

    ``sizes`` are neuron counts ``[n_in, hidden..., n_out]``. A weight's canonical form is
    ``(B, rows, cols, F)``: a hidden axis keeps its neurons, an input or output axis becomes
    size 1 with its neurons folded into ``F`` (neuron-major); a bias's is ``(B, rows, F)``.
    With every tensor in that form, the same pool / set layer / broadcast rule serves the
    first, middle and last layers alike.
    """

    def __init__(self, sizes: list[int] | tuple[int, ...]) -> None:
        if len(sizes) < 3:
            raise ValueError(
                f"an MLP weight space with a permutation symmetry needs a hidden layer, got neuron counts {list(sizes)}"
            )
        self.sizes = tuple(sizes)
        self.n_layers = len(sizes) - 1

    def _set(self, k: int) -> int | None:
        return k if 0 < k < self.n_layers else None

    def weight_axes(self, layer: int) -> Axes:
        return (self._set(layer + 1), self._set(layer))

    def bias_axes(self, layer: int) -> Axes:
        return (self._set(layer + 1),)

    def weight_fold(self, layer: int) -> int:
        """Neurons folded into each channel of weight ``layer`` (its inputs, its outputs, or none)."""
        if layer == 0:
            return self.sizes[0]
        return self.sizes[-1] if layer == self.n_layers - 1 else 1

    def bias_fold(self, layer: int) -> int:
        return self.sizes[-1] if layer == self.n_layers - 1 else 1

    def set_sizes(self, axes: Axes) -> tuple[int, ...]:
        return tuple(1 if k is None else self.sizes[k] for k in axes)

    def fold(self, f: WeightSpaceFeatures) -> tuple[list[Tensor], list[Tensor]]:
        last = self.n_layers - 1
        weights = [
            w.flatten(2).unsqueeze(2) if i == 0 else w.transpose(1, 2).flatten(2).unsqueeze(1) if i == last else w
            for i, w in enumerate(f.weights)
        ]
        biases = list(f.biases[:-1]) + [f.biases[-1].flatten(1).unsqueeze(1)]
        return weights, biases

    def unfold_weights(self, weights: list[Tensor]) -> tuple[Tensor, ...]:
        last, n_in, n_out = self.n_layers - 1, self.sizes[0], self.sizes[-1]
        return tuple(
            w.squeeze(2).unflatten(2, (n_in, -1)) if i == 0
            else w.squeeze(1).unflatten(2, (n_out, -1)).transpose(1, 2) if i == last
            else w
            for i, w in enumerate(weights)
        )  # fmt: skip

    def unfold_biases(self, biases: list[Tensor]) -> tuple[Tensor, ...]:
        return (*biases[:-1], biases[-1].squeeze(1).unflatten(1, (self.sizes[-1], -1)))


class DeepSetsLayer(nn.Module):
    """``Gamma x_i - Lambda pool(x)`` on ``(B, n, F)``: the linear layer equivariant to one set's permutations."""

    def __init__(self, f_in: int, f_out: int, reduction: Reduction) -> None:
        super().__init__()
        self.reduction = reduction
        self.gamma = nn.Linear(f_in, f_out)
        self.lam = nn.Linear(f_in, f_out, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.gamma(x) - self.lam(pool(x, (1,), self.reduction, keepdim=True))


class SetAttentionBlock(nn.Module):
    """Set Transformer's SAB without layer norm, the set layer of the released MNIST runs.

    Still permutation equivariant, but not linear: the release swaps it in for DeepSets in
    every term over one shared neuron axis. Attention logits are scaled by the full width,
    not the head width, as in the Set Transformer code the release took it from.
    """

    def __init__(self, f_in: int, f_out: int, heads: int) -> None:
        super().__init__()
        if f_out % heads:
            raise ValueError(f"{f_out} channels do not split into {heads} heads")
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(f_in, f_out), nn.Linear(f_in, f_out), nn.Linear(f_in, f_out)
        self.o = nn.Linear(f_out, f_out)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.q(x), self.k(x), self.v(x)

        def split(t: Tensor) -> Tensor:
            return t.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, H, n, F / H)

        mixed = F.scaled_dot_product_attention(split(q), split(k), split(v), scale=1 / math.sqrt(q.shape[-1]))
        out = q + mixed.transpose(1, 2).flatten(2)
        return out + F.relu(self.o(out))


class KroneckerSetLayer(nn.Module):
    """A weight to itself: two independent sets (its output and input neurons), so the product of two DeepSets.

    Four terms (each entry, and the pools over rows, over columns and over both), averaged as
    the release does, so the term's scale does not grow with their number.
    """

    def __init__(self, f_in: int, f_out: int, reduction: Reduction) -> None:
        super().__init__()
        self.reduction = reduction
        self.point, self.over_rows, self.over_cols, self.over_both = (nn.Linear(f_in, f_out) for _ in range(4))

    def forward(self, x: Tensor, pooled: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
        """``pooled``: ``x`` already pooled over rows, columns and both (without kept dims), to reuse."""
        r = self.reduction
        rows, cols, both = pooled if pooled is not None else (pool(x, (1,), r), pool(x, (2,), r), pool(x, (1, 2), r))
        return (
            self.point(x) + self.over_rows(rows)[:, None] + self.over_cols(cols)[:, :, None] + self.over_both(both)[:, None, None]
        ) / 4


class Term(nn.Module):
    """One input tensor to one output tensor: pool the axes the output lacks, a set layer over the shared one.

    The result varies only along the output's axes in ``pattern``; broadcasting over the
    rest is left to the caller, which first sums every term of the same pattern.
    """

    def __init__(
        self, in_axes: Axes, out_axes: Axes, f_in: int, f_out: int, set_layer: SetLayerKind, reduction: Reduction, heads: int
    ) -> None:
        super().__init__()
        shared = [k for k in in_axes if k is not None and k in out_axes]
        self.pool_dims = tuple(1 + a for a, k in enumerate(in_axes) if k not in shared)
        self.pattern: Pattern = tuple(k is not None and k in shared for k in out_axes)
        if len(shared) == 2:  # only a middle weight to itself shares both axes, in the same positions
            self.op: nn.Module = KroneckerSetLayer(f_in, f_out, reduction)
        elif len(shared) == 1:
            self.op = DeepSetsLayer(f_in, f_out, reduction) if set_layer == "ds" else SetAttentionBlock(f_in, f_out, heads)
        else:
            self.op = nn.Linear(f_in, f_out)

    def forward(self, pools: PoolCache, i: int) -> Tensor:
        """The term on input tensor ``i``, reading its pools from the layer's shared cache."""
        if isinstance(self.op, KroneckerSetLayer):
            return self.op(pools.get(i, ()), (pools.get(i, (1,)), pools.get(i, (2,)), pools.get(i, (1, 2))))
        return self.op(pools.get(i, self.pool_dims))


class PoolCache:
    """Each tensor's pools, computed once per layer call: many terms read the same ones.

    A middle weight feeds about three terms per layer of the MLP, nearly all of them through
    the same two or three pools; pooling (and its backward, for max) over a full weight
    tensor per term would cost more than the terms themselves.
    """

    def __init__(self, xs: list[Tensor], reduction: Reduction) -> None:
        self.xs, self.reduction = xs, reduction
        self.cache: dict[tuple[int, tuple[int, ...]], Tensor] = {}

    def get(self, i: int, dims: tuple[int, ...]) -> Tensor:
        if not dims:
            return self.xs[i]
        key = (i, dims)
        if key not in self.cache:
            # Pooling over two axes is pooling the first pool over the remaining one (max, mean and sum alike).
            self.cache[key] = (
                pool(self.get(i, dims[:1]), (dims[1] - 1,), self.reduction)
                if len(dims) == 2
                else pool(self.xs[i], dims, self.reduction)
            )
        return self.cache[key]


def _accumulate(parts: dict[Pattern, Tensor], pattern: Pattern, value: Tensor) -> None:
    parts[pattern] = parts[pattern] + value if pattern in parts else value


def _assemble(parts: dict[Pattern, Tensor], batch: int, sizes: tuple[int, ...], scale: float = 1.0) -> Tensor:
    """Broadcast each pattern's sum to the canonical shape ``(B, *sizes, F)`` and add them up."""
    total: Tensor | None = None
    for pattern, value in parts.items():
        for axis, varies in enumerate(pattern):
            if not varies:
                value = value.unsqueeze(1 + axis)
        total = value if total is None else total + value
    assert total is not None
    if scale != 1.0:
        total = total * scale
    return total.expand(batch, *sizes, total.shape[-1])


class DWSBlock(nn.Module):
    """Every term from one kind of tensor (all weights, or all biases) to another; term ``"i_j"`` maps tensor i to j.

    A block sees every layer at once: the paper's characterization has a term for every pair
    of layers, not only neighbours (non-neighbours through pools broadcast back).
    """

    def __init__(
        self,
        in_axes: list[Axes],
        out_axes: list[Axes],
        in_widths: list[int],
        out_widths: list[int],
        set_layer: SetLayerKind,
        reduction: Reduction,
        heads: int,
    ) -> None:
        super().__init__()
        self.pairs = [(i, j) for i in range(len(in_axes)) for j in range(len(out_axes))]
        self.terms = nn.ModuleDict(
            {
                f"{i}_{j}": Term(in_axes[i], out_axes[j], in_widths[i], out_widths[j], set_layer, reduction, heads)
                for i, j in self.pairs
            }
        )
        self.n_out = len(out_axes)

    def parts(self, pools: PoolCache, into: list[dict[Pattern, Tensor]] | None = None) -> list[dict[Pattern, Tensor]]:
        """Per output tensor, the summed results of its terms by pattern (added to ``into`` when given)."""
        out = into if into is not None else [{} for _ in range(self.n_out)]
        for i, j in self.pairs:
            term = self.terms[f"{i}_{j}"]
            _accumulate(out[j], term.pattern, term(pools, i))
        return out


class DWSLayer(nn.Module):
    """One DWSNet layer: the four blocks summed per output and divided by the number of tensors, as the release.

    ``sizes`` are the neuron counts ``[n_in, hidden..., n_out]`` (at least one hidden layer).
    ``set_layer="ds"`` gives the paper's affine equivariant layer; ``"sab"`` the release's
    attention variant of it. Parameters start as in the release: Xavier-normal weights
    times ``sqrt(2 fan_in / fan_out)``, biases within 1e-4 of zero.
    """

    def __init__(
        self,
        sizes: list[int],
        c_in: int,
        c_out: int,
        set_layer: SetLayerKind = "ds",
        reduction: Reduction = "max",
        heads: int = 8,
    ) -> None:
        super().__init__()
        self.layout = layout = MLPLayout(sizes)
        n = layout.n_layers
        self.c_in, self.c_out, self.reduction = c_in, c_out, reduction
        self.w_axes = [layout.weight_axes(i) for i in range(n)]
        self.b_axes = [layout.bias_axes(i) for i in range(n)]
        w_fold = [layout.weight_fold(i) for i in range(n)]
        b_fold = [layout.bias_fold(i) for i in range(n)]

        def block(src: list[Axes], dst: list[Axes], src_fold: list[int], dst_fold: list[int]) -> DWSBlock:
            return DWSBlock(src, dst, [c_in * k for k in src_fold], [c_out * k for k in dst_fold], set_layer, reduction, heads)

        self.weight_to_weight = block(self.w_axes, self.w_axes, w_fold, w_fold)
        self.bias_to_bias = block(self.b_axes, self.b_axes, b_fold, b_fold)
        self.bias_to_weight = block(self.b_axes, self.w_axes, b_fold, w_fold)
        self.weight_to_bias = block(self.w_axes, self.b_axes, w_fold, b_fold)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                fan_out, fan_in = m.weight.shape
                nn.init.xavier_normal_(m.weight, gain=math.sqrt(2 * fan_in / fan_out))
                if m.bias is not None:
                    nn.init.uniform_(m.bias, -1e-4, 1e-4)

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        weights, biases = self.layout.fold(f)
        batch, scale = weights[0].shape[0], 1 / (2 * self.layout.n_layers)
        w_pools, b_pools = PoolCache(weights, self.reduction), PoolCache(biases, self.reduction)
        w_parts = self.bias_to_weight.parts(b_pools, into=self.weight_to_weight.parts(w_pools))
        b_parts = self.weight_to_bias.parts(w_pools, into=self.bias_to_bias.parts(b_pools))
        lay = self.layout
        new_w = [_assemble(p, batch, lay.set_sizes(a), scale) for p, a in zip(w_parts, self.w_axes)]
        new_b = [_assemble(p, batch, lay.set_sizes(a), scale) for p, a in zip(b_parts, self.b_axes)]
        return WeightSpaceFeatures(lay.unfold_weights(new_w), lay.unfold_biases(new_b))

    def block_outputs(self, f: WeightSpaceFeatures) -> dict[str, tuple[Tensor, ...]]:
        """Each block's contribution on its own (unscaled), so each can be checked for equivariance separately."""
        weights, biases = self.layout.fold(f)
        batch, lay = weights[0].shape[0], self.layout
        w_pools, b_pools = PoolCache(weights, self.reduction), PoolCache(biases, self.reduction)
        out: dict[str, tuple[Tensor, ...]] = {}
        for name, block, pools, axes in (
            ("weight_to_weight", self.weight_to_weight, w_pools, self.w_axes),
            ("bias_to_weight", self.bias_to_weight, b_pools, self.w_axes),
            ("bias_to_bias", self.bias_to_bias, b_pools, self.b_axes),
            ("weight_to_bias", self.weight_to_bias, w_pools, self.b_axes),
        ):
            assembled = [_assemble(p, batch, lay.set_sizes(a)) for p, a in zip(block.parts(pools), axes)]
            out[name] = lay.unfold_weights(assembled) if axes is self.w_axes else lay.unfold_biases(assembled)
        return out


def invariant_pool(f: WeightSpaceFeatures, layout: MLPLayout, reduction: Reduction) -> Tensor:
    """``(B, K * C)``: every tensor pooled over its hidden neurons, input and output neurons kept apart.

    DWSNet's invariant layer before its linear map, in the release's order: middle weights,
    first weight (per input), last weight (per output), hidden biases, last bias.
    """
    weights, biases = layout.fold(f)
    w = [pool(x, (1, 2), reduction) for x in weights]
    b = [pool(x, (1,), reduction) for x in biases]
    return torch.cat(w[1:-1] + [w[0], w[-1]] + b, dim=1)


def pooled_width(layout: MLPLayout, channels: int) -> int:
    n, n_in, n_out = layout.n_layers, layout.sizes[0], layout.sizes[-1]
    return channels * ((n - 2) + n_in + n_out + (n - 1) + n_out)


class TensorBatchNorm(nn.Module):
    """One ``BatchNorm1d`` per weight and bias, statistics over INRs and all of the tensor's entries.

    Pooling over entries keeps it equivariant; a separate norm per tensor keeps layers whose
    features differ in scale (first, middle, last) from being normalized together.
    """

    def __init__(self, n_layers: int, channels: int) -> None:
        super().__init__()
        self.weights = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(n_layers))
        self.biases = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(n_layers))

    @staticmethod
    def _norm(bn: nn.Module, x: Tensor) -> Tensor:
        return bn(x.reshape(-1, x.shape[-1])).view(x.shape)  # rows are (INR, entry) pairs: the same statistics

    def forward(self, f: WeightSpaceFeatures) -> WeightSpaceFeatures:
        return WeightSpaceFeatures(
            tuple(self._norm(bn, w) for bn, w in zip(self.weights, f.weights)),
            tuple(self._norm(bn, b) for bn, b in zip(self.biases, f.biases)),
        )
