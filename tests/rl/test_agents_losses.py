"""PPO losses against closed forms on small batches, the Q head's TD target against a loop, and
the Q loss reaching the shared critic trunk (SB3 issue #2028's lesson)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.core import make_generator
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.rl.agents.distributions import TruncatedNormal
from isaclearn.rl.agents.losses import (
    adapt_kl_coef,
    approx_kl,
    clip_fraction,
    clip_surrogate_loss,
    explained_variance,
    kl_penalty_loss,
    normalize_advantages,
    q_loss,
    q_td_target,
    value_loss,
)
from isaclearn.rl.agents.networks import HybridAgentConfig, HybridCritic

F64 = torch.float64


def test_clip_loss_equals_closed_form_on_three_samples() -> None:
    # ratio 1.5 with A = +1: clipped to 1.2 (no gradient); ratio 0.5 with A = -2: clipped to
    # 0.8 -> -1.6 (no gradient); ratio 1.1 with A = +3: inside, 3.3 with gradient A * ratio
    ratio = torch.tensor([1.5, 0.5, 1.1], dtype=F64)
    adv = torch.tensor([1.0, -2.0, 3.0], dtype=F64)
    old = torch.tensor([-0.3, -1.0, 0.2], dtype=F64)
    lp = (old + torch.log(ratio)).requires_grad_(True)
    loss = clip_surrogate_loss(lp, old, adv, 0.2)
    assert loss.item() == pytest.approx(-(1.2 - 1.6 + 3.3) / 3, abs=1e-12)
    (grad,) = torch.autograd.grad(loss, lp)
    torch.testing.assert_close(grad, torch.tensor([0.0, 0.0, -3.0 * 1.1 / 3], dtype=F64))
    # pessimism: a low ratio with a positive advantage and a high ratio with a negative one are
    # not clipped (min picks the unclipped term)
    ratio2 = torch.tensor([0.5, 1.5, 1.0], dtype=F64)
    adv2 = torch.tensor([2.0, -1.0, 0.5], dtype=F64)
    loss2 = clip_surrogate_loss(torch.log(ratio2), torch.zeros(3, dtype=F64), adv2, 0.2)
    assert loss2.item() == pytest.approx(-(0.5 * 2.0 - 1.5 * 1.0 + 0.5) / 3, abs=1e-12)


def test_clip_loss_brute_force_min_on_random_batch() -> None:
    g = make_generator(0)
    lp, old, adv = (torch.randn(50, generator=g, dtype=F64) * s for s in (0.4, 0.4, 2.0))
    ref = np.mean([min(math.exp(a - b) * c, min(max(math.exp(a - b), 0.8), 1.2) * c)
                   for a, b, c in zip(lp.tolist(), old.tolist(), adv.tolist())])
    assert clip_surrogate_loss(lp, old, adv).item() == pytest.approx(-ref, abs=1e-12)


def test_diagnostics_closed_forms() -> None:
    ratio = torch.tensor([1.5, 0.5, 1.1], dtype=F64)
    lp, old = torch.log(ratio), torch.zeros(3, dtype=F64)
    ref_kl = np.mean([(r - 1) - math.log(r) for r in ratio.tolist()])
    assert approx_kl(lp, old).item() == pytest.approx(ref_kl, abs=1e-12)
    assert clip_fraction(lp, old, 0.2).item() == pytest.approx(2 / 3)
    assert clip_fraction(lp, old, 0.6).item() == 0.0


def test_approx_kl_estimates_the_closed_form_kl() -> None:
    # samples of pi_old, log-ratio to pi: E[(r - 1) - log r] = KL(pi_old || pi)
    old = TruncatedNormal(torch.tensor(0.2, dtype=F64), torch.tensor(0.5, dtype=F64))
    new = TruncatedNormal(torch.tensor(0.35, dtype=F64), torch.tensor(0.45, dtype=F64))
    x = old.sample((400_000,), generator=make_generator(0))
    est = approx_kl(new.log_prob(x), old.log_prob(x)).item()
    exact = torch.distributions.kl_divergence(old, new).item()
    assert est == pytest.approx(exact, rel=0.03)


def test_kl_penalty_loss_closed_form_and_gradient() -> None:
    lp = torch.tensor([0.1, -0.2], dtype=F64, requires_grad=True)
    old = torch.zeros(2, dtype=F64)
    adv = torch.tensor([2.0, 1.0], dtype=F64)
    kl = lp**2  # a stand-in divergence with a known gradient
    loss = kl_penalty_loss(lp, old, adv, kl, beta=0.5)
    ref = -((math.exp(0.1) * 2 - 0.5 * 0.01) + (math.exp(-0.2) * 1 - 0.5 * 0.04)) / 2
    assert loss.item() == pytest.approx(ref, abs=1e-12)
    (grad,) = torch.autograd.grad(loss, lp)
    ref_grad = [-(math.exp(0.1) * 2 - 0.5 * 0.2) / 2, -(math.exp(-0.2) - 0.5 * (-0.4)) / 2]
    torch.testing.assert_close(grad, torch.tensor(ref_grad, dtype=F64))
    assert adapt_kl_coef(1.0, 0.02, 0.01) == 2.0
    assert adapt_kl_coef(1.0, 0.005, 0.01) == 0.5
    assert adapt_kl_coef(1.0, 0.012, 0.01) == 1.0


def test_value_loss_plain_and_clipped() -> None:
    v = torch.tensor([1.0, 2.0, 4.0], dtype=F64)
    ret = torch.tensor([1.5, 0.0, 4.0], dtype=F64)
    assert value_loss(v, ret).item() == pytest.approx((0.25 + 4.0 + 0.0) / 3)
    old = torch.tensor([1.0, 1.0, 3.0], dtype=F64)
    # clipped predictions: 1.0, 1.5, 3.5 -> errors 0.25, 2.25, 0.25; max with unclipped
    ref = (max(0.25, 0.25) + max(4.0, 2.25) + max(0.0, 0.25)) / 3
    assert value_loss(v, ret, old_values=old, clip_eps=0.5).item() == pytest.approx(ref)
    with pytest.raises(ConfigError):
        value_loss(v, ret, clip_eps=0.5)


def test_q_td_target_matches_a_loop_and_is_detached() -> None:
    g = make_generator(1)
    r = torch.randn(6, generator=g, dtype=F64)
    next_q = torch.randn(6, 4, 8, generator=g, dtype=F64, requires_grad=True)
    term = torch.tensor([False, True, False, False, True, False])
    y = q_td_target(r, next_q, 0.9, terminated=term)
    assert y.shape == (6, 4) and not y.requires_grad
    for b in range(6):
        for n in range(4):
            boot = 0.0 if term[b] else 0.9 * max(next_q[b, n].tolist())
            assert y[b, n].item() == pytest.approx(r[b].item() + boot, abs=1e-12)
    y0 = q_td_target(r, next_q, 0.9)
    assert y0[1, 0].item() == pytest.approx(r[1].item() + 0.9 * next_q[1, 0].max().item())


def test_q_loss_closed_form_and_kinds() -> None:
    q = torch.tensor([[[1.0, 2.0], [3.0, 0.0]]], dtype=F64)
    a = torch.tensor([[1, 0]])
    y = torch.tensor([[0.0, 5.0]], dtype=F64)
    assert q_loss(q, a, y).item() == pytest.approx((4.0 + 4.0) / 2)
    assert q_loss(q, a, y, "huber").item() == pytest.approx((1.5 + 1.5) / 2)
    with pytest.raises(ConfigError):
        q_loss(q, a, y, "l1")  # type: ignore[arg-type]


def test_q_loss_changes_the_critic_gradient() -> None:
    cfg = HybridAgentConfig(obs_dim=8, action_dim=8, num_irs_elements=4, phase_bits=2)
    critic = HybridCritic(cfg, generator=make_generator(0)).double()
    g = make_generator(2)
    obs = torch.randn(32, 8, generator=g, dtype=F64)
    next_obs = torch.randn(32, 8, generator=g, dtype=F64)
    ret = torch.randn(32, generator=g, dtype=F64)
    rew = torch.randn(32, generator=g, dtype=F64)
    act = torch.randint(4, (32, 4), generator=g)

    def grads(q_coef: float) -> dict[str, torch.Tensor]:
        critic.zero_grad()
        value, q = critic(obs)
        target = q_td_target(rew, critic(next_obs)[1], 0.9)
        loss = value_loss(value, ret) + q_coef * q_loss(q, act, target)
        loss.backward()
        return {k: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                for k, p in critic.named_parameters()}

    g0, g1 = grads(0.0), grads(1.0)
    assert g0["q_head.weight"].abs().max() == 0 and g1["q_head.weight"].abs().max() > 0
    assert (g1["body.weight"] - g0["body.weight"]).abs().max() > 1e-6
    torch.testing.assert_close(g1["value_head.weight"], g0["value_head.weight"])
    # the Q part of the gradient equals a finite difference of the Q loss along the trunk weight
    with torch.no_grad():
        target = q_td_target(rew, critic(next_obs)[1], 0.9)
    direction = torch.randn(critic.body.weight.shape, generator=g, dtype=F64)
    h = 1e-6

    def q_only(delta: float) -> float:
        with torch.no_grad():
            critic.body.weight += delta * direction
            val = q_loss(critic(obs)[1], act, target).item()
            critic.body.weight -= delta * direction
        return val

    fd = (q_only(h) - q_only(-h)) / (2 * h)
    analytic = ((g1["body.weight"] - g0["body.weight"]) * direction).sum().item()
    assert fd == pytest.approx(analytic, rel=1e-5, abs=1e-9)


def test_explained_variance_uses_sb3_formula() -> None:
    y = torch.tensor([1.0, 2.0, 4.0, 7.0], dtype=F64)
    pred = torch.tensor([1.5, 2.0, 3.0, 7.5], dtype=F64)
    ref = 1 - np.var((y - pred).numpy()) / np.var(y.numpy())
    assert explained_variance(pred, y) == pytest.approx(ref)
    assert math.isnan(explained_variance(pred, torch.ones(4)))
    assert explained_variance(y[:, None].expand(4, 2), y[:, None].expand(4, 2)) == 1.0


def test_normalize_advantages() -> None:
    a = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    n = normalize_advantages(a)
    assert n.mean().abs() < 1e-12 and n.std().item() == pytest.approx(1.0, abs=1e-6)


def test_bad_inputs() -> None:
    z = torch.zeros(3)
    with pytest.raises(ShapeError):
        clip_surrogate_loss(z, torch.zeros(4), z)
    with pytest.raises(ValueRangeError):
        clip_surrogate_loss(z, z, z, clip_eps=2.0)
    with pytest.raises(ShapeError):
        q_td_target(z, torch.zeros(3, 2), 0.9)
    with pytest.raises(ValueRangeError):
        q_td_target(z, torch.zeros(3, 2, 2), 1.5)
    with pytest.raises(ShapeError):
        q_loss(torch.zeros(3, 2, 2), torch.zeros(3, 3, dtype=torch.long), torch.zeros(3, 2))
