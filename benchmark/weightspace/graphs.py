"""Neural graphs (Kofinas et al., Graph Neural Networks for Learning Equivariant Representations of Neural Networks, ICLR 2024).

An MLP is a graph: neurons are nodes carrying their biases, weights are edges. A network
that treats nodes as a set and passes messages along edges commutes with every
relabelling of nodes, so it respects the permutations of hidden neurons (the MLP's
symmetry) without the hand-derived weight sharing of NFN or DWSNet. The graph has more
symmetry than the MLP, though: its input and output neurons must not be exchanged. So
every input and every output neuron gets a learned positional embedding of its own, and
every hidden layer one that its neurons share, which also tells a node its depth.

Two networks read the graph, as in the paper and its release (``nn/gnn.py``,
``nn/relational_transformer.py``, ``nn/graph_constructor.py`` of mkofinas/neural-graphs):

- NG-GNN: PNA message passing whose messages the edge state scales and shifts, with edge
  states rebuilt from their end nodes between layers (``FiLMPNAConv``, ``EdgeUpdate``);
- NG-T: a relational transformer, attention between nodes whose queries, keys and values
  are shifted (values also scaled) by the state of the pair's edge, with pair states
  updated from both end nodes and the reverse pair (``RTLayer``).

Graphs come from the ``weight-graph`` view: every graph of a batch has the architecture
of one ``FieldSpec``, with nodes and edges in the order ``to_graphs`` writes them
(``GraphLayout`` checks the sizes). Everything here is vectorized over INRs, nodes and
edges; Python loops run over layers only. Per-edge gathers use ``index_select``, which on
CPU is a few times faster than advanced indexing, forward and backward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.data import Batch
from torch_geometric.nn import MessagePassing
from torch_geometric.nn.aggr import DegreeScalerAggregation
from torch_geometric.utils import degree, scatter, softmax

from nfbench.api import View
from nfbench.fields import FieldSpec
from nfbench.fields.functional import activation
from nfbench.training.evaluation import mean_std
from nfbench.training.layers import TrainStatistic
from nfbench.views.weight_graph import from_graphs, graph_edges, layer_sizes

Readout = Literal["output", "layers"]
Attention = Literal["dense", "edges"]


class GraphLayout:
    """Sizes of the neural graph of ``spec``, shared by every graph of a batch."""

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec
        self.sizes = layer_sizes(spec)
        self.n_nodes = sum(self.sizes)
        self.n_edges = sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        self.n_in, self.n_out, self.depth = self.sizes[0], self.sizes[-1], len(self.sizes) - 2

    def n_graphs(self, graphs: Batch) -> int:
        """The number of graphs in ``graphs``, after checking that each has this layout."""
        b = graphs.num_graphs
        if graphs.x.shape[0] != b * self.n_nodes or graphs.edge_attr.shape[0] != b * self.n_edges:
            raise ValueError(
                f"expected {b} neural graphs of {self.n_nodes} nodes and {self.n_edges} edges each (layer sizes {self.sizes}), "
                f"got {graphs.x.shape[0]} nodes and {graphs.edge_attr.shape[0]} edges"
            )
        return b

    @property
    def n_roles(self) -> int:
        """Positional embeddings: one per input neuron, per hidden layer and per output neuron."""
        return self.n_in + self.depth + self.n_out

    def roles(self) -> Tensor:
        """``(V,)`` positional-embedding index of each node of one graph."""
        hidden = self.n_in + torch.arange(self.depth).repeat_interleave(torch.tensor(self.sizes[1:-1], dtype=torch.long))
        return torch.cat([torch.arange(self.n_in), hidden, self.n_in + self.depth + torch.arange(self.n_out)])


class _RowsLinear(torch.autograd.Function):
    """``F.linear`` on ``(rows, in)`` whose weight gradient is a matmul in the faster of its two orientations.

    Edge and pair states are hundreds of thousands of rows of a few channels. On CPU,
    MKL forms ``grad.T @ x`` for a narrow input and a wide output (4 -> 48 channels)
    over ten times slower than the same numbers as ``(x.T @ grad).T``; on GPU either is fine.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = grad.t() @ x if weight.shape[0] <= weight.shape[1] else (x.t() @ grad).t()
        grad_b = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


class RowsLinear(nn.Linear):
    """``nn.Linear`` for ``(rows, in)`` inputs with very many rows (edges, node pairs); see ``_RowsLinear``."""

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.device.type != "cpu" or not torch.is_grad_enabled():
            return super().forward(x)
        return _RowsLinear.apply(x, self.weight, self.bias)


