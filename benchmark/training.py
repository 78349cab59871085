"""The supervised training loop shared by every classifier in nfbench.

One loop for all methods keeps comparisons fair: the same optimizer (AdamW), schedule
(OneCycle, as nf2vec's classifier), seeded minibatch order and model selection on val
accuracy. Inputs are precomputed tensors (features, embeddings, flattened weights) kept
on their own device; only minibatches travel to the training device, so a weight matrix
larger than GPU memory still trains.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from rich.progress import Progress
from torch import Tensor, nn
from torch.nn import functional as F

from nfbench.fields import Params


class TrainingDiverged(RuntimeError):
    """A training loss became NaN/inf: results would be silently meaningless."""


def check_finite(loss: Tensor, what: str) -> None:
    if not bool(torch.isfinite(loss).all()):
        raise TrainingDiverged(f"{what}: loss became non-finite ({loss.detach().flatten()[:4].tolist()})")


def optimizer_step(loss: Tensor, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler, what: str) -> None:
    """One scheduled step on ``loss``, refusing a non-finite loss before it touches the weights."""
    check_finite(loss, what)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()


class Standardize(nn.Module):
    """Per-feature ``(x - mean) / std`` with train statistics, stored as buffers.

    As a module it travels inside a model's ``state_dict``, so a restored model standardizes
    new inputs exactly as it did during training.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    @torch.no_grad()
    def fit_(self, x_train: Tensor) -> "Standardize":
        """Constant features (std 0) are centred but not scaled, instead of dividing by zero."""
        std, mean = torch.std_mean(x_train.float(), dim=0, correction=0)  # where x lives: it may be huge
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        return self

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


def bn_mlp(in_dim: int, hidden: Sequence[int], out_dim: int, dropout: float) -> nn.Sequential:
    """``Linear -> BN -> ReLU [-> Dropout]`` per hidden width, then a linear output layer.

    The one MLP of nfbench's weight-space methods (classifier heads, nf2vec's row encoder).
    The last module is the output layer, so ``model[:-1]`` gives the penultimate
    activations, used as embeddings.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


@dataclass
class TrainResult:
    state: dict[str, Tensor]  # best model's state dict (CPU copies)
    best_val_accuracy: float
    best_epoch: int  # 0-based
    train_seconds: float
    val_accuracy: list[float] = field(default_factory=list)  # per epoch
    train_loss: list[float] = field(default_factory=list)  # per epoch, mean over minibatches


def batch_params(params: Params, idx: Tensor, device: torch.device) -> Params:
    """The stacked parameters of the INRs ``idx``, on ``device`` (datasets stay where they are)."""
    return {name: p[idx].to(device) for name, p in params.items()}


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_logits(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    """Outputs of ``model`` in eval mode, computed in minibatches; on the model's device."""
    model.eval()
    device = _model_device(model)
    return torch.cat([model(chunk.to(device)) for chunk in x.split(batch_size)])


def accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(dim=1) == labels.to(logits.device)).float().mean())


def n_batches(n: int, batch_size: int) -> int:
    """Minibatches per epoch: ``ceil(n / batch_size)``, but never so many that one holds a
    lone sample (BatchNorm rejects those in training mode)."""
    return max(1, min(-(-n // batch_size), n // 2))


def epoch_batches(n: int, batch_size: int, gen: torch.Generator) -> tuple[Tensor, ...]:
    """A seeded permutation of ``range(n)`` cut into ``n_batches`` near-equal minibatches."""
    return torch.randperm(n, generator=gen).tensor_split(n_batches(n, batch_size))


def train_classifier(
    model: nn.Module,
    x_train: Tensor,
    y_train: Tensor,
    x_val: Tensor,
    y_val: Tensor,
    *,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    device: torch.device,
    progress: Progress | None = None,
    description: str = "",
) -> TrainResult:
    """Cross-entropy training with AdamW + OneCycle, keeping the epoch with the best val accuracy.

    Ties keep the earlier epoch. The best state is loaded back into ``model`` before
    returning. Raises ``TrainingDiverged`` on a non-finite loss.
    """
    if len(x_train) < 2:
        raise ValueError(f"need at least 2 training samples, got {len(x_train)}")
    if len(x_val) == 0:
        raise ValueError("model selection needs a non-empty val split")
    torch.manual_seed(seed)  # dropout masks
    gen = torch.Generator().manual_seed(seed)
    model.to(device)
    steps_per_epoch = n_batches(len(x_train), batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch)
    y_train_dev = y_train.to(device)
    result = TrainResult(state={}, best_val_accuracy=-1.0, best_epoch=-1, train_seconds=0.0)
    task = progress.add_task(description or "train classifier", total=epochs, unit="epoch") if progress else None
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        losses = []
        for idx in epoch_batches(len(x_train), batch_size, gen):
            loss = F.cross_entropy(model(x_train[idx].to(device)), y_train_dev[idx.to(device)])
            optimizer_step(loss, opt, sched, f"{description or 'classifier'} epoch {epoch}")
            losses.append(loss.detach())
        result.train_loss.append(float(torch.stack(losses).mean()))
        val_acc = accuracy(predict_logits(model, x_val, batch_size), y_val)
        result.val_accuracy.append(val_acc)
        if val_acc > result.best_val_accuracy:
            result.best_val_accuracy, result.best_epoch = val_acc, epoch
            result.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if progress is not None and task is not None:
            progress.update(task, advance=1)
    result.train_seconds = time.perf_counter() - start
    model.load_state_dict(result.state)
    return result
