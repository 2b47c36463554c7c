"""Designers of the qi_uplink system (isaclearn.solvers.uplink): invariants, agreement between
independent methods, brute force in small dimensions."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from isaclearn.channels.uplink import UplinkScenario
from isaclearn.core import Designer, make_generator
from isaclearn.metrics import uplink as m
from isaclearn.solvers import allocation as al
from isaclearn.solvers import uplink_reduced as ur
from isaclearn.solvers.uplink import (
    ZFBF,
    Average,
    OptimalityReference,
    Traditional,
    frontier_maximize,
    pga_maximize,
)

C128 = torch.complex128



def _problem(b: int = 8, nt: int = 4, nr: int = 6, k: int = 3, l: int = 6, seed: int = 0,
             alpha: float = 0.5, **kw):  # type: ignore[no-untyped-def]
    sc = UplinkScenario(num_tx=nt, num_rx=nr, num_users=k, num_symbols=l, alpha=alpha, **kw)
    return sc.sample(b, generator=make_generator(seed), dtype=C128)


def _x(problem, design):  # type: ignore[no-untyped-def]
    return design.extras["sigma_s"] / problem.power_s


DESIGNERS = [Average(), ZFBF(), Traditional(), OptimalityReference()]


@pytest.mark.parametrize("designer", DESIGNERS, ids=lambda d: d.name)
def test_designer_protocol_shapes_and_power(designer: Designer) -> None:
    pr = _problem()
    assert isinstance(designer, Designer)
    d = designer.design(pr)
    assert d.w.shape == (8, 6, 3) and d.w.dtype == C128
    s = d.extras["s"]
    assert s.shape == (8, 6, 4)
    power = (s.abs() ** 2).sum(dim=(-2, -1))
    assert bool((power <= pr.power_s * (1 + 1e-9)).all())
    torch.testing.assert_close(power, d.extras["sigma_s"].sum(-1))
    again = designer.design(pr)  # deterministic
    torch.testing.assert_close(again.extras["s"], s)


@pytest.mark.parametrize("designer", DESIGNERS, ids=lambda d: d.name)
def test_designers_use_only_the_estimate(designer: Designer) -> None:
    pr = _problem(csi_beta=0.5)
    assert pr.h_est is not None
    d1 = designer.design(pr)
    # changing the true channel must not change the design
    other = dataclasses.replace(pr, h=pr.h + 0.3 * pr.h_est)
    d2 = designer.design(other)
    torch.testing.assert_close(d1.extras["s"], d2.extras["s"])
    torch.testing.assert_close(d1.w, d2.w)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_reference_is_best_and_traditional_is_monotone(alpha: float) -> None:
    pr = _problem(b=16, alpha=alpha, seed=1)
    red = ur.reduce_problem(pr)
    f = {d.name: red.wsnr(_x(pr, d.design(pr))) for d in
         (Average(), OptimalityReference(), ZFBF())}
    trad = Traditional().design(pr)
    f["traditional"] = red.wsnr(_x(pr, trad))
    for name in ("average", "traditional", "zfbf"):
        assert bool((f[name] <= f["reference"] + 1e-9).all()), name
    trace = trad.info["trace"]
    assert all(b >= a - 1e-12 for a, b in zip(trace, trace[1:]))
    assert trace[0] == pytest.approx(float(f["average"].mean()))  # starts at Average
    if alpha == 0.0:  # no sensing weight: no sensing power, WSNR = 1
        torch.testing.assert_close(f["reference"], torch.ones_like(f["reference"]))


def test_reference_beats_multistart_gradient_ascent() -> None:
    pr = _problem(b=12, alpha=0.2, seed=2)
    red = ur.reduce_problem(pr)
    x_f = frontier_maximize(red)
    x_p = pga_maximize(red, num_starts=12, iters=250, generator=make_generator(0))
    assert bool((red.wsnr(x_p) <= red.wsnr(x_f) + 1e-7).all())
    # and PGA is not a strawman: it gets close
    assert float((red.wsnr(x_f) - red.wsnr(x_p)).max()) < 1e-3


@pytest.mark.parametrize("alpha", [0.15, 0.5])
def test_reference_matches_bruteforce_grid_two_directions(alpha: float) -> None:
    """N_t = 2: exhaustive search on a fine grid of the capped simplex."""
    pr = _problem(b=6, nt=2, nr=3, k=2, l=4, alpha=alpha, seed=3)
    red = ur.reduce_problem(pr)
    x_f = frontier_maximize(red)
    n = 301
    t = torch.linspace(0, 1, n, dtype=torch.float64)
    a, b = torch.meshgrid(t, t, indexing="ij")
    keep = (a + b) <= 1 + 1e-12
    grid = torch.stack([a[keep], b[keep]], -1)  # [G, 2]
    f_grid = red.wsnr(grid[:, None, :].expand(-1, 6, 2))  # [G, B]
    best = f_grid.amax(0)
    f_ref = red.wsnr(x_f)
    assert bool((f_ref >= best - 1e-9).all())
    assert float((f_ref - best).max()) < 1e-3  # the grid gets close: not a vacuous bound


def test_reference_reaches_sensing_maximum_at_alpha_one() -> None:
    pr = _problem(b=6, alpha=1.0, seed=4, ms_mode="with_interference")
    red = ur.reduce_problem(pr)
    f = red.wsnr(_x(pr, OptimalityReference().design(pr)))
    torch.testing.assert_close(f, torch.ones_like(f), rtol=1e-9, atol=1e-9)


def test_zfbf_sic_residual() -> None:
    pr = _problem(b=6, alpha=1.0, seed=5)
    d1 = ZFBF().design(pr)
    d0 = ZFBF(sic_residual=0.0).design(pr)
    ref = OptimalityReference().design(pr)
    # κ = 1 and α = 1: the sensing-only waveform, identical to the reference
    torch.testing.assert_close(d1.extras["sigma_s"], ref.extras["sigma_s"], rtol=1e-6,
                               atol=1e-9 * pr.power_s)
    # κ = 0: perfect SIC, the interference-free water-filling (reaches M_s)
    sigma_t, _ = m.rt_eig(pr.r_t)
    wf = al.water_filling(sigma_t * pr.power_s / pr.noise_var, 1.0) * pr.power_s
    torch.testing.assert_close(d0.extras["sigma_s"], wf, rtol=1e-6, atol=1e-9 * pr.power_s)
    assert float(d0.extras["sic_residual"].max()) == 0.0


def test_traditional_backends_agree() -> None:
    pr = _problem(b=2, nt=3, nr=4, k=2, l=4, alpha=0.4, seed=6)
    red = ur.reduce_problem(pr)
    f_kkt = red.wsnr(_x(pr, Traditional(max_ao_iters=5).design(pr)))
    f_cvx = red.wsnr(_x(pr, Traditional(backend="cvxpy", max_ao_iters=5).design(pr)))
    torch.testing.assert_close(f_cvx, f_kkt, rtol=1e-6, atol=1e-6)


def test_average_power_split() -> None:
    pr = _problem(b=3)
    d = Average().design(pr)
    torch.testing.assert_close(d.extras["sigma_s"], torch.full((3, 4), pr.power_s / 4,
                                                               dtype=torch.float64))


def test_cvxpy_backend_falls_back_to_scs_then_keeps_the_iterate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import cvxpy as cp
    import numpy as np

    from isaclearn.solvers import uplink as su

    sca = su._CvxpySca(2, 2)
    sca.a.value = np.array([[2.0, 1.0], [1.0, 0.5]])
    sca.c.value = np.array([0.1, 0.1])
    orig = sca.prob.solve

    def clarabel_fails(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("solver") == "CLARABEL":
            raise cp.error.SolverError("forced")
        return orig(*args, **kwargs)

    monkeypatch.setattr(sca.prob, "solve", clarabel_fails)
    x = sca._solve_one()
    assert x is not None and sca.fallbacks == 1 and sca.failed == 0
    assert abs(float(np.sum(x)) - 1.0) < 1e-6
    # both fail: the designer keeps its iterate (the Average start) and reports it
    def both_fail(self):  # type: ignore[no-untyped-def]
        self.failed += 1
        return None

    monkeypatch.setattr(su._CvxpySca, "_solve_one", both_fail)
    pr = _problem(b=2, nt=3, nr=4, k=2, l=4, alpha=0.5, seed=6)
    d = Traditional(backend="cvxpy", max_ao_iters=2).design(pr)
    torch.testing.assert_close(d.extras["sigma_s"], torch.full((2, 3), pr.power_s / 3,
                                                               dtype=torch.float64))
    assert d.info["cvxpy_failed_solves"] >= 2
    assert all(abs(t - d.info["trace"][0]) < 1e-12 for t in d.info["trace"])
