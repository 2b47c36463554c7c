"""Tests of isaclearn.learn.training: determinism, resume, logs, improvement, sweeps."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from isaclearn.core import CheckpointError, ConfigError
from isaclearn.learn import (
    LossConfig,
    NetConfig,
    TrainConfig,
    TrainJob,
    generate_dataset,
    load_trained,
    train_many,
    train_precoder,
    weights_digest,
)
from isaclearn.systems.temiz_unsup import make_scenario

SC = make_scenario(4, 2, target_angles_deg=None, num_rx=4)  # M = 4, K = 2, random angles
LOSS = LossConfig(beta=0.1, gamma=2e-3)
NET = NetConfig(num_antennas=4, num_users=2, num_targets=2, hidden=(16, 16))
CFG = TrainConfig(num_train=400, batch_size=50, max_epochs=4, patience=10, seed=3)



def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dataset_is_deterministic() -> None:
    d1 = generate_dataset(SC, 120, seed=5, chunk=50)
    d2 = generate_dataset(SC, 120, seed=5, chunk=50)
    assert torch.equal(d1.h, d2.h) and torch.equal(d1.theta, d2.theta)
    d3 = generate_dataset(SC, 120, seed=6, chunk=50)
    assert not torch.equal(d1.h, d3.h)
    assert d1.h.shape == (120, 2, 4) and d1.theta.shape == (120, 2)


def test_same_seed_same_weights_other_seed_differs() -> None:
    n1, r1 = train_precoder(NET, SC, LOSS, CFG, rho=0.5)
    n2, r2 = train_precoder(NET, SC, LOSS, CFG, rho=0.5)
    assert _equal(_state(n1), _state(n2))
    assert r1.history == [dict(h, epoch_time_s=r1.history[i]["epoch_time_s"])
                          for i, h in enumerate(r2.history)]
    n3, _ = train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "seed": 4}), rho=0.5)
    assert not _equal(_state(n1), _state(n3))


def test_training_lowers_the_loss_and_keeps_best_epoch() -> None:
    cfg = TrainConfig(num_train=600, batch_size=50, max_epochs=8, patience=20, seed=0)
    _, res = train_precoder(NET, SC, LOSS, cfg, rho=1.0)
    first, last = res.history[0], res.history[-1]
    assert last["val_total"] < first["val_total"]
    assert last["val_sum_rate"] > first["val_sum_rate"]
    assert res.finished and res.stop_reason == "max_epochs" and res.epochs == 8
    best = min(range(8), key=lambda i: res.history[i]["val_total"])
    assert res.best_epoch == best + 1
    assert res.best_val_loss == res.history[best]["val_total"]
    assert res.num_train + res.num_val == 600 and res.num_val == 30


def test_early_stopping_and_plateau_scheduler() -> None:
    # a learning rate of 1e-7 changes the loss by far less than the scheduler's threshold and
    # early stopping's min_delta: the scheduler halves it after lr_patience + 1 flat epochs and
    # early stopping ends the run after `patience` epochs without improvement
    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=50, patience=3, lr=1e-7,
                      lr_patience=1, min_delta=0.5, min_lr=0.0, seed=0)
    _, res = train_precoder(NET, SC, LOSS, cfg, rho=0.5)
    assert res.stop_reason == "early_stopping" and res.epochs == 4 and res.best_epoch == 1
    lrs = [h["lr"] for h in res.history]
    assert lrs[:2] == [1e-7, 1e-7] and lrs[2] == pytest.approx(5e-8)  # ReduceLROnPlateau


def test_resumed_run_ends_where_uninterrupted_run_ends(tmp_path) -> None:
    full_net, full = train_precoder(NET, SC, LOSS, CFG, rho=0.3,
                                    checkpoint=tmp_path / "full")
    part_net, part = train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "run",
                                    stop_after_epochs=2)
    assert not part.finished and part.epochs == 2 and part.stop_reason == "interrupted"
    res_net, res = train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "run",
                                  resume=True)
    assert res.finished and res.epochs == full.epochs
    assert _equal(_state(res_net), _state(full_net))  # bit-exact weights
    strip = [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in full.history]
    assert strip == [{k: v for k, v in h.items() if k != "epoch_time_s"} for h in res.history]
    # resuming a finished run returns it unchanged; the checkpoint loads as a designer
    again_net, again = train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "run",
                                      resume=True)
    assert again.epochs == full.epochs and _equal(_state(again_net), _state(full_net))
    designer = load_trained(tmp_path / "run")
    assert _equal(_state(designer.net), _state(full_net)) and designer.rho == 0.3


def test_resume_refuses_other_configuration(tmp_path) -> None:
    train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "run", stop_after_epochs=1)
    with pytest.raises(CheckpointError, match="rho"):
        train_precoder(NET, SC, LOSS, CFG, rho=0.4, checkpoint=tmp_path / "run", resume=True)
    with pytest.raises(CheckpointError, match="train.lr"):
        train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "lr": 0.01}), rho=0.3,
                       checkpoint=tmp_path / "run", resume=True)
    with pytest.raises(CheckpointError, match="not finished"):
        load_trained(tmp_path / "run")


def test_a_non_finite_gradient_skips_the_step(monkeypatch) -> None:
    """A batch whose loss is finite but whose gradient is not is skipped (counted), so one bad
    batch cannot turn every weight into NaN."""
    from isaclearn.learn import precoder_nets

    calls = {"n": 0}
    real = precoder_nets.EntrywisePrecoderNet.raw

    def poisoned(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(self, *args, **kwargs)
        calls["n"] += 1
        if self.training and calls["n"] == 3:  # the third training batch: NaN gradient only
            zero = (out - out.detach()).real.sum()  # 0, but depends on the weights
            out = out + 0.0 * torch.sqrt(zero)  # value unchanged, gradient 0 * inf = NaN
        return out

    monkeypatch.setattr(precoder_nets.EntrywisePrecoderNet, "raw", poisoned)
    net, res = train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "max_epochs": 1}),
                              rho=0.5)
    assert res.history[0]["skipped_batches"] == 1
    assert all(bool(torch.isfinite(v).all()) for v in net.state_dict().values())
    assert math.isfinite(res.history[0]["val_total"])
    assert torch.tensor([1e-44]).item() > 0  # subnormals are flushed only during training


def _val_loss(net: torch.nn.Module, rho: float) -> float:
    """Mean validation loss of ``net`` on CFG's validation split, computed here directly."""
    from isaclearn.learn import isac_loss_terms

    data = generate_dataset(SC, CFG.num_train, seed=CFG.seed)
    n_val = round(CFG.val_fraction * CFG.num_train)
    val = data.subset(torch.arange(CFG.num_train - n_val, CFG.num_train))
    net.eval()
    with torch.no_grad():
        w_raw, w = net(val.csi, val.theta, power=val.power, noise_var=val.noise_var)
        return float(isac_loss_terms(val, w_raw, w, torch.full((n_val,), rho), LOSS)["total"]
                     .mean())


