"""Vessels: mugs, bottles and vases, mostly solids of revolution.

Mugs and vases are open with a real wall thickness; their handles end inside the wall,
so a handle never pokes into the cavity.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .assembly import Assembly, category
from .colors import CERAMIC, GLASS


def _loop_handle(a: Assembly, part: str, wall_x: Callable[[float], float], y0: float, y1: float,
                 bulge: float, tube: float, side: int = 1, squash: tuple | None = None) -> None:
    """Arc from the wall at ``y0`` to the wall at ``y1``; ``bulge`` > 0 grows it past a half circle.

    ``wall_x(y)`` is the mid-wall radius: a tube no thicker than the wall never pokes inside.
    """
    yc, half = (y0 + y1) / 2, (y1 - y0) / 2
    rad = float(np.hypot(half, bulge))
    phi = np.pi / 2 + np.arcsin(bulge / rad)
    centre = np.array([side * (wall_x(yc) + bulge), yc, 0.0])
    a.arc(part, centre, rad, -phi, phi, tube, e1=(side, 0, 0), n=7, squash=squash)
    for y in (y0, y1):
        if abs(wall_x(y) - wall_x(yc)) > 1e-6:
            a.capsule(part, (side * wall_x(yc), y, 0), (side * wall_x(y), y, 0), tube, squash)


@category("mug", parts=("body", "handle"),
          palette=(CERAMIC, 0))
def mug(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    rb = u(0.3, 0.45)
    rt = rb * u(0.95, 1.25)
    h = 2 * rb * u(0.75, 1.5)
    t = rb * u(0.12, 0.2)
    a.revolve("body", (0, 0, 0), [(0, 0), (rb, 0), (rt, h), (rt - t, h), (rb - t, t), (0, t)])
    tube = t * u(0.38, 0.5)
    widen = (np.array([0, 0, 1.0]), u(1.0, 1.8))
    y0, y1 = h * u(0.12, 0.3), h * u(0.7, 0.88)

    def wall_x(y: float) -> float:
        return rb + (rt - rb) * y / h - t / 2

    if rng.random() < 0.65:
        _loop_handle(a, "handle", wall_x, y0, y1, u(0.0, 0.8) * (y1 - y0) / 2, tube, squash=widen)
    else:
        x = max(wall_x(y0), wall_x(y1)) + u(0.25, 0.45) * h
        corners = [(wall_x(y1), y1, 0), (x, y1, 0), (x, y0, 0), (wall_x(y0), y0, 0)]
        for p, q in zip(corners[:-1], corners[1:], strict=True):
            a.capsule("handle", p, q, tube, widen)


@category("bottle", parts=("body", "neck", "cap"),
          palette=(GLASS, 0, [(0.85, 0.75, 0.3), (0.1, 0.1, 0.1), (0.8, 0.1, 0.1)]))
def bottle(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["wine", "soda", "square", "flask"], p=[0.35, 0.3, 0.15, 0.2])
    rad = u(0.08, 0.14)
    hb = rad * {"wine": u(3.0, 4.5), "soda": u(2.5, 4.0), "square": u(2.0, 3.2), "flask": u(1.4, 2.2)}[kind]
    rn = rad * {"wine": u(0.25, 0.35), "soda": u(0.3, 0.42), "square": u(0.25, 0.4), "flask": u(0.2, 0.3)}[kind]
    sh = rad * {"wine": u(0.8, 1.5), "soda": u(0.6, 1.2), "square": u(0.2, 0.5), "flask": u(0.3, 0.6)}[kind]
    nl = rad * {"wine": u(1.5, 2.5), "soda": u(0.6, 1.2), "square": u(0.5, 1.0), "flask": u(1.0, 2.0)}[kind]
    if kind == "square":
        depth = u(0.6, 1.0)
        a.box("body", (0, hb / 2, 0), (2 * rad, hb, 2 * rad * depth))
        a.hull("body", [(x * s, y, z * s * k) for y, s, k in ((hb - 0.01, rad, depth), (hb + sh, rn, 1.0))
                        for x in (-1, 1) for z in (-1, 1)])
    else:
        prof = [(0.0, 0.0), (rad * 0.9, 0.0), (rad, 0.03 * hb)]
        if kind == "soda":
            waist = u(0.8, 0.95)
            prof += [(rad, 0.3 * hb), (rad * waist, 0.5 * hb), (rad, 0.7 * hb)]
        if kind == "flask":
            prof = [(0.0, 0.0), (rad * 0.5, 0.0)] + [(rad * np.sin(s), hb * 0.5 * (1 - np.cos(s)))
                                                   for s in np.linspace(0.6, np.pi - 0.6, 6)]
        else:
            prof += [(rad, hb)]
        top = prof[-1][1]
        prof += [(rn + (prof[-1][0] - rn) * np.cos(s) ** 2, top + sh * np.sin(s))
                 for s in np.linspace(0.3, np.pi / 2, 4)]
        prof += [(0.0, top + sh)]
        a.revolve("body", (0, 0, 0), prof)
        hb = top
    y = hb + sh
    a.rod("neck", (0, y - 0.02, 0), (0, y + nl, 0), rn)
    a.torus("neck", (0, y + nl - 0.5 * rn * 0.3, 0), rn, rn * 0.3)
    if rng.random() < 0.75:
        a.rod("cap", (0, y + nl - 0.3 * rn, 0), (0, y + nl + u(0.6, 2.0) * rn, 0), rn * u(1.1, 1.3))


@category("vase", parts=("body", "foot", "handle"),
          palette=(CERAMIC + GLASS, CERAMIC, 0))
def vase(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    h = u(0.5, 1.0)
    ys = np.linspace(0.0, h, 12)
    base_r = u(0.12, 0.22)
    belly = np.sin(np.pi * (ys / h) ** u(0.6, 1.4))
    radii = base_r * (1 + u(0.2, 0.9) * belly) * (1 - u(0.0, 0.5) * (ys / h) ** 3)
    if rng.random() < 0.6:  # flared lip
        radii[-2:] *= (1.0, u(1.1, 1.5))
    radii[0] = base_r * u(0.5, 0.95)
    t = base_r * u(0.1, 0.16)
    outer = list(zip(radii, ys, strict=True))
    inner = [(max(r - t, 0.02), y) for r, y in outer[::-1] if y > t]
    a.revolve("body", (0, 0, 0), [(0.0, 0.0)] + outer + inner + [(0.0, t)])
    if rng.random() < 0.5:
        a.disk("foot", (0, 0.015, 0), radii[0] * u(1.05, 1.4), 0.03)
    if rng.random() < 0.35:
        y0, y1 = u(0.35, 0.55) * h, u(0.75, 0.9) * h
        bulge = u(0.0, 0.6) * (y1 - y0) / 2

        def wall_x(y: float) -> float:
            return float(np.interp(y, ys, radii)) - t / 2

        for side in (-1, 1):
            _loop_handle(a, "handle", wall_x, y0, y1, bulge, t * 0.45, side)
