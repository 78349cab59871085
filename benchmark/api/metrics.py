"""Metric specifications: the one place that says what a metric means and which way is better.

Records, leaderboards, ``nfbench data info`` and plots all read a metric's direction,
unit and display scale from here, so a new task or field kind declares its metrics once
and every consumer formats and ranks them the same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MetricSpec(BaseModel):
    """One metric: ``name`` may be a family with ``@k`` variants (``map@10`` -> family ``map``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="family name, without any @k suffix")
    higher_is_better: bool
    unit: str = Field("", description="shown after the value: '%', 'ms', '' ...")
    definition: str = Field(min_length=1, description="one line, written into records")
    percent: bool = Field(False, description="a fraction in [0, 1] shown as a percentage")
    failed: float | None = Field(
        None, description="what a reconstruction that failed (no surface: a decoder's fallback) scores: the metric's bound"
    )

    @property
    def scale(self) -> float:
        """Factor from the stored value to the displayed one (tables and plot axes agree)."""
        return 100.0 if self.percent else 1.0

    def format(self, value: float) -> str:
        """Fixed formats, so regenerated tables change only when values do."""
        return f"{self.scale * value:.1f}" if self.percent else f"{value:.4g}"

    @property
    def label_suffix(self) -> str:
        return " (%)" if self.percent else (f" ({self.unit})" if self.unit else "")


def metric_family(metric: str) -> str:
    """``map@10`` -> ``map``: the part that decides direction and formatting."""
    return metric.split("@", 1)[0]


class MetricCatalog:
    """Lookup of specs by metric name (``@k`` variants resolve to their family)."""

    def __init__(self, specs: list[MetricSpec] | tuple[MetricSpec, ...] = ()) -> None:
        self._specs: dict[str, MetricSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: MetricSpec) -> None:
        old = self._specs.get(spec.name)
        if old is not None and old != spec:
            raise ValueError(f"metric {spec.name!r} is declared twice with different specs: {old} and {spec}")
        self._specs[spec.name] = spec

    def get(self, metric: str) -> MetricSpec:
        from nfbench.api.registry import did_you_mean

        family = metric_family(metric)
        if family not in self._specs:
            raise KeyError(f"no MetricSpec for metric {metric!r}{did_you_mean(family, self._specs)}")
        return self._specs[family]

    def __contains__(self, metric: str) -> bool:
        return metric_family(metric) in self._specs

    def names(self) -> list[str]:
        return sorted(self._specs)


def all_metrics() -> MetricCatalog:
    """Every metric declared by a registered task, by a field kind's fit quality, and timing."""
    from nfbench.fields.kinds import FIELD_KINDS
    from nfbench.tasks import TASKS

    catalog = MetricCatalog(COMMON_METRICS)
    for name in TASKS.names():
        for spec in TASKS.get(name).card.metrics:
            catalog.add(spec)
    for name in FIELD_KINDS.names():
        for spec in FIELD_KINDS.get(name).quality_metrics:
            catalog.add(spec)
    return catalog


COMMON_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(name="loss", higher_is_better=False, definition="final training loss of the INR fit (per-INR mean)"),
    MetricSpec(
        name="inference_ms_per_inr", higher_is_better=False, unit="ms",
        definition="wall time of the method's test-split inference per INR, with the decode of its input from the INR "
        "(clouds, grids, renders) where it reads one",
    ),
)