def test_warm_start_uses_the_start_and_never_ends_worse(tmp_path) -> None:
    start, _ = train_precoder(NET, SC, LOSS, CFG, rho=0.2, checkpoint=tmp_path / "a")
    # a tiny learning rate keeps the weights next to the start, far from a random init
    tiny = TrainConfig(**{**CFG.to_dict(), "lr": 1e-9, "max_epochs": 1})
    near, _ = train_precoder(NET, SC, LOSS, tiny, rho=0.3, init_from=tmp_path / "a")
    fresh, _ = train_precoder(NET, SC, LOSS, tiny, rho=0.3)
    gap = max(float((near.state_dict()[k] - start.state_dict()[k]).abs().max())
              for k in start.state_dict())
    assert gap < 1e-5
    assert not _equal(_state(fresh), _state(start))
    # a learning rate that wrecks the weights: the start (epoch 0) is kept, bit for bit
    wild = TrainConfig(**{**CFG.to_dict(), "lr": 50.0, "max_epochs": 2})
    kept, res = train_precoder(NET, SC, LOSS, wild, rho=0.3, init_from=tmp_path / "a",
                               checkpoint=tmp_path / "b")
    assert res.best_epoch == 0 and _equal(_state(kept), _state(start))
    assert res.best_val_loss == pytest.approx(_val_loss(start, 0.3), rel=1e-5)
    # an ordinary warm-started run ends at or below its start's validation loss at its rho
    cont, res = train_precoder(NET, SC, LOSS, CFG, rho=0.3, init_from=tmp_path / "a")
    assert _val_loss(cont, 0.3) <= _val_loss(start, 0.3) + 1e-7


