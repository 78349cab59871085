"""Views: per-item datasets over the shards, decoded views cached once, and clear refusals."""

from __future__ import annotations

import pytest
import torch

from nfbench.errors import ConfigError, DataError
from nfbench.fields import batched_forward
from nfbench.run.runner import data_info
from nfbench.views import VIEWS
from nfbench.views.context import ViewContext
from nfbench.views.weight_graph import from_graphs, layer_sizes

CPU = torch.device("cpu")


def context(data, tmp_path, input_mode="fields", **options) -> ViewContext:
    return ViewContext(data, data_info(data, input_mode), input_mode, CPU, tmp_path / "views", options)


def test_every_registered_view_declares_itself():
    assert set(VIEWS.names()) == {"weights", "weight-graph", "field", "points", "voxels", "renders", "latents", "supervision"}
    assert all(VIEWS.get(n).name == n and VIEWS.get(n).description for n in VIEWS.names())


def test_weights_view_reads_items_of_its_split_in_order(tiny_dataset, tmp_path):
    view = VIEWS.get("weights").open(context(tiny_dataset, tmp_path), "val")
    indices = tiny_dataset.split_indices("val")
    assert len(view) == len(indices) and torch.equal(view.labels, tiny_dataset.labels_of(indices))
    batch = view[len(view) - 1]
    expected = tiny_dataset.read_params(indices[-1:])
    assert all(torch.equal(batch.data[k], expected[k]) for k in expected)
    seen = torch.cat([b.index for b in view.loader(4, shuffle=True, seed=1)])
    assert sorted(seen.tolist()) == list(range(len(view)))  # one epoch covers every item once


def test_weight_graph_edges_are_the_weights_and_nodes_the_biases(tiny_dataset, tmp_path):
    view = VIEWS.get("weight-graph").open(context(tiny_dataset, tmp_path), "train")
    graphs = view.read(torch.tensor([0, 2]))
    params = tiny_dataset.read_params(tiny_dataset.split_indices("train")[[0, 2]])
    spec = tiny_dataset.spec
    second = graphs.get_example(1)
    assert torch.equal(second.edge_attr[: spec.hidden * spec.in_dim, 0], params["layers.0.weight"][1].flatten())
    assert torch.equal(second.x[spec.in_dim : spec.in_dim + spec.hidden, 0], params["layers.0.bias"][1])
    # A message-passing sum over incoming edges reproduces the first layer's pre-activations at x = 1.
    ones = torch.ones(1, 1, spec.in_dim)
    src, dst = second.edge_index
    first_layer = (dst >= spec.in_dim) & (dst < spec.in_dim + spec.hidden)
    summed = torch.zeros(second.num_nodes).index_add_(0, dst[first_layer], second.edge_attr[first_layer, 0])
    pre = summed[spec.in_dim : spec.in_dim + spec.hidden] + second.x[spec.in_dim : spec.in_dim + spec.hidden, 0]
    expected = (ones @ params["layers.0.weight"][1].T + params["layers.0.bias"][1]).flatten()
    assert torch.allclose(pre, expected, atol=1e-6)
    weights, biases = from_graphs(graphs, 2, layer_sizes(spec))  # the inverse gives the parameters back
    for i, (w, b) in enumerate(zip(weights, biases)):
        assert torch.equal(w, params[f"layers.{i}.weight"]) and torch.equal(b, params[f"layers.{i}.bias"])
    with pytest.raises(ValueError, match="expected 3 neural graphs"):
        from_graphs(graphs, 3, layer_sizes(spec))


def test_field_view_is_the_inr_function(tiny_dataset, tmp_path):
    view = VIEWS.get("field").open(context(tiny_dataset, tmp_path), "test")
    coords = torch.rand(3, 10, 3) * 2 - 1
    fields = view.read(torch.tensor([0, 1, 2]))
    params = tiny_dataset.read_params(tiny_dataset.split_indices("test")[:3])
    assert torch.equal(fields(coords), batched_forward(tiny_dataset.spec, params, coords))


def test_latents_view_samples_each_item_the_same_in_any_batch(tiny_dataset, tmp_path):
    view = VIEWS.get("latents").open(context(tiny_dataset, tmp_path, n_samples=32), "train")
    together = view.read(torch.tensor([0, 1, 2]))
    alone = view.read(torch.tensor([2]))
    assert together["coords"].shape == (3, 32, 3) and together["values"].shape == (3, 32, 1)
    assert torch.equal(together["coords"][2], alone["coords"][0]) and torch.equal(together["values"][2], alone["values"][0])


def test_points_view_is_decoded_once_cached_and_timed(tiny_dataset, tmp_path, monkeypatch):
    points = VIEWS.get("points")
    ctx = context(tiny_dataset, tmp_path, n_points=32, resolution=16)
    first = points.open(ctx, "val")
    assert first.read(torch.arange(len(first))).shape == (len(first), 32, 3)
    assert first.decoded is not None and len(first.decoded.decode_seconds) == len(first)
    assert bool((first.decoded.decode_seconds > 0).all())

    def no_decode(*args, **kwargs):
        raise AssertionError("a cached view was decoded again")

    monkeypatch.setattr(type(tiny_dataset), "read_params", no_decode)
    again = points.open(ctx, "val")
    assert torch.equal(again.read(torch.arange(len(again))), first.read(torch.arange(len(first))))


