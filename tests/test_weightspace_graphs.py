"""Neural-graph networks (``ng-gnn``, ``ng-t``): the symmetry they keep, the one they break, and learning.

Permuting hidden neurons must not change a prediction; permuting input neurons must,
or the positional embeddings do nothing. Learning is checked on a synthetic stand-in for
an INR dataset read through an in-memory ``weight-graph`` view.
"""

from __future__ import annotations

import pytest
import torch
from support import ParamsGraphView
from torch_geometric.data import Batch

from nfbench.api import DataInfo, capabilities_of
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, field_preset, shared_init
from nfbench.methods.neural_graphs import NGGNN, NGT
from nfbench.views.weight_graph import graph_edges, to_graphs
from nfbench.weightspace.graphs import GraphLayout, LayerStandardize, attention_pairs
from nfbench.weightspace.symmetry import permute_hidden, random_permutations

CPU = torch.device("cpu")
METHODS = [NGGNN, NGT]

pytestmark = pytest.mark.usefixtures("one_thread")


def info_of(spec: FieldSpec, n_classes: int = 3) -> DataInfo:
    return DataInfo(spec=spec, field_kind="udf", class_names=tuple(f"c{i}" for i in range(n_classes)))


def random_params(spec: FieldSpec, batch: int, seed: int = 0) -> Params:
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(batch, *s, generator=gen) * 0.5 for n, s in spec.param_shapes().items()}


def graphs(spec: FieldSpec, params: Params) -> Batch:
    return to_graphs(spec, params, *graph_edges(spec))


def built(cls, spec: FieldSpec, seed: int = 0, **overrides):
    method = cls(cls.presets["tiny"].config.model_copy(update=overrides), CPU, seed)
    method.setup(info_of(spec))
    standardize = method.model.standardize
    if standardize is not None:  # non-trivial statistics, so the standardization is part of what is tested
        gen = torch.Generator().manual_seed(seed + 1)
        for name, buf in standardize.named_buffers():
            buf.copy_(torch.rand(buf.shape, generator=gen) + (0.5 if name.endswith("std") else -0.5))
    return method.model.eval()


SPECS = [
    FieldSpec(kind="siren", in_dim=2, out_dim=1, hidden=5, depth=1),
    FieldSpec(kind="siren", in_dim=3, out_dim=2, hidden=4, depth=3),
    FieldSpec(kind="relu-mlp", in_dim=2, out_dim=3, hidden=6, depth=2),
]
VARIANTS = [
    (NGGNN, {}),
    (NGGNN, {"reverse_edges": False, "readout": "layers", "normalize": False}),
    (NGGNN, {"probe_points": 5}),
    (NGT, {}),
    (NGT, {"attention": "edges", "readout": "layers"}),
    (NGT, {"probe_points": 5, "fourier_features": 0}),
]


def variant_id(v) -> str:
    cls, overrides = v
    return cls.card.name + "".join(f"-{k}={val}" for k, val in overrides.items())


