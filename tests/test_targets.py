"""Supervision for fitting fields: normalization, queries, targets, inside tests, losses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from pydantic import ValidationError

from nfbench.datasets.base import Shape
from nfbench.errors import DataError
from nfbench.fields.kinds import field_kind
from nfbench.targets import (
    SAMPLING_PRESETS,
    MeshOracle,
    SamplingConfig,
    focal_loss,
    normalize_shape,
    reference_points,
    resample_voxels,
    voxel_centres,
)

TINY = SamplingConfig.preset("tiny")
DATA = Path("/work/shared/data")
ALL_METHODS = ("parity", "vote", "flood", "flood_vote", "winding", "ray_winding", "hybrid_winding")


def _mesh_shape(mesh: trimesh.Trimesh) -> Shape:
    return normalize_shape(Shape(vertices=np.asarray(mesh.vertices, np.float32), faces=np.asarray(mesh.faces, np.int64)))


def _box(subdivisions: int = 0, extents=(1.0, 0.8, 0.6)) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=extents)
    for _ in range(subdivisions):
        mesh = mesh.subdivide()
    return mesh


def _in_box(q: np.ndarray, half: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """(clearly inside, clearly outside) of an axis-aligned box centred at the origin."""
    d = np.abs(q) - half
    return np.all(d < -margin, axis=1), np.any(d > margin, axis=1)


# ---------------------------------------------------------------- config


def test_presets_keep_paper_proportions_and_forbid_unknown_keys() -> None:
    paper, cpu, tiny = (SAMPLING_PRESETS[n] for n in ("paper", "cpu", "tiny"))
    assert paper.near == 250_000 and paper.medium == 200_000 and paper.far == 25_000 and paper.uniform == 25_000
    assert 45_000 <= cpu.n_queries <= 55_000 and 3_500 <= tiny.n_queries <= 4_500
    for preset in (cpu, tiny):
        ratios = [preset.group_sizes[k] / paper.group_sizes[k] for k in paper.group_sizes]
        assert max(ratios) - min(ratios) < 1e-9
    assert (paper.voxel_res, cpu.voxel_res) == (64, 32)
    with pytest.raises(ValidationError):
        SamplingConfig(nearr=10)
    with pytest.raises(ValidationError):
        SamplingConfig(sign="majority")
    with pytest.raises(KeyError, match="did you mean"):
        SamplingConfig.preset("tinny")


# ---------------------------------------------------------------- normalization


def test_normalize_shape_centres_bbox_and_scales_to_unit_sphere() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(5.0, 3.0, (500, 3)).astype(np.float32)
    verts = rng.normal(5.0, 3.0, (40, 3)).astype(np.float32)
    out = normalize_shape(Shape(points=pts, vertices=verts, faces=np.array([[0, 1, 2]])))
    both = np.concatenate([out.points, out.vertices])
    np.testing.assert_allclose(both.min(0) + both.max(0), 0.0, atol=1e-5)
    assert np.linalg.norm(both, axis=1).max() == pytest.approx(1.0, abs=1e-6)
    # one transform for both: the offset between a point and a vertex only scales
    before = pts[0] - verts[0]
    after = out.points[0] - out.vertices[0]
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before), atol=1e-5)
    image = np.full((4, 4, 1), 0.3, np.float32)
    assert normalize_shape(Shape(image=image)).image is image


@pytest.mark.parametrize(
    "shape",
    [
        Shape(points=np.zeros((0, 3), np.float32)),
        Shape(points=np.array([[0, 0, 0], [1, np.nan, 0]], np.float32)),
        Shape(points=np.ones((5, 3), np.float32)),
        Shape(),
    ],
    ids=["empty", "nan", "degenerate", "nothing"],
)
def test_normalize_shape_rejects_bad_geometry(shape: Shape) -> None:
    with pytest.raises(DataError) as err:
        normalize_shape(shape, source="item/7")
    assert str(err.value).startswith("item/7: ") and "\n" not in str(err.value)


def test_bad_inputs_raise_data_error() -> None:
    rng = np.random.default_rng(0)
    cloud = Shape(points=rng.uniform(-1, 1, (50, 3)).astype(np.float32))
    with pytest.raises(DataError, match="mesh"):
        field_kind("sdf").supervision(cloud, TINY, rng)
    with pytest.raises(DataError, match="voxel grid or a mesh"):
        field_kind("occ").supervision(cloud, TINY, rng)
    with pytest.raises(DataError, match="out of range|span"):
        field_kind("sdf").supervision(Shape(vertices=np.eye(3, dtype=np.float32), faces=np.array([[0, 1, 5]])), TINY, rng)
    with pytest.raises(DataError, match="zero surface area"):
        MeshOracle(np.eye(3), np.array([[0, 1, 1]]))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        field_kind("image").supervision(Shape(image=np.full((4, 4, 1), 2.0, np.float32)), TINY, rng)
    with pytest.raises(DataError, match="non-finite"):
        MeshOracle(*_unit_box()).distance(np.array([[0.0, np.inf, 0.0]]))


def _unit_box() -> tuple[np.ndarray, np.ndarray]:
    m = _box()
    return np.asarray(m.vertices), np.asarray(m.faces)


# ---------------------------------------------------------------- supervision


def test_supervision_is_deterministic_per_seed_and_q_is_fixed() -> None:
    sphere = _mesh_shape(trimesh.creation.icosphere(subdivisions=2))
    box = _mesh_shape(_box(1))
    rng = np.random.default_rng(1)
    small_cloud = Shape(points=rng.uniform(-1, 1, (300, 3)).astype(np.float32))
    big_cloud = Shape(points=rng.uniform(-1, 1, (5000, 3)).astype(np.float32))
    a = field_kind("sdf").supervision(sphere, TINY, np.random.default_rng(3))
    b = field_kind("sdf").supervision(sphere, TINY, np.random.default_rng(3))
    c = field_kind("sdf").supervision(sphere, TINY, np.random.default_rng(4))
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert not np.array_equal(a.coords, c.coords)
    q = field_kind("sdf").query_count(TINY)
    assert q == TINY.n_queries
    for shape, field in [(sphere, "sdf"), (box, "sdf"), (small_cloud, "udf"), (big_cloud, "udf"), (box, "udf")]:
        sup = field_kind(field).supervision(shape, TINY, np.random.default_rng(0))
        assert sup.coords.shape == (q, 3) and sup.targets.shape == (q, 1)
        assert sup.coords.dtype == np.float32 and sup.targets.dtype == np.float32
        assert np.abs(sup.coords).max() <= 1.0
        assert sup.targets.min() >= 0.0 and sup.targets.max() <= 1.0
    vox48 = np.zeros((48, 48, 48), bool)
    vox48[10:30, 5:40, 20:25] = True
    for shape in (sphere, Shape(voxels=vox48)):
        sup = field_kind("occ").supervision(shape, TINY, np.random.default_rng(0))
        assert sup.coords.shape == (field_kind("occ").query_count(TINY), 3) == (16**3, 3)
        assert set(np.unique(sup.targets)) <= {0.0, 1.0}


def test_query_groups_follow_their_noise_scales() -> None:
    cfg = SamplingConfig(near=3000, medium=3000, far=3000, uniform=3000, surface=500)
    cloud = Shape(points=np.asarray(trimesh.creation.icosphere(subdivisions=4).vertices * 0.5, np.float32))
    sup = field_kind("udf").supervision(cloud, cfg, np.random.default_rng(0))
    dist = 0.1 * (1 - sup.targets[:, 0])  # decoded udf, exact below the clip
    near, medium = dist[:3000], dist[3000:6000]
    assert np.median(near) < 0.006 < np.median(medium) < 0.02
    np.testing.assert_array_equal(sup.targets[-500:], 1.0)  # on-surface cloud points
    uniform = sup.coords[9000:12000]
    assert uniform.min() < -0.95 and uniform.max() > 0.95 and abs(uniform.mean()) < 0.05


def test_udf_of_mesh_surface_points_is_one() -> None:
    sup = field_kind("udf").supervision(_mesh_shape(_box(2)), TINY, np.random.default_rng(0))
    surface = sup.targets[-TINY.surface :, 0]
    assert surface.min() > 0.9999
    assert sup.targets[: TINY.near].mean() > 0.9 > sup.targets[-TINY.surface - TINY.uniform : -TINY.surface].mean()


def test_sdf_targets_are_below_half_inside_a_closed_sphere() -> None:
    shape = _mesh_shape(trimesh.creation.icosphere(subdivisions=3))
    sup = field_kind("sdf").supervision(shape, TINY, np.random.default_rng(0))
    r = np.linalg.norm(sup.coords, axis=1)
    t = sup.targets[:, 0]
    assert (t[r < 0.97] < 0.5).all() and (t[r > 1.01] > 0.5).all()
    deep = r < 0.85
    np.testing.assert_array_equal(t[deep], 0.0)  # clipped at -0.1
    assert abs(float(np.mean(t[-TINY.surface :])) - 0.5) < 0.01


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_sign_method_is_right_on_a_closed_box(method: str) -> None:
    v, f = _unit_box()
    q = np.random.default_rng(0).uniform(-0.7, 0.7, (4000, 3))
    inside, outside = _in_box(q, np.array([0.5, 0.4, 0.3]), 0.01)
    got = MeshOracle(v, f).inside(q, method, np.random.default_rng(0))  # type: ignore[arg-type]
    assert got[inside].all() and not got[outside].any()


def _damaged_box(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A subdivided box without 3 faces, 20 % of faces reversed, half the faces doubled with a reversed twin."""
    v, f = np.asarray(_box(3).vertices), np.asarray(_box(3).faces)
    f = np.delete(f, rng.choice(len(f), 3, replace=False), axis=0)
    flip = rng.random(len(f)) < 0.2
    f[flip] = f[flip][:, ::-1]
    return v, np.concatenate([f, f[rng.random(len(f)) < 0.5, ::-1]])


