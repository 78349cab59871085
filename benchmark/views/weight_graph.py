"""``weight-graph``: each INR as a graph, neurons as nodes (bias features), weights as edge features.

The graph of an MLP is fixed by its architecture, so the edge index is built once per
spec; per batch only the feature tensors are gathered (vectorized over INRs), which is
what torch-geometric message passing (neural-graph networks, ScaleGMN) consumes.
"""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor
from torch_geometric.data import Batch

from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.views.context import INRView, ViewContext


def layer_sizes(spec: FieldSpec) -> list[int]:
    """Neurons per layer, input first: ``[in_dim, hidden x depth, out_dim]``."""
    return [spec.in_dim, *([spec.hidden] * spec.depth), spec.out_dim]


def graph_edges(spec: FieldSpec) -> tuple[Tensor, Tensor]:
    """``(edge_index (2, E), layer_of_node (V,))`` for the MLP of ``spec``.

    Edges run from neuron ``j`` of layer ``l`` to neuron ``i`` of layer ``l + 1`` in the
    row-major order of ``layers.l.weight[i, j]``, so edge features are the flattened weights.
    """
    sizes = layer_sizes(spec)
    offsets = torch.tensor([0, *sizes]).cumsum(0)
    src, dst = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        i, j = torch.meshgrid(torch.arange(n_out), torch.arange(n_in), indexing="ij")
        src.append(offsets[layer] + j.flatten())
        dst.append(offsets[layer + 1] + i.flatten())
    layer_of_node = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return torch.stack([torch.cat(src), torch.cat(dst)]), layer_of_node


def to_graphs(spec: FieldSpec, params: Params, edge_index: Tensor, layer_of_node: Tensor) -> Batch:
    """A PyG ``Batch`` of one graph per INR: ``x (V, 1)`` biases (0 for inputs), ``edge_attr (E, 1)`` weights."""
    n_layers = len(layer_sizes(spec)) - 1
    b = params["layers.0.weight"].shape[0]
    device = params["layers.0.weight"].device  # the graph is built where the weights are (timing on CUDA)
    edge_index, layer_of_node = edge_index.to(device), layer_of_node.to(device)
    weights = torch.cat([params[f"layers.{i}.weight"].flatten(1) for i in range(n_layers)], dim=1)
    biases = torch.cat([params[f"layers.{i}.bias"] for i in range(n_layers)], dim=1)
    nodes = torch.cat([biases.new_zeros(b, spec.in_dim), biases], dim=1)
    n_nodes, n_edges = nodes.shape[1], edge_index.shape[1]
    graph_of_item = torch.arange(b, device=device)
    shift = (graph_of_item * n_nodes).repeat_interleave(n_edges)
    ptr = torch.arange(b + 1, device=device) * n_nodes
    graphs = Batch(
        x=nodes.reshape(-1, 1),
        edge_index=edge_index.repeat(1, b) + shift,
        edge_attr=weights.reshape(-1, 1),
        layer=layer_of_node.repeat(b),
        batch=graph_of_item.repeat_interleave(n_nodes),
        ptr=ptr,
    )
    # What Batch.from_data_list would record, so that to_data_list()/get_example() work.
    edge_ptr = torch.arange(b + 1) * n_edges
    zeros = torch.zeros(b, dtype=torch.long)
    graphs._num_graphs = b
    node_ptr = ptr.cpu()  # PyG keeps its slice bookkeeping on the CPU
    graphs._slice_dict = {"x": node_ptr, "edge_index": edge_ptr, "edge_attr": edge_ptr, "layer": node_ptr}
    graphs._inc_dict = {"x": zeros, "edge_index": node_ptr[:-1], "edge_attr": zeros, "layer": zeros}
    return graphs


def from_graphs(graphs: Batch, n_graphs: int, sizes: list[int]) -> tuple[list[Tensor], list[Tensor]]:
    """The inverse of ``to_graphs``: per layer ``(B, n_out, n_in)`` weights and ``(B, n_out)`` biases.

    ``sizes`` are the neuron counts (``layer_sizes``); a batch of another architecture is refused.
    """
    n_nodes = sum(sizes)
    edge_counts = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    if graphs.x.shape[0] != n_graphs * n_nodes or graphs.edge_attr.shape[0] != n_graphs * sum(edge_counts):
        raise ValueError(
            f"expected {n_graphs} neural graphs of {n_nodes} nodes and {sum(edge_counts)} edges each (layer sizes {sizes}), "
            f"got {graphs.x.shape[0]} nodes and {graphs.edge_attr.shape[0]} edges"
        )
    flat = graphs.edge_attr.reshape(n_graphs, -1).split(edge_counts, dim=1)
    weights = [w.reshape(n_graphs, n_out, n_in) for w, n_in, n_out in zip(flat, sizes[:-1], sizes[1:])]
    biases = list(graphs.x.reshape(n_graphs, -1)[:, sizes[0] :].split(sizes[1:], dim=1))
    return weights, biases


class WeightGraphView(INRView):
    name = "weight-graph"
    description = "each INR as a torch-geometric graph: neurons with bias features, weights as edge features"

    @classmethod
    def check(cls, ctx: ViewContext) -> None:
        if ctx.info.spec.encoding != "none":
            raise ConfigError(f"the {cls.name!r} view needs fields without an input encoding, not {ctx.info.spec.encoding!r}")

    @cached_property
    def _edges(self) -> tuple[Tensor, Tensor]:
        return graph_edges(self.info.spec)

    def from_params(self, params: Params) -> Batch:
        return to_graphs(self.info.spec, params, *self._edges)
