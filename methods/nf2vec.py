"""nf2vec / inr2vec: an encoder that maps the weights of one INR to one embedding vector.

The encoder reads the hidden-to-hidden layers as a matrix whose rows are the incoming
weights (plus bias) of the layers' units, embeds every row with a shared MLP and
max-pools over rows. It is trained without labels: an implicit decoder, conditioned on
the embedding, must reproduce the INR's own outputs at query points. Labels are used only
afterwards, by a small classifier on frozen embeddings.

Targets and query points come from the INRs alone, never from the shapes they were fitted
to: in nfbench the INRs are the data.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from einops import rearrange, reduce
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.decode.occ import OCC_THRESHOLD
from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.fields.functional import encode
from nfbench.method import Method, MethodCard
from nfbench.store.reader import INRDataset
from nfbench.training import batch_params, bn_mlp, epoch_batches, n_batches, optimizer_step, predict_logits, train_classifier

SURFACE_LEVEL: dict[str, float] = {"udf": 1.0, "sdf": 0.5, "occ": OCC_THRESHOLD}
"""``sigmoid(logit)`` on the surface of each 3-D field kind (udf targets peak there)."""

FIELD_KINDS = (*SURFACE_LEVEL, "image")


class Nf2VecConfig(BaseModel):
    """Both stages use AdamW with a OneCycle schedule peaking at their ``lr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoder_hidden: tuple[int, ...] = Field(min_length=1)
    embed_dim: int = Field(ge=1)
    decoder_hidden: int = Field(ge=1)
    n_freqs: int = Field(ge=0, description="positional-encoding frequencies of the decoder's queries")
    # reconstruction pretext
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1, description="INRs per pretext step")
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    points_per_inr: int = Field(ge=1, description="decoder queries per INR per step")
    uniform_fraction: float = Field(ge=0, le=1, description="share of queries drawn uniformly in [-1,1]^d")
    n_probe: int = Field(ge=1, description="uniform points each INR is probed at to find its surface")
    n_near: int = Field(ge=1, description="probe points kept per INR (closest to its surface)")
    near_sigma: float = Field(ge=0, description="Gaussian jitter of near-surface queries")
    # classifier on frozen embeddings
    cls_hidden: tuple[int, ...]
    cls_dropout: float = Field(ge=0, lt=1)
    cls_epochs: int = Field(ge=1)
    cls_lr: float = Field(gt=0)
    cls_weight_decay: float = Field(ge=0)
    cls_batch_size: int = Field(ge=2)
    eval_batch_size: int = Field(ge=1, description="INRs per chunk when probing or embedding")


_PAPER = Nf2VecConfig(
    encoder_hidden=(512, 512, 1024, 1024),
    embed_dim=1024,
    decoder_hidden=512,
    n_freqs=10,
    epochs=300,
    batch_size=16,
    lr=1e-4,
    weight_decay=1e-2,
    points_per_inr=8192,
    uniform_fraction=0.2,
    n_probe=65536,
    n_near=8192,
    near_sigma=0.01,
    cls_hidden=(512, 256),
    cls_dropout=0.5,
    cls_epochs=150,
    cls_lr=1e-4,
    cls_weight_decay=1e-2,
    cls_batch_size=256,
    eval_batch_size=8,
)


class RowEncoder(nn.Module):
    """Shared per-row MLP over the ``L(H+1) x H`` weight matrix, then max-pool over rows."""

    def __init__(self, row_width: int, hidden: Sequence[int], embed_dim: int) -> None:
        super().__init__()
        self.rows = bn_mlp(row_width, hidden, embed_dim, dropout=0.0)

    def forward(self, matrix: Tensor) -> Tensor:
        """``(B, R, H)`` -> ``(B, embed_dim)``; BatchNorm sees all ``B * R`` rows together."""
        feats = self.rows(rearrange(matrix, "b r h -> (b r) h"))
        return reduce(feats, "(b r) e -> b e", "max", b=matrix.shape[0])


