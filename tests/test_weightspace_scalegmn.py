"""ScaleGMN: invariant to hidden-neuron permutations and sign flips, not to anything else, and it learns.

Invariance is checked in float64 on random INRs of several shapes (one hidden layer
included) and several architectures (forward and bidirectional messages, both readouts,
both sign-invariant forms), against perturbations that are not symmetries, which must
change the logits. Learning is checked on synthetic INRs whose every INR was put in a
random gauge (random permutation and signs): only a model that sees through the symmetry
reads the class of a held-out INR in yet another gauge.
"""

from __future__ import annotations

import pytest
import torch
from support import ParamsGraphView
from torch import Tensor

from nfbench.api import DataInfo
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, field_preset, shared_init
from nfbench.methods.scalegmn import ScaleGMN
from nfbench.views.weight_graph import graph_edges, to_graphs
from nfbench.weightspace.scalegmn import ScaleGMNNet
from nfbench.weightspace.symmetry import flip_signs, permute_hidden, random_permutations, random_signs

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread")

SPECS = {
    "one-hidden": FieldSpec(kind="siren", in_dim=2, out_dim=3, hidden=5, depth=1),
    "three-hidden": FieldSpec(kind="siren", in_dim=3, out_dim=2, hidden=6, depth=3),
    "image": field_preset("image"),
}
VARIANTS = {
    "tiny": {},
    "graph-readout": dict(readout="graph", n_layers=3, dropout=0.2),
    "bidirectional": dict(
        direction="bidirectional", readout="output", positional_messages=True, positional_updates=True, edge_positional=False,
        skip_connections=False,
    ),
    "graph-abs-io": dict(readout="graph", invariance="abs", io_mlp=True, split_io=True, direction="bidirectional"),
}


def info_for(spec: FieldSpec, n_classes: int = 4) -> DataInfo:
    return DataInfo(spec=spec, field_kind="udf", class_names=tuple(f"c{i}" for i in range(n_classes)))


def method_for(spec: FieldSpec, seed: int = 0, preset: str = "tiny", **overrides) -> ScaleGMN:
    method = ScaleGMN(ScaleGMN.presets[preset].config.model_copy(update=overrides), CPU, seed)
    method.setup(info_for(spec))
    return method


def random_params(spec: FieldSpec, batch: int, seed: int = 0) -> Params:
    gen = torch.Generator().manual_seed(seed)
    init = shared_init(spec, seed)
    return {n: (p + p.abs().mean() * torch.randn(batch, *p.shape, generator=gen)).double() for n, p in init.items()}


def logits_fn(spec: FieldSpec, variant: str, params: Params, **overrides):
    """The variant's logits in float64, at a parameter point where every layer of the INR reaches them.

    At init, a message is the product of two small linear maps, so each hop between layers
    shrinks a change ~1000-fold, and unscaled SIREN hidden weights (~0.01) shrink it more:
    checks that a perturbation matters would measure rounding. So inputs are scaled per
    layer as ``prepare`` would on ``params``, and the linear maps of the gates tripled (any
    parameters keep the symmetry).
    """
    model = method_for(spec, **(VARIANTS[variant] | overrides)).model.double().eval()
    with torch.no_grad():
        for layer in range(spec.depth + 1):
            model.normalize.weight_rms[layer] = params[f"layers.{layer}.weight"].square().mean().sqrt()
            model.normalize.bias_rms[layer] = params[f"layers.{layer}.bias"].square().mean().sqrt()
        for name, p in model.named_parameters():
            if name.endswith(("W.weight", "sender.weight", "edge.weight")):
                p.mul_(3)
    edges = graph_edges(spec)
    return lambda params: model(to_graphs(spec, params, *edges))


def gap(a: Tensor, b: Tensor) -> float:
    """The largest change of a logit, relative to how much logits differ between INRs."""
    return float((a - b).abs().max() / (a - a.mean(0)).abs().max())


# --------------------------------------------------------------------------- invariance


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", SPECS)
def test_logits_are_invariant_to_permutations_and_sign_flips(shape: str, variant: str) -> None:
    spec = SPECS[shape]
    params = random_params(spec, 6)
    logits = logits_fn(spec, variant, params)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ref = logits(params)
        permuted = permute_hidden(spec, params, random_permutations(spec, 6, gen))
        flipped = flip_signs(spec, params, random_signs(spec, 6, gen))
        both = flip_signs(spec, permute_hidden(spec, params, random_permutations(spec, 6, gen)), random_signs(spec, 6, gen))
        assert ref.shape == (6, 4) and (ref - ref.mean(0)).abs().max() > 1e-3
        assert gap(ref, logits(permuted)) < 1e-10
        assert gap(ref, logits(flipped)) < 1e-10
        assert gap(ref, logits(both)) < 1e-10
        # the group elements did act: the parameters moved
        assert not torch.equal(flipped["layers.0.weight"], params["layers.0.weight"])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("shape", ["one-hidden", "three-hidden"])
