"""Evaluation tasks, registered lazily by name."""

from nfbench.api.registry import Registry

TASKS: Registry = Registry("task")
TASKS.register_lazy("classify", "nfbench.tasks.classify:Classify")
TASKS.register_lazy("retrieve", "nfbench.tasks.retrieve:Retrieve")