def _split_linear(layer: nn.Linear, emb: Tensor, coords: Tensor) -> Tensor:
    """``layer(cat([emb broadcast over queries, coords]))`` without materializing the concat.

    The embedding part is computed once per INR instead of once per query.
    """
    e = emb.shape[-1]
    return F.linear(emb, layer.weight[:, :e], layer.bias).unsqueeze(1) + F.linear(coords, layer.weight[:, e:])


class ImplicitDecoder(nn.Module):
    """``[embedding, PE(x)] -> 4 x ReLU(hidden) -> out``, the input also added before the third layer."""

    n_layers = 4
    skip_at = 2

    def __init__(self, embed_dim: int, coord_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        in_dim = embed_dim + coord_dim
        self.layers = nn.ModuleList(nn.Linear(in_dim if i == 0 else hidden, hidden) for i in range(self.n_layers))
        self.skip = nn.Linear(in_dim, hidden)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, emb: Tensor, coords: Tensor) -> Tensor:
        """``emb (B, E)``, encoded ``coords (B, N, C)`` -> ``(B, N, out_dim)``."""
        h = F.relu(_split_linear(self.layers[0], emb, coords))
        for i in range(1, self.n_layers):
            if i == self.skip_at:
                h = h + F.relu(_split_linear(self.skip, emb, coords))
            h = F.relu(self.layers[i](h))
        return self.out(h)


def encoder_matrix(spec: FieldSpec, params: Params) -> Tensor:
    """``(B, L(H+1), H)``: per hidden-to-hidden layer, its transposed weight then its bias row.

    Column ``j`` then holds everything that feeds unit ``j`` of the layer (incoming weights
    and bias), so the rows are the layer's input units plus one bias row.
    """
    blocks = [
        torch.cat([params[f"layers.{i}.weight"].transpose(1, 2), params[f"layers.{i}.bias"].unsqueeze(1)], dim=1)
        for i in range(1, spec.depth)
    ]
    return torch.cat(blocks, dim=1)


def pretext_loss(field_kind: str, pred: Tensor, target_logits: Tensor) -> Tensor:
    """MSE against the INR's values for images; for 3-D fields, BCE against its probabilities
    minus their own entropy (the KL divergence): the gradients of plain BCE, but 0 at a
    perfect reconstruction, so logged losses mean the same on every dataset."""
    if field_kind == "image":
        return F.mse_loss(pred, target_logits)
    p = torch.sigmoid(target_logits)
    return F.binary_cross_entropy_with_logits(pred, p) - F.binary_cross_entropy_with_logits(target_logits, p)