def test_logits_change_under_perturbations_that_are_not_symmetries(shape: str, variant: str) -> None:
    """The invariance test could pass for a model that ignores its input; these show it does not.

    With as many layers as the MLP, messages from every layer reach the readout.
    """
    spec = SPECS[shape]
    params = random_params(spec, 6)
    logits = logits_fn(spec, variant, params, n_layers=spec.depth + 1)
    with torch.no_grad():
        ref = logits(params)
        inputs = {**params, "layers.0.weight": params["layers.0.weight"].flip(2)}  # input neurons reordered
        assert gap(ref, logits(inputs)) > 1e-3
        outputs = {**params, f"layers.{spec.depth}.weight": params[f"layers.{spec.depth}.weight"].flip(1)}
        outputs[f"layers.{spec.depth}.bias"] = params[f"layers.{spec.depth}.bias"].flip(1)  # output neurons reordered
        assert gap(ref, logits(outputs)) > 1e-3
        for layer in range(spec.depth):  # one hidden neuron's incoming weights and bias negated, outgoing kept
            half = dict(params)
            for name in (f"layers.{layer}.weight", f"layers.{layer}.bias"):
                half[name] = params[name].clone()
                half[name][:, 0] *= -1
            assert gap(ref, logits(half)) > 1e-3, layer
        scaled = {**params, "layers.1.weight": params["layers.1.weight"] * 1.5}  # a hidden layer's weights rescaled
        assert gap(ref, logits(scaled)) > 1e-3


@pytest.mark.parametrize("variant", VARIANTS)
def test_pruned_network_computes_what_the_full_one_does(variant: str) -> None:
    """Only what the readout reads is computed; the release computes every node and edge at every step."""
    spec = SPECS["three-hidden"]
    method = method_for(spec, **(VARIANTS[variant] | {"n_layers": 3}))
    cfg = method.config
    full = ScaleGMNNet(
        spec, 4, d=cfg.hidden, mlp_hidden=cfg.mlp_hidden, n_layers=cfg.n_layers, direction=cfg.direction, readout=cfg.readout,
        readout_width=cfg.readout_width, node_positional=cfg.node_positional, edge_positional=cfg.edge_positional,
        positional_messages=cfg.positional_messages, positional_updates=cfg.positional_updates, update_edges=cfg.update_edges,
        skip=cfg.skip_connections, invariance=cfg.invariance, io_mlp=cfg.io_mlp, split_io=cfg.split_io, dropout=cfg.dropout,
        normalize=cfg.normalize, prune=False,
    )  # fmt: skip
    pruned = method.model
    assert set(pruned.state_dict()) <= set(full.state_dict())
    full.load_state_dict(pruned.state_dict(), strict=False)
    graphs = to_graphs(spec, {n: p.float() for n, p in random_params(spec, 5).items()}, *graph_edges(spec))
    with torch.no_grad():
        assert torch.allclose(pruned.eval()(graphs), full.eval()(graphs), atol=1e-6)
    if cfg.readout == "output" and cfg.direction == "forward":
        assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in full.parameters())


# --------------------------------------------------------------------------- method


def test_refuses_fields_without_sign_symmetry() -> None:
    relu = FieldSpec(kind="relu-mlp", in_dim=3, out_dim=1, hidden=16, depth=2)
    with pytest.raises(ConfigError, match=r"scalegmn.*siren.*relu-mlp"):
        method_for(relu)


def test_refuses_graphs_of_another_architecture() -> None:
    model = method_for(SPECS["one-hidden"]).model
    other = SPECS["three-hidden"]
    with pytest.raises(ValueError, match="layer sizes"):
        model(to_graphs(other, {n: p.float() for n, p in random_params(other, 2).items()}, *graph_edges(other)))


def test_card_and_presets() -> None:
    card = ScaleGMN.card
    assert card.name == "scalegmn" and card.view == "weight-graph" and card.symmetry == "permutation+sign"
    assert {"paper", "cpu", "tiny"} <= set(ScaleGMN.presets) and all(p.departs for p in ScaleGMN.presets.values())
    with pytest.raises(ValueError, match="not_an_option"):
        ScaleGMN.Config.model_validate(ScaleGMN.presets["tiny"].config.model_dump() | {"not_an_option": 1})
    paper = method_for(field_preset("image"), preset="paper")
    assert paper.n_parameters() > 100_000


def gauge_randomized(spec: FieldSpec, n_per_class: int, n_classes: int, seed: int) -> tuple[Params, Tensor]:
    """Copies of one shared init with a class-dependent shift of a hidden layer's weights, each in a random gauge."""
    gen = torch.Generator().manual_seed(seed)
    init = shared_init(spec, seed=0)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    params = {n: p + 0.02 * p.abs().mean() * torch.randn(len(labels), *p.shape, generator=gen) for n, p in init.items()}
    params["layers.1.weight"] = params["layers.1.weight"] + 0.05 * (labels - (n_classes - 1) / 2).view(-1, 1, 1)
    params = permute_hidden(spec, params, random_permutations(spec, len(labels), gen))
    return flip_signs(spec, params, random_signs(spec, len(labels), gen)), labels


def test_learns_a_synthetic_task_through_the_symmetry() -> None:
    spec = field_preset("tiny")
    info = info_for(spec, n_classes=3)
    views = {}
    for split, n, seed in (("train", 40, 1), ("val", 15, 2), ("test", 20, 3)):
        params, labels = gauge_randomized(spec, n, 3, seed)
        views[split] = ParamsGraphView(info, split, params, labels)
    method = ScaleGMN(ScaleGMN.presets["tiny"].config, CPU, 0)
    method.setup(info)
    method.fit(views["train"], views["val"])
    logits = method.predict(views["test"])
    assert logits.shape == (60, 3) and torch.isfinite(logits).all()
    accuracy = float((logits.argmax(1) == views["test"].labels).float().mean())
    assert accuracy > 0.8, accuracy
    emb = method.embed(views["test"])
    assert emb.shape == (60, ScaleGMN.presets["tiny"].config.mlp_hidden[-1]) and torch.isfinite(emb).all()
    restored = ScaleGMN(ScaleGMN.presets["tiny"].config, CPU, 1)
    restored.setup(info)
    restored.load_state_dict(method.state_dict())
    assert torch.equal(restored.predict(views["test"]), logits)
