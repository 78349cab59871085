"""nfbench.training: the generic Trainer (resume, early stopping, checkpoints, DDP) and rank helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

from nfbench.api.view import DataInfo, View, ViewBatch
from nfbench.errors import ConfigError, DataError
from nfbench.fields import FieldSpec
from nfbench.training import (
    AuxiliaryLoss,
    EpochReport,
    Trainer,
    TrainerConfig,
    TrainingDiverged,
    bn_mlp,
    distributed,
    one_cycle,
    take_auxiliary_loss,
    to_device,
)
from nfbench.training.distributed import EpochRandomSampler, ShardSampler, sampler_for
from nfbench.training.supervised import fit_classifier

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


INFO = DataInfo(spec=FieldSpec(kind="siren", in_dim=3, out_dim=1, hidden=4, depth=1), field_kind="udf", class_names=("a", "b"))


class Blobs(View):
    """Two Gaussian blobs in 8-d, as a View: learnable in a few epochs, so early stopping has a peak to find."""

    name = "blobs"
    description = "toy features"

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        super().__init__(INFO, "train", torch.arange(n) % 2)
        self.x = torch.randn(n, 8, generator=gen) + 1.5 * self.labels[:, None].float()

    def read(self, positions: Tensor) -> Tensor:
        return self.x[positions]


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return bn_mlp(8, [16], 2, dropout=0.2)  # dropout: resuming must also replay the RNG


def ce_loss(model: nn.Module, batch: ViewBatch) -> Tensor:
    return F.cross_entropy(model(batch.data), batch.labels)


def loader(data: View) -> DataLoader:
    return data.loader(8, shuffle=True, seed=3)


def val_accuracy(data: Blobs):
    def score(model: nn.Module) -> float:
        return float((model(data.x).argmax(1) == data.labels).float().mean())

    return score


def state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class Killed(Exception):
    pass


def kill_after(epoch: int):
    def hook(report: EpochReport) -> None:
        if report.epoch == epoch:
            raise Killed

    return hook


def run(cfg: TrainerConfig, data: Blobs, val: Blobs, **kwargs) -> tuple[nn.Module, object]:
    model = make_model()
    trainer = Trainer(cfg, model, ce_loss, device=CPU, val_fn=val_accuracy(val), scheduler=one_cycle, **kwargs)
    return model, trainer.fit(loader(data))


# --------------------------------------------------------------------------- checkpoint / resume


def test_resume_after_a_kill_ends_bit_identical_to_an_uninterrupted_run(tmp_path):
    data, val = Blobs(40, 1), Blobs(16, 2)
    base = dict(epochs=4, lr=1e-2, weight_decay=1e-2, grad_clip=1.0, amp=True)
    straight, straight_result = run(TrainerConfig(**base), data, val)

    cfg = TrainerConfig(**base, checkpoint_dir=tmp_path)
    with pytest.raises(Killed):
        run(cfg, data, val, on_epoch_end=kill_after(1))  # killed after epoch 2 (0-based 1) was checkpointed
    torch.manual_seed(12345)  # the process that resumes starts from another global RNG state
    resumed, resumed_result = run(cfg, data, val)

    assert resumed_result.resumed_after == 1
    assert resumed_result.epochs_run == 4
    assert_same_state(state(straight), state(resumed))
    assert resumed_result.train_loss == straight_result.train_loss
    assert resumed_result.val_score == straight_result.val_score
    assert resumed_result.best_epoch == straight_result.best_epoch
    assert not list(tmp_path.glob("*.tmp"))


def test_finished_checkpoint_returns_the_trained_model_without_training(tmp_path):
    data, val = Blobs(40, 1), Blobs(16, 2)
    cfg = TrainerConfig(epochs=2, lr=1e-2, checkpoint_dir=tmp_path, checkpoint_every=5)  # the last epoch always saves
    first, _ = run(cfg, data, val)
    epochs_seen: list[int] = []
    again, result = run(cfg, data, val, on_epoch_end=lambda r: epochs_seen.append(r.epoch))
    assert epochs_seen == [] and result.epochs_run == 2
    assert_same_state(state(first), state(again))


def test_a_corrupted_checkpoint_warns_with_its_name_and_training_starts_from_scratch(tmp_path):
    data, val = Blobs(40, 1), Blobs(16, 2)
    cfg = TrainerConfig(epochs=2, lr=1e-2, checkpoint_dir=tmp_path)
    fresh, _ = run(TrainerConfig(epochs=2, lr=1e-2), data, val)
    run(cfg, data, val)
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match=r"last\.pt: unreadable checkpoint.*starts from scratch"):
        model, result = run(cfg, data, val)
    assert result.resumed_after is None
    assert_same_state(state(fresh), state(model))
    torch.load(ckpt, weights_only=True)  # rewritten whole


def test_a_checkpoint_of_another_config_is_refused_in_one_line(tmp_path):
    data, val = Blobs(40, 1), Blobs(16, 2)
    run(TrainerConfig(epochs=1, lr=1e-2, checkpoint_dir=tmp_path), data, val)
    with pytest.raises(DataError, match=r"last\.pt: written by another training config \(epochs 1 -> 3\)"):
        run(TrainerConfig(epochs=3, lr=1e-2, checkpoint_dir=tmp_path), data, val)


# --------------------------------------------------------------------------- early stopping, divergence, config


def test_early_stopping_stops_and_restores_the_best_state():
    data = Blobs(40, 1)
    scores = iter([0.5, 0.9, 0.7, 0.9, 0.8, 1.0])  # best at epoch 1; a tie is no improvement
    snapshots: list[dict[str, Tensor]] = []

    def val_fn(model: nn.Module) -> float:
        assert not model.training
        snapshots.append(state(model))
        return next(scores)

    model = make_model()
    cfg = TrainerConfig(epochs=6, lr=1e-2, early_stopping_patience=2)
    result = Trainer(cfg, model, ce_loss, device=CPU, val_fn=val_fn).fit(loader(data))
    assert result.stopped_early and result.epochs_run == 4
    assert result.best_epoch == 1 and result.best_score == 0.9
    assert result.val_score == [0.5, 0.9, 0.7, 0.9]
    assert_same_state(snapshots[1], state(model))
    assert not torch.equal(snapshots[3]["0.weight"], snapshots[1]["0.weight"])


def test_a_loss_to_minimize_selects_the_lowest_val_loss():
    data = Blobs(40, 1)
    losses = iter([3.0, 1.0, 2.0])
    result = Trainer(
        TrainerConfig(epochs=3, lr=1e-2), make_model(), ce_loss, device=CPU, val_fn=lambda m: next(losses), higher_is_better=False
    ).fit(loader(data))
    assert result.best_epoch == 1 and not result.stopped_early


def test_a_non_finite_loss_raises_naming_the_epoch():
    data = Blobs(40, 1)
    calls = iter(range(100))

    def loss_fn(model: nn.Module, batch: ViewBatch) -> Tensor:
        loss = ce_loss(model, batch)
        return loss * float("nan") if next(calls) == 7 else loss  # 5 batches an epoch: epoch 1

    with pytest.raises(TrainingDiverged, match="blobs epoch 1: loss became non-finite"):
        Trainer(TrainerConfig(epochs=3, lr=1e-2), make_model(), loss_fn, device=CPU, description="blobs").fit(loader(data))


def test_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="early_stopping_patience needs a validation score"):
        Trainer(TrainerConfig(epochs=1, lr=1e-3, early_stopping_patience=2), make_model(), ce_loss, device=CPU)
    with pytest.raises(ValueError, match="extra"):
        TrainerConfig(epochs=1, lr=1e-3, patience=3)
    empty = DataLoader(Blobs(4, 0), batch_size=8, drop_last=True)
    with pytest.raises(ConfigError, match="yields no batches"):
        Trainer(TrainerConfig(epochs=1, lr=1e-3), make_model(), ce_loss, device=CPU).fit(empty)


def test_progress_advances_one_step_per_epoch():
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(file=open(os.devnull, "w")))
    Trainer(TrainerConfig(epochs=3, lr=1e-2), make_model(), ce_loss, device=CPU, progress=progress, description="blobs").fit(
        loader(Blobs(40, 1))
    )
    (task,) = progress.tasks
    assert task.description == "blobs" and task.completed == task.total == 3


def test_to_device_moves_nested_batches_and_leaves_the_rest():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), "name"), "n": 3}
    moved = to_device(batch, CPU)
    assert moved["pair"][1] == "name" and moved["n"] == 3 and torch.equal(moved["x"], batch["x"])


class Penalized(AuxiliaryLoss):
    """The blob classifier plus a loss term on a parameter the logits do not depend on."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_model()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor) -> Tensor:
        self.add_loss(100 * self.scale.square())
        return self.net(x)


