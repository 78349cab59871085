"""Training for methods: the generic ``Trainer`` (AMP, checkpoint/resume, early stopping,
DDP), passes over views (standardization, inference), shared layers, and rank helpers
(``distributed``)."""

from nfbench.training.layers import Standardize, bn_mlp
from nfbench.training.steps import TrainingDiverged, check_finite
from nfbench.training.trainer import EpochReport, Trainer, TrainerConfig, TrainerResult, one_cycle, to_device

__all__ = [
    "EpochReport",
    "Standardize",
    "Trainer",
    "TrainerConfig",
    "TrainerResult",
    "TrainingDiverged",
    "bn_mlp",
    "check_finite",
    "one_cycle",
    "to_device",
]
