"""Primal-dual updates (34)-(36) on toys with closed-form optima (water-filling), stationarity,
the sign of the μ term, and the zeroth-order estimator (37)-(39) against its expected value."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, special

from isaclearn.core import make_generator
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.rl.agents.distributions import TruncatedNormal
from isaclearn.rl.agents.losses import clip_surrogate_loss
from isaclearn.rl.primal_dual import (
    PrimalDual,
    PrimalDualConfig,
    lagrangian_reward,
    zeroth_order_gradient,
)

F64 = torch.float64


# --------------------------------------------------------------------------------------------
# the Lagrangian reward
# --------------------------------------------------------------------------------------------


def test_lagrangian_reward_closed_form_and_gradient() -> None:
    rates = torch.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]], dtype=F64, requires_grad=True)
    l_r = torch.tensor([4.0, 1.0], dtype=F64, requires_grad=True)
    lam = torch.tensor([1.0, 0.5, 2.0], dtype=F64)
    mu = torch.tensor([0.3], dtype=F64)
    r = lagrangian_reward(rates, l_r, lam, mu, 3.0)
    ref = [1 + 1 + 1 + 0.3 * (3 - 4), 0 + 0.5 + 6 + 0.3 * (3 - 1)]
    torch.testing.assert_close(r, torch.tensor(ref, dtype=F64))
    g_rates, g_lr = torch.autograd.grad(r.sum(), (rates, l_r))
    torch.testing.assert_close(g_rates, lam.expand(2, 3))
    torch.testing.assert_close(g_lr, torch.full((2,), -0.3, dtype=F64))  # sign: -mu


def test_lagrangian_reward_per_user_and_several_constraints() -> None:
    rates = torch.tensor([[1.0, 2.0]])
    l_r = torch.tensor([[4.0, 1.0]])
    lam, mu = torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.1])
    per = lagrangian_reward(rates, l_r, lam, mu, torch.tensor([3.0, 2.0]), per_user=True)
    torch.testing.assert_close(per, torch.tensor([[1 + 0.5 * (3 - 4), 6 + 0.1 * (2 - 1)]]))
    total = lagrangian_reward(rates, l_r, lam, mu, torch.tensor([3.0, 2.0]))
    torch.testing.assert_close(total, per.sum(-1))
    with pytest.raises(ShapeError):
        lagrangian_reward(rates, torch.tensor([[1.0, 2.0, 3.0]]), lam, torch.ones(3), 1.0,
                          per_user=True)
    with pytest.raises(ShapeError):
        lagrangian_reward(rates, l_r, torch.ones(3), mu, 1.0)
    with pytest.raises(ShapeError):
        lagrangian_reward(rates, torch.ones(2, 2), lam, mu, 1.0)


# --------------------------------------------------------------------------------------------
# the updates
# --------------------------------------------------------------------------------------------


def test_one_update_by_hand() -> None:
    cfg = PrimalDualConfig(num_rates=2, ell=2.0, x_max=5.0, tau_x=0.5, tau_lambda=0.25,
                           tau_mu=0.1, x_init=1.0, lambda_init=0.2, mu_init=0.05)
    pd = PrimalDual(cfg, dtype=F64)
    out = pd.update(torch.tensor([3.0, 0.0], dtype=F64), 2.7)
    x = np.clip(1.0 + 0.5 * (1 - 0.2), 0, 5)  # 1.4
    lam = np.maximum(0.2 - 0.25 * (np.array([3.0, 0.0]) - x), 0)  # [0, 0.55]
    mu = max(0.05 - 0.1 * (2.0 - 2.7), 0)  # 0.12
    torch.testing.assert_close(out["x"], torch.tensor([x, x], dtype=F64))
    torch.testing.assert_close(out["lam"], torch.tensor(lam, dtype=F64))
    torch.testing.assert_close(out["mu"], torch.tensor([mu], dtype=F64))
    assert pd.state.num_updates == 1
    # projections: x stays in [0, x_max]
    pd2 = PrimalDual(PrimalDualConfig(num_rates=1, x_max=1.0, tau_x=10.0, lambda_init=0.0))
    assert pd2.update(torch.tensor([0.0]), 0.0)["x"].item() == 1.0
    pd3 = PrimalDual(PrimalDualConfig(num_rates=1, tau_x=10.0, lambda_init=5.0))
    assert pd3.update(torch.tensor([0.0]), 0.0)["x"].item() == 0.0


def test_multipliers_never_go_negative() -> None:
    g = make_generator(0)
    pd = PrimalDual(PrimalDualConfig(num_rates=3, num_constraints=2, tau_x=0.3, tau_lambda=0.7,
                                     tau_mu=0.9))
    for _ in range(300):
        rates = 5 * torch.rand(3, generator=g)
        l_r = 6 * torch.rand(2, generator=g)
        out = pd.update(rates, l_r)
        assert (out["lam"] >= 0).all() and (out["mu"] >= 0).all()
        assert (out["x"] >= 0).all() and (out["x"] <= 20).all()
    assert (pd.state.lam == 0).any() or (pd.state.mu == 0).any()  # the projection was active


def _water_filling_optimum(scales: list[float], p_bar: float) -> tuple[float, np.ndarray, float]:
    """Closed form of max sum_k E log(1 + g_k p_k) s.t. sum_k E p_k <= p_bar for
    g_k = s_k * Exp(1): a common water level w (lambda_k = 1), p_k = [w - 1/g_k]_+, with
    E p_k = w e^{-a_k} - E1(a_k) / s_k and x_k = E log(1 + g_k p_k) = E1(a_k), a_k = 1/(w s_k);
    mu* = 1/w."""
    def excess(w: float) -> float:
        return sum(w * math.exp(-1 / (w * sk)) - special.exp1(1 / (w * sk)) / sk
                   for sk in scales) - p_bar

    w = optimize.brentq(excess, 0.05, 100)
    x = np.array([special.exp1(1 / (w * sk)) for sk in scales])
    return w, x, 1.0 / w


def _run_water_filling(gains_scale: torch.Tensor, p_bar: float, iters: int, batch: int,
                       tau: float = 0.05, policy_step: float = 0.2
                       ) -> tuple[PrimalDual, torch.Tensor, np.ndarray]:
    """max sum_k x_k s.t. x_k <= E log(1 + g_k p_k(g_k)), sum_k E p_k <= p_bar, with the
    water-filling policy p_k = [w_k - 1/g_k]_+ whose levels w are the policy parameters,
    updated by SGD on the Lagrangian reward (33), then (34)-(36)."""
    k = gains_scale.shape[0]
    gen = make_generator(0)
    pd = PrimalDual(PrimalDualConfig(num_rates=k, ell=p_bar, tau_x=tau, tau_lambda=tau,
                                     tau_mu=tau), dtype=F64)
    w = torch.ones(k, dtype=F64, requires_grad=True)
    hist = []
    for _ in range(iters):
        g = -torch.log(torch.rand(batch, k, generator=gen, dtype=F64)) * gains_scale
        p = torch.relu(w - 1 / g)
        rates = torch.log1p(g * p)
        reward = pd.reward(rates, p.sum(-1))  # "L_r" = total power, "ell" = p_bar
        (grad_w,) = torch.autograd.grad(reward.mean(), w)
        with torch.no_grad():
            w += policy_step * grad_w  # (33)
            w.clamp_(min=1e-3)
        out = pd.update(rates.mean(0).detach(), p.sum(-1).mean().detach())
        assert (out["lam"] >= 0).all() and (out["mu"] >= 0).all()
        hist.append(np.concatenate([out["x"].numpy(), out["lam"].numpy(), out["mu"].numpy()]))
    return pd, w.detach(), np.array(hist)


def test_water_filling_toy_reaches_the_closed_form_optimum() -> None:
    # check of the closed form itself: E[p*] = p_bar by quadrature
    w_star, x_star, mu_star = _water_filling_optimum([1.0], 1.0)
    e_p, _ = integrate.quad(lambda g: (w_star - 1 / g) * math.exp(-g), 1 / w_star, np.inf)
    assert e_p == pytest.approx(1.0, rel=1e-8)
    _, w, hist = _run_water_filling(torch.ones(1, dtype=F64), 1.0, iters=2000, batch=1024,
                                    tau=0.1, policy_step=1.0)
    x_avg, lam_avg, mu_avg = hist[-500:].mean(0)  # ergodic average of the last iterates
    assert x_avg == pytest.approx(x_star[0], rel=0.02)
    assert lam_avg == pytest.approx(1.0, rel=0.02)
    assert mu_avg == pytest.approx(mu_star, rel=0.02)
    assert w.item() == pytest.approx(w_star, rel=0.05)  # the policy's water level
    # the last iterate too, at a looser tolerance (the iterates oscillate about the saddle)
    assert hist[-1, 0] == pytest.approx(x_star[0], rel=0.1)
    assert hist[-1, 2] == pytest.approx(mu_star, rel=0.1)


def test_stationarity_lambda_tends_to_one_with_sum_utility() -> None:
    # three users with different mean gains share one power budget: dL/dx_k = 1 - lambda_k,
    # so lambda_k -> 1 and x_k -> E rate_k (an interior x)
    scales = [0.5, 1.0, 2.0]
    _, x_star, mu_star = _water_filling_optimum(scales, 1.5)
    pd, _, hist = _run_water_filling(torch.tensor(scales, dtype=F64), 1.5, iters=2000,
                                     batch=512, tau=0.1, policy_step=1.0)
    lam_avg = hist[-500:, 3:6].mean(0)
    assert np.all(np.abs(lam_avg - 1.0) <= 0.05), lam_avg
    np.testing.assert_allclose(hist[-500:, :3].mean(0), x_star, rtol=0.02)
    assert hist[-500:, 6].mean() == pytest.approx(mu_star, rel=0.02)
    assert np.all(np.abs(pd.state.lam.numpy() - 1.0) <= 0.1)


def test_custom_utility_gradient_is_autograd() -> None:
    pd = PrimalDual(PrimalDualConfig(num_rates=3, x_init=1.0), dtype=F64,
                    utility=lambda x: torch.log1p(x).sum(-1))
    torch.testing.assert_close(pd.utility_gradient(), torch.full((3,), 0.5, dtype=F64))


# --------------------------------------------------------------------------------------------
# the sign of the mu term (rlpyt #201's lesson)
# --------------------------------------------------------------------------------------------


def _train_power_policy(mu: float) -> float:
    """A one-parameter policy: power p = p_max * a, a ~ TruncatedNormal(theta, 0.1) on [0, 1],
    rate log2(1 + p), 'L_r' = p^2 (grows with power); trained by PPO's clipped surrogate on the
    Lagrangian reward with a fixed mu. Returns the final mean L_r."""
    gen = make_generator(11)
    theta = torch.tensor(0.5, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([theta], lr=0.05)
    lam, mu_t, p_max = torch.ones(1, dtype=F64), torch.tensor([mu], dtype=F64), 2.0
    for _ in range(300):
        with torch.no_grad():
            dist = TruncatedNormal(theta, torch.tensor(0.1, dtype=F64), 0.0, 1.0)
            a = dist.sample((256,), generator=gen)
            p = p_max * a
            reward = lagrangian_reward(torch.log2(1 + p)[:, None], p**2, lam, mu_t, 1.0)
            adv = reward - reward.mean()
            old_lp = dist.log_prob(a)
        new_lp = TruncatedNormal(theta, torch.tensor(0.1, dtype=F64), 0.0, 1.0).log_prob(a)
        opt.zero_grad()
        clip_surrogate_loss(new_lp, old_lp, adv).backward()
        opt.step()
        with torch.no_grad():
            theta.clamp_(-0.5, 1.5)
    dist = TruncatedNormal(theta.detach(), torch.tensor(0.1, dtype=F64), 0.0, 1.0)
    return float(((p_max * dist.mean) ** 2).item())


def test_increasing_mu_lowers_the_beampattern_error() -> None:
    l_r = [_train_power_policy(mu) for mu in (0.0, 0.3, 3.0)]
    assert l_r[0] > l_r[1] > l_r[2], l_r
    # deterministic optimum of log2(1 + p) - mu p^2 on [0, 2]: p(1 + p) = 1 / (2 mu ln 2)
    p_star = (-1 + math.sqrt(1 + 4 / (2 * 0.3 * math.log(2)))) / 2
    assert math.sqrt(l_r[1]) == pytest.approx(p_star, abs=0.15)
    assert math.sqrt(l_r[0]) > 1.7  # mu = 0: full power


# --------------------------------------------------------------------------------------------
# the zeroth-order estimator (37)-(39)
# --------------------------------------------------------------------------------------------

A = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)


@pytest.mark.parametrize(("truncation", "normalize", "factor"),
                         [(None, False, 1.0), (2.0, False, 0.7737413), (2.0, True, 1.0)])
def test_zeroth_order_mean_on_a_linear_function(truncation: float | None, normalize: bool,
                                                factor: float) -> None:
    n = 200_000
    est = zeroth_order_gradient(lambda x: x @ A, torch.zeros(4, dtype=F64), 1e-3,
                                generator=make_generator(3), num_samples=n,
                                truncation=truncation, normalize=normalize, reduce=False)
    assert est.shape == (n, 4)
    mean, std = est.mean(0), est.std(0)
    assert torch.all((mean - factor * A).abs() < 3 * std / math.sqrt(n)), (mean, factor * A)
    # the mean alone distinguishes 0.774 from 1: the gap is many standard errors
    assert torch.all(((1 - 0.7737) * A).abs() > 8 * std / math.sqrt(n))


def test_zeroth_order_vector_function_gives_the_transposed_jacobian() -> None:
    jac = torch.tensor([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]], dtype=F64)  # [D, S]
    x0 = torch.tensor([0.3, -0.2, 1.0], dtype=F64)
    est = zeroth_order_gradient(lambda x: torch.sin(x0 @ jac) + (x - x0) @ jac, x0, 1e-4,
                                generator=make_generator(4), num_samples=60_000, normalize=True)
    assert est.shape == (3, 2)
    torch.testing.assert_close(est, jac, atol=0.06, rtol=0)


def test_zeroth_order_on_a_smooth_function_with_small_alpha() -> None:
    x0 = torch.tensor([0.5, -1.0], dtype=F64)
    grad = torch.tensor([2 * 0.5, math.cos(-1.0)], dtype=F64)
    est = zeroth_order_gradient(lambda x: x[:, 0] ** 2 + torch.sin(x[:, 1]), x0, 1e-3,
                                generator=make_generator(5), num_samples=50_000, reduce=False)
    mean, se = est.mean(0), est.std(0) / math.sqrt(50_000)
    assert torch.all((mean - 0.7737413 * grad).abs() < 3 * se + 1e-3)


def test_zeroth_order_mode_of_primal_dual() -> None:
    cfg = PrimalDualConfig(num_rates=3, gradient="zeroth_order", zo_samples=20_000)
    pd = PrimalDual(cfg, dtype=F64)
    g = pd.utility_gradient(generator=make_generator(6))
    # f0 = sum: per-sample estimate (sum x_hat) x_hat, mean 0.774 * 1, std about sqrt(3) * 0.77
    assert torch.all((g - 0.7737).abs() < 4 * 1.4 / math.sqrt(20_000))
    pd_n = PrimalDual(PrimalDualConfig(num_rates=3, gradient="zeroth_order", zo_samples=20_000,
                                       zo_normalize=True), dtype=F64)
    g_n = pd_n.utility_gradient(generator=make_generator(6))
    assert torch.all((g_n - 1.0).abs() < 4 * 1.8 / math.sqrt(20_000))
    with pytest.raises(ConfigError, match="generator"):
        pd.update(torch.zeros(3, dtype=F64), 0.0)
    out = pd.update(torch.zeros(3, dtype=F64), 0.0, generator=make_generator(7))
    assert out["grad_f0"].shape == (3,)


def test_zeroth_order_is_seeded() -> None:
    kw = {"num_samples": 5, "generator": make_generator(8)}
    e1 = zeroth_order_gradient(lambda x: x.sum(-1), torch.zeros(3), 1e-3, **kw)  # type: ignore[arg-type]
    e2 = zeroth_order_gradient(lambda x: x.sum(-1), torch.zeros(3), 1e-3, num_samples=5,
                               generator=make_generator(8))
    assert torch.equal(e1, e2)


# --------------------------------------------------------------------------------------------
# config and checkpointing
# --------------------------------------------------------------------------------------------


def test_state_dict_round_trip() -> None:
    pd = PrimalDual(PrimalDualConfig(num_rates=2, num_constraints=2))
    for _ in range(3):
        pd.update(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 0.5]))
    sd = pd.state_dict()
    other = PrimalDual(PrimalDualConfig(num_rates=2, num_constraints=2))
    other.load_state_dict(sd)
    assert other.state.num_updates == 3
    for key in ("x", "lam", "mu"):
        assert torch.equal(getattr(other.state, key), getattr(pd.state, key))
    with pytest.raises(ShapeError):
        PrimalDual(PrimalDualConfig(num_rates=3)).load_state_dict(sd)


def test_bad_config_and_inputs() -> None:
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=0)
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=1, tau_mu=-1.0)
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=1, gradient="adam")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PrimalDualConfig(num_rates=1, lambda_init=-0.1)
    pd = PrimalDual(PrimalDualConfig(num_rates=2))
    with pytest.raises(ShapeError):
        pd.update(torch.zeros(3), 0.0)
    with pytest.raises(ShapeError):
        pd.update(torch.zeros(2), torch.zeros(2))
    with pytest.raises(ShapeError):
        zeroth_order_gradient(lambda x: x.sum(-1), torch.zeros(2, 2), 1e-3, generator=None)