# --------------------------------------------------------------------------- symmetry


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.in_dim}-{s.hidden}x{s.depth}-{s.out_dim}")
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_invariant_to_hidden_neuron_permutations(variant, spec: FieldSpec) -> None:
    cls, overrides = variant
    model = built(cls, spec, **overrides)
    params = random_params(spec, 6)
    permuted = permute_hidden(spec, params, random_permutations(spec, 6, torch.Generator().manual_seed(1)))
    assert not torch.equal(permuted["layers.0.weight"], params["layers.0.weight"])
    with torch.no_grad():
        logits, logits_p = model(graphs(spec, params)), model(graphs(spec, permuted))
        emb, emb_p = model(graphs(spec, params), embed=True), model(graphs(spec, permuted), embed=True)
    torch.testing.assert_close(logits_p, logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(emb_p, emb, rtol=1e-4, atol=1e-5)
    assert (logits - logits[:1]).abs().amax() > 1e-4  # different INRs, different outputs: not trivially invariant


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_permuting_input_neurons_changes_the_output(variant) -> None:
    """Far beyond the float error of an exact symmetry (a hidden permutation of the same INRs)."""
    cls, overrides = variant
    spec = SPECS[1]
    params = random_params(spec, 6)
    swapped = dict(params)
    swapped["layers.0.weight"] = params["layers.0.weight"][:, :, [1, 0, 2]]  # the INR reads its inputs in another order
    permuted = permute_hidden(spec, params, random_permutations(spec, 6, torch.Generator().manual_seed(1)))
    model = built(cls, spec, **overrides)
    with torch.no_grad():
        emb = model(graphs(spec, params), embed=True)
        change = (model(graphs(spec, swapped), embed=True) - emb).abs().amax()
        noise = (model(graphs(spec, permuted), embed=True) - emb).abs().amax()
    assert change > 20 * noise + 1e-5, (change, noise)


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_without_positional_embeddings_input_neurons_are_exchangeable(cls) -> None:
    """The graph alone cannot tell inputs apart; so the embeddings are what breaks that symmetry."""
    spec = SPECS[1]
    params = random_params(spec, 6)
    swapped = dict(params)
    swapped["layers.0.weight"] = params["layers.0.weight"][:, :, [1, 0, 2]]
    model = built(cls, spec, positional=False)
    with torch.no_grad():
        torch.testing.assert_close(model(graphs(spec, swapped)), model(graphs(spec, params)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_predictions_do_not_depend_on_the_rest_of_the_batch(cls) -> None:
    spec = SPECS[2]
    model = built(cls, spec)
    params = random_params(spec, 5)
    with torch.no_grad():
        together = model(graphs(spec, params))
        alone = model(graphs(spec, {n: p[2:3] for n, p in params.items()}))
    torch.testing.assert_close(alone, together[2:3], rtol=1e-4, atol=1e-5)


def test_dense_and_edge_pairs_are_consistent() -> None:
    spec = SPECS[1]
    layout = GraphLayout(spec)
    g = graphs(spec, random_params(spec, 3))
    for mode, n_pairs in (("dense", 3 * layout.n_nodes**2), ("edges", 3 * (2 * layout.n_edges + layout.n_nodes))):
        pairs = attention_pairs(g, layout, 3, mode)
        assert len(pairs) == n_pairs
        assert torch.equal(pairs.reverse[pairs.reverse], torch.arange(n_pairs))
        assert torch.equal(pairs.query[pairs.reverse], pairs.key)
        assert torch.equal(pairs.query[pairs.weights], g.edge_index[0]) and torch.equal(pairs.key[pairs.weights], g.edge_index[1])


def test_layer_standardize_matches_per_layer_statistics() -> None:
    spec = SPECS[1]
    params = random_params(spec, 7) | {"layers.2.weight": torch.randn(7, 4, 4) * 3 + 1}
    view = ParamsGraphView(info_of(spec), "train", params, torch.zeros(7, dtype=torch.long))
    standardize = LayerStandardize(spec.depth + 1)
    standardize.fit_(view, 3, CPU)
    for i in range(spec.depth + 1):
        for name in ("weight", "bias"):
            values = params[f"layers.{i}.{name}"].double()
            assert torch.isclose(getattr(standardize, f"{name}_mean")[i].double(), values.mean(), atol=1e-5)
            assert torch.isclose(getattr(standardize, f"{name}_std")[i].double(), values.std(unbiased=False), atol=1e-5)
    w, b = standardize(graphs(spec, params))
    assert abs(float(w.mean())) < 1e-5 and torch.equal(b[: spec.in_dim], torch.zeros(spec.in_dim))


# --------------------------------------------------------------------------- learning


class SyntheticGraphs:
    """Copies of one shared SIREN init, perturbed per INR, whose classes differ by a mean shift of one hidden layer."""

    def __init__(self, spec: FieldSpec, n_classes: int = 3, sizes: dict[str, int] | None = None, shift: float = 0.05) -> None:
        self.info = info_of(spec, n_classes)
        gen = torch.Generator().manual_seed(0)
        init = shared_init(spec, seed=0)
        self.views: dict[str, ParamsGraphView] = {}
        for split, n in (sizes or {"train": 40, "val": 15, "test": 20}).items():
            labels = torch.arange(n_classes).repeat_interleave(n)
            params = {n: p + 0.02 * p.abs().mean() * torch.randn(len(labels), *p.shape, generator=gen) for n, p in init.items()}
            params["layers.1.weight"] += shift * (labels - (n_classes - 1) / 2).view(-1, 1, 1)
            self.views[split] = ParamsGraphView(self.info, split, params, labels)


@pytest.fixture(scope="module")
def data() -> SyntheticGraphs:
    return SyntheticGraphs(field_preset("tiny"))


@pytest.fixture(scope="module")
def fitted(data: SyntheticGraphs) -> dict[type, object]:
    torch.set_num_threads(1)
    out = {}
    for cls in METHODS:
        method = cls(cls.presets["tiny"].config, CPU, 0)
        method.setup(data.info)
        method.fit(data.views["train"], data.views["val"])
        out[cls] = method
    return out


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_learns_synthetic_inrs_well_above_chance(cls, data: SyntheticGraphs, fitted) -> None:
    method = fitted[cls]
    test = data.views["test"]
    logits = method.predict(test)
    assert logits.shape == (60, 3) and torch.isfinite(logits).all()
    accuracy = float((logits.argmax(1) == test.labels).float().mean())
    assert accuracy > 0.8, accuracy
    emb = method.embed(test)
    assert emb.shape == (60, method.config.head_hidden[-1]) and torch.isfinite(emb).all()
    standardize = method.model.standardize
    assert standardize is not None and not torch.equal(standardize.weight_std, torch.ones_like(standardize.weight_std))


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_state_dict_round_trip_predicts_identically(cls, data: SyntheticGraphs, fitted) -> None:
    restored = cls(cls.presets["tiny"].config, CPU, 1)
    restored.setup(data.info)
    restored.load_state_dict(fitted[cls].state_dict())
    assert torch.equal(restored.predict(data.views["test"]), fitted[cls].predict(data.views["test"]))


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_fields_with_an_input_encoding_are_refused(cls) -> None:
    method = cls(cls.presets["tiny"].config, CPU, 0)
    with pytest.raises(ConfigError, match=f"{cls.card.name}: .*input encoding"):
        method.setup(info_of(field_preset("nerf")))


def test_attention_width_must_split_into_heads() -> None:
    method = NGT(NGT.presets["tiny"].config.model_copy(update=dict(d_attn=6, n_heads=4)), CPU, 0)
    with pytest.raises(ConfigError, match="ng-t: .*d_attn=6 .*n_heads=4"):
        method.setup(info_of(SPECS[0]))


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.card.name)
def test_presets_and_card(cls) -> None:
    assert {"paper", "cpu", "tiny"} <= set(cls.presets) and all(p.departs for p in cls.presets.values())
    assert all(p.config.probe_points == 0 and not p.config.augment.active for p in cls.presets.values())
    assert cls.card.view == "weight-graph" and capabilities_of(cls) == ["embedder", "classifier"]
    with pytest.raises(ValueError, match="not_an_option"):
        cls.Config.model_validate(cls.presets["tiny"].config.model_dump() | {"not_an_option": 1})
    for preset in ("paper", "cpu", "tiny"):
        for spec in (field_preset("image"), field_preset("cpu")):
            method = cls(cls.presets[preset].config, CPU, 0)
            method.setup(info_of(spec, 10))
            assert method.n_parameters() > 0
            if preset != "paper" or spec == field_preset("image"):  # dense pairs of two 64-wide INRs at paper width: slow
                with torch.no_grad():
                    logits = method.model.eval()(graphs(spec, random_params(spec, 2)))
                assert logits.shape == (2, 10) and torch.isfinite(logits).all()
