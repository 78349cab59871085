"""``leaderboards/timing.md``: what classifying a stored INR costs, decode and network apart, by resolution.

The nf2vec papers argue that a network on decoded clouds, grids or renders pays a decode
per INR that a weight-space method skips, and that it grows with the resolution. The page
shows every ``time`` record: one table and one plot per dataset build (the INR size is a
property of the build), the weight-space methods as flat lines (they have no resolution),
and each method's latency as a multiple of nf2vec's where nf2vec was timed on the same
build, device and thread count.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from itertools import groupby
from pathlib import Path

from nfbench.markdown import markdown_table, short_hash
from nfbench.plots import TimingCurve, timing_plot
from nfbench.records import ResultRecord

TIME_TASK = "time"
REFERENCE = "nf2vec"  # the weight-space method the papers' claim is about


def _median(records: list[ResultRecord], metric: str) -> float:
    return statistics.median(r.metrics[metric] for r in records)


def _key(r: ResultRecord) -> tuple[str, str, str, int]:
    return (r.dataset, r.dataset_fingerprint, r.device, r.threads)


def _rows(group: list[ResultRecord]) -> list[tuple[str, int | None, list[ResultRecord]]]:
    """(method, resolution, its records) sorted by method then resolution; seeds of one cell pooled."""
    cells: dict[tuple[str, int | None], list[ResultRecord]] = defaultdict(list)
    for r in group:
        cells[(r.method, r.details.get("resolution"))].append(r)
    return [(m, res, cells[(m, res)]) for m, res in sorted(cells, key=lambda k: (k[0], -1 if k[1] is None else k[1]))]


def timing_markdown(records: list[ResultRecord], plots_dir: Path) -> tuple[str | None, list[Path]]:
    """The page (None without time records) and the plots it links."""
    timed = sorted((r for r in records if r.task == TIME_TASK), key=_key)
    if not timed:
        return None, []
    lines = [
        "# Inference cost of INR classification: decode and network",
        "",
        "Back to the [index](README.md). Built from the `time` records "
        "(`nfbench time --dataset D --methods a,b --resolutions 2048,4096,...`): per-INR wall time from an INR's "
        "parameters in memory to class logits, median over repeats with the interquartile range in brackets, "
        "split into the decode of the method's input (its view: a cloud, a grid, renders; nothing for the weights) "
        "and the network. Networks are untrained (timing does not depend on the weights). "
        f"`× {REFERENCE}`: total latency over {REFERENCE}'s on the same build, device and threads.",
        "",
    ]
    plots: list[Path] = []
    for (dataset, fingerprint, device, threads), group_iter in groupby(timed, key=_key):
        group = list(group_iter)
        summary = group[0].dataset_summary
        rows = _rows(group)
        reference = [recs for m, _, recs in rows if m == REFERENCE]
        ref_ms = _median(reference[0], "latency_ms") if reference else None
        table = []
        for method, res, recs in rows:
            iqr = recs[0].details.get("iqr_ms", {})
            cells = [method, recs[0].view, "–" if res is None else f"{res:,}"]
            for metric, part in (("decode_ms", "decode"), ("network_ms", "network"), ("latency_ms", "latency")):
                lo, hi = iqr.get(part, [None, None])
                spread = f" [{lo:.3g}, {hi:.3g}]" if lo is not None and len(recs) == 1 else ""
                cells.append(f"{_median(recs, metric):.3g}{spread}")
            mem = [r.metrics["peak_memory_mb"] for r in recs if "peak_memory_mb" in r.metrics]
            cells.append(f"{statistics.median(mem):.1f}" if mem else "–")
            cells.append(f"{_median(recs, 'latency_ms') / ref_ms:.3g}" if ref_ms else "–")
            cells += [str(recs[0].details.get("batch_size")), f"{recs[0].n_parameters:,}"]
            table.append(cells)
        title = f"{dataset} `{short_hash(fingerprint)}` on {device}"
        lines += [
            f"## {title}",
            "",
            f"INRs: {summary.get('field_kind', '?')} fields, {summary.get('params_per_inr', 0):,} parameters each; "
            f"{threads} CPU thread(s); `batch`: test INRs per pass (latencies are per INR).",
            "",
            *markdown_table(
                ["method", "view", "resolution", "decode ms", "network ms", "total ms", "peak MB", f"× {REFERENCE}", "batch", "parameters"],
                table,
                ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"],
            ),
            "",
        ]
        curves: list[TimingCurve] = []
        flat: dict[str, float] = {}
        for method, method_rows in groupby(rows, key=lambda row: row[0]):
            cells = [(res, recs) for _, res, recs in method_rows]
            if cells[0][0] is None:  # weight-space: no resolution, one latency
                flat[method] = _median(cells[0][1], "latency_ms")
                continue
            curves.append(
                TimingCurve(
                    method,
                    tuple(float(res) for res, _ in cells),
                    tuple(_median(recs, "latency_ms") for _, recs in cells),
                    tuple(_median(recs, "network_ms") for _, recs in cells),
                )
            )
        path = plots_dir / f"timing.{dataset}.{short_hash(fingerprint)}.{device.split(' ')[0]}.png"
        plots.append(timing_plot(curves, flat, path, f"{dataset} ({short_hash(fingerprint)}) on {device}"))
        lines += [f"![latency against resolution](plots/{path.name})", ""]
    return "\n".join(lines).rstrip("\n") + "\n", plots
