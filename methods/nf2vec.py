"""nf2vec / inr2vec: an encoder that maps the weights of one INR to one embedding vector.

The encoder reads the hidden-to-hidden layers as a matrix of rows of width H (each
layer's weight rows, then its bias as one more row), embeds every row with a shared MLP
and max-pools over rows. It is trained without labels: an implicit decoder, conditioned on
the embedding, must reproduce the INR's own outputs at query points. Labels are used only
afterwards, by a small classifier on frozen embeddings.

The defaults follow the released inr2vec / nf2vec code where it differs from the papers'
text or from earlier nfbench versions; each such choice is a config field, so the earlier
behaviour stays selectable with ``--set`` and the record's config hash tells them apart:
``matrix_rows``, ``decoder_layers`` / ``decoder_skip_after``, ``query_encoding`` and
``cls_mix_same_class``.

Targets and query points come from the INRs alone (the weights view), never from the
shapes they were fitted to: in nfbench the INRs are the data.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import torch
from einops import rearrange, reduce
from pydantic import Field, ValidationInfo, field_validator
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.api import DataInfo, Method, MethodCard, MethodConfig, Preset, View, ViewBatch
from nfbench.decode.clouds import decode_clouds
from nfbench.decode.common import FieldFn, no_surface_items
from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params, batched_forward
from nfbench.fields.functional import encode
from nfbench.fields.kinds import FIELD_KINDS, FieldKind
from nfbench.fitting.streams import ItemStreams, position_seed
from nfbench.training import bn_mlp
from nfbench.training.evaluation import predict_view
from nfbench.training.supervised import fit_classifier
from nfbench.training.trainer import Trainer, TrainerConfig, one_cycle
from nfbench.views.tensor import TensorView

MatrixRows = Literal["unit_inputs", "input_units"]


def query_spec(spec: FieldSpec, n_freqs: int) -> FieldSpec:
    """``spec`` with a frequency encoding of ``n_freqs``: the width both query encodings share."""
    return spec.model_copy(update={"encoding": "freq", "n_freqs": n_freqs})


class Nf2VecConfig(MethodConfig):
    """Both stages use AdamW with a OneCycle schedule peaking at their ``lr``."""

    encoder_hidden: tuple[int, ...] = Field(min_length=1)
    embed_dim: int = Field(ge=1)
    matrix_rows: MatrixRows = Field(
        description="encoder rows: 'unit_inputs' (released) = a unit's incoming weights, i.e. the rows of "
        "each layer's (out x in) weight; 'input_units' (nfbench < issue 8) = the rows of its transpose"
    )
    decoder_hidden: int = Field(ge=1)
    decoder_layers: int = Field(ge=2, description="hidden ReLU layers of the implicit decoder (released: 5)")
    decoder_skip_after: int = Field(ge=1, description="the projected input is added after this many hidden layers (released: 3)")
    n_freqs: int = Field(ge=0, description="positional-encoding frequencies of the decoder's queries")
    query_encoding: Literal["nf2vec", "field"] = Field(
        description="'nf2vec' (released): [x, sin(2^k x), cos(2^k x)]; 'field': the INRs' own encoding, "
        "with the factor pi (nfbench < issue 8)"
    )
    # reconstruction pretext
    epochs: int = Field(
        ge=0,
        description="pretext epochs; 0 skips the pretext, so the classifier reads embeddings of the encoder at its "
        "seeded random initialization (the random-features probe that tells what the pretext adds)",
    )
    batch_size: int = Field(ge=2, description="INRs per pretext step")
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    points_per_inr: int = Field(ge=1, description="decoder queries per INR per step")
    uniform_fraction: float = Field(ge=0, le=1, description="share of queries drawn uniformly in [-1,1]^d")
    n_probe: int = Field(ge=1, description="uniform points each INR is probed at to find its surface")
    n_near: int = Field(ge=1, description="probe points kept per INR (closest to its surface)")
    near_sigma: float = Field(ge=0, description="Gaussian jitter of near-surface queries")
    pretext_targets: Literal["auto", "source", "field"] = Field(
        description="'source' (released): regress the source shape's field (its fitting targets, recomputed from the "
        "stored source) at queries near the stored cloud; 'field' (nfbench < issue 8): distil the INR's own outputs at "
        "queries near its probed surface; 'auto': source where the field kind can recompute it from what the dataset "
        "stores (udf, occ, image), else field (sdf: no mesh is stored)"
    )
    pretext_select: bool = Field(
        description="keep the pretext epoch whose decoder, conditioned on val embeddings, best reconstructs the stored "
        "val sources by the field kind's fit quality (Chamfer distance for clouds) (released: best val reconstruction)"
    )
    select_items: int = Field(ge=1, description="val INRs (the first ones) reconstructed each epoch for the selection")
    select_resolution: int = Field(ge=8, description="grid of grid-based decoders (sdf, occ) in the selection")
    # classifier on frozen embeddings
    cls_hidden: tuple[int, ...]
    cls_dropout: float = Field(ge=0, lt=1)
    cls_epochs: int = Field(ge=1)
    cls_lr: float = Field(gt=0)
    cls_weight_decay: float = Field(ge=0)
    cls_batch_size: int = Field(ge=2)
    cls_mix_same_class: bool = Field(
        description="append to each training batch a coordinate-wise mix of each embedding with a same-class "
        "one (released; see mix_same_class)"
    )
    eval_batch_size: int = Field(ge=1, description="INRs per chunk when probing or embedding")
    amp: bool = Field(False, description="CUDA mixed precision for the pretext (no effect on CPU)")

    @field_validator("decoder_skip_after")
    @classmethod
    def _skip_inside_decoder(cls, value: int, info: ValidationInfo) -> int:
        """The skip must land between two hidden layers; the error then names this option."""
        layers = info.data.get("decoder_layers")
        if layers is not None and value >= layers:
            raise ValueError(f"must be below decoder_layers ({layers})")
        return value


_PAPER = Nf2VecConfig(
    encoder_hidden=(512, 512, 1024, 1024),
    embed_dim=1024,
    matrix_rows="unit_inputs",
    decoder_hidden=512,
    decoder_layers=5,
    decoder_skip_after=3,
    n_freqs=10,
    query_encoding="nf2vec",
    epochs=300,
    batch_size=16,
    lr=1e-4,
    weight_decay=1e-2,
    points_per_inr=8192,
    uniform_fraction=0.2,
    n_probe=65536,
    n_near=8192,
    near_sigma=0.01,
    pretext_targets="auto",
    pretext_select=True,
    select_items=64,
    select_resolution=64,
    cls_hidden=(512, 256),
    cls_dropout=0.5,
    cls_epochs=150,
    cls_lr=1e-4,
    cls_weight_decay=1e-2,
    cls_batch_size=256,
    cls_mix_same_class=True,
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
    """``[embedding, PE(x)] -> n_layers x ReLU(hidden) -> out``, with an additive skip of the input.

    The skip (the input through its own ReLU projection) is added to the activations after
    ``skip_after`` hidden layers: the released code uses 5 layers, skip after the third.
    """

    def __init__(self, embed_dim: int, coord_dim: int, hidden: int, out_dim: int, n_layers: int, skip_after: int) -> None:
        super().__init__()
        in_dim = embed_dim + coord_dim
        self.skip_after = skip_after
        self.layers = nn.ModuleList(nn.Linear(in_dim if i == 0 else hidden, hidden) for i in range(n_layers))
        self.skip = nn.Linear(in_dim, hidden)
        self.out = nn.Linear(hidden, out_dim)

    def forward(self, emb: Tensor, coords: Tensor) -> Tensor:
        """``emb (B, E)``, encoded ``coords (B, N, C)`` -> ``(B, N, out_dim)``."""
        h = F.relu(_split_linear(self.layers[0], emb, coords))
        for i, layer in enumerate(self.layers[1:], start=1):
            if i == self.skip_after:
                h = h + F.relu(_split_linear(self.skip, emb, coords))
            h = F.relu(layer(h))
        return self.out(h)


def encoder_matrix(spec: FieldSpec, params: Params, rows: MatrixRows = "unit_inputs") -> Tensor:
    """``(B, L(H+1), H)``: per hidden-to-hidden layer, ``H`` weight rows then its bias as one row.

    ``unit_inputs`` (released): the rows of the ``(out, in)`` weight, so row ``j`` is what
    feeds unit ``j``; this is the released code's reshape of the flat state-dict parameters
    into rows of ``H``. ``input_units``: the rows of the transposed weight, so row ``i`` is
    what input unit ``i`` sends to every unit of the layer.
    """
    blocks = []
    for i in range(1, spec.depth):
        weight = params[f"layers.{i}.weight"]
        blocks += [weight if rows == "unit_inputs" else weight.transpose(1, 2), params[f"layers.{i}.bias"].unsqueeze(1)]
    return torch.cat(blocks, dim=1)


def nf2vec_encoding(x: Tensor, n_freqs: int) -> Tensor:
    """``[x, sin(x), cos(x), sin(2x), cos(2x), ..., cos(2^(n_freqs-1) x)]``, no factor pi.

    Per frequency the sines of all coordinates come first, then their cosines, in the
    released code's order. Without pi the lowest frequency spans less than one period over
    ``[-1, 1]``, unlike the NeRF-style encoding of the fields (``fields.functional.encode``).
    """
    freqs = 2.0 ** torch.arange(n_freqs, device=x.device, dtype=x.dtype)
    scaled = freqs.unsqueeze(-1) * x.unsqueeze(-2)  # (..., n_freqs, d)
    return torch.cat([x, torch.stack([scaled.sin(), scaled.cos()], dim=-2).flatten(-3)], dim=-1)


def mix_same_class(batch: ViewBatch) -> ViewBatch:
    """The batch plus, for items with more than two same-class items in it, one mixed copy each.

    A copy of embedding ``e_i`` takes each coordinate from ``e_j`` with probability ``1 - t``
    and keeps ``e_i``'s otherwise, where ``j`` is drawn uniformly among the batch's items of
    ``i``'s class (``i`` included) and ``t ~ U(0, 1)`` per item: the released classifier's
    augmentation, which enlarges the batch rather than replacing it. Draws from torch's
    global RNG, which the Trainer checkpoints.
    """
    emb, labels = batch.data, batch.labels
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    keep = same.sum(1) > 2
    partner = torch.rand(same.shape, device=emb.device).masked_fill(~same, -1).argmax(1)
    from_partner = torch.rand(emb.shape, device=emb.device) >= torch.rand(len(emb), 1, device=emb.device)
    mixed = torch.where(from_partner, emb[partner], emb)[keep]
    return ViewBatch(torch.cat([emb, mixed]), torch.cat([labels, labels[keep]]), torch.cat([batch.index, batch.index[keep]]))


CLOUD = "points"
"""The stored reference cloud: the released pretext samples its queries near it."""


def pretext_sources(kind: FieldKind) -> tuple[str, ...]:
    """Stored source tensors the released pretext reads: the kind's targets, and the cloud to
    sample near-surface queries around (kinds without a surface sample uniformly)."""
    return tuple(dict.fromkeys([*kind.source_target_inputs, *([CLOUD] if kind.surface_level is not None else [])]))


class Autoencoder(nn.Module):
    """Encoder + implicit decoder as one module, so DDP sees one forward per step."""

    def __init__(self, spec: FieldSpec, config: Nf2VecConfig, encoder: RowEncoder, decoder: ImplicitDecoder) -> None:
        super().__init__()
        self.spec, self.rows, self.n_freqs = spec, config.matrix_rows, config.n_freqs
        self.query_spec = query_spec(spec, config.n_freqs)
        self.field_encoding = config.query_encoding == "field"
        self.encoder, self.decoder = encoder, decoder

    def embed(self, params: Params) -> Tensor:
        """``(B, embed_dim)`` embeddings of the INRs ``params``."""
        return self.encoder(encoder_matrix(self.spec, params, self.rows))

    def encode_queries(self, coords: Tensor) -> Tensor:
        """The decoder's positional encoding of raw coordinates, as ``query_encoding`` selects."""
        return encode(self.query_spec, coords) if self.field_encoding else nf2vec_encoding(coords, self.n_freqs)

    def forward(self, params: Params, coords: Tensor) -> Tensor:
        """Decoder output at raw coordinates ``(B, N, d)`` for the INRs ``params``."""
        return self.decoder(self.embed(params), self.encode_queries(coords))