@pytest.mark.parametrize("method", ["hybrid_winding", "ray_winding", "winding"])
def test_robust_sign_survives_holes_flips_and_double_sided_faces(method: str) -> None:
    rng = np.random.default_rng(0)
    v, f = _damaged_box(rng)
    q = rng.uniform(-0.7, 0.7, (6000, 3))
    inside, outside = _in_box(q, np.array([0.5, 0.4, 0.3]), 0.02)
    got = MeshOracle(v, f).inside(q, method, rng)  # type: ignore[arg-type]
    assert got[inside].mean() > 0.99 and got[outside].mean() < 0.01


@pytest.mark.parametrize("method", ["hybrid_winding", "winding"])
def test_winding_counts_double_sided_faces_once(method: str) -> None:
    """Two stacked slabs whose downward faces alone are double-sided (as in raw ModelNet desks).

    Counting both copies of each twin would put a winding number of about 0.8 just above
    the top slab.
    """
    slabs = [_box(2, extents=(1.0, 0.8, 0.04)) for _ in range(2)]
    slabs[0].apply_translation([0, 0, 0.1])
    v = np.concatenate([m.vertices for m in slabs])
    f = np.concatenate([slabs[0].faces, slabs[1].faces + len(slabs[0].vertices)])
    down = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])[:, 2] < 0
    f = np.concatenate([f, f[down][:, ::-1]])
    rng = np.random.default_rng(0)
    xy = np.column_stack([rng.uniform(-0.4, 0.4, 500), rng.uniform(-0.3, 0.3, 500)])
    above = np.column_stack([xy, rng.uniform(0.122, 0.13, 500)])
    inside = np.column_stack([xy, rng.uniform(0.085, 0.115, 500)])
    oracle = MeshOracle(v, f)
    assert not oracle.inside(above, method, rng).any()  # type: ignore[arg-type]
    assert oracle.inside(inside, method, rng).all()  # type: ignore[arg-type]


