"""Vehicles: airplanes, rockets and cars.

Each builder draws a kind first (airliner or fighter, sedan or SUV) and the kind sets
the ranges of every proportion drawn after it, so a class holds distinct sub-types
rather than one shape stretched.
"""

from __future__ import annotations

import numpy as np

from .assembly import Assembly, category, frustum
from .colors import PAINT


@category("airplane", parts=("fuselage", "wing", "tail", "engine"),
          palette=([(0.9, 0.9, 0.92), (0.6, 0.62, 0.65)], [(0.75, 0.76, 0.78)],
                   [(0.2, 0.3, 0.6), (0.75, 0.1, 0.1)], [(0.45, 0.45, 0.48)]))
def airplane(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["airliner", "fighter", "prop", "glider"], p=[0.4, 0.2, 0.25, 0.15])
    length = u(1.0, 1.5)
    r = length * {"airliner": u(0.045, 0.065), "fighter": u(0.05, 0.07),
                  "prop": u(0.05, 0.07), "glider": u(0.03, 0.045)}[kind]
    nose, tail = length * (u(0.25, 0.35) if kind == "fighter" else u(0.08, 0.18)), length * u(0.2, 0.35)
    prof = [(0.0, 0.0), (0.15 * r, 0.0), (0.6 * r, 0.5 * tail), (r, tail), (r, length - nose)]
    prof += [(r * np.cos(s), length - nose + nose * np.sin(s)) for s in np.linspace(0.3, 1.3, 4)]
    prof += [(0.0, length)]
    a.revolve("fuselage", (0, 0, -length / 2), prof, axis=(0, 0, 1))

    span = length * {"airliner": u(0.8, 1.1), "fighter": u(0.45, 0.65),
                     "prop": u(0.8, 1.2), "glider": u(1.4, 1.9)}[kind]
    cr = length * {"airliner": u(0.15, 0.22), "fighter": u(0.35, 0.5),
                   "prop": u(0.1, 0.16), "glider": u(0.06, 0.1)}[kind]
    ct = cr * (u(0.05, 0.2) if kind == "fighter" else u(0.3, 0.7))
    sweep = span / 2 * {"airliner": u(0.3, 0.6), "fighter": u(0.7, 1.1),
                        "prop": u(-0.05, 0.1), "glider": u(0.0, 0.1)}[kind]
    yw = r * {"airliner": u(-0.6, -0.3), "fighter": u(-0.2, 0.1),
              "prop": u(0.5, 0.8), "glider": u(0.2, 0.7)}[kind]
    dihedral = u(0.0, 0.1)
    z0 = length * (u(0.05, 0.2) if kind != "fighter" else u(-0.05, 0.1))
    tw = r * 0.35

    def wing(part: str, y: float, z: float, half: float, c0: float, c1: float, sw: float,
             dh: float, thick: float) -> None:
        for sx in (-1, 1):
            pts = []
            for x, zl, c, yy, t in ((0.0, z, c0, y, thick), (sx * half, z - sw, c1, y + dh * half, thick * 0.5)):
                pts += [(x, yy + s * t / 2, zz) for s in (-1, 1) for zz in (zl, zl - c)]
            a.hull(part, pts)

    wing("wing", yw, z0, span / 2, cr, ct, sweep, dihedral, tw)
    zt = -length / 2 + 0.02
    hs_span, hs_c = span * u(0.25, 0.4), cr * u(0.4, 0.65)
    if kind == "fighter":
        hs_span, hs_c = span * u(0.45, 0.7), cr * u(0.3, 0.45)
    fin_h, fin_c = r * u(2.0, 3.5), hs_c * u(1.0, 1.4)
    t_tail = kind != "fighter" and rng.random() < 0.3
    fins = (-0.8 * r, 0.8 * r) if kind == "fighter" and rng.random() < 0.6 else (0.0,)
    for x in fins:
        a.hull("tail", [(x + s * tw / 2, y, z) for s in (-1, 1)
                        for y, z in ((0.0, zt + fin_c), (0.0, zt), (fin_h, zt - 0.2 * fin_c + fin_c * 0.5),
                                     (fin_h, zt - 0.2 * fin_c))])
    wing("tail", fin_h * 0.95 if t_tail else r * 0.2, zt + hs_c + 0.02, hs_span / 2, hs_c, hs_c * 0.5,
         hs_span * 0.25, 0.0, tw * 0.8)

    if kind == "airliner":
        n_eng = int(rng.choice([2, 4], p=[0.7, 0.3]))
        stations = [0.35] if n_eng == 2 else [0.28, 0.55]
        rn, ln = r * u(0.35, 0.5), cr * u(0.5, 0.8)
        for frac in stations:
            for sx in (-1, 1):
                x = sx * frac * span / 2
                zl = z0 - sweep * frac
                yc = yw + dihedral * frac * span / 2 - rn * 1.4
                a.rod("engine", (x, yc, zl + 0.3 * ln), (x, yc, zl - 0.7 * ln), rn)
                a.box("engine", (x, yc + rn, zl - 0.2 * ln), (tw * 0.6, rn * 1.2, ln * 0.6))
    elif kind == "prop":
        rn, ln = r * u(0.35, 0.5), cr * u(0.8, 1.2)
        if rng.random() < 0.6:
            for sx in (-1, 1):
                x = sx * u(0.25, 0.35) * span / 2
                a.rod("engine", (x, yw, z0 + 0.4 * ln), (x, yw, z0 - 0.6 * ln), rn)
                a.cone("engine", (x, yw, z0 + 0.4 * ln), (x, yw, z0 + 0.4 * ln + rn * 1.2), rn * 0.6)
        else:
            a.cone("engine", (0, 0, length / 2 - 0.01), (0, 0, length / 2 + r * 0.8), r * 0.35)


