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

from typing import Any

import torch
from pydantic import Field
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from nfbench.api import DataInfo, MethodCard, Preset, View
from nfbench.api.view import ViewBatch
from nfbench.decode.common import FieldFn
from nfbench.device import items_per_block
from nfbench.training.latent_codes import backward_by_blocks, query_subset
from nfbench.training.latent_method import LatentConfig, LatentMethod
from nfbench.training.trainer import Trainer, TrainerConfig


class DeepSDFConfig(LatentConfig):
    hidden: int = Field(ge=1, description="width of every hidden layer")
    layers: int = Field(ge=2, description="hidden layers")
    skip: int = Field(ge=1, description="hidden layer whose input gets the code and query again (the latent skip)")
    dropout: float = Field(ge=0, lt=1)
    code_init_std: float = Field(gt=0, description="codes start from N(0, std^2)")
    code_reg: float = Field(ge=0, description="weight of the squared code norm (the Gaussian prior on codes)")
    epochs: int = Field(ge=1)
    lr: float = Field(gt=0, description="Adam rate of the network")
    code_lr: float = Field(gt=0, description="Adam rate of the train codes")
    batch_size: int = Field(ge=2, description="shapes per step")
    queries: int = Field(ge=1, description="supervision queries per shape and step (a random subset)")
    infer_steps: int = Field(ge=1, description="test-time optimisation steps per shape")
    infer_lr: float = Field(gt=0)


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


class DeepSDF(LatentMethod):
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
                lr=5e-4, code_lr=1e-3, batch_size=64, queries=16384, infer_steps=800, infer_lr=5e-3, latent_batch=32,
                resolution=128, cls_hidden=(512, 256), cls_dropout=0.5, cls_epochs=150, cls_lr=1e-4, cls_weight_decay=1e-2,
                cls_batch_size=256,
            ),
            departs="the field kind's targets and loss (BCE on sigmoid-encoded distances) instead of clamped L1 on SDF values; "
            "constant rates (the paper halves them every 500 epochs); classifier: nf2vec's MLP recipe",
        ),
        "cpu": Preset(
            config=DeepSDFConfig(
                hidden=128, layers=4, latent=64, skip=2, dropout=0.0, code_init_std=0.01, code_reg=1e-4, epochs=150,
                lr=1e-3, code_lr=1e-3, batch_size=16, queries=2048, infer_steps=200, infer_lr=5e-3, latent_batch=64,
                resolution=64, cls_hidden=(256, 128), cls_dropout=0.5, cls_epochs=100, cls_lr=1e-3, cls_weight_decay=1e-2,
                cls_batch_size=64,
            ),
            departs="4 x 128 layers, codes of 64, 150 epochs of 2048 queries, 200 test-time steps, no dropout: minutes on one CPU thread",
        ),
        "tiny": Preset(
            config=DeepSDFConfig(
                hidden=16, layers=2, latent=8, skip=1, dropout=0.0, code_init_std=0.01, code_reg=1e-4, epochs=2, lr=1e-3,
                code_lr=1e-3, batch_size=4, queries=64, infer_steps=3, infer_lr=5e-3, latent_batch=8, resolution=16,
                cls_hidden=(8,), cls_dropout=0.0, cls_epochs=2, cls_lr=1e-3, cls_weight_decay=0.0, cls_batch_size=4,
            ),
            departs="2 x 16 layers, codes of 8, 2 epochs, 3 test-time steps: seconds, for tests",
        ),
    }

    def build(self, info: DataInfo) -> nn.Module:
        return AutoDecoder(self.config.latent, info.spec.in_dim, info.spec.out_dim, self.config)

    def fit_shared(self, train: View, progress: Progress | None) -> tuple[Tensor | None, dict[str, Any]]:
        """Auto-decoding: the decoder and the train codes fitted jointly; the train codes are its result."""
        cfg = self.config
        joint = _Joint(self.net, len(train), cfg.latent, cfg.code_init_std)

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
        return joint.codes.weight.detach().clone(), {"auto_decoder_epochs": result.epochs_run, "train_codes": [len(train), cfg.latent]}

    def optimise(self, batch: ViewBatch, scale: float) -> tuple[Tensor, Tensor]:
        """Test-time optimisation: Adam on each shape's code under the code prior, the decoder fixed."""
        cfg = self.config
        gen = self.batch_generator(batch)
        z = (torch.randn(len(batch), cfg.latent, generator=gen, device=self.device) * cfg.code_init_std).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=cfg.infer_lr * scale)
        with torch.enable_grad():
            for _ in range(cfg.infer_steps):
                c, t = query_subset(batch.data, cfg.queries, gen)
                opt.zero_grad()
                per_shape = backward_by_blocks(  # shapes are independent: each code gets its own loss's gradient
                    lambda s, c=c, t=t: self.kind.loss(self.net(z[s], c[s]), t[s]) + cfg.code_reg * z[s].pow(2).sum(dim=1),
                    len(batch), items_per_block(self.device, c.shape[1]),
                )
                opt.step()
        z = z.detach()
        return z, ~torch.isfinite(z).all(dim=1) | ~torch.isfinite(per_shape)

    def field(self, latents: Tensor) -> FieldFn:
        return lambda coords: self.net(latents, coords)

    def n_training_parameters(self) -> int:
        """The train shapes' codes, fitted with the decoder."""
        n, latent = self.history.get("train_codes", (0, 0))
        return n * latent
