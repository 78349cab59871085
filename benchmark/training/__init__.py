"""Training for methods: the generic ``Trainer`` (AMP, checkpoint/resume, early stopping,
DDP), passes over views (standardization, inference), shared layers, and rank helpers
(``distributed``)."""

from nfbench.training.layers import AuxiliaryLoss, SharedMLP, Standardize, bn_layers, bn_mlp, take_auxiliary_loss
from nfbench.training.steps import TrainingDiverged, check_finite
from nfbench.training.trainer import EpochReport, Trainer, TrainerConfig, TrainerResult, one_cycle, to_device

__all__ = [
    "AuxiliaryLoss",
    "EpochReport",
    "SharedMLP",
    "Standardize",
    "Trainer",
    "TrainerConfig",
    "TrainerResult",
    "TrainingDiverged",
    "bn_layers",
    "bn_mlp",
    "check_finite",
    "one_cycle",
    "take_auxiliary_loss",
    "to_device",
]
