"""Inference latency from stored INRs: the decode a method's input needs, then its network.

The nf2vec papers' practical claim is that a network on decoded clouds, grids or renders
pays a decode per INR that a weight-space method does not, and that it grows with the
resolution. This task measures both parts on one batch of test INRs whose parameters are
already in memory on the device (reading them from disk is the same for every method):
``decode`` is the method's view computed afresh from the parameters (``FromParams``),
``network`` is the method's prediction on that decoded batch. Untrained weights cost what
trained ones do, so nothing is trained. Medians and interquartile ranges are over
``repeats`` passes after ``warmup`` passes; peak memory is taken over one more pass.
"""

from __future__ import annotations

import statistics

import torch

from nfbench.api import Classifier, FromParams, MetricSpec, OpenView, Task, TaskCard, TaskResult
from nfbench.errors import ConfigError
from nfbench.memory import peak_memory
from nfbench.tasks.base import check_finite, clocked, set_options
from nfbench.views.tensor import TensorView


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return q1, q2, q3


class Time(Task):
    batch_size = 32  # defaults: test INRs decoded and classified together, passes before and while timing
    warmup = 2
    repeats = 10

    def __init__(self, batch_size: int | None = None, repeats: int | None = None, warmup: int | None = None) -> None:
        set_options(self, {"batch_size": batch_size, "repeats": repeats, "warmup": warmup}, {"warmup": 0})

    card = TaskCard(
        name="time",
        description="per-INR latency from stored parameters to class logits, split into decode (the method's view) and network",
        capability="classifier",
        metrics=(
            MetricSpec(
                name="latency_ms", higher_is_better=False, unit="ms",
                definition="median over repeats of decode + network wall time per INR (a batch of test INRs, parameters in memory)",
            ),
            MetricSpec(
                name="decode_ms", higher_is_better=False, unit="ms",
                definition="median wall time per INR to compute the method's input (its view) from the INR parameters",
            ),
            MetricSpec(
                name="network_ms", higher_is_better=False, unit="ms",
                definition="median wall time per INR of the method's prediction on its decoded input",
            ),
            MetricSpec(
                name="peak_memory_mb", higher_is_better=False, unit="MB",
                definition="memory one decode + network pass adds at its peak (CUDA allocator, or the rise of the CPU peak RSS)",
            ),
        ),
        main_metric="latency_ms",
        needs_training=False,
        reads_params=True,
    )

    def evaluate(self, method: Classifier, open_view: OpenView) -> TaskResult:
        name, device = method.card.name, method.device
        view = open_view("test", first=self.batch_size)
        if not isinstance(view, FromParams):
            raise ConfigError(f"{name} reads the {view.name!r} view, which is not computed from INR parameters: no decode to time")
        positions = torch.arange(len(view))
        params = {k: v.to(device) for k, v in view.params(positions).items()}

        def one_pass() -> tuple[torch.Tensor, float, float]:
            data, decode_s = clocked(lambda: view.from_params(params), device)
            logits, network_s = clocked(lambda: method.predict(TensorView(view, data, positions)), device)
            return logits, decode_s, network_s

        for _ in range(self.warmup):  # lazy initializations, allocator growth, caches
            one_pass()
        with peak_memory(device) as peak:
            logits, _, _ = one_pass()
        check_finite(logits, f"{name}.predict")
        per_inr = 1000.0 / len(view)
        options = getattr(view, "options", None)  # decoded views and latents have options
        passes = [one_pass()[1:] for _ in range(self.repeats)]
        decode = [d * per_inr for d, _ in passes]
        network = [n * per_inr for _, n in passes]
        quartiles = {
            "latency": _quartiles([d + n for d, n in zip(decode, network)]),
            "decode": _quartiles(decode),
            "network": _quartiles(network),
        }
        metrics = {f"{part}_ms": q[1] for part, q in quartiles.items()}
        if peak.mb is not None:
            metrics["peak_memory_mb"] = peak.mb
        details = {
            "batch_size": len(view),
            "warmup": self.warmup,
            "repeats": self.repeats,
            "view": view.name,
            "view_options": options.model_dump(mode="json") if options is not None else {},
            "resolution": None if view.resolution_option is None else getattr(options, view.resolution_option),
            "iqr_ms": {part: [round(q[0], 6), round(q[2], 6)] for part, q in quartiles.items()},
            "definitions": {m.name: m.definition for m in self.card.metrics},
        }
        return TaskResult(metrics, details, metrics["latency_ms"])