class Nf2Vec(Method):
    card = MethodCard(
        name="nf2vec",
        description="Row-wise MLP + max-pool encoder of INR weights, trained by reconstructing the INR "
        "with an implicit decoder; MLP classifier on frozen embeddings.",
        reference="De Luigi et al., Deep Learning on Implicit Neural Representations of Shapes, ICLR 2023; "
        "Zama Ramirez et al., Deep Learning on Object-centric 3D Neural Fields, TPAMI 2024",
        view="weights",
        field_kinds=("udf", "sdf", "occ", "image"),
        training="self-supervised",
        symmetry="none",
    )
    Config = Nf2VecConfig
    config: Nf2VecConfig
    presets = {
        "paper": Preset(
            config=_PAPER,
            departs="pretext epochs, queries per INR and surface probing are nfbench's (the paper regresses source-shape labels)",
        ),
        "cpu": Preset(
            config=_PAPER.model_copy(
                update=dict(
                    encoder_hidden=(128, 128, 256, 256), embed_dim=256, decoder_hidden=128, epochs=80,
                    batch_size=16, lr=3e-3, points_per_inr=512, n_probe=8192, n_near=1024, near_sigma=0.02,
                    select_items=16, select_resolution=32,
                    cls_hidden=(256, 128), cls_epochs=150, cls_lr=1e-3, cls_batch_size=64, eval_batch_size=32,
                )
            ),
            departs="widths / 4, 512 queries per INR, 80 pretext epochs, lr 3e-3: sized for the cpu field preset on 2 cores",
        ),
        "tiny": Preset(
            config=_PAPER.model_copy(
                update=dict(
                    encoder_hidden=(32, 32), embed_dim=32, decoder_hidden=32, n_freqs=4, epochs=3, batch_size=8,
                    lr=3e-3, points_per_inr=256, n_probe=1024, n_near=128, near_sigma=0.05, cls_hidden=(32,),
                    select_items=4, select_resolution=16,
                    cls_dropout=0.1, cls_epochs=30, cls_lr=1e-2, cls_batch_size=16, eval_batch_size=16,
                )
            ),
            departs="a few thousand parameters and 3 pretext epochs: seconds, for tests",
        ),
    }

    def setup(self, info: DataInfo) -> None:
        spec = info.spec
        if spec.depth < 2:
            raise ConfigError(
                f"nf2vec encodes the hidden-to-hidden layers of an INR; {spec.kind} with depth {spec.depth} has none "
                "(needs depth >= 2)"
            )
        cfg = self.config
        self.spec, self.kind = spec, FIELD_KINDS.get(info.field_kind)
        coord_dim = query_spec(spec, cfg.n_freqs).encoded_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # same init on every device
            encoder = RowEncoder(spec.hidden, cfg.encoder_hidden, cfg.embed_dim)
            decoder = ImplicitDecoder(
                cfg.embed_dim, coord_dim, cfg.decoder_hidden, spec.out_dim, cfg.decoder_layers, cfg.decoder_skip_after
            )
            self.autoencoder = Autoencoder(spec, cfg, encoder, decoder).to(self.device)
            self.classifier = bn_mlp(cfg.embed_dim, cfg.cls_hidden, info.n_classes, cfg.cls_dropout).to(self.device)

    @staticmethod
    def resolved_targets(config: Nf2VecConfig, kind: FieldKind) -> Literal["source", "field"]:
        if config.pretext_targets == "auto":
            return "source" if kind.source_target_inputs else "field"
        return config.pretext_targets

    @classmethod
    def training_sources(cls, config: Nf2VecConfig, info: DataInfo) -> tuple[str, ...]:  # type: ignore[override]
        """The source tensors the pretext regresses (and samples its queries near), and those the
        model selection compares with: train and val only, and the record lists them."""
        if config.epochs == 0:  # no pretext: nothing reads the sources
            return ()
        kind = FIELD_KINDS.get(info.field_kind)
        names: list[str] = []
        if cls.resolved_targets(config, kind) == "source":
            names += pretext_sources(kind)
        if config.pretext_select:
            names += kind.quality_inputs
        return tuple(dict.fromkeys(names))

    @property
    def encoder(self) -> RowEncoder:
        return self.autoencoder.encoder

    def n_parameters(self) -> int:
        """Encoder and classifier: what classifying or embedding an INR runs."""
        return sum(p.numel() for net in (self.encoder, self.classifier) for p in net.parameters())

    def n_training_parameters(self) -> int:
        """The implicit decoder, used only by the pretext."""
        return sum(p.numel() for p in self.autoencoder.decoder.parameters())

    # ------------------------------------------------------------------ pretext

    @torch.no_grad()
    def surface_candidates(self, view: View) -> Tensor:
        """``(N, n_near, d)``: of ``n_probe`` uniform points, those where each INR is closest to its surface.

        Fields without a surface (images) have no candidates: their queries are all uniform.
        """
        d, level = self.spec.in_dim, self.kind.surface_level
        if level is None:
            return torch.zeros(len(view), 0, d)
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        out = []
        for batch in view.batches(self.config.eval_batch_size):
            params = batch.to(self.device).data
            probe = torch.rand(len(batch), self.config.n_probe, d, generator=gen, device=self.device) * 2 - 1
            logits = batched_forward(self.spec, params, probe)[..., 0]
            nearest = (torch.sigmoid(logits) - level).abs().topk(self.config.n_near, dim=1, largest=False).indices
            out.append(torch.gather(probe, 1, nearest.unsqueeze(-1).expand(-1, -1, d)).cpu())
        return torch.cat(out)

    def sample_queries(self, candidates: Tensor) -> Tensor:
        """Jittered near-surface candidates mixed with uniform points, clipped to ``[-1, 1]^d``.

        Draws from torch's global RNG, which the Trainer checkpoints: a resumed pretext
        replays the same queries.
        """
        b, k, d = candidates.shape
        n_near = round(self.config.points_per_inr * (1 - self.config.uniform_fraction)) if k else 0
        uniform = torch.rand(b, self.config.points_per_inr - n_near, d, device=self.device) * 2 - 1
        if n_near == 0:
            return uniform
        pick = torch.randint(k, (b, n_near, 1), device=self.device).expand(-1, -1, d)
        near = torch.gather(candidates, 1, pick)
        near = near + self.config.near_sigma * torch.randn(near.shape, device=self.device)
        return torch.cat([near, uniform], dim=1).clamp(-1, 1)

    def field_pretext_loss(self, model: nn.Module, batch: Any, candidates: Tensor) -> Tensor:
        """nfbench's pretext: reproduce the INR's own outputs near its probed surface."""
        coords = self.sample_queries(candidates[batch.index.cpu()].to(self.device))
        with torch.no_grad():
            target = batched_forward(self.spec, batch.data, coords)
        return self.kind.distill_loss(model(batch.data, coords), target)

    def source_pretext_loss(self, model: nn.Module, batch: Any, train: View) -> Tensor:
        """The released pretext: the source shape's fitting targets, with the fitting loss, at queries
        near its stored cloud (uniform only for kinds without a surface)."""
        source = {name: train.training_source(batch.index, name).to(self.device) for name in pretext_sources(self.kind)}
        near = source.get(CLOUD, torch.zeros(len(batch), 0, self.spec.in_dim))
        coords = self.sample_queries(near.to(self.device))
        target = self.kind.source_targets(source, coords)
        return self.kind.loss(model(batch.data, coords), target).mean()

    def selection_set(self, val: View) -> tuple[Params, Tensor, list[int]]:
        """The first ``select_items`` val INRs, their stored-source reference and per-item decode
        seeds: read once per pretext, scored every epoch."""
        index = torch.arange(min(self.config.select_items, len(val)))
        params = val.__getitems__(index.tolist()).to(self.device).data
        source = {name: val.training_source(index, name) for name in self.kind.quality_inputs}
        seeds = [position_seed(self.seed, int(i)) for i in index]
        return params, self.kind.quality_reference(source, self.device), seeds

    def decoded_field(self, params: Params) -> FieldFn:
        """The implicit decoder conditioned on the embeddings of the INRs ``params``: nf2vec's own field of each shape."""
        with torch.no_grad():
            emb = self.autoencoder.embed(params)
        return lambda coords: self.autoencoder.decoder(emb, self.autoencoder.encode_queries(coords))

    def reconstruct(self, view: View, n_points: int) -> Tensor:
        """Clouds decoded from the embeddings alone (the paper's reconstruction from nf2vec embeddings)."""
        self.autoencoder.eval()
        cfg = self.config
        return decode_clouds(
            view, self.kind, lambda b: self.decoded_field(b.data), n_points, cfg.select_resolution, self.device, cfg.eval_batch_size, self.seed
        )

    @torch.no_grad()
    def reconstruction_quality(self, params: Params, reference: Tensor, seeds: list[int]) -> float:
        """Mean fit quality (the kind's first metric) of the decoder, conditioned on the embeddings of the
        selection INRs, against their stored sources: the pretext's model selection.

        An INR decoded without a surface scores the metric's ``failed`` bound. Its fallback cloud
        (the grid cells nearest the level) can lie close to the shape, and scored as it was, an
        early decoder that crossed the level nowhere out-ranked every later one (SHREC'16).
        """
        self.autoencoder.eval()
        metric = self.kind.quality_metrics[0]
        streams = ItemStreams(seeds)  # fresh streams: the same decode every epoch
        with warnings.catch_warnings():  # an early decoder has no surface yet: counted below, not reported
            warnings.simplefilter("ignore", RuntimeWarning)
            with no_surface_items() as failed:
                quality = self.kind.fit_quality(
                    self.decoded_field(params), len(seeds), reference, resolution=self.config.select_resolution, generator=streams
                )
        values = quality[metric.name].clone()
        if failed and metric.failed is not None:
            values[failed] = metric.failed
        return float(values.mean())

    def train_pretext(self, train: View, val: View, progress: Progress | None) -> dict[str, Any]:
        cfg = self.config
        if cfg.epochs == 0:
            return {"pretext_targets": "none (epochs=0: random-init encoder)"}
        if self.resolved_targets(cfg, self.kind) == "source":
            loss_fn = lambda model, batch: self.source_pretext_loss(model, batch, train)  # noqa: E731
        else:
            candidates = self.surface_candidates(train)
            loss_fn = lambda model, batch: self.field_pretext_loss(model, batch, candidates)  # noqa: E731
        val_fn = None
        if cfg.pretext_select:
            chosen = self.selection_set(val)
            val_fn = lambda model: self.reconstruction_quality(*chosen)  # noqa: E731
        trainer = Trainer(
            TrainerConfig(
                epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, amp=cfg.amp, seed=self.seed,
                checkpoint_dir=self.checkpoint_dir("pretext"),
            ),
            self.autoencoder,
            loss_fn,
            device=self.device,
            val_fn=val_fn,
            higher_is_better=self.kind.quality_metrics[0].higher_is_better,
            scheduler=one_cycle,
            progress=progress,
            description="nf2vec pretext",
        )
        result = trainer.fit(train.loader(cfg.batch_size, shuffle=True, seed=self.seed))
        return {
            "pretext_targets": self.resolved_targets(cfg, self.kind),
            "pretext_loss": result.train_loss,
            "pretext_val_quality": result.val_score,
            "pretext_quality_metric": self.kind.quality_metrics[0].name,
            "pretext_best_epoch": result.best_epoch,
        }

    # ------------------------------------------------------------------ embeddings + classifier

    def embed(self, view: View) -> Tensor:
        return predict_view(self.autoencoder.embed, self.encoder, view, self.config.eval_batch_size, self.device)

    def fit(self, train: View, val: View, progress: Progress | None = None) -> None:
        cfg = self.config
        start = time.perf_counter()
        pretext = self.train_pretext(train, val, progress)
        pretext_seconds = time.perf_counter() - start
        train_emb, val_emb = TensorView(train, self.embed(train)), TensorView(val, self.embed(val))
        history = fit_classifier(
            self.classifier,
            train_emb,
            val_emb,
            TrainerConfig(
                epochs=cfg.cls_epochs, lr=cfg.cls_lr, weight_decay=cfg.cls_weight_decay, seed=self.seed,
                checkpoint_dir=self.checkpoint_dir("classifier"),
            ),
            batch_size=cfg.cls_batch_size,
            eval_batch_size=cfg.cls_batch_size,
            device=self.device,
            progress=progress,
            description="nf2vec classifier",
            augment=mix_same_class if cfg.cls_mix_same_class else None,
        )
        self.history = {**pretext, "pretext_seconds": pretext_seconds, **history}

    def predict(self, view: View) -> Tensor:
        emb = TensorView(view, self.embed(view))
        return predict_view(self.classifier, self.classifier, emb, self.config.cls_batch_size, self.device)

    # ------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, Any]:
        return {"autoencoder": self.autoencoder.state_dict(), "classifier": self.classifier.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.autoencoder.load_state_dict(state["autoencoder"])
        self.classifier.load_state_dict(state["classifier"])