def _xavier(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every linear map inside ``module``, the release's transformer init."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class FourierEmbedding(nn.Module):
    """``(..., c_in)`` scalars -> ``(..., d_out)`` through fixed Gaussian Fourier features and a linear map.

    INR weights are small numbers whose fine differences matter; a linear map sees them on
    one scale only, random frequencies on many. ``n_freqs == 0``: the linear map alone.
    """

    def __init__(self, c_in: int, d_out: int, n_freqs: int, scale: float) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.randn(c_in, n_freqs) * scale)
        self.proj = RowsLinear(2 * n_freqs if n_freqs else c_in, d_out)

    def forward(self, x: Tensor) -> Tensor:
        if self.freqs.shape[1]:
            z = 2 * math.pi * (x @ self.freqs)
            x = torch.cat([torch.cos(z), torch.sin(z)], dim=-1)
        return self.proj(x)


class LayerStandardize(TrainStatistic):
    """Weights and biases minus their layer's train mean, over its train std (the release's dataset statistics).

    Layers of an INR differ in scale by orders of magnitude (SIREN's first layer against
    the rest); one statistic per layer, shared by all its neurons, keeps the symmetry.
    """

    def __init__(self, n_layers: int) -> None:
        super().__init__()
        self.n_layers = n_layers
        for name in ("weight", "bias"):
            self.register_buffer(f"{name}_mean", torch.zeros(n_layers))
            self.register_buffer(f"{name}_std", torch.ones(n_layers))

    @staticmethod
    def _indexed(graphs: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(weights, their layer, biases, their layer)`` with input neurons, which have no bias, left out."""
        has_bias = graphs.layer > 0
        return graphs.edge_attr[:, 0], graphs.layer[graphs.edge_index[0]], graphs.x[has_bias, 0], graphs.layer[has_bias] - 1

    @torch.no_grad()
    def fit_(self, view: View, batch_size: int, device: torch.device) -> None:
        """Accumulated in float64 over the whole view, which may not fit in memory."""
        moments = torch.zeros(2, 3, self.n_layers, dtype=torch.float64, device=device)  # (weight|bias, count|sum|sumsq, layer)
        for batch in view.batches(batch_size):
            w, w_layer, b, b_layer = self._indexed(batch.to(device).data)
            for k, (values, layer) in enumerate(((w, w_layer), (b, b_layer))):
                values = values.double()
                for j, v in enumerate((torch.ones_like(values), values, values.square())):
                    moments[k, j].index_add_(0, layer, v)
        count = moments[:, 0]
        if not bool((count > 0).all()):
            raise ValueError(f"cannot standardize on an empty {view.split} view")
        mean, std = mean_std(moments[:, 1], moments[:, 2], count)
        for k, name in enumerate(("weight", "bias")):
            getattr(self, f"{name}_mean").copy_(mean[k])
            getattr(self, f"{name}_std").copy_(std[k])

    def forward(self, graphs: Batch) -> tuple[Tensor, Tensor]:
        """``(E,)`` standardized weights and ``(N,)`` biases, 0 at input neurons."""
        layer = graphs.layer
        w_layer = layer[graphs.edge_index[0]]
        w = (graphs.edge_attr[:, 0] - self.weight_mean[w_layer]) / self.weight_std[w_layer]
        b_layer = (layer - 1).clamp(min=0)
        b = torch.where(layer > 0, (graphs.x[:, 0] - self.bias_mean[b_layer]) / self.bias_std[b_layer], 0.0)
        return w, b


def raw_values(graphs: Batch) -> tuple[Tensor, Tensor]:
    """``(E,)`` weights and ``(N,)`` biases as stored, when not standardized."""
    return graphs.edge_attr[:, 0], graphs.x[:, 0]


class ProbeFeatures(nn.Module):
    """Every neuron's activation at ``n_points`` learned input points, projected per layer (the paper's probe features).

    Weights tell what a neuron computes only through the rest of the network; its
    activations on shared inputs tell it directly. Permuting hidden neurons permutes their
    activations alike, so the features keep the symmetry. Input neurons get the points'
    coordinates. Reads the raw weights (the INR's own function), never standardized ones.
    """

    def __init__(self, layout: GraphLayout, n_points: int, d_out: int) -> None:
        super().__init__()
        self.layout = layout
        self.points = nn.Parameter(torch.rand(n_points, layout.n_in) * 2 - 1)
        self.proj = nn.ModuleList(nn.Sequential(nn.Linear(n_points, d_out), nn.LayerNorm(d_out)) for _ in layout.sizes)

    def forward(self, graphs: Batch, n_graphs: int) -> Tensor:
        weights, biases = from_graphs(graphs, n_graphs, self.layout.sizes)
        n_layers = len(weights)
        h = self.points.expand(n_graphs, -1, -1)  # (B, K, n_in)
        activations = [h]
        for layer, (w, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if layer < n_layers - 1:
                h = activation(self.layout.spec, h)
            activations.append(h)
        nodes = [proj(a.transpose(1, 2)) for proj, a in zip(self.proj, activations)]  # (B, n_l, d) per layer
        return torch.cat(nodes, dim=1).flatten(0, 1)


class NodeEncoder(nn.Module):
    """Initial node states: the embedded bias, probe features if any, and the neuron's positional embedding."""

    def __init__(self, layout: GraphLayout, d_node: int, n_freqs: int, scale: float, positional: bool, probe_points: int) -> None:
        super().__init__()
        self.layout = layout
        self.bias = FourierEmbedding(1, d_node, n_freqs, scale)
        self.register_buffer("roles", layout.roles(), persistent=False)
        self.positional = nn.Parameter(torch.randn(layout.n_roles, d_node)) if positional else None
        self.probes = ProbeFeatures(layout, probe_points, d_node) if probe_points else None

    def forward(self, graphs: Batch, biases: Tensor, n_graphs: int) -> Tensor:
        h = self.bias(biases[:, None])
        if self.probes is not None:
            h = h + self.probes(graphs, n_graphs)
        if self.positional is not None:
            h = h + self.positional[self.roles].repeat(n_graphs, 1)
        return h


def message_edges(graphs: Batch, weights: Tensor, reverse: bool) -> tuple[Tensor, Tensor]:
    """``(edge_index, edge inputs)`` of message passing: along every weight, and back if ``reverse``.

    Backward messages let a neuron hear about the layers after it (the output neurons the
    readout sees would otherwise learn nothing of what their inputs feed). The inputs
    ``[w, 0, w]`` forward and ``[0, w, w]`` backward are the release's ``[e_ij, e_ji, e_ij + e_ji]``.
    """
    w = weights[:, None]
    if not reverse:
        return graphs.edge_index, w
    zero = torch.zeros_like(w)
    edge_index = torch.cat([graphs.edge_index, graphs.edge_index.flip(0)], dim=1)
    return edge_index, torch.cat([torch.cat([w, zero, w], dim=1), torch.cat([zero, w, w], dim=1)])


def degree_histogram(spec: FieldSpec, reverse: bool) -> Tensor:
    """Count of nodes per in-degree in the message graph of ``spec``, which PNA's degree scalers normalize by.

    The release counts forward edges only, even when messages also run backward; here
    the graph messages actually run on is counted, which rescales the amplification
    scaler by a constant.
    """
    edge_index, _ = graph_edges(spec)
    if reverse:
        edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    return torch.bincount(degree(edge_index[1], sum(layer_sizes(spec)), dtype=torch.long))


class FiLMPNAConv(MessagePassing):
    """PNA aggregation of messages ``linear([h_dst, h_src])`` that the edge state scales and shifts.

    The edges carry the weights, most of an MLP's content, so they shape each message
    multiplicatively rather than being appended to it (the release's ``modulate_edges``).
    Several aggregators and degree scalers let a neuron tell one large input from many
    small ones, and a wide layer from a narrow one.
    """

    def __init__(self, d: int, d_edge: int, aggregators: tuple[str, ...], scalers: tuple[str, ...], deg: Tensor) -> None:
        super().__init__(aggr=DegreeScalerAggregation(list(aggregators), list(scalers), deg), node_dim=0)
        self.film = RowsLinear(d_edge, 2 * d)
        # linear([h_dst, h_src]) as two node-level maps gathered per edge: E rows of matmul fewer
        self.pre_dst, self.pre_src = nn.Linear(d, d), nn.Linear(d, d, bias=False)
        self.post = nn.Linear((len(aggregators) * len(scalers) + 1) * d, d)

    def forward(self, h: Tensor, edge_index: Tensor, e: Tensor) -> Tensor:
        aggregated = self.propagate(edge_index, dst=self.pre_dst(h), src=self.pre_src(h), e=e)
        return self.post(torch.cat([h, aggregated], dim=-1))

    def message(self, dst_i: Tensor, src_j: Tensor, e: Tensor) -> Tensor:
        scale, shift = self.film(e).chunk(2, dim=-1)
        return scale * (dst_i + src_j) + shift


class EdgeUpdate(nn.Module):
    """A new edge state from the old one and the states of its two end nodes (replacing it, as released)."""

    def __init__(self, d_edge: int, d_node: int, act: nn.Module) -> None:
        super().__init__()
        self.edge, self.src, self.dst = RowsLinear(d_edge, d_edge), nn.Linear(d_node, d_edge), nn.Linear(d_node, d_edge)
        self.act = act
        self.out = RowsLinear(d_edge, d_edge)

    def forward(self, h: Tensor, edge_index: Tensor, e: Tensor) -> Tensor:
        ends = self.src(h).index_select(0, edge_index[0]) + self.dst(h).index_select(0, edge_index[1])
        return self.out(self.act(self.edge(e) + ends))


@dataclass(frozen=True)
class Pairs:
    """The ordered node pairs ``(query, key)`` a relational transformer attends over and keeps states for.

    ``reverse[p]`` is the position of pair ``(key, query)``; ``weights[k]`` the position of
    the pair ``(src, dst)`` of edge ``k`` of the batch, which starts from that weight.
    """

    query: Tensor
    key: Tensor
    reverse: Tensor
    weights: Tensor

    def __len__(self) -> int:
        return self.query.shape[0]


def attention_pairs(graphs: Batch, layout: GraphLayout, n_graphs: int, mode: Attention) -> Pairs:
    """``dense``: all ``V^2`` pairs of each graph, as the release; ``edges``: pairs joined by a weight, both ways, and self pairs.

    Dense attention costs ``V^2`` pair states per INR, which for wide INRs (a 64-wide
    field has 260 nodes) is most of the memory and time; ``edges`` keeps the pairs that
    carry a weight (``2E + V``), the same layer restricted to the graph.
    """
    src, dst = graphs.edge_index
    if mode == "edges":
        n_edges, nodes = src.shape[0], torch.arange(n_graphs * layout.n_nodes, device=src.device)
        edges = torch.arange(n_edges, device=src.device)
        return Pairs(
            query=torch.cat([src, dst, nodes]),
            key=torch.cat([dst, src, nodes]),
            reverse=torch.cat([edges + n_edges, edges, 2 * n_edges + nodes]),
            weights=edges,
        )
    v = layout.n_nodes
    local = torch.arange(v, device=src.device)
    i, j = local.repeat_interleave(v), local.repeat(v)
    graph = torch.arange(n_graphs, device=src.device)[:, None]
    first = graphs.batch[src] * v  # first node of each edge's graph
    return Pairs(
        query=(graph * v + i).flatten(),
        key=(graph * v + j).flatten(),
        reverse=(graph * v * v + j * v + i).flatten(),
        weights=first * v + (src - first) * v + (dst - first),
    )


def pair_states(embed: nn.Module, weights: Tensor, pairs: Pairs) -> Tensor:
    """``(P, d)`` initial pair states: the embedded weight on pairs that carry one, an embedded zero elsewhere.

    A zero stands for "no weight" as in the release's dense adjacency, where absent edges are zeros.
    """
    zero = embed(weights.new_zeros(1, 1))
    return torch.index_put(zero.expand(len(pairs), -1), (pairs.weights,), embed(weights[:, None]))


class RTLayer(nn.Module):
    """Relational transformer layer: edge-conditioned attention and a node MLP, then pair-state updates.

    Attention between two neurons depends on the weight between them: the pair's state
    shifts the query and key, and scales and shifts the value (the release's
    ``modulate_v``). Pair states then take in both end nodes and the reverse pair, so
    information about a weight reaches the pair running the other way.
    """

    def __init__(
        self, d_node: int, d_edge: int, d_attn: int, n_heads: int, d_node_hidden: int, d_edge_hidden: int, dropout: float,
        update_pairs: bool,
    ) -> None:  # fmt: skip
        super().__init__()
        if d_attn % n_heads:
            raise ValueError(f"attention width {d_attn} is not a multiple of {n_heads} heads")
        self.n_heads, self.update_pairs = n_heads, update_pairs
        self.scale = 1 / math.sqrt(d_attn)  # the release scales by the full width, not the head's
        self.d_attn, self.d_edge_hidden = d_attn, d_edge_hidden
        self.qkv_node = nn.Linear(d_node, 3 * d_attn, bias=False)
        # query, key and value shifts and value scale of attention (no bias, as released), then the pair update's
        # maps of the pair and of its reverse: all read the same pair states, so one matmul computes them
        self.from_pairs = RowsLinear(d_edge, 4 * d_attn + (2 * d_edge_hidden if update_pairs else 0), bias=False)
        self.attn_out = nn.Linear(d_attn, d_node)
        self.drop = nn.Dropout(dropout)
        self.node_norm0, self.node_norm1 = nn.LayerNorm(d_node), nn.LayerNorm(d_node)
        self.node_mlp = nn.Sequential(
            nn.Linear(d_node, d_node_hidden, bias=False), nn.GELU(), nn.Linear(d_node_hidden, d_node), nn.Dropout(dropout)
        )
        if update_pairs:
            self.pair_bias = nn.Parameter(torch.zeros(d_edge_hidden))
            self.pair_query = nn.Linear(d_node, d_edge_hidden, bias=False)
            self.pair_key = nn.Linear(d_node, d_edge_hidden, bias=False)
            self.pair_out = nn.Sequential(nn.GELU(), RowsLinear(d_edge_hidden, d_edge), nn.Dropout(dropout))
            self.pair_mlp = nn.Sequential(
                RowsLinear(d_edge, d_edge_hidden, bias=False), nn.GELU(), RowsLinear(d_edge_hidden, d_edge), nn.Dropout(dropout)
            )
            self.pair_norm0, self.pair_norm1 = nn.LayerNorm(d_edge), nn.LayerNorm(d_edge)
        _xavier(self)
        # each block as the separate maps the release initializes: qkv of the pair (d_edge -> 4 d_attn) and the halves
        # of the pair update's map of [pair, reverse pair] (2 d_edge -> d_edge_hidden)
        blocks = [(4 * d_attn, d_edge)] + ([(d_edge_hidden, 2 * d_edge)] * 2 if update_pairs else [])
        with torch.no_grad():
            for rows, (n, fan_in) in zip(self.from_pairs.weight.split([n for n, _ in blocks]), blocks):
                bound = math.sqrt(6 / (fan_in + n))
                rows.uniform_(-bound, bound)

    def attend(self, h: Tensor, q_e: Tensor, k_e: Tensor, v_e: Tensor, v_scale: Tensor, pairs: Pairs) -> Tensor:
        n_pairs, heads = len(pairs), self.n_heads
        qkv = self.qkv_node(h)
        k, v = qkv[:, self.d_attn :].index_select(0, pairs.key).chunk(2, dim=-1)  # one gather for both
        query = (qkv[:, : self.d_attn].index_select(0, pairs.query) + q_e).view(n_pairs, heads, -1)
        key = (k + k_e).view(n_pairs, heads, -1)
        value = (v * v_scale + v_e).view(n_pairs, heads, -1)
        attn = softmax(self.scale * (query * key).sum(-1), pairs.query, num_nodes=h.shape[0])  # (P, H), over each query's pairs
        out = scatter((attn[:, :, None] * value).flatten(1), pairs.query, dim=0, dim_size=h.shape[0], reduce="sum")
        return self.attn_out(out)

    def forward(self, h: Tensor, e: Tensor, pairs: Pairs) -> tuple[Tensor, Tensor]:
        a, u = self.d_attn, self.d_edge_hidden
        sizes = [a, a, a, a] + ([u, u] if self.update_pairs else [])
        q_e, k_e, v_e, v_scale, *update_maps = self.from_pairs(e).split(sizes, dim=-1)
        h = self.node_norm0(h + self.drop(self.attend(h, q_e, k_e, v_e, v_scale, pairs)))
        h = self.node_norm1(h + self.node_mlp(h))
        if self.update_pairs:
            own, reverse = update_maps
            ends = self.pair_query(h).index_select(0, pairs.query) + self.pair_key(h).index_select(0, pairs.key)
            update = own + reverse.index_select(0, pairs.reverse) + self.pair_bias + ends
            e = self.pair_norm0(e + self.pair_out(update))
            e = self.pair_norm1(e + self.pair_mlp(e))
        return h, e


def readout(h: Tensor, layout: GraphLayout, n_graphs: int, mode: Readout) -> Tensor:
    """Invariant graph features from final node states.

    ``output``: the output neurons' states concatenated, which no symmetry moves (the
    release). ``layers``: the mean state of each layer concatenated (the release's
    ``cat_mean`` over all layers), for shallow stacks whose messages do not reach the
    outputs from every layer.
    """
    nodes = h.view(n_graphs, layout.n_nodes, -1)
    if mode == "output":
        return nodes[:, -layout.n_out :].flatten(1)
    return torch.cat([layer.mean(1) for layer in nodes.split(layout.sizes, dim=1)], dim=1)


def readout_width(layout: GraphLayout, d: int, mode: Readout) -> int:
    return (layout.n_out if mode == "output" else len(layout.sizes)) * d


def mlp_head(d_in: int, hidden: tuple[int, ...], n_classes: int) -> nn.Sequential:
    """Linear + ReLU per hidden width, then the class logits; ``head[:-1]`` gives the embedding."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(d_in, width), nn.ReLU()]
        d_in = width
    return nn.Sequential(*layers, nn.Linear(d_in, n_classes))
