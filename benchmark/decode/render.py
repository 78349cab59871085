"""Shaded images of 3-D fields from a ring of cameras: the input of image baselines on INRs.

Two ways to find where a ray meets the surface, one per family of fields:

- ``sphere_trace``, for fields that give a distance (signed or unsigned): step along the
  ray by the distance itself, and stop where it falls below ``hit_distance``. Fitted
  distances are clipped (0.1) and approximate, hence ``step_scale`` below 1. A signed
  distance that turns negative has overshot the surface and also counts as a hit; an
  unsigned distance never changes sign, so the threshold is all it has.
- ``march_to_level``, for fields with a decision level and no distance (occupancy): sample
  the ray at fixed steps up to the first sample above the level, then bisect the bracket.

Both march every ray of every INR at once, and each step evaluates the field only on the
rays still marching (most rays miss the shape or converge early), so a chunk of INRs
costs one batched field call per step. Rays are clipped to a bounding sphere of radius
``BOUND_RADIUS`` around the origin (shapes are normalized into the unit sphere and
fields are fitted on [-1, 1]^3; outside it a field is extrapolation). Normals are the
field's autograd gradient at the hit, turned towards the camera, and pixels are Lambert
shaded by a light fixed in each camera's frame (so every view is lit alike), plus an
ambient term that keeps any hit brighter than the background (0).

Camera placement (``RenderSettings``): K pinhole cameras on a circle around the ``up``
axis at ``elevation`` degrees and ``distance`` from the origin, at azimuths
``360 k / K`` degrees, looking at the origin, with square images of ``fov`` degrees. The
up axis is the dataset card's (procshapes: y; ModelNet's clouds and meshes: z) unless the
settings name one. The first camera (k = 0) sits on the +z side for ``up="y"``, +x for
``up="z"`` and +y for ``up="x"``; azimuth turns from there towards the next axis (z to x
to y to z). The
defaults (2.5 units, 50 degrees) frame the unit sphere with a few pixels to spare.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor
from torch.nn import functional as F

from nfbench.api.view import Axis
from nfbench.decode.common import DEFAULT_MAX_QUERIES, FieldFn, evaluate, query_device, value_and_grad
from nfbench.decode.image import pixel_centres

BOUND_RADIUS = 1.05
"""Rays are marched inside this sphere only: the unit sphere of the shapes, with a margin."""
LIGHT_IN_CAMERA = (-0.4, 0.5, 0.77)
"""Direction towards the light in each camera's (right, up, backwards) frame: above and to the left of the viewer."""
AMBIENT = 0.2
"""Intensity of a hit facing away from the light; a lit hit gets up to 1."""


class RenderSettings(BaseModel):
    """Cameras and ray marching: everything that determines a render besides the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_views: int = Field(12, ge=1, description="cameras on the ring (K)")
    size: int = Field(64, ge=8, le=1024, description="image height and width in pixels")
    elevation: float = Field(30.0, gt=-90, lt=90, description="degrees above the plane normal to the up axis")
    distance: float = Field(2.5, gt=BOUND_RADIUS, description="camera distance from the origin (shapes lie in the unit sphere)")
    fov: float = Field(50.0, gt=0, lt=180, description="field of view in degrees, both ways (square images)")
    up: Axis | None = Field(None, description="the axis the ring circles; None: the dataset card's (the renders view fills it in)")
    max_steps: int = Field(
        64, ge=1, description="field evaluations per ray while marching (sphere-tracing steps or level samples)"
    )
    hit_distance: float = Field(
        0.01, gt=0, description="distance fields: a ray hits the surface where the distance drops below this"
    )
    step_scale: float = Field(0.9, gt=0, le=1, description="distance fields: each step is this fraction of the distance")
    refine_steps: int = Field(6, ge=0, description="level fields: bisection steps on the bracket of the first crossing")


@dataclass(frozen=True)
class Cameras:
    """K cameras looking at the origin: positions and orthonormal frames, ``(K, 3)`` each."""

    origins: Tensor
    right: Tensor
    up: Tensor
    forward: Tensor

    def light(self) -> Tensor:
        """``(K, 3)`` unit directions towards the light, ``LIGHT_IN_CAMERA`` in each camera's frame."""
        r, u, b = LIGHT_IN_CAMERA
        return F.normalize(r * self.right + u * self.up - b * self.forward, dim=-1)