def test_the_classifier_recipe_adds_auxiliary_losses_of_training_forwards_only():
    model = Penalized()
    model.add_loss(torch.tensor(1e6))  # left by a training forward outside the recipe: no batch's loss
    history = fit_classifier(
        model, Blobs(40, 1), Blobs(16, 2), TrainerConfig(epochs=1, lr=1e-2), batch_size=8, eval_batch_size=16, device=CPU
    )
    assert 50 < history["classifier_train_loss"][0] < 200  # cross-entropy (< 1) plus 100 * scale^2
    assert float(model.scale) < 1  # its only gradient comes from the auxiliary term
    assert take_auxiliary_loss(model) == 0.0  # taken after every batch, and validation (eval mode) adds none


# --------------------------------------------------------------------------- rank helpers on one process


def test_single_process_helpers_are_identities():
    data = Blobs(10, 0)
    assert distributed.world() == (0, 1) and distributed.is_main()
    assert not distributed.init_from_env(CPU) or "RANK" in os.environ
    assert isinstance(sampler_for(data, shuffle=False, seed=0, drop_last=False), SequentialSampler)
    t = torch.arange(6).reshape(3, 2)
    assert distributed.all_gather_rows(t) is t and distributed.sum_over_ranks(t) is t
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert list(ShardSampler(data)) == list(range(10))
    with distributed.main_process_first():
        distributed.barrier()


