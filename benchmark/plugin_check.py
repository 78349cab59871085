"""Run a method plugin through every step nfbench will take with it, on a tiny dataset.

Each step is reported separately, with a time limit, so a plugin author sees exactly what
breaks (or hangs) instead of one traceback from the middle of a benchmark run. Beyond
"it runs", the check enforces the protocol's promises: typed presets, a card whose name
is the entry point's, a fit that never reads the test split, determinism for a seed, and
inference that does not depend on the batch composition (eval-mode BatchNorm, no
cross-item leakage).
"""

from __future__ import annotations

import math
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import torch
from torch import Tensor

from nfbench.api import REQUIRED_PRESETS, Method, View, capabilities_of, load_ref, validate_method_class
from nfbench.run.runner import RunSpec, data_info, view_opener
from nfbench.store.reader import INRDataset
from nfbench.tasks import TASKS
from nfbench.views.subset import SubsetView

STEP_SECONDS = 300
"""Default time limit of one step on the tiny dataset (a real fit there takes seconds)."""


@dataclass
class Check:
    step: str
    ok: bool
    message: str = ""


class StepTimeout(Exception):
    pass


class TestSplitReached(Exception):
    """Raised inside ``fit`` when the method reads an item of the test split."""


def _one_line(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}{loc}"


@contextmanager
def time_limit(seconds: int, step: str) -> Iterator[None]:
    """SIGALRM-based limit (main thread, Unix): a hung Python loop is interrupted; without
    SIGALRM (Windows, threads) the step runs unbounded."""
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout(f"{step} did not finish within {seconds} s")

    try:
        old = signal.signal(signal.SIGALRM, expire)
    except ValueError:  # not the main thread
        yield
        return
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class GuardedDataset:
    """The dataset as ``fit`` sees it through its views: reading a test item raises."""

    def __init__(self, data: INRDataset) -> None:
        self._data = data
        self._test = set(data.split_indices("test").tolist())
        self.armed = True

    def _check(self, indices: Any) -> None:
        if self.armed and self._test.intersection(torch.as_tensor(indices).tolist()):
            raise TestSplitReached("fit read an item of the test split")

    def read_params(self, indices: Any) -> Any:
        self._check(indices)
        return self._data.read_params(indices)

    def read_source(self, indices: Any, names: Any = None) -> Any:
        self._check(indices)
        return self._data.read_source(indices, names)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


def _entry_point_names(ref: str) -> list[str]:
    return [ep.name for ep in entry_points(group="nfbench.methods") if ep.value == ref]


def validate_class(obj: Any, ref: str) -> str:
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise TypeError(f"{obj!r} is not a subclass of nfbench.api.Method")
    card = getattr(obj, "card", None)
    name = getattr(card, "name", "?")
    for ep_name in _entry_point_names(ref):
        if ep_name != name:
            raise TypeError(f"entry point {ep_name!r} -> {ref!r}, but the card's name is {name!r}: they must match")
    validate_method_class(name, obj)  # card, Config class, presets paper/cpu/tiny validated
    caps = capabilities_of(obj)
    tasks = [t for t in TASKS.names() if TASKS.get(t).card.supports(obj)]
    if not tasks:
        raise TypeError(f"{name} offers no capability a task needs (capabilities: {caps})")
    return f"{name}: view {card.view}, presets {list(REQUIRED_PRESETS)} valid, tasks {tasks}"


def _outputs(method: Any, view: View) -> tuple[str, Tensor]:
    hook = "predict" if hasattr(method, "predict") else "embed"
    out = getattr(method, hook)(view)
    bad = ~torch.isfinite(out)
    if bad.any():
        raise ValueError(f"{hook} returned NaN/inf for {int(bad.reshape(len(out), -1).any(1).sum())} of {len(out)} test items")
    return hook, out


