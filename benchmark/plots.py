"""Leaderboard figures that come out byte-identical for identical inputs.

Figures use matplotlib's object-oriented API on an Agg canvas (no pyplot, so importing
nfbench never switches a user's backend), matplotlib's default style (a user's
matplotlibrc cannot change the output), and no version stamp in the PNG, so committed
plots change only when results do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.style
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from nfbench.records import Embeddings
from nfbench.store.atomic import atomic_write

MIN_TSNE_POINTS = 5
"""t-SNE needs a perplexity below the number of points; fewer than this is no picture."""

_MARKERS = "osD^v<>Pp*"


@dataclass(frozen=True)
class ScatterPoint:
    label: str
    x: float
    y: float
    yerr: float


def _save(fig: Figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None}))
    return path


@dataclass(frozen=True)
class Curve:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    yerr: tuple[float, ...]


def _series_plot(curves: list[Curve], path: Path, title: str, xlabel: str, ylabel: str, *, lines: bool) -> Path:
    """Labelled series with error bars on a log x axis, a legend beside the axes (labels of
    nearby points would overlap as annotations)."""
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
        colors = matplotlib.colormaps["tab10"].colors
        for i, c in enumerate(curves):
            marker = _MARKERS[(i // len(colors)) % len(_MARKERS)]
            fmt = f"-{marker}" if lines else marker
            ax.errorbar(c.x, c.y, yerr=c.yerr, fmt=fmt, color=colors[i % len(colors)], capsize=3, label=c.label)
        ax.set_xscale("log")
        if lines:  # training-set sizes: tick exactly the sizes measured
            ax.set_xticks(sorted({x for c in curves for x in c.x}))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if curves:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        return _save(fig, path)


def latency_plot(points: list[ScatterPoint], path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    """Score against inference latency (log x): the trade-off the nf2vec paper argues about."""
    shown = [Curve(p.label, (p.x,), (p.y,), (p.yerr,)) for p in points if p.x > 0]  # log x cannot place 0
    return _series_plot(shown, path, title, xlabel, ylabel, lines=False)


def learning_curve_plot(curves: list[Curve], path: Path, title: str, xlabel: str, ylabel: str) -> Path:
    """Score against training-set size, one line per method (log x: sizes grow geometrically)."""
    return _series_plot(curves, path, title, xlabel, ylabel, lines=True)


def tsne_coordinates(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE; one thread, because parallel reductions would make the layout vary run to run."""
    from sklearn.manifold import TSNE  # imported here: sklearn costs seconds at import time

    perplexity = min(30.0, (len(vectors) - 1) / 3)
    with threadpool_limits(limits=1):
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
        return tsne.fit_transform(vectors.astype(np.float64))


def _class_colors(n: int) -> list[tuple[float, ...]]:
    if n <= 10:
        return list(matplotlib.colormaps["tab10"].colors[:n])
    if n <= 20:
        return list(matplotlib.colormaps["tab20"].colors[:n])
    return [tuple(c) for c in matplotlib.colormaps["turbo"](np.linspace(0.0, 1.0, n))]


def tsne_plot(embeddings: Embeddings, path: Path, title: str, max_points: int = 2000, seed: int = 0) -> Path:
    """t-SNE of (a fixed random subset of at most ``max_points``) embeddings, coloured by class."""
    n = len(embeddings.labels)
    if n < MIN_TSNE_POINTS:
        raise ValueError(f"t-SNE needs at least {MIN_TSNE_POINTS} embeddings, got {n}")
    keep = np.arange(n)
    if n > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        title = f"{title} ({max_points} of {n})"
    xy = tsne_coordinates(embeddings.vectors[keep], seed)
    labels = embeddings.labels[keep]
    colors = _class_colors(len(embeddings.class_names))
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(7.0, 5.2))
        ax = fig.add_subplot()
        for c, name in enumerate(embeddings.class_names):
            mask = labels == c
            if mask.any():
                ax.scatter(xy[mask, 0], xy[mask, 1], s=9, color=colors[c], label=name, linewidths=0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=10)
        ncol = 1 if len(embeddings.class_names) <= 20 else 2
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=6, ncol=ncol, frameon=False, markerscale=1.5)
        return _save(fig, path)


@dataclass(frozen=True)
class TimingCurve:
    """One method's latency by decode resolution: with its decode (``total``) and without (``network``)."""

    label: str
    x: tuple[float, ...]
    total: tuple[float, ...]
    network: tuple[float, ...]


def timing_plot(curves: list[TimingCurve], flat: dict[str, float], path: Path, title: str) -> Path:
    """Latency against decode resolution (log-log): solid lines with decode, dashed ones without it, and
    horizontal lines for the methods in ``flat`` (label -> latency), which decode nothing (weight-space)."""
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(6.4, 4.4))
        ax = fig.add_subplot()
        colors = matplotlib.colormaps["tab10"].colors
        for i, c in enumerate(curves):
            color = colors[i % len(colors)]
            ax.plot(c.x, c.total, "-o", color=color, label=c.label)
            ax.plot(c.x, c.network, "--", color=color, label=f"{c.label} (network only)")
        for i, (label, latency) in enumerate(flat.items(), start=len(curves)):
            ax.axhline(latency, color=colors[i % len(colors)], linestyle=":", label=f"{label} (no decode)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("decode resolution (points per cloud, cells per grid side or pixels per image side; log)")
        ax.set_ylabel("ms per INR (log)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        if curves or flat:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        return _save(fig, path)


def clouds_grid_plot(columns: list[tuple[str, np.ndarray]], row_labels: list[str], path: Path, title: str, up: int = 1) -> Path:
    """Rows of shapes, columns of representations (``(K, P, 3)`` clouds each, the source first), seen
    from one fixed oblique angle with axis ``up`` vertical, so that columns compare at a glance."""
    n_rows, n_cols = len(row_labels), len(columns)
    order = [a for a in range(3) if a != up] + [up]  # plot x, y, then the up axis as matplotlib's z
    with matplotlib.style.context("default"):
        fig = Figure(figsize=(2.2 * n_cols, 2.2 * n_rows + 0.4))
        for r in range(n_rows):
            for c, (name, clouds) in enumerate(columns):
                ax = fig.add_subplot(n_rows, n_cols, r * n_cols + c + 1, projection="3d")
                p = clouds[r][:, order]
                ax.scatter(p[:, 0], p[:, 1], p[:, 2], s=0.4, c=p[:, 2], cmap="viridis", linewidths=0)
                ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.set_zlim(-1, 1)
                ax.view_init(elev=20, azim=-60)
                ax.set_axis_off()
                if r == 0:
                    ax.set_title(name, fontsize=8)
                if c == 0:
                    ax.text2D(-0.05, 0.5, row_labels[r], transform=ax.transAxes, rotation=90, fontsize=6, va="center")
        fig.suptitle(title, fontsize=10)
        return _save(fig, path)
