"""Tests of isaclearn.metrics.pcrb: Π, measurement information, the PCRB recursion (35) with
process noise, RCRB, and the sensing threshold Λ of (54)–(58) (ding_dt, spec §2, §3, §6, §7)."""

from __future__ import annotations

import cmath
import math
from fractions import Fraction

import pytest
import torch
from torch.func import jacfwd

from isaclearn.core import ConfigError, ShapeError, ValueRangeError, make_generator
from isaclearn.metrics.pcrb import (
    SPEED_OF_LIGHT,
    angle_derivative_gram,
    angle_derivative_matrix,
    angle_information_gain,
    angle_information_max,
    beam_angle_power,
    measurement_information,
    pcrb_recursion,
    pcrb_std,
    pcrb_step,
    predicted_mse,
    rcrb,
    sensing_status,
    sensing_threshold,
    sensing_threshold_literal,
    spd_inverse,
)

F64 = torch.float64
C128 = torch.complex128


def _steer(n: int, u: float, reference: str = "first") -> list[complex]:
    """Eqs. (4)/(5) written out in plain Python: N^{-1/2} e^{-jπ(m - m0)u}."""
    m0 = 0.0 if reference == "first" else (n - 1) / 2.0
    return [cmath.exp(-1j * math.pi * (m - m0) * u) / math.sqrt(n) for m in range(n)]


def _ba(u: float, n_t: int, n_r: int, reference: str = "first") -> torch.Tensor:
    """b(u) a^H(u) as a [N_r, N_t] complex128 tensor, from the plain-Python steering."""
    b = torch.tensor(_steer(n_r, u, reference), dtype=C128)
    a = torch.tensor(_steer(n_t, u, reference), dtype=C128)
    return b[:, None] * a.conj()[None, :]


def _rand_spd(d: int, seed: int, batch: tuple[int, ...] = ()) -> torch.Tensor:
    g = make_generator(seed)
    x = torch.randn(*batch, d, d, generator=g, dtype=F64)
    return x @ x.mT + 0.5 * torch.eye(d, dtype=F64)


# ----------------------------------------------------------------------------------------------
# Π = ∂(b aᴴ)/∂u


@pytest.mark.parametrize(("n_t", "n_r"), [(32, 32), (16, 32), (5, 3), (1, 4)])
@pytest.mark.parametrize("reference", ["first", "center"])
def test_pi_matches_central_differences(n_t: int, n_r: int, reference: str) -> None:
    us = [-0.97, -0.3, 0.0, 0.3, 0.8]
    pi = angle_derivative_matrix(torch.tensor(us, dtype=F64), n_t, n_r, reference=reference)
    assert pi.shape == (len(us), n_r, n_t) and pi.dtype == C128
    h = 1e-6
    for idx, u in enumerate(us):
        fd = (_ba(u + h, n_t, n_r, reference) - _ba(u - h, n_t, n_r, reference)) / (2 * h)
        torch.testing.assert_close(pi[idx], fd, rtol=0, atol=1e-8 * max(n_t, n_r))


def test_pi_equal_arrays_reference_free_and_841() -> None:
    """Spec §6.7: with N_t = N_r the reference leaves Π (so ‖Πf‖² for every f) unchanged;
    ‖Πa(φ)‖² = 841.38 at N = 32, φ = 0.3, with f = a(φ) the unit-norm steering vector."""
    u = torch.tensor(0.3, dtype=F64)
    pi_first = angle_derivative_matrix(u, 32, 32, reference="first")
    pi_center = angle_derivative_matrix(u, 32, 32, reference="center")
    torch.testing.assert_close(pi_first, pi_center, rtol=0, atol=1e-12)
    a_first = torch.tensor(_steer(32, 0.3, "first"), dtype=C128)
    a_center = torch.tensor(_steer(32, 0.3, "center"), dtype=C128)
    v1 = float(beam_angle_power(pi_first, a_first))
    v2 = float(beam_angle_power(pi_center, a_center))
    assert v1 == pytest.approx(841.38, abs=5e-3) and v2 == pytest.approx(841.38, abs=5e-3)
    # Closed form: Π a = ḃ + b (ȧ^H a) has norm² π² Σ (m - (N-1)/2)² / N = π²(N² - 1)/12.
    assert v1 == pytest.approx(math.pi**2 * (32**2 - 1) / 12, rel=1e-12)
    assert v2 == pytest.approx(v1, rel=1e-12)
    f = torch.randn(32, generator=make_generator(1), dtype=C128)
    assert float(beam_angle_power(pi_first, f)) == pytest.approx(
        float(beam_angle_power(pi_center, f)), rel=1e-12)


