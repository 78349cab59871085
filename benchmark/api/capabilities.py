"""Capabilities a trained method may offer; a task names the one it needs.

Protocols instead of methods on the base class: a method offers exactly what it
implements, ``nfbench list`` can show which methods run which task, and a new task with
a new capability needs no change to existing methods.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

from nfbench.api.view import View


@runtime_checkable
class Embedder(Protocol):
    def embed(self, view: View) -> Tensor:
        """``(N, D)`` embeddings of the view's items, in item order (retrieval, plots)."""
        ...


@runtime_checkable
class Classifier(Protocol):
    def predict(self, view: View) -> Tensor:
        """``(N, C)`` class logits of the view's items, in item order."""
        ...


@runtime_checkable
class Reconstructor(Protocol):
    def reconstruct(self, view: View, n_points: int) -> Tensor:
        """``(N, n_points, 3)`` surface clouds decoded from the method's representation."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    def segment(self, view: View, points: Tensor) -> Tensor:
        """``(N, P, n_parts)`` part logits at ``points (N, P, 3)``."""
        ...


CAPABILITIES: dict[str, type[Any]] = {
    "embedder": Embedder,
    "classifier": Classifier,
    "reconstructor": Reconstructor,
    "segmenter": Segmenter,
}


def capabilities_of(cls: type) -> list[str]:
    return [name for name, proto in CAPABILITIES.items() if issubclass(cls, proto)]
