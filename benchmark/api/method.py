"""The one interface every method implements, built-in or plugin.

A method declares the view it reads (``MethodCard.view``), is configured by a typed
pydantic config whose named presets are validated when the method registers, trains
once on the train view (selecting on val), and answers through capabilities
(``nfbench.api.capabilities``): a task asks for a capability, never for a method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress

from nfbench.api.view import DataInfo, View, ViewName

REQUIRED_PRESETS = ("paper", "cpu", "tiny")
Training = Literal["self-supervised", "supervised", "none"]
Symmetry = Literal["none", "permutation", "permutation+sign"]


class MethodConfig(BaseModel):
    """Base of every method's config: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Preset(BaseModel):
    """A named config and, in one line, where it departs from the paper ('' for none)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    config: MethodConfig
    departs: str = Field(description="where this preset departs from the paper's setting, one line")


class MethodCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_+-]*$")
    description: str
    reference: str  # paper citation, e.g. "De Luigi et al., ICLR 2023"
    view: ViewName
    field_kinds: tuple[str, ...] = Field(min_length=1, description="field kinds whose INRs the method accepts")
    training: Training = Field(description="how the embedding is trained")
    symmetry: Symmetry = Field(description="weight-space symmetry the architecture respects")


class Method(ABC):
    """Subclasses set ``card``, ``Config`` and ``presets`` and implement ``setup``, ``fit``,
    ``state_dict``/``load_state_dict``, ``n_parameters`` and their capabilities."""

    card: ClassVar[MethodCard]
    Config: ClassVar[type[MethodConfig]]
    presets: ClassVar[dict[str, Preset]]
    default_preset: ClassVar[str] = "cpu"
    resolution_field: ClassVar[str | None] = None
    """Dotted config key (as for ``--set``) that sets how finely the method's view decodes a field:
    points per cloud, grid cells or pixels per side. ``nfbench time --resolutions`` varies it; None
    for methods that read the weights and decode nothing."""

    def __init__(self, config: MethodConfig, device: torch.device, seed: int) -> None:
        if not isinstance(config, self.Config):
            raise TypeError(f"{self.card.name} expects a {self.Config.__name__}, got {type(config).__name__}")
        self.config = config
        self.device = device
        self.seed = seed
        self.history: dict[str, Any] = {}  # JSON-able training log, stored with the trained state
        self.checkpoint_root: Path | None = None  # set by the runner: where a killed fit resumes from

    def checkpoint_dir(self, stage: str) -> Path | None:
        """Checkpoint folder of one training stage (e.g. "pretext", "classifier"), for ``TrainerConfig``."""
        return None if self.checkpoint_root is None else self.checkpoint_root / stage

    @abstractmethod
    def setup(self, info: DataInfo) -> None:
        """Build the networks for ``info`` (architecture, field kind, classes) before fit or load."""

    @abstractmethod
    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        """Train on ``train``; use ``val`` for model selection only. The test split is not reachable."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Trained state: nested dicts whose leaves are tensors (stored with safetensors)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @abstractmethod
    def n_parameters(self) -> int:
        """Parameters used at inference (reported in records and leaderboards)."""

    @classmethod
    def training_sources(cls, config: MethodConfig, info: DataInfo) -> tuple[str, ...]:
        """Source tensors (``points``, ``voxels``, ``images``) ``fit`` may read from its train and
        val views as a training signal (``View.training_source``); recorded. Default: none."""
        return ()

    @classmethod
    def view_options(cls, config: MethodConfig) -> dict[str, Any]:
        """Options of the view this method reads (e.g. ``{"n_points": 1024}`` for a points view)."""
        return {}

    def n_training_parameters(self) -> int:
        """Parameters used only while training (e.g. nf2vec's implicit decoder), listed apart."""
        return 0


def validate_method_class(name: str, cls: Any) -> None:
    """Registry check: card, config class and the three required presets, each validated."""
    card = getattr(cls, "card", None)
    if not isinstance(card, MethodCard):
        raise TypeError("class attribute `card` must be an nfbench.api.MethodCard")
    if card.name != name:
        raise ValueError(f"card name {card.name!r} differs from the registered name {name!r}")
    config_cls = getattr(cls, "Config", None)
    if not (isinstance(config_cls, type) and issubclass(config_cls, MethodConfig)):
        raise TypeError("class attribute `Config` must be a subclass of nfbench.api.MethodConfig")
    presets = getattr(cls, "presets", None)
    if not isinstance(presets, dict):
        raise TypeError("class attribute `presets` must be a dict of name -> nfbench.api.Preset")
    missing = [p for p in REQUIRED_PRESETS if p not in presets]
    if missing:
        raise ValueError(f"presets {missing} are missing (every method has {list(REQUIRED_PRESETS)})")
    for preset_name, preset in presets.items():
        if not isinstance(preset, Preset) or not isinstance(preset.config, config_cls):
            raise TypeError(f"preset {preset_name!r} must be a Preset holding a {config_cls.__name__}")
        config_cls.model_validate(preset.config.model_dump())  # re-validates field constraints
    if cls.default_preset not in presets:
        raise ValueError(f"default_preset {cls.default_preset!r} is not among the presets {sorted(presets)}")
    key = cls.resolution_field
    if key is not None:
        model: Any = config_cls
        for part in key.split("."):
            field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
            if field is None:
                raise ValueError(f"resolution_field {key!r} is not a field of {config_cls.__name__}")
            model = field.annotation
