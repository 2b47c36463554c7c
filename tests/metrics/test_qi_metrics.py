"""Metrics of the qi_uplink system (isaclearn.metrics.uplink): closed forms, independent
references, gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import torch

from isaclearn.channels.uplink import UplinkScenario, random_unitary
from isaclearn.core import ShapeError, make_generator
from isaclearn.metrics import uplink as m
from isaclearn.solvers import allocation as al
from isaclearn.solvers import uplink_reduced as ur
from isaclearn.solvers.uplink import waveform_from_powers

C128 = torch.complex128



def _problem(b: int = 4, nt: int = 4, nr: int = 5, k: int = 3, l: int = 6, seed: int = 0,
             dtype: torch.dtype = C128, device: str = "cpu", **kw):  # type: ignore[no-untyped-def]
    sc = UplinkScenario(num_tx=nt, num_rx=nr, num_users=k, num_symbols=l, **kw)
    return sc.sample(b, generator=make_generator(seed, device), dtype=dtype)


def _kron_loop(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kronecker product by explicit blocks (independent of numpy.kron and of batched_kron)."""
    m_, n_ = a.shape
    p_, q_ = b.shape
    out = np.zeros((m_ * p_, n_ * q_), dtype=complex)
    for i in range(m_):
        for j in range(n_):
            out[i * p_:(i + 1) * p_, j * q_:(j + 1) * q_] = a[i, j] * b
    return out


# --------------------------------------------------------------------------- sensing rate


def test_logdet_matches_loop_reference() -> None:
    """Eqs. (4)-(5) against an explicit NumPy construction of the Kronecker matrices."""
    pr = _problem(b=2)
    gen = make_generator(5)
    s = torch.randn(2, 6, 4, dtype=C128, generator=gen) * math.sqrt(pr.power_s / 24)
    got = m.sensing_rate_logdet(s, pr.r_t, pr.h, pr.p, pr.noise_var)
    for i in range(2):
        sn, rt, h, p = (x[i].numpy() for x in (s, pr.r_t, pr.h, pr.p))
        l_, nr = sn.shape[0], h.shape[0]
        s_t = _kron_loop(np.eye(nr), sn)
        r_g = _kron_loop(np.eye(nr), rt)
        r_i = _kron_loop(h @ np.diag(p) @ h.conj().T, np.eye(l_)) + pr.noise_var * np.eye(
            l_ * nr)
        mi = np.linalg.slogdet(s_t @ r_g @ s_t.conj().T + r_i)[1] - np.linalg.slogdet(r_i)[1]
        ref = mi / math.log(2) / l_
        assert abs(got[i].item() - ref) <= 1e-9 * abs(ref)


