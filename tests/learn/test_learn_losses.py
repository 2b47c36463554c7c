"""Tests of isaclearn.learn.losses: eq. (25) against the metrics it is built from, β and γ."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.arrays import ula
from isaclearn.channels import DownlinkProblem
from isaclearn.core import ConfigError, complex_normal, fro_norm_sq, make_generator, scale_to_power
from isaclearn.learn import LossConfig, compute_beta, compute_gamma, isac_loss_terms
from isaclearn.learn.losses import min_approx_sum_crb
from isaclearn.metrics import crb_angle_approx, jain_fairness, sum_rate

C128 = torch.complex128



def _problem(b: int = 4, k: int = 3, m: int = 5, t: int = 2, seed: int = 0,
             dtype: torch.dtype = C128) -> DownlinkProblem:
    gen = make_generator(seed)
    h = complex_normal((b, k, m), generator=gen, dtype=dtype)
    theta = (torch.rand(b, t, generator=gen, dtype=torch.float64) - 0.5) * 2.0
    return DownlinkProblem(h=h, theta=theta, power=2.0, noise_var=0.1, radar_snr=30.0,
                           num_rx=4, num_symbols=3)


def _w(problem: DownlinkProblem, seed: int = 1) -> torch.Tensor:
    return complex_normal((problem.batch_size, problem.num_antennas, problem.num_users),
                          generator=make_generator(seed), dtype=problem.h.dtype)


@pytest.mark.parametrize("score_on", ["raw", "scaled"])
def test_terms_match_metrics(score_on: str) -> None:
    pr = _problem()
    w_raw = _w(pr)
    w = scale_to_power(w_raw, pr.power)
    rho = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)
    cfg = LossConfig(beta=0.05, gamma=2e-3, alpha=6.0, delta=0.4, score_on=score_on)  # type: ignore[arg-type]
    terms = isac_loss_terms(pr, w_raw, w, rho, cfg)
    ws = w_raw if score_on == "raw" else w
    rate = sum_rate(pr.h, ws, pr.noise_var)
    crb = crb_angle_approx(ws, pr.theta, radar_snr=pr.radar_snr, num_symbols=pr.num_symbols)
    # written out from eq. (25)
    torch.testing.assert_close(terms["rate"], -rho * (0.05 / 6.0) * rate)
    torch.testing.assert_close(terms["sensing"], -(1 - rho) * (2e-3 / 6.0) / crb.sum(-1))
    torch.testing.assert_close(terms["power"], (2.0 - fro_norm_sq(w_raw)).abs())
    torch.testing.assert_close(terms["fairness"], 0.4 * (1 - rho) * (1 - jain_fairness(crb)))
    torch.testing.assert_close(
        terms["total"], terms["rate"] + terms["sensing"] + terms["power"] + terms["fairness"]
    )
    torch.testing.assert_close(terms["sum_rate"], rate)
    # the approximate CRB written out: 1 / (2 η L a^H W W^H a)
    a = ula(pr.num_antennas, pr.theta)
    g = (a.conj().unsqueeze(-2) @ ws.unsqueeze(-3)).abs().square().sum((-2, -1))
    torch.testing.assert_close(terms["sum_crb_approx"], (1 / (2 * 30.0 * 3 * g)).sum(-1))


def test_scalar_rho_and_range_check() -> None:
    pr = _problem()
    w = scale_to_power(_w(pr), pr.power)
    cfg = LossConfig(beta=0.05, gamma=1e-3)
    t1 = isac_loss_terms(pr, w, w, 0.5, cfg)
    t2 = isac_loss_terms(pr, w, w, torch.full((4,), 0.5, dtype=torch.float64), cfg)
    torch.testing.assert_close(t1["total"], t2["total"])
    torch.testing.assert_close(t1["power"], torch.zeros(4, dtype=torch.float64), atol=1e-12,
                               rtol=0)
    with pytest.raises(ConfigError):
        isac_loss_terms(pr, w, w, 1.5, cfg)
    with pytest.raises(ConfigError):
        LossConfig(beta=-1.0, gamma=1.0)
    with pytest.raises(ConfigError):
        LossConfig(beta=1.0, gamma=1.0, score_on="other")  # type: ignore[arg-type]


def test_loss_gradient_matches_finite_differences() -> None:
    """gradcheck of the total loss (complex128) with respect to the raw precoder."""
    pr = _problem(b=2, k=2, m=3, t=2)
    cfg = LossConfig(beta=0.05, gamma=1e-3, delta=0.3, score_on="scaled")
    rho = torch.tensor([0.2, 0.8], dtype=torch.float64)

    def f(w_raw: torch.Tensor) -> torch.Tensor:
        return isac_loss_terms(pr, w_raw, scale_to_power(w_raw, pr.power), rho, cfg)["total"]

    w0 = _w(pr, 5).requires_grad_(True)
    assert torch.autograd.gradcheck(f, (w0,), eps=1e-6, atol=1e-5)


def test_min_approx_sum_crb_closed_forms() -> None:
    eta, l_sym, m, p = 10.0, 3, 8, 2.0
    c = 2 * eta * l_sym * m * p
    # one target: all power on a(θ) gives a^H R a = M P
    one = min_approx_sum_crb(torch.tensor([[0.3], [-1.2]]), m, p, radar_snr=eta,
                             num_symbols=l_sym)
    torch.testing.assert_close(one, torch.full((2,), 1 / c, dtype=torch.float64), rtol=1e-4,
                               atol=0)
    # two targets with orthogonal steering vectors (sin θ differ by 2/M): T² / c
    th2 = torch.tensor([[0.0, math.asin(2.0 / m)]])
    two = min_approx_sum_crb(th2, m, p, radar_snr=eta, num_symbols=l_sym)
    torch.testing.assert_close(two, torch.tensor([4 / c], dtype=torch.float64), rtol=1e-4, atol=0)
    # two coinciding targets: one beam serves both, 2 / c
    same = min_approx_sum_crb(torch.tensor([[0.4, 0.4]]), m, p, radar_snr=eta, num_symbols=l_sym)
    torch.testing.assert_close(same, torch.tensor([2 / c], dtype=torch.float64), rtol=1e-4, atol=0)


def test_min_approx_sum_crb_is_a_lower_bound() -> None:
    """No precoder with the same power reaches below the minimum (random designs)."""
    theta = torch.tensor([[-0.1745, 0.4363]], dtype=torch.float64)
    g = min_approx_sum_crb(theta, 6, 1.0, radar_snr=100.0, num_symbols=1)
    w = scale_to_power(complex_normal((200, 6, 4), generator=make_generator(3), dtype=C128), 1.0)
    crb = crb_angle_approx(w, theta.expand(200, -1), radar_snr=100.0, num_symbols=1).sum(-1)
    assert float(crb.min()) >= float(g) * (1 - 1e-6)
    # and a matched-filter design to the two targets is within a factor 2 of it
    a = ula(6, theta)[0].T  # [M, T]
    w_mf = scale_to_power(a[None], 1.0)
    crb_mf = crb_angle_approx(w_mf, theta, radar_snr=100.0, num_symbols=1).sum(-1)
    assert float(g) <= float(crb_mf) <= 2.0 * float(g)


def test_compute_gamma_and_beta() -> None:
    pr = _problem(b=3, k=2, m=4, t=2, seed=3)
    gamma, info = compute_gamma(pr)
    per = min_approx_sum_crb(pr.theta, 4, pr.power, radar_snr=pr.radar_snr,
                             num_symbols=pr.num_symbols)
    assert math.isclose(gamma, float(per.mean()), rel_tol=1e-12)
    assert info["num_instances"] == 3 and info["min"] <= gamma <= info["max"]
    beta, binfo = compute_beta(_problem(b=16, k=3, m=5, seed=4))
    assert math.isclose(beta * binfo["mean_sum_rate"], 1.0, rel_tol=1e-12)
    assert "best of" in binfo["reference"] and "100 iterations" in binfo["reference"]
    # the WMMSE reference beats matched filtering on the same sample
    pr2 = _problem(b=16, k=3, m=5, seed=4)
    mrt = scale_to_power(pr2.h.mH, pr2.power)
    assert binfo["mean_sum_rate"] > float(sum_rate(pr2.h, mrt, pr2.noise_var).mean())