def test_default_sign_is_right_where_two_closed_parts_overlap() -> None:
    a, b = _box(extents=(1.0, 0.4, 0.4)), _box(extents=(0.4, 0.4, 1.0))
    v = np.concatenate([a.vertices, b.vertices])
    f = np.concatenate([a.faces, b.faces + len(a.vertices)])
    q = np.random.default_rng(0).uniform(-0.15, 0.15, (500, 3))  # inside both boxes
    oracle = MeshOracle(v, f)
    assert oracle.inside(q, SamplingConfig().sign, np.random.default_rng(0)).all()
    assert oracle.inside(q, "flood", np.random.default_rng(0)).all()


def test_occ_voxelization_of_a_sphere_has_its_volume() -> None:
    mesh = trimesh.creation.icosphere(subdivisions=4)
    cfg = TINY.model_copy(update={"voxel_res": 32})
    sup = field_kind("occ").supervision(_mesh_shape(mesh), cfg, np.random.default_rng(0))
    volume = sup.targets.sum() * (2 / 32) ** 3
    assert volume == pytest.approx(mesh.volume / mesh.bounding_sphere.primitive.radius**3, rel=0.02)
    grid = sup.targets.reshape(32, 32, 32)
    assert grid[16, 16, 16] == 1 and grid[0, 0, 0] == 0
    # C order over (x, y, z): grid index (3, 16, 16) is the voxel centred at x = -1 + 7/32
    centres = sup.coords.reshape(32, 32, 32, 3)
    np.testing.assert_allclose(centres[3, 16, 16], [-1 + 7 / 32, 1 / 32, 1 / 32], atol=1e-6)


def test_resampled_voxels_keep_q_and_volume() -> None:
    centres = voxel_centres(64).reshape(64, 64, 64, 3)
    ball = np.linalg.norm(centres, axis=-1) < 0.7
    small = resample_voxels(ball, 16)
    assert small.shape == (16, 16, 16)
    assert small.mean() == pytest.approx(ball.mean(), rel=0.05)
    np.testing.assert_array_equal(resample_voxels(small, 16), small)