def test_warm_start_is_part_of_the_checkpoint_config(tmp_path) -> None:
    train_precoder(NET, SC, LOSS, CFG, rho=0.2, checkpoint=tmp_path / "a")
    train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "seed": 9}), rho=0.2,
                   checkpoint=tmp_path / "other")
    train_precoder(NET, SC, LOSS, CFG, rho=0.3, init_from=tmp_path / "a",
                   checkpoint=tmp_path / "b", stop_after_epochs=1)
    with pytest.raises(CheckpointError, match="init"):  # other starting weights
        train_precoder(NET, SC, LOSS, CFG, rho=0.3, init_from=tmp_path / "other",
                       checkpoint=tmp_path / "b", resume=True)
    with pytest.raises(CheckpointError, match="init"):  # no start at all
        train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "b", resume=True)
    with pytest.raises(CheckpointError, match="not finished"):  # an unfinished start
        train_precoder(NET, SC, LOSS, CFG, rho=0.4, init_from=tmp_path / "b")
    with pytest.raises(CheckpointError, match="expected"):  # another architecture
        train_precoder(NetConfig(num_antennas=4, num_users=2, num_targets=2, hidden=(8,)), SC,
                       LOSS, CFG, rho=0.4, init_from=tmp_path / "a")


def test_tensorboard_logs_every_loss_term(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "max_epochs": 2}), rho=0.5,
                   log_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for term in ("rate", "sensing", "power", "fairness", "total", "sum_rate"):
        assert f"train/{term}" in tags and f"val/{term}" in tags
    assert "lr" in tags and len(acc.Scalars("val/total")) == 2


def test_rho_conditioned_training_and_argument_checks() -> None:
    net_c = NetConfig(num_antennas=4, num_users=2, hidden=(16,), rho_conditioned=True)
    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=1, seed=0, rho_grid=(0.0, 1.0))
    net, res = train_precoder(net_c, SC, LOSS, cfg)
    assert res.finished
    with pytest.raises(ConfigError):
        train_precoder(net_c, SC, LOSS, cfg, rho=0.5)
    with pytest.raises(ConfigError):
        train_precoder(NET, SC, LOSS, cfg)  # per-rho network without rho
    with pytest.raises(ConfigError, match="does not match"):
        train_precoder(NetConfig(num_antennas=5, num_users=2, hidden=(4,)), SC, LOSS, cfg,
                       rho=0.5)


def test_structured_network_trains(tmp_path) -> None:
    net_s = NetConfig(kind="structured", num_antennas=4, num_users=2, d_model=16, num_layers=1,
                      num_heads=2)
    loss = LossConfig(beta=0.1, gamma=2e-3, score_on="scaled")
    cfg = TrainConfig(num_train=300, batch_size=50, max_epochs=3, patience=10, seed=0)
    _, res = train_precoder(net_s, SC, loss, cfg, rho=1.0, checkpoint=tmp_path / "s")
    assert res.history[-1]["val_sum_rate"] > res.history[0]["val_sum_rate"]
    assert load_trained(tmp_path / "s").net.config.kind == "structured"


def test_train_many_sequential(tmp_path) -> None:
    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=1, seed=0)
    jobs = [TrainJob(NET, SC, LOSS, cfg, rho, str(tmp_path / f"r{rho}")) for rho in (0.0, 1.0)]
    results = train_many(jobs)
    assert [r.finished for r in results] == [True, True]
    assert load_trained(tmp_path / "r1.0").rho == 1.0
    with pytest.raises(ConfigError):
        train_many(jobs, parallel="threads")  # type: ignore[arg-type]


