"""Peak memory of training-style iteration over the weights view of a large paper-preset dataset.

Writes ``--inrs`` random INRs of the ``paper`` field preset (790,529 parameters, 3.2 MB
each) through the store writer, then iterates the train split's weights view with a
shuffling DataLoader, as a method's training epoch would. Run it under
``/usr/bin/time -v`` and read "Maximum resident set size": whole-split tensors would need
the dataset's size in RAM; per-item views need a few batches.

    /usr/bin/time -v python -m nfbench.bench.weights_view_memory --out /tmp/paper2000 --inrs 2000
"""

from __future__ import annotations

import math
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
import typer
from rich.console import Console

from nfbench.api import DataInfo
from nfbench.fields import field_preset, params_hash, shared_init
from nfbench.fitting.fitter import FitConfig
from nfbench.fitting.streams import position_seed
from nfbench.hashing import sha256_json
from nfbench.progress import make_progress
from nfbench.store import writer
from nfbench.store.reader import INRDataset
from nfbench.store.schema import BuildConfig, DatasetMeta, ItemRecord
from nfbench.views.context import ViewContext
from nfbench.views.weights import WeightsView

SHARD = 16
SPLITS = ("train", "train", "train", "train", "train", "train", "train", "train", "val", "test")


def write_random_dataset(out: Path, n_inrs: int, seed: int = 0) -> INRDataset:
    """A complete dataset of random paper-size INRs (resumes: existing shards are kept)."""
    spec = field_preset("paper")
    init = shared_init(spec, seed)
    plan = [
        ItemRecord(index=i, key=f"item{i:06d}", split=SPLITS[i % len(SPLITS)], label=i % 10, locator=f"random:{i}", fingerprint=f"{i}")
        for i in range(n_inrs)
    ]
    build = BuildConfig(
        dataset="random-paper", field_kind="udf", preset="paper", field=spec, sampling={},
        fit=FitConfig(steps=1, lr=1e-4, points_per_step=1, chunk_size=SHARD), seed=seed, limit=None,
        n_reference_points=0, quality_resolution=0,
    )
    meta = DatasetMeta(
        name="random-paper", card={}, build=build, build_hash=sha256_json(build.model_dump(mode="json")),
        init_hash=params_hash(spec, init), class_names=[f"c{i}" for i in range(10)], n_items=n_inrs,
        n_shards=math.ceil(n_inrs / SHARD), plan_hash=sha256_json([[p.key, p.split, p.label, p.fingerprint] for p in plan]),
        source_fingerprint=sha256_json([p.fingerprint for p in plan]), versions={},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    meta = writer.begin(out, meta, plan, init, spec)
    with make_progress() as progress:
        task = progress.add_task("write random paper INRs", total=meta.n_shards, unit="shards")
        for s in range(meta.n_shards):
            items = plan[s * SHARD : (s + 1) * SHARD]
            if writer.read_shard_record(out, s) is None:
                gen = torch.Generator().manual_seed(position_seed(seed, s))
                weights = {n: p + 0.01 * torch.randn(len(items), *p.shape, generator=gen) for n, p in init.items()}
                source = {"labels": torch.tensor([it.label for it in items])}
                writer.write_shard(out, s, s * SHARD, weights, source, items, 0.0, "cpu")
            progress.advance(task)
    writer.finalize(out)
    return INRDataset.open(out)


def main(
    out: Path = typer.Option(..., help="Dataset folder (about 3.2 MB per INR)."),
    inrs: int = typer.Option(2000, help="Random paper-size INRs to write."),
    batch_size: int = typer.Option(16, help="INRs per minibatch."),
    workers: int = typer.Option(2, help="DataLoader worker processes."),
) -> None:
    console = Console()
    data = write_random_dataset(out, inrs)
    on_disk = sum(f.stat().st_size for f in out.rglob("*.safetensors"))
    info = DataInfo(spec=data.spec, field_kind=data.field_kind, class_names=tuple(data.class_names))
    ctx = ViewContext(data, info, "fields", torch.device("cpu"), out / "views")
    view = WeightsView.open(ctx, "train")
    start, n, checksum = time.perf_counter(), 0, 0.0
    with make_progress() as progress:
        task = progress.add_task("iterate train weights view", total=len(view), unit="INRs")
        for batch in view.loader(batch_size, shuffle=True, seed=0, num_workers=workers):
            checksum += float(batch.data["layers.2.weight"].sum())  # touch the data
            n += len(batch)
            progress.advance(task, len(batch))
    seconds = time.perf_counter() - start
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    console.print(
        f"{inrs} INRs, {on_disk / 2**30:.2f} GiB on disk; iterated {n} train INRs in {seconds:.1f} s "
        f"({n * data.spec.n_params * 4 / 2**20 / seconds:.0f} MiB/s); peak RSS main {peak_self:.0f} MiB, "
        f"largest worker {peak_children:.0f} MiB (checksum {checksum:.3g})"
    )


if __name__ == "__main__":
    typer.run(main)
