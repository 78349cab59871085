"""The one interface every method implements, built-in or plugin.

A method declares what it reads from an INR dataset (``input_kind``) and which tasks it
supports, trains once on the train split (selecting on val), and then answers for any
split: ``embed`` for retrieval, ``predict`` (class logits) for classification. A trained
method is cached on disk under a hash of (method, config, dataset fingerprint, seed), so
``classify`` and ``retrieve`` of the same run share one training.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict
from rich.progress import Progress
from torch import Tensor

from nfbench.fields import FieldSpec
from nfbench.store.reader import INRDataset

InputKind = Literal["weights", "queries", "points", "mesh", "voxels", "images"]
TaskName = Literal["classify", "retrieve", "reconstruct", "segment", "generate", "time"]


class MethodCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    reference: str  # paper citation, e.g. "De Luigi et al., ICLR 2023"
    input_kind: InputKind
    tasks: tuple[TaskName, ...]


class Method(ABC):
    """Subclasses set ``card`` and ``presets`` (named config dicts with at least ``paper``,
    ``cpu`` and ``tiny``) and implement ``fit``, ``state_dict``/``load_state_dict`` and the
    task hooks they declare."""

    card: ClassVar[MethodCard]
    presets: ClassVar[dict[str, dict[str, Any]]]
    default_preset: ClassVar[str] = "cpu"

    def __init__(self, config: dict[str, Any], device: torch.device, seed: int) -> None:
        self.config = config
        self.device = device
        self.seed = seed

    @abstractmethod
    def setup(self, spec: FieldSpec, field_kind: str, n_classes: int) -> None:
        """Build the networks for INRs of ``spec`` and ``n_classes`` classes (before fit or load)."""

    @abstractmethod
    def fit(self, data: INRDataset, progress: Progress | None = None) -> None:
        """Train on ``data``'s train split; use val for model selection only, never test."""

    def embed(self, data: INRDataset, split: str) -> Tensor:
        """``(N, D)`` embeddings of the split's INRs, in index order (retrieval)."""
        raise NotImplementedError(f"{self.card.name} does not produce embeddings")

    def predict(self, data: INRDataset, split: str) -> Tensor:
        """``(N, C)`` class logits of the split's INRs, in index order (classification)."""
        raise NotImplementedError(f"{self.card.name} does not classify")

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the trained method (cached by the runner)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @abstractmethod
    def n_parameters(self) -> int:
        """Trainable parameters after ``setup`` (reported in records and leaderboards)."""
