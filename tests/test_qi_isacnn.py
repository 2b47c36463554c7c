"""ISACNN / FC-NN (isaclearn.learn.isacnn): pre-processing, output layer, training loop,
checkpoints, and (slow) the α = 0 acceptance after a small training."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from isaclearn.channels.uplink import UplinkScenario
from isaclearn.core import CheckpointError, Designer, make_generator
from isaclearn.learn.isacnn import (
    FcNN,
    IsacNN,
    LearnedUplinkDesigner,
    NetSpec,
    TrainConfig,
    augment_channel_features,
    lambda_layer,
    load_net,
    make_net,
    save_net,
    train_uplink_net,
    uplink_features,
)
from isaclearn.metrics.uplink import rt_eig
from isaclearn.solvers.uplink import ReferenceDesigner
from isaclearn.solvers.uplink_reduced import reduce_problem


@pytest.fixture(autouse=True, scope="module")
def _one_thread():  # type: ignore[no-untyped-def]
    """Tiny tensors: intra-op threads only add overhead (and on an oversubscribed CPU make
    these tests several times slower). Restored after the module."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _problem(b: int, seed: int, **kw):  # type: ignore[no-untyped-def]
    base = dict(num_tx=4, num_rx=4, num_users=2, num_symbols=6)
    base.update(kw)
    return UplinkScenario(**base).sample(b, generator=make_generator(seed))


def test_features_follow_eq29() -> None:
    pr = _problem(3, 0, csi_beta=0.6)
    f = uplink_features(pr)
    assert f.shape == (3, 2 * 4 * 2 + 4) and f.dtype == torch.float32
    assert pr.h_est is not None
    scale = torch.sqrt(pr.p / pr.noise_var)
    h1 = pr.h_est[:, :, 1] * scale[:, 1, None]  # user 2, estimate (what the designer sees)
    torch.testing.assert_close(f[:, 4:8], h1.real)  # Re(h_2^T) after Re(h_1^T)
    torch.testing.assert_close(f[:, 8 + 4:8 + 8], h1.imag)
    sigma_t, _ = rt_eig(pr.r_t)
    torch.testing.assert_close(f[:, 16:], (sigma_t * pr.power_s / pr.noise_var).float())


