"""``deepsdf``: one shared auto-decoder and a latent code per shape (Park et al., CVPR 2019).

The nf2vec benchmark stores a dataset three ways: one INR per shape, one shared network with
a code per shape found by auto-decoding (this method), and Functa's meta-learned
modulations. Here the network and the train shapes' codes are fitted jointly to the same
supervision the suite's INRs were fitted to (the ``supervision`` view), with the code
regularizer of the paper; the codes of val and test shapes are then found by test-time
optimisation with the network frozen. The codes are the representation: an MLP classifies
them, and the decoder conditioned on a code reconstructs its shape.

The targets and loss are those of the field kind (the INRs' own: BCE on sigmoid-encoded
distances), not the paper's clamped L1 on raw SDF values, so both representations fit one
objective. Test-time optimisation that diverges for a shape follows the rule of
``nfbench.training.latent_codes``, stated and applied in the record (``training.test_time``).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View
from nfbench.api.view import ViewBatch
from nfbench.decode.clouds import decode_clouds
from nfbench.fields.kinds import FIELD_KINDS, FieldKind
from nfbench.training import bn_mlp
from nfbench.training.evaluation import predict_view
from nfbench.training.latent_codes import latents_of, query_subset, test_time_report
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import Trainer, TrainerConfig
from nfbench.views.tensor import TensorView


class DeepSDFConfig(MethodConfig):
    hidden: int = Field(ge=1, description="width of every hidden layer")
    layers: int = Field(ge=2, description="hidden layers")
    latent: int = Field(ge=1, description="code size per shape")
    skip: int = Field(ge=1, description="hidden layer whose input gets the code and query again (the latent skip)")
    dropout: float = Field(ge=0, lt=1)
    code_init_std: float = Field(gt=0, description="codes start from N(0, std^2)")
    code_reg: float = Field(ge=0, description="weight of the mean squared code norm (the Gaussian prior on codes)")
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0, description="Adam rate of the network")
    code_lr: float = Field(gt=0, description="Adam rate of the train codes")
    batch_size: int = Field(ge=2, description="shapes per step")
    queries: int = Field(ge=1, description="supervision queries per shape and step (a random subset)")
    infer_steps: int = Field(ge=1, description="test-time optimisation steps per shape")
    infer_lr: float = Field(gt=0)
    infer_batch: int = Field(ge=1, description="shapes optimised together at test time")
    resolution: int = Field(ge=8, description="decode grid of reconstructions (marching cubes, projection seeds for udf)")
    cls_hidden: tuple[int, ...]
    cls_dropout: float = Field(ge=0, lt=1)
    cls_epochs: int = Field(ge=1)
    cls_lr: float = Field(gt=0)
    cls_weight_decay: float = Field(ge=0)
    cls_batch_size: int = Field(ge=2)


class AutoDecoder(nn.Module):
    """``f(code, query) -> raw output``: ReLU layers with weight norm and dropout, code and query fed
    to the first layer and again to layer ``skip``."""

    def __init__(self, latent: int, in_dim: int, out_dim: int, cfg: DeepSDFConfig) -> None:
        super().__init__()
        first = latent + in_dim
        widths = [first] + [cfg.hidden + (first if i == cfg.skip else 0) for i in range(1, cfg.layers)]
        self.skip = cfg.skip
        self.hidden = nn.ModuleList(weight_norm(nn.Linear(w, cfg.hidden)) for w in widths)
        self.out = nn.Linear(cfg.hidden, out_dim)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, codes: Tensor, coords: Tensor) -> Tensor:
        x = torch.cat([codes[:, None].expand(-1, coords.shape[1], -1), coords], dim=-1)
        h = x
        for i, layer in enumerate(self.hidden):
            h = self.dropout(torch.relu(layer(torch.cat([h, x], dim=-1) if i == self.skip else h)))
        return self.out(h)


class _Joint(nn.Module):
    """The decoder and one code per train shape, trained together."""

    def __init__(self, decoder: AutoDecoder, n_shapes: int, latent: int, std: float) -> None:
        super().__init__()
        self.decoder = decoder
        self.codes = nn.Embedding(n_shapes, latent)
        nn.init.normal_(self.codes.weight, std=std)


class DeepSDF(Method):
    card = MethodCard(
        name="deepsdf",
        description="Shared auto-decoder with a latent code per shape (codes of new shapes by test-time optimisation); "
        "MLP classifier on the codes",
        reference="Park et al., DeepSDF, CVPR 2019; as compared in Zama Ramirez et al., TPAMI 2024 (nf2vec)",
        view="supervision",
        field_kinds=("udf", "sdf", "occ"),
        training="self-supervised",
        symmetry="none",
    )
    Config = DeepSDFConfig
    presets = {
        "paper": Preset(
            config=DeepSDFConfig(
                hidden=512, layers=8, latent=256, skip=4, dropout=0.2, code_init_std=0.01, code_reg=1e-4, epochs=2000,
                lr=5e-4, code_lr=1e-3, batch_size=64, queries=16384, infer_steps=800, infer_lr=5e-3, infer_batch=32,
                resolution=128, cls_hidden=(512, 256), cls_dropout=0.5, cls_epochs=150, cls_lr=1e-4, cls_weight_decay=1e-2,
                cls_batch_size=256,
            ),
            departs="the field kind's targets and loss (BCE on sigmoid-encoded distances) instead of clamped L1 on SDF values; "
            "constant rates (the paper halves them every 500 epochs); classifier: nf2vec's MLP recipe",
        ),
        "cpu": Preset(
            config=DeepSDFConfig(
                hidden=128, layers=4, latent=64, skip=2, dropout=0.0, code_init_std=0.01, code_reg=1e-4, epochs=150,
                lr=1e-3, code_lr=1e-3, batch_size=16, queries=2048, infer_steps=200, infer_lr=5e-3, infer_batch=64,
                resolution=64, cls_hidden=(256, 128), cls_dropout=0.5, cls_epochs=100, cls_lr=1e-3, cls_weight_decay=1e-2,
                cls_batch_size=64,
            ),
            departs="4 x 128 layers, codes of 64, 150 epochs of 2048 queries, 200 test-time steps, no dropout: minutes on one CPU thread",
        ),
        "tiny": Preset(
            config=DeepSDFConfig(
                hidden=16, layers=2, latent=8, skip=1, dropout=0.0, code_init_std=0.01, code_reg=1e-4, epochs=2, lr=1e-3,
                code_lr=1e-3, batch_size=4, queries=64, infer_steps=3, infer_lr=5e-3, infer_batch=8, resolution=16,
                cls_hidden=(8,), cls_dropout=0.0, cls_epochs=2, cls_lr=1e-3, cls_weight_decay=0.0, cls_batch_size=4,
            ),
            departs="2 x 16 layers, codes of 8, 2 epochs, 3 test-time steps: seconds, for tests",
        ),
    }

    def setup(self, info: DataInfo) -> None:
        cfg = self.config
        torch.manual_seed(self.seed)
        self.kind: FieldKind = FIELD_KINDS.get(info.field_kind)
        self.decoder = AutoDecoder(cfg.latent, info.spec.in_dim, info.spec.out_dim, cfg).to(self.device)
        self.classifier = bn_mlp(cfg.latent, cfg.cls_hidden, info.n_classes, cfg.cls_dropout).to(self.device)
        self.history = {}

    # ------------------------------------------------------------------ auto-decoding

    def train_decoder(self, train: View, progress: Progress | None) -> Tensor:
        """Fit the decoder and the train codes jointly; returns the train codes ``(N, latent)``."""
        cfg = self.config
        joint = _Joint(self.decoder, len(train), cfg.latent, cfg.code_init_std)

        def loss(model: nn.Module, batch: ViewBatch) -> Tensor:
            coords, targets = query_subset(batch.data, cfg.queries)
            codes = model.codes(batch.index)
            return self.kind.loss(model.decoder(codes, coords), targets).mean() + cfg.code_reg * codes.pow(2).sum(dim=1).mean()

        def adam(_: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
            groups = [{"params": joint.decoder.parameters(), "lr": lr}, {"params": joint.codes.parameters(), "lr": cfg.code_lr}]
            return torch.optim.Adam(groups, weight_decay=weight_decay)

        trainer = Trainer(
            TrainerConfig(epochs=cfg.epochs, lr=cfg.lr, seed=self.seed, checkpoint_dir=self.checkpoint_dir("auto-decoder")),
            joint, loss, device=self.device, optimizer=adam, progress=progress, description="deepsdf auto-decoder",
        )
        result = trainer.fit(train.loader(cfg.batch_size, shuffle=True, seed=self.seed))
        self.history.update(auto_decoder_epochs=result.epochs_run, train_codes=[len(train), cfg.latent])
        return joint.codes.weight.detach().clone()

    def infer_codes(self, view: View) -> tuple[Tensor, list[int]]:
        """Codes of the view's shapes with the decoder frozen, and the positions whose optimisation diverged twice."""
        self.decoder.eval()
        self.decoder.requires_grad_(False)
        try:
            return latents_of(view, self._optimise, self.config.infer_batch, self.device)
        finally:
            self.decoder.requires_grad_(True)

    def _optimise(self, batch: ViewBatch, scale: float) -> tuple[Tensor, Tensor]:
        cfg = self.config
        lr = cfg.infer_lr * scale
        gen = torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + int(batch.index[0]))
        z = (torch.randn(len(batch), cfg.latent, generator=gen, device=self.device) * cfg.code_init_std).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(cfg.infer_steps):
            c, t = query_subset(batch.data, cfg.queries, gen)
            per_shape = self.kind.loss(self.decoder(z, c), t) + cfg.code_reg * z.pow(2).sum(dim=1)
            opt.zero_grad()
            per_shape.sum().backward()  # shapes are independent: each code gets its own loss's gradient
            opt.step()
        z = z.detach()
        return z, ~torch.isfinite(z).all(dim=1) | ~torch.isfinite(per_shape.detach())

    # ------------------------------------------------------------------ capabilities

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        cfg = self.config
        start = time.perf_counter()
        train_codes = self.train_decoder(train, progress)
        val_codes, val_failed = self.infer_codes(val)
        self.history.update(
            auto_decoder_seconds=time.perf_counter() - start, val_codes_diverged=len(val_failed), latent_per_shape=cfg.latent
        )
        history = fit_classifier(
            self.classifier,
            TensorView(train, train_codes),
            TensorView(val, val_codes),
            TrainerConfig(
                epochs=cfg.cls_epochs, lr=cfg.cls_lr, weight_decay=cfg.cls_weight_decay, seed=self.seed,
                checkpoint_dir=self.checkpoint_dir("classifier"),
            ),
            batch_size=cfg.cls_batch_size, eval_batch_size=cfg.cls_batch_size, device=self.device, progress=progress,
        )
        self.history.update(history)

    def test_codes(self, view: View) -> Tensor:
        codes, failed = self.infer_codes(view)
        self.history["test_time"] = test_time_report(view, failed)
        return codes

    def predict(self, view: View) -> Tensor:
        return predict_view(self.classifier, self.classifier, TensorView(view, self.test_codes(view)), self.config.cls_batch_size, self.device)

    def embed(self, view: View) -> Tensor:
        return self.test_codes(view)

    def reconstruct(self, view: View, n_points: int) -> Tensor:
        codes = self.test_codes(view)
        self.decoder.eval()
        field_of = lambda b: (lambda coords: self.decoder(codes[b.index.cpu()].to(self.device), coords))  # noqa: E731
        return decode_clouds(view, self.kind, field_of, n_points, self.config.resolution, self.device, self.config.infer_batch, self.seed)

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        return {"decoder": self.decoder.state_dict(), "classifier": self.classifier.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decoder.load_state_dict(state["decoder"])
        self.classifier.load_state_dict(state["classifier"])

    def n_parameters(self) -> int:
        """The shared decoder and the classifier; each stored shape adds its code (``latent`` numbers)."""
        return sum(p.numel() for m in (self.decoder, self.classifier) for p in m.parameters())

    def n_training_parameters(self) -> int:
        """The train shapes' codes, fitted with the decoder."""
        n, latent = self.history.get("train_codes", (0, 0))
        return n * latent
