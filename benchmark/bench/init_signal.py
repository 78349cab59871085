"""How much of a classifier's embedding depends on its input before any training.

A classifier whose embedding is almost the same for every INR at initialization gives
its last layer nothing to separate: the loss drops to the class prior (``ln K``) and can
stay there. This is the diagnostic behind the nft rows stuck at chance (see the
fashion-mnist notes). For each method (its preset, seeds 0..n-1) it builds the network as
``nfbench run`` does, fits its train statistics, embeds the first train INRs and prints
the input share of the embedding: ``trace(cov(E)) / mean ||E||^2``, 0 when every INR maps
to one vector and 1 when the embeddings are centred.

    OMP_NUM_THREADS=1 python -m nfbench.bench.init_signal --dataset digits-limit50 \\
        --method nfn-hnp --method nft --method nft:fourier_scale=30

A method may carry ``--set``-style overrides after a colon, comma-separated.
"""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch
import typer
from rich.console import Console

from nfbench.device import resolve_device
from nfbench.errors import ConfigError
from nfbench.markdown import markdown_table
from nfbench.paths import resolve_dataset_dir
from nfbench.run.runner import new_method, run_specs, view_opener
from nfbench.store.atomic import atomic_write_text
from nfbench.store.reader import INRDataset
from nfbench.training.classifier_method import ClassifierMethod


def input_share(embeddings: torch.Tensor) -> float:
    """``trace(cov(E)) / mean ||E||^2`` of ``(N, D)`` embeddings: the part of their energy that varies across inputs."""
    e = embeddings.double()
    return float(e.var(dim=0, unbiased=False).sum() / e.pow(2).sum(dim=1).mean().clamp_min(1e-300))


def parse_entry(entry: str) -> tuple[str, list[str]]:
    """``"nft:fourier_scale=30,blocks=2"`` -> ``("nft", ["fourier_scale=30", "blocks=2"])``."""
    name, _, overrides = entry.partition(":")
    return name, [item for item in overrides.split(",") if item]


def init_shares(data: INRDataset, entry: str, seeds: int, per_class: int, preset: str | None, device: torch.device) -> list[float]:
    name, overrides = parse_entry(entry)
    shares = []
    for spec in run_specs(name, preset, overrides, range(seeds), "fields", train_per_class=per_class):
        method = new_method(spec, data, device)
        if not isinstance(method, ClassifierMethod):
            raise ConfigError(f"init_signal: {name} is not a supervised classifier with a network to embed through")
        train = view_opener(data, spec, device, None)("train")
        method.prepare(train)
        shares.append(input_share(method.embed(train)))  # embed runs the network in eval mode
    return shares


def main(
    dataset: str = typer.Option(..., help="A built dataset (name under NFBENCH_HOME or directory)."),
    method: list[str] = typer.Option(..., help="Method, optionally with overrides: name:key=value,key=value. Repeat."),
    seeds: int = typer.Option(3, help="Seeds 0..n-1 of each method's initialization."),
    per_class: int = typer.Option(32, help="Train INRs per class to embed."),
    preset: str | None = typer.Option("cpu", help="Preset of every method."),
    device: str = typer.Option("cpu", help="auto, cpu, cuda, ..."),
    out: Path | None = typer.Option(None, help="Also write the table as markdown here."),
) -> None:
    dev = resolve_device(device)
    data = INRDataset.open(resolve_dataset_dir(dataset))
    rows = []
    for entry in method:
        shares = init_shares(data, entry, seeds, per_class, preset, dev)
        rows.append([entry, *(f"{s:.2e}" for s in shares)])
    command = shlex.join(["python", "-m", "nfbench.bench.init_signal", *sys.argv[1:]])
    text = (
        f"# Input-dependence of embeddings at initialization\n\n`{command}`\n\n"
        f"Input share of the embedding at initialization, `trace(cov(E)) / mean ||E||^2` (0 when every INR gets one vector, 1 for centred embeddings), on the first {per_class} train INRs "
        f"per class of `{dataset}`, preset `{preset}` ({datetime.now(UTC):%Y-%m-%d}).\n\n"
        + "\n".join(markdown_table(["method", *(f"seed {s}" for s in range(seeds))], rows))
    )
    Console().print(text)
    if out is not None:
        atomic_write_text(out, text + "\n")


if __name__ == "__main__":
    typer.run(main)