def test_augmentation_is_a_symmetry_of_the_objective() -> None:
    """The augmented features are those of a channel Q H D Π with the same objective (28) at
    every waveform: rebuild that problem from the features (the objective depends on H and p
    only through sqrt(p_k) h_k) and compare."""
    pr = _problem(6, 11, alpha=0.4).to(dtype=torch.complex128)
    f = uplink_features(pr, dtype=torch.float64)
    fa = augment_channel_features(f, 4, 2, generator=make_generator(5))
    assert fa.shape == f.shape and fa.dtype == f.dtype
    assert not torch.allclose(fa[:, :16], f[:, :16])
    torch.testing.assert_close(fa[:, 16:], f[:, 16:])
    ht = torch.complex(fa[:, :8], fa[:, 8:16]).reshape(6, 2, 4)  # rows sqrt(p_k/σ²) h_k^T
    s2 = float(pr.noise_var)
    pr_a = dataclasses.replace(pr, h=ht.transpose(-2, -1) * math.sqrt(s2),
                               p=torch.ones_like(pr.p), h_est=None)
    torch.testing.assert_close(uplink_features(pr_a, dtype=torch.float64), fa)
    red, red_a = reduce_problem(pr, use_csi=False), reduce_problem(pr_a, use_csi=False)
    x = torch.rand(3, 6, 4, generator=make_generator(6), dtype=torch.float64) / 4
    torch.testing.assert_close(red_a.wsnr(x), red.wsnr(x), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(red_a.m_s, red.m_s)
    torch.testing.assert_close(red_a.m_c, red.m_c)


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_lambda_layer_feasible_and_sorted(norm: str) -> None:
    gen = make_generator(0)
    theta = torch.rand(500, 6, generator=gen)
    eta = torch.rand(500, 1, generator=gen)
    x = lambda_layer(theta, eta, theta_norm=norm)  # type: ignore[arg-type]
    assert bool((x >= 0).all()) and bool((x.sum(-1) <= 1 + 1e-6).all())
    assert bool((x[:, :-1] >= x[:, 1:]).all())
    if norm == "l1":
        torch.testing.assert_close(x.sum(-1), eta[:, 0])
    unsorted = lambda_layer(theta, eta, sort_output=False)
    torch.testing.assert_close(unsorted, theta / theta.sum(-1, keepdim=True) * eta)


def test_l2_normalization_alone_would_violate_the_budget() -> None:
    """Why the default is l1: the paper's l2 normalization exceeds the l1 budget (15)."""
    theta = torch.ones(1, 16)
    raw = theta / theta.norm(dim=-1, keepdim=True)
    assert float(raw.sum()) == pytest.approx(4.0)  # sqrt(N_t) times the budget
    assert float(lambda_layer(theta, torch.ones(1, 1), theta_norm="l2").sum()) <= 1 + 1e-6


def test_architectures() -> None:
    spec = NetSpec(num_tx=16, num_rx=16, num_users=5)
    net = IsacNN(spec)
    convs = [mod for mod in net.modules() if isinstance(mod, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [2, 4, 8]
    assert [c.kernel_size[0] for c in convs] == [5, 3, 3]
    bns = [mod for mod in net.modules() if isinstance(mod, torch.nn.BatchNorm1d)]
    assert len(bns) == 5  # before each convolution and each head
    fc = FcNN(dataclasses.replace(spec, kind="fcnn"))
    widths = [mod.out_features for mod in fc.body if isinstance(mod, torch.nn.Linear)]
    assert widths + [fc.heads.theta[1].out_features] == [128, 64, 32, 16]
    x = net.eval()(torch.randn(7, spec.num_features))
    assert x.shape == (7, 16)
    # same seed, same weights
    torch.testing.assert_close(IsacNN(spec).eval()(torch.ones(2, 176)), net(torch.ones(2, 176)))


def test_training_reduces_loss_and_is_deterministic() -> None:
    tr, va = _problem(400, 1, alpha=0.5), _problem(100, 2, alpha=0.5)
    cfg = TrainConfig(max_epochs=6, batch_size=64, seed=3)
    net1 = make_net(NetSpec(num_tx=4, num_rx=4, num_users=2, seed=1))
    h1 = train_uplink_net(net1, tr, va, cfg)
    net2 = make_net(NetSpec(num_tx=4, num_rx=4, num_users=2, seed=1))
    h2 = train_uplink_net(net2, tr, va, cfg)
    assert h1.val_loss == h2.val_loss
    assert min(h1.val_loss) < h1.val_loss[0]
    assert h1.best_val_loss == min(h1.val_loss)
    # the restored weights give the best validation loss
    red = reduce_problem(va, use_csi=False)
    with torch.no_grad():
        got = -float(red.wsnr(net1.eval()(uplink_features(va))).mean())
    assert got == pytest.approx(h1.best_val_loss, abs=1e-5)


def test_early_stopping_and_lr_schedule() -> None:
    tr, va = _problem(64, 1), _problem(32, 2)
    net = make_net(NetSpec(num_tx=4, num_rx=4, num_users=2))
    cfg = TrainConfig(lr=1e-5, max_epochs=200, patience=3, lr_patience=1, batch_size=32)
    hist = train_uplink_net(net, tr, va, cfg)
    # stops `patience` epochs after the best one, none of which improved
    assert hist.stopped_early
    assert len(hist.val_loss) == hist.best_epoch + 1 + cfg.patience
    assert min(hist.val_loss[hist.best_epoch + 1:]) >= hist.best_val_loss
    # ReduceLROnPlateau multiplied the rate by 0.33 at least once, never anything else
    drops = [b / a for a, b in zip(hist.lr, hist.lr[1:]) if b != a]
    assert drops and all(d == pytest.approx(0.33) for d in drops)


def test_designer_and_checkpoint_roundtrip(tmp_path: Path) -> None:
    pr = _problem(5, 4)
    net = make_net(NetSpec(num_tx=4, num_rx=4, num_users=2, seed=2))
    des = LearnedUplinkDesigner(net)
    assert isinstance(des, Designer)
    d = des.design(pr)
    s = d.extras["s"]
    assert s.shape == (5, 6, 4) and d.w.shape == (5, 4, 2)
    assert bool(((s.abs() ** 2).sum(dim=(-2, -1)) <= pr.power_s * (1 + 1e-5)).all())
    path = tmp_path / "net.safetensors"
    save_net(net, path)
    again = LearnedUplinkDesigner(load_net(path)).design(pr)
    torch.testing.assert_close(again.extras["sigma_s"], d.extras["sigma_s"])
    with pytest.raises(CheckpointError):
        load_net(tmp_path / "missing.safetensors")


@pytest.mark.slow
def test_isacnn_alpha0_reaches_wsnr_one_and_alpha_half_near_reference() -> None:
    """Acceptance (small scale): WSNR = 1 within 1e-3 at α = 0; at α = 0.5 within 2 % of the
    optimality reference."""
    sc = UplinkScenario(num_tx=8, num_rx=8, num_users=3, num_symbols=10)
    tr = sc.sample(2000, generator=make_generator(1))
    va = sc.sample(400, generator=make_generator(2))
    te = sc.sample(400, generator=make_generator(3)).to(dtype=torch.complex128)
    for alpha, tol in ((0.0, 1e-3), (0.5, 0.02)):
        tr_a, va_a, te_a = (dataclasses.replace(p, alpha=alpha) for p in (tr, va, te))
        net = make_net(NetSpec(num_tx=8, num_rx=8, num_users=3))
        train_uplink_net(net, tr_a, va_a, TrainConfig(max_epochs=40, patience=10,
                                                      lr_patience=5))
        red = reduce_problem(te_a)
        f_net = red.wsnr(LearnedUplinkDesigner(net).design(te_a).extras["sigma_s"]
                         / te_a.power_s).mean()
        f_ref = red.wsnr(ReferenceDesigner().design(te_a).extras["sigma_s"]
                         / te_a.power_s).mean()
        if alpha == 0.0:
            assert abs(float(f_net) - 1.0) <= tol
        assert float(f_net) >= (1 - tol) * float(f_ref)
        assert not math.isnan(float(f_net))
