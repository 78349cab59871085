"""The procedural default dataset: determinism, validity, split sizes and exact occupancy."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import trimesh

from nfbench.datasets import DATASETS
from nfbench.datasets.base import ItemRef, carve_val
from nfbench.datasets.procshapes import (
    CATALOG,
    CATEGORIES,
    N_POINTS,
    PART_NAMES,
    VOXEL_RES,
    ProcShapes,
    generate,
    split_sizes,
)
from nfbench.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def ds() -> ProcShapes:
    return ProcShapes()


@pytest.fixture(scope="module")
def one_per_class(ds: ProcShapes) -> dict[str, object]:
    items = ds.list_items(None, 1, seed=0)
    return {ds.class_names(None)[it.label]: ds.load(None, it) for it in items if it.split == "train"}


def _same(a, b) -> bool:
    fields = ("vertices", "faces", "points", "voxels", "face_parts", "point_parts", "part_colors")
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in fields)


def test_card_classes_and_registry(ds: ProcShapes) -> None:
    card = ds.card
    assert card.name == "procshapes" and not card.needs_root
    assert card.field_kinds == ("sdf", "udf", "occ") and card.default_field == "sdf"
    names = ds.class_names(None)
    assert len(names) == card.classes == len(set(names)) >= 10
    required = {"chair", "table", "lamp", "airplane", "mug", "bottle", "rocket", "car", "bench", "guitar"}
    assert required <= set(names)
    assert all(len(ds.part_names(c)) >= 2 for c in names)
    assert isinstance(DATASETS.get("procshapes")(), ProcShapes)


def test_every_category_is_a_valid_shape(one_per_class: dict) -> None:
    assert set(one_per_class) == set(CATEGORIES)
    for cat, s in one_per_class.items():
        k = len(PART_NAMES[cat])
        assert s.vertices.dtype == np.float32 and s.faces.dtype == np.int64, cat
        assert len(s.vertices) > 0 and len(s.faces) > 0, cat
        assert np.isfinite(s.vertices).all() and np.isfinite(s.points).all(), cat
        assert s.faces.min() >= 0 and s.faces.max() < len(s.vertices), cat
        assert s.face_parts.shape == (len(s.faces),) and s.extras["face_instances"].shape == (len(s.faces),), cat
        assert 0 <= s.face_parts.min() and s.face_parts.max() < k, cat
        assert s.points.shape == (N_POINTS, 3) and s.point_parts.shape == (N_POINTS,), cat
        assert 0 <= s.point_parts.min() and s.point_parts.max() < k, cat
        assert s.part_colors.shape == (k, 3) and s.part_colors.min() >= 0 and s.part_colors.max() <= 1, cat
        # centred on the bounding box, longest side 1
        lo, hi = s.vertices.min(0), s.vertices.max(0)
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-6)
        assert abs((hi - lo).max() - 1) < 1e-5, cat
        assert s.voxels.shape == (VOXEL_RES,) * 3 and s.voxels.dtype == bool, cat
        assert 0 < s.voxels.sum() < s.voxels.size // 2, cat


def test_parts_are_closed_and_points_cover_every_part_type(one_per_class: dict) -> None:
    for cat, s in one_per_class.items():
        inst = s.extras["face_instances"]
        for j in np.unique(inst):
            piece = trimesh.Trimesh(s.vertices, s.faces[inst == j])  # merges duplicate vertices
            assert piece.is_watertight and piece.volume > 0, (cat, j)
        present = set(np.unique(s.face_parts))
        assert set(np.unique(s.point_parts)) <= present, cat


def test_voxels_match_per_part_mesh_occupancy(one_per_class: dict) -> None:
    """Independent check: Open3D ray parity on each closed part, united."""
    o3d = pytest.importorskip("open3d")
    for cat in ("chair", "mug", "guitar", "vase"):
        s = one_per_class[cat]
        g = (np.arange(VOXEL_RES) + 0.5) / VOXEL_RES * 2 - 1
        radius = np.linalg.norm(s.vertices.astype(np.float64), axis=1).max()
        centres = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3) * radius
        occ = np.zeros(len(centres), dtype=bool)
        inst = s.extras["face_instances"]
        for j in np.unique(inst):
            used, faces = np.unique(s.faces[inst == j], return_inverse=True)
            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(o3d.core.Tensor(s.vertices[used]),
                                o3d.core.Tensor(faces.reshape(-1, 3).astype(np.uint32)))
            occ |= scene.compute_occupancy(o3d.core.Tensor(centres.astype(np.float32))).numpy().astype(bool)
        assert np.array_equal(occ.reshape(s.voxels.shape), s.voxels), cat


def test_points_lie_on_the_union_surface() -> None:
    """Points come from the mesh but never from faces buried in another part (legs in a seat)."""
    o3d = pytest.importorskip("open3d")
    s = generate("chair", 5, "train", 2, voxel_res=0)
    pts = o3d.core.Tensor(s.points)
    whole = o3d.t.geometry.RaycastingScene()
    whole.add_triangles(o3d.core.Tensor(s.vertices), o3d.core.Tensor(s.faces.astype(np.uint32)))
    assert whole.compute_distance(pts).numpy().max() < 1e-4
    inst = s.extras["face_instances"]
    assert len(np.unique(inst)) > 3
    for j in np.unique(inst):
        used, faces = np.unique(s.faces[inst == j], return_inverse=True)
        piece = o3d.t.geometry.RaycastingScene()
        piece.add_triangles(o3d.core.Tensor(s.vertices[used]),
                            o3d.core.Tensor(faces.reshape(-1, 3).astype(np.uint32)))
        assert piece.compute_signed_distance(pts).numpy().min() > -1e-4, j


def test_determinism_and_independence(ds: ProcShapes) -> None:
    items = {it.key: it for it in ds.list_items(None, 3, seed=7)}
    a = ds.load(None, items["train/rocket/rocket_0001"])
    assert _same(a, ds.load(None, items["train/rocket/rocket_0001"]))
    # an item is rebuilt from its identity alone, whatever the limit of the listing
    big = {it.key: it for it in ds.list_items(None, 9, seed=7)}
    assert big["train/rocket/rocket_0001"] == items["train/rocket/rocket_0001"]
    assert _same(a, generate("rocket", 7, "train", 1))
    other_seed = ds.load(None, ds.list_items(None, 3, seed=8)[0])
    first = ds.load(None, ds.list_items(None, 3, seed=7)[0])
    assert not np.array_equal(first.points, other_seed.points)
    assert not _same(generate("rocket", 7, "test", 1), a)


def test_intra_class_variation() -> None:
    chairs = [generate("chair", 0, "train", i, voxel_res=0) for i in range(12)]
    assert not np.array_equal(chairs[0].vertices, chairs[1].vertices)
    extents = np.array([np.ptp(c.vertices, axis=0) for c in chairs])
    assert extents.std(axis=0).max() > 0.03  # proportions change, not just a re-tessellation
    arm = PART_NAMES["chair"].index("arm")
    with_arms = sum(bool((c.face_parts == arm).any()) for c in chairs)
    assert 0 < with_arms < len(chairs)  # optional parts really are optional
    assert len({len(c.faces) for c in chairs}) > 3  # part counts and styles change


def test_limit_semantics_keys_and_fingerprints(ds: ProcShapes) -> None:
    n_cls = len(CATEGORIES)
    assert split_sizes(None) == (12, 4) and split_sizes(5) == (5, 2) and split_sizes(1) == (1, 1)
    with pytest.raises(ConfigError, match="limit must be >= 1"):
        split_sizes(0)
    default = ds.list_items(None, None, seed=0)
    assert sum(it.split == "train" for it in default) == 12 * n_cls
    assert sum(it.split == "test" for it in default) == 4 * n_cls
    items = ds.list_items(None, 6, seed=3)
    keys = [it.key for it in items]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == (6 + 2) * n_cls
    names = ds.class_names(None)
    for it in items:
        split, cat, stem = it.key.split("/")
        assert split == it.split and names[it.label] == cat and stem.startswith(cat + "_")
        assert it.locator == f"seed=3/{cat}/{split}/{int(stem.split('_')[1])}"
    assert len({it.fingerprint for it in items}) == len(items)
    reseeded = {it.key: it.fingerprint for it in ds.list_items(None, 6, seed=4)}
    assert all(reseeded[it.key] != it.fingerprint for it in items)
    assert any(it.split == "val" for it in carve_val(items))


def test_bad_locator_raises_data_error(ds: ProcShapes) -> None:
    for locator in ("seed=0/sofa/val/1", "seed=0/spaceship/train/1", "chair/train/1"):
        with pytest.raises(DataError, match="procshapes locator"):
            ds.load(None, ItemRef("k", "train", 0, locator, "f"))


def test_catalog_order_and_palettes() -> None:
    """Positions are class labels and names are hashed into every item: both are frozen."""
    assert CATEGORIES == ("chair", "table", "lamp", "airplane", "mug", "bottle", "rocket", "car", "bench",
                          "guitar", "sofa", "vase")
    for name, cat in CATALOG.items():
        assert cat.name == name and PART_NAMES[name] == cat.parts
        assert len(cat.palette) == len(cat.parts), name
        for i, opts in enumerate(cat.palette):  # a tie reuses the pick of an earlier part
            assert (0 <= opts < i) if isinstance(opts, int) else len(opts) > 0, (name, i)
    with pytest.raises(KeyError, match="unknown procshapes category 'spaceship'"):
        generate("spaceship", 0, "train", 0)


def test_part_layout_is_pinned() -> None:
    """The draw order of every builder is part of the data: a refactor must keep this digest.

    Only integer topology is hashed (faces, part and instance ids), so the pin does not
    depend on the last bits of floating point on another machine.
    """
    h = hashlib.sha256()
    for cat in CATEGORIES:
        for i in range(2):
            s = generate(cat, 0, "train", i, voxel_res=0)
            for a in (s.faces, s.face_parts, s.extras["face_instances"]):
                h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    assert h.hexdigest() == "09eca15d33b3794f3a7809d2b38f4c03a40b4f2cfb4d85adebbc4f119289396e"
