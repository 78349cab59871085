"""What each weight-space classifier costs: time of a training step, peak memory and parameters, by INR size.

Users pick a method by what fits on their GPU. For every registered weight-space
classifier (``WeightClassifierMethod``) at one method preset, this times forward +
backward of one batch of random SIREN INRs (no data, no optimizer state) and measures the
step's peak memory, over a ladder of hidden widths. Memory grows as a power of the width,
so the growth between the two widest measured widths (small widths are dominated by fixed
costs) extrapolates to the paper's 4 x 512 SIREN where it was not measured, and gives the
widest INR whose step fits in ``--budget-gb``. Every measurement runs in a fresh process: the peak of one cannot leak
into the next. On CPU the peak is the rise of the kernel's peak-RSS mark over the step, reset
just before it (Linux), with large blocks served by mmap so that freed tensors leave RSS; on
CUDA it is ``max_memory_allocated``.

    python -m nfbench.bench.weightspace_cost --out leaderboards/weightspace_cost.md
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from nfbench.api import DataInfo
from nfbench.device import resolve_device
from nfbench.fields import FieldSpec, shared_init
from nfbench.markdown import markdown_table
from nfbench.memory import peak_memory
from nfbench.methods import METHODS
from nfbench.store.atomic import atomic_write_text
from nfbench.views.weight_graph import graph_edges, to_graphs
from nfbench.weightspace.method import WeightClassifierMethod

N_CLASSES = 10
PAPER_WIDTH = 512


def siren(width: int) -> FieldSpec:
    """The 3-D SIREN of the nf2vec presets (4 hidden layers) at another width."""
    return FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=width, depth=4)


def weight_space_methods() -> list[str]:
    return [n for n in METHODS.names() if issubclass(METHODS.get(n), WeightClassifierMethod)]


@dataclass
class Cost:
    method: str
    width: int
    params: int
    seconds: float
    peak_mb: float


def _batch(cls: type[WeightClassifierMethod], spec: FieldSpec, batch: int, device: torch.device):
    init = shared_init(spec, 0)
    gen = torch.Generator().manual_seed(0)
    params = {n: p + 0.1 * p.abs().mean() * torch.randn(batch, *p.shape, generator=gen) for n, p in init.items()}
    if cls.card.view == "weight-graph":
        return to_graphs(spec, params, *graph_edges(spec)).to(device)
    return {n: p.to(device) for n, p in params.items()}


def _measure(name: str, preset: str, width: int, batch: int, device_name: str, repeats: int, memory: bool) -> Cost:
    """One (method, width) cell, in the calling (fresh) process: its peak memory, or (``memory=False``) its time."""
    device = resolve_device(device_name)
    cls = METHODS.get(name)
    spec = siren(width)
    method = cls(cls.presets[preset].config, device, 0)
    method.setup(DataInfo(spec=spec, field_kind="udf", class_names=tuple(str(i) for i in range(N_CLASSES))))
    model = method.model.train()
    data = _batch(cls, spec, batch, device)
    labels = torch.arange(batch, device=device) % N_CLASSES

    def step() -> None:
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(data), labels).backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step()  # warm-up: lazy initializations and the allocator's first growth are not the step's
    if memory:
        model.zero_grad(set_to_none=True)  # the step's peak includes its gradients
        with peak_memory(device) as peak:
            step()
        return Cost(name, width, method.n_parameters(), math.nan, float(peak.mb or 0.0))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return Cost(name, width, method.n_parameters(), statistics.median(times), math.nan)


def _measure_or_fail(args: tuple) -> Cost | str:
    try:
        return _measure(*args)
    except (RuntimeError, MemoryError) as exc:  # out of memory, mostly
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def _in_child(cell: tuple, memory: bool) -> Cost | str:
    """Measure in a fresh process. For memory, large blocks come from mmap and return to the system when
    freed, so RSS follows the live tensors; timing runs with the default allocator, which that would slow."""
    env = {"MALLOC_MMAP_THRESHOLD_": str(64 * 1024)} if memory else {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_measure_or_fail, ((*cell, memory),))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def power_fit(widths: list[int], values: list[float]) -> tuple[float, float]:
    """``(a, k)`` of ``value = a * width^k`` by least squares in log-log."""
    slope, intercept = statistics.linear_regression([math.log(w) for w in widths], [math.log(v) for v in values])
    return math.exp(intercept), slope


def _fmt_mb(mb: float) -> str:
    return f"{mb / 1024:.2f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def table(costs: dict[str, list[Cost]], failures: dict[str, list[str]], budget_gb: float) -> str:
    measured_rows, summary_rows = [], []
    for name, rows in costs.items():
        measured_rows += [[name, str(c.width), f"{c.params:,}", f"{c.seconds:.3f}", _fmt_mb(c.peak_mb)] for c in rows]
        measured_rows += [[name, failure, "", "", ""] for failure in failures.get(name, [])]
        measured = sorted((c for c in rows if c.peak_mb > 0), key=lambda c: c.width)[-2:]  # the local growth at the top
        if len(measured) < 2:
            summary_rows.append([name, "-", "-", "-", "too few widths measured"])
            continue
        widths = [c.width for c in measured]
        a_mem, k_mem = power_fit(widths, [c.peak_mb for c in measured])
        a_t, k_t = power_fit(widths, [c.seconds for c in measured])
        paper = next((c for c in measured if c.width == PAPER_WIDTH), None)
        seconds = f"{paper.seconds:.3f}" if paper else f"~{a_t * PAPER_WIDTH**k_t:.2f} (extrapolated)"
        memory = _fmt_mb(paper.peak_mb) if paper else f"~{_fmt_mb(a_mem * PAPER_WIDTH**k_mem)} (extrapolated)"
        widest = (budget_gb * 1024 / a_mem) ** (1 / k_mem) if k_mem > 0 else math.inf
        summary_rows.append([name, seconds, memory, f"~{widest:,.0f}", f"{k_mem:.2f}"])
    summary = markdown_table(
        ["method", f"4 x {PAPER_WIDTH} step s/batch", f"4 x {PAPER_WIDTH} peak memory", f"widest 4-layer SIREN in {budget_gb:g} GB", "memory ~ width^k"],
        summary_rows,
        ["---", "---:", "---:", "---:", "---:"],
    )
    detail = markdown_table(["method", "width", "params", "fwd+bwd s/batch", "peak memory"], measured_rows, ["---", "---:", "---:", "---:", "---:"])
    return "\n".join(summary) + "\n\nMeasured:\n\n" + "\n".join(detail) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=None, help="comma-separated names (default: every weight-space classifier)")
    parser.add_argument("--preset", default="cpu", help="method preset")
    parser.add_argument("--widths", default="32,64,128", help="hidden widths of the 4-layer SIRENs measured")
    parser.add_argument("--batch", type=int, default=32, help="INRs per batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-gb", type=float, default=24.0)
    parser.add_argument("--out", default=None, help="markdown page to write")
    args = parser.parse_args(argv)
    names = args.methods.split(",") if args.methods else weight_space_methods()
    widths = [int(w) for w in args.widths.split(",")]
    costs: dict[str, list[Cost]] = {}
    failures: dict[str, list[str]] = {}
    for name in names:
        METHODS.get(name)  # unknown names fail here, with suggestions
        costs[name] = []
        for width in widths:
            cell = (name, args.preset, width, args.batch, args.device, args.repeats)
            timed, peak = _in_child(cell, memory=False), _in_child(cell, memory=True)
            if isinstance(timed, Cost) and isinstance(peak, Cost):
                timed.peak_mb = peak.peak_mb
                costs[name].append(timed)
                print(f"{name} width {width}: {timed.seconds:.3f} s, {_fmt_mb(timed.peak_mb)}", flush=True)
            else:
                failure = timed if isinstance(timed, str) else peak
                failures.setdefault(name, []).append(f"{width}: {failure}")
                print(f"{name} width {width}: {failure}", flush=True)
    device = resolve_device(args.device)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    command = "python -m nfbench.bench.weightspace_cost " + " ".join(sys.argv[1:] if argv is None else argv)
    body = (
        f"Method preset `{args.preset}`, batches of {args.batch} random 4-layer SIRENs (3 -> width x 4 -> 1), one "
        f"training step (forward, cross-entropy, backward; no optimizer state), median of {args.repeats} after a warm-up, "
        f"on {where}. Peak memory is the step's rise over what the model and the batch already held, measured in a "
        "process of its own; widths beyond the "
        "measured ones are extrapolated with the power law through the two widest measured ones, and say so.\n\n"
        + table(costs, failures, args.budget_gb)
    )
    page = f"# Cost of the weight-space classifiers\n\nCommand: `{command}`\n\n{body}"
    if args.out:
        atomic_write_text(Path(args.out), page)
    print(page)


if __name__ == "__main__":
    main()
