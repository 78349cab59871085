"""``functa``: one shared SIREN whose per-shape shift modulations come from a few meta-learned
inner steps (Dupont et al., From data to functa, ICML 2022).

Each hidden layer of the shared SIREN gets a per-shape shift added to its bias; the shifts
are a linear map of a latent vector (the "functa"), which starts at zero for every shape and
takes ``inner_steps`` gradient steps on the shape's reconstruction loss. The shared
weights, the linear map and (with meta-SGD) a learned step size per latent dimension are
meta-learned through those steps (second-order, as the paper). The latents are the
representation: an MLP classifies them, and the modulated SIREN reconstructs each shape.

It fits the same supervision the suite's INRs were fitted to (the ``supervision`` view),
with the field kind's targets and loss, and evaluates the SIREN with the suite's own
functional forward (``nfbench.fields.batched_forward``): the shifts are per-shape biases.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.api import DataInfo, MethodCard, Preset, View
from nfbench.api.view import ViewBatch
from nfbench.decode.common import FieldFn
from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.fields.init import shared_init
from nfbench.training.latent_codes import query_subset
from nfbench.training.latent_method import LatentConfig, LatentMethod
from nfbench.training.trainer import Trainer, TrainerConfig


class FunctaConfig(LatentConfig):
    hidden: int = Field(ge=1, description="width of the shared SIREN")
    depth: int = Field(ge=1, description="hidden layers of the shared SIREN, each shifted per shape")
    w0: float = Field(gt=0)
    inner_steps: int = Field(ge=1)
    inner_lr: float = Field(gt=0, description="inner SGD step (meta-SGD: the initial value of each learned step)")
    meta_sgd: bool = Field(description="learn one inner step size per latent dimension")
    epochs: int = Field(ge=1)
    max_steps: int | None = Field(
        default=None, ge=1, description="stop after the epoch that reaches this many outer steps; bounds the cost on large datasets"
    )
    lr: float = Field(gt=0, description="outer Adam rate")
    batch_size: int = Field(ge=2, description="shapes per outer step")
    queries: int = Field(ge=1, description="supervision queries per shape and step (a random subset)")


class ModulatedSiren(nn.Module):
    """A SIREN with shared weights and per-shape bias shifts ``to_shifts(latent)`` on its hidden layers."""

    def __init__(self, spec: FieldSpec, latent: int, inner_lr: float, meta_sgd: bool, seed: int) -> None:
        super().__init__()
        self.spec = spec
        init = shared_init(spec, seed)
        self.names = spec.param_names()
        self.shared = nn.ParameterList(nn.Parameter(init[n]) for n in self.names)
        self.to_shifts = nn.Linear(latent, spec.depth * spec.hidden)
        step = torch.full((latent,), inner_lr)
        if meta_sgd:
            self.inner_lr = nn.Parameter(step)
        else:
            self.register_buffer("inner_lr", step)
        self.latent = latent

    def params_for(self, latents: Tensor) -> Params:
        b = latents.shape[0]
        shifts = self.to_shifts(latents).view(b, self.spec.depth, self.spec.hidden)
        params = {n: p.expand(b, *p.shape) for n, p in zip(self.names, self.shared)}
        for i in range(self.spec.depth):
            params[f"layers.{i}.bias"] = params[f"layers.{i}.bias"] + shifts[:, i]
        return params

    def field(self, latents: Tensor, coords: Tensor) -> Tensor:
        return batched_forward(self.spec, self.params_for(latents), coords)

    def adapt(self, coords: Tensor, targets: Tensor, loss: Any, steps: int, scale: float = 1.0, create_graph: bool = False) -> Tensor:
        """Latents after ``steps`` inner SGD steps from zero on each shape's own loss (``loss`` gives ``(B,)``)."""
        z = torch.zeros(coords.shape[0], self.latent, device=coords.device, requires_grad=True)
        for _ in range(steps):
            (grad,) = torch.autograd.grad(loss(self.field(z, coords), targets).sum(), z, create_graph=create_graph)
            z = z - scale * self.inner_lr * grad
        return z


