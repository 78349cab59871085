"""Instruments: guitars (acoustic, electric, bass, ukulele)."""

from __future__ import annotations

import numpy as np

from .assembly import Assembly, category
from .colors import WOOD
from .geometry import rot_x


@category("guitar", parts=("body", "neck", "head", "bridge"),
          palette=([(0.8, 0.5, 0.2), (0.6, 0.1, 0.1), (0.1, 0.1, 0.1), (0.9, 0.85, 0.7)], WOOD, 1,
                   [(0.2, 0.12, 0.08)]))
def guitar(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["acoustic", "electric", "bass", "ukulele"], p=[0.35, 0.35, 0.15, 0.15])
    scale = 0.6 if kind == "ukulele" else 1.0
    rx = scale * (u(0.18, 0.23) if kind in ("acoustic", "ukulele") else u(0.15, 0.19))
    ry = rx * u(0.95, 1.15)
    thick = scale * (u(0.08, 0.12) if kind in ("acoustic", "ukulele") else u(0.04, 0.055))
    a.rod("body", (0, 0, -thick / 2), (0, 0, thick / 2), rx, ry)
    if kind in ("acoustic", "ukulele"):
        r2 = rx * u(0.7, 0.82)
        yu = ry * u(0.85, 1.0)
        a.rod("body", (0, yu, -thick / 2), (0, yu, thick / 2), r2, r2 * u(0.9, 1.05))
        top = yu + r2 * 0.9
    else:
        yu = ry * u(0.5, 0.7)
        top = yu + rx * 0.45
        a.rod("body", (0, yu * 0.8, -thick / 2), (0, yu * 0.8, thick / 2), rx * 0.8, rx * 0.7)
        for sx, grow in ((-1, u(0.9, 1.3)), (1, u(0.5, 1.0))):
            tip = np.array([sx * rx * 0.55, yu + rx * 0.55 * grow, 0.0])
            flat = ((0, 0, 1), thick / (rx * 0.6))  # horns as thick as the body
            a.capsule("body", (sx * rx * 0.45, yu * 0.4, 0), tip, rx * 0.3, squash=flat)
    nl = scale * (u(0.42, 0.5) if kind != "bass" else u(0.6, 0.75))
    nw = scale * u(0.045, 0.06)
    a.box("neck", (0, top + nl / 2 - 0.05, thick * 0.3), (nw, nl + 0.1, 0.025))
    yh = top + nl - 0.05
    hl = scale * u(0.14, 0.2)
    with a.frame(rot_x(-u(0.0, 0.25)), (0, yh, thick * 0.3)):  # headstock leans back
        a.box("head", (0, hl / 2, 0), (nw * u(1.3, 1.8), hl, 0.02))
        pegs = 4 if kind in ("bass", "ukulele") else 6
        inline = kind == "electric" and rng.random() < 0.6
        for i in range(pegs):
            if inline:
                y, sx = hl * (0.15 + 0.75 * i / (pegs - 1)), -1
            else:
                y, sx = hl * (0.25 + 0.6 * (i // 2) / max(pegs // 2 - 1, 1)), (-1) ** i
            a.rod("head", (0, y, 0), (sx * (nw * 0.9 + 0.04), y, 0), 0.008)
    a.box("bridge", (0, -ry * u(0.3, 0.5), thick / 2 + 0.005), (rx * 0.6, 0.03, 0.02))