@category("rocket", parts=("body", "nose", "fin", "engine", "booster"),
          palette=([(0.92, 0.92, 0.9)], [(0.8, 0.1, 0.1), (0.15, 0.15, 0.15)],
                   [(0.15, 0.15, 0.15), (0.2, 0.3, 0.6)], [(0.35, 0.35, 0.38)], 0))
def rocket(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    r = u(0.06, 0.1)
    hb = r * u(6.0, 12.0)
    ye = r * u(0.4, 0.8)
    a.rod("body", (0, ye, 0), (0, ye + hb, 0), r)
    top, rt = ye + hb, r
    if rng.random() < 0.35:
        r2, h2 = r * u(0.6, 0.85), r * u(2.0, 4.0)
        a.revolve("body", (0, top - 0.01, 0), frustum(r, r2, r * 0.6))
        a.rod("body", (0, top + r * 0.6 - 0.02, 0), (0, top + r * 0.6 + h2, 0), r2)
        top, rt = top + r * 0.6 + h2, r2
    nl = rt * u(2.0, 4.5)
    if rng.random() < 0.4:
        a.cone("nose", (0, top - 0.01, 0), (0, top + nl, 0), rt)
    else:
        s = np.linspace(0.0, 1.0, 8)
        a.revolve("nose", (0, top - 0.01, 0), [(0, 0)] + [(rt * np.sqrt(1 - v**1.6), nl * v) for v in s[:-1]]
                  + [(0, nl)])
    n_boost = int(rng.choice([0, 2, 4], p=[0.55, 0.3, 0.15]))
    n_eng = int(rng.choice([1, 3, 4], p=[0.6, 0.2, 0.2]))
    spots = [(0.0, 0.0)] if n_eng == 1 else [(0.5 * r * np.cos(t), 0.5 * r * np.sin(t))
                                               for t in 2 * np.pi / n_eng * np.arange(n_eng)]
    er = r * (0.8 if n_eng == 1 else 0.42)
    for x, z in spots:
        a.revolve("engine", (x, 0, z), frustum(er, er * 0.45, ye + 0.02))
    if n_boost == 0 or rng.random() < 0.3:
        n_fin = int(rng.choice([3, 4]))
        span, fc = r * u(1.0, 2.5), r * u(2.0, 4.0)
        sweep = u(0.0, 1.0) * fc
        for ang in 2 * np.pi / n_fin * np.arange(n_fin) + np.pi / 4:
            out = np.array([np.cos(ang), 0, np.sin(ang)])
            side = np.array([-np.sin(ang), 0, np.cos(ang)]) * r * 0.12
            root0 = out * r * 0.8 + (0, ye, 0)
            tip_lo = out * (r + span) + (0, ye - r * 0.3 + sweep * 0.3, 0)
            pts = [root0, root0 + (0, fc, 0), tip_lo, tip_lo + (0, fc * 0.4, 0)]
            a.hull("fin", [p + s * side for p in pts for s in (-1, 1)])
    rbst = r * u(0.35, 0.55)
    hbst = hb * u(0.45, 0.75)
    for ang in 2 * np.pi / max(n_boost, 1) * np.arange(n_boost):
        c = np.array([(r + rbst * 0.9) * np.cos(ang), 0, (r + rbst * 0.9) * np.sin(ang)])
        a.rod("booster", c + (0, ye * 0.7, 0), c + (0, ye + hbst, 0), rbst)
        a.cone("booster", c + (0, ye + hbst - 0.01, 0), c + (0, ye + hbst + rbst * 2.5, 0), rbst)
        a.revolve("booster", c, frustum(rbst * 0.8, rbst * 0.4, ye * 0.7 + 0.01))


@category("car", parts=("body", "cabin", "wheel", "light"),
          palette=(PAINT, [(0.25, 0.35, 0.45)], [(0.08, 0.08, 0.08)], [(0.95, 0.9, 0.6)]))
def car(a: Assembly, rng: np.random.Generator) -> None:
    u = rng.uniform
    kind = rng.choice(["sedan", "hatch", "suv", "pickup", "sports"], p=[0.3, 0.2, 0.2, 0.15, 0.15])
    length = u(3.6, 5.0)
    w = u(1.6, 2.0)
    clear = {"suv": u(0.25, 0.35), "pickup": u(0.25, 0.35), "sports": u(0.1, 0.15)}.get(kind, u(0.14, 0.2))
    hb = {"suv": u(0.6, 0.8), "pickup": u(0.6, 0.8), "sports": u(0.35, 0.5)}.get(kind, u(0.45, 0.6))
    hc = {"suv": u(0.6, 0.8), "sports": u(0.3, 0.4)}.get(kind, u(0.4, 0.55))
    wr = u(0.3, 0.42)
    hood = u(0.05, 0.15)
    y0, y1 = clear, clear + hb
    zf, zb = length / 2, -length / 2
    a.hull("body", [(sx * w / 2, y, z) for sx in (-1, 1) for y, z in
                    ((y0, zf - 0.2), (y0, zb + 0.1), (y1 - hood, zf), (y1, zf - 0.6), (y1, zb), (y0 + 0.2, zb))])
    fr, bk = {"sedan": (u(0.15, 0.3), u(-0.3, -0.15)), "hatch": (u(0.15, 0.3), u(-0.5, -0.42)),
              "suv": (u(0.2, 0.3), u(-0.5, -0.45)), "pickup": (u(0.25, 0.3), u(-0.05, 0.05)),
              "sports": (u(0.05, 0.2), u(-0.3, -0.2))}[kind]
    c0, c1 = fr * length, bk * length
    slope_f, slope_b = u(0.3, 0.6), u(0.05, 0.5) if kind not in ("suv", "hatch") else u(0.0, 0.15)
    cw = w * u(0.82, 0.92)
    a.hull("cabin", [(sx * s, y, z) for sx in (-1, 1) for s, y, z in
                     ((w / 2 * 0.98, y1 - 0.02, c0), (w / 2 * 0.98, y1 - 0.02, c1),
                      (cw / 2, y1 + hc, c0 - slope_f * hc * 1.5), (cw / 2, y1 + hc, c1 + slope_b * hc))])
    if kind == "pickup":
        bed, zc, wall = abs(zb - c1) - 0.05, (zb + c1 - 0.05) / 2, 0.06
        for sx in (-1, 1):
            a.box("body", (sx * (w / 2 - wall / 2), y1 + 0.15, zc), (wall, 0.32, bed))
        a.box("body", (0, y1 + 0.15, zb + wall / 2), (w, 0.32, wall))
    axle = length / 2 - u(0.6, 0.9)
    ww = u(0.2, 0.3)
    for sz in (-1, 1):
        for sx in (-1, 1):
            x = sx * (w / 2 - ww / 2 + 0.05)
            a.rod("wheel", (x - ww / 2, wr, sz * axle), (x + ww / 2, wr, sz * axle), wr)
    ly = y1 - hood - 0.12
    for sx in (-1, 1):
        a.box("light", (sx * w * 0.35, ly, zf - 0.06), (w * 0.18, 0.1, 0.14))
        a.box("light", (sx * w * 0.38, y0 + 0.35, zb + 0.03), (w * 0.14, 0.1, 0.08))
