"""ScaleGMN's layers for SIREN's sign group (Kalogeropoulos et al., Scale Equivariant Graph Metanetworks, NeurIPS 2024).

A sine network keeps its function when a hidden neuron's incoming weights, bias and
outgoing weights are negated, besides when hidden neurons are reordered. On the neural
graph that is a sign ``s_i`` per hidden neuron (1 for inputs and outputs): a node's bias
turns into ``s_i b_i`` and an edge's weight into ``s_i s_j w_ij``. ScaleGMN keeps node
states equivariant to it (a state turns into ``s_i h_i``) and edge states too (``s_i s_j e_ij``),
so a readout of output neurons (where ``s = 1``) or of sign-invariant functions of hidden
neurons is invariant to both groups. The blocks, as in the paper (sections 4-5) and
``src/scalegmn/{layers,gnn_layers,models}.py`` of jkalogero/scalegmn:

- sign-invariant: an MLP of ``rho(x) + rho(-x)`` (symmetrization) or of ``|x|`` (canonicalization);
- sign-equivariant: ``W x * g(x)`` with ``W`` linear without bias and ``g`` sign-invariant; input
  and output neurons carry no sign, so there ``g`` is a plain MLP (or the whole map is one);
- messages ``W_e e_ij * W_v h_j``, whose sign is the receiver's, through a sign-equivariant
  map, summed per receiver; along weights (forward) and, bidirectionally, against them too;
- node updates, a sign-equivariant map of the state and the aggregates; edge updates
  ``W e_ij * phi(inv(h_i), inv(h_j))``;
- positional encodings: each input and each output neuron, each hidden layer, a learned
  vector, added to input and output states (no sign there) and multiplied into hidden ones
  (which keeps the sign), multiplied into edges likewise.

Graphs come from the ``weight-graph`` view, whose node and edge order is fixed by the MLP
(``to_graphs``): nodes layer by layer, each layer's edges in the row-major order of its
weight. So states are held per layer as dense ``(B, n_l, d)`` nodes and ``(B, n_out, n_in, d)``
edges: a sender's state is broadcast over its edges and a receiver's aggregate is a sum over
one axis, which beats gathers and scatters over an edge index. Python loops run over layers
only. Where a linear map reads a concatenation of a per-edge and a per-node part, the node
part is mapped per node and broadcast (the same function, far fewer multiplications), and
``rho(x) + rho(-x)`` shares ``rho``'s first product between the two signs.

The network computes only what its readout reads: with the output neurons read after the
last layer, that layer updates only them, the one before it only what they hear, and so on.
Modules that would go unread are not built (the release builds them: 1.77M parameters for
its MNIST classifier, 1.59M here, the same function).

Loaded with a release model's weights, the forward network gives its outputs to float
rounding (checked on the MNIST configs). Two choices differ from the release, both where
it looks unintended: the last layer's edge encodings belong to output neurons (the release
numbers them in an order that does not follow its edges once there are several outputs,
which ties an encoding to hidden neurons' positions), and bidirectional backward messages
read the updated edge states (the release keeps the initial ones for the sign group: it
updates backward edge states only for its positive-scale group).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.data import Batch

from nfbench.api import View
from nfbench.fields import FieldSpec
from nfbench.training.layers import TrainStatistic
from nfbench.views.weight_graph import from_graphs, layer_sizes

Direction = Literal["forward", "bidirectional"]
Readout = Literal["output", "graph"]
Invariance = Literal["symmetrize", "abs"]
Role = Literal["input", "hidden", "output"]


class MLP(nn.Module):
    """Linear maps with LayerNorm and SiLU between them (the release's MLP); the input may come in two parts.

    ``forward(x, y)`` is the MLP of ``cat(x, y)`` with ``x`` and ``y`` broadcast against each
    other, so a per-node part added to per-edge ones is mapped once per node.
    """

    def __init__(self, d_in: int, hidden: tuple[int, ...], d_out: int, d_extra: int = 0) -> None:
        super().__init__()
        if not hidden:
            raise ValueError("an MLP here needs at least one hidden layer")
        self.d_in, self.d_extra = d_in, d_extra
        widths = [d_in + d_extra, *hidden, d_out]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(w) for w in hidden)

    def first(self, x: Tensor, y: Tensor | None = None, bias: bool = True) -> Tensor:
        lin = self.linears[0]
        z = F.linear(x, lin.weight[:, : self.d_in] if self.d_extra else lin.weight, lin.bias if bias else None)
        if self.d_extra:
            if y is None:
                raise ValueError("this MLP reads a second input part")
            z = z + F.linear(y, lin.weight[:, self.d_in :])
        return z

    def trunk(self, z: Tensor) -> Tensor:
        """From the first pre-activation to the last hidden activation (the embedding of a head)."""
        for i, norm in enumerate(self.norms):
            if i:
                z = self.linears[i](z)
            z = F.silu(norm(z))
        return z

    def last(self, h: Tensor, bias_scale: float = 1.0) -> Tensor:
        lin = self.linears[-1]
        return F.linear(h, lin.weight, lin.bias * bias_scale)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.last(self.trunk(self.first(x, y)))


class SignInvariant(nn.Module):
    """``x -> rho(x) + rho(-x)`` (symmetrization) or ``|x|`` (canonicalization): unchanged when ``x`` is negated."""

    def __init__(self, d: int, hidden: tuple[int, ...], mode: Invariance) -> None:
        super().__init__()
        self.rho = MLP(d, hidden, d) if mode == "symmetrize" else None

    def forward(self, x: Tensor) -> Tensor:
        if self.rho is None:
            return x.abs()
        z, b = self.rho.first(x, bias=False), self.rho.linears[0].bias
        return self.rho.last(self.rho.trunk(b + z) + self.rho.trunk(b - z), bias_scale=2.0)


class NeuronMap(nn.Module):
    """A map of node or message states that is sign-equivariant where the receiving neuron is hidden.

    Hidden: ``W x * phi(inv(x), extra)``. Input and output neurons have no sign to keep:
    ``W x * mlp(x, extra)`` (the release's gate on them), or ``mlp(x, extra)`` when
    ``io_mlp``. ``split_io``: inputs and outputs get an MLP each, else one shared MLP.
    Only the roles in ``roles`` get parameters (what the network evaluates).
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        d_extra: int,
        hidden: tuple[int, ...],
        invariance: Invariance,
        io_mlp: bool,
        split_io: bool,
        roles: frozenset[str],
    ) -> None:
        super().__init__()
        self.io_mlp = io_mlp
        self.key = {"hidden": "hidden", "input": "input" if split_io else "io", "output": "output" if split_io else "io"}
        gated = "hidden" in roles or (not io_mlp and roles - {"hidden"})
        self.W = nn.Linear(d_in, d_out, bias=False) if gated else None
        self.inv = SignInvariant(d_in, hidden, invariance) if "hidden" in roles else None
        self.nets = nn.ModuleDict({k: MLP(d_in, hidden, d_out, d_extra) for k in sorted({self.key[r] for r in roles})})

    def forward(self, x: Tensor, role: Role, extra: Tensor | None = None) -> Tensor:
        net = self.nets[self.key[role]]
        if role == "hidden":
            return self.W(x) * net(self.inv(x), extra)
        if self.io_mlp:
            return net(x, extra)
        return self.W(x) * net(x, extra)


class EdgeUpdate(nn.Module):
    """``e_ij -> W e_ij * phi(inv(h_j), inv(h_i))``: keeps the sign ``s_i s_j`` of an edge from sender j to receiver i."""

    def __init__(self, d: int, hidden: tuple[int, ...], invariance: Invariance) -> None:
        super().__init__()
        self.W = nn.Linear(d, d, bias=False)
        self.inv = SignInvariant(d, hidden, invariance)
        self.phi = MLP(d, hidden, d, d_extra=d)

    def forward(self, e: Tensor, senders: Tensor, receivers: Tensor) -> Tensor:
        """``e`` ``(B, n_out, n_in, d)``, ``senders`` ``(B, n_in, d)``, ``receivers`` ``(B, n_out, d)``."""
        gate = self.phi.first(self.inv(senders)[:, None], self.inv(receivers)[:, :, None])
        return self.W(e) * self.phi.last(self.phi.trunk(gate))


class SignRMSNorm(TrainStatistic):
    """Each layer's weights and biases over their train root mean square, a positive scalar per tensor.

    SIREN's layers differ in scale by orders of magnitude (the first layer's weights against
    the hidden ones'). A positive scale per layer keeps both symmetries, where subtracting a
    mean would break the sign one. The release feeds raw weights; this is optional.
    """

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.register_buffer("weight_rms", torch.ones(len(sizes) - 1))
        self.register_buffer("bias_rms", torch.ones(len(sizes) - 1))

    @torch.no_grad()
    def fit_(self, view: View, batch_size: int, device: torch.device) -> None:
        n = self.weight_rms.numel()
        sums = torch.zeros(2, n, dtype=torch.float64, device=device)
        counts = torch.zeros(2, n, dtype=torch.float64, device=device)
        for batch in view.batches(batch_size):
            weights, biases = from_graphs(batch.to(device).data, batch.data.num_graphs, self.sizes)
            for k, tensors in enumerate((weights, biases)):
                for layer, t in enumerate(tensors):
                    sums[k, layer] += t.double().square().sum()
                    counts[k, layer] += t.numel()
        if not bool((counts > 0).all()):
            raise ValueError(f"cannot normalize on an empty {view.split} view")
        rms = (sums / counts).sqrt()
        rms = torch.where(rms > 1e-12, rms, torch.ones_like(rms)).float()
        self.weight_rms.copy_(rms[0])
        self.bias_rms.copy_(rms[1])

    def forward(self, weights: list[Tensor], biases: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        return [w / s for w, s in zip(weights, self.weight_rms)], [b / s for b, s in zip(biases, self.bias_rms)]


def plan(n_layers: int, steps: int, direction: Direction, readout: set[int], update_edges: bool) -> list[tuple[set[int], set[int]]]:
    """``(node layers, weight layers)`` each message-passing step must update for the readout to see its result.

    Worked backwards from the readout: a node's new state needs its own and its senders'
    old states and the edges between them; an edge's new state, its ends' old states.
    The last step updates no edges (nothing reads them), as in the release.
    """
    nodes, edges = set(readout), set()
    out: list[tuple[set[int], set[int]]] = []
    for _ in range(steps):
        step_edges = edges if update_edges else set()
        out.append((nodes, step_edges))
        need_nodes, need_edges = set(), set()
        for layer in nodes:
            need_nodes.add(layer)
            if layer > 0:
                need_nodes.add(layer - 1)
                need_edges.add(layer - 1)
            if direction == "bidirectional" and layer < n_layers:
                need_nodes.add(layer + 1)
                need_edges.add(layer)
        for w in step_edges:
            need_edges.add(w)
            need_nodes |= {w, w + 1}
        nodes, edges = need_nodes, need_edges
    out.reverse()
    out.insert(0, (nodes, edges))  # what the initial states must provide
    return out


class PositionalEncoding(nn.Module):
    """Learned vectors per input neuron, per hidden layer and per output neuron (nodes and, optionally, edges).

    Added to input and output neurons, which must not be exchanged and carry no sign;
    multiplied into hidden neurons and into edges, which keeps their sign.
    """

    def __init__(self, sizes: list[int], d: int, nodes: bool, edges: bool) -> None:
        super().__init__()
        self.n_in, self.n_out, self.depth = sizes[0], sizes[-1], len(sizes) - 2
        self.node = nn.Parameter(torch.randn(self.n_in + self.depth + self.n_out, d)) if nodes else None
        self.edge = nn.Parameter(torch.randn(self.n_in + self.depth - 1 + self.n_out, d)) if edges else None

    def node_vector(self, layer: int) -> Tensor:
        """``(n_l, d)`` for input and output layers, ``(1, d)`` for a hidden one."""
        assert self.node is not None
        if layer == 0:
            return self.node[: self.n_in]
        if layer == self.depth + 1:
            return self.node[self.n_in + self.depth :]
        return self.node[self.n_in + layer - 1][None]

    def encode_nodes(self, h: Tensor, layer: int) -> Tensor:
        if self.node is None:
            return h
        hidden = 0 < layer <= self.depth
        return h * self.node_vector(layer) if hidden else h + self.node_vector(layer)

    def encode_edges(self, e: Tensor, layer: int) -> Tensor:
        """Edges of weight layer ``layer`` ``(B, n_out, n_in, d)``: a type per input neuron in the first, per output in the last."""
        if self.edge is None:
            return e
        if layer == 0:
            return e * self.edge[: self.n_in][None, None]
        if layer == self.depth:
            return e * self.edge[self.n_in + self.depth - 1 :][None, :, None]
        return e * self.edge[self.n_in + layer - 1]


class GMNStep(nn.Module):
    """One message-passing step over the node layers in ``nodes`` and edge updates of ``edges``."""

    def __init__(
        self,
        sizes: list[int],
        d: int,
        hidden: tuple[int, ...],
        direction: Direction,
        nodes: set[int],
        edges: set[int],
        invariance: Invariance,
        io_mlp: bool,
        split_io: bool,
        positional_messages: bool,
        positional_updates: bool,
        skip: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_layers, self.direction = len(sizes) - 1, direction
        self.nodes, self.edges = sorted(nodes), sorted(edges)
        self.positional_messages, self.positional_updates, self.dropout = positional_messages, positional_updates, dropout
        roles = {layer: self.role(layer) for layer in nodes}
        fw_roles = frozenset(roles[layer] for layer in nodes if layer > 0)
        bw_roles = frozenset(roles[layer] for layer in nodes if layer < self.n_layers)
        common = dict(hidden=hidden, invariance=invariance, io_mlp=io_mlp, split_io=split_io)
        self.fw = self._messages(d, fw_roles, common)
        self.bw = self._messages(d, bw_roles, common) if direction == "bidirectional" else None
        n_parts = 3 if direction == "bidirectional" else 2
        self.update = NeuronMap(n_parts * d, d, d * positional_updates, roles=frozenset(roles.values()), **common)
        self.edge_update = EdgeUpdate(d, hidden, invariance) if edges else None  # one per step, shared by every layer
        self.skip = nn.Linear(d, d, bias=False) if skip and nodes else None

    def _messages(self, d: int, roles: frozenset[str], common: dict) -> nn.ModuleDict | None:
        if not roles:
            return None
        return nn.ModuleDict(
            dict(
                sender=nn.Linear(d, d, bias=False),
                edge=nn.Linear(d, d, bias=False),
                map=NeuronMap(d, d, d * self.positional_messages, roles=roles, **common),
            )
        )

    def role(self, layer: int) -> Role:
        return "input" if layer == 0 else "output" if layer == self.n_layers else "hidden"

    def _message_extra(self, pe: PositionalEncoding, receiver: int, sender: int, backward: bool) -> Tensor | None:
        """Positional vector joined to each message: the receiver's (forward-only) or the sender's (bidirectional), as released."""
        if not self.positional_messages:
            return None
        if self.direction == "forward":
            return pe.node_vector(receiver)[:, None]  # (n_out | 1, 1, d) against (B, n_out, n_in, d)
        v = pe.node_vector(sender)
        return v[:, None] if backward else v[None]  # sender on axis 1 backward, axis 2 forward

    def _aggregate(self, layer: int, x: list, e: list, pe: PositionalEncoding, backward: bool) -> Tensor:
        fns = self.bw if backward else self.fw
        weight = layer if backward else layer - 1
        sender = layer + 1 if backward else layer - 1
        # (B, n_out, n_in, d) edges of the weight layer between sender and receiver, sender state broadcast
        h = fns["sender"](x[sender]).unsqueeze(2 if backward else 1)
        msg = fns["map"](fns["edge"](e[weight]) * h, self.role(layer), self._message_extra(pe, layer, sender, backward))
        return msg.sum(1 if backward else 2)

    def forward(self, x: list, e: list, pe: PositionalEncoding) -> tuple[list, list]:
        new_x: list[Tensor | None] = [None] * len(x)
        for layer in self.nodes:
            h = x[layer]
            parts = [h, self._aggregate(layer, x, e, pe, False) if layer > 0 else torch.zeros_like(h)]
            if self.direction == "bidirectional":
                parts.append(self._aggregate(layer, x, e, pe, True) if layer < self.n_layers else torch.zeros_like(h))
            extra = pe.node_vector(layer)[None] if self.positional_updates else None
            out = self.update(torch.cat(parts, dim=-1), self.role(layer), extra)
            if self.skip is not None:
                out = self.skip(h) + out
            new_x[layer] = F.dropout(out, self.dropout, self.training)
        new_e = list(e)
        for w in self.edges:
            new_e[w] = self.edge_update(e[w], x[w], x[w + 1])
        return new_x, new_e


class ScaleGMNNet(nn.Module):
    """ScaleGMN on ``weight-graph`` batches of one ``FieldSpec``: logits, or the head's penultimate activation.

    ``prune=False`` computes every node and edge at every step (what the release does);
    the readout is the same, which the tests check.
    """

    def __init__(
        self,
        spec: FieldSpec,
        n_classes: int,
        *,
        d: int,
        mlp_hidden: tuple[int, ...],
        n_layers: int,
        direction: Direction,
        readout: Readout,
        readout_width: int,
        node_positional: bool,
        edge_positional: bool,
        positional_messages: bool,
        positional_updates: bool,
        update_edges: bool,
        skip: bool,
        invariance: Invariance,
        io_mlp: bool,
        split_io: bool,
        dropout: float,
        normalize: bool,
        prune: bool = True,
    ) -> None:
        super().__init__()
        if (positional_messages or positional_updates) and not node_positional:
            raise ValueError("positional messages or updates need node positional encodings")
        self.sizes = layer_sizes(spec)
        L = len(self.sizes) - 1
        self.n_layers, self.direction, self.readout_mode = L, direction, readout
        self.normalize = SignRMSNorm(self.sizes) if normalize else None
        self.node_in = nn.Linear(1, d, bias=False)
        self.edge_in = nn.Linear(1, d, bias=False)
        self.pe = PositionalEncoding(self.sizes, d, node_positional, edge_positional)
        if readout == "graph":
            read = set(range(L + 1))
        else:
            read = {0, L} if direction == "bidirectional" else {L}
        if prune:
            steps = plan(L, n_layers, direction, read, update_edges)
        else:
            every, weights = set(range(L + 1)), set(range(L))
            steps = [(every, weights)] + [(every, weights if update_edges else set())] * (n_layers - 1) + [(every, set())]
        self.initial_nodes, self.initial_edges = steps[0]
        self.steps = nn.ModuleList(
            GMNStep(
                self.sizes, d, mlp_hidden, direction, nodes, edges, invariance, io_mlp, split_io,
                positional_messages, positional_updates, skip, dropout,
            )
            for nodes, edges in steps[1:]
        )  # fmt: skip
        n_in, n_out = self.sizes[0], self.sizes[-1]
        if readout == "graph":
            self.hidden_inv = SignInvariant(d, mlp_hidden, invariance)
            self.hidden_phi = MLP(d, mlp_hidden, readout_width)
            self.head = MLP(readout_width + (n_in + n_out) * d, mlp_hidden, n_classes)
        elif direction == "bidirectional":
            self.project_in, self.project_out = nn.Linear(n_in * d, d), nn.Linear(n_out * d, d)
            self.head = MLP(2 * d, mlp_hidden, n_classes)
        else:
            self.head = MLP(n_out * d, mlp_hidden, n_classes)

    def initial_states(self, graphs: Batch) -> tuple[list, list]:
        n_graphs = graphs.num_graphs
        weights, biases = from_graphs(graphs, n_graphs, self.sizes)
        if self.normalize is not None:
            weights, biases = self.normalize(weights, biases)
        # input neurons have no bias; their state is the release's constant 1, told apart by the positional encoding
        values = [biases[0].new_ones(n_graphs, self.sizes[0]), *biases]
        x: list[Tensor | None] = [None] * (self.n_layers + 1)
        for layer in self.initial_nodes:
            x[layer] = self.pe.encode_nodes(self.node_in(values[layer][..., None]), layer)
        e: list[Tensor | None] = [None] * self.n_layers
        for layer in self.initial_edges:
            e[layer] = self.pe.encode_edges(self.edge_in(weights[layer][..., None]), layer)
        return x, e

    def pooled(self, x: list) -> Tensor:
        """The invariant vector the head reads."""
        outputs = x[-1].flatten(1)
        if self.readout_mode == "graph":
            summed = self.hidden_phi(self.hidden_inv(torch.cat(x[1:-1], dim=1))).sum(1)
            return torch.cat([summed, x[0].flatten(1), outputs], dim=1)
        if self.direction == "bidirectional":
            return torch.cat([self.project_out(outputs), self.project_in(x[0].flatten(1))], dim=1)
        return outputs

    def forward(self, graphs: Batch, embed: bool = False) -> Tensor:
        x, e = self.initial_states(graphs)
        for step in self.steps:
            x, e = step(x, e, self.pe)
        h = self.head.trunk(self.head.first(self.pooled(x)))
        return h if embed else self.head.last(h)
