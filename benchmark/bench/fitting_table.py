"""Fit quality against cost for a few width x steps settings: the table behind the ``cpu`` preset.

Run: ``python -m nfbench.bench.fitting_table --data-root ../shared/data --n 50 --out leaderboards/fitting.md``.
Fits ``n`` test shapes of SHREC'16 (meshes -> sdf) and of ModelNet40 (clouds -> udf),
taken round-robin over the classes, with each setting, and reports the median F-score@0.01 and Chamfer distance between
the stored reference cloud and the cloud decoded from the INR, with the CPU seconds
(process time, all threads) and wall seconds per INR, fitting and quality decoding included.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console

from nfbench.fields import FieldSpec, shared_init
from nfbench.fitting.build import BuildRequest, fit_shard, plan_items, resolve_build
from nfbench.markdown import markdown_table
from nfbench.store.atomic import atomic_write_text
from nfbench.store.schema import ItemRecord

SETTINGS = [(32, 400), (64, 200), (64, 400), (128, 200)]
SOURCES = [("shrec16", "shrec16", "sdf"), ("modelnet40", "modelnet40_ply_hdf5_1024", "udf")]


def stratified(items: list[ItemRecord], n: int) -> list[ItemRecord]:
    """The first ``n`` items taken round-robin over classes (plans are sorted by class)."""
    rank: dict[int, int] = {}
    order = []
    for it in items:
        order.append((rank.get(it.label, 0), it.label, it))
        rank[it.label] = rank.get(it.label, 0) + 1
    return [it for _, _, it in sorted(order, key=lambda o: o[:2])][:n]


def run_setting(name: str, root: Path, field: str, hidden: int, steps: int, n: int, device: torch.device) -> dict:
    req = BuildRequest(name, root=root, field=field, preset="cpu", steps=steps)
    dataset, config, _ = resolve_build(req)
    spec = FieldSpec(**(config.field.model_dump() | {"hidden": hidden}))
    config = config.model_copy(update={"field": spec})
    items = stratified([it for it in plan_items(dataset, req) if it.split == "test"], n)
    init = shared_init(spec, config.seed)
    chunk = config.fit.chunk_size
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fitted = []
    for s in range(0, len(items), chunk):
        fitted += fit_shard(dataset, root, config, init, items[s : s + chunk], device)[2]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fit = pd.DataFrame([it.fit for it in fitted])
    return {
        "data": f"{name} ({field})", "width": hidden, "steps": steps, "params": spec.n_params, "INRs": len(items),
        "median F@0.01": float(fit["f_score"].median()), "median CD": float(fit["chamfer"].median()),
        "CPU s/INR": cpu / len(items), "wall s/INR": wall / len(items),
    }


def _row_key(row: dict) -> tuple[str, int, int, int]:
    return (row["data"], row["width"], row["steps"], row["INRs"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rows", type=Path, default=None, help="JSON of finished rows: reused, so a stopped run resumes")
    args = parser.parse_args()
    device = torch.device("cpu")
    done = {_row_key(r): r for r in json.loads(args.rows.read_text())} if args.rows and args.rows.exists() else {}
    rows = []
    for name, folder, field in SOURCES:
        for hidden, steps in SETTINGS:
            key = (f"{name} ({field})", hidden, steps, args.n)
            if key not in done:
                done[key] = run_setting(name, args.data_root / folder, field, hidden, steps, args.n, device)
                Console(stderr=True).print(done[key])
                if args.rows:
                    atomic_write_text(args.rows, json.dumps(list(done.values()), indent=1))
            rows.append(done[key])
    header = list(rows[0])
    lines = markdown_table(header, [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows])
    print("\n".join(lines))
    if args.out:
        head = [
            "# Fit quality against cost",
            "",
            f"Command: `python -m nfbench.bench.fitting_table --data-root DATA --n {args.n} --out {args.out}` "
            f"({torch.get_num_threads()} threads; F-score at 0.01 and Chamfer distance (not squared) between "
            "the source's reference cloud and the cloud decoded from the INR; CPU seconds are process time of "
            "fitting and quality decoding, supervision included).",
            "",
        ]
        atomic_write_text(args.out, "\n".join(head + lines) + "\n")


if __name__ == "__main__":
    main()
