"""Evaluation tasks, registered lazily by name: one module each plus one line here."""

from nfbench.api.registry import Registry
from nfbench.api.task import Task

TASKS: Registry = Registry("task", base=Task, entry_point_group="nfbench.tasks")
TASKS.register_lazy("classify", "nfbench.tasks.classify:Classify")
TASKS.register_lazy("retrieve", "nfbench.tasks.retrieve:Retrieve")
TASKS.register_lazy("time", "nfbench.tasks.time:Time")
TASKS.register_lazy("reconstruct", "nfbench.tasks.reconstruct:Reconstruct")
