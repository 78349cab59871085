"""The contracts of nfbench's extension axes: methods, tasks, views, metrics and registries."""

from nfbench.api.capabilities import CAPABILITIES, Classifier, Embedder, Reconstructor, Segmenter, capabilities_of
from nfbench.api.method import REQUIRED_PRESETS, Method, MethodCard, MethodConfig, Preset, validate_method_class
from nfbench.api.metrics import MetricCatalog, MetricSpec, metric_family
from nfbench.api.registry import Registry, RegistryError, did_you_mean, load_ref
from nfbench.api.task import OpenView, Task, TaskCard, TaskResult
from nfbench.api.view import Axis, DataInfo, FromParams, InputMode, View, ViewBatch, ViewName

__all__ = [
    "Axis",
    "CAPABILITIES",
    "Classifier",
    "DataInfo",
    "Embedder",
    "FromParams",
    "InputMode",
    "MetricCatalog",
    "MetricSpec",
    "Method",
    "MethodCard",
    "MethodConfig",
    "OpenView",
    "Preset",
    "REQUIRED_PRESETS",
    "Reconstructor",
    "Registry",
    "RegistryError",
    "Segmenter",
    "Task",
    "TaskCard",
    "TaskResult",
    "View",
    "ViewBatch",
    "ViewName",
    "capabilities_of",
    "did_you_mean",
    "load_ref",
    "metric_family",
    "validate_method_class",
]
