"""The report printed by ``nfbench data info``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from nfbench.store.reader import INRDataset

QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)
# Whether a larger value of each fit metric is better (shown as an arrow next to its name).
HIGHER_IS_BETTER = {"f_score": True, "iou": True, "psnr": True, "chamfer": False, "loss": False}


def print_info(ds: INRDataset, console: Console) -> None:
    meta, spec = ds.meta, ds.spec
    b = meta.build
    console.print(f"[bold]{meta.name}[/bold]  {ds.root}")
    console.print(
        f"field {b.field_kind} | preset {b.preset} | {spec.kind} {spec.in_dim}->{spec.hidden}x{spec.depth}->{spec.out_dim}"
        f" | {spec.n_params:,} params/INR | {meta.n_items} INRs in {meta.n_shards} shards"
    )
    console.print(
        f"fit: {b.fit.steps} steps, lr {b.fit.lr}, {b.fit.points_per_step} pts/step, chunk {b.fit.chunk_size}"
        f" | seed {b.seed} | init {meta.init_hash[:12]} | source {meta.source_fingerprint[:12]} | origin {meta.origin}"
    )
    items = ds.items
    counts = items.groupby(["label", "split"]).size().unstack(fill_value=0)
    splits = [s for s in ("train", "val", "test") if s in counts.columns]
    table = Table("class", *splits, "total", title="INRs per class and split")
    for label, row in counts.iterrows():
        table.add_row(meta.class_names[int(label)], *(str(row[s]) for s in splits), str(int(row[splits].sum())))
    table.add_row("[bold]all", *(str(int(counts[s].sum())) for s in splits), str(int(counts[splits].to_numpy().sum())))
    console.print(table)
    metrics = [c for c in items.columns if c.startswith("fit_")]
    if metrics:
        q = Table("metric", "split", *(f"q{int(p * 100)}" for p in QUANTILES), "mean", title="fit quality against the source")
        for m in metrics:
            name = m.removeprefix("fit_")
            arrow = {True: " ↑", False: " ↓"}.get(HIGHER_IS_BETTER.get(name), "")
            for split in ["all", *splits]:
                vals = items[m] if split == "all" else items.loc[items["split"] == split, m]
                q.add_row(name + arrow, split, *(f"{vals.quantile(p):.3g}" for p in QUANTILES), f"{vals.mean():.3g}")
        console.print(q)
