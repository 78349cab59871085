"""Classification of test INRs: accuracy, balanced accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

import torch

from nfbench.method import Method
from nfbench.store.reader import INRDataset
from nfbench.tasks.base import Task, TaskResult, timed_inference


def confusion_matrix(pred: torch.Tensor, true: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``cm[t, p]`` counts test items of true class t predicted as p."""
    return torch.bincount(true * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


class Classify(Task):
    name = "classify"
    main_metric = "accuracy"
    description = "test accuracy of predicted classes (argmax of logits)"

    def evaluate(self, method: Method, data: INRDataset) -> TaskResult:
        labels = data.labels("test")
        n_classes = len(data.class_names)
        logits, ms = timed_inference(lambda: method.predict(data, "test"), len(labels), method.device)
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
        details = {
            "per_class_accuracy": {data.class_names[i]: float(per_class[i]) for i in range(n_classes) if present[i]},
            "confusion_matrix": cm.tolist(),
            "definitions": {
                "accuracy": "fraction of test INRs whose argmax logit is the true class",
                "balanced_accuracy": "mean over classes present in test of per-class accuracy",
            },
        }
        return TaskResult(metrics, details, ms)
