"""Material swatches and per-category palettes: one base colour per semantic part.

Colours come from a stream of their own (see ``generation``), so recolouring never moves
geometry, and parts of one material (a chair's seat and back) can share one pick.
"""

from __future__ import annotations

import numpy as np

RGB = tuple[float, float, float]

WOOD: list[RGB] = [(0.55, 0.36, 0.2), (0.72, 0.53, 0.33), (0.36, 0.22, 0.12), (0.82, 0.68, 0.48)]
METAL: list[RGB] = [(0.62, 0.62, 0.64), (0.12, 0.12, 0.13), (0.8, 0.8, 0.78)]
FABRIC: list[RGB] = [(0.5, 0.5, 0.53), (0.75, 0.2, 0.15), (0.2, 0.3, 0.62), (0.85, 0.78, 0.62), (0.2, 0.45, 0.3)]
PAINT: list[RGB] = [(0.8, 0.1, 0.1), (0.15, 0.3, 0.75), (0.92, 0.92, 0.9), (0.1, 0.1, 0.1), (0.7, 0.7, 0.72),
                    (0.95, 0.75, 0.1)]
GLASS: list[RGB] = [(0.2, 0.55, 0.3), (0.45, 0.3, 0.12), (0.7, 0.85, 0.9), (0.15, 0.3, 0.6)]
CERAMIC: list[RGB] = [(0.93, 0.92, 0.88), (0.2, 0.35, 0.6), (0.75, 0.3, 0.2), (0.3, 0.3, 0.32), (0.55, 0.7, 0.55)]

Palette = tuple[list[RGB] | int, ...]
"""Per part id: the colours to pick from, or the id of an earlier part whose pick it reuses."""


def part_colors(palette: Palette, rng: np.random.Generator) -> np.ndarray:
    """A palette pick per part (or a tie to another part), then per-shape and per-part jitter."""
    base: list[RGB] = []
    for opts in palette:
        base.append(base[opts] if isinstance(opts, int) else opts[rng.integers(len(opts))])
    jitter = rng.normal(0.0, 0.03, 3) + rng.uniform(-0.05, 0.05, (len(base), 3))
    return np.clip(np.array(base, float) + jitter, 0.0, 1.0).astype(np.float32)