def test_fast_sensing_rate_equals_logdet_for_any_waveform() -> None:
    pr = _problem(b=5, nt=3, nr=4, k=2, l=5)
    s = torch.randn(5, 5, 3, dtype=C128, generator=make_generator(1)) * math.sqrt(pr.power_s)
    a = m.sensing_rate_logdet(s, pr.r_t, pr.h, pr.p, pr.noise_var)
    b = m.sensing_rate(s, pr.r_t, pr.h, pr.p, pr.noise_var)
    torch.testing.assert_close(b, a, rtol=1e-10, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eigen_form_equals_logdet_for_recovered_waveform_with_any_unitary(seed: int) -> None:
    """Acceptance: eq. (14) = eqs. (4)-(5) for S = U_s Σ_s U_T^H (eq. 31), any unitary U_s."""
    pr = _problem(b=6, nt=4, nr=5, k=3, l=7, seed=seed)
    gen = make_generator(100 + seed)
    sigma_t, u_t = m.rt_eig(pr.r_t)
    sigma_h = m.sensing_gains(pr.h, pr.p, pr.noise_var)
    # arbitrary (not sorted) powers, some zero, within the budget
    x = torch.rand(6, 4, dtype=torch.float64, generator=gen)
    x[:, 1] *= (torch.rand(6, generator=gen, dtype=torch.float64) > 0.5)
    sigma_s = x / x.sum(-1, keepdim=True) * pr.power_s * 0.9
    eig = m.sensing_rate_eig(sigma_s, sigma_t, sigma_h, 7)
    for _ in range(3):
        u_s = random_unitary((6,), 7, generator=gen, dtype=C128)
        s = waveform_from_powers(sigma_s, u_t, 7, basis=u_s)
        full = m.sensing_rate_logdet(s, pr.r_t, pr.h, pr.p, pr.noise_var)
        assert float(((full - eig).abs() / full.abs()).max()) <= 1e-6
        # unitarity check of the random basis itself
        eye = torch.eye(7, dtype=C128)
        torch.testing.assert_close(u_s @ u_s.conj().transpose(-2, -1), eye.expand(6, 7, 7))


def test_eigen_form_upper_bounds_any_waveform() -> None:
    """Eq. (13): for any S, R_s(S) ≤ eq. (14) with σ_s the sorted squared singular values."""
    pr = _problem(b=20, nt=4, nr=5, k=3, l=6, seed=3)
    s = torch.randn(20, 6, 4, dtype=C128, generator=make_generator(9)) * math.sqrt(pr.power_s)
    full = m.sensing_rate(s, pr.r_t, pr.h, pr.p, pr.noise_var)
    sv = torch.linalg.svdvals(s) ** 2  # descending
    sigma_t, _ = m.rt_eig(pr.r_t)
    bound = m.sensing_rate_eig(sv, sigma_t, m.sensing_gains(pr.h, pr.p, pr.noise_var), 6)
    assert bool((full <= bound * (1 + 1e-12)).all())
    assert float((bound - full).max()) > 1e-6  # a random waveform is not aligned


def test_sensing_rate_shapes_dtypes_device(device: str, cdtype: torch.dtype) -> None:
    pr = _problem(b=3, dtype=cdtype, device=device)
    sigma_t, u_t = m.rt_eig(pr.r_t)
    s = waveform_from_powers(sigma_t * 0 + pr.power_s / 4, u_t, 6)
    out = m.sensing_rate(s, pr.r_t, pr.h, pr.p, pr.noise_var)
    rdt = torch.float64 if cdtype == C128 else torch.float32
    assert out.shape == (3,) and out.dtype == rdt and out.device.type == device
    assert bool(torch.isfinite(out).all()) and bool((out > 0).all())


def test_shape_errors() -> None:
    pr = _problem(b=2)
    with pytest.raises(ShapeError, match="s"):
        m.sensing_rate(torch.zeros(2, 6, 3, dtype=C128), pr.r_t, pr.h, pr.p, pr.noise_var)
    with pytest.raises(ShapeError, match="w and h"):
        m.comm_sinr(torch.zeros(2, 4, 3, dtype=C128), pr.h, pr.p, pr.noise_var, 0.0)
    with pytest.raises(ShapeError, match="K <= N_r"):
        ur.zf_beams(torch.zeros(2, 2, 3, dtype=C128))


# --------------------------------------------------------------------------- communication


def _sinr_np(w: np.ndarray, h: np.ndarray, p: np.ndarray, k: int, c: float) -> float:
    """Eq. (7) written out for one user and one beam (NumPy)."""
    num = p[k] * abs(h[:, k] @ w) ** 2
    den = sum(p[i] * abs(h[:, i] @ w) ** 2 for i in range(h.shape[1]) if i != k)
    return float(num / (den + c * np.vdot(w, w).real))


@pytest.mark.parametrize("seed", [0, 1])
def test_mmse_sinr_is_the_bruteforce_maximum(seed: int) -> None:
    """Acceptance: γ^opt of eq. (26) = max over receive beams of eq. (7) (rel. err ≤ 1e-6),
    found independently by a generalized eigenproblem, random search and a local optimizer."""
    pr = _problem(b=2, nt=3, nr=4, k=3, l=5, seed=seed)
    c_extra = 0.7 * pr.noise_var  # sensing interference power
    gam = m.mmse_sinr(pr.h, pr.p, c_extra + pr.noise_var)
    rng = np.random.default_rng(seed)
    for b in range(2):
        h, p = pr.h[b].numpy(), pr.p[b].numpy()
        for k in range(3):
            # generalized Rayleigh quotient: max w^H A w / w^H B w with w^H h^* h^T w = |h^T w|^2
            a = p[k] * np.outer(h[:, k].conj(), h[:, k])
            bm = sum(p[i] * np.outer(h[:, i].conj(), h[:, i]) for i in range(3) if i != k)
            bm = bm + (c_extra + pr.noise_var) * np.eye(4)
            lam = scipy.linalg.eigh(a, bm, eigvals_only=True)[-1]
            g = gam[b, k].item()
            assert abs(g - lam) <= 1e-6 * lam
            # random beams never exceed it
            ws = rng.standard_normal((4000, 4)) + 1j * rng.standard_normal((4000, 4))
            vals = [_sinr_np(w, h, p, k, c_extra + pr.noise_var) for w in ws]
            assert max(vals) <= g * (1 + 1e-9)
            # a local optimizer from the best random beam reaches it
            w0 = ws[int(np.argmax(vals))]

            def neg(z: np.ndarray, h: np.ndarray = h, p: np.ndarray = p, k: int = k) -> float:
                return -_sinr_np(z[:4] + 1j * z[4:], h, p, k, c_extra + pr.noise_var)

            res = scipy.optimize.minimize(neg, np.concatenate([w0.real, w0.imag]),
                                          method="BFGS", options={"gtol": 1e-12})
            assert abs(-res.fun - g) <= 1e-6 * g


def test_mmse_beams_reach_their_sinr_and_constraint() -> None:
    pr = _problem(b=3, seed=4)
    c = torch.full((3,), 2.0 * pr.noise_var, dtype=torch.float64)
    w = ur.mmse_beams(pr.h, pr.p, c)
    # eq. (20b): sqrt(p_k) h_k^T w_k = 1
    hw = torch.diagonal(pr.h.transpose(-2, -1) @ w, dim1=-2, dim2=-1) * pr.p.sqrt()
    torch.testing.assert_close(hw, torch.ones_like(hw))
    got = m.comm_sinr(w, pr.h, pr.p, pr.noise_var, c - pr.noise_var)
    torch.testing.assert_close(got, m.mmse_sinr(pr.h, pr.p, c), rtol=1e-10, atol=0)


def test_zf_beams_null_interference() -> None:
    pr = _problem(b=2, nr=6, k=3)
    w = ur.zf_beams(pr.h)
    g = pr.h.transpose(-2, -1) @ w
    torch.testing.assert_close(g, torch.eye(3, dtype=C128).expand(2, 3, 3))


def test_mmse_spectrum_matches_direct_form() -> None:
    pr = _problem(b=4, seed=6)
    d, q = ur.mmse_spectrum(pr.h, pr.p, pr.noise_var)
    for c_tilde in (1.0, 3.5):
        fast = (q / (d + c_tilde)).sum(-1)
        direct = m.mmse_sinr(pr.h, pr.p, c_tilde * pr.noise_var)
        torch.testing.assert_close(fast, direct, rtol=1e-10, atol=0)


def test_comm_rate_eq8_average_over_users() -> None:
    pr = _problem(b=2)
    w = ur.zf_beams(pr.h)
    g = m.comm_sinr(w, pr.h, pr.p, pr.noise_var, 0.0)
    # ZF: no inter-user interference, γ_k = p_k / (σ² ||w_k||²)
    torch.testing.assert_close(g, pr.p / (pr.noise_var * (w.abs() ** 2).sum(-2)))
    torch.testing.assert_close(m.comm_rate(w, pr.h, pr.p, pr.noise_var, 0.0),
                               torch.log2(1 + g).mean(-1))


# --------------------------------------------------------------------------- maxima


def test_max_comm_rate_is_rate_without_sensing() -> None:
    pr = _problem(b=3)
    sigma_t, _ = m.rt_eig(pr.r_t)
    zero = torch.zeros_like(sigma_t)
    torch.testing.assert_close(m.max_comm_rate(pr.h, pr.p, pr.noise_var),
                               m.comm_rate_mmse(zero, sigma_t, pr.h, pr.p, pr.noise_var, 6))
    some = m.comm_rate_mmse(sigma_t * 0 + pr.power_s / 4, sigma_t, pr.h, pr.p, pr.noise_var, 6)
    assert bool((some < m.max_comm_rate(pr.h, pr.p, pr.noise_var)).all())


def test_water_filling_closed_form_and_active_set() -> None:
    g = torch.tensor([[4.0, 2.0, 1.5], [10.0, 0.1, 0.0], [4.0, 2.0, 1.0]], dtype=torch.float64)
    x = al.water_filling(g, 2.0)
    # all active in row 0: mu = (P + sum 1/g) / N_t (the paper's eq. 38)
    mu = (2 + 0.25 + 0.5 + 1 / 1.5) / 3
    torch.testing.assert_close(x[0], mu - 1 / g[0])
    # row 1: only the first direction is active (eq. 38 would give negative powers)
    torch.testing.assert_close(x[1], torch.tensor([2.0, 0.0, 0.0], dtype=torch.float64))
    # row 2: eq. 38's level (2 + 1.75) / 3 = 1.25 > 1/g_3 = 1: all active again
    torch.testing.assert_close(x[2], 1.25 - 1 / g[2])
    x1 = al.water_filling(g[2:], 1.0)  # level (1 + .75)/2 = .875 < 1: two active
    torch.testing.assert_close(x1[0], torch.tensor([0.625, 0.375, 0.0], dtype=torch.float64))


def _cvx_alloc(a: np.ndarray, weight: float, pen: np.ndarray) -> tuple[np.ndarray, float]:
    import cvxpy as cp

    nt, nr = a.shape
    x = cp.Variable(nt, nonneg=True)
    xx = cp.reshape(x, (nt, 1), order="F") @ np.ones((1, nr))
    obj = weight / math.log(2) * cp.sum(cp.log(1 + cp.multiply(a, xx))) - pen @ x
    cp.Problem(cp.Maximize(obj), [cp.sum(x) <= 1]).solve(solver="CLARABEL")
    return np.asarray(x.value), float(obj.value)


@pytest.mark.parametrize("pen_scale", [0.0, 0.05, 5.0])
def test_kkt_solver_matches_cvxpy_and_kkt_conditions(pen_scale: float) -> None:
    gen = make_generator(11)
    g = 10 * torch.rand(3, 5, dtype=torch.float64, generator=gen)
    v = torch.rand(3, 4, dtype=torch.float64, generator=gen) + 0.05
    w = 0.3
    pen = pen_scale * torch.rand(3, 5, dtype=torch.float64, generator=gen)
    x = al.solve_sensing_kkt(g, v, w, pen, 1.0)
    assert bool((x >= 0).all()) and bool((x.sum(-1) <= 1 + 1e-12).all())
    for i in range(3):
        a = np.outer(g[i].numpy(), v[i].numpy())
        xi = x[i].numpy()
        obj = w * np.log2(1 + a * xi[:, None]).sum() - pen[i].numpy() @ xi
        _, cvx_obj = _cvx_alloc(a, w, pen[i].numpy())
        assert obj >= cvx_obj - 1e-7 * max(1.0, abs(cvx_obj))
        # KKT: equal marginal utility on the active set, lower off it
        grad = w / math.log(2) * (a / (1 + a * xi[:, None])).sum(-1) - pen[i].numpy()
        act = xi > 1e-9
        if xi.sum() < 1 - 1e-9:  # budget slack: stationarity with nu = 0
            assert np.allclose(grad[act], 0.0, atol=1e-8)
        nu = grad[act].max()
        assert np.allclose(grad[act], nu, rtol=1e-7, atol=1e-10)
        assert (grad[~act] <= nu + 1e-9).all()


def test_max_sensing_rate_modes() -> None:
    pr = _problem(b=5, seed=8)
    sigma_t, _ = m.rt_eig(pr.r_t)
    sigma_h = m.sensing_gains(pr.h, pr.p, pr.noise_var)
    free = ur.max_sensing_rate(sigma_t, pr.power_s, pr.noise_var, pr.num_rx, 6)
    inter = ur.max_sensing_rate(sigma_t, pr.power_s, pr.noise_var, pr.num_rx, 6,
                               sigma_h=sigma_h)
    assert bool((inter < free).all())
    # no allocation in the budget beats either maximum (random search)
    gen = make_generator(3)
    e = -torch.log(torch.rand(2000, 5, 4, dtype=torch.float64, generator=gen))
    alloc = e / e.sum(-1, keepdim=True) * pr.power_s
    r_int = m.sensing_rate_eig(alloc, sigma_t, sigma_h, 6)
    r_free = m.sensing_rate_eig(alloc, sigma_t, torch.full_like(sigma_h, 1 / pr.noise_var), 6)
    assert bool((r_int.amax(0) <= inter * (1 + 1e-12)).all())
    assert bool((r_free.amax(0) <= free * (1 + 1e-12)).all())
    assert float((inter - r_int.amax(0)).min()) < 0.05 * float(inter.min())


def test_reduced_problem_matches_full_metrics() -> None:
    pr = _problem(b=4, seed=2, alpha=0.3)
    red = ur.reduce_problem(pr)
    sigma_t, _ = m.rt_eig(pr.r_t)
    x = torch.rand(4, 4, dtype=torch.float64, generator=make_generator(0))
    x = x / x.sum(-1, keepdim=True) * 0.8
    sig = x * pr.power_s
    r_s = m.sensing_rate_eig(sig, sigma_t, m.sensing_gains(pr.h, pr.p, pr.noise_var), 6)
    r_c = m.comm_rate_mmse(sig, sigma_t, pr.h, pr.p, pr.noise_var, 6)
    torch.testing.assert_close(red.sensing_rate(x), r_s)
    torch.testing.assert_close(red.comm_rate(x), r_c)
    m_s = ur.max_sensing_rate(sigma_t, pr.power_s, pr.noise_var, pr.num_rx, 6)
    m_c = m.max_comm_rate(pr.h, pr.p, pr.noise_var)
    torch.testing.assert_close(red.wsnr(x), m.wsnr(r_s, r_c, m_s, m_c, 0.3))


def test_project_capped_simplex() -> None:
    gen = make_generator(4)
    x = 2 * torch.randn(200, 5, dtype=torch.float64, generator=gen)
    y = al.project_capped_simplex(x)
    assert bool((y >= 0).all()) and bool((y.sum(-1) <= 1 + 1e-12).all())
    # optimality: <x - y, z - y> <= 0 for random feasible z
    e = -torch.log(torch.rand(200, 5, dtype=torch.float64, generator=gen))
    z = e / e.sum(-1, keepdim=True) * torch.rand(200, 1, dtype=torch.float64, generator=gen)
    assert bool((((x - y) * (z - y)).sum(-1) <= 1e-12).all())


# --------------------------------------------------------------------------- gradients


def test_gradcheck_loss_metrics() -> None:
    """The functions in the training loss (eqs. 14, 26, 28) and eqs. (5), (8) for any S, w."""
    pr = _problem(b=2, nt=3, nr=4, k=2, l=4, seed=7)
    red = ur.reduce_problem(pr, alpha=0.4)
    x = torch.tensor([[0.3, 0.2, 0.1], [0.5, 0.05, 0.25]], dtype=torch.float64,
                     requires_grad=True)
    assert torch.autograd.gradcheck(red.wsnr, (x,))
    sigma_t, u_t = m.rt_eig(pr.r_t)
    sigma_h = m.sensing_gains(pr.h, pr.p, pr.noise_var)
    sig = (x.detach() * pr.power_s).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: m.sensing_rate_eig(s, sigma_t, sigma_h, 4),
                                    (sig,))
    # eq. (26) in units of the noise power, differentiated in sigma_s and the channel
    h_n = (pr.h * (pr.p.sqrt() / math.sqrt(pr.noise_var))[:, None, :]).clone()
    g_n = sigma_t * pr.power_s / pr.noise_var
    one = torch.ones(2, 2, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda s, h: m.comm_rate_mmse(s, g_n, h, one, 1.0, 4),
        (x.detach().clone().requires_grad_(True), h_n.requires_grad_(True)))
    # eqs. (4)-(5) for any waveform and eq. (8) for any beams (complex inputs)
    s0 = waveform_from_powers(x.detach() * pr.power_s, u_t, 4) / math.sqrt(pr.power_s)
    rt_n = pr.r_t * pr.power_s / pr.noise_var
    s0 = s0 + 0.1 * torch.randn(s0.shape, dtype=C128, generator=make_generator(2))
    assert torch.autograd.gradcheck(
        lambda s: m.sensing_rate(s, rt_n, h_n, one, 1.0), (s0.clone().requires_grad_(True),))
    w0 = ur.mmse_beams(h_n, one, 1.5) + 0.05
    assert torch.autograd.gradcheck(
        lambda w: m.comm_rate(w, h_n, one, 1.0, 0.5), (w0.clone().requires_grad_(True),))
