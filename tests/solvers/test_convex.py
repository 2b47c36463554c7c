"""Convex sensing bounds and the SDR trade-off reference (isaclearn.solvers.convex*)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import cvxpy as cp
import numpy as np
import pytest
import torch

from isaclearn.channels import DownlinkIsacScenario, DownlinkProblem, RicianChannel
from isaclearn.core import (
    ConfigError,
    Design,
    Designer,
    ShapeError,
    ValueRangeError,
    fro_norm_sq,
    make_generator,
)
from isaclearn.metrics import crb_angle, crb_from_covariance, sinr
from isaclearn.solvers import convex_sdr
from isaclearn.solvers.convex import SensingOnly, sensing_only_covariance
from isaclearn.solvers.convex_sdr import SdrTradeoff, sdr_boundary, sdr_tradeoff

ETA = 100.0  # radar SNR
N_RX = 6


def _crandn(*shape: int, gen: torch.Generator, dtype: torch.dtype = torch.complex128
            ) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype, generator=gen)


def _sum_crb_cov(r: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    return crb_from_covariance(r, theta, num_rx=N_RX, radar_snr=ETA, num_symbols=1).sum(-1)


# ------------------------------------------------------------------ crb_from_covariance


@pytest.mark.parametrize("reference", ["center", "first"])
def test_crb_from_covariance_equals_crb_angle(
    device: str, cdtype: torch.dtype, reference: str
) -> None:
    gen = make_generator(7)
    w = _crandn(4, 6, 3, gen=gen).to(device=device, dtype=cdtype)
    rdt = torch.float64 if cdtype == torch.complex128 else torch.float32
    theta = (torch.rand(4, 2, generator=gen, dtype=torch.float64) * 2.4 - 1.2).to(device, rdt)
    eta = torch.tensor([[10.0, 100.0]], dtype=rdt, device=device)  # per target, [1, T]
    kw = {"num_rx": 5, "radar_snr": eta, "num_symbols": 3, "reference": reference}
    ref = crb_angle(w, theta, **kw)
    got = crb_from_covariance(w @ w.conj().transpose(-2, -1), theta, **kw)
    assert got.shape == (4, 2) and got.dtype == rdt and got.device.type == device
    tol = 1e-10 if cdtype == torch.complex128 else 2e-3
    torch.testing.assert_close(got, ref, rtol=tol, atol=0.0)


def test_crb_from_covariance_homogeneous_and_checks() -> None:
    gen = make_generator(3)
    x = _crandn(5, 5, gen=gen)
    r = x @ x.conj().T
    theta = torch.tensor([-0.4, 0.2, 0.9], dtype=torch.float64)
    c1 = crb_from_covariance(r, theta, num_rx=4, radar_snr=5.0, num_symbols=2)
    c2 = crb_from_covariance(3.0 * r, theta, num_rx=4, radar_snr=5.0, num_symbols=2)
    torch.testing.assert_close(c2, c1 / 3.0, rtol=1e-12, atol=0.0)
    with pytest.raises(ShapeError, match="r_x"):
        crb_from_covariance(r[:, :4], theta, num_rx=4, radar_snr=5.0, num_symbols=2)
    with pytest.raises(ConfigError, match="num_rx"):
        crb_from_covariance(r, theta, num_rx=0, radar_snr=5.0, num_symbols=2)
    with pytest.raises(ValueRangeError, match="radar_snr"):
        crb_from_covariance(r, theta, num_rx=4, radar_snr=-1.0, num_symbols=2)


# ------------------------------------------------------------------ sensing-only minimum


@pytest.fixture(scope="module")
def sensing_solution() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    theta = torch.tensor([[-0.17, 0.44], [0.05, 0.6]], dtype=torch.float64)
    r, crb = sensing_only_covariance(theta, 6, 2.0, num_rx=N_RX, radar_snr=ETA, num_symbols=1)
    return theta, r, crb


def test_sensing_only_feasible_and_consistent(
    sensing_solution: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    theta, r, crb = sensing_solution
    assert r.shape == (2, 6, 6) and r.dtype == torch.complex128 and crb.shape == (2,)
    torch.testing.assert_close(r, r.conj().transpose(-2, -1))
    assert bool((torch.linalg.eigvalsh(r) > -1e-12).all())
    torch.testing.assert_close(torch.diagonal(r, dim1=-2, dim2=-1).real.sum(-1),
                               torch.full((2,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(crb, _sum_crb_cov(r, theta), rtol=1e-12, atol=0.0)


def test_sensing_only_beats_isotropic_and_random(
    sensing_solution: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    theta, _, crb = sensing_solution
    iso = torch.eye(6, dtype=torch.complex128).expand(2, 6, 6) * (2.0 / 6)
    assert bool((crb <= _sum_crb_cov(iso, theta)).all())
    gen = make_generator(11)
    for rank in (1, 2, 6):
        x = _crandn(200, 2, 6, rank, gen=gen)
        rr = x @ x.conj().transpose(-2, -1)
        rr = rr * (2.0 / torch.diagonal(rr, dim1=-2, dim2=-1).real.sum(-1))[..., None, None]
        assert bool((_sum_crb_cov(rr, theta) >= crb * (1 - 1e-9)).all())


def test_sensing_only_first_order_optimality(
    sensing_solution: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    """Moving from the optimum towards any feasible point never lowers the sum CRB."""
    theta, r, crb = sensing_solution
    gen = make_generator(5)
    v = _crandn(64, 2, 6, 1, gen=gen)
    target = 2.0 * v @ v.conj().transpose(-2, -1) / (v.abs() ** 2).sum(dim=(-2, -1))[..., None,
                                                                                     None]
    for eps in (1e-3, 1e-2, 1e-1):
        moved = (1 - eps) * r + eps * target
        assert bool((_sum_crb_cov(moved, theta) >= crb * (1 - 1e-7)).all())


def test_sensing_only_matches_gradient_minimization(
    sensing_solution: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> None:
    """Independent reference: L-BFGS over R = P L L^H / ||L||_F² (full-size L, float64)."""
    theta, _, crb = sensing_solution
    th = theta[0]
    iso = _sum_crb_cov(torch.eye(6, dtype=torch.complex128) / 3.0, th)
    x = _crandn(6, 6, gen=make_generator(2)).requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=400, tolerance_grad=1e-12,
                            tolerance_change=1e-15, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        rr = 2.0 * x @ x.conj().T / (x.abs() ** 2).sum()
        loss = _sum_crb_cov(rr, th) / iso
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        found = float(_sum_crb_cov(2.0 * x @ x.conj().T / (x.abs() ** 2).sum(), th))
    assert found >= float(crb[0]) * (1 - 1e-7)  # the convex optimum is a lower bound
    assert found <= float(crb[0]) * (1 + 1e-3)  # and local search reaches it


def test_sensing_only_rejects_bad_args() -> None:
    with pytest.raises(ValueRangeError, match="power"):
        sensing_only_covariance(torch.tensor([0.3]), 4, -1.0, num_rx=4, radar_snr=1.0,
                                num_symbols=1)
    with pytest.raises(ConfigError, match="solver"):
        sensing_only_covariance(torch.tensor([0.3]), 4, 1.0, num_rx=4, radar_snr=1.0,
                                num_symbols=1, solver="NOT_A_SOLVER")


def _problem(b: int, k: int, m: int, *, seed: int, dtype: torch.dtype = torch.complex128,
             noise_var: float = 0.1) -> DownlinkProblem:
    gen = make_generator(seed)
    h = _crandn(b, k, m, gen=gen).to(dtype) / math.sqrt(2.0)
    theta = torch.tensor([-0.17, 0.44], dtype=torch.float64)
    return DownlinkProblem(h=h, theta=theta, power=1.0, noise_var=noise_var, radar_snr=ETA,
                           num_rx=N_RX, num_symbols=1)


def test_sensing_only_designer(device: str) -> None:
    prob = _problem(2, 3, 6, seed=1, dtype=torch.complex64).to(device)
    designer = SensingOnly()
    assert isinstance(designer, Designer)
    d = designer.design(prob)
    assert d.w.shape == (2, 6, 3) and d.w.dtype == torch.complex64
    assert d.w.device.type == device
    # Rank of the optimum is at most 2T = 4 > K = 3 is possible: the info says which.
    power = (d.w.abs() ** 2).sum(dim=(-2, -1))
    assert bool((power <= 1.0 * (1 + 1e-6)).all())
    crb_w = crb_angle(d.w.to(torch.complex128), prob.theta.to(torch.float64), num_rx=N_RX,
                      radar_snr=ETA, num_symbols=1).sum(-1)
    bound = d.info["sum_crb_bound"].to(torch.float64)
    assert bool((crb_w >= bound * (1 - 1e-5)).all())
    exact = ~d.info["rank_loss"]
    torch.testing.assert_close(crb_w[exact], bound[exact], rtol=1e-4, atol=0.0)


# ------------------------------------------------------------------ SDR trade-off


def _check_sdr_invariants(res: convex_sdr.SdrResult, h: torch.Tensor, gamma: float,
                          noise_var: float, power: float) -> None:
    ok = res.feasible
    w = res.w[ok].to(torch.complex128)
    assert bool(torch.isfinite(w).all())
    assert bool(((w.abs() ** 2).sum(dim=(-2, -1)) <= power * (1 + 1e-6)).all())
    s = sinr(h[ok].to(torch.complex128), w, noise_var)
    assert bool((s >= gamma * (1 - 1e-4)).all())  # Liu's extraction keeps every SINR ≥ Γ
    # The relaxation is a lower bound on the extracted precoder's sum CRB.
    assert bool((res.rank_one_sum_crb[ok] >= res.relaxation_sum_crb[ok] * (1 - 1e-6)).all())
    assert bool(torch.isnan(res.w[~ok & res.infeasible]).all())


def test_sdr_small_gamma_reaches_sensing_only_minimum() -> None:
    prob = _problem(2, 3, 6, seed=4)
    res = sdr_tradeoff(prob.h, prob.theta, 1e-6, 1.0, prob.noise_var, num_rx=N_RX,
                       radar_snr=ETA, num_symbols=1)
    _, bound = sensing_only_covariance(prob.theta, 6, 1.0, num_rx=N_RX, radar_snr=ETA,
                                       num_symbols=1)
    assert bool(res.feasible.all())
    torch.testing.assert_close(res.relaxation_sum_crb, bound, rtol=1e-3, atol=0.0)
    _check_sdr_invariants(res, prob.h, 1e-6, prob.noise_var, 1.0)


def test_sdr_tight_instances_attain_the_bound() -> None:
    prob = _problem(4, 3, 6, seed=8)
    gamma = 10.0 ** (5 / 10)
    res = sdr_tradeoff(prob.h, prob.theta, gamma, 1.0, prob.noise_var, num_rx=N_RX,
                       radar_snr=ETA, num_symbols=1)
    assert res.w.shape == (4, 6, 3) and res.r_k.shape == (4, 3, 6, 6)
    _check_sdr_invariants(res, prob.h, gamma, prob.noise_var, 1.0)
    tight = res.tight & res.feasible
    assert bool(tight.any())  # otherwise this test checks nothing
    torch.testing.assert_close(res.rank_one_sum_crb[tight], res.relaxation_sum_crb[tight],
                               rtol=1e-3, atol=0.0)
    # Relaxation objective and float64 recomputation agree; Σ_k tr(R_k) = P.
    assert bool((res.objective_rel_error[res.feasible] < 1e-4).all())
    tr = torch.diagonal(res.r_k[res.feasible], dim1=-2, dim2=-1).real.sum(dim=(-2, -1))
    torch.testing.assert_close(tr, torch.ones_like(tr))


def test_sdr_bound_increases_with_gamma() -> None:
    prob = _problem(1, 3, 6, seed=8)
    rows = sdr_boundary(prob, [-10.0, 0.0, 5.0])
    assert [r["sinr_min_db"] for r in rows] == [-10.0, 0.0, 5.0]
    assert set(rows[0]) == {"sinr_min_db", "sum_rate", "relaxation_sum_crb",
                            "rank_one_sum_crb", "fraction_feasible", "fraction_tight",
                            "num_feasible"}
    assert all(r["fraction_feasible"] == 1.0 for r in rows)
    crbs = [r["relaxation_sum_crb"] for r in rows]
    assert crbs[0] <= crbs[1] * (1 + 1e-6) <= crbs[2] * (1 + 1e-6) ** 2
    assert all(r["sum_rate"] > 0 for r in rows)


def test_sdr_infeasible_fully_loaded_is_reported() -> None:
    prob = _problem(2, 4, 4, seed=3)
    d = SdrTradeoff(sinr_min_db=60.0).design(prob)  # Γ = 1e6
    assert not bool(d.info["feasible"].any())
    assert bool(d.info["infeasible"].all())
    assert bool(torch.isnan(d.w).all())
    assert bool(torch.isinf(d.info["min_power"]).all())
    assert d.info["status"] == ["infeasible_certified"] * 2


def test_sdr_identical_users_infeasible_by_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two users with the same channel cannot both reach Γ ≥ 1: reported, also when the
    conic solver (not the power certificate) has to decide."""
    prob = _problem(1, 3, 4, seed=6)
    h = prob.h.clone()
    h[:, 1] = h[:, 0]
    res = sdr_tradeoff(h, prob.theta, 10.0, 1.0, prob.noise_var, num_rx=N_RX, radar_snr=ETA,
                       num_symbols=1)
    assert not bool(res.feasible[0]) and bool(res.infeasible[0])

    def undetermined(h: torch.Tensor, gamma: torch.Tensor, noise: torch.Tensor,
                     power: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b = h.shape[0]
        return (torch.full((b,), math.nan, dtype=torch.float64),
                torch.zeros(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool),
                torch.zeros(b, h.shape[1], dtype=torch.float64))

    monkeypatch.setattr(convex_sdr, "_min_power", undetermined)
    res = sdr_tradeoff(h, prob.theta, 10.0, 1.0, prob.noise_var, num_rx=N_RX, radar_snr=ETA,
                       num_symbols=1, solver="CLARABEL")  # (SCS takes ~10 s to give up)
    assert not bool(res.feasible[0])
    assert res.status[0] != "optimal"
    assert bool(torch.isnan(res.w).all())


def test_min_power_matches_power_minimization_sdp() -> None:
    """The fixed-point minimum power equals CVXPY's power-minimization SDP (tight, classical),
    and its beamformer meets every target with equality at that power."""
    prob = _problem(1, 3, 4, seed=12)
    h = prob.h[0].numpy()
    gamma, noise = 2.0, prob.noise_var
    g_t = torch.full((3,), gamma, dtype=torch.float64)
    n_t = torch.full((1, 3), noise, dtype=torch.float64)
    p_min, ok, bad, lam = convex_sdr._min_power(prob.h, g_t, n_t,
                                                torch.tensor([10.0], dtype=torch.float64))
    assert bool(ok[0]) and not bool(bad[0])
    r = [cp.Variable((4, 4), hermitian=True) for _ in range(3)]
    cons = [x >> 0 for x in r]
    for k in range(3):
        hk = h[k][None, :]
        g = [cp.real(hk @ r[i] @ hk.conj().T)[0, 0] for i in range(3)]
        cons.append(g[k] >= gamma * (sum(g[i] for i in range(3) if i != k) + noise))
    sdp = cp.Problem(cp.Minimize(cp.sum(cp.hstack([cp.real(cp.trace(x)) for x in r]))), cons)
    sdp.solve(solver="CLARABEL")
    assert sdp.status == "optimal"
    np.testing.assert_allclose(float(p_min[0]), sdp.value, rtol=1e-5)
    w = convex_sdr._min_power_beamformer(prob.h, lam, g_t, n_t, p_min)
    torch.testing.assert_close((w.abs() ** 2).sum(), p_min[0], rtol=1e-9, atol=0.0)
    torch.testing.assert_close(sinr(prob.h, w, noise), g_t[None].expand(1, 3), rtol=1e-6,
                               atol=0.0)
    # The covariance-level margins agree with the SINR of this rank-one solution (all ≈ 0).
    r_k = w.transpose(-2, -1).unsqueeze(-1) * w.transpose(-2, -1).conj().unsqueeze(-2)
    margin = convex_sdr._sinr_margin(prob.h, r_k, g_t, n_t)
    assert float(margin.abs().max()) < 1e-6 * noise
    # Below that power the certificate declares the targets infeasible.
    _, ok2, bad2, _ = convex_sdr._min_power(prob.h, g_t, n_t,
                                            torch.tensor([0.99 * sdp.value], dtype=torch.float64))
    assert bool(bad2[0]) and not bool(ok2[0])


def test_sdr_designer_protocol_and_checks() -> None:
    prob = _problem(1, 2, 4, seed=9)
    designer = SdrTradeoff(sinr_min_db=0.0)
    assert isinstance(designer, Designer) and designer.name == "sdr"
    d = designer.design(prob)
    assert d.w.shape == (1, 4, 2) and d.w.dtype == prob.h.dtype
    for key in ("relaxation_sum_crb", "rank_one_sum_crb", "tight", "feasible", "status"):
        assert key in d.info
    with pytest.raises(ValueRangeError, match="sinr_min"):
        sdr_tradeoff(prob.h, prob.theta, -1.0, 1.0, 0.1, num_rx=4, radar_snr=1.0, num_symbols=1)
    with pytest.raises(ShapeError, match="sinr_min"):
        sdr_tradeoff(prob.h, prob.theta, torch.ones(3), 1.0, 0.1, num_rx=4, radar_snr=1.0,
                     num_symbols=1)
    with pytest.raises(ShapeError, match="h"):
        sdr_tradeoff(prob.h[0, 0], prob.theta, 1.0, 1.0, 0.1, num_rx=4, radar_snr=1.0,
                     num_symbols=1)


@pytest.mark.parametrize(("cls", "kwargs", "name"), [
    (SensingOnly, {}, "sensing_only"),
    (SdrTradeoff, {"sinr_min_db": 0.0}, "sdr"),
])
def test_convex_designer_protocol(cls: type, kwargs: dict[str, float], name: str,
                                  cdtype: torch.dtype, device: str,
                                  gen: torch.Generator) -> None:
    scenario = DownlinkIsacScenario(channel=RicianChannel(num_antennas=5, num_users=3),
                                    snr_db=15.0, power=2.0, csi_error_mu=0.1, num_rx=5)
    problem = scenario.sample(2, generator=gen, dtype=cdtype)
    designer = cls(**kwargs)
    assert isinstance(designer, Designer) and designer.name == name
    for key, value in kwargs.items():  # the constructor only stores hyperparameters
        assert getattr(designer, key) == value
    design = designer.design(problem)
    assert isinstance(design, Design)
    w = design.w
    assert w.shape == (2, 5, 3) and w.dtype == cdtype and w.device == problem.h.device
    ok = torch.isfinite(w).flatten(1).all(1)
    assert bool(ok.any())
    power = fro_norm_sq(w[ok])
    rel = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert bool((power <= 2.0 * (1 + rel)).all()) and bool((power >= 2.0 * (1 - 1e-4)).all())
    torch.testing.assert_close(designer.design(problem).w, w, rtol=0.0, atol=0.0,
                               equal_nan=True)  # deterministic
    assert problem.h_est is not None  # uses the estimate, never the true channel
    swapped = replace(problem, h=problem.h_est, h_est=None)
    torch.testing.assert_close(designer.design(swapped).w, w, rtol=0.0, atol=0.0,
                               equal_nan=True)


@pytest.mark.slow
def test_sdr_default_scenario_m10_k10() -> None:
    """The paper's scenario (M = K = 10, θ = −10°, 25°, N = 10): invariants at Γ = 0 dB."""
    prob = DownlinkIsacScenario().sample(3, generator=make_generator(0), dtype=torch.complex128)
    res = sdr_tradeoff(prob.h, prob.theta, 1.0, prob.power, prob.noise_var, num_rx=prob.num_rx,
                       radar_snr=prob.radar_snr, num_symbols=prob.num_symbols)
    assert bool(res.feasible.all())
    _check_sdr_invariants(res, prob.h, 1.0, prob.noise_var, prob.power)
    tight = res.tight
    torch.testing.assert_close(res.rank_one_sum_crb[tight], res.relaxation_sum_crb[tight],
                               rtol=1e-3, atol=0.0)


# ------------------------------------------------------------------ progress of the loops


def test_progress_wrappers_see_every_instance_and_change_nothing() -> None:
    from isaclearn.core.errors import ConfigError
    from isaclearn.learn.losses import min_approx_sum_crb

    prob = _problem(3, 2, 4, seed=5)
    seen: list[list[int]] = []

    def loop(indices: range) -> list[int]:
        seen.append(list(indices))
        return list(indices)

    plain, wrapped = SensingOnly().design(prob), SensingOnly(progress=loop).design(prob)
    assert torch.equal(plain.w, wrapped.w) and seen == [[0, 1, 2]]
    plain = SdrTradeoff(sinr_min_db=0.0).design(prob)
    wrapped = SdrTradeoff(sinr_min_db=0.0, progress=loop).design(prob)
    assert torch.equal(plain.w.nan_to_num(), wrapped.w.nan_to_num()) and seen[-1] == [0, 1, 2]
    assert SdrTradeoff(progress=loop) == SdrTradeoff()  # not part of the definition
    targets: list[float] = []

    def per_target(g: float) -> Any:
        targets.append(g)
        return loop

    assert (sdr_boundary(prob, [-5.0, 0.0], progress=per_target)
            == sdr_boundary(prob, [-5.0, 0.0]))
    assert targets == [-5.0, 0.0]
    th = prob.theta.expand(3, 2)
    assert torch.equal(min_approx_sum_crb(th, 4, 1.0, radar_snr=ETA, num_symbols=1),
                       min_approx_sum_crb(th, 4, 1.0, radar_snr=ETA, num_symbols=1,
                                          progress=loop))
    with pytest.raises(ConfigError, match="unchanged"):
        SensingOnly(progress=lambda r: [i + 1 for i in r]).design(prob)
    with pytest.raises(ConfigError, match="stopped after 2 of 3"):
        SensingOnly(progress=lambda r: list(r)[:2]).design(prob)
