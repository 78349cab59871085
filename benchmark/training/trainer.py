"""One training loop any method may use, so every method gets the same engineering for free.

Mixed precision, gradient clipping, early stopping with model selection, checkpoints that
resume bit-identically, and DistributedDataParallel under ``torchrun`` are easy to get
subtly wrong once per method; here they are written (and tested) once. A method says
only what is specific to it: the model, its loss on a batch and, optionally, a
validation score.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from nfbench.errors import ConfigError, DataError
from nfbench.training import distributed
from nfbench.training.checkpoint import load_or_warn, rng_state, save_atomic, set_rng_state
from nfbench.training.steps import check_finite

LossFn = Callable[[nn.Module, Any], Tensor]
"""``loss_fn(model, batch)``: the scalar loss of one batch (already on the trainer's device).

Under DDP ``model`` is the ``DistributedDataParallel`` wrapper: call ``model(...)`` for the
forward pass (its ``.module`` is the method's model), or gradients are not synchronized."""

ValFn = Callable[[nn.Module], float]
"""``val_fn(model)``: one validation number per epoch, with the unwrapped model in eval mode."""

OptimizerFactory = Callable[..., torch.optim.Optimizer]
"""Called as ``factory(params, lr=config.lr, weight_decay=config.weight_decay)``, so an
optimizer class (or a ``functools.partial`` of one) is a factory."""

SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]
"""``factory(optimizer, total_steps)``: a scheduler stepped once per optimizer step."""

CHECKPOINT_NAME = "last.pt"
# Settings that may change between a run and its resumption without changing its result.
_RESUMABLE_CHANGES = {"checkpoint_dir", "checkpoint_every"}


class TrainerConfig(BaseModel):
    """How to train; the loop's behaviour depends on nothing else (besides the device)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    grad_clip: float | None = Field(default=None, gt=0, description="max global gradient norm; None: no clipping")
    amp: bool = Field(default=False, description="CUDA autocast (float16) + GradScaler; ignored on CPU")
    early_stopping_patience: int | None = Field(
        default=None, ge=1, description="stop after this many epochs without a better val score; needs a val_fn"
    )
    checkpoint_dir: Path | None = Field(default=None, description="resume from and save to this directory")
    checkpoint_every: int = Field(default=1, ge=1, description="epochs between checkpoints (the last epoch always saves)")
    seed: int = Field(default=0, description="seeds torch's global RNG (plus the rank) before the first epoch")


def one_cycle(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.OneCycleLR:
    """nf2vec's schedule: OneCycle peaking at each parameter group's configured lr."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[group["lr"] for group in optimizer.param_groups], total_steps=total_steps
    )


@dataclass
class EpochReport:
    """What an ``on_epoch_end`` hook learns about a finished (and already checkpointed) epoch."""

    epoch: int  # 0-based
    train_loss: float  # mean over this epoch's batches on all ranks
    val_score: float | None
    improved: bool


@dataclass
class TrainerResult:
    epochs_run: int  # epochs completed, including those of a resumed run
    resumed_after: int | None  # last epoch (0-based) of the checkpoint resumed from
    stopped_early: bool
    best_epoch: int | None  # with a val_fn: the epoch whose state the model holds now
    best_score: float | None
    train_seconds: float  # of this process, resumed runs included
    train_loss: list[float] = field(default_factory=list)  # per epoch
    val_score: list[float] = field(default_factory=list)  # per epoch, when there is a val_fn