@pytest.mark.slow
def test_train_many_ray_matches_sequential(tmp_path) -> None:
    pytest.importorskip("ray")
    import ray

    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=2, seed=0)
    seq = [TrainJob(NET, SC, LOSS, cfg, rho, str(tmp_path / f"s{rho}")) for rho in (0.0, 1.0)]
    par = [TrainJob(NET, SC, LOSS, cfg, rho, str(tmp_path / f"p{rho}")) for rho in (0.0, 1.0)]
    train_many(seq)
    try:
        train_many(par, parallel="ray", num_cpus=2)
    finally:
        ray.shutdown()
    for rho in (0.0, 1.0):
        a = load_trained(tmp_path / f"s{rho}").net.state_dict()
        b = load_trained(tmp_path / f"p{rho}").net.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------------------------
# regression anchors: the loop before it became isaclearn.learn.loop.fit
# --------------------------------------------------------------------------------------------

PRE_REFACTOR = Path(__file__).resolve().parent / "data" / "pre_refactor"
"""Checkpoints written by ``train_precoder`` at commit 868883a (before the common loop):
``temiz_rho0.5_finished`` (NET, CFG, rho = 0.5, finished) and ``temiz_rho0.3_epoch2`` (NET, CFG,
rho = 0.3, interrupted after epoch 2)."""

SAME_BUILD = torch.__version__ == "2.13.0+cpu"
"""The anchors were recorded with torch 2.13.0+cpu on x86-64 with one thread; other builds may
round differently, so there they are compared to 1e-4 and weight digests are not compared."""

ANCHORS: dict[str, dict[str, Any]] = {
    # NET, CFG, rho = 0.5
    "per_rho": dict(
        digest="955ec73663eff1f596124a8cc3ce7f7ea240b1dfde6b4661362580cdafc0844e",
        epochs=4, best_epoch=4, stop="max_epochs", lr=[1e-3] * 4,
        val_total=[0.5782715320587158, 0.47786998748779297, 0.3553497314453125,
                   0.21998243331909179],
        train_total=[0.6358768463134765, 0.5496006815057052, 0.44374983185216,
                     0.3135658816287392]),
    # early stopping with a relative min_delta and plateau steps (the scheduler test's config)
    "early_stop": dict(
        digest="a9815c489e2bb0688b33da135cc6802da3a8a978a49460a466ee2530b7b0ebdb",
        epochs=4, best_epoch=1, stop="early_stopping", lr=[1e-07, 1e-07, 5e-08, 5e-08],
        val_total=[0.7065134048461914, 0.7065086841583252, 0.7065038204193115,
                   0.706501579284668],
        train_total=[0.6954391981426038, 0.697521992733604, 0.6989543814408151,
                     0.6956496188515111]),
    # rho-conditioned network: rho drawn from the shuffle generator after the permutation
    "conditioned": dict(
        digest="e4f13e6420f70c9818502c7d5001c64b22aef9b7e490863caccbc35909ed3b95",
        epochs=2, best_epoch=2, stop="max_epochs", lr=[1e-3] * 2,
        val_total=[0.3305703639984131, 0.2939246892929077],
        train_total=[0.28881294852808903, 0.26321475380345394]),
    # warm start from the per_rho network, trained at rho = 0.3 for 2 epochs
    "warm": dict(
        digest="d8e6f347b779fdefefdaedacfa88278feba02201e54822166a37e78112eabb97",
        epochs=2, best_epoch=2, stop="max_epochs", lr=[1e-3] * 2,
        val_total=[0.10733309984207154, 0.0785284698009491],
        train_total=[0.20672471146834523, 0.1292979409820155]),
    # structured network (subnormals flushed), min_delta 0, batches of 64 (last one short)
    "structured": dict(
        digest="f880c3ed10e3e91a9ea764e3877364dc5390003219737b11f7f410eb12ea491d",
        epochs=3, best_epoch=3, stop="max_epochs", lr=[1e-3] * 3,
        val_total=[-0.14567330678304036, -0.1558990001678467, -0.16141351064046225],
        train_total=[-0.14205414119519685, -0.150724626842298, -0.158066137213456]),
    # NET, CFG, rho = 0.3: where the interrupted pre-refactor checkpoint must end
    "rho0.3": dict(
        digest="2891818ea82ee5ef5a4767b16a56624df3695642340d362c83f126b0f80b13c1",
        epochs=4, best_epoch=4, stop="max_epochs", lr=[1e-3] * 4,
        val_total=[0.586365795135498, 0.48554182052612305, 0.3624251842498779,
                   0.2264024257659912],
        train_total=[0.644325452101858, 0.5575452930048892, 0.4509875146966231,
                     0.32006889142488176]),
}