def test_pi_unequal_arrays_reference_dependence() -> None:
    """N_t != N_r: b_c a_c^H = e^{jπuΔ/2} b a^H (Δ = N_r − N_t), so
    Π_c = e^{jπuΔ/2}(Π_first + jπΔ/2 · b a^H); ‖Πa‖² then differs between references."""
    u, n_t, n_r = 0.3, 16, 32
    delta = n_r - n_t
    ut = torch.tensor(u, dtype=F64)
    pi_first = angle_derivative_matrix(ut, n_t, n_r, reference="first")
    pi_center = angle_derivative_matrix(ut, n_t, n_r, reference="center")
    phase = cmath.exp(1j * math.pi * u * delta / 2)
    expected = phase * (pi_first + 1j * math.pi * delta / 2 * _ba(u, n_t, n_r, "first"))
    torch.testing.assert_close(pi_center, expected, rtol=0, atol=1e-10)
    a_first = torch.tensor(_steer(n_t, u, "first"), dtype=C128)
    v_first = float(beam_angle_power(pi_first, a_first))
    v_center = float(beam_angle_power(pi_center, a_first))
    assert abs(v_first - v_center) > 1.0


@pytest.mark.parametrize(("n_t", "n_r"), [(32, 32), (16, 32), (7, 3), (1, 5), (4, 1)])
@pytest.mark.parametrize("reference", ["first", "center"])
def test_angle_information_max_vs_eigvalsh(n_t: int, n_r: int, reference: str) -> None:
    u = torch.tensor([-1.0, -0.55, 0.0, 0.3, 0.999], dtype=F64)
    pi = angle_derivative_matrix(u, n_t, n_r, reference=reference)
    gram = angle_derivative_gram(pi)
    torch.testing.assert_close(gram, gram.mH)
    expected = torch.linalg.eigvalsh(gram)[..., -1]
    got = angle_information_max(u, n_t, n_r, reference=reference)
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-9)
    # f^H ΠᴴΠ f = ‖Πf‖²
    f = torch.randn(5, n_t, generator=make_generator(3), dtype=C128)
    quad = (f.conj()[..., None, :] @ gram @ f[..., None])[..., 0, 0].real
    torch.testing.assert_close(quad, beam_angle_power(pi, f))


# ----------------------------------------------------------------------------------------------
# measurement information


def _fisher_autograd(phi: float, d: float, vdot: float, *, n_t: int, n_r: int,
                     f: torch.Tensor, beta: complex, kappa: float, gain: float, sigma_r2: float,
                     sigma_nu2: float, sigma_mu2: float, fc: float) -> torch.Tensor:
    """Fisher information F = Jᵀ C⁻¹ J of the real-stacked measurement (12)–(14) with β held
    fixed (22): y = [Re r̃, Im r̃, ν̃, μ̃], C = diag(σ_r²/2 · 1_{2N_r}, σ_ν², σ_μ²)."""
    c = SPEED_OF_LIGHT

    def mean(x: torch.Tensor) -> torch.Tensor:
        m_t = torch.arange(n_t, dtype=F64)
        m_r = torch.arange(n_r, dtype=F64)
        a = torch.exp(-1j * math.pi * m_t * x[0]) / math.sqrt(n_t)
        b = torch.exp(-1j * math.pi * m_r * x[0]) / math.sqrt(n_r)
        r = kappa * beta * gain * b * (a.conj() @ f)
        return torch.cat([r.real, r.imag, (2 * x[1] / c)[None], (2 * x[2] * fc / c)[None]])

    x0 = torch.tensor([phi, d, vdot], dtype=F64)
    jac = torch.autograd.functional.jacobian(mean, x0)  # [2 N_r + 2, 3]
    cinv = torch.cat([torch.full((2 * n_r,), 2.0 / sigma_r2, dtype=F64),
                      torch.tensor([1.0 / sigma_nu2, 1.0 / sigma_mu2], dtype=F64)])
    return jac.T @ (cinv[:, None] * jac)