def test_a_corrupted_cache_part_is_named(tiny_dataset, tmp_path):
    view = VIEWS.get("points").open(context(tiny_dataset, tmp_path, n_points=16, resolution=16), "val")
    part = view.decoded.part_file(view.decoded.folder, 0)
    raw = bytearray(part.read_bytes())
    raw[-1] ^= 0xFF
    part.write_bytes(bytes(raw))
    fresh = VIEWS.get("points").open(context(tiny_dataset, tmp_path, n_points=16, resolution=16), "val")
    with pytest.raises(DataError, match="part-00000.safetensors: decoded-view cache part is corrupted"):
        fresh.read(torch.tensor([0]))


def test_voxels_view_decodes_a_grid(tiny_dataset, tmp_path):
    view = VIEWS.get("voxels").open(context(tiny_dataset, tmp_path, resolution=8), "val")
    grids = view.read(torch.tensor([0, 1]))
    assert grids.shape == (2, 8, 8, 8) and grids.dtype == torch.uint8


def test_renders_view_renders_each_inr_once_and_caches_it(tiny_dataset, tmp_path, monkeypatch):
    renders = VIEWS.get("renders")
    ctx = context(tiny_dataset, tmp_path, n_views=2, size=16, max_steps=24)
    first = renders.open(ctx, "val")
    images = first.read(torch.arange(len(first)))
    assert images.shape == (len(first), 2, 1, 16, 16) and images.dtype == torch.float32
    assert images.min() >= 0 and images.max() <= 1
    assert bool((images.flatten(1) > 0).any(dim=1).all())  # every INR shows a surface
    assert bool((images[..., 0, 0] == 0).all())  # the corners look past the unit sphere: background
    assert len(first.decoded.decode_seconds) == len(first)

    def no_decode(*args, **kwargs):
        raise AssertionError("a cached view was decoded again")

    monkeypatch.setattr(type(tiny_dataset), "read_params", no_decode)
    again = renders.open(ctx, "val")
    assert torch.equal(again.read(torch.arange(len(again))), images)


def test_renders_view_refuses_fields_without_a_surface_before_decoding(tiny_dataset, tmp_path):
    ctx = context(tiny_dataset, tmp_path, n_views=1, size=16)
    images = ViewContext(tiny_dataset, ctx.info.model_copy(update={"field_kind": "image"}), "fields", CPU, tmp_path / "views", {})
    with pytest.raises(ConfigError, match="^the 'renders' view cannot render image fields: images are 2-D intensity fields$"):
        VIEWS.get("renders").open(images, "train")
    assert not (tmp_path / "views").exists()
    with pytest.raises(ConfigError, match="size"):
        VIEWS.get("renders").open(context(tiny_dataset, tmp_path, size=2), "train")


def test_views_refuse_input_modes_they_have_no_form_for(tiny_dataset, tmp_path):
    for name in ("weights", "weight-graph", "field", "latents"):
        with pytest.raises(ConfigError, match="--input source"):
            VIEWS.get(name).open(context(tiny_dataset, tmp_path, input_mode="source"), "train")
    with pytest.raises(ConfigError, match="stores no source 'renders'"):
        VIEWS.get("renders").open(context(tiny_dataset, tmp_path, input_mode="source"), "train")
    with pytest.raises(ConfigError, match="n_points"):
        VIEWS.get("points").open(context(tiny_dataset, tmp_path, n_points=0), "train")


def test_the_up_axis_comes_from_the_dataset_card_also_for_builds_older_than_the_field(tiny_dataset):
    assert data_info(tiny_dataset, "fields").up_axis == "y"  # procshapes: y up
    card = dict(tiny_dataset.meta.card)
    del card["up_axis"]  # a build made before cards declared it
    older = type(tiny_dataset.meta).model_construct(**{**tiny_dataset.meta.__dict__, "card": card})
    from types import SimpleNamespace

    from nfbench.run.runner import up_axis_of

    assert up_axis_of(SimpleNamespace(meta=older)) == "y"  # from the registered card
    assert up_axis_of(SimpleNamespace(meta=older.model_copy(update={"card": {"name": "not-registered"}}))) is None


def test_decodes_without_a_surface_are_counted_per_split_and_other_warnings_pass(tiny_dataset, tmp_path, monkeypatch):
    import warnings

    from nfbench.decode.common import NoSurfaceWarning
    from nfbench.views.points import PointsView

    decode = PointsView.decode.__func__

    def first_has_none(cls, kind, ctx, options, params, gen):
        warnings.warn(NoSurfaceWarning("no surface for INR(s) [0]", [0]), stacklevel=2)
        warnings.warn("an unrelated warning", UserWarning, stacklevel=2)
        return decode(cls, kind, ctx, options, params, gen)

    monkeypatch.setattr(PointsView, "decode", classmethod(first_has_none))
    with pytest.warns(UserWarning, match="an unrelated warning"), pytest.warns(RuntimeWarning, match="decoded without a surface"):
        view = PointsView.open(context(tiny_dataset, tmp_path, n_points=32, resolution=16), "test")
    n, chunk = len(view), 16
    assert view.decoded_without_surface == -(-n // chunk)  # the first INR of every chunk
    assert view.decoded.parts[0].no_surface == list(range(0, min(n, 256), chunk))


def test_empty_grids_and_blank_renders_count_as_no_surface():
    from nfbench.views.renders import RendersView
    from nfbench.views.voxels import VoxelsView

    grids = torch.zeros(3, 4, 4, 4, dtype=torch.uint8)
    grids[1, 2, 2, 2] = 1
    assert VoxelsView.empty_items(grids).tolist() == [True, False, True]
    renders = torch.zeros(2, 3, 1, 8, 8)
    renders[0, 2, 0, 4, 4] = 0.5
    assert RendersView.empty_items(renders).tolist() == [False, True]
