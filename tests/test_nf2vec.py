"""nf2vec's departures from the papers' text that follow the released inr2vec / nf2vec code.

Each is a config field whose default (in every preset) is the released behaviour and whose
other value is nfbench's earlier one; the tests pin both and the one place they differ.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn
from typer.testing import CliRunner

from nfbench.api import DataInfo, View, ViewBatch
from nfbench.cli.app import app
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, field_preset, shared_init
from nfbench.fields.functional import encode
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.methods import nf2vec as nf2vec_module
from nfbench.methods.nf2vec import ImplicitDecoder, Nf2Vec, encoder_matrix, mix_same_class, nf2vec_encoding, query_spec
from nfbench.run.config import resolve_config
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import TrainerConfig

CPU = torch.device("cpu")
PRESETS = ("paper", "cpu", "tiny")
RELEASED = {
    "matrix_rows": "unit_inputs",
    "decoder_layers": 5,
    "decoder_skip_after": 3,
    "query_encoding": "nf2vec",
    "cls_mix_same_class": True,
    "pretext_targets": "auto",
    "pretext_select": True,
}


def make(preset: str = "tiny", spec: FieldSpec | None = None, n_classes: int = 2, **overrides) -> Nf2Vec:
    """On synthetic weights without source shapes unless a test asks for sources."""
    overrides = {"pretext_targets": "field", "pretext_select": False} | overrides
    method = Nf2Vec(Nf2Vec.presets[preset].config.model_copy(update=overrides), CPU, 0)
    method.setup(DataInfo(spec=spec or field_preset("tiny"), field_kind="udf", class_names=tuple(map(str, range(n_classes)))))
    return method


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_defaults_to_the_released_code(preset: str) -> None:
    config = Nf2Vec.presets[preset].config
    assert {k: getattr(config, k) for k in RELEASED} == RELEASED


def test_each_earlier_behaviour_is_selectable_with_set() -> None:
    earlier = {
        "matrix_rows": "input_units", "decoder_layers": 4, "decoder_skip_after": 2, "query_encoding": "field",
        "pretext_targets": "field",
    }
    sets = [f"{k}={v}" for k, v in earlier.items()] + ["cls_mix_same_class=false", "pretext_select=false"]
    config = resolve_config(Nf2Vec, "cpu", sets)[1]
    assert {k: getattr(config, k) for k in RELEASED} == earlier | {"cls_mix_same_class": False, "pretext_select": False}


# --------------------------------------------------------------------------- 1. encoder matrix


def test_encoder_rows_are_unit_incoming_weights_as_in_the_released_flat_reshape() -> None:
    spec = FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=4, depth=3)
    params = {n: torch.randn(2, *s) for n, s in spec.param_shapes().items()}
    released = encoder_matrix(spec, params, "unit_inputs")
    assert released.shape == (2, 2 * (4 + 1), 4)  # L = depth - 1 hidden-to-hidden layers
    # the released code: flat state-dict parameters minus the first and last layers, in rows of H
    hidden = [params[f"layers.{i}.{part}"].flatten(1) for i in (1, 2) for part in ("weight", "bias")]
    assert torch.equal(released, torch.cat(hidden, dim=1).view(2, -1, 4))
    old = encoder_matrix(spec, params, "input_units")
    for block, layer in enumerate((1, 2)):
        rows = slice(block * 5, block * 5 + 4)
        weight = params[f"layers.{layer}.weight"]  # (out, in), not symmetric
        assert torch.equal(released[:, rows], weight) and torch.equal(old[:, rows], weight.transpose(1, 2))
        assert torch.equal(released[:, block * 5 + 4], params[f"layers.{layer}.bias"])
        assert torch.equal(old[:, block * 5 + 4], params[f"layers.{layer}.bias"])
    assert not torch.equal(released, old)


def test_matrix_rows_reaches_the_embeddings() -> None:
    spec = field_preset("tiny")
    params = {n: p + 0.1 * torch.randn(3, *p.shape) for n, p in shared_init(spec, 0).items()}
    released, old = make(), make(matrix_rows="input_units")
    old.load_state_dict(released.state_dict())  # same networks: only the matrix layout differs
    with torch.no_grad():
        released.autoencoder.eval(), old.autoencoder.eval()
        assert not torch.allclose(released.autoencoder.embed(params), old.autoencoder.embed(params))


# --------------------------------------------------------------------------- 2. implicit decoder


def test_paper_preset_has_the_released_shapes() -> None:
    method = make("paper", spec=field_preset("paper"), n_classes=40)
    widths = [layer.out_features for layer in method.encoder.rows if isinstance(layer, nn.Linear)]
    assert widths == [512, 512, 1024, 1024, 1024] and method.encoder.rows[0].in_features == 512
    decoder = method.autoencoder.decoder
    assert [layer.in_features for layer in decoder.layers] == [1024 + 63, 512, 512, 512, 512]
    assert {layer.out_features for layer in decoder.layers} == {512}
    assert decoder.skip_after == 3 and decoder.skip.in_features == 1024 + 63 and decoder.out.out_features == 1
    head = [layer.out_features for layer in method.classifier if isinstance(layer, nn.Linear)]
    assert method.classifier[0].in_features == 1024 and head == [512, 256, 40]
    params = {n: p.unsqueeze(0).expand(2, *p.shape) for n, p in shared_init(field_preset("paper"), 0).items()}
    with torch.no_grad():
        method.encoder.eval()
        assert method.autoencoder.embed(params).shape == (2, 1024)
    inference = sum(p.numel() for net in (method.encoder, method.classifier) for p in net.parameters())
    assert method.n_parameters() == inference
    assert method.n_training_parameters() == sum(p.numel() for p in decoder.parameters())


@pytest.mark.parametrize(("n_layers", "skip_after"), [(5, 3), (4, 2)], ids=["released", "before"])
def test_decoder_adds_the_skip_after_its_layer(n_layers: int, skip_after: int) -> None:
    torch.manual_seed(0)
    decoder = ImplicitDecoder(embed_dim=4, coord_dim=6, hidden=8, out_dim=1, n_layers=n_layers, skip_after=skip_after)
    inputs: list[Tensor] = []
    for layer in (*decoder.layers[1:], decoder.out):
        layer.register_forward_pre_hook(lambda _, args: inputs.append(args[0]))
    emb, coords = torch.randn(2, 4), torch.randn(2, 5, 6)
    with torch.no_grad():
        decoder(emb, coords)
        x = torch.cat([emb.unsqueeze(1).expand(-1, 5, -1), coords], dim=-1)
        skip = torch.relu(decoder.skip(x))
        h = torch.relu(decoder.layers[0](x))
        for i, layer in enumerate((*decoder.layers[1:], decoder.out), start=1):
            expected = h + skip if i == skip_after else h
            assert torch.allclose(inputs[i - 1], expected, atol=1e-6), i
            h = torch.relu(nn.functional.linear(expected, layer.weight, layer.bias))  # no hook
    assert len(inputs) == n_layers and skip.abs().sum() > 0


def test_decoder_layout_is_configurable_and_validated() -> None:
    before = make(decoder_layers=4, decoder_skip_after=2).autoencoder.decoder
    assert len(before.layers) == 4 and before.skip_after == 2
    with pytest.raises(ConfigError, match=r"--set decoder_skip_after=3: .*below decoder_layers \(3\)"):
        resolve_config(Nf2Vec, "tiny", ["decoder_layers=3", "decoder_skip_after=3"])


# --------------------------------------------------------------------------- 3. positional encoding


def test_query_encoding_has_no_pi_and_the_released_order() -> None:
    x = torch.tensor([[0.5, -0.25, 1.0]])
    expected = [0.5, -0.25, 1.0]
    for k in range(2):
        f = 2.0**k
        expected += [math.sin(f * 0.5), math.sin(-f * 0.25), math.sin(f * 1.0)]
        expected += [math.cos(f * 0.5), math.cos(-f * 0.25), math.cos(f * 1.0)]
    assert torch.allclose(nf2vec_encoding(x, 2), torch.tensor([expected]), atol=1e-6)
    assert nf2vec_encoding(torch.rand(4, 7, 3), 10).shape == (4, 7, 63)


def test_query_encoding_field_keeps_the_fields_encoding() -> None:
    coords = torch.rand(2, 9, 3) * 2 - 1
    released, field = make().autoencoder, make(query_encoding="field").autoencoder
    n_freqs = Nf2Vec.presets["tiny"].config.n_freqs
    assert torch.equal(released.encode_queries(coords), nf2vec_encoding(coords, n_freqs))
    assert torch.equal(field.encode_queries(coords), encode(query_spec(field_preset("tiny"), n_freqs), coords))
    assert not torch.allclose(released.encode_queries(coords), field.encode_queries(coords))


# --------------------------------------------------------------------------- 4. classifier mixing


def test_mix_same_class_appends_coordinate_mixes_of_same_class_pairs() -> None:
    labels = torch.tensor([0, 0, 1, 0, 1, 2, 0, 1, 1])
    n, d = len(labels), 64
    emb = (torch.arange(n) * 1000).unsqueeze(1) + torch.arange(d).float()  # value -> (item, coordinate)
    torch.manual_seed(0)
    out = mix_same_class(ViewBatch(emb, labels, torch.arange(n) + 10))
    kept = torch.tensor([0, 1, 2, 3, 4, 6, 7, 8])  # classes with more than two items in the batch
    assert torch.equal(out.data[:n], emb) and torch.equal(out.labels, torch.cat([labels, labels[kept]]))
    assert torch.equal(out.index, torch.cat([torch.arange(n), kept]) + 10)
    sources = torch.div(out.data[n:], 1000, rounding_mode="floor").long()  # the item each coordinate came from
    assert torch.equal(out.data[n:] - 1000 * sources, torch.arange(d).float().expand(len(kept), -1))
    for copy, i in zip(sources, kept.tolist(), strict=True):
        others = set(copy.tolist()) - {i}
        assert len(others) <= 1 and all(labels[j] == labels[i] for j in others), (i, others)
    assert any(len(set(copy.tolist())) == 2 for copy in sources)  # some coordinates did move


class MemoryView(View):
    """Per-item rows (embeddings) or stacked INR parameters (a weights view) held in memory."""

    name = "memory"
    description = "items in memory"

    def __init__(self, items: Tensor | Params, labels: Tensor, split: str) -> None:
        super().__init__(DataInfo(spec=field_preset("tiny"), field_kind="udf", class_names=("a", "b")), split, labels)
        self.items = items

    def read(self, positions: Tensor) -> Tensor | Params:
        if isinstance(self.items, dict):
            return {n: p[positions] for n, p in self.items.items()}
        return self.items[positions]


class BatchSizes(nn.Module):
    """A linear classifier that records the size of every batch it sees, by mode."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen: dict[bool, list[int]] = {True: [], False: []}

    def forward(self, x: Tensor) -> Tensor:
        self.seen[self.training].append(len(x))
        return self.linear(x)