def camera_ring(settings: RenderSettings, device: torch.device | str | None = None) -> Cameras:
    """The ring of ``settings.n_views`` cameras (placement in the module docstring)."""
    if settings.up is None:
        raise ValueError("camera_ring needs RenderSettings.up: the renders view fills in the dataset's up axis")
    dev = query_device(device)
    up_index = "xyz".index(settings.up)
    basis = torch.eye(3, device=dev)
    up, first, second = basis[up_index], basis[(up_index + 1) % 3], basis[(up_index + 2) % 3]
    azimuth = 2 * math.pi * torch.arange(settings.n_views, device=dev) / settings.n_views
    elevation = math.radians(settings.elevation)
    horizontal = azimuth.cos()[:, None] * first + azimuth.sin()[:, None] * second
    origins = settings.distance * (math.cos(elevation) * horizontal + math.sin(elevation) * up)
    forward = F.normalize(-origins, dim=-1)
    right = F.normalize(torch.linalg.cross(forward, up.expand_as(forward)), dim=-1)
    return Cameras(origins, right, torch.linalg.cross(right, forward), forward)


def camera_rays(cameras: Cameras, size: int, fov: float) -> tuple[Tensor, Tensor]:
    """Origins and unit directions ``(K * size^2, 3)`` through every pixel centre: camera-major, then
    row-major with row 0 at the top and column 0 on the left."""
    half = math.tan(math.radians(fov) / 2)
    pixels = pixel_centres(size, size, cameras.origins.device) * half  # [..., 0] right, [..., 1] down
    dirs = cameras.forward[:, None] + pixels[None, :, 0:1] * cameras.right[:, None] - pixels[None, :, 1:2] * cameras.up[:, None]
    origins = cameras.origins[:, None].expand_as(dirs)
    return origins.reshape(-1, 3), F.normalize(dirs, dim=-1).reshape(-1, 3)