def check_method(cls: type[Method], data: INRDataset, device: torch.device, step_seconds: int = STEP_SECONDS) -> list[Check]:
    """Setup, guarded fit, determinism, state round trip, batch invariance and every supported task."""
    checks: list[Check] = []

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            with time_limit(step_seconds, name):
                checks.append(Check(name, True, fn()))
            return True
        except (Exception, SystemExit) as exc:  # SystemExit: a plugin calling sys.exit must not end the check silently
            checks.append(Check(name, False, _one_line(exc)))
            return False

    guarded = GuardedDataset(data)
    spec = RunSpec(cls, "tiny", cls.presets["tiny"].config, seed=0)
    state: dict[str, Any] = {}

    def new_method() -> Method:
        method = cls(spec.config, device, 0)
        method.setup(data_info(data, "fields"))
        return method

    def setup() -> str:
        method = new_method()
        n = method.n_parameters()
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n_parameters() returned {n!r}, expected a non-negative int")
        state["method"] = method
        return f"{n:,} parameters"

    def fit_once() -> Method:
        method = new_method()
        open_view = view_opener(guarded, spec, device, None)  # type: ignore[arg-type]
        guarded.armed = True
        torch.manual_seed(0)
        method.fit(open_view("train"), open_view("val"))
        guarded.armed = False
        return method

    def fit() -> str:
        state["method"] = fit_once()
        return "trained on train/val; no test item was read"

    def test_view() -> View:
        return view_opener(data, spec, device, None)("test")

    def deterministic() -> str:
        hook, a = _outputs(state["method"], test_view())
        _, b = _outputs(fit_once(), test_view())
        if not torch.allclose(a, b, atol=1e-5):
            raise ValueError(f"two fits with seed 0 disagree: {hook} differs by up to {(a - b).abs().max():.3g}")
        return f"{hook} identical for two fits with seed 0"

    def round_trip() -> str:
        method = state["method"]
        clone = new_method()
        clone.load_state_dict(method.state_dict())
        hook, a = _outputs(method, test_view())
        _, b = _outputs(clone, test_view())
        if not torch.allclose(a, b, atol=1e-5):
            raise ValueError(f"{hook} differs after state_dict()/load_state_dict() (max diff {(a - b).abs().max():.3g})")
        return f"{hook} identical after reload"

    def batch_invariance() -> str:
        view = test_view()
        hook, whole = _outputs(state["method"], view)
        singles = torch.cat([_outputs(state["method"], SubsetView(view, torch.tensor([i])))[1] for i in range(min(len(view), 8))])
        if not torch.allclose(whole[: len(singles)], singles, atol=1e-4):
            raise ValueError(f"{hook} of an item depends on the other items of its batch (eval-mode BatchNorm? max diff {(whole[: len(singles)] - singles).abs().max():.3g})")
        return f"{hook} of an item alone equals its value in the full split"

    stages = [("setup", setup), ("fit", fit), ("determinism", deterministic), ("state_dict round trip", round_trip), ("batch invariance", batch_invariance)]
    for name, fn in stages:
        if not step(name, fn):
            return checks
    for task in TASKS.names():
        task_cls = TASKS.get(task)
        if not task_cls.card.supports(cls):
            continue

        def evaluate(task_cls: Any = task_cls) -> str:
            result = task_cls().evaluate(state["method"], view_opener(data, spec, device, None))
            bad = [k for k, v in result.metrics.items() if not math.isfinite(v)]
            if bad:
                raise ValueError(f"non-finite metrics {bad}")
            return ", ".join(f"{k} {v:.3f}" for k, v in list(result.metrics.items())[:3])

        step(f"task {task}", evaluate)
    return checks


def check_plugin(ref: str, data_loader: Callable[[], INRDataset], device: torch.device, step_seconds: int = STEP_SECONDS) -> list[Check]:
    try:
        cls = load_ref(ref)
        checks = [Check("import", True, ref)]
    except (Exception, SystemExit) as exc:
        return [Check("import", False, _one_line(exc))]
    try:
        checks.append(Check("interface", True, validate_class(cls, ref)))
    except (TypeError, ValueError) as exc:
        return checks + [Check("interface", False, " ".join(str(exc).split()))]
    return checks + check_method(cls, data_loader(), device, step_seconds)
