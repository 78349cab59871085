"""Methods that fit their own shared network to the shapes' supervision (DeepSDF): their input and their rules."""

from __future__ import annotations

from pathlib import Path

import torch

from nfbench.fields.kinds import FIELD_KINDS
from nfbench.fitting.build import _prepare_shard
from nfbench.methods.deepsdf import DeepSDF
from nfbench.run.runner import data_info
from nfbench.views.context import ViewContext
from nfbench.views.supervision import SupervisionView

CPU = torch.device("cpu")


def context(dataset, tmp_path: Path) -> ViewContext:  # type: ignore[no-untyped-def]
    return ViewContext(dataset, data_info(dataset, "fields"), "fields", CPU, tmp_path / "views")


def test_supervision_view_is_what_the_build_fitted_to(tiny_dataset, tmp_path):
    ctx = context(tiny_dataset, tmp_path)
    view = SupervisionView.open(ctx, "val")
    source, items = ctx.source_items("val")
    build = tiny_dataset.meta.build
    coords, targets, _ = _prepare_shard(source, None, items, build, FIELD_KINDS.get(build.field_kind))
    batch = view.__getitems__(list(range(len(view))))
    torch.testing.assert_close(batch.data["coords"], coords.float(), rtol=0, atol=0)
    torch.testing.assert_close(batch.data["targets"], targets.float(), rtol=0, atol=0)
    again = SupervisionView.open(ctx, "val")  # cached: the second opening reads the parts back
    torch.testing.assert_close(again.__getitems__([1]).data["coords"], coords[1:2].float())


def test_diverged_test_time_codes_follow_the_stated_rule(tiny_dataset, tmp_path, monkeypatch):
    method = DeepSDF(DeepSDF.presets["tiny"].config, CPU, 0)
    method.setup(data_info(tiny_dataset, "fields"))
    view = SupervisionView.open(context(tiny_dataset, tmp_path), "val")
    calls = []
    real = DeepSDF._optimise

    def flaky(self, batch, lr):  # type: ignore[no-untyped-def]
        z, bad = real(self, batch, lr)
        calls.append(lr)
        first = batch.index == 0
        return torch.where(first[:, None], torch.nan, z), bad | first  # item 0 diverges at every rate

    monkeypatch.setattr(DeepSDF, "_optimise", flaky)
    codes = method.test_codes(view)
    assert method.history["test_time"]["diverged"] == [0] and "zero code" in method.history["test_time"]["rule"]
    assert torch.isfinite(codes).all() and (codes[0] == 0).all() and not (codes[1] == 0).all()
    assert calls[1] == calls[0] / 10  # retried once, at a tenth of the rate
