"""Furniture: chairs, tables, lamps, benches and sofas.

Each builder draws styles (leg layout, back type, optional arms) as well as
proportions, so one class spans shapes that differ in structure, not only in size.
"""

from __future__ import annotations

import numpy as np

from .assembly import Assembly, category, frustum
from .colors import CERAMIC, FABRIC, METAL, WOOD
from .geometry import rot_x


@category("chair", parts=("seat", "back", "leg", "arm"),
          palette=(FABRIC + WOOD, 0, WOOD + METAL, 2))
def chair(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    w, d, hs, ts = u(0.42, 0.6), u(0.4, 0.56), u(0.4, 0.5), u(0.03, 0.08)
    legs = rng.choice(["four", "splay", "pedestal", "sled", "three"], p=[0.4, 0.18, 0.15, 0.15, 0.12])
    round_seat = rng.random() < (0.5 if legs in ("pedestal", "three") else 0.1)
    ymid = hs - ts / 2
    if round_seat:
        a.disk("seat", (0, ymid, 0), w / 2, ts, d / 2)
    else:
        a.box("seat", (0, ymid, 0), (w, ts, d))
    lt = u(0.025, 0.05)
    round_legs = rng.random() < 0.5

    def post(p, q) -> None:
        if round_legs:
            a.rod("leg", p, q, lt / 2)
        else:
            a.beam("leg", p, q, lt)

    shrink = 0.68 if round_seat else 1.0
    xs, zs = shrink * (w / 2 - u(0.0, 0.05) - lt / 2), shrink * (d / 2 - u(0.0, 0.05) - lt / 2)
    if legs in ("four", "splay"):
        k = 0.0 if legs == "four" else u(0.12, 0.3)
        for sx in (-1, 1):
            for sz in (-1, 1):
                post((sx * xs * (1 + k), 0, sz * zs * (1 + k)), (sx * xs, ymid, sz * zs))
        if legs == "four" and rng.random() < 0.4:
            hst = u(0.08, 0.2)
            for sx in (-1, 1):
                post((sx * xs, hst, zs), (sx * xs, hst, -zs))
    elif legs == "three":
        rr = min(xs, zs)
        for ang in np.pi / 2 + 2 * np.pi / 3 * np.arange(3):
            c, s = np.cos(ang), np.sin(ang)
            post((1.45 * rr * c, 0, 1.45 * rr * s), (rr * c, ymid, rr * s))
    elif legs == "pedestal":
        a.rod("leg", (0, 0.06, 0), (0, ymid, 0), u(0.025, 0.04))
        reach, n_feet = u(0.24, 0.32), int(rng.choice([4, 5]))
        for ang in 2 * np.pi / n_feet * np.arange(n_feet) + u(0, np.pi):
            c, s = np.cos(ang), np.sin(ang)
            a.beam("leg", (0, 0.08, 0), (reach * c, 0.05, reach * s), 0.04, 0.03)
            a.ellipsoid("leg", (reach * c, 0.025, reach * s), (0.025,) * 3)
    else:  # sled: two U-shaped runners
        r = lt / 2
        for sx in (-1, 1):
            x = sx * xs
            a.capsule("leg", (x, r, zs), (x, ymid, zs), r)
            a.capsule("leg", (x, r, -zs), (x, ymid, -zs), r)
            a.capsule("leg", (x, r, zs + 0.04), (x, r, -zs - 0.04), r)

    hb, bt, tilt = u(0.3, 0.6), u(0.02, 0.06), u(0.0, 0.3)
    bw = w * (u(0.45, 0.6) if round_seat else u(0.8, 1.0))
    style = rng.choice(["solid", "slats", "spindles", "shell"], p=[0.35, 0.25, 0.15, 0.25])
    zb = -d / 2 + bt / 2 if not round_seat else -d / 2 * 0.85
    with a.frame(rot_x(-tilt), (0, ymid, zb)):
        top = ts / 2 + hb
        if style == "solid":
            a.box("back", (0, top / 2, 0), (bw, top, bt))
            if rng.random() < 0.3:
                a.rod("back", (-bw / 2, top, 0), (bw / 2, top, 0), bt * 0.9)
        elif style == "shell":
            a.ellipsoid("back", (0, hb * 0.55, 0), (bw / 2, hb * 0.55, bt * 0.9))
            a.beam("back", (0, -ts / 2, 0), (0, hb * 0.3, 0), 0.05, bt * 0.8)
        else:
            pw = max(lt, 0.03)
            for sx in (-1, 1):
                a.beam("back", (sx * (bw / 2 - pw / 2), 0, 0), (sx * (bw / 2 - pw / 2), top, 0), pw)
            a.box("back", (0, top - 0.04, 0), (bw, 0.08, bt))
            n = int(rng.integers(2, 5))
            if style == "slats":
                for y in np.linspace(ts / 2 + 0.08, top - 0.12, n - 1):
                    a.box("back", (0, y, 0), (bw, 0.05, bt * 0.8))
            else:
                for x in np.linspace(-bw / 2, bw / 2, n + 3)[1:-1]:
                    a.rod("back", (x, 0, 0), (x, top, 0), 0.012)

    if rng.random() < 0.4:
        ha, at = u(0.16, 0.26), u(0.03, 0.06)
        arm = rng.choice(["rod", "panel", "box"])
        za, zf = -d / 2 + 0.02, d / 2 - 0.04
        for sx in (-1, 1):
            x = sx * (w / 2 - at / 2)
            if arm == "rod":
                a.capsule("arm", (x, hs + ha, zf), (x, hs + ha, za), at / 2)
                a.capsule("arm", (x, ymid, zf - 0.03), (x, hs + ha, zf - 0.03), at / 2)
            elif arm == "panel":
                a.box("arm", (x, (ymid + hs + ha) / 2, -0.01), (at, hs + ha - ymid, d * 0.9))
            else:
                a.box("arm", (x, hs + ha, 0.0), (at * 1.5, 0.03, d * 0.85))
                for z in (zf - 0.03, za + 0.05):
                    a.beam("arm", (x, ymid, z), (x, hs + ha, z), at * 0.7)


@category("table", parts=("top", "leg", "apron", "shelf"),
          palette=(WOOD + [(0.92, 0.92, 0.9)], WOOD + METAL, 1, 0))
def table(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    h, tt = u(0.42, 1.05), u(0.025, 0.06)
    shape = rng.choice(["rect", "round", "oval"], p=[0.6, 0.25, 0.15])
    if shape == "rect":
        rx = u(0.35, 0.9)
        rz = rx * u(0.45, 0.9)
        a.box("top", (0, h - tt / 2, 0), (2 * rx, tt, 2 * rz))
        legs = rng.choice(["four", "trestle", "pedestal"], p=[0.7, 0.2, 0.1])
    else:
        rx = u(0.3, 0.6) if shape == "round" else u(0.5, 0.9)
        rz = rx if shape == "round" else rx * u(0.5, 0.75)
        a.disk("top", (0, h - tt / 2, 0), rx, tt, rz)
        legs = rng.choice(["pedestal", "three", "four"], p=[0.45, 0.25, 0.3])
    ytop = h - tt / 2
    lt = u(0.03, 0.08)
    shrink = 0.68 if shape != "rect" else 1.0
    xs = shrink * (rx - u(0.0, 0.08) - lt / 2)
    zs = shrink * (rz - u(0.0, 0.08) - lt / 2)
    if legs in ("four", "three"):
        splay = u(0.0, 0.25) if rng.random() < 0.25 else 0.0
        if legs == "four":
            corners = [(sx * xs, sz * zs) for sx in (-1, 1) for sz in (-1, 1)]
        else:
            angs = np.pi / 2 + 2 * np.pi / 3 * np.arange(3)
            corners = [(xs * np.cos(t), zs * np.sin(t)) for t in angs]
        rnd = rng.random() < 0.5
        for x, z in corners:
            p, q = (x * (1 + splay), 0, z * (1 + splay)), (x, ytop, z)
            if rnd:
                a.rod("leg", p, q, lt / 2)
            else:
                a.beam("leg", p, q, lt)
        if legs == "four" and rng.random() < 0.5:
            ah = u(0.06, 0.12)
            y = ytop - tt / 2 - ah / 2
            for sx in (-1, 1):
                a.box("apron", (sx * xs, y, 0), (0.02, ah, 2 * zs))
            for sz in (-1, 1):
                a.box("apron", (0, y, sz * zs), (2 * xs, ah, 0.02))
        if legs == "four" and rng.random() < 0.3:
            a.box("shelf", (0, u(0.1, 0.3) * h, 0), (2 * xs + lt, 0.025, 2 * zs + lt))
    elif legs == "trestle":
        pt = u(0.04, 0.08)
        for sx in (-1, 1):
            x = sx * (rx - u(0.1, 0.2))
            a.box("leg", (x, ytop / 2, 0), (pt, ytop, rz))
            a.box("leg", (x, 0.03, 0), (pt * 1.4, 0.06, 1.7 * rz))
        a.box("apron", (0, u(0.2, 0.4) * h, 0), (2 * rx - 0.3, 0.06, 0.05))
    else:
        a.rod("leg", (0, 0.02, 0), (0, ytop, 0), u(0.04, 0.09))
        if rng.random() < 0.5:
            a.disk("leg", (0, 0.02, 0), 0.6 * min(rx, rz) + 0.1, 0.04)
        else:
            reach = 0.8 * min(rx, rz) + 0.05
            for ang in np.pi / 4 + np.pi / 2 * np.arange(4):
                a.beam("leg", (0, 0.04, 0), (reach * np.cos(ang), 0.03, reach * np.sin(ang)), 0.06, 0.05)
        if rng.random() < 0.3:
            a.disk("shelf", (0, u(0.25, 0.45) * h, 0), 0.6 * rx, 0.025, 0.6 * rz)


def _dome(r: float, h: float) -> list[tuple[float, float]]:
    """Quarter-ellipse profile: a half-ellipsoid standing on its flat base."""
    t = np.linspace(0.0, np.pi / 2, 7)[:-1]
    return [(0.0, 0.0)] + [(r * np.cos(s), h * np.sin(s)) for s in t] + [(0.0, h)]


@category("lamp", parts=("base", "stem", "shade"),
          palette=(METAL + CERAMIC, METAL, [(0.95, 0.9, 0.75), (0.92, 0.92, 0.9), (0.6, 0.2, 0.15)]))
def lamp(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["floor", "table", "desk", "arc"], p=[0.3, 0.3, 0.25, 0.15])
    rb = u(0.1, 0.2) if kind != "table" else u(0.08, 0.12)
    base_style = rng.choice(["disk", "box", "dome"])
    hb = u(0.02, 0.05)
    if base_style == "disk":
        a.disk("base", (0, hb / 2, 0), rb, hb)
    elif base_style == "box":
        a.box("base", (0, hb / 2, 0), (2 * rb, hb, 2 * rb * u(0.7, 1.0)))
    else:
        a.revolve("base", (0, 0, 0), _dome(rb, 2 * hb))
    sr = u(0.01, 0.02)
    if kind in ("floor", "table"):
        if kind == "floor":
            h = u(1.3, 1.8)
            a.rod("stem", (0, 0, 0), (0, h, 0), sr)
        else:
            h = u(0.45, 0.7)
            body_h, body_r = u(0.15, 0.3), u(0.06, 0.12)
            neck = u(0.2, 0.5)
            a.revolve("base", (0, hb * 0.5, 0), [(0, 0), (body_r * neck, 0), (body_r, body_h * 0.4),
                                                   (body_r * 0.9, body_h * 0.8), (body_r * neck, body_h),
                                                   (0, body_h)])
            a.rod("stem", (0, body_h, 0), (0, h, 0), sr)
        n_shades = 3 if kind == "floor" and rng.random() < 0.25 else 1
        shade_b, shade_h = u(0.12, 0.24), u(0.15, 0.32)
        shade_t = shade_b * u(0.45, 1.0)
        if n_shades == 1:
            y0 = h - shade_h * u(0.3, 0.7)
            if rng.random() < 0.2:
                a.revolve("shade", (0, y0, 0), _dome(shade_b, shade_h))
            else:
                a.revolve("shade", (0, y0, 0), frustum(shade_b, shade_t, shade_h))
            a.ellipsoid("stem", (0, y0 + 0.03, 0), (0.03, 0.04, 0.03))
        else:
            sb, sh = shade_b * 0.6, shade_h * 0.6
            for ang in 2 * np.pi / 3 * np.arange(3) + u(0, np.pi):
                tip = np.array([0.3 * np.cos(ang), h + 0.1, 0.3 * np.sin(ang)])
                a.capsule("stem", (0, h - 0.15, 0), tip, sr)
                a.revolve("shade", tip - (0, sh * 0.4, 0), frustum(sb, sb * 0.6, sh))
    elif kind == "desk":
        l1, l2 = u(0.3, 0.45), u(0.3, 0.45)
        t1, t2 = u(-0.5, 0.1), u(0.7, 1.5)
        p0 = np.array([0, hb, -0.3 * rb])
        p1 = p0 + l1 * np.array([0, np.cos(t1), np.sin(t1)])
        p2 = p1 + l2 * np.array([0, np.cos(t2), np.sin(t2)])
        for p, q in ((p0, p1), (p1, p2)):
            a.capsule("stem", p, q, sr)
        a.ellipsoid("stem", p1, (sr * 2,) * 3)
        direction = np.array([0, -np.cos(u(0.2, 0.9)), np.sin(u(0.2, 0.9))])
        direction /= np.linalg.norm(direction)
        sl = u(0.1, 0.2)
        a.revolve("shade", p2 - 0.02 * direction, frustum(0.03, u(0.07, 0.13), sl), axis=direction)
    else:  # arc floor lamp
        h, reach = u(1.0, 1.4), u(0.5, 0.9)
        a.rod("stem", (0, 0, 0), (0, h - reach, 0), sr)
        a.arc("stem", (reach, h - reach, 0), reach, np.pi, np.pi / 2, sr, n=6)
        sb = u(0.12, 0.22)
        a.revolve("shade", (reach, h - 0.05 - sb * 0.8, 0), _dome(sb, sb * 0.8))


@category("bench", parts=("seat", "leg", "back", "arm"),
          palette=(WOOD, METAL + WOOD, 0, 1))
def bench(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    length, d, hs, ts = u(1.0, 2.2), u(0.3, 0.55), u(0.38, 0.5), u(0.04, 0.08)
    ymid = hs - ts / 2
    if rng.random() < 0.5:
        a.box("seat", (0, ymid, 0), (length, ts, d))
    else:
        n = int(rng.integers(3, 6))
        sw = d / n * 0.8
        for z in np.linspace(-d / 2 + sw / 2, d / 2 - sw / 2, n):
            a.box("seat", (0, ymid, z), (length, ts, sw))
    legs = rng.choice(["posts", "panels", "aframe"], p=[0.5, 0.3, 0.2])
    xe = length / 2 - u(0.05, 0.2)
    lt = u(0.04, 0.08)
    if legs == "posts":
        xs = [-xe, xe] if length < 1.6 else [-xe, 0.0, xe]
        for x in xs:
            for sz in (-1, 1):
                a.beam("leg", (x, 0, sz * (d / 2 - lt)), (x, ymid, sz * (d / 2 - lt)), lt)
            if rng.random() < 0.5:
                a.beam("leg", (x, 0.12, -d / 2 + lt), (x, 0.12, d / 2 - lt), lt * 0.7)
    elif legs == "panels":
        for sx in (-1, 1):
            a.box("leg", (sx * xe, ymid / 2, 0), (lt, ymid, d * u(0.8, 1.0)))
    else:
        for sx in (-1, 1):
            for sz in (-1, 1):
                a.beam("leg", (sx * xe, 0, sz * d * 0.55), (sx * xe, ymid, -sz * d * 0.15), lt * 0.8)
    if rng.random() < 0.6:
        hb, tilt = u(0.25, 0.5), u(0.0, 0.3)
        with a.frame(rot_x(-tilt), (0, ymid, -d / 2 + 0.03)):
            for x in ([-xe, xe] if length < 1.6 else [-xe, 0.0, xe]):
                a.beam("back", (x, 0, 0), (x, ts / 2 + hb, 0), 0.05)
            n = int(rng.integers(1, 4))
            bh = hb / n * 0.6
            for y in np.linspace(ts / 2 + hb - bh / 2, ts / 2 + hb * 0.35, n):
                a.box("back", (0, y, 0.03), (length * 0.98, bh, 0.03))
    if rng.random() < 0.35:
        ha = u(0.18, 0.28)
        for sx in (-1, 1):
            x = sx * (length / 2 - 0.03)
            a.box("arm", (x, hs + ha, 0), (0.06, 0.04, d * 0.9))
            a.beam("arm", (x, ymid, d * 0.3), (x, hs + ha, d * 0.3), 0.04)


@category("sofa", parts=("base", "cushion", "back", "arm", "leg"),
          palette=(FABRIC, FABRIC, 0, 0, WOOD + METAL))
def sofa(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    w, d = u(1.4, 2.6), u(0.75, 1.0)
    hl = u(0.0, 0.15) if rng.random() < 0.7 else 0.0
    hb = u(0.2, 0.35)
    a.box("base", (0, hl + hb / 2, 0), (w, hb, d))
    if hl > 0:
        for sx in (-1, 1):
            for sz in (-1, 1):
                a.beam("leg", (sx * (w / 2 - 0.06), 0, sz * (d / 2 - 0.06)),
                       (sx * (w / 2 - 0.06), hl + 0.02, sz * (d / 2 - 0.06)), 0.05)
    bt, bh = u(0.15, 0.25), u(0.35, 0.6)
    ytop = hl + hb
    arms = rng.choice(["box", "rolled", "none"], p=[0.45, 0.35, 0.2])
    at, ah = (u(0.12, 0.22), u(0.15, 0.3)) if arms != "none" else (0.0, 0.0)
    inner = w - 2 * at
    n_cush = int(rng.choice([1, 2, 3]))
    ct = u(0.08, 0.16)
    cw = inner / n_cush
    for i in range(n_cush):
        x = -inner / 2 + cw * (i + 0.5)
        a.box("cushion", (x, ytop + ct / 2 - 0.01, bt / 2), (cw * 0.97, ct, d - bt - 0.02))
    a.box("back", (0, ytop + bh / 2 - 0.01, -d / 2 + bt / 2), (w, bh, bt))
    if rng.random() < 0.4:
        for i in range(n_cush):
            x = -inner / 2 + cw * (i + 0.5)
            a.box("cushion", (x, ytop + ct + bh * 0.4, -d / 2 + bt + 0.06), (cw * 0.95, bh * 0.6, 0.14))
    if rng.random() < 0.2:
        side = rng.choice([-1, 1])
        ext = u(0.5, 0.8)
        a.box("base", (side * (w / 2 - at - cw / 2), hl + hb / 2, d / 2 + ext / 2), (cw + 0.01, hb, ext))
        a.box("cushion", (side * (w / 2 - at - cw / 2), ytop + ct / 2 - 0.01, d / 2 + ext / 2 - 0.02),
              (cw * 0.97, ct, ext))
    for sx in (-1, 1) if arms != "none" else ():
        x = sx * (w / 2 - at / 2)
        a.box("arm", (x, ytop + ah / 2 - 0.01, 0.0), (at, ah, d))
        if arms == "rolled":
            a.rod("arm", (x, ytop + ah, d / 2), (x, ytop + ah, -d / 2), at * 0.6)
