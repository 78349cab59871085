"""Classification of test INRs: accuracy, balanced accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

import torch

from nfbench.api import Classifier, MetricSpec, OpenView, Task, TaskCard, TaskResult
from nfbench.tasks.base import timed_inference


def confusion_matrix(pred: torch.Tensor, true: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``cm[t, p]`` counts test items of true class t predicted as p."""
    return torch.bincount(true * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


class Classify(Task):
    card = TaskCard(
        name="classify",
        description="test accuracy of predicted classes (argmax of logits)",
        capability="classifier",
        metrics=(
            MetricSpec(
                name="accuracy", higher_is_better=True, percent=True,
                definition="fraction of test INRs whose argmax logit is the true class",
            ),
            MetricSpec(
                name="balanced_accuracy", higher_is_better=True, percent=True,
                definition="mean over classes present in test of per-class accuracy",
            ),
        ),
        main_metric="accuracy",
    )

    def evaluate(self, method: Classifier, open_view: OpenView) -> TaskResult:
        view = open_view("test")
        labels, n_classes = view.labels, view.info.n_classes
        logits, ms = timed_inference(lambda: method.predict(view), view, method.device, f"{method.card.name}.predict")
        if logits.shape != (len(labels), n_classes):
            raise ValueError(f"{method.card.name}.predict returned shape {tuple(logits.shape)}, expected {(len(labels), n_classes)}")
        pred = logits.argmax(dim=1)
        cm = confusion_matrix(pred, labels, n_classes)
        support = cm.sum(dim=1)
        per_class = cm.diagonal().double() / support.clamp(min=1)
        present = support > 0
        metrics = {
            "accuracy": float((pred == labels).double().mean()),
            "balanced_accuracy": float(per_class[present].mean()),
        }
        names = view.info.class_names
        details = {
            "per_class_accuracy": {names[i]: float(per_class[i]) for i in range(n_classes) if present[i]},
            "confusion_matrix": cm.tolist(),
            "decode_ms_per_inr": view.decode_ms_per_inr,
            "decoded_without_surface": view.decoded_without_surface,
            "definitions": {m.name: m.definition for m in self.card.metrics},
        }
        return TaskResult(metrics, details, ms)
