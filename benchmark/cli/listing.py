"""``nfbench list methods|datasets|tasks``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

console = Console()
REFERENCE_CLASSES = 10  # procshapes, the embedded default, for parameter counts


def list_entries(kind: str = typer.Argument(..., help="methods, datasets or tasks")) -> None:
    """Registered entries with their metadata."""
    from nfbench.api.registry import did_you_mean

    listers = {"methods": _methods, "datasets": _datasets, "tasks": _tasks}
    if kind not in listers:
        raise ValueError(f"unknown listing {kind!r}{did_you_mean(kind, listers)}")
    console.print(listers[kind]())


def _methods() -> Table:
    import torch

    from nfbench.methods import METHODS
    from nfbench.presets import build_preset

    spec = build_preset("cpu").field
    table = Table("name", "input", "tasks", "presets", f"params (default preset, cpu INRs, {REFERENCE_CLASSES} classes)", "reference")
    for name in METHODS.names():
        cls = METHODS.get(name)
        method = cls(dict(cls.presets[cls.default_preset]), torch.device("cpu"), 0)
        method.setup(spec, "sdf", REFERENCE_CLASSES)
        table.add_row(name, cls.card.input_kind, ",".join(cls.card.tasks), ",".join(cls.presets), f"{method.n_parameters():,}", cls.card.reference)
    return table


def _datasets() -> Table:
    from nfbench.datasets import DATASETS

    table = Table("name", "classes", "fields", "default field/preset", "input kind", "citation")
    for name in DATASETS.names():
        card = DATASETS.get(name).card
        table.add_row(name, str(card.classes), ",".join(card.field_kinds), f"{card.default_field}/{card.default_preset}", "INR weights (fitted)", card.citation)
    return table


def _tasks() -> Table:
    from nfbench.tasks import TASKS

    table = Table("name", "main metric", "description")
    for name in TASKS.names():
        task = TASKS.get(name)
        table.add_row(name, task.main_metric, task.description)
    return table
