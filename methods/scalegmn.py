"""ScaleGMN (Kalogeropoulos et al., Scale Equivariant Graph Metanetworks, NeurIPS 2024): ``scalegmn``.

A graph metanetwork on each INR's neural graph (the ``weight-graph`` view) whose node and
edge states keep the sign of their hidden neurons: a sine network is unchanged when a
hidden neuron's incoming weights, bias and outgoing weights are negated, and so is the
prediction here, besides being unchanged under reordered hidden neurons. Messages and
updates multiply a linear map of their input by a sign-invariant function of it; input and
output neurons, which carry no sign, get positional encodings and plain MLPs. The released
INR classifier reads the output neurons' final states into an MLP head, whose penultimate
activation is the embedding. See ``nfbench.weightspace.scalegmn`` for the blocks.

The release trains on phase-canonicalized INRs (its appendix's Algorithm 1, a
preprocessing of the dataset); the ``weight-graph`` view serves the INRs as fitted.
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from nfbench.api import DataInfo, MethodCard, Preset
from nfbench.errors import ConfigError
from nfbench.weightspace.method import WeightClassifierConfig, WeightClassifierMethod
from nfbench.weightspace.scalegmn import Direction, Invariance, Readout, ScaleGMNNet

KINDS = ("udf", "sdf", "occ", "image")


class ScaleGMNConfig(WeightClassifierConfig):
    hidden: int = Field(ge=1, description="width of node, edge and message states (the release's d_hid)")
    mlp_hidden: tuple[int, ...] = Field(min_length=1, description="hidden widths of every MLP inside the blocks and of the head")
    n_layers: int = Field(ge=1, description="message-passing layers")
    direction: Direction = Field(description="messages along weights only, or against them too (the paper's ScaleGMN-B)")
    readout: Readout = Field(
        description="'output': the output neurons' final states (bidirectional: and the inputs'), the release's last_layer; "
        "'graph': a sign-invariant sum over hidden neurons joined to input and output states (full_graph)"
    )
    readout_width: int = Field(ge=1, description="width of the summed sign-invariant features of 'graph' readouts (d_rho)")
    node_positional: bool = Field(description="learned vectors per input neuron, output neuron and hidden layer")
    edge_positional: bool = Field(description="learned vectors per first-layer input, last-layer output and hidden layer, on edges")
    positional_messages: bool = Field(description="the sender's (bidirectional) or receiver's vector joins each message's gate")
    positional_updates: bool = Field(description="the neuron's vector joins its update's gate")
    update_edges: bool = Field(description="edge states updated from their end neurons between layers")
    skip_connections: bool = Field(description="a linear skip around every layer's node update")
    invariance: Invariance = Field(description="sign-invariant part: rho(x) + rho(-x) (symmetrize) or |x| (canonicalize)")
    io_mlp: bool = Field(description="input and output neurons updated by a plain MLP instead of a gated linear map")
    split_io: bool = Field(description="separate MLPs for input and output neurons (the release's num_mlps 3), else one")
    dropout: float = Field(ge=0, lt=1, description="dropout of node states between layers")
    normalize: bool = Field(description="divide each layer's weights and biases by their train RMS (a positive scale: symmetric)")


def _presets() -> dict[str, Preset]:
    paper = ScaleGMNConfig(
        hidden=128, mlp_hidden=(128,), n_layers=4, direction="forward", readout="output", readout_width=128,
        node_positional=True, edge_positional=True, positional_messages=False, positional_updates=False, update_edges=True,
        skip_connections=True, invariance="symmetrize", io_mlp=False, split_io=False, dropout=0.2, normalize=False,
        epochs=200, lr=1e-3, weight_decay=0.01, batch_size=128, eval_batch_size=128, grad_clip=10.0,
    )  # fmt: skip
    return {
        "paper": Preset(
            config=paper,
            departs="the release's MNIST settings (configs/mnist_cls/scalegmn.yml; F-MNIST's differ in 2 layers, MLPs of 64 and "
            "the full-graph readout); its AdamW with 1000 warmup steps at a constant lr is the shared "
            "OneCycle AdamW recipe (gradients clipped at 10 as there), and its INRs are phase-canonicalized, these as fitted",
        ),
        "cpu": Preset(
            config=paper.model_copy(
                update=dict(
                    hidden=16, mlp_hidden=(16,), n_layers=2, readout="graph", readout_width=16, invariance="abs", normalize=True,
                    epochs=60, batch_size=32, eval_batch_size=64,
                )
            ),  # fmt: skip
            departs="width 16, 2 layers, the release's full-graph readout (two forward hops do not reach the outputs from the "
            "early layers), the paper's |x| for rho(x) + rho(-x) (two LayerNorms fewer per message), weights and biases scaled "
            "per layer by their train RMS, batch 32, 60 epochs: a batch of 32 cpu-preset INRs (400K weights) trains in ~0.4 s "
            "on one core",
        ),
        "tiny": Preset(
            config=paper.model_copy(
                update=dict(
                    hidden=8, mlp_hidden=(8,), n_layers=2, readout_width=8, normalize=True, dropout=0.0,
                    epochs=20, lr=1e-2, batch_size=16, eval_batch_size=16,
                )
            ),  # fmt: skip
            departs="width 8, 2 layers, weights and biases scaled per layer by their train RMS, no dropout, 20 epochs at "
            "lr 1e-2: seconds, for tests",
        ),
    }


class ScaleGMN(WeightClassifierMethod):
    Config = ScaleGMNConfig
    config: ScaleGMNConfig
    presets = _presets()
    card = MethodCard(
        name="scalegmn",
        description="Scale Equivariant Graph Metanetwork: message passing on the neural graph whose states keep each hidden "
        "neuron's sign (gated linear maps of sign-invariant features), with positional encodings of inputs, outputs and "
        "layers; invariant readout into an MLP head.",
        reference="Kalogeropoulos et al., Scale Equivariant Graph Metanetworks, NeurIPS 2024",
        view="weight-graph",
        field_kinds=KINDS,
        training="supervised",
        symmetry="permutation+sign",
    )

    def build(self, info: DataInfo) -> nn.Module:
        spec, cfg = info.spec, self.config
        if spec.kind != "siren":
            raise ConfigError(
                f"scalegmn: the sign-equivariant architecture needs an odd activation (siren), not {spec.kind!r}, whose "
                "sign flips change the function (ReLU's positive scalings would need the scale variant)"
            )
        if spec.encoding != "none":
            raise ConfigError(f"scalegmn: a neural graph has one node per MLP input, so it needs fields without an input encoding, not {spec.encoding!r}")
        if (cfg.positional_messages or cfg.positional_updates) and not cfg.node_positional:
            raise ConfigError("scalegmn: positional_messages and positional_updates join node positional vectors; set node_positional")
        return ScaleGMNNet(
            spec, info.n_classes, d=cfg.hidden, mlp_hidden=cfg.mlp_hidden, n_layers=cfg.n_layers, direction=cfg.direction,
            readout=cfg.readout, readout_width=cfg.readout_width, node_positional=cfg.node_positional,
            edge_positional=cfg.edge_positional, positional_messages=cfg.positional_messages,
            positional_updates=cfg.positional_updates, update_edges=cfg.update_edges, skip=cfg.skip_connections,
            invariance=cfg.invariance, io_mlp=cfg.io_mlp, split_io=cfg.split_io, dropout=cfg.dropout, normalize=cfg.normalize,
        )  # fmt: skip