def test_fit_classifier_augments_training_batches_only(tmp_path) -> None:
    labels = torch.arange(2).repeat(8)
    train, val = MemoryView(torch.randn(16, 4), labels, "train"), MemoryView(torch.randn(6, 4), labels[:6], "val")
    model = BatchSizes()
    config = TrainerConfig(epochs=2, lr=1e-2, weight_decay=0.0, seed=0, checkpoint_dir=tmp_path)
    fit_classifier(model, train, val, config, batch_size=8, eval_batch_size=3, device=CPU, augment=mix_same_class)
    assert model.seen[True] == [16] * 4  # 8 items, 4 per class: each gets a mixed copy
    assert model.seen[False] == [3, 3] * 2  # validation reads the plain val view


def test_nf2vec_hands_the_mixing_to_the_classifier_recipe(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(nf2vec_module, "fit_classifier", lambda *args, **kwargs: calls.append(kwargs.get("augment")) or {})
    params = {n: p + 0.01 * torch.randn(4, *p.shape) for n, p in shared_init(field_preset("tiny"), 0).items()}
    view = MemoryView(params, torch.tensor([0, 1, 0, 1]), "train")
    for mix in (True, False):
        make(epochs=1, cls_mix_same_class=mix).fit(view, view)
    assert calls == [mix_same_class, None]


# --------------------------------------------------------------------------- 5. parameter counts


def test_list_methods_shows_inference_parameters_and_the_decoder_apart() -> None:
    from nfbench.datasets import DATASETS
    from nfbench.presets import build_preset

    card = DATASETS.get("procshapes").card
    info = DataInfo(
        spec=build_preset(card.default_preset).field,
        field_kind=card.default_field,
        class_names=tuple(f"c{i}" for i in range(card.classes)),
    )
    method = Nf2Vec(Nf2Vec.presets[Nf2Vec.default_preset].config, CPU, 0)
    method.setup(info)
    encoder = sum(p.numel() for p in method.encoder.parameters())
    classifier = sum(p.numel() for p in method.classifier.parameters())
    decoder = sum(p.numel() for p in method.autoencoder.decoder.parameters())
    result = CliRunner().invoke(app, ["list", "methods"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ nf2vec "))
    assert f"{encoder + classifier:,} (+{decoder:,})" in row, row


# --------------------------------------------------------------------------- 6. source targets, best val reconstruction


def info_for(kind: str) -> DataInfo:
    spec = field_preset("image" if kind == "image" else "tiny")
    return DataInfo(spec=spec, field_kind=kind, class_names=("a", "b"))


@pytest.mark.parametrize(
    "kind,expected",
    [("udf", ("points",)), ("occ", ("voxels", "points")), ("image", ("images",)), ("sdf", ("points",))],
)
def test_auto_pretext_targets_read_the_sources_the_kind_needs(kind: str, expected: tuple[str, ...]) -> None:
    config = Nf2Vec.presets["tiny"].config
    assert Nf2Vec.training_sources(config, info_for(kind)) == expected  # sdf: only the selection's clouds
    resolved = Nf2Vec.resolved_targets(config, FIELD_KINDS.get(kind))
    assert resolved == ("field" if kind == "sdf" else "source")
    off = config.model_copy(update={"pretext_targets": "field", "pretext_select": False})
    assert Nf2Vec.training_sources(off, info_for(kind)) == ()


@pytest.fixture(scope="module")
def udf_dataset(tmp_path_factory):
    from nfbench.fitting.build import BuildRequest, build_dataset
    from nfbench.store.reader import INRDataset

    out = tmp_path_factory.mktemp("udf") / "procshapes-udf"
    build_dataset(BuildRequest("procshapes", field="udf", preset="tiny", limit=2, out=out), CPU)
    return INRDataset.open(out)


def test_source_pretext_regresses_the_stored_source_and_keeps_the_best_val_epoch(udf_dataset, tmp_path, monkeypatch) -> None:
    from nfbench.run.runner import run_one, run_specs, train_or_load

    seen = {}
    source_targets = FIELD_KINDS.get("udf").source_targets

    def spy(source, coords):
        seen.setdefault("points", source["points"])
        return source_targets(source, coords)

    monkeypatch.setattr(FIELD_KINDS.get("udf"), "source_targets", spy)
    (spec,) = run_specs("nf2vec", "tiny", ["epochs=4"], [0], "fields")
    record, _ = run_one(spec, "classify", udf_dataset, CPU, tmp_path, rerun=True)
    assert record.training_sources == ["points"]
    assert record.details["train_inrs"] == len(udf_dataset.split_indices("train"))
    assert seen["points"].shape[1:] == (udf_dataset.meta.build.n_reference_points, 3)  # the stored clouds
    trained = train_or_load(spec, udf_dataset, CPU)  # from the cache of the run above
    h = trained.method.history
    assert h["pretext_targets"] == "source" and h["pretext_quality_metric"] == "chamfer"
    assert len(h["pretext_val_quality"]) == 4 and h["pretext_best_epoch"] == int(torch.tensor(h["pretext_val_quality"]).argmin())


def test_zero_pretext_epochs_probe_the_encoder_at_its_random_initialization(udf_dataset, tmp_path) -> None:
    """The ablation behind the learning-curve page: what the classifier reaches without the pretext."""
    from nfbench.run.runner import run_specs, train_or_load

    (spec,) = run_specs("nf2vec", "tiny", ["epochs=0"], [0], "fields")
    trained = train_or_load(spec, udf_dataset, CPU)
    fresh = make(n_classes=len(udf_dataset.meta.class_names))
    for name, tensor in fresh.autoencoder.encoder.state_dict().items():
        assert torch.equal(trained.method.autoencoder.encoder.state_dict()[name], tensor), name
    assert trained.method.history["pretext_targets"].startswith("none")
    assert spec.training_sources(udf_dataset) == ()  # the record does not claim source data it never read
    assert trained.method.history["classifier_epochs_run"] >= 1  # the classifier still trains


def test_selection_scores_a_decode_without_surface_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoder that crosses the level nowhere must lose the pretext's model selection, however
    close its fallback cloud (the cells nearest the level) lies to the shape."""
    method = Nf2Vec(Nf2Vec.presets["tiny"].config, CPU, 0)
    method.setup(DataInfo(spec=field_preset("tiny"), field_kind="sdf", class_names=("a", "b")))
    metric = method.kind.quality_metrics[0]
    assert metric.name == "chamfer" and metric.failed == 4.0
    sphere = torch.nn.functional.normalize(torch.randn(3, 256, 3, generator=torch.Generator().manual_seed(0)), dim=-1) * 0.5

    def fields(flat: list[bool]):  # noqa: ANN202 -- per INR: a level crossing nowhere, or a sphere of radius 0.5
        offset = torch.tensor([1e3 if f else 0.0 for f in flat])[:, None, None]
        return lambda coords: (coords.norm(dim=-1, keepdim=True) - 0.5) * 10 + offset

    seeds = [0, 1, 2]
    for flat, check in (
        ([False] * 3, lambda q: q < 0.2),
        ([True] * 3, lambda q: q == 4.0),
        ([True, False, False], lambda q: 4.0 / 3 < q < 4.0 / 3 + 0.2),
    ):
        monkeypatch.setattr(method, "decoded_field", lambda params, flat=flat: fields(flat))
        assert check(method.reconstruction_quality({}, sphere, seeds)), flat
