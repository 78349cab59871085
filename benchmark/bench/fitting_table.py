"""Fit quality against cost for a few width x steps settings: the table behind the ``cpu`` preset.

Run: ``python -m nfbench.bench.fitting_table --data-root ../shared/data --n 50 --out leaderboards/fitting.md``.
Fits the first ``n`` test shapes of SHREC'16 (meshes -> sdf) and of ModelNet40 (clouds ->
udf) with each setting, and reports the median F-score@0.01 and Chamfer distance between
the stored reference cloud and the cloud decoded from the INR, with the CPU seconds
(process time, all threads) and wall seconds per INR, fitting and quality decoding included.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console

from nfbench.fields import FieldSpec, shared_init
from nfbench.fitting.build import BuildRequest, fit_shard, plan_items, resolve_build
from nfbench.markdown import markdown_table
from nfbench.store.atomic import atomic_write_text

SETTINGS = [(32, 400), (64, 200), (64, 400), (128, 200)]
SOURCES = [("shrec16", "shrec16", "sdf"), ("modelnet40", "modelnet40_ply_hdf5_1024", "udf")]


def run_setting(name: str, root: Path, field: str, hidden: int, steps: int, n: int, device: torch.device) -> dict:
    req = BuildRequest(name, root=root, field=field, preset="cpu", steps=steps)
    dataset, config, _ = resolve_build(req)
    spec = FieldSpec(**(config.field.model_dump() | {"hidden": hidden}))
    config = config.model_copy(update={"field": spec})
    items = [it for it in plan_items(dataset, req) if it.split == "test"][:n]
    init = shared_init(spec, config.seed)
    chunk = config.fit.chunk_size
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fitted = []
    for s in range(0, len(items), chunk):
        fitted += fit_shard(dataset, root, config, init, items[s : s + chunk], s // chunk, device)[2]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fit = pd.DataFrame([it.fit for it in fitted])
    return {
        "data": f"{name} ({field})", "width": hidden, "steps": steps, "params": spec.n_params, "INRs": len(items),
        "median F@0.01": fit["f_score"].median(), "median CD": fit["chamfer"].median(),
        "CPU s/INR": cpu / len(items), "wall s/INR": wall / len(items),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device("cpu")
    rows = []
    for name, folder, field in SOURCES:
        for hidden, steps in SETTINGS:
            rows.append(run_setting(name, args.data_root / folder, field, hidden, steps, args.n, device))
            Console(stderr=True).print(rows[-1])
    header = list(rows[0])
    lines = markdown_table(header, [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()] for r in rows])
    print("\n".join(lines))
    if args.out:
        atomic_write_text(args.out, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