def _check_anchor(net: torch.nn.Module, res: Any, name: str) -> None:
    want = ANCHORS[name]
    assert (res.epochs, res.best_epoch, res.stop_reason) == (
        want["epochs"], want["best_epoch"], want["stop"])
    assert [h["lr"] for h in res.history] == pytest.approx(want["lr"], rel=1e-12)
    for key in ("val_total", "train_total"):
        got = [h[key] for h in res.history]
        if SAME_BUILD:
            assert got == want[key], key
        else:
            assert got == pytest.approx(want[key], rel=1e-4), key
    assert res.best_val_loss == res.history[want["best_epoch"] - 1]["val_total"]
    if SAME_BUILD:
        assert weights_digest(net.state_dict()) == want["digest"]


def test_reproduces_the_pre_refactor_loop(tmp_path) -> None:
    """Histories and final weights equal those of ``train_precoder`` at commit 868883a (the loop
    before :func:`isaclearn.learn.loop.fit`), recorded with the same seeds: same shuffling,
    ``ρ`` draws, dropout, relative ``min_delta``, plateau steps, early stopping, warm start and
    subnormal flushing."""
    net, res = train_precoder(NET, SC, LOSS, CFG, rho=0.5)
    _check_anchor(net, res, "per_rho")
    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=50, patience=3, lr=1e-7,
                      lr_patience=1, min_delta=0.5, min_lr=0.0, seed=0)
    net, res = train_precoder(NET, SC, LOSS, cfg, rho=0.5)
    _check_anchor(net, res, "early_stop")
    net_c = NetConfig(num_antennas=4, num_users=2, hidden=(16,), rho_conditioned=True)
    cfg = TrainConfig(num_train=200, batch_size=50, max_epochs=2, seed=0, rho_grid=(0.0, 1.0))
    net, res = train_precoder(net_c, SC, LOSS, cfg)
    _check_anchor(net, res, "conditioned")
    net, res = train_precoder(NET, SC, LOSS, TrainConfig(**{**CFG.to_dict(), "max_epochs": 2}),
                              rho=0.3, init_from=PRE_REFACTOR / "temiz_rho0.5_finished")
    _check_anchor(net, res, "warm")
    net_s = NetConfig(kind="structured", num_antennas=4, num_users=2, d_model=16, num_layers=1,
                      num_heads=2)
    loss_s = LossConfig(beta=0.1, gamma=2e-3, score_on="scaled")
    cfg = TrainConfig(num_train=300, batch_size=64, max_epochs=3, patience=10, seed=0,
                      min_delta=0.0, lr_factor=0.3)
    net, res = train_precoder(net_s, SC, loss_s, cfg, rho=1.0)
    _check_anchor(net, res, "structured")


def test_pre_refactor_checkpoints_load_and_resume(tmp_path) -> None:
    """A finished training state of the former loop loads as a designer, and an interrupted one
    resumes on the new loop to the weights of the former loop's uninterrupted run."""
    designer = load_trained(PRE_REFACTOR / "temiz_rho0.5_finished")
    assert designer.rho == 0.5
    if SAME_BUILD:
        assert weights_digest(designer.net.state_dict()) == ANCHORS["per_rho"]["digest"]
    fresh, _ = train_precoder(NET, SC, LOSS, CFG, rho=0.5)
    assert _equal(_state(designer.net), _state(fresh))
    for suffix in (".safetensors", ".json"):
        shutil.copy(PRE_REFACTOR / f"temiz_rho0.3_epoch2{suffix}", tmp_path / f"run{suffix}")
    net, res = train_precoder(NET, SC, LOSS, CFG, rho=0.3, checkpoint=tmp_path / "run",
                              resume=True)
    _check_anchor(net, res, "rho0.3")
    assert "lr_used" not in res.history[0] and res.history[2]["lr_used"] == 1e-3
