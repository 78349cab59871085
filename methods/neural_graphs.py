"""Neural graphs (Kofinas et al., ICLR 2024): ``ng-gnn`` and ``ng-t``.

Each INR is read as its neural graph (the ``weight-graph`` view): neurons are nodes with
their biases, weights are edges. Weights and biases are standardized per layer with
train statistics and embedded with random Fourier features; input neurons, output
neurons and hidden layers get learned positional embeddings, which break the graph's
extra symmetry (inputs and outputs may not be exchanged) and keep the MLP's (hidden
neurons may). ``ng-gnn`` then runs PNA message passing with edge-modulated messages and
edge updates, ``ng-t`` a relational transformer; both read out the final states of the
output neurons into an MLP head. The embedding is the head's penultimate activation.

Optional probe features (every neuron's activation at learned input points, as node
features) are off in every preset, as in the release's headline INR-classification runs.

Where the release applies two linear maps in a row (an embedding and ``proj_node_in`` /
``proj_edge_in``; PNA's ``post_nns`` and ``lin``; attention's ``proj_out`` and ``lin0``), one
map is used: the same functions, fewer parameters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.data import Batch
from torch_geometric.nn.norm import LayerNorm as GraphLayerNorm

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec
from nfbench.weightspace.graphs import (
    Attention,
    EdgeUpdate,
    FiLMPNAConv,
    FourierEmbedding,
    GraphLayout,
    LayerStandardize,
    NodeEncoder,
    Readout,
    RTLayer,
    attention_pairs,
    degree_histogram,
    message_edges,
    mlp_head,
    pair_states,
    raw_values,
    readout,
    readout_width,
)
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod

KINDS = ("udf", "sdf", "occ", "image")
Aggregator = Literal["mean", "min", "max", "std", "var", "sum"]
Scaler = Literal["identity", "amplification", "attenuation", "linear", "inverse_linear"]


class NeuralGraphConfig(WeightClassifierConfig):
    """Settings both neural-graph networks share: how the graph is built and read out."""

    n_layers: int = Field(ge=1, description="message-passing or transformer layers")
    fourier_features: int = Field(ge=0, description="Gaussian Fourier frequencies per weight and bias (2x features); 0: linear")
    fourier_scale: float = Field(gt=0, description="std of those frequencies (the release's inp_factor)")
    positional: bool = Field(description="learned embeddings per input neuron, per output neuron and per hidden layer")
    probe_points: int = Field(0, ge=0, description="learned input points where each neuron's activation is a feature; 0: off")
    normalize: bool = Field(description="standardize weights and biases per layer with train statistics")
    readout: Readout = Field(description="'output': the output neurons' final states, concatenated (release); 'layers': means")
    head_hidden: tuple[int, ...] = Field(description="widths of the MLP head's hidden layers (the last one is the embedding)")
    dropout: float = Field(ge=0, lt=1)


class NGGNNConfig(NeuralGraphConfig):
    hidden: int = Field(ge=1, description="width of node and edge states")
    aggregators: tuple[Aggregator, ...] = Field(min_length=1, description="PNA aggregators of incoming messages")
    scalers: tuple[Scaler, ...] = Field(min_length=1, description="PNA degree scalers of each aggregate")
    reverse_edges: bool = Field(description="messages both ways along every weight (the release's rev_edge_features)")


class NGTConfig(NeuralGraphConfig):
    d_node: int = Field(ge=1, description="width of node states")
    d_edge: int = Field(ge=1, description="width of pair (edge) states")
    d_attn: int = Field(ge=1, description="width of queries, keys and values, over all heads")
    n_heads: int = Field(ge=1)
    d_node_hidden: int = Field(ge=1, description="hidden width of the node MLP")
    d_edge_hidden: int = Field(ge=1, description="hidden width of the pair updates")
    attention: Attention = Field(description="'dense': all node pairs (the release); 'edges': pairs joined by a weight, and self")


def _layer_norm(d: int) -> GraphLayerNorm:
    """The release's PyG layer norm over a graph's nodes and channels, applied per INR.

    The release passed no batch vector, so it normalized over the whole minibatch; per INR,
    a prediction does not depend on what else is in the batch.
    """
    return GraphLayerNorm(d, mode="graph")


class _NeuralGraphNet(nn.Module):
    """Standardize, embed nodes; subclasses embed edges, run their layers and read out."""

    def __init__(self, spec: FieldSpec, config: NeuralGraphConfig, d_node: int) -> None:
        super().__init__()
        self.layout = GraphLayout(spec)
        self.readout_mode = config.readout
        self.standardize = LayerStandardize(len(self.layout.sizes) - 1) if config.normalize else None
        self.nodes = NodeEncoder(
            self.layout, d_node, config.fourier_features, config.fourier_scale, config.positional, config.probe_points
        )

    def values(self, graphs: Batch) -> tuple[Tensor, Tensor]:
        return self.standardize(graphs) if self.standardize is not None else raw_values(graphs)


class NGGNNClassifier(_NeuralGraphNet):
    def __init__(self, spec: FieldSpec, config: NGGNNConfig, n_classes: int) -> None:
        super().__init__(spec, config, config.hidden)
        d, n = config.hidden, config.n_layers
        self.reverse_edges, self.dropout = config.reverse_edges, config.dropout
        self.edges = FourierEmbedding(3 if config.reverse_edges else 1, d, config.fourier_features, config.fourier_scale)
        deg = degree_histogram(spec, config.reverse_edges)
        self.convs = nn.ModuleList(FiLMPNAConv(d, d, config.aggregators, config.scalers, deg) for _ in range(n))
        # between layers only: the last conv's output goes straight to the readout, as released
        self.norms = nn.ModuleList(_layer_norm(d) for _ in range(n - 1))
        self.edge_updates = nn.ModuleList(EdgeUpdate(d, d, nn.SiLU()) for _ in range(n - 1))
        self.act = nn.SiLU()
        self.head = mlp_head(readout_width(self.layout, d, config.readout), config.head_hidden, n_classes)

    def forward(self, graphs: Batch, embed: bool = False) -> Tensor:
        n_graphs = self.layout.n_graphs(graphs)
        weights, biases = self.values(graphs)
        h = self.nodes(graphs, biases, n_graphs)
        edge_index, edge_in = message_edges(graphs, weights, self.reverse_edges)
        e = self.edges(edge_in)
        for i, conv in enumerate(self.convs):
            h = conv(h, edge_index, e)
            if i < len(self.norms):
                h = self.act(self.norms[i](h, graphs.batch, n_graphs))
                h = F.dropout(h, self.dropout, self.training)
                e = self.edge_updates[i](h, edge_index, e)
        pooled = readout(h, self.layout, n_graphs, self.readout_mode)
        return self.head[:-1](pooled) if embed else self.head(pooled)


class NGTClassifier(_NeuralGraphNet):
    def __init__(self, spec: FieldSpec, config: NGTConfig, n_classes: int) -> None:
        super().__init__(spec, config, config.d_node)
        self.attention = config.attention
        self.edges = FourierEmbedding(1, config.d_edge, config.fourier_features, config.fourier_scale)
        self.layers = nn.ModuleList(
            RTLayer(
                config.d_node, config.d_edge, config.d_attn, config.n_heads, config.d_node_hidden, config.d_edge_hidden,
                config.dropout, update_pairs=i < config.n_layers - 1,  # the last layer's pair states would go unread
            )
            for i in range(config.n_layers)
        )  # fmt: skip
        self.head = mlp_head(readout_width(self.layout, config.d_node, config.readout), config.head_hidden, n_classes)

    def forward(self, graphs: Batch, embed: bool = False) -> Tensor:
        n_graphs = self.layout.n_graphs(graphs)
        weights, biases = self.values(graphs)
        h = self.nodes(graphs, biases, n_graphs)
        pairs = attention_pairs(graphs, self.layout, n_graphs, self.attention)
        e = pair_states(self.edges, weights, pairs)
        for layer in self.layers:
            h, e = layer(h, e, pairs)
        pooled = readout(h, self.layout, n_graphs, self.readout_mode)
        return self.head[:-1](pooled) if embed else self.head(pooled)


_TRAINING = dict(epochs=200, lr=1e-3, weight_decay=5e-4, batch_size=128, eval_batch_size=128, grad_clip=10.0)
_DEPARTS = (
    "the release's INR-classification settings (experiments/inr_classification: configs/base.yaml, configs/model/{model}.yaml, "
    "scripts/mnist_cls_{script}.sh); its AdamW(amsgrad) with 1000 warmup steps at a constant lr is "
    "here the shared OneCycle AdamW recipe (gradients clipped at 10 as there), and its INR augmentations are off "
    "(the weight-graph view takes none){extra}"
)


_SHARED = dict(positional=True, probe_points=0, normalize=True, readout="output", dropout=0.2, **_TRAINING)


def _gnn_presets() -> dict[str, Preset]:
    paper = NGGNNConfig(
        **_SHARED, n_layers=4, hidden=32, aggregators=("mean", "min", "max", "std"), scalers=("identity", "amplification"),
        reverse_edges=True, fourier_features=128, fourier_scale=3.0, head_hidden=(32, 32),
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs=_DEPARTS.format(model="pna", script="pna", extra="; its layer norm is per INR, not per minibatch"),
        ),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(
                    n_layers=2, hidden=8, reverse_edges=False, fourier_features=8, readout="layers", head_hidden=(64, 64),
                    epochs=60, batch_size=32, eval_batch_size=64,
                )
            ),  # fmt: skip
            departs="2 layers of width 8, forward messages only, 8 Fourier frequencies, per-layer mean readout (two hops do not "
            "reach the outputs from every layer), head 64, batch 32, 60 epochs: a batch of 32 cpu-preset INRs (400K weights) "
            "trains in well under a second on one core",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(
                    n_layers=2, hidden=8, fourier_features=4, head_hidden=(16,), dropout=0.0, epochs=20, lr=1e-2,
                    batch_size=16, eval_batch_size=16,
                )
            ),  # fmt: skip
            departs="2 layers of width 8, 4 Fourier frequencies, head 16, no dropout, 20 epochs: seconds, for tests",
        ),
    }


def _t_presets() -> dict[str, Preset]:
    paper = NGTConfig(
        **_SHARED, n_layers=4, d_node=64, d_edge=32, d_attn=128, n_heads=8, d_node_hidden=128, d_edge_hidden=64,
        attention="dense", fourier_features=128, fourier_scale=1.0, head_hidden=(128,),
    )  # fmt: skip
    return {
        "paper": Preset(config=paper, departs=_DEPARTS.format(model="rtransformer", script="rt", extra="")),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(
                    n_layers=2, d_node=16, d_edge=4, d_attn=4, n_heads=1, d_node_hidden=32, d_edge_hidden=4, attention="edges",
                    fourier_features=8, readout="layers", head_hidden=(64,), epochs=60, batch_size=32, eval_batch_size=64,
                )
            ),  # fmt: skip
            departs="2 layers, nodes 16, pairs 4, one head of 4, attention only between neurons joined by a weight (a 64-wide "
            "INR has 68K dense pairs, 25K joined), 8 Fourier frequencies, per-layer mean readout, batch 32, 60 epochs: a batch "
            "of 32 cpu-preset INRs (810K pairs) trains in under a second on one core",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(
                    n_layers=2, d_node=16, d_edge=4, d_attn=8, n_heads=2, d_node_hidden=16, d_edge_hidden=8, fourier_features=4,
                    head_hidden=(16,), dropout=0.0, epochs=20, lr=1e-2, batch_size=16, eval_batch_size=16,
                )
            ),  # fmt: skip
            departs="2 layers, nodes 16, pairs 4, attention 8 over 2 heads, 4 Fourier frequencies, no dropout, 20 epochs: "
            "seconds, for tests",
        ),
    }


class _NeuralGraphMethod(WeightClassifierMethod):
    config: NeuralGraphConfig

    def check_spec(self, spec: FieldSpec) -> None:
        if spec.encoding != "none":
            raise ConfigError(
                f"{self.card.name}: a neural graph has one node per MLP input, so it needs fields without an input encoding, "
                f"not {spec.encoding!r}"
            )



_REFERENCE = "Kofinas et al., Graph Neural Networks for Learning Equivariant Representations of Neural Networks, ICLR 2024"


class NGGNN(_NeuralGraphMethod):
    Config = NGGNNConfig
    config: NGGNNConfig
    presets = _gnn_presets()
    card = MethodCard(
        name="ng-gnn",
        description="Neural-graph GNN: each INR as a graph of neurons (biases) and weights (edges) with positional "
        "embeddings of inputs, outputs and layers; PNA message passing modulated by edge states; output-neuron readout.",
        reference=_REFERENCE,
        view="weight-graph",
        field_kinds=KINDS,
        training="supervised",
        symmetry="permutation",
    )

    def build(self, info: DataInfo) -> nn.Module:
        self.check_spec(info.spec)
        return NGGNNClassifier(info.spec, self.config, info.n_classes)


class NGT(_NeuralGraphMethod):
    Config = NGTConfig
    config: NGTConfig
    presets = _t_presets()
    card = NGGNN.card.model_copy(
        update=dict(
            name="ng-t",
            description="Neural-graph transformer: each INR as a graph of neurons and weights with positional embeddings; "
            "relational-transformer layers whose attention is conditioned on edge states; output-neuron readout.",
        )
    )

    def build(self, info: DataInfo) -> nn.Module:
        self.check_spec(info.spec)
        cfg = self.config
        if cfg.d_attn % cfg.n_heads:
            raise ConfigError(
                f"ng-t: the relational transformer splits d_attn={cfg.d_attn} into n_heads={cfg.n_heads} heads; "
                "d_attn must be a multiple of n_heads"
            )
        return NGTClassifier(info.spec, cfg, info.n_classes)
