"""How many dimensions test embeddings use: the diagnostic behind the ModelNet40 notes on nf2vec.

Run: ``python -m nfbench.bench.embedding_spectrum 'leaderboards/records/modelnet40/*/retrieve/*.seed0.embeddings.npz'``.
For each stored embedding file (written by the retrieve task) it prints the participation
ratio of the covariance spectrum, ``(sum l)^2 / sum l^2`` (the number of equally used
directions; a collapsing pretext drives it down), the mean embedding norm and the
between-class share of the total variance.
"""

from __future__ import annotations

import argparse
import glob

import numpy as np


def participation_ratio(vectors: np.ndarray) -> float:
    """``(sum l)^2 / sum l^2`` over the eigenvalues ``l`` of the covariance of ``vectors (N, D)``."""
    centred = vectors - vectors.mean(axis=0)
    eig = np.clip(np.linalg.eigvalsh(centred.T @ centred / max(1, len(vectors) - 1)), 0, None)
    return float(eig.sum() ** 2 / max((eig**2).sum(), 1e-300))


def between_class_share(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Share of the total variance carried by the class means."""
    mean = vectors.mean(axis=0)
    total = ((vectors - mean) ** 2).sum()
    between = sum(((vectors[labels == k].mean(axis=0) - mean) ** 2).sum() * (labels == k).sum() for k in np.unique(labels))
    return float(between / max(total, 1e-300))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pattern", help="glob of *.embeddings.npz files")
    args = parser.parse_args()
    for path in sorted(glob.glob(args.pattern)):
        with np.load(path) as z:
            vectors, labels = z["embeddings"].astype(np.float64), z["labels"]
        print(
            f"{path}: dim {vectors.shape[1]}, effective dims {participation_ratio(vectors):.1f}, "
            f"mean norm {np.linalg.norm(vectors, axis=1).mean():.3g}, between-class variance share "
            f"{between_class_share(vectors, labels):.3f}"
        )


if __name__ == "__main__":
    main()
