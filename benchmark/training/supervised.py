"""The supervised classifier recipe every method shares: one recipe keeps comparisons fair.

Cross-entropy on the train view, AdamW with a OneCycle schedule (nf2vec's classifier
recipe), a seeded shuffle, and selection of the epoch with the best val accuracy, all
through the shared ``Trainer`` (so AMP, resume and DDP come with it).
"""

from __future__ import annotations

from typing import Any

import torch
from rich.progress import Progress
from torch import nn
from torch.nn import functional as F

from nfbench.api.view import View
from nfbench.training.evaluation import accuracy_of
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
) -> dict[str, Any]:
    """Train ``model`` (view batch data -> logits) and return its history for the record."""
    trainer = Trainer(
        config,
        model,
        lambda net, batch: F.cross_entropy(net(batch.data), batch.labels),
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
    }