def _bounds(origins: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Entry and exit ``t`` of each ray in the bounding sphere, and whether it crosses it at all."""
    b = (origins * dirs).sum(-1)
    disc = b.square() - (origins.square().sum(-1) - BOUND_RADIUS**2)
    root = disc.clamp_min(0).sqrt()
    return (-b - root).clamp_min(0), -b + root, disc > 0


def _on_active(compute: Callable[[Tensor], Tensor], x: Tensor, active: Tensor) -> Tensor:
    """``compute`` on the rays of ``x (B, R, 3)`` where ``active (B, R)``, zero elsewhere.

    Active rays are packed to the front of each INR's row and the rows padded to the
    longest, so the field sees one rectangular batch of only (nearly) the rays that matter;
    the padding is computed and discarded.
    """
    counts = active.sum(dim=1)
    n = max(1, int(counts.max()))
    order = torch.sort((~active).to(torch.uint8), dim=1, stable=True).indices[:, :n]  # active rays first
    values = compute(x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1])))
    valid = (torch.arange(n, device=x.device) < counts[:, None]).view(*order.shape, *[1] * (values.dim() - 2))
    index = order.view(valid.shape).expand_as(values)
    return values.new_zeros((*active.shape, *values.shape[2:])).scatter(1, index, torch.where(valid, values, 0))


def _scalar(fn: FieldFn, max_queries: int) -> Callable[[Tensor], Tensor]:
    return lambda x: evaluate(fn, x, 1, max_queries)[..., 0]


def sphere_trace(
    distance: FieldFn,
    batch: int,
    origins: Tensor,
    dirs: Tensor,
    *,
    max_steps: int,
    hit_distance: float,
    step_scale: float = 1.0,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> tuple[Tensor, Tensor]:
    """Where rays ``(R, 3)`` meet ``batch`` distance fields: points ``(B, R, 3)`` and hits ``(B, R)``.

    A ray hits where the distance drops below ``hit_distance`` (negative included: a signed
    distance that overshot). Rays that leave the bounding sphere, or are still marching
    after ``max_steps``, miss; their points are meaningless.
    """
    t_near, t_far, crosses = _bounds(origins, dirs)
    t = t_near.expand(batch, -1).clone()
    active = crosses.expand(batch, -1).clone()
    hit = torch.zeros_like(active)
    step = _scalar(distance, max_queries)
    for _ in range(max_steps):
        if not bool(active.any()):
            break
        d = _on_active(step, origins + t.unsqueeze(-1) * dirs, active)
        reached = active & (d < hit_distance)
        hit |= reached
        active &= ~reached
        t = torch.where(active, t + step_scale * d, t)
        active &= t <= t_far
    return origins + t.unsqueeze(-1) * dirs, hit


def march_to_level(
    fn: FieldFn,
    level: float,
    batch: int,
    origins: Tensor,
    dirs: Tensor,
    *,
    max_steps: int,
    refine_steps: int,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> tuple[Tensor, Tensor]:
    """Where rays ``(R, 3)`` first find ``fn > level`` in ``batch`` fields: points ``(B, R, 3)`` and hits ``(B, R)``.

    ``max_steps`` evenly spaced samples span each ray's chord of the bounding sphere (a
    crossing between two samples that leaves again before the next one is missed); the
    first bracket is bisected ``refine_steps`` times and its midpoint returned.
    """
    t_near, t_far, crosses = _bounds(origins, dirs)
    dt = (t_far - t_near) / max_steps
    active = crosses.expand(batch, -1).clone()
    hit = torch.zeros_like(active)
    t_hit = t_far.expand(batch, -1).clone()
    value = _scalar(fn, max_queries)
    for i in range(1, max_steps + 1):
        if not bool(active.any()):
            break
        t = t_near + i * dt
        inside = active & (_on_active(value, (origins + t.unsqueeze(-1) * dirs).expand(batch, -1, -1), active) > level)
        hit |= inside
        active &= ~inside
        t_hit = torch.where(inside, t, t_hit)
    lo, hi = t_hit - dt, t_hit
    for _ in range(refine_steps):
        mid = (lo + hi) / 2
        inside = hit & (_on_active(value, origins + mid.unsqueeze(-1) * dirs, hit) > level)
        lo, hi = torch.where(inside, lo, mid), torch.where(inside, mid, hi)
    return origins + ((lo + hi) / 2).unsqueeze(-1) * dirs, hit


def surface_normals(fn: FieldFn, points: Tensor, hit: Tensor, dirs: Tensor, max_queries: int = DEFAULT_MAX_QUERIES) -> Tensor:
    """Unit gradients of the scalar field ``fn`` at the hit ``points (B, R, 3)``, turned against the rays
    ``dirs (R, 3)`` (towards the camera: the sign of a field's gradient differs between kinds,
    and an unsigned distance's flips across the surface); zero where nothing was hit."""
    grads = _on_active(lambda x: value_and_grad(fn, x, max_queries)[1], points, hit)
    normals = F.normalize(grads, dim=-1)
    return torch.where((normals * dirs).sum(-1, keepdim=True) > 0, -normals, normals)


def shade(normals: Tensor, hit: Tensor, light: Tensor) -> Tensor:
    """Lambert intensities ``(B, K, P)`` of normals ``(B, K, P, 3)`` lit from ``light (K, 3)``; 0 where nothing was hit."""
    lambert = (normals * light[:, None]).sum(-1).clamp_min(0)
    return torch.where(hit, AMBIENT + (1 - AMBIENT) * lambert, 0.0)


Tracer = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
"""Rays ``(origins, dirs)`` -> hit points ``(B, R, 3)`` and hits ``(B, R)``."""


def _render(
    trace: Tracer,
    normal_field: FieldFn,
    batch: int,
    settings: RenderSettings,
    device: torch.device | str | None,
    max_queries: int,
) -> Tensor:
    cameras = camera_ring(settings, device)
    origins, dirs = camera_rays(cameras, settings.size, settings.fov)
    points, hit = trace(origins, dirs)
    normals = surface_normals(normal_field, points, hit, dirs, max_queries)
    k, size = settings.n_views, settings.size
    image = shade(normals.view(batch, k, -1, 3), hit.view(batch, k, -1), cameras.light())
    return image.view(batch, k, 1, size, size)


def render_distance(
    distance: FieldFn,
    batch: int,
    settings: RenderSettings,
    *,
    device: torch.device | str | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Shaded images ``(B, K, 1, H, W)`` in [0, 1] of ``batch`` distance fields (signed or unsigned), by sphere tracing."""

    def trace(origins: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor]:
        return sphere_trace(
            distance, batch, origins, dirs, max_steps=settings.max_steps, hit_distance=settings.hit_distance,
            step_scale=settings.step_scale, max_queries=max_queries,
        )  # fmt: skip

    return _render(trace, distance, batch, settings, device, max_queries)


def render_level(
    fn: FieldFn,
    level: float,
    batch: int,
    settings: RenderSettings,
    *,
    device: torch.device | str | None = None,
    max_queries: int = DEFAULT_MAX_QUERIES,
) -> Tensor:
    """Shaded images ``(B, K, 1, H, W)`` in [0, 1] of the regions ``fn > level`` of ``batch`` fields, by marching."""

    def trace(origins: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor]:
        return march_to_level(
            fn, level, batch, origins, dirs, max_steps=settings.max_steps, refine_steps=settings.refine_steps,
            max_queries=max_queries,
        )  # fmt: skip

    return _render(trace, fn, batch, settings, device, max_queries)