def test_image_coords_are_x_column_y_row() -> None:
    img = np.zeros((4, 6, 3), np.float32)
    img[0, 5] = [1.0, 0.5, 0.25]  # top-right pixel
    sup = field_kind("image").supervision(Shape(image=img), TINY, np.random.default_rng(0))
    assert sup.coords.shape == (24, 2) and sup.targets.shape == (24, 3)
    bright = np.flatnonzero(sup.targets[:, 0] == 1.0)
    assert bright.tolist() == [5]
    np.testing.assert_allclose(sup.coords[5], [1 - 1 / 6, -1 + 1 / 4])
    np.testing.assert_allclose(sup.coords[6], [-1 + 1 / 6, -1 + 3 / 4])  # second row starts at the left
    assert field_kind("image").query_count(TINY, (4, 6)) == 24


def test_reference_points_are_exactly_n_with_parts() -> None:
    rng = np.random.default_rng(0)
    cloud = Shape(points=rng.uniform(-1, 1, (100, 3)).astype(np.float32), point_parts=np.arange(100) % 3)
    for n in (40, 100, 250):
        pts, parts = reference_points(cloud, n, rng)
        assert pts.shape == (n, 3) and parts is not None and parts.shape == (n,)
        idx = [np.flatnonzero((cloud.points == p).all(1))[0] for p in pts[:5]]
        np.testing.assert_array_equal(parts[:5], np.asarray(idx) % 3)
    a, b = _box(extents=(0.5, 0.5, 0.5)), _box(extents=(0.5, 0.5, 0.5))
    b.apply_translation([2.0, 0.0, 0.0])
    mesh = Shape(vertices=np.concatenate([a.vertices, b.vertices]).astype(np.float32),
                 faces=np.concatenate([a.faces, b.faces + 8]), face_parts=np.repeat([0, 1], 12))
    pts, parts = reference_points(normalize_shape(mesh), 500, rng)
    assert pts.shape == (500, 3) and set(np.unique(parts)) == {0, 1}
    assert (pts[parts == 0, 0] < 0).all() and (pts[parts == 1, 0] > 0).all()
    assert reference_points(Shape(points=cloud.points), 10, rng)[1] is None


# ---------------------------------------------------------------- losses


@pytest.mark.parametrize("field", ["udf", "sdf", "occ", "image"])
def test_kind_loss_is_per_inr_and_independent(field: str) -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 50, 2, generator=gen, requires_grad=True)
    target = torch.rand(3, 50, 2, generator=gen)
    if field == "occ":
        target = (target > 0.7).float()
    loss_fn = field_kind(field).loss
    loss = loss_fn(pred, target)
    assert loss.shape == (3,) and torch.isfinite(loss).all()
    (g1,) = torch.autograd.grad(loss.sum(), pred)
    other = target.clone()
    other[1] = 1 - other[1]
    (g2,) = torch.autograd.grad(loss_fn(pred, other).sum(), pred)
    assert torch.equal(g1[[0, 2]], g2[[0, 2]]) and not torch.equal(g1[1], g2[1])
    alone = loss_fn(pred[:1], target[:1])  # same value whatever else is in the batch
    assert torch.allclose(alone, loss[:1])
    with pytest.raises(ValueError):
        loss_fn(pred, target[:, :10])


def test_focal_loss_weights_positives_with_alpha() -> None:
    zero = torch.zeros(1, 1, 1)
    pos = focal_loss(zero, torch.ones(1, 1, 1))
    neg = focal_loss(zero, torch.zeros(1, 1, 1))
    assert float(pos) == pytest.approx(0.1 * 0.5**3 * math.log(2), rel=1e-5)
    assert float(neg / pos) == pytest.approx(9.0, rel=1e-5)
    easy = focal_loss(torch.full((1, 1, 1), 4.0), torch.ones(1, 1, 1))
    assert float(easy) < 1e-4 * float(pos)


# ---------------------------------------------------------------- real data


def test_raw_modelnet_mesh_sign_is_sane() -> None:
    """No query outside the bounding box of a raw (non-watertight, double-sided) CAD mesh is called inside."""
    from nfbench.datasets._readers import read_off

    path = DATA / "modelnet10_off_sample/ModelNet10/monitor/train"
    files = sorted(path.glob("*.off")) if path.is_dir() else []
    if not files:
        pytest.skip("ModelNet10 sample not available")
    shape = normalize_shape(read_off(files[0]), files[0])
    sup = field_kind("sdf").supervision(shape, TINY, np.random.default_rng(0), source=files[0])
    v = shape.vertices
    off_box = np.any((sup.coords < v.min(0) - 1e-4) | (sup.coords > v.max(0) + 1e-4), axis=1)
    assert off_box.sum() > 100
    assert (sup.targets[off_box, 0] > 0.5).all()
    assert 0.05 < (sup.targets[:, 0] < 0.5).mean() < 0.95