def test_measurement_information_is_the_fisher_information() -> None:
    n_t, n_r, phi, d = 8, 6, 0.35, 25.0
    f = torch.randn(n_t, generator=make_generator(5), dtype=C128)
    f = f / f.norm()
    beta = (10 + 10j) / (2 * d)
    kw = dict(kappa=math.sqrt(n_t * n_r), gain=10.0, sigma_r2=1e-8)
    s_nu, s_mu, fc = 7.9e-23, 0.07, 30e9
    ref = _fisher_autograd(phi, d, 12.0, n_t=n_t, n_r=n_r, f=f, beta=beta, sigma_nu2=s_nu,
                           sigma_mu2=s_mu, fc=fc, **kw)  # type: ignore[arg-type]
    pi = angle_derivative_matrix(torch.tensor(phi, dtype=F64), n_t, n_r)
    got = measurement_information(pi=pi, f=f, beta_sq=abs(beta) ** 2, sigma_nu2=s_nu,
                                  sigma_mu2=s_mu, carrier_hz=fc, **kw)  # type: ignore[arg-type]
    assert got.shape == (3, 3) and got.dtype == F64
    torch.testing.assert_close(got, ref, rtol=1e-9, atol=0.0)
    # the same from ‖Πf‖², and c_f = 1 (the paper's (35) as printed) halves the angle entry
    pf = beam_angle_power(pi, f)
    by_norm = measurement_information(pf, beta_sq=abs(beta) ** 2, sigma_nu2=s_nu,
                                      sigma_mu2=s_mu, carrier_hz=fc, **kw)  # type: ignore[arg-type]
    torch.testing.assert_close(by_norm, got, rtol=1e-14, atol=0.0)
    half = measurement_information(pf, beta_sq=abs(beta) ** 2, sigma_nu2=s_nu, sigma_mu2=s_mu,
                                   carrier_hz=fc, c_f=1.0, **kw)  # type: ignore[arg-type]
    assert float(half[0, 0]) == pytest.approx(float(got[0, 0]) / 2, rel=1e-14)
    assert float(half[1, 1]) == float(got[1, 1])
    gain_phi = angle_information_gain(abs(beta) ** 2, **kw)  # type: ignore[arg-type]
    assert float(gain_phi * pf) == pytest.approx(float(got[0, 0]), rel=1e-14)


def test_measurement_information_batched_and_no_echo() -> None:
    pf = torch.tensor([[100.0, 0.0], [5.0, 7.0]], dtype=F64)
    s_nu = torch.tensor([[1.0, math.inf], [2.0, 4.0]], dtype=F64)
    j = measurement_information(pf, beta_sq=torch.tensor([1.0, 0.5], dtype=F64), kappa=2.0,
                                gain=3.0, sigma_r2=4.0, sigma_nu2=s_nu, sigma_mu2=math.inf,
                                carrier_hz=1e9)
    assert j.shape == (2, 2, 3, 3)
    c = SPEED_OF_LIGHT
    for i in range(2):
        for k in range(2):
            b2 = [1.0, 0.5][k]
            want = torch.diag(torch.tensor([2 * 4 * b2 * 9 * float(pf[i, k]) / 4,
                                            (2 / c) ** 2 / float(s_nu[i, k]), 0.0], dtype=F64))
            torch.testing.assert_close(j[i, k], want, rtol=1e-14, atol=0.0)
    assert float(j[0, 1, 1, 1]) == 0.0 and bool(torch.isfinite(j).all())


