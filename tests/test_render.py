"""The field renderer on analytic spheres: silhouettes, hit points, normals and shading against the camera geometry."""

import math

import pytest
import torch

from nfbench.decode.render import (
    AMBIENT,
    RenderSettings,
    camera_rays,
    camera_ring,
    march_to_level,
    render_distance,
    render_level,
    sphere_trace,
    surface_normals,
)
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.fields.kinds.surface import logit

SETTINGS = RenderSettings(n_views=3, size=48, max_steps=64, step_scale=1.0, up="y")


def sphere_sdf(radii: torch.Tensor):
    """``batch`` spheres at the origin, one radius each: the signed distance ``|x| - r``."""
    return lambda x: x.norm(dim=-1, keepdim=True) - radii.view(-1, 1, 1)


def sphere_udf(radii: torch.Tensor):
    return lambda x: (x.norm(dim=-1, keepdim=True) - radii.view(-1, 1, 1)).abs()


def projected_radius(r: float, settings: RenderSettings) -> float:
    """Pixels from the image centre to the silhouette of a sphere of radius ``r`` at the origin."""
    return math.tan(math.asin(r / settings.distance)) / math.tan(math.radians(settings.fov) / 2) * settings.size / 2


def pixel_radius(size: int) -> torch.Tensor:
    """Distance in pixels of each pixel centre from the image centre, ``(size, size)``."""
    c = torch.arange(size) + 0.5 - size / 2
    return (c[:, None].square() + c[None, :].square()).sqrt()


def assert_disk(silhouette: torch.Tensor, radius: float) -> None:
    """Every pixel well inside ``radius`` is set and every pixel well outside is not (a pixel of slack)."""
    dist = pixel_radius(silhouette.shape[-1]).expand_as(silhouette)
    assert bool(silhouette[dist < radius - 1].all()) and not bool(silhouette[dist > radius + 1].any())


def test_cameras_ring_the_up_axis_at_the_set_elevation_and_distance():
    settings = RenderSettings(n_views=4, elevation=30, distance=2.5, up="z")
    cams = camera_ring(settings)
    assert torch.allclose(cams.origins.norm(dim=-1), torch.full((4,), 2.5))
    assert torch.allclose(cams.origins[:, 2], torch.full((4,), 2.5 * math.sin(math.radians(30))))  # height on the up axis
    assert cams.origins[0, 0] > 0 and abs(cams.origins[0, 1]) < 1e-6  # the first camera on the +x side for up=z
    assert torch.allclose(cams.forward, -cams.origins / 2.5, atol=1e-6)
    frame = torch.stack([cams.right, cams.up, cams.forward], dim=1)
    assert torch.allclose(frame @ frame.transpose(1, 2), torch.eye(3).expand(4, 3, 3), atol=1e-6)
    assert bool((cams.up[:, 2] > 0).all())  # upright images: the camera's up leans to the world's
    y_up = camera_ring(RenderSettings(n_views=1, up="y"))
    assert y_up.origins[0, 2] > 0 and abs(y_up.origins[0, 0]) < 1e-6 and y_up.origins[0, 1] > 0


@pytest.mark.parametrize("field", [sphere_sdf, sphere_udf])
def test_a_sphere_renders_as_a_disk_of_its_projected_radius(field):
    images = render_distance(field(torch.tensor([0.6])), 1, SETTINGS)
    assert images.shape == (1, 3, 1, 48, 48) and images.min() >= 0 and images.max() <= 1
    silhouette = images[0, :, 0] > 0
    assert_disk(silhouette, projected_radius(0.6 + SETTINGS.hit_distance, SETTINGS))
    assert bool((images[0, :, 0][silhouette] >= AMBIENT).all())  # a hit is never as dark as the background