class Nf2Vec(Method):
    card = MethodCard(
        name="nf2vec",
        description="Row-wise MLP + max-pool encoder of INR weights, trained by reconstructing the INR "
        "with an implicit decoder; MLP classifier on frozen embeddings.",
        reference="De Luigi et al., Deep Learning on Implicit Neural Representations of Shapes, ICLR 2023; "
        "Zama Ramirez et al., Deep Learning on Object-centric 3D Neural Fields, TPAMI 2024",
        input_kind="weights",
        tasks=("classify", "retrieve"),
    )
    presets = {
        # inr2vec/nf2vec settings (DESIGN.md); pretext epochs, query counts and probing are ours.
        "paper": _PAPER.model_dump(),
        # Same structure scaled to the cpu field preset (SIREN 3 -> 64 x4 -> 1) on 2 cores; tuned on 240
        # ModelNet10-class udf INRs (decoder width, queries and epochs bound the pretext cost).
        "cpu": _PAPER.model_copy(
            update=dict(
                encoder_hidden=(128, 128, 256, 256), embed_dim=256, decoder_hidden=128, epochs=80,
                batch_size=16, lr=3e-3, points_per_inr=512, n_probe=8192, n_near=1024, near_sigma=0.02,
                cls_hidden=(256, 128), cls_epochs=150, cls_lr=1e-3, cls_batch_size=64, eval_batch_size=32,
            )
        ).model_dump(),
        # Unit tests: seconds.
        "tiny": _PAPER.model_copy(
            update=dict(
                encoder_hidden=(32, 32), embed_dim=32, decoder_hidden=32, n_freqs=4, epochs=3, batch_size=8,
                lr=3e-3, points_per_inr=256, n_probe=1024, n_near=128, near_sigma=0.05, cls_hidden=(32,),
                cls_dropout=0.1, cls_epochs=30, cls_lr=1e-2, cls_batch_size=16, eval_batch_size=16,
            )
        ).model_dump(),
    }

    def __init__(self, config: dict[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        self.cfg = Nf2VecConfig.model_validate(config)
        self.history: dict[str, Any] = {}
        self._embeddings: weakref.WeakKeyDictionary[Any, dict[str, Tensor]] = weakref.WeakKeyDictionary()

    # ------------------------------------------------------------------ networks

    def setup(self, spec: FieldSpec, field_kind: str, n_classes: int) -> None:
        if spec.depth < 2:
            raise ValueError(
                f"nf2vec encodes the hidden-to-hidden layers of an INR; {spec.kind} with depth {spec.depth} has none "
                "(needs depth >= 2)"
            )
        if field_kind not in FIELD_KINDS:
            raise ValueError(f"nf2vec supports fields {FIELD_KINDS}, not {field_kind!r}")
        cfg = self.cfg
        self.spec, self.field_kind = spec, field_kind
        self.query_spec = spec.model_copy(update={"encoding": "freq", "n_freqs": cfg.n_freqs})
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # same init on every device
            self.encoder = RowEncoder(spec.hidden, cfg.encoder_hidden, cfg.embed_dim)
            self.decoder = ImplicitDecoder(cfg.embed_dim, self.query_spec.encoded_dim, cfg.decoder_hidden, spec.out_dim)
            self.classifier = bn_mlp(cfg.embed_dim, cfg.cls_hidden, n_classes, cfg.cls_dropout)
        for net in (self.encoder, self.decoder, self.classifier):
            net.to(self.device)
        self._embeddings.clear()

    def n_parameters(self) -> int:
        return sum(p.numel() for net in (self.encoder, self.decoder, self.classifier) for p in net.parameters())

    # ------------------------------------------------------------------ pretext

    @torch.no_grad()
    def surface_candidates(self, params: Params, gen: torch.Generator) -> Tensor:
        """``(N, n_near, d)``: of ``n_probe`` uniform points, those where each INR is closest to its surface.

        Images have no surface: their queries are all uniform, so this returns no points.
        """
        n = params["layers.0.weight"].shape[0]
        d = self.spec.in_dim
        if self.field_kind == "image":
            return torch.zeros(n, 0, d)
        level = SURFACE_LEVEL[self.field_kind]
        out = []
        for idx in torch.arange(n).split(self.cfg.eval_batch_size):
            probe = torch.rand(len(idx), self.cfg.n_probe, d, generator=gen, device=self.device) * 2 - 1
            logits = batched_forward(self.spec, batch_params(params, idx, self.device), probe)[..., 0]  # one output
            nearest = (torch.sigmoid(logits) - level).abs().topk(self.cfg.n_near, dim=1, largest=False).indices
            out.append(torch.gather(probe, 1, nearest.unsqueeze(-1).expand(-1, -1, d)))
        return torch.cat(out).to(params["layers.0.weight"].device)

    def sample_queries(self, candidates: Tensor, gen: torch.Generator) -> Tensor:
        """Jittered near-surface candidates mixed with uniform points, clipped to ``[-1, 1]^d``."""
        b, k, d = candidates.shape
        n_near = round(self.cfg.points_per_inr * (1 - self.cfg.uniform_fraction)) if k else 0
        uniform = torch.rand(b, self.cfg.points_per_inr - n_near, d, generator=gen, device=self.device) * 2 - 1
        if n_near == 0:
            return uniform
        pick = torch.randint(k, (b, n_near, 1), generator=gen, device=self.device).expand(-1, -1, d)
        near = torch.gather(candidates, 1, pick)
        near = near + self.cfg.near_sigma * torch.randn(near.shape, generator=gen, device=self.device)
        return torch.cat([near, uniform], dim=1).clamp(-1, 1)

    def reconstruct(self, emb: Tensor, coords: Tensor) -> Tensor:
        """Decoder output (logits for 3-D fields) at raw coordinates ``(B, N, d)``."""
        return self.decoder(emb, encode(self.query_spec, coords))

    def train_pretext(self, params: Params, progress: Progress | None = None) -> list[float]:
        """Fit encoder + decoder to reproduce each training INR; returns the mean loss per epoch."""
        cfg = self.cfg
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        order_gen = torch.Generator().manual_seed(self.seed)
        n = params["layers.0.weight"].shape[0]
        candidates = self.surface_candidates(params, gen)
        nets = nn.ModuleList([self.encoder, self.decoder]).train()
        opt = torch.optim.AdamW(nets.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * n_batches(n, cfg.batch_size))
        task = progress.add_task("nf2vec pretext", total=cfg.epochs * n, unit="INR") if progress else None
        losses: list[float] = []
        for epoch in range(cfg.epochs):
            epoch_loss = []
            for idx in epoch_batches(n, cfg.batch_size, order_gen):
                batch = batch_params(params, idx, self.device)
                coords = self.sample_queries(candidates[idx].to(self.device), gen)
                with torch.no_grad():
                    target = batched_forward(self.spec, batch, coords)
                loss = pretext_loss(self.field_kind, self.reconstruct(self.encoder(encoder_matrix(self.spec, batch)), coords), target)
                optimizer_step(loss, opt, sched, f"nf2vec pretext epoch {epoch}")
                epoch_loss.append(loss.detach())
                if progress is not None and task is not None:
                    progress.update(task, advance=len(idx))
            losses.append(float(torch.stack(epoch_loss).mean()))
        return losses

    # ------------------------------------------------------------------ embeddings + classifier

    @torch.no_grad()
    def encode_weights(self, params: Params) -> Tensor:
        """Embeddings ``(N, embed_dim)`` in eval mode, chunked over INRs; on ``self.device``."""
        self.encoder.eval()
        n = params["layers.0.weight"].shape[0]
        chunks = torch.arange(n).split(self.cfg.eval_batch_size)
        return torch.cat([self.encoder(encoder_matrix(self.spec, batch_params(params, idx, self.device))) for idx in chunks])

    def _embedding(self, data: INRDataset, split: str) -> Tensor:
        """Cached per dataset object and split: classify and retrieve share one encoder pass."""
        cache = self._embeddings.setdefault(data, {})
        if split not in cache:
            cache[split] = self.encode_weights(data.weights(split))
        return cache[split]

    def fit(self, data: INRDataset, progress: Progress | None = None) -> None:
        start = time.perf_counter()
        pretext = self.train_pretext(data.weights("train"), progress)
        pretext_seconds = time.perf_counter() - start
        self._embeddings.pop(data, None)
        result = train_classifier(
            self.classifier,
            self._embedding(data, "train"),
            data.labels("train"),
            self._embedding(data, "val"),
            data.labels("val"),
            epochs=self.cfg.cls_epochs,
            lr=self.cfg.cls_lr,
            weight_decay=self.cfg.cls_weight_decay,
            batch_size=self.cfg.cls_batch_size,
            seed=self.seed,
            device=self.device,
            progress=progress,
            description="nf2vec classifier",
        )
        self.history = {
            "pretext_loss": pretext,
            "pretext_seconds": pretext_seconds,
            "classifier_val_accuracy": result.best_val_accuracy,
            "classifier_best_epoch": result.best_epoch,
            "classifier_seconds": result.train_seconds,
        }

    def embed(self, data: INRDataset, split: str) -> Tensor:
        return self._embedding(data, split).cpu()

    def predict(self, data: INRDataset, split: str) -> Tensor:
        return predict_logits(self.classifier, self._embedding(data, split), self.cfg.cls_batch_size).cpu()

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.state_dict(),
            "decoder": self.decoder.state_dict(),
            "classifier": self.classifier.state_dict(),
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.decoder.load_state_dict(state["decoder"])
        self.classifier.load_state_dict(state["classifier"])
        self.history = dict(state["history"])
        self._embeddings.clear()
