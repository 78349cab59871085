"""One smoke test per registered method and each task it can run, on the tiny procshapes dataset."""

import math

import pytest
import torch

from nfbench.methods import METHODS
from nfbench.records import load_record
from nfbench.run.runner import run_one, run_specs
from nfbench.tasks import TASKS
from nfbench.tasks.reconstruct import Reconstruct

TINY = {"reconstruct": Reconstruct(dense_points=4096, max_queries=1024)}  # task options that keep a smoke test fast
CASES = [(m, t) for m in METHODS.names() for t in TASKS.names() if TASKS.get(t).card.supports(METHODS.get(m))]


def test_every_method_runs_some_task():
    assert {m for m, _ in CASES} == set(METHODS.names())


@pytest.mark.parametrize("method,task", CASES)
def test_method_runs_on_tiny_dataset(method, task, tiny_dataset, tmp_path):
    (spec,) = run_specs(method, "tiny", [], [0], "fields")
    record, path = run_one(spec, TINY.get(task, task), tiny_dataset, torch.device("cpu"), tmp_path)
    assert load_record(path).model_dump(mode="json") == record.model_dump(mode="json")
    assert record.metrics and all(math.isfinite(v) for v in record.metrics.values())
    assert record.main_metric in record.metrics
    assert record.n_parameters > 0 and record.inference_ms_per_inr > 0
    assert record.input_mode == "fields" and record.view == METHODS.get(method).card.view
    assert record.dataset_fingerprint == tiny_dataset.fingerprint