def test_shuffle_sampler_is_seeded_and_replays_an_epoch():
    data = Blobs(20, 0)
    sampler = sampler_for(data, shuffle=True, seed=7, drop_last=False)
    assert isinstance(sampler, EpochRandomSampler) and isinstance(sampler, RandomSampler)
    free = [list(sampler), list(sampler)]
    assert free[0] != free[1]  # without set_epoch, still a new order every epoch
    assert free[0] == list(sampler_for(data, shuffle=True, seed=7, drop_last=False))
    sampler.set_epoch(3)
    epoch3 = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) == epoch3 != free[0]


# --------------------------------------------------------------------------- DDP: 2 CPU processes (gloo)


def _ddp_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    with distributed.process_group(CPU):
        assert distributed.init_from_env(CPU)  # already joined: a second call changes nothing
        assert distributed.world() == (rank, 2)
        data, val = Blobs(42, 1), Blobs(11, 2)
        train = loader(data)
        assert isinstance(train.batch_sampler.sampler, DistributedSampler)

        def val_fn(model: nn.Module) -> float:  # each rank scores its own shard; gathered in item order
            shard = ShardSampler(val)
            idx = torch.tensor(list(shard), dtype=torch.long)
            preds = distributed.all_gather_rows(model(val.x[idx]).argmax(1))
            assert len(preds) == len(val)  # 6 + 5 rows: unequal shards
            return float((preds == val.labels).float().mean())

        model = make_model()
        if rank == 1:
            with torch.no_grad():
                model[0].weight.add_(1.0)  # DDP must start both ranks from rank 0's weights
        cfg = TrainerConfig(epochs=3, lr=1e-2, grad_clip=1.0, checkpoint_dir=Path(out) / "ckpt")
        result = Trainer(cfg, model, ce_loss, device=CPU, val_fn=val_fn, scheduler=one_cycle).fit(train)
        token = distributed.broadcast_object(f"from {rank}")
        torch.save({"state": model.state_dict(), "result": vars(result), "token": token}, Path(out) / f"rank{rank}.pt")
    assert distributed.world() == (0, 1)  # left the group


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_on_two_cpu_processes_ends_with_identical_finite_weights(tmp_path):
    mp.spawn(_ddp_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert_same_state(r0["state"], r1["state"])  # buffers (BatchNorm statistics) too
    assert all(torch.isfinite(v.float()).all() for v in r0["state"].values())
    r0["result"].pop("train_seconds"), r1["result"].pop("train_seconds")
    assert r0["result"] == r1["result"] and r0["result"]["epochs_run"] == 3
    assert r0["token"] == r1["token"] == "from 0"
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["last.pt"]  # one writer
    ckpt = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert len(ckpt["rng"]) == 2  # each rank resumes its own random stream
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])


def test_python_dash_m_nfbench_cli_runs():
    out = subprocess.run([sys.executable, "-m", "nfbench.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "python -m nfbench.cli" in out.stdout
