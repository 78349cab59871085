"""One smoke test per registered method and declared task, on the tiny procshapes dataset."""

import math

import pytest
import torch

from nfbench.methods import METHODS
from nfbench.records import load_record
from nfbench.runner import run_one

CASES = [(m, t) for m in METHODS.names() for t in METHODS.get(m).card.tasks]


@pytest.mark.parametrize("method,task", CASES)
def test_method_runs_on_tiny_dataset(method, task, tiny_dataset, tmp_path):
    record, path, _ = run_one(method, task, tiny_dataset, 0, "tiny", torch.device("cpu"), tmp_path)
    assert load_record(path).model_dump(mode="json") == record.model_dump(mode="json")
    assert record.metrics and all(math.isfinite(v) for v in record.metrics.values())
    assert record.main_metric in record.metrics
    assert record.n_parameters > 0 and record.inference_ms_per_inr > 0