class Functa(LatentMethod):
    card = MethodCard(
        name="functa",
        description="Shared SIREN with per-shape shift modulations from a latent found by a few meta-learned inner steps; "
        "MLP classifier on the latents",
        reference="Dupont et al., From data to functa, ICML 2022; as compared in Zama Ramirez et al., TPAMI 2024 (nf2vec)",
        view="supervision",
        field_kinds=("udf", "sdf", "occ"),
        training="self-supervised",
        symmetry="none",
    )
    Config = FunctaConfig
    presets = {
        "paper": Preset(
            config=FunctaConfig(
                hidden=512, depth=10, w0=30.0, latent=256, inner_steps=3, inner_lr=1e-2, meta_sgd=True, epochs=500, lr=3e-6,
                batch_size=128, queries=4096, latent_batch=128, resolution=128, cls_hidden=(1024, 1024, 1024), cls_dropout=0.5, cls_epochs=150,
                cls_lr=1e-4, cls_weight_decay=1e-2, cls_batch_size=256,
            ),
            departs="the field kind's targets and loss (the suite's supervision) instead of voxel occupancies; epochs instead of "
            "the paper's step count; classifier: nf2vec's training recipe with functa's 3 x 1024 MLP",
        ),
        "cpu": Preset(
            config=FunctaConfig(
                hidden=128, depth=4, w0=30.0, latent=64, inner_steps=3, inner_lr=1e-2, meta_sgd=True, epochs=150, max_steps=1200,
                lr=1e-4, batch_size=16, queries=1024, latent_batch=64, resolution=64, cls_hidden=(256, 128), cls_dropout=0.5, cls_epochs=100,
                cls_lr=1e-3, cls_weight_decay=1e-2, cls_batch_size=64,
            ),
            departs="4 x 128 SIREN, latents of 64; at most 150 epochs and 1,200 outer steps of 16 shapes x 1,024 queries at an outer "
            "rate of 1e-4: about half an hour on one CPU thread, whatever the dataset's size",
        ),
        "tiny": Preset(
            config=FunctaConfig(
                hidden=16, depth=2, w0=30.0, latent=8, inner_steps=2, inner_lr=1e-2, meta_sgd=True, epochs=2, lr=1e-4,
                batch_size=4, queries=64, latent_batch=8, resolution=16, cls_hidden=(8,), cls_dropout=0.0, cls_epochs=2, cls_lr=1e-3,
                cls_weight_decay=0.0, cls_batch_size=4,
            ),
            departs="2 x 16 SIREN, latents of 8, 2 inner steps, 2 epochs: seconds, for tests",
        ),
    }

    def build(self, info: DataInfo) -> nn.Module:
        cfg = self.config
        spec = FieldSpec(kind="siren", in_dim=info.spec.in_dim, out_dim=info.spec.out_dim, hidden=cfg.hidden, depth=cfg.depth, w0=cfg.w0)
        return ModulatedSiren(spec, cfg.latent, cfg.inner_lr, cfg.meta_sgd, self.seed)

    def fit_shared(self, train: View, progress: Progress | None) -> tuple[Tensor | None, dict[str, Any]]:
        """Meta-learning through the inner loop (second order); every shape's latent is found afterwards.

        Each outer step costs the same whatever the dataset, so ``max_steps`` caps the epochs: a
        dataset of thousands of shapes gets fewer passes, not hours more.
        """
        cfg = self.config
        loader = train.loader(cfg.batch_size, shuffle=True, seed=self.seed)
        epochs = cfg.epochs if cfg.max_steps is None else min(cfg.epochs, -(-cfg.max_steps // len(loader)))

        def loss(model: nn.Module, batch: ViewBatch) -> Tensor:
            coords, targets = query_subset(batch.data, cfg.queries)
            z = model.adapt(coords, targets, self.kind.loss, cfg.inner_steps, create_graph=True)
            return self.kind.loss(model.field(z, coords), targets).mean()

        trainer = Trainer(
            TrainerConfig(epochs=epochs, lr=cfg.lr, seed=self.seed, checkpoint_dir=self.checkpoint_dir("meta")),
            self.net, loss, device=self.device, optimizer=torch.optim.Adam, progress=progress, description="functa meta-learning",
        )
        run = trainer.fit(loader).epochs_run
        return None, {"meta_epochs": run, "meta_steps": run * len(loader)}

    def optimise(self, batch: ViewBatch, scale: float) -> tuple[Tensor, Tensor]:
        """The inner loop on a seeded subset of each shape's queries (``batch_generator``)."""
        cfg = self.config
        gen = self.batch_generator(batch)
        coords, targets = query_subset(batch.data, cfg.queries, gen)
        with torch.enable_grad():
            z = self.net.adapt(coords, targets, self.kind.loss, cfg.inner_steps, scale).detach()
            final = self.kind.loss(self.net.field(z, coords), targets).detach()
        return z, ~torch.isfinite(z).all(dim=1) | ~torch.isfinite(final)

    def field(self, latents: Tensor) -> FieldFn:
        return lambda coords: self.net.field(latents, coords)