def test_measurement_information_bad_inputs() -> None:
    kw = dict(beta_sq=1.0, kappa=1.0, gain=1.0, sigma_r2=1.0, sigma_mu2=1.0, carrier_hz=1.0)
    with pytest.raises(ConfigError):
        measurement_information(sigma_nu2=1.0, **kw)  # type: ignore[arg-type]
    pi = angle_derivative_matrix(0.1, 4, 4)
    with pytest.raises(ConfigError):
        measurement_information(1.0, pi=pi, f=torch.ones(4, dtype=torch.complex64),
                                sigma_nu2=1.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError, match="sigma_nu2"):
        measurement_information(1.0, sigma_nu2=-1.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError, match="sigma_nu2"):
        measurement_information(1.0, sigma_nu2=0.0, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError, match="sigma_r2"):
        measurement_information(1.0, sigma_nu2=1.0, **{**kw, "sigma_r2": math.inf})  # type: ignore[arg-type]
    with pytest.raises(ShapeError):
        beam_angle_power(pi, torch.ones(3, dtype=torch.complex64))


# ----------------------------------------------------------------------------------------------
# PCRB recursion


def _exact_inverse(x: torch.Tensor) -> torch.Tensor:
    """Inverse in exact rational arithmetic (Gauss–Jordan on Fractions), then rounded."""
    n = x.shape[-1]
    a = [[Fraction(float(x[i, j])) for j in range(n)] + [Fraction(int(i == j)) for j in range(n)]
         for i in range(n)]
    for col in range(n):
        piv = next(r for r in range(col, n) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                fac = a[r][col]
                a[r] = [v - fac * w for v, w in zip(a[r], a[col])]
    return torch.tensor([[float(v) for v in row[n:]] for row in a], dtype=F64)


def test_spd_inverse_badly_scaled_exact() -> None:
    """Entries spanning the ding_dt scales (1e15 angle information, 1e5 range, 1e-6 prior)."""
    s = torch.tensor([3e7, 7e2, 1e-3], dtype=F64)
    core = torch.tensor([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]], dtype=F64)
    x = s[:, None] * core * s[None, :]
    exact = _exact_inverse(x)
    got = spd_inverse(x)
    torch.testing.assert_close(got, exact, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(got, got.mT, rtol=0, atol=0)


def test_pcrb_step_equals_kalman_covariance_update() -> None:
    """Information form (35) = covariance form of a linear Kalman update with
    J_meas = Hᵀ R⁻¹ H: M̃ = M̂ − M̂Hᵀ(HM̂Hᵀ + R)⁻¹HM̂ (Woodbury), batched."""
    g = make_generator(7)
    batch = (4, 2)
    m_prev = _rand_spd(3, 1, batch)
    g_jac = torch.randn(*batch, 3, 3, generator=g, dtype=F64)
    e = torch.diag_embed(torch.rand(*batch, 3, generator=g, dtype=F64) + 0.1)
    h = torch.randn(*batch, 5, 3, generator=g, dtype=F64)
    r = _rand_spd(5, 2, batch)
    j_meas = h.mT @ torch.linalg.solve(r, h)
    got = pcrb_step(m_prev, g_jac, e, j_meas)
    m_hat = g_jac @ m_prev @ g_jac.mT + e
    torch.testing.assert_close(predicted_mse(m_prev, g_jac, e), m_hat, rtol=1e-13, atol=1e-13)
    s = h @ m_hat @ h.mT + r
    joseph_free = m_hat - m_hat @ h.mT @ torch.linalg.solve(s, h @ m_hat)
    torch.testing.assert_close(got, joseph_free, rtol=1e-10, atol=1e-12)
    assert got.shape == (*batch, 3, 3)


def test_pcrb_scalar_closed_form_and_broadcast() -> None:
    """D = 1: m_n = 1 / (j + 1 / (g² m + e)); a shared (unbatched) G and E broadcast."""
    m = torch.tensor([[[2.0]], [[0.5]]], dtype=F64)
    out = pcrb_step(m, torch.tensor([[1.5]], dtype=F64), torch.tensor([[0.2]], dtype=F64),
                    torch.tensor([[[3.0]], [[0.0]]], dtype=F64))
    want = [1 / (3.0 + 1 / (2.25 * 2.0 + 0.2)), 2.25 * 0.5 + 0.2]
    torch.testing.assert_close(out[:, 0, 0], torch.tensor(want, dtype=F64), rtol=1e-14, atol=0)


def test_pcrb_recursion_equals_step_loop() -> None:
    g = make_generator(11)
    t_len, batch = 6, (3,)
    m0 = _rand_spd(3, 4, batch)
    g_jacs = torch.eye(3, dtype=F64) + 0.1 * torch.randn(t_len, *batch, 3, 3, generator=g,
                                                         dtype=F64)
    j_meas = torch.diag_embed(torch.rand(t_len, *batch, 3, generator=g, dtype=F64) * 10)
    e = torch.diag(torch.tensor([1e-2, 4e-2, 2.5e-1], dtype=F64))
    out = pcrb_recursion(m0, g_jacs, e, j_meas)
    assert out.shape == (t_len, *batch, 3, 3)
    m = m0
    for t in range(t_len):
        m = pcrb_step(m, g_jacs[t], e, j_meas[t])
        torch.testing.assert_close(out[t], m, rtol=0, atol=0)
    # per-slot E (leading T) equals the shared one repeated; a per-slot E that changes matters
    per_slot = e.expand(t_len, *batch, 3, 3)
    torch.testing.assert_close(pcrb_recursion(m0, g_jacs, per_slot, j_meas), out)
    varying = per_slot * torch.arange(1, t_len + 1, dtype=F64)[:, None, None, None]
    assert not torch.allclose(pcrb_recursion(m0, g_jacs, varying, j_meas), out)
    assert pcrb_recursion(m0, g_jacs[:0], e, j_meas[:0]).shape == (0, *batch, 3, 3)
    with pytest.raises(ShapeError):
        pcrb_recursion(m0, g_jacs, e, j_meas[:-1])


def test_rcrb_and_pcrb_std() -> None:
    m = torch.diag_embed(torch.tensor([[4e-16, 1.69e-6, 2.5e-5]], dtype=F64))
    torch.testing.assert_close(rcrb(m), torch.tensor([1.3e-3], dtype=F64))
    torch.testing.assert_close(pcrb_std(m), torch.tensor([[2e-8, 1.3e-3, 5e-3]], dtype=F64))
    with pytest.raises(ShapeError):
        rcrb(torch.eye(2))


def test_pcrb_gradients() -> None:
    """The recursion is differentiable (e.g. in a loss): gradcheck in float64."""
    m0 = _rand_spd(3, 8)
    g_jac = torch.eye(3, dtype=F64) + 0.1 * _rand_spd(3, 9)
    e = torch.diag(torch.tensor([0.1, 0.2, 0.3], dtype=F64))
    j = torch.diag(torch.tensor([2.0, 1.0, 3.0], dtype=F64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda jj: pcrb_step(m0, g_jac, e, jj), (j,))


# ----------------------------------------------------------------------------------------------
# sensing threshold Λ


def _threshold_case(seed: int, batch: tuple[int, ...] = (5,)) -> tuple[torch.Tensor, ...]:
    g = make_generator(seed)
    m_prev = _rand_spd(3, seed, batch)
    g_jac = torch.eye(3, dtype=F64) + 0.3 * torch.randn(*batch, 3, 3, generator=g, dtype=F64)
    e = torch.diag(torch.tensor([0.05, 0.1, 0.2], dtype=F64))
    m_hat = predicted_mse(m_prev, g_jac, e)
    j_meas = torch.diag_embed(torch.rand(*batch, 3, generator=g, dtype=F64) * 5 + 0.5)
    angle_gain = torch.rand(*batch, generator=g, dtype=F64) + 0.5
    return m_prev, g_jac, e, m_hat, j_meas, angle_gain


def test_threshold_schur_equals_literal() -> None:
    m_prev, _, _, m_hat, j_meas, gain = _threshold_case(21, (7, 2))
    lam = sensing_threshold(m_prev[..., 0, 0], m_hat, j_meas, gain)
    lit = sensing_threshold_literal(m_prev[..., 0, 0], m_hat, j_meas, gain)
    assert lam.shape == (7, 2)
    torch.testing.assert_close(lam, lit, rtol=1e-10, atol=1e-10)
    # the (1,1) entry of j_meas (the f-dependent part) does not enter Λ
    j2 = j_meas.clone()
    j2[..., 0, 0] = 123.0
    torch.testing.assert_close(sensing_threshold(m_prev[..., 0, 0], m_hat, j2, gain), lam)
    # the printed (56)–(58) differ (sign of the ω₁₃ cofactor, m̂⁽¹¹⁾ for [M̂⁻¹]₁₁)
    printed = sensing_threshold_literal(m_prev[..., 0, 0], m_hat, j_meas, gain, as_printed=True)
    assert float((printed - lam).abs().min()) > 1e-3


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_design_at_threshold_keeps_angle_pcrb(seed: int) -> None:
    """‖Πf‖² = Λ gives m̃⁽¹¹⁾_n = m̃⁽¹¹⁾_{n−1} exactly; more gives less, less gives more."""
    m_prev, g_jac, e, m_hat, j_meas, gain = _threshold_case(seed)
    # a threshold that is active: ask for a smaller angle PCRB than the prior alone gives
    target = 0.5 * spd_inverse(spd_inverse(m_hat) + j_meas * torch.tensor(
        [[0.0, 1, 1], [1, 1, 1], [1, 1, 1]], dtype=F64))[..., 0, 0]
    lam = sensing_threshold(target, m_hat, j_meas, gain)
    assert bool((lam > 0).all())

    def m11_with(pf: torch.Tensor) -> torch.Tensor:
        j = j_meas.clone()
        j[..., 0, 0] = gain * pf
        return pcrb_step(m_prev, g_jac, e, j)[..., 0, 0]

    torch.testing.assert_close(m11_with(lam), target, rtol=1e-10, atol=0)
    assert bool((m11_with(lam * 1.01) < target).all())
    assert bool((m11_with(lam * 0.99) > target).all())
    printed = sensing_threshold_literal(target, m_hat, j_meas, gain, as_printed=True)
    assert not torch.allclose(m11_with(printed.clamp_min(0)), target, rtol=1e-3)


# The ding_dt scenario with the Table I parameters (spec §1): RSU at the origin of its frame,
# the lane 27.5 m away (RSU at y = 30 m, lane at y = 2.5 m), speed 30 m/s along −x.
T_SLOT, FC, SIG_E2, GAIN_G, RHO_NU, RHO_MU = 0.02, 30e9, 1e-7, 10.0, 6.7e-7, 2e4
E_DIAG = torch.diag(torch.tensor([1e-3**2, 0.02**2, 0.05**2], dtype=F64))
M0 = torch.diag(torch.tensor([1e-4**2, 0.1**2, 1.0], dtype=F64))


def _g(s: torch.Tensor) -> torch.Tensor:
    """Straight-line motion along −x at speed v = v̇/φ, in Cartesian form (x = dφ)."""
    phi, d, vdot = s[0], s[1], s[2]
    v = vdot / phi
    x = d * phi - v * T_SLOT
    y2 = d**2 * (1 - phi**2)
    dn = torch.sqrt(x**2 + y2)
    return torch.stack([x / dn, dn, v * x / dn])


def _state(x: float, y: float = 27.5, v: float = 30.0) -> torch.Tensor:
    d = math.hypot(x, y)
    return torch.tensor([x / d, d, v * x / d], dtype=F64)


def _slot_information(s: torch.Tensor, n: int, *, design: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """J_meas of the echo of f = a(φ) at full power (|η| = 1) and the angle gain, by hand:
    β = ϱ/(2d), κ = N, σ_r² = σ_e²/G, σ_ν² = ρ_ν²σ_e²/(Gκ²|β|²), σ_μ² likewise."""
    phi, d = float(s[0]), float(s[1])
    beta_sq = abs(10 + 10j) ** 2 / (4 * d * d)
    kappa = float(n)
    s_nu = RHO_NU**2 * SIG_E2 / (GAIN_G * kappa**2 * beta_sq)
    s_mu = RHO_MU**2 * SIG_E2 / (GAIN_G * kappa**2 * beta_sq)
    pf = math.pi**2 * (n * n - 1) / 12  # ‖Πa‖² = λ_max for N_t = N_r (tested above)
    c = SPEED_OF_LIGHT
    j = torch.diag(torch.tensor([2 * kappa**2 * beta_sq * GAIN_G**2 * pf / (SIG_E2 / GAIN_G),
                                 (2 / c) ** 2 / s_nu, (2 * FC / c) ** 2 / s_mu], dtype=F64))
    gain = torch.tensor(2 * kappa**2 * beta_sq * GAIN_G**2 / (SIG_E2 / GAIN_G), dtype=F64)
    # cross-check the library's measurement_information on the same numbers
    pi = angle_derivative_matrix(torch.tensor(phi, dtype=F64), n, n)
    a = torch.tensor(_steer(n, phi), dtype=C128)
    lib = measurement_information(pi=pi, f=a, beta_sq=beta_sq, kappa=kappa, gain=GAIN_G,
                                  sigma_r2=SIG_E2 / GAIN_G, sigma_nu2=s_nu, sigma_mu2=s_mu,
                                  carrier_hz=FC)
    torch.testing.assert_close(lib, j, rtol=1e-12, atol=0)
    return j, gain


def _track(x_start: float, slots: int, n: int = 32) -> list[tuple[torch.Tensor, ...]]:
    """(state_n, M̃_{n-1}, M̂_n, M̃_n) for a vehicle tracked with f = a(φ_n) at every slot."""
    s, m = _state(x_start), M0
    out: list[tuple[torch.Tensor, ...]] = []
    for _ in range(slots):
        g_jac = jacfwd(_g)(s)
        s_next = _g(s)
        m_hat = predicted_mse(m, g_jac, E_DIAG)
        j, _ = _slot_information(s_next, n)
        m_next = pcrb_step(m, g_jac, E_DIAG, j)
        out.append((s_next, m, m_hat, m_next))
        s, m = s_next, m_next
    return out


def test_receding_vehicle_is_infeasible_regression() -> None:
    """Spec §6.2: in the measurement-dominated regime (angle information ≈ 1e15 against a prior
    of 1e6) a receding vehicle needs Λ > λ_max(ΠᴴΠ): even f = a(φ) at full power cannot keep
    m̃⁽¹¹⁾ from growing, because |β|² falls with d. Approaching: 0 < Λ < λ_max, close to it."""
    n = 32
    lam_max = math.pi**2 * (n * n - 1) / 12
    track = _track(12.0, 40, n)  # x from 12 m to −12 m, d from 30 m to 27.5 m and back
    seen = {"approach": 0, "recede": 0}
    for idx, (s, m_prev, m_hat, m_next) in enumerate(track[1:], start=1):
        _, gain = _slot_information(s, n)
        assert float(gain) * lam_max > 1e14 and 1 / float(m_hat[0, 0]) < 1.1e6  # regime
        lam = float(sensing_threshold(m_prev[0, 0], m_hat, _slot_information(s, n)[0], gain))
        lmax_lib = float(angle_information_max(s[0], n, n))
        assert lmax_lib == pytest.approx(lam_max, rel=1e-10)
        status = sensing_status(torch.tensor(lam), lmax_lib)
        if float(s[2]) < 0 and float(s[0]) < -0.02:  # receding: closing speed v̇ < 0
            seen["recede"] += 1
            assert lam > lam_max and bool(status.infeasible) and not bool(status.inactive)
            assert float(m_next[0, 0]) > float(m_prev[0, 0])  # the best design loses accuracy
        elif float(s[0]) > 0.02:
            seen["approach"] += 1
            assert 0.95 * lam_max < lam < lam_max and not bool(status.infeasible)
            assert float(m_next[0, 0]) < float(m_prev[0, 0])
        assert idx >= 1
    assert seen["recede"] >= 15 and seen["approach"] >= 15


def test_rcrb_first_slot_anchor() -> None:
    """Spec §5 (Fig. 11): from RCRB₀ = 0.1 m at the segment edge (x = 30 m, d = 40.7 m), one
    slot gives ≈ 3.5 / 1.8 / 0.88 mm for N = 16 / 32 / 64, halving per doubling of N."""
    got = []
    for n in (16, 32, 64):
        s0 = _state(30.0)
        s1 = _g(s0)
        j, _ = _slot_information(s1, n)
        got.append(float(rcrb(pcrb_step(M0, jacfwd(_g)(s0), E_DIAG, j))))
    assert got[0] == pytest.approx(3.5e-3, rel=0.05)
    assert got[1] == pytest.approx(1.8e-3, rel=0.05)
    assert got[2] == pytest.approx(0.88e-3, rel=0.05)
    assert got[0] / got[1] == pytest.approx(2.0, rel=0.01)
    assert got[1] / got[2] == pytest.approx(2.0, rel=0.01)


def test_sensing_status_and_threshold_inputs() -> None:
    st = sensing_status(torch.tensor([-1.0, 0.0, 0.5, 2.0]), torch.tensor(1.0))
    assert st.inactive.tolist() == [True, True, False, False]
    assert st.infeasible.tolist() == [False, False, False, True]
    m_hat = _rand_spd(3, 1)
    j = torch.eye(3, dtype=F64)
    with pytest.raises(ValueRangeError, match="m_prev_11"):
        sensing_threshold(0.0, m_hat, j, 1.0)
    with pytest.raises(ValueRangeError, match="angle_gain"):
        sensing_threshold(1.0, m_hat, j, -1.0)
    with pytest.raises(ShapeError):
        sensing_threshold(1.0, m_hat, torch.eye(2, dtype=F64), 1.0)
    with pytest.raises(ShapeError):
        sensing_threshold_literal(1.0, torch.eye(2, dtype=F64), torch.eye(2, dtype=F64), 1.0)
    # D = 1 (angle only): Λ = (1/m̃ − 1/m̂)/g
    lam = sensing_threshold(0.5, torch.tensor([[2.0]], dtype=F64), torch.zeros(1, 1), 4.0)
    assert float(lam) == pytest.approx((2.0 - 0.5) / 4.0, rel=1e-14)


def test_device_and_dtype_follow_inputs(device: str) -> None:
    u = torch.tensor([0.1, -0.4], device=device)  # float32
    pi = angle_derivative_matrix(u, 4, 3)
    assert pi.dtype == torch.complex64 and pi.device.type == torch.device(device).type
    m = _rand_spd(3, 2, (2,))
    j = torch.diag_embed(torch.rand(2, 3, generator=make_generator(1), dtype=F64))
    eye = torch.eye(3, dtype=F64)
    ref = pcrb_step(m, eye, 0.1 * eye, j)
    got = pcrb_step(m.to(device), eye.to(device), 0.1 * eye.to(device), j.to(device))
    assert got.device.type == torch.device(device).type and got.dtype == F64
    torch.testing.assert_close(got.cpu(), ref)
    lo = pcrb_step(m.float().to(device), eye.float().to(device), 0.1 * eye.float().to(device),
                   j.float().to(device))
    assert lo.dtype == torch.float32
    torch.testing.assert_close(lo.cpu().double(), ref, rtol=1e-5, atol=1e-6)
    mi = measurement_information(torch.ones(2, device=device), beta_sq=1.0, kappa=1.0, gain=1.0,
                                 sigma_r2=1.0, sigma_nu2=1.0, sigma_mu2=1.0, carrier_hz=1.0)
    assert mi.device.type == torch.device(device).type and mi.dtype == torch.float32
    lam = sensing_threshold(m[..., 0, 0].to(device), predicted_mse(m, eye, eye).to(device),
                            j.to(device), 2.0)
    assert lam.device.type == torch.device(device).type
