"""Methods that fit their own shared network to the shapes' supervision (DeepSDF): their input and their rules."""

from __future__ import annotations

from pathlib import Path

import torch

import nfbench.device
from nfbench.datasets import DATASETS
from nfbench.fields.kinds import FIELD_KINDS
from nfbench.fitting.build import _prepare_shard
from nfbench.methods.deepsdf import DeepSDF
from nfbench.run.runner import data_info
from nfbench.training.latent_codes import backward_by_blocks
from nfbench.views.context import ViewContext
from nfbench.views.supervision import SupervisionView

CPU = torch.device("cpu")


def context(dataset, tmp_path: Path) -> ViewContext:  # type: ignore[no-untyped-def]
    return ViewContext(dataset, data_info(dataset, "fields"), "fields", CPU, tmp_path / "views")


def test_supervision_view_is_what_the_build_fitted_to(tiny_dataset, tmp_path):
    ctx = context(tiny_dataset, tmp_path)
    view = SupervisionView.open(ctx, "val")
    items, _ = ctx.source_items("val")
    source = DATASETS.get(tiny_dataset.meta.card["name"])()
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
    real = DeepSDF.optimise

    def flaky(self, batch, scale):  # type: ignore[no-untyped-def]
        z, bad = real(self, batch, scale)
        calls.append(scale)
        first = batch.index == 0
        return torch.where(first[:, None], torch.nan, z), bad | first  # item 0 diverges at every rate

    monkeypatch.setattr(DeepSDF, "optimise", flaky)
    codes = method.test_latents(view)
    assert method.history["test_time"]["diverged"] == [view.keys[0]] and "zero latent" in method.history["test_time"]["rule"]
    assert torch.isfinite(codes).all() and (codes[0] == 0).all() and not (codes[1] == 0).all()
    assert calls[:2] == [1.0, 0.1]  # retried once, at a tenth of the rate


def test_functa_inner_loop_adapts_each_shape_on_its_own_loss(tiny_dataset, tmp_path):
    from nfbench.methods.functa import Functa

    method = Functa(Functa.presets["tiny"].config, CPU, 0)
    method.setup(data_info(tiny_dataset, "fields"))
    batch = SupervisionView.open(context(tiny_dataset, tmp_path), "val").__getitems__([0, 1, 2])
    coords, targets = batch.data["coords"], batch.data["targets"]
    net, loss = method.net, method.kind.loss
    together = net.adapt(coords, targets, loss, steps=3)
    alone = torch.cat([net.adapt(coords[i : i + 1], targets[i : i + 1], loss, steps=3) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-6)  # one shape's latent ignores the others
    before = loss(net.field(torch.zeros_like(together), coords), targets)
    assert (loss(net.field(together, coords), targets) < before).all()  # the inner steps fit each shape


def test_functa_step_budget_caps_the_epochs(tiny_dataset, tmp_path):
    from nfbench.methods.functa import Functa

    config = Functa.presets["tiny"].config.model_copy(update={"epochs": 5, "batch_size": 2, "max_steps": 3})
    method = Functa(config, CPU, 0)
    method.setup(data_info(tiny_dataset, "fields"))
    train = SupervisionView.open(context(tiny_dataset, tmp_path), "train")
    per_epoch = len(train.loader(2))
    assert per_epoch >= 2  # so that three steps end before the fifth epoch
    _, log = method.fit_shared(train, None)
    epochs = -(-3 // per_epoch)
    assert log == {"meta_epochs": epochs, "meta_steps": epochs * per_epoch} and epochs < 5


def test_blocked_backward_gives_each_code_the_gradient_of_one_pass(monkeypatch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).requires_grad_(False)
    coords = torch.rand(7, 10, 3)

    def per_item(z: torch.Tensor, s: slice) -> torch.Tensor:
        x = torch.cat([z[s][:, None].expand(-1, 10, -1), coords[s]], dim=-1)
        return net(x).pow(2).mean(dim=(1, 2)) + z[s].pow(2).sum(dim=1)

    one = torch.randn(7, 2, requires_grad=True)
    expected = per_item(one, slice(None))
    expected.sum().backward()
    monkeypatch.setattr(nfbench.device, "CPU_BLOCK_ROWS", 30)  # 3 items of 10 rows a block: blocks of 3, 3 and 1
    assert nfbench.device.items_per_block(CPU, 10) == 3
    assert nfbench.device.items_per_block(torch.device("cuda"), 10) is None
    blocked = one.detach().clone().requires_grad_(True)
    losses = backward_by_blocks(lambda s: per_item(blocked, s), 7, nfbench.device.items_per_block(CPU, 10))
    torch.testing.assert_close(losses, expected.detach())
    torch.testing.assert_close(blocked.grad, one.grad)
