"""The report printed by ``nfbench data info``."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from nfbench.api.metrics import all_metrics
from nfbench.store.reader import INRDataset

QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)


UNKNOWN = "unknown (imported)"


def stored_architecture(ds: INRDataset) -> str:
    """Layer widths as the shard headers store them, not as ``meta.json`` claims.

    ``INRDataset.open`` rejects a header that disagrees with ``meta.json``; deriving the
    printed architecture from the headers keeps this report about the bytes on disk.
    """
    shapes = ds.stored_shapes
    n_layers = sum(1 for name in shapes if name.endswith(".weight"))
    widths = [shapes["layers.0.weight"][1]] + [shapes[f"layers.{i}.weight"][0] for i in range(n_layers)]
    hidden = widths[1:-1]
    body = f"{hidden[0]}x{len(hidden)}" if len(set(hidden)) == 1 else "->".join(map(str, hidden))
    text = f"{widths[0]}->{body}->{widths[-1]}"
    if ds.spec.encoding != "none":
        text += f" ({ds.spec.in_dim}-D input, {ds.spec.encoding} encoding)"
    n_params = sum(math.prod(s) for s in shapes.values())
    return f"{ds.spec.kind} {text} | {n_params:,} params/INR"


def print_info(ds: INRDataset, console: Console) -> None:
    meta = ds.meta
    b = meta.build
    console.print(f"[bold]{meta.name}[/bold]  {ds.root}")
    console.print(
        f"field {b.field_kind} | preset {b.preset} | {stored_architecture(ds)} | {meta.n_items} INRs in {meta.n_shards} shards"
    )
    fit = UNKNOWN if b.fit is None else f"{b.fit.steps} steps, lr {b.fit.lr}, {b.fit.points_per_step} pts/step, chunk {b.fit.chunk_size}"
    if b.fit is not None and b.fit.init == "independent":
        init = "independent (one per INR)"
    else:
        init = UNKNOWN if meta.init_hash is None else f"shared {meta.init_hash[:12]}"
    console.print(
        f"fit: {fit} | seed {b.seed} | init {init} | source {meta.source_fingerprint[:12]} | origin {meta.origin}"
        f" | fingerprint {ds.fingerprint[:12]}"
    )
    items = ds.items
    counts = items.groupby(["label", "split"]).size().unstack(fill_value=0)
    splits = [s for s in ("train", "val", "test") if s in counts.columns]
    table = Table("class", *splits, "total", title="INRs per class and split")
    for label, row in counts.iterrows():
        table.add_row(meta.class_names[int(label)], *(str(row[s]) for s in splits), str(int(row[splits].sum())))
    table.add_row("[bold]all", *(str(int(counts[s].sum())) for s in splits), str(int(counts[splits].to_numpy().sum())))
    console.print(table)
    fitted = [r for r in ds.records if r.device != "import"]  # an import's shards time the import, not a fit
    if fitted:
        seconds, count = sum(r.seconds for r in fitted), sum(r.count for r in fitted)
        devices = ", ".join(sorted({r.device for r in fitted}))
        console.print(f"fitting cost: {seconds / count:.3g} s per INR ({seconds / 60:.1f} min for {count} INRs on {devices})")
    if b.augment:
        n_copies = int(items["augment_of"].notna().sum())
        console.print(f"augmented copies: {n_copies} ({b.augment} per train shape)")
    if "fit_collapsed" in items.columns:
        n_collapsed = int(items["fit_collapsed"].notna().sum())
        console.print(f"[red]collapsed fits: {n_collapsed} (no better than a zero output: collapsed or too short; long fits need --lr-schedule cosine)")
    metrics = [c for c in items.columns if c.startswith("fit_") and c != "fit_collapsed"]
    if b.quality_sample is not None:
        quality = [m for m in metrics if m != "fit_loss"]
        n_measured = int(items[quality].notna().all(axis=1).sum()) if quality else 0
        console.print(f"fit quality measured on {n_measured} of {len(items)} INRs (--quality-sample {b.quality_sample})")
    if metrics:
        catalog = all_metrics()  # the field kinds' quality specs and the fit loss: direction and unit
        q = Table("metric", "split", "n", *(f"q{int(p * 100)}" for p in QUANTILES), "mean", title="fit quality against the source")
        for m in metrics:
            name = m.removeprefix("fit_")
            spec = catalog.get(name) if name in catalog else None
            arrow = "" if spec is None else (" ↑" if spec.higher_is_better else " ↓") + (f" {spec.unit}" if spec.unit else "")
            for split in ["all", *splits]:
                # items left out by --quality-sample have no entry (NaN here): quantiles are over the measured ones
                vals = (items[m] if split == "all" else items.loc[items["split"] == split, m]).dropna()
                if vals.empty:
                    continue
                q.add_row(name + arrow, split, str(len(vals)), *(f"{vals.quantile(p):.3g}" for p in QUANTILES), f"{vals.mean():.3g}")
        console.print(q)
