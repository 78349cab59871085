"""The supervised classifier recipe every method shares: one recipe keeps comparisons fair.

Cross-entropy on the train view, AdamW with a OneCycle schedule (nf2vec's classifier
recipe), a seeded shuffle, and selection of the epoch with the best val accuracy, all
through the shared ``Trainer`` (so AMP, resume and DDP come with it). A method may add a
training-batch transform (nf2vec's same-class mixing); validation and prediction never
see it, so what is selected and reported is the plain model on plain inputs. A model may
add loss terms from inside its forward (``AuxiliaryLoss``, e.g. PointNet's transform
regularizer); they join the cross-entropy of the batch whose forward recorded them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from rich.progress import Progress
from torch import nn
from torch.nn import functional as F

from nfbench.api.view import View, ViewBatch
from nfbench.training.evaluation import accuracy_of
from nfbench.training.layers import take_auxiliary_loss
from nfbench.training.trainer import Trainer, TrainerConfig, one_cycle


def fit_classifier(
    model: nn.Module,
    train: View,
    val: View,
    config: TrainerConfig,
    *,
    batch_size: int,
    eval_batch_size: int,
    device: torch.device,
    progress: Progress | None = None,
    description: str = "classifier",
    augment: Callable[[ViewBatch], ViewBatch] | None = None,
) -> dict[str, Any]:
    """Train ``model`` (view batch data -> logits) and return its history for the record.

    ``augment`` rewrites each training batch (on the device) before the loss; it must draw
    from torch's global RNG, which the Trainer checkpoints, so a resumed fit replays it.
    """

    def loss(net: nn.Module, batch: ViewBatch) -> torch.Tensor:
        if augment is not None:
            batch = augment(batch)
        take_auxiliary_loss(net)  # drop terms of a training-mode forward outside this loop: they belong to no batch
        logits = net(batch.data)
        return F.cross_entropy(logits, batch.labels) + take_auxiliary_loss(net)

    trainer = Trainer(
        config,
        model,
        loss,
        device=device,
        val_fn=lambda net: accuracy_of(net, val, eval_batch_size, device),
        scheduler=one_cycle,
        progress=progress,
        description=description,
    )
    result = trainer.fit(train.loader(batch_size, shuffle=True, seed=config.seed))
    return {
        "classifier_val_accuracy": result.best_score,
        "classifier_best_epoch": result.best_epoch,
        "classifier_epochs_run": result.epochs_run,
        "classifier_seconds": result.train_seconds,
        # the curves tell a data-limited run (train loss falls, val peaks early) from an underfit one
        "classifier_train_loss": [round(v, 5) for v in result.train_loss],
        "classifier_val_accuracy_per_epoch": [round(v, 5) for v in result.val_score],
    }
