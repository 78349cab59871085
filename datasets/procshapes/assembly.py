"""What a category builder writes into: named parts placed as solids in nested frames.

Builders speak in furniture terms (a beam from a to b, a disk of radius r) and in part
names; the assembly turns that into ``Solid`` placements and semantic part ids, so the
category modules hold only design decisions and no geometry code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .colors import Palette
from .geometry import Solid, align_z, rot_x


class Assembly:
    """Collects placed parts; ``frame`` nests local coordinate systems (e.g. a tilted back)."""

    def __init__(self, part_names: tuple[str, ...]) -> None:
        self.names = part_names
        self.solids: list[Solid] = []
        self._frames: list[tuple[np.ndarray, np.ndarray]] = [(np.eye(3), np.zeros(3))]

    @contextmanager
    def frame(self, rot: np.ndarray | None = None, origin=(0.0, 0.0, 0.0)) -> Iterator[None]:
        r0, t0 = self._frames[-1]
        r = np.eye(3) if rot is None else rot
        self._frames.append((r0 @ r, r0 @ np.asarray(origin, float) + t0))
        try:
            yield
        finally:
            self._frames.pop()

    def _add(self, part: str, kind: str, linear: np.ndarray, offset, params: tuple = ()) -> None:
        r0, t0 = self._frames[-1]
        self.solids.append(
            Solid(kind, self.names.index(part), r0 @ linear, r0 @ np.asarray(offset, float) + t0, params)
        )

    def box(self, part: str, center, size) -> None:
        self._add(part, "box", np.diag(size), center)

    def beam(self, part: str, a, b, width: float, depth: float | None = None) -> None:
        """Square-section bar from ``a`` to ``b``."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        r = align_z(b - a)
        size = (width, width if depth is None else depth, np.linalg.norm(b - a))
        self._add(part, "box", r @ np.diag(size), (a + b) / 2)

    def rod(self, part: str, a, b, radius: float, radius2: float | None = None) -> None:
        """Cylinder from ``a`` to ``b``; ``radius2`` makes the section elliptic."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        r = align_z(b - a)
        size = (radius, radius if radius2 is None else radius2, np.linalg.norm(b - a))
        self._add(part, "cylinder", r @ np.diag(size), (a + b) / 2)

    def disk(self, part: str, center, rx: float, height: float, rz: float | None = None) -> None:
        """Vertical-axis cylinder, elliptic when ``rz`` is given."""
        lin = rot_x(-np.pi / 2) @ np.diag((rx, rx if rz is None else rz, height))
        self._add(part, "cylinder", lin, center)

    def cone(self, part: str, base, tip, radius: float) -> None:
        base, tip = np.asarray(base, float), np.asarray(tip, float)
        lin = align_z(tip - base) @ np.diag((radius, radius, np.linalg.norm(tip - base)))
        self._add(part, "cone", lin, base)

    def ellipsoid(self, part: str, center, radii) -> None:
        self._add(part, "sphere", np.diag(radii), center)

    def capsule(self, part: str, a, b, radius: float, squash: tuple | None = None) -> None:
        """Rounded rod; ``squash=(direction, factor)`` stretches it across one direction."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        lin = align_z(b - a)
        if squash is not None:
            u = np.asarray(squash[0], float)
            u = u / np.linalg.norm(u)
            lin = (np.eye(3) + (squash[1] - 1.0) * np.outer(u, u)) @ lin
        self._add(part, "capsule", lin, (a + b) / 2, (float(np.linalg.norm(b - a)), radius))

    def torus(self, part: str, center, major: float, minor: float) -> None:
        """Horizontal ring as the revolve of a closed 10-gon (keeps the exact inside test)."""
        t = np.linspace(0.0, 2 * np.pi, 11)
        self.revolve(part, center, np.column_stack([major + minor * np.cos(t), minor * np.sin(t)]))

    def revolve(self, part: str, base, profile, axis=(0, 1, 0)) -> None:
        """Solid of revolution of a closed ``(radius, height)`` profile from axis to axis."""
        prof = np.asarray(profile, float)
        self._add(part, "revolve", align_z(axis), base, (prof,))

    def hull(self, part: str, points) -> None:
        self._add(part, "hull", np.eye(3), np.zeros(3), (np.asarray(points, float),))

    def arc(self, part: str, center, radius: float, a0: float, a1: float, tube: float,
            e1=(1, 0, 0), n: int = 5, squash: tuple | None = None) -> None:
        """Bent tube as a chain of capsules along a circular arc in the vertical plane (e1, y)."""
        t = np.linspace(a0, a1, n + 1)
        c, e1 = np.asarray(center, float), np.asarray(e1, float)
        pts = c + radius * (np.cos(t)[:, None] * e1 + np.sin(t)[:, None] * np.array([0.0, 1.0, 0.0]))
        for p, q in zip(pts[:-1], pts[1:], strict=True):
            self.capsule(part, p, q, tube, squash)


def frustum(r0: float, r1: float, h: float) -> list[tuple[float, float]]:
    """Revolve profile of a closed truncated cone (lamp shades, rocket nozzles)."""
    return [(0.0, 0.0), (r0, 0.0), (r1, h), (0.0, h)]


Builder = Callable[[Assembly, np.random.Generator], None]


@dataclass(frozen=True)
class Category:
    """A class of the dataset: its semantic part types (ids are their positions), palette and builder.

    The builder draws every random choice from the generator it is given, in a fixed
    order: that order is part of the data, so changing it changes every shape.
    """

    name: str
    parts: tuple[str, ...]
    palette: Palette
    build: Builder


def category(name: str, parts: tuple[str, ...], palette: Palette) -> Callable[[Builder], Category]:
    """Decorator declaring a builder's parts and palette right above the code that uses them."""
    return lambda build: Category(name, parts, palette, build)
