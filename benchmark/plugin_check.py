"""Run a method plugin through every step nfbench will take with it, on a tiny dataset.

Each step is reported separately so a plugin author sees exactly what breaks, instead of
one traceback from the middle of a benchmark run.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from nfbench.method import Method, MethodCard
from nfbench.api.registry import load_ref
from nfbench.store.reader import INRDataset
from nfbench.tasks import TASKS

CHECK_PRESET = "tiny"


@dataclass
class Check:
    step: str
    ok: bool
    message: str = ""


def _one_line(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}{loc}"


def _validate_class(obj: Any) -> str:
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise TypeError(f"{obj!r} is not a subclass of nfbench.method.Method")
    if not isinstance(getattr(obj, "card", None), MethodCard):
        raise TypeError("class attribute `card` must be an nfbench.method.MethodCard")
    if CHECK_PRESET not in getattr(obj, "presets", {}):
        raise TypeError(f"`presets` must contain a {CHECK_PRESET!r} preset for CPU smoke tests")
    unknown = [t for t in obj.card.tasks if t not in TASKS]
    if unknown:
        raise TypeError(f"card declares tasks nfbench does not evaluate yet: {unknown} (known: {TASKS.names()})")
    return f"{obj.card.name}: input {obj.card.input_kind}, tasks {list(obj.card.tasks)}"


def check_method(cls: type[Method], data: INRDataset, device: torch.device) -> list[Check]:
    """Setup, fit, state round trip and every declared task; stops at the first failing stage."""
    checks: list[Check] = []

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, True, fn()))
            return True
        except Exception as exc:  # the point is to report any failure of third-party code
            checks.append(Check(name, False, _one_line(exc)))
            return False

    method = cls(dict(cls.presets[CHECK_PRESET]), device, 0)

    def setup() -> str:
        method.setup(data.spec, data.field_kind, len(data.class_names))
        n = method.n_parameters()
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n_parameters() returned {n!r}, expected a non-negative int")
        return f"{n:,} parameters"

    def fit() -> str:
        method.fit(data)
        return "trained on the train split"

    def round_trip() -> str:
        clone = cls(dict(cls.presets[CHECK_PRESET]), device, 0)
        clone.setup(data.spec, data.field_kind, len(data.class_names))
        clone.load_state_dict(method.state_dict())
        hook = "predict" if "classify" in cls.card.tasks else "embed"
        a, b = getattr(method, hook)(data, "test"), getattr(clone, hook)(data, "test")
        if not torch.allclose(a, b, atol=1e-5):
            raise ValueError(f"{hook} differs after state_dict()/load_state_dict() (max diff {(a - b).abs().max():.3g})")
        return f"{hook} identical after reload"

    if not (step("setup", setup) and step("fit", fit) and step("state_dict round trip", round_trip)):
        return checks
    for task in cls.card.tasks:
        def evaluate(task: str = task) -> str:
            result = TASKS.get(task)().evaluate(method, data)
            bad = [k for k, v in result.metrics.items() if not math.isfinite(v)]
            if bad:
                raise ValueError(f"non-finite metrics {bad}")
            return ", ".join(f"{k} {v:.3f}" for k, v in list(result.metrics.items())[:3])

        step(f"task {task}", evaluate)
    return checks


def check_plugin(ref: str, data_loader: Callable[[], INRDataset], device: torch.device) -> list[Check]:
    try:
        cls = load_ref(ref)
        checks = [Check("import", True, ref)]
    except Exception as exc:
        return [Check("import", False, _one_line(exc))]
    try:
        checks.append(Check("interface", True, _validate_class(cls)))
    except TypeError as exc:
        return checks + [Check("interface", False, str(exc))]
    return checks + check_method(cls, data_loader(), device)
