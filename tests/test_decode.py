"""Decoders, through the kinds that use them, on analytic fields whose surfaces are known exactly, plus one real FieldSpec."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from nfbench.decode import distance_to_cloud, field_fn, field_to_image, level_set_meshes, voxels_to_cloud
from nfbench.fields import batched_forward, field_preset, shared_init
from nfbench.fields.kinds import field_kind
from nfbench.fields.kinds.udf import logits_to_udf
from nfbench.fitting.streams import ItemStreams
from nfbench.metrics import chamfer_distance

UDF, SDF, OCC, IMAGE = (field_kind(name) for name in ("udf", "sdf", "occ", "image"))

RADII = torch.tensor([0.5, 0.3])
CENTRES = torch.tensor([[0.1, -0.2, 0.15], [-0.3, 0.25, 0.0]])


def sphere_distance(x: Tensor, radii: Tensor = RADII, centres: Tensor = CENTRES) -> Tensor:
    """Signed distance ``(B, N, 1)`` to sphere b at queries ``x (B, N, 3)``."""
    return (x - centres[:, None]).norm(dim=-1, keepdim=True) - radii[:, None, None]


def sdf_logits(x: Tensor) -> Tensor:
    return 20 * sphere_distance(x)


def udf_logits(x: Tensor) -> Tensor:
    """Logit of the fitting target ``1 - clip(|sdf|, 0, 0.1) / 0.1``."""
    return torch.logit(1 - sphere_distance(x).abs().clamp(max=0.1) / 0.1, eps=1e-6)


def occ_logits(x: Tensor) -> Tensor:
    return -50 * sphere_distance(x)


def off_surface(points: Tensor, radii: Tensor = RADII, centres: Tensor = CENTRES) -> Tensor:
    """Largest distance ``(B,)`` of a cloud ``(B, n, 3)`` to its sphere."""
    return ((points - centres[:, None]).norm(dim=-1) - radii[:, None]).abs().amax(dim=1)


def sphere_samples(n: int, radii: Tensor = RADII, centres: Tensor = CENTRES, seed: int = 0) -> Tensor:
    d = torch.randn(len(radii), n, 3, generator=torch.Generator().manual_seed(seed))
    return centres[:, None] + radii[:, None, None] * torch.nn.functional.normalize(d, dim=-1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- udf ------------------------------------------------------------------------------


def test_udf_cloud_lies_on_and_covers_each_sphere() -> None:
    cloud = UDF.decode_points(udf_logits, 2, 2048, 64, generator=gen())
    assert cloud.shape == (2, 2048, 3)
    assert (off_surface(cloud) < 0.01).all()
    # Coverage: two independent 2048-point samples of r = 0.5 are ~0.04 apart in Chamfer.
    chamfer = chamfer_distance(cloud, sphere_samples(2048))
    assert (chamfer < 0.06).all()
    swapped = chamfer_distance(cloud, sphere_samples(2048, RADII.flip(0), CENTRES.flip(0)))
    assert (swapped > 0.3).all()  # item b decoded its own sphere, not the other one


def test_udf_resamples_points_that_never_reach_the_surface() -> None:
    # Without oversampling most seeds sit where the udf is clipped (flat, no gradient),
    # so only the resampling around survivors can put them on the surface.
    cloud = distance_to_cloud(lambda x: logits_to_udf(udf_logits(x)), 2, 512, oversample=1, generator=gen(1))
    assert (off_surface(cloud) < 0.01).all()


def test_udf_without_surface_warns_and_stays_finite() -> None:
    def far(x: Tensor) -> Tensor:
        return torch.full_like(x[..., :1], -10.0)  # udf ~0.1 everywhere, constant

    with pytest.warns(RuntimeWarning, match=r"INR\(s\) \[0, 1\]"):
        cloud = UDF.decode_points(far, 2, 64, 16, generator=gen())
    assert torch.isfinite(cloud).all() and cloud.abs().max() <= 1


# --- sdf ------------------------------------------------------------------------------


def test_sdf_mesh_area_volume_and_position() -> None:
    meshes = level_set_meshes(sdf_logits, 2, resolution=64)
    for mesh, r, c in zip(meshes, RADII.tolist(), CENTRES.tolist(), strict=True):
        assert mesh.area == pytest.approx(4 * math.pi * r**2, rel=0.01)
        assert mesh.volume == pytest.approx(4 / 3 * math.pi * r**3, rel=0.02)  # positive: faces point out
        vertices = torch.as_tensor(mesh.vertices, dtype=torch.float32)
        assert ((vertices - torch.tensor(c)).norm(dim=-1) - r).abs().max() < 0.005
        assert torch.allclose(vertices.mean(0), torch.tensor(c), atol=0.01)


def test_sdf_cloud_on_each_sphere() -> None:
    cloud = SDF.decode_points(sdf_logits, 2, 2048, 64, generator=gen())
    assert cloud.shape == (2, 2048, 3)
    assert (off_surface(cloud) < 0.005).all()
    assert (chamfer_distance(cloud, sphere_samples(2048)) < 0.06).all()


def test_sdf_without_zero_crossing_is_empty_mesh_and_fallback_cloud() -> None:
    def half_empty(x: Tensor) -> Tensor:
        out = sdf_logits(x)
        return torch.cat([1 + x[:1].norm(dim=-1, keepdim=True), out[1:]])  # INR 0: outside everywhere

    meshes = level_set_meshes(half_empty, 2, resolution=16)
    assert meshes[0].is_empty and not meshes[1].is_empty
    with pytest.warns(RuntimeWarning, match=r"INR\(s\) \[0\]"):
        cloud = SDF.decode_points(half_empty, 2, 16, 16, generator=gen())
    assert torch.isfinite(cloud).all()
    assert cloud[0].norm(dim=-1).max() < 0.3  # the cells of smallest logit, around the origin
    assert off_surface(cloud[1:], RADII[1:], CENTRES[1:]).item() < 0.02


# --- occ ------------------------------------------------------------------------------


def test_occ_voxels_volume_axes_and_threshold() -> None:
    resolution = 32
    voxels = OCC.decode_voxels(occ_logits, 2, resolution)
    assert voxels.shape == (2, resolution, resolution, resolution) and voxels.dtype == torch.bool
    # sigmoid(-50 d) > 0.4 <=> d < log(1.5) / 50: a slightly larger sphere.
    grown = RADII + math.log(1.5) / 50
    volume = voxels.flatten(1).sum(1) * (2 / resolution) ** 3
    assert torch.allclose(volume, 4 / 3 * math.pi * grown**3, rtol=0.05)
    # Axis order [b, x, y, z]: the occupied centroid sits at the sphere centre.
    centres = (2 * torch.arange(resolution) + 1) / resolution - 1
    for b in range(2):
        idx = voxels[b].nonzero().float()
        assert torch.allclose(centres[0] + idx.mean(0) * 2 / resolution, CENTRES[b], atol=0.02)

    def constant(value: float) -> Callable[[Tensor], Tensor]:
        return lambda x: torch.full_like(x[..., :1], value)

    assert OCC.decode_voxels(constant(-0.3), 1, 4).all()  # sigmoid 0.43 > 0.4
    assert not OCC.decode_voxels(constant(-0.5), 1, 4).any()  # sigmoid 0.38


def test_sdf_voxels_are_the_negative_side() -> None:
    resolution = 32
    voxels = SDF.decode_voxels(sdf_logits, 2, resolution)
    assert voxels.shape == (2, resolution, resolution, resolution) and voxels.dtype == torch.bool
    volume = voxels.flatten(1).sum(1) * (2 / resolution) ** 3
    assert torch.allclose(volume, 4 / 3 * math.pi * RADII**3, rtol=0.05)
    assert torch.equal(voxels, OCC.decode_voxels(lambda x: -sdf_logits(x) + math.log(0.4 / 0.6), 2, resolution))


def test_kinds_without_an_inside_or_a_surface_refuse_in_one_line() -> None:
    with pytest.raises(ValueError, match="udf fields have no inside"):
        UDF.decode_voxels(udf_logits, 2, 8)
    with pytest.raises(ValueError, match="image fields have no surface"):
        IMAGE.decode_points(sdf_logits, 2, 16, 8)
    with pytest.raises(ValueError, match="image fields have no inside to voxelize: images are 2-D"):
        IMAGE.decode_voxels(sdf_logits, 2, 8)


def test_voxels_to_cloud_samples_surface_voxel_centres() -> None:
    voxels = torch.zeros(1, 8, 8, 8, dtype=torch.bool)
    voxels[0, 2:6, 2:6, 2:6] = True  # 64 voxels, 8 interior, 56 on the surface
    idx = ((voxels_to_cloud(voxels, 56, generator=gen())[0] + 1) * 8 - 1) / 2  # centre -> index
    assert torch.allclose(idx, idx.round(), atol=1e-4)
    idx = idx.round().long()
    assert voxels[0][tuple(idx.T)].all()
    assert ((idx == 2) | (idx == 5)).any(dim=1).all()  # never an interior voxel
    assert len(set(map(tuple, idx.tolist()))) == 56  # no repeats while there are enough voxels
    many = voxels_to_cloud(voxels, 200, generator=gen())
    assert len(set(map(tuple, many[0].tolist()))) == 56
    with pytest.raises(ValueError, match=r"empty voxel grid.*\[1\]"):
        voxels_to_cloud(torch.cat([voxels, torch.zeros_like(voxels)]), 10)


def test_occ_cloud_near_sphere_and_fallback() -> None:
    cloud = OCC.decode_points(occ_logits, 2, 1024, 32, generator=gen())
    assert cloud.shape == (2, 1024, 3)
    assert (off_surface(cloud) < 2 / 32 * math.sqrt(3)).all()  # within a voxel diagonal

    def empty_first(x: Tensor) -> Tensor:
        return torch.cat([torch.full_like(x[:1, :, :1], -5.0), occ_logits(x)[1:]])

    with pytest.warns(RuntimeWarning, match=r"INR\(s\) \[0\]"):
        cloud = OCC.decode_points(empty_first, 2, 64, 8, generator=gen())
    assert torch.isfinite(cloud).all() and cloud.abs().max() < 1


# --- images ---------------------------------------------------------------------------


def test_image_orientation_and_clamp() -> None:
    height, width = 3, 5
    x_ramp = field_to_image(lambda q: (q[..., :1] + 1) / 2, 1, height, width)
    assert x_ramp.shape == (1, height, width, 1)
    expected = (2 * torch.arange(width) + 1) / (2 * width)  # left to right, same on every row
    assert torch.allclose(x_ramp[0, :, :, 0], expected.expand(height, -1))
    y_ramp = field_to_image(lambda q: (q[..., 1:2] + 1) / 2, 1, height, width)
    top_to_bottom = (2 * torch.arange(height) + 1) / (2 * height)
    assert torch.allclose(y_ramp[0, :, :, 0], top_to_bottom[:, None].expand(-1, width))
    steep = field_to_image(lambda q: 3 * q[..., :1] + 0.5, 1, height, width)
    assert steep.min() == 0 and steep.max() == 1


def test_image_batch_and_channels() -> None:
    shift = torch.tensor([0.2, 0.7])
    rgb = field_to_image(lambda q: shift[:, None, None] + 0 * q[..., :1].expand(-1, -1, 3), 2, 4, 4, 3)
    assert rgb.shape == (2, 4, 4, 3)
    assert torch.allclose(rgb.flatten(1).mean(1), shift)
    with pytest.raises(ValueError, match="expected"):
        field_to_image(lambda q: q[..., :1], 2, 4, 4, 3)


# --- dispatch, quality, real fields, robustness ---------------------------------------


@pytest.mark.parametrize(
    ("kind", "fn", "tol"), [("udf", udf_logits, 0.01), ("sdf", sdf_logits, 0.01), ("occ", occ_logits, 0.1)]
)
def test_decode_points_of_each_surface_kind(kind: str, fn: Callable[[Tensor], Tensor], tol: float) -> None:
    cloud = field_kind(kind).decode_points(fn, 2, 256, 32, generator=gen())
    assert cloud.shape == (2, 256, 3)
    assert (off_surface(cloud) < tol).all()


@pytest.mark.parametrize("kind", ["udf", "sdf"])
def test_fit_quality_clouds_rank_a_good_fit_above_a_bad_one(kind: str) -> None:
    radii = torch.tensor([0.5, 0.6])  # INR 1 is 0.1 too large for the same reference
    centres = torch.zeros(2, 3)
    fields = {
        "udf": lambda x: torch.logit(1 - sphere_distance(x, radii, centres).abs().clamp(max=0.1) / 0.1, eps=1e-6),
        "sdf": lambda x: 20 * sphere_distance(x, radii, centres),
    }
    reference = sphere_samples(1024, torch.tensor([0.5, 0.5]), centres)
    quality = field_kind(kind).fit_quality(fields[kind], 2, reference, resolution=64, generator=gen())
    assert set(quality) == {"chamfer", "f_score"}
    assert quality["chamfer"][0] < 0.1 and quality["chamfer"][1] > 0.19  # >= 0.1 each way
    # F@0.01 of two independent 1024-point samples of the same sphere is only ~0.1 (sampling-limited).
    assert quality["f_score"][0] > 0.05 and quality["f_score"][1] == 0


def test_fit_quality_voxels_and_images() -> None:
    reference = OCC.decode_voxels(occ_logits, 2, 16)
    iou = OCC.fit_quality(occ_logits, 2, reference, resolution=0)["iou"]
    assert torch.allclose(iou, torch.ones(2))
    shifted = OCC.fit_quality(occ_logits, 2, torch.roll(reference, 3, dims=1), resolution=0)["iou"]
    assert (shifted < 0.9).all()

    target = torch.full((2, 4, 6, 1), 0.5)
    psnr = IMAGE.fit_quality(lambda q: torch.full_like(q[..., :1], 0.6), 2, target, resolution=0)["psnr"]
    assert torch.allclose(psnr, torch.full((2,), 20.0), atol=1e-3)
    with pytest.raises(ValueError, match="batch of 3"):
        SDF.fit_quality(sdf_logits, 3, sphere_samples(16), resolution=16)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a random init may have no surface
def test_field_fn_on_a_real_spec() -> None:
    spec = field_preset("tiny")
    base = shared_init(spec, seed=0)
    params = {name: torch.stack([p, p + 0.05 * torch.randn_like(p)]) for name, p in base.items()}
    fn = field_fn(spec, params)
    x = torch.rand(2, 100, 3) * 2 - 1
    out = fn(x)
    assert out.shape == (2, 100, 1)
    assert torch.equal(out, batched_forward(spec, params, x))
    assert not torch.allclose(out[0], out[1])
    cloud = UDF.decode_points(fn, 2, 64, 16, generator=gen())
    assert cloud.shape == (2, 64, 3) and torch.isfinite(cloud).all()
    assert not torch.allclose(cloud[0], cloud[1])
    assert OCC.decode_voxels(fn, 2, 8).shape == (2, 8, 8, 8)
    assert len(level_set_meshes(fn, 2, 16)) == 2


def test_queries_are_chunked_within_budget() -> None:
    sizes: list[int] = []

    def recording(x: Tensor) -> Tensor:
        sizes.append(x.shape[0] * x.shape[1])
        return occ_logits(x)

    chunked = OCC.decode_voxels(recording, 2, 16, max_queries=1000)
    assert max(sizes) <= 1000 and sum(sizes) == 2 * 16**3
    assert torch.equal(chunked, OCC.decode_voxels(occ_logits, 2, 16))
    sizes.clear()
    UDF.decode_points(lambda x: recording(x) * 0 + udf_logits(x), 2, 100, 16, max_queries=64, generator=gen())
    assert max(sizes) <= 64


def test_non_finite_field_outputs_raise() -> None:
    def broken(x: Tensor) -> Tensor:
        out = sdf_logits(x)
        return torch.cat([out[:1], torch.full_like(out[1:], float("nan"))])

    with pytest.raises(ValueError, match=r"non-finite.*\[1\]"):
        level_set_meshes(broken, 2, 8)
    with pytest.raises(ValueError, match="non-finite"):
        UDF.decode_points(broken, 2, 16, 8)
    with pytest.raises(ValueError, match="non-finite"):
        field_to_image(lambda q: torch.log(q[..., :1] - 2), 2, 4, 4)


# --- batch independence ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a random init may have no surface
@pytest.mark.parametrize("preset", ["tiny", "image"])
def test_an_inr_decodes_the_same_alone_or_in_any_batch(preset: str) -> None:
    """A lone INR goes through plain gemm in torch's CPU bmm; ``field_fn`` pairs it so its outputs match."""
    spec = field_preset(preset)
    base = shared_init(spec, seed=0)
    gen_ = torch.Generator().manual_seed(0)
    params = {name: p + 0.05 * torch.randn(3, *p.shape, generator=gen_) for name, p in base.items()}
    x = torch.rand(3, 500, spec.in_dim, generator=gen_) * 2 - 1
    batch = field_fn(spec, params)(x)
    for rows in (slice(1, 3), slice(2, 3)):
        assert torch.equal(field_fn(spec, {n: p[rows] for n, p in params.items()})(x[rows]), batch[rows])
    if spec.in_dim == 3:
        streams = ItemStreams([7, 8, 9])
        clouds = UDF.decode_points(field_fn(spec, params), 3, 64, 16, generator=streams)
        alone = UDF.decode_points(field_fn(spec, {n: p[2:] for n, p in params.items()}), 1, 64, 16, generator=ItemStreams([9]))
        assert torch.equal(clouds[2:], alone)


def test_item_streams_must_match_the_batch() -> None:
    with pytest.raises(ValueError, match="2 item streams for a batch of 3"):
        SDF.decode_points(lambda x: x.norm(dim=-1, keepdim=True) - 0.5, 3, 16, 8, generator=ItemStreams([1, 2]))
