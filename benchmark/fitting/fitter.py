"""Fit many INRs at once from one shared initialization.

All INRs of a chunk are stacked along a leading axis and trained together with one Adam:
Adam is element-wise and the loss is a *sum* of per-INR losses, so every INR follows
exactly the trajectory it would follow alone, while each step is a handful of ``baddbmm``
calls instead of B tiny forward passes.

Each INR draws its query indices from its own stream (``ItemStreams``), seeded by the
caller from the item, so its weights do not depend on the chunk size, the shard or its
neighbours. On the CPU they are bit-identical in any chunk (see
``fields.functional.batched_forward`` for the one batch size torch treats differently); on
CUDA, cuBLAS may choose kernels by batch size, so chunkings agree to rounding only.

``FitConfig.kernels`` chooses how a step runs. ``"eager"`` is the reference: one torch
op per layer and activation. ``"compiled"`` hands the forward and the loss to
``torch.compile`` (Inductor): AOTAutograd derives the backward, and each SIREN activation's
forward (bias, scale, sin) and backward (cos, two multiplies, the bias gradient) become one
loop over memory each instead of three passes and a copy, the bulk of an eager step's
non-matmul time. Inductor's vectorized sin/cos round differently from ATen's, so compiled weights agree with eager
ones to float rounding only; that is why the choice is part of the fit config (and of
the build hash). Compiled fits keep the per-item guarantee: on the CPU an INR's weights
are bit-identical in any chunk (a lone INR is fitted as a pair, see ``fit_batch``). Where compilation is unavailable or fails (no C compiler, no Triton,
an unsupported platform) the fitter warns once and runs eager.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch._dynamo
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from torch import Tensor

from nfbench.errors import ConfigError
from nfbench.fields import FieldSpec, Params
from nfbench.fields.functional import batched_forward
from nfbench.fields.init import InitScheme
from nfbench.fitting.streams import ItemStreams

LossFn = Callable[[Tensor, Tensor], Tensor]

INDEX_BLOCK = 16
"""Steps whose query indices are drawn together: the loop over the INRs' streams runs once
per block, and a block holds ``16 * points_per_step`` indices per INR (1.3 MB at the paper's 10K)."""


Kernels = Literal["eager", "compiled"]
"""How a fitting step runs (``FitConfig.kernels``)."""

LrSchedule = Literal["constant", "cosine"]
"""The learning rate over a fit (``FitConfig.lr_schedule``)."""

InitRegime = Literal["shared", "independent"]
"""Where each INR starts (``FitConfig.init``)."""

StepLoss = Callable[[Params, Tensor, Tensor], Tensor]
"""One step's per-INR losses ``(B,)`` from the stacked parameters, the step's queries and targets."""

_COMPILED: dict[tuple[object, ...], StepLoss] = {}
"""Compiled step losses by (spec, loss function, batch, points, device): a build compiles once per chunk shape."""

_UNCOMPILABLE: set[tuple[object, ...]] = set()
"""Keys whose compilation failed: they run eager without retrying (and warning) at every chunk."""


class FitConfig(BaseModel):
    """Optimization settings of the fitter (paper: Adam 1e-4, 500 steps, 10K points a step)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(ge=1)
    lr: float = Field(gt=0)
    points_per_step: int = Field(ge=1)
    chunk_size: int = Field(ge=1, description="INRs fitted together; also the shard size on disk")
    seeding: Literal["per-shard", "per-item"] = Field(
        "per-shard",
        description="where each INR's query indices come from: one generator per shard (datasets written before "
        "this field existed; their weights depend on the chunking) or one stream per item (the only scheme fitted now)",
    )
    kernels: Kernels = Field(
        "eager",
        description="how a step runs: eager torch ops (the reference) or torch.compile of the forward and loss, "
        "faster and equal to eager up to float rounding; falls back to eager where compilation is unavailable",
    )

    lr_schedule: LrSchedule = Field(
        "constant",
        description="the learning rate over the steps: constant, or cosine decay from lr to 0 at the last step. At the "
        "cpu preset's lr 1e-3, constant-rate SIREN fits of SHREC'16 meshes start to collapse (the logits fall to 0 "
        "everywhere, BCE ln 2) after about 400 steps; a decay keeps long fits stable",
    )
    init: InitRegime = Field(
        "shared",
        description="shared: every INR starts from the dataset's one init (inr2vec: it aligns hidden units across INRs); "
        "independent: one random init per INR, drawn from (build seed, item key), as in the DWSNet and NFN datasets, "
        "where the weight-space symmetry is left for the learner to handle",
    )

    init_scheme: InitScheme = Field(
        "siren",
        description="how each SIREN starts (nfbench.fields.init.InitScheme): siren (Sitzmann et al.) or dwsnet (the "
        "DWSNet MNIST INRs: no special first layer, zero biases)",
    )

    @model_serializer(mode="wrap")
    def _omit_later_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """Fields added later are left out of the JSON while they keep their old behaviour (eager kernels,
        a constant rate): builds fitted before they existed keep their ``build_hash`` (and still resume),
        and their stored configs read back with those defaults."""
        data: dict[str, object] = handler(self)
        return {k: v for k, v in data.items() if _LATER_DEFAULTS.get(k, _NO_DEFAULT) != v}


_NO_DEFAULT = object()
_LATER_DEFAULTS: dict[str, object] = {"kernels": "eager", "lr_schedule": "constant", "init": "shared", "init_scheme": "siren"}
"""FitConfig fields added after format version 1, with the value that means the old behaviour."""


COLLAPSE_FRACTION = 0.99
"""A fit whose final loss is within 1 % of the loss of a zero output has collapsed (see ``collapsed_fits``)."""


def collapsed_fits(loss: Tensor, targets: Tensor, loss_fn: LossFn) -> list[int]:
    """Positions of the INRs whose final loss ``(B,)`` is no better than a zero output's over all their targets.

    A SIREN fit that becomes unstable late (a constant rate of 1e-3 past a few hundred steps) falls
    back to a near-zero output, for logits under BCE a loss of ln 2, without ever producing a NaN:
    nothing else would notice that the INR holds no shape. A fit stopped before it learned anything
    is flagged too, for the same reason.
    """
    with torch.no_grad():
        zero = loss_fn(torch.zeros_like(targets), targets).to(loss.device)  # targets may stay on the CPU
    return (loss >= COLLAPSE_FRACTION * zero).nonzero().flatten().tolist()


class FitDiverged(RuntimeError):
    """Raised when a loss becomes NaN/inf, with the indices of the offending INRs."""


def stack_init(init: Params, batch: int, device: torch.device) -> Params:
    return {n: p.to(device).unsqueeze(0).repeat(batch, *([1] * p.dim())).contiguous() for n, p in init.items()}


def start_params(spec: FieldSpec, init: Params, batch: int, device: torch.device) -> Params:
    """Trainable copies of ``init``: one shared init (parameter shapes), or one per INR (a leading batch axis)."""
    shapes = spec.param_shapes()
    if all(init[n].shape == shapes[n] for n in shapes):
        start = stack_init(init, batch, device)
    elif all(init[n].shape == (batch, *shapes[n]) for n in shapes):
        start = {n: init[n].to(device).clone().contiguous() for n in shapes}
    else:
        raise ValueError(f"init shapes {[tuple(init[n].shape) for n in shapes]} fit neither {spec} nor a batch of {batch}")
    return {n: p.requires_grad_(True) for n, p in start.items()}


def _step_loss(spec: FieldSpec, loss_fn: LossFn, params: Params, x: Tensor, y: Tensor, bias_in_gemm: bool = True) -> Tensor:
    return loss_fn(batched_forward(spec, params, x, bias_in_gemm), y)


def _eager_step_loss(spec: FieldSpec, loss_fn: LossFn) -> StepLoss:
    return functools.partial(_step_loss, spec, loss_fn)


def step_loss_fn(
    spec: FieldSpec, loss_fn: LossFn, kernels: Kernels, batch: int, n_pts: int, device: torch.device
) -> StepLoss:
    """The per-step loss callable for ``kernels``: eager, or compiled once per chunk shape and cached.

    Shapes are static (``dynamic=False``): a kernel specialised to the chunk shape is the
    fast one, and a shape-generic kernel picked after a recompile would make an INR's
    rounding depend on which chunk shapes the process happened to fit first.
    """
    key = (spec, loss_fn, batch, n_pts, device)
    if kernels == "eager" or key in _UNCOMPILABLE:
        return _eager_step_loss(spec, loss_fn)
    if key not in _COMPILED:
        # Biases are added outside the gemm, where Inductor fuses them into the activation.
        fused = functools.partial(_step_loss, spec, loss_fn, bias_in_gemm=False)
        _COMPILED[key] = _with_fallback(key, torch.compile(fused, dynamic=False))
    return _COMPILED[key]


def _with_fallback(key: tuple[object, ...], compiled: StepLoss) -> StepLoss:
    """Compilation happens at the first call: if that fails, warn, remember the key and run eager.

    A genuine error in the step itself (a shape mismatch, say) is raised again by the eager
    step, so falling back never hides one.
    """
    eager = _eager_step_loss(key[0], key[1])
    chosen: StepLoss | None = None

    def step(params: Params, x: Tensor, y: Tensor) -> Tensor:
        nonlocal chosen
        if chosen is not None:
            return chosen(params, x, y)
        # Each chunk shape is its own specialised graph of one code object: lift dynamo's
        # per-code-object limit (8), past which it would silently run eager.
        with torch._dynamo.config.patch(recompile_limit=max(64, 2 * len(_COMPILED))):
            try:
                out = compiled(params, x, y)
                chosen = compiled
                return out
            except Exception as err:  # any backend failure means "not compilable here"
                warnings.warn(
                    f"torch.compile of the fitting step failed ({type(err).__name__}: {err}); fitting eager",
                    RuntimeWarning,
                    stacklevel=3,
                )
        _UNCOMPILABLE.add(key)
        _COMPILED.pop(key, None)
        chosen = eager
        return eager(params, x, y)

    return step


def fit_batch(
    spec: FieldSpec,
    init: Params,
    coords: Tensor,
    targets: Tensor,
    loss_fn: LossFn,
    cfg: FitConfig,
    seeds: Sequence[int],
    on_step: Callable[[int], None] | None = None,
) -> tuple[Params, Tensor]:
    """Fit ``B`` fields to ``coords (B, Q, in_dim) -> targets (B, Q, out_dim)``, from ``init`` (see ``start_params``).

    Each step uses ``points_per_step`` of each INR's ``Q`` queries, drawn from INR ``b``'s
    stream seeded by ``seeds[b]``. Returns the stacked parameters (detached) and the
    per-INR loss of the last step.
    """
    if cfg.seeding != "per-item":
        raise ConfigError(
            f"fit config seeding {cfg.seeding!r} describes datasets fitted before per-item seeding, which cannot be "
            "refitted or resumed identically: redo the build with a current preset (seeding 'per-item')"
        )
    device = coords.device
    batch, n_queries, in_dim = coords.shape
    if len(seeds) != batch:
        raise ValueError(f"{len(seeds)} seeds for a batch of {batch} INRs")
    if cfg.kernels == "compiled" and batch == 1:
        # Inductor narrows ``batched_forward``'s pair of copies back to one INR in the
        # backward, where a batch-1 bmm rounds differently (plain gemm): fit the pair here.
        shapes = spec.param_shapes()
        pair_init = {n: p.expand(2, *shapes[n]) if p.dim() > len(shapes[n]) else p for n, p in init.items()}
        pair, loss = fit_batch(
            spec, pair_init, coords.expand(2, -1, -1), targets.expand(2, -1, -1), loss_fn, cfg, [seeds[0]] * 2, on_step
        )
        return {n: p[:1] for n, p in pair.items()}, loss[:1]
    out_dim = targets.shape[-1]
    params = start_params(spec, init, batch, device)
    opt = torch.optim.Adam(list(params.values()), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps) if cfg.lr_schedule == "cosine" else None
    streams = ItemStreams(seeds)
    n_pts = min(cfg.points_per_step, n_queries)
    step_loss = step_loss_fn(spec, loss_fn, cfg.kernels, batch, n_pts, device)
    loss = torch.zeros(batch, device=device)
    for step in range(cfg.steps):
        if step % INDEX_BLOCK == 0:
            block = streams.integers(n_queries, min(INDEX_BLOCK, cfg.steps - step), n_pts).to(device)
        idx = block[:, step % INDEX_BLOCK]
        x = torch.gather(coords, 1, idx.unsqueeze(-1).expand(-1, -1, in_dim))
        y = torch.gather(targets, 1, idx.unsqueeze(-1).expand(-1, -1, out_dim))
        loss = step_loss(params, x, y)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if schedule is not None:
            schedule.step()
        if on_step is not None:
            on_step(step)
    loss = loss.detach()
    bad = (~torch.isfinite(loss)).nonzero().flatten().tolist()
    if bad:
        raise FitDiverged(f"fitting diverged (non-finite loss) for INRs at chunk positions {bad}")
    return {n: p.detach() for n, p in params.items()}, loss
