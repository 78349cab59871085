"""A task: one evaluation protocol, its metrics and the capability it needs from a method."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nfbench.api.capabilities import CAPABILITIES
from nfbench.api.metrics import MetricSpec, metric_family
from nfbench.api.view import View
from nfbench.datasets.base import Shape


class TaskCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    capability: str = Field(description="key of nfbench.api.capabilities.CAPABILITIES the method must offer")
    metrics: tuple[MetricSpec, ...] = Field(min_length=1)
    main_metric: str = Field(description="the metric (with any @k) that ranks leaderboards")
    needs_training: bool = Field(True, description="False: the task measures the untrained network (timing), so nothing is trained")
    reads_params: bool = Field(
        False, description="True: the task recomputes the method's view from INR parameters (timing), so that view must be FromParams"
    )

    @model_validator(mode="after")
    def _consistent(self) -> TaskCard:
        if self.capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {self.capability!r}; one of {sorted(CAPABILITIES)}")
        if metric_family(self.main_metric) not in {m.name for m in self.metrics}:
            raise ValueError(f"main metric {self.main_metric!r} has no MetricSpec among {[m.name for m in self.metrics]}")
        return self

    def supports(self, method_cls: type) -> bool:
        return issubclass(method_cls, CAPABILITIES[self.capability]) and (not self.reads_params or _view_from_params(method_cls))


def _view_from_params(method_cls: type) -> bool:
    from nfbench.api.view import FromParams
    from nfbench.views import VIEWS

    return issubclass(VIEWS.get(method_cls.card.view), FromParams)  # type: ignore[attr-defined]


@dataclass
class TaskResult:
    metrics: dict[str, float]
    details: dict[str, Any]
    inference_ms_per_inr: float
    embeddings: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)
    clouds: Any = field(default=None, repr=False)  # nfbench.records.SampleClouds: a few decoded test shapes, for figures


class OpenView(Protocol):
    """``open_view(split)``: the method's view of one split, built only when a task asks;
    ``first=n`` opens only the split's first ``n`` items (what a timing task needs), decoded views
    then decode afresh when read and cache nothing."""

    def __call__(self, split: str, first: int | None = None) -> View: ...

    def source_shapes(self, split: str) -> Iterator[tuple[str, Shape]]:
        """The key and normalized source shape of each of the split's items (view order), loaded as the
        build loaded it: ground truth for scoring, at any density."""
        ...


class Task(ABC):
    card: ClassVar[TaskCard]

    @abstractmethod
    def evaluate(self, method: Any, open_view: OpenView) -> TaskResult:
        """Evaluate a trained method once on the test split (``open_view("test")``)."""