@pytest.mark.parametrize("field", [sphere_sdf, sphere_udf])
def test_hits_lie_on_the_sphere_and_normals_are_radial(field):
    fn = field(torch.tensor([0.5]))
    origins, dirs = camera_rays(camera_ring(SETTINGS), SETTINGS.size, SETTINGS.fov)
    points, hit = sphere_trace(fn, 1, origins, dirs, max_steps=64, hit_distance=1e-3)
    assert int(hit.sum()) > 0.1 * hit.numel()  # the sphere covers about 15 % of each image
    radius = points[hit].norm(dim=-1)
    assert bool(((radius - 0.5).abs() < 1e-3).all())
    normals = surface_normals(fn, points, hit, dirs)[hit]
    assert bool(((normals * points[hit] / radius[:, None]).sum(-1) > 0.999).all())  # outward: towards the cameras
    assert bool((surface_normals(fn, points, hit, dirs)[~hit] == 0).all())


def test_the_brightest_pixel_faces_the_light():
    fn = sphere_sdf(torch.tensor([0.7]))
    cams = camera_ring(SETTINGS)
    origins, dirs = camera_rays(cams, SETTINGS.size, SETTINGS.fov)
    points, hit = sphere_trace(fn, 1, origins, dirs, max_steps=64, hit_distance=1e-4)
    normals = surface_normals(fn, points, hit, dirs).view(SETTINGS.n_views, -1, 3)
    images = render_distance(fn, 1, SETTINGS.model_copy(update={"hit_distance": 1e-4}))
    brightest = images.view(SETTINGS.n_views, -1).argmax(dim=1)
    facing = (normals[torch.arange(SETTINGS.n_views), brightest] * cams.light()).sum(-1)
    assert bool((facing > 0.99).all())
    assert torch.allclose(images.view(SETTINGS.n_views, -1).amax(dim=1), torch.ones(SETTINGS.n_views), atol=2e-3)


def test_a_ray_that_misses_the_bounding_sphere_is_background():
    settings = RenderSettings(n_views=1, size=16, fov=120, up="y")  # the corners look past the bounding sphere
    images = render_distance(lambda x: torch.full_like(x[..., :1], -1.0), 1, settings)  # "inside" everywhere
    assert images[0, 0, 0, 0, 0] == 0 and images[0, 0, 0, 8, 8] > 0


def test_an_occupancy_sphere_is_marched_to_its_threshold():
    sharpness, r = 50.0, 0.6
    logits = lambda x: sharpness * (r - x.norm(dim=-1, keepdim=True))  # noqa: E731
    level = logit(0.4)
    surface = r - level / sharpness  # where sigmoid(logit) = 0.4
    origins, dirs = camera_rays(camera_ring(SETTINGS), SETTINGS.size, SETTINGS.fov)
    points, hit = march_to_level(logits, level, 1, origins, dirs, max_steps=64, refine_steps=8)
    assert bool(((points[hit].norm(dim=-1) - surface).abs() < 2e-3).all())
    images = FIELD_KINDS.get("occ").decode_renders(logits, 1, SETTINGS)
    assert torch.equal(images, render_level(logits, level, 1, SETTINGS))
    assert_disk(images[0, :, 0] > 0, projected_radius(surface, SETTINGS))


@pytest.mark.parametrize("kind", ["sdf", "udf", "occ"])
def test_batched_rendering_equals_rendering_each_item_alone(kind):
    radii = torch.tensor([0.3, 0.8, 0.55])
    fields = {
        "sdf": lambda r: sphere_sdf(r),
        "udf": lambda r: sphere_udf(r),
        "occ": lambda r: lambda x: 20 * (r.view(-1, 1, 1) - x.norm(dim=-1, keepdim=True)),
    }
    settings = RenderSettings(n_views=2, size=24, max_steps=32, up="y")
    render = (
        (lambda fn, b: render_level(fn, 0.0, b, settings)) if kind == "occ" else (lambda fn, b: render_distance(fn, b, settings))
    )
    together = render(fields[kind](radii), 3)
    for i in range(3):
        assert torch.equal(together[i : i + 1], render(fields[kind](radii[i : i + 1]), 1))
    assert (together[0] > 0).sum() < (together[2] > 0).sum() < (together[1] > 0).sum()


def test_image_fields_cannot_be_rendered():
    with pytest.raises(ValueError, match="image fields have no surface to render"):
        FIELD_KINDS.get("image").decode_renders(lambda x: x[..., :1], 1, SETTINGS)