class Trainer:
    """Trains one model on one train loader; see ``LossFn`` and ``ValFn`` for the callbacks.

    With a ``val_fn`` the model ends in the state of its best epoch (ties keep the earlier
    one). ``amp`` is a no-op on CPU: CPU autocast would use bfloat16, whose numerics differ
    from what ``amp`` promises on GPUs. Under ``torchrun`` (``distributed.world()[1] > 1``)
    the model is wrapped in ``DistributedDataParallel``, the train loader must shard with
    a ``DistributedSampler`` (``View.loader`` does), the val score of rank 0 decides for all
    ranks, BatchNorm statistics are taken from rank 0 after every epoch, and rank 0 alone
    writes checkpoints. A resumed run replays the remaining epochs exactly when the world
    size is unchanged.
    """

    def __init__(
        self,
        config: TrainerConfig,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        device: torch.device,
        val_fn: ValFn | None = None,
        higher_is_better: bool = True,
        optimizer: OptimizerFactory = torch.optim.AdamW,
        scheduler: SchedulerFactory | None = None,
        progress: Progress | None = None,
        description: str = "train",
        on_epoch_end: Callable[[EpochReport], None] | None = None,
    ) -> None:
        if config.early_stopping_patience is not None and val_fn is None:
            raise ConfigError(f"{description}: early_stopping_patience needs a validation score, and this method gives none")
        self.config = config
        self.model = model
        self.loss_fn = loss_fn
        self.device = device
        self.val_fn = val_fn
        self.higher_is_better = higher_is_better
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.progress = progress
        self.description = description
        self.on_epoch_end = on_epoch_end
        self.amp = config.amp and device.type == "cuda"

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.config.checkpoint_dir is None else self.config.checkpoint_dir / CHECKPOINT_NAME

    def fit(self, train: DataLoader) -> TrainerResult:
        """Run (or resume) the configured epochs; raises ``TrainingDiverged`` on a non-finite loss."""
        cfg = self.config
        rank, world_size = distributed.world()
        samplers = _samplers(train)
        if world_size > 1 and not any(isinstance(s, DistributedSampler) for s in samplers):
            raise ValueError(f"{self.description}: under DDP the train loader must use a DistributedSampler (View.loader does)")
        epoch_setter = next((s for s in samplers if hasattr(s, "set_epoch")), None)
        if len(train) == 0:
            raise ConfigError(f"{self.description}: the train loader yields no batches (too few items for one batch?)")

        model = self.model.to(self.device)
        saved = self._load_checkpoint()
        if saved is not None:
            model.load_state_dict(saved["model"])
        net: nn.Module = model
        if world_size > 1:
            gpu = None
            if self.device.type == "cuda":
                gpu = [self.device.index if self.device.index is not None else torch.cuda.current_device()]
            net = DistributedDataParallel(model, device_ids=gpu)
        opt = self.optimizer(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = self.scheduler(opt, cfg.epochs * len(train)) if self.scheduler is not None else None
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)

        result = TrainerResult(
            epochs_run=0, resumed_after=None, stopped_early=False, best_epoch=None, best_score=None, train_seconds=0.0
        )
        best_state: dict[str, Tensor] | None = None
        if saved is None:
            torch.manual_seed(cfg.seed + rank)
        else:
            opt.load_state_dict(saved["optimizer"])
            if sched is not None:
                sched.load_state_dict(saved["scheduler"])
            if saved["scaler"]:  # empty when written without AMP
                scaler.load_state_dict(saved["scaler"])
            states = saved["rng"]
            set_rng_state(states[rank % len(states)], self.device)
            best_state = saved["best_state"]
            result = TrainerResult(**saved["result"])
            result.resumed_after = result.epochs_run - 1

        task = None
        if self.progress is not None and distributed.is_main():
            task = self.progress.add_task(self.description, total=cfg.epochs, completed=result.epochs_run, unit="epoch")
        start = time.perf_counter() - result.train_seconds
        while result.epochs_run < cfg.epochs and not result.stopped_early:
            epoch = result.epochs_run
            if epoch_setter is not None:
                epoch_setter.set_epoch(epoch)
            train_loss = self._train_epoch(net, model, train, opt, sched, scaler, epoch)
            distributed.broadcast_tensors_(model.buffers())
            score, improved = self._validate(model, result, epoch)
            if improved:
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            patience = cfg.early_stopping_patience
            result.stopped_early = (
                patience is not None and result.best_epoch is not None and epoch - result.best_epoch >= patience
            )
            result.train_loss.append(train_loss)
            result.epochs_run = epoch + 1
            result.train_seconds = time.perf_counter() - start
            last = result.epochs_run == cfg.epochs or result.stopped_early
            if self.checkpoint_path is not None and (result.epochs_run % cfg.checkpoint_every == 0 or last):
                self._save_checkpoint(model, opt, sched, scaler, result, best_state)
            if task is not None and self.progress is not None:
                self.progress.update(task, advance=1)
            if self.on_epoch_end is not None:
                self.on_epoch_end(EpochReport(epoch=epoch, train_loss=train_loss, val_score=score, improved=improved))
        if best_state is not None:
            model.load_state_dict(best_state)
        return result

    def _train_epoch(
        self,
        net: nn.Module,
        model: nn.Module,
        train: DataLoader,
        opt: torch.optim.Optimizer,
        sched: torch.optim.lr_scheduler.LRScheduler | None,
        scaler: torch.amp.GradScaler,
        epoch: int,
    ) -> float:
        """One pass over ``train``; the mean loss over all ranks' batches."""
        net.train()
        losses: list[Tensor] = []
        for batch in train:
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
                loss = self.loss_fn(net, to_device(batch, self.device))
            # Summed over ranks so that all ranks raise together instead of leaving the others
            # waiting forever in the next gradient all-reduce.
            check_finite(distributed.sum_over_ranks(loss.detach().float().reshape(1)), f"{self.description} epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if self.config.grad_clip is not None:
                scaler.unscale_(opt)
                nn.utils.clip_grad_norm_(model.parameters(), self.config.grad_clip)
            scaler.step(opt)
            scaler.update()
            if sched is not None:
                sched.step()
            losses.append(loss.detach().float())
        total = distributed.sum_over_ranks(
            torch.stack([torch.stack(losses).sum(), torch.tensor(float(len(losses)), device=losses[0].device)])
        )
        return float(total[0] / total[1])

    def _validate(self, model: nn.Module, result: TrainerResult, epoch: int) -> tuple[float | None, bool]:
        """The epoch's val score (rank 0's, on every rank) and whether it beats the best so far."""
        if self.val_fn is None:
            return None, False
        model.eval()
        with torch.no_grad():
            score = distributed.broadcast_object(float(self.val_fn(model)))
        result.val_score.append(score)
        best = result.best_score
        improved = math.isfinite(score) and (best is None or (score > best if self.higher_is_better else score < best))
        if improved:
            result.best_score, result.best_epoch = score, epoch
        return score, improved

    def _load_checkpoint(self) -> dict[str, Any] | None:
        """Rank 0 reads the checkpoint and sends it to all ranks: one file, one decision."""
        path = self.checkpoint_path
        if path is None:
            return None
        saved = load_or_warn(path) if distributed.is_main() else None
        saved = distributed.broadcast_object(saved)
        if saved is None:
            return None
        now = self.config.model_dump(mode="json", exclude=_RESUMABLE_CHANGES)
        if saved["config"] != now:
            changed = ", ".join(f"{k} {saved['config'].get(k)!r} -> {v!r}" for k, v in now.items() if saved["config"].get(k) != v)
            raise DataError(path, f"written by another training config ({changed}); delete it or use another checkpoint_dir")
        return saved

    def _save_checkpoint(
        self,
        model: nn.Module,
        opt: torch.optim.Optimizer,
        sched: torch.optim.lr_scheduler.LRScheduler | None,
        scaler: torch.amp.GradScaler,
        result: TrainerResult,
        best_state: dict[str, Tensor] | None,
    ) -> None:
        states = distributed.gather_objects(rng_state(self.device))  # every rank's, so each resumes its own
        path = self.checkpoint_path
        if distributed.is_main() and path is not None:
            payload = {
                "config": self.config.model_dump(mode="json", exclude=_RESUMABLE_CHANGES),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "scaler": scaler.state_dict(),
                "rng": states,
                "best_state": best_state,
                "result": vars(result),
            }
            save_atomic(payload, path)
        distributed.barrier()


def _samplers(loader: DataLoader) -> list[Any]:
    """Where a loader's order comes from, outermost first: with ``batch_sampler=`` (as
    ``View.loader``), ``loader.sampler`` is a placeholder and the real one sits inside."""
    return [loader.batch_sampler, getattr(loader.batch_sampler, "sampler", None), loader.sampler]


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor on ``device``: tensors, dicts/lists/(named)tuples of them,
    or objects with their own ``.to`` (PyG ``Data``); anything else is left as it is."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(v, device) for v in batch)
    if callable(getattr(batch, "to", None)):
        return batch.to(device)
    return batch
