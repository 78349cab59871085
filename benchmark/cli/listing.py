"""``nfbench list methods|datasets|tasks|views|field-kinds``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()
REFERENCE_DATASET = "procshapes"
"""Parameter counts are shown for the embedded default dataset's classes, field kind and preset."""


def list_entries(kind: str = typer.Argument(..., help="methods, datasets, tasks, views or field-kinds")) -> None:
    """Registered entries with their metadata."""
    from nfbench.api.registry import RegistryError, did_you_mean

    listers = {"methods": _methods, "datasets": _datasets, "tasks": _tasks, "views": _views, "field-kinds": _kinds}
    if kind not in listers:
        raise RegistryError(f"unknown listing {kind!r}{did_you_mean(kind, listers)}")
    console.print(listers[kind]())


def _methods() -> Table:
    import torch

    from nfbench.api import DataInfo
    from nfbench.datasets import DATASETS
    from nfbench.methods import METHODS
    from nfbench.presets import build_preset
    from nfbench.tasks import TASKS

    card = DATASETS.get(REFERENCE_DATASET).card
    spec = build_preset(card.default_preset).field
    info = DataInfo(
        spec=spec, field_kind=card.default_field, class_names=tuple(f"c{i}" for i in range(card.classes)), up_axis=card.up_axis
    )
    caption = (
        f"params: used at inference (+ training only), default preset, for {REFERENCE_DATASET} INRs "
        f"({card.default_preset} preset, {card.classes} classes, {card.default_field}); '-' where the method takes no such fields"
    )
    table = Table("name", "view", "fields", "training", "symmetry", "tasks", "presets", "params", "reference", caption=caption)
    for name in METHODS.names():
        cls = METHODS.get(name)
        tasks = [t for t in TASKS.names() if TASKS.get(t).card.supports(cls)]
        params = "-"
        if card.default_field in cls.card.field_kinds:
            method = cls(cls.presets[cls.default_preset].config, torch.device("cpu"), 0)
            method.setup(info)
            extra = method.n_training_parameters()
            params = f"{method.n_parameters():,}" + (f" (+{extra:,})" if extra else "")
        c = cls.card
        table.add_row(name, c.view, ",".join(c.field_kinds), c.training, c.symmetry, ",".join(tasks), ",".join(cls.presets), params, c.reference)
    return table


def _datasets() -> Table:
    from nfbench.datasets import DATASETS

    table = Table("name", "classes", "fields", "default field/preset", "citation")
    for name in DATASETS.names():
        card = DATASETS.get(name).card
        table.add_row(name, str(card.classes), ",".join(card.field_kinds), f"{card.default_field}/{card.default_preset}", card.citation)
    return table


def _tasks() -> Table:
    from nfbench.methods import METHODS
    from nfbench.tasks import TASKS

    table = Table("name", "needs", "main metric", "metrics", "methods that can run it", "description")
    for name in TASKS.names():
        card = TASKS.get(name).card
        methods = [m for m in METHODS.names() if card.supports(METHODS.get(m))]
        metrics = ", ".join(f"{m.name} ({'higher' if m.higher_is_better else 'lower'} is better)" for m in card.metrics)
        table.add_row(name, card.capability, card.main_metric, metrics, ",".join(methods), card.description)
    return table


def _views() -> Table:
    from nfbench.views import VIEWS

    table = Table("name", "description")
    for name in VIEWS.names():
        table.add_row(name, VIEWS.get(name).description)
    return table


def _kinds() -> Table:
    from nfbench.fields.kinds import FIELD_KINDS

    table = Table("name", "surface level", "fit quality metrics")
    for name in FIELD_KINDS.names():
        kind = FIELD_KINDS.get(name)
        level = "-" if kind.surface_level is None else f"{kind.surface_level:g}"
        table.add_row(name, level, ", ".join(m.name for m in kind.quality_metrics))
    return table
