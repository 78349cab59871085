"""The frame of methods whose representation is a latent per shape under one shared network
(DeepSDF codes, Functa modulations).

They differ in how the shared network is fitted and how a shape's latent is found; the rest
is one recipe, so their comparison measures the representation: latents of the val and test
shapes found with the network fixed (``latents``, under the stated divergence rule of
``nfbench.training.latent_codes``), an MLP classifier on them, their embeddings, and
reconstruction by the shared network conditioned on them.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn

from nfbench.api import DataInfo, Method, MethodConfig, View
from nfbench.api.view import ViewBatch
from nfbench.decode.clouds import decode_clouds
from nfbench.decode.common import FieldFn
from nfbench.fields.kinds import FIELD_KINDS, FieldKind
from nfbench.fitting.streams import position_seed
from nfbench.training import bn_mlp
from nfbench.training.evaluation import predict_view
from nfbench.training.latent_codes import latents_of, test_time_report
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import TrainerConfig
from nfbench.views.tensor import TensorView


class LatentConfig(MethodConfig):
    latent: int = Field(ge=1, description="latent size per shape")
    latent_batch: int = Field(ge=1, description="shapes whose latents are found together")
    resolution: int = Field(ge=8, description="decode grid of reconstructions (marching cubes, projection seeds for udf)")
    cls_hidden: tuple[int, ...]
    cls_dropout: float = Field(ge=0, lt=1)
    cls_epochs: int = Field(ge=1)
    cls_lr: float = Field(gt=0)
    cls_weight_decay: float = Field(ge=0)
    cls_batch_size: int = Field(ge=2)


class LatentMethod(Method):
    """Subclasses build ``self.net`` in ``build``, fit it in ``fit_shared`` and find latents in ``optimise``."""

    config: LatentConfig

    @abstractmethod
    def build(self, info: DataInfo) -> nn.Module:
        """The shared network for ``info``."""

    @abstractmethod
    def fit_shared(self, train: View, progress: Progress | None) -> tuple[Tensor | None, dict[str, Any]]:
        """Fit the shared network on ``train``; the train latents when fitting gives them (auto-decoding), and a log."""

    @abstractmethod
    def optimise(self, batch: ViewBatch, scale: float) -> tuple[Tensor, Tensor]:
        """Latents of a batch with the network fixed, step sizes scaled by ``scale``, and which diverged."""

    @abstractmethod
    def field(self, latents: Tensor) -> FieldFn:
        """The shared network conditioned on ``latents (B, latent)``: each shape's field."""

    def setup(self, info: DataInfo) -> None:
        cfg = self.config
        torch.manual_seed(self.seed)
        self.kind: FieldKind = FIELD_KINDS.get(info.field_kind)
        self.net = self.build(info).to(self.device)
        self.classifier = bn_mlp(cfg.latent, cfg.cls_hidden, info.n_classes, cfg.cls_dropout).to(self.device)

    def batch_generator(self, batch: ViewBatch) -> torch.Generator:
        """The random stream of one latent batch, seeded by the method's seed and the batch's first position:
        the same latents for the same view and ``latent_batch``."""
        return torch.Generator(device=self.device).manual_seed(position_seed(self.seed, int(batch.index[0])))

    def latents(self, view: View) -> tuple[Tensor, list[int]]:
        """Latents of every shape of ``view`` and the positions that diverged twice."""
        self.net.eval()
        self.net.requires_grad_(False)
        try:
            return latents_of(view, self.optimise, self.config.latent_batch, self.device)
        finally:
            self.net.requires_grad_(True)

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        cfg = self.config
        start = time.perf_counter()
        train_z, log = self.fit_shared(train, progress)
        failed: dict[str, int] = {}
        if train_z is None:
            train_z, train_failed = self.latents(train)
            failed["train"] = len(train_failed)
        val_z, val_failed = self.latents(val)
        self.history = log | {
            "shared_seconds": time.perf_counter() - start,
            "latents_diverged": failed | {"val": len(val_failed)},
            "latent_per_shape": cfg.latent,
        }
        self.history |= fit_classifier(
            self.classifier,
            TensorView(train, train_z),
            TensorView(val, val_z),
            TrainerConfig(
                epochs=cfg.cls_epochs, lr=cfg.cls_lr, weight_decay=cfg.cls_weight_decay, seed=self.seed,
                checkpoint_dir=self.checkpoint_dir("classifier"),
            ),
            batch_size=cfg.cls_batch_size, eval_batch_size=cfg.cls_batch_size, device=self.device, progress=progress,
        )

    def test_latents(self, view: View) -> Tensor:
        z, failed = self.latents(view)
        self.history["test_time"] = test_time_report(view, failed)
        return z

    def predict(self, view: View) -> Tensor:
        return predict_view(self.classifier, self.classifier, TensorView(view, self.test_latents(view)), self.config.cls_batch_size, self.device)

    def embed(self, view: View) -> Tensor:
        return self.test_latents(view)

    def reconstruct(self, view: View, n_points: int) -> Tensor:
        self.net.eval()
        latents = TensorView(view, self.test_latents(view))  # batches of latents: the supervision is not read again
        return decode_clouds(
            latents, self.kind, lambda b: self.field(b.data), n_points, self.config.resolution, self.device, self.config.latent_batch, self.seed
        )

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "classifier": self.classifier.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.classifier.load_state_dict(state["classifier"])

    def n_parameters(self) -> int:
        """The shared network and the classifier; each stored shape adds its latent (``latent`` numbers)."""
        return sum(p.numel() for m in (self.net, self.classifier) for p in m.parameters())
