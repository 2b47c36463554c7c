"""Tests of isaclearn.metrics.sensing: exact and approximate CRB, beampattern, covariance."""

from __future__ import annotations

import cmath
import math

import pytest
import torch

from isaclearn.core import ConfigError, IsacError, ShapeError, complex_normal, make_generator
from isaclearn.metrics import beampattern, covariance, crb_angle, crb_angle_approx

C128 = torch.complex128


def _steer(n: int, theta: torch.Tensor, reference: str = "center") -> torch.Tensor:
    """Half-wavelength ULA written out (eq. 10 for the centre reference), differentiable in
    theta."""
    pos = torch.arange(n, dtype=torch.float64)
    if reference == "center":
        pos = pos - (n - 1) / 2.0
    return torch.exp(1j * math.pi * pos * torch.sin(theta))


def _rand(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return complex_normal(shape, generator=make_generator(seed), dtype=C128)


def _fisher_crb(w: torch.Tensor, theta: float, n_rx: int, num_symbols: int, eta: float,
                reference: str = "center") -> float:
    """CRB on θ from the Fisher information of y_l = α A(θ) x_l + n_l, n_l ~ CN(0, σ² I).

    X [M, L] is built with (1/L) X X^H = W W^H exactly (X = sqrt(L) W Q^H with Q [L, K]
    orthonormal columns). The mean μ(θ, Re α, Im α) = α b(θ) a(θ)^H X is differentiated with
    autograd; F = (2/σ²) Re(J^H J) with σ² = 1/η and |α| = 1; CRB = [F^{-1}]_θθ.
    """
    m, k = w.shape
    q, _ = torch.linalg.qr(_rand((num_symbols, k), 99))  # [L, K], Q^H Q = I
    x = math.sqrt(num_symbols) * w @ q.mH
    assert torch.allclose(x @ x.mH / num_symbols, w @ w.mH, rtol=0, atol=1e-12)

    def mean(p: torch.Tensor) -> torch.Tensor:
        big_a = (_steer(n_rx, p[0], reference)[:, None]
                 * _steer(m, p[0], reference).conj()[None, :])
        mu = torch.complex(p[1], p[2]) * (big_a @ x)
        return torch.view_as_real(mu).reshape(-1)  # real stacking of Re and Im

    p0 = torch.tensor([theta, 1.0, 0.0], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(mean, p0)  # [2 N L, 3]
    fisher = (2.0 * eta) * (jac.T @ jac)  # Re(J^H J) = J_r^T J_r
    return float(torch.linalg.inv(fisher)[0, 0])


# --------------------------------------------------------------------------------------------
# exact CRB (eq. 5) vs the inverse Fisher information


@pytest.mark.parametrize(
    ("m", "n_rx", "k", "num_symbols"),
    [
        (4, 3, 2, 5),  # K < M
        (6, 6, 3, 8),
        (3, 5, 5, 7),  # K > M
        (2, 2, 4, 4),  # K > M, tiny arrays
        (8, 4, 1, 1),  # single stream, single snapshot
        (1, 4, 2, 3),  # single transmit antenna
    ],
)
def test_crb_matches_inverse_fisher_information(m: int, n_rx: int, k: int,
                                                num_symbols: int) -> None:
    angles = [-1.2, -0.35, 0.0, 0.4, 1.1]
    w = _rand((m, k), 10 * m + k)
    # The first-element reference exercises the terms in b^H ḃ, which vanish for the centre.
    for eta, reference in ((1.0, "center"), (37.5, "center"), (3.0, "first")):
        got = crb_angle(w, torch.tensor(angles, dtype=torch.float64), num_rx=n_rx,
                        radar_snr=eta, num_symbols=num_symbols, reference=reference)
        assert got.shape == (len(angles),) and got.dtype == torch.float64
        for t, theta in enumerate(angles):
            want = _fisher_crb(w, theta, n_rx, num_symbols, eta, reference)
            assert abs(got[t].item() - want) <= 1e-8 * want, (theta, got[t].item(), want)


def test_crb_invariances() -> None:
    w = _rand((5, 3), 1)
    theta = torch.tensor([-0.7, 0.1, 0.9], dtype=torch.float64)
    kw = {"num_rx": 4, "radar_snr": 2.0, "num_symbols": 3}
    base = crb_angle(w, theta, **kw)
    # Only R_X = W W^H matters: W -> W U with U unitary leaves the CRB unchanged.
    u, _ = torch.linalg.qr(_rand((3, 3), 2))
    torch.testing.assert_close(crb_angle(w @ u, theta, **kw), base, rtol=1e-12, atol=0)
    # Extra zero columns do not change R_X.
    w_pad = torch.cat([w, torch.zeros(5, 2, dtype=C128)], dim=-1)
    torch.testing.assert_close(crb_angle(w_pad, theta, **kw), base, rtol=1e-12, atol=0)
    # CRB ∝ 1 / (η L ||W||²).
    torch.testing.assert_close(crb_angle(2.0 * w, theta, **kw), base / 4.0, rtol=1e-12, atol=0)
    torch.testing.assert_close(crb_angle(w, theta, num_rx=4, radar_snr=6.0, num_symbols=5),
                               base * (2.0 * 3) / (6.0 * 5), rtol=1e-12, atol=0)
    # The phase reference of the arrays is absorbed by the unknown α: "first" gives the same CRB.
    torch.testing.assert_close(crb_angle(w, theta, reference="first", **kw), base,
                               rtol=1e-9, atol=0)


def test_crb_closed_form_single_antenna_tx() -> None:
    """M = 1 (isotropic transmit): only the receive array carries angle information. Then
    tr(A^H A R) = N p, tr(Ȧ^H Ȧ R) = ||ḃ||² p, tr(Ȧ^H A R) = (ḃ^H b) p = 0 (centred array),
    so CRB = 1 / (2 η L p ||ḃ||²), ||ḃ||² = π² cos²θ Σ_n (n - (N-1)/2)²."""
    n_rx, p, eta, num_symbols = 5, 0.8, 3.0, 4
    w = torch.full((1, 1), math.sqrt(p), dtype=C128)
    for theta in (-0.6, 0.0, 0.5):
        s2 = sum((i - (n_rx - 1) / 2) ** 2 for i in range(n_rx))
        want = 1.0 / (2 * eta * num_symbols * p * math.pi**2 * math.cos(theta) ** 2 * s2)
        got = crb_angle(w, torch.tensor([theta], dtype=torch.float64), num_rx=n_rx,
                        radar_snr=eta, num_symbols=num_symbols)
        assert got.item() == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------------------------
# approximate CRB (eq. 22)


def test_crb_approx_vs_explicit_formula() -> None:
    m, k = 6, 3
    w = _rand((2, m, k), 5)
    theta = torch.tensor([[-0.3, 0.8], [1.0, -1.4]], dtype=torch.float64)
    eta = torch.tensor([2.0, 0.5], dtype=torch.float64)  # per instance
    num_symbols = 7
    got = crb_angle_approx(w, theta, radar_snr=eta, num_symbols=num_symbols)
    assert got.shape == (2, 2) and got.dtype == torch.float64
    for b in range(2):
        r_x = w[b] @ w[b].mH  # R_X = W W^H
        for t in range(2):
            th = theta[b, t].item()
            a = [cmath.exp(-1j * (m - 1 - 2 * i) / 2 * math.pi * math.sin(th)) for i in range(m)]
            quad = sum(a[i].conjugate() * complex(r_x[i, j]) * a[j]
                       for i in range(m) for j in range(m))  # a^H R_X a
            want = 1.0 / (2 * eta[b].item() * num_symbols * abs(quad))
            assert got[b, t].item() == pytest.approx(want, rel=1e-12)


def test_crb_approx_is_inverse_beampattern() -> None:
    w = _rand((3, 5, 2), 6)
    g = torch.linspace(-1.5, 1.5, 13, dtype=torch.float64)
    approx = crb_angle_approx(w, g, radar_snr=1.5, num_symbols=2)
    torch.testing.assert_close(approx, 1.0 / (2 * 1.5 * 2 * beampattern(w, g)), rtol=1e-12,
                               atol=0)


# --------------------------------------------------------------------------------------------
# beampattern


def test_beampattern_vs_explicit_quadratic_form() -> None:
    m, k = 4, 3
    w = _rand((2, m, k), 7)
    grid = torch.linspace(-math.pi / 2, math.pi / 2, 9, dtype=torch.float64)
    got = beampattern(w, grid)
    assert got.shape == (2, 9) and got.dtype == torch.float64
    for b in range(2):
        r_x = (w[b] @ w[b].mH).tolist()
        for gi, phi in enumerate(grid.tolist()):
            a = [cmath.exp(1j * (i - (m - 1) / 2) * math.pi * math.sin(phi)) for i in range(m)]
            val = sum(a[i].conjugate() * r_x[i][j] * a[j] for i in range(m) for j in range(m))
            assert abs(val.imag) < 1e-12
            assert got[b, gi].item() == pytest.approx(val.real, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("theta0_deg", [-40.0, 0.0, 25.0, 61.0])
def test_beampattern_peaks_at_steered_angle(theta0_deg: float) -> None:
    m, power = 10, 2.5
    grid = torch.deg2rad(torch.arange(-90.0, 90.5, 0.5, dtype=torch.float64))
    theta0 = math.radians(theta0_deg)
    a0 = _steer(m, torch.tensor(theta0, dtype=torch.float64))
    w = (math.sqrt(power / m) * a0)[:, None]  # ||W||_F² = P
    pat = beampattern(w, grid)
    peak = int(pat.argmax())
    assert grid[peak].item() == pytest.approx(theta0, abs=1e-12)
    assert pat[peak].item() == pytest.approx(m * power, rel=1e-12)  # |a^H a|² P / M = M P
    assert bool((pat <= m * power * (1 + 1e-12)).all())  # Cauchy–Schwarz


# --------------------------------------------------------------------------------------------
# radar_snr forms, shapes, dtypes, devices


@pytest.mark.parametrize("b", [2, 3])
def test_radar_snr_forms(b: int) -> None:
    """Scalar, per instance [B] and per target [B, T]; b = T = 2 catches a batch taken for a
    per-target vector."""
    w = _rand((b, 4, 2), 8)
    theta = torch.tensor([-0.2, 0.6], dtype=torch.float64)
    per_inst = torch.arange(1.0, b + 1.0, dtype=torch.float64)
    per_target = torch.rand((b, 2), generator=make_generator(1), dtype=torch.float64) + 0.5
    for f, kw in ((crb_angle, {"num_rx": 3}), (crb_angle_approx, {})):
        got_i = f(w, theta, radar_snr=per_inst, num_symbols=2, **kw)
        got_t = f(w, theta, radar_snr=per_target, num_symbols=2, **kw)
        for i in range(b):
            torch.testing.assert_close(
                got_i[i], f(w[i], theta, radar_snr=per_inst[i].item(), num_symbols=2, **kw))
            torch.testing.assert_close(
                got_t[i], f(w[i], theta, radar_snr=per_target[i], num_symbols=2, **kw))
        torch.testing.assert_close(f(w, theta, radar_snr=per_inst[:, None], num_symbols=2, **kw),
                                   got_i)


@pytest.mark.parametrize(
    ("w_shape", "theta_shape", "out_shape"),
    [((4, 2), (), (1,)), ((4, 2), (3,), (3,)), ((5, 4, 2), (3,), (5, 3)),
     ((5, 4, 2), (5, 3), (5, 3)), ((1, 4, 2), (5, 3), (5, 3))],
)
def test_shapes(w_shape: tuple[int, ...], theta_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> None:
    w = _rand(w_shape, 9)
    theta = torch.rand(theta_shape, generator=make_generator(2), dtype=torch.float64) - 0.5
    assert crb_angle(w, theta, num_rx=3, radar_snr=1.0, num_symbols=1).shape == out_shape
    assert crb_angle_approx(w, theta, radar_snr=1.0, num_symbols=1).shape == out_shape
    assert beampattern(w, torch.zeros(7)).shape == (*w_shape[:-2], 7)
    assert covariance(w).shape == (*w_shape[:-1], w_shape[-2])


def test_dtype_and_device(cdtype: torch.dtype, device: str, gen: torch.Generator) -> None:
    w = complex_normal((3, 4, 2), generator=gen, dtype=cdtype, device=device)
    theta = torch.tensor([-0.3, 0.5], device=device)  # float32 angles, any precision of w
    rdt = torch.float32 if cdtype == torch.complex64 else torch.float64
    outs = (
        crb_angle(w, theta, num_rx=3, radar_snr=2.0, num_symbols=4),
        crb_angle(w, theta, num_rx=3, radar_snr=torch.full((3,), 2.0, device=device),
                  num_symbols=4),
        crb_angle_approx(w, theta, radar_snr=2.0, num_symbols=4),
        beampattern(w, torch.linspace(-1, 1, 5, device=device)),
    )
    for out in outs:
        assert out.dtype == rdt and out.device.type == device
        assert bool((out > 0).all())
    r = covariance(w)
    assert r.dtype == cdtype and r.device.type == device
    torch.testing.assert_close(r, r.mH)
    # Single precision agrees with double precision.
    w64 = w.to(C128)
    ref = crb_angle(w64, theta.double(), num_rx=3, radar_snr=2.0, num_symbols=4)
    torch.testing.assert_close(outs[0].double(), ref, rtol=1e-3, atol=0)


def test_real_precoder_is_promoted_not_truncated() -> None:
    w = torch.randn(4, 2, generator=make_generator(3), dtype=torch.float64)
    theta = torch.tensor([0.3, -0.9], dtype=torch.float64)
    wc = w.to(C128)
    torch.testing.assert_close(crb_angle(w, theta, num_rx=3, radar_snr=1.0, num_symbols=1),
                               crb_angle(wc, theta, num_rx=3, radar_snr=1.0, num_symbols=1))
    torch.testing.assert_close(crb_angle_approx(w, theta, radar_snr=1.0, num_symbols=1),
                               crb_angle_approx(wc, theta, radar_snr=1.0, num_symbols=1))
    torch.testing.assert_close(beampattern(w, theta), beampattern(wc, theta))


# --------------------------------------------------------------------------------------------
# gradients


def test_gradcheck_sensing_metrics() -> None:
    w = _rand((2, 3, 2), 12).requires_grad_(True)
    theta = torch.tensor([-0.4, 0.7], dtype=torch.float64)
    grid = torch.linspace(-1.2, 1.2, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda w_: crb_angle(w_, theta, num_rx=3, radar_snr=2.0, num_symbols=2), (w,))
    assert torch.autograd.gradcheck(
        lambda w_: crb_angle_approx(w_, theta, radar_snr=2.0, num_symbols=2), (w,))
    assert torch.autograd.gradcheck(lambda w_: beampattern(w_, grid), (w,))


# --------------------------------------------------------------------------------------------
# errors


def test_errors_name_the_argument() -> None:
    w = _rand((2, 4, 3), 13)
    theta = torch.tensor([0.1, 0.2], dtype=torch.float64)
    with pytest.raises(ShapeError, match="^w must have shape"):
        crb_angle(w[0, 0], theta, num_rx=2, radar_snr=1.0, num_symbols=1)
    with pytest.raises(ShapeError, match="^w must have shape"):
        crb_angle_approx(w[0, 0], theta, radar_snr=1.0, num_symbols=1)
    with pytest.raises(ShapeError, match="^w must have shape"):
        beampattern(w[0, 0], theta)
    with pytest.raises(ShapeError, match="theta"):
        crb_angle(w, torch.zeros(3, 2), num_rx=2, radar_snr=1.0, num_symbols=1)
    with pytest.raises(ShapeError, match="radar_snr"):
        crb_angle(w, theta, num_rx=2, radar_snr=torch.ones(3), num_symbols=1)
    with pytest.raises(ShapeError, match="radar_snr"):
        crb_angle_approx(w, theta, radar_snr=torch.ones(2, 3), num_symbols=1)
    with pytest.raises(ShapeError, match="angles"):
        beampattern(w, torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="num_symbols"):
        crb_angle(w, theta, num_rx=2, radar_snr=1.0, num_symbols=0)
    with pytest.raises(ConfigError, match="num_symbols"):
        crb_angle_approx(w, theta, radar_snr=1.0, num_symbols=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="num_rx"):
        crb_angle(w, theta, num_rx=0, radar_snr=1.0, num_symbols=1)
    with pytest.raises(IsacError, match="theta"):
        crb_angle(w, torch.tensor([0.1j]), num_rx=2, radar_snr=1.0, num_symbols=1)


def test_crb_is_infinite_without_angle_information() -> None:
    """W = 0 carries no information on any angle: the bound is +inf, not NaN (the approximate
    CRB agrees). A beam in the null of one target's steering vector and its derivative leaves
    that target's bound unbounded while the other's stays finite, with a finite gradient."""
    from isaclearn.arrays import ula

    theta = torch.tensor([[-0.3, 0.5]], dtype=torch.float64)
    zero = torch.zeros(1, 4, 2, dtype=torch.complex128)
    crb = crb_angle(zero, theta, num_rx=4, radar_snr=1.0, num_symbols=1)
    assert torch.isinf(crb).all() and (crb > 0).all()
    assert torch.isinf(crb_angle_approx(zero, theta, radar_snr=1.0, num_symbols=1)).all()
    # a single beam orthogonal to a(theta_0) and its derivative: no information on target 0
    a0 = ula(4, theta[:, :1]).reshape(4)
    from isaclearn.arrays import ula_derivative

    d0 = ula_derivative(4, theta[:, :1]).reshape(4)
    basis = torch.linalg.qr(torch.stack([a0, d0], dim=-1), mode="complete").Q[:, 2:]
    w = basis[:, :1].reshape(1, 4, 1).clone().requires_grad_(True)
    crb = crb_angle(w, theta, num_rx=4, radar_snr=1.0, num_symbols=1)
    # rounding leaves ~1e-17 of the beam on a(theta_0): inf or astronomically large
    assert crb[0, 0] > 1e12 * crb[0, 1] and torch.isfinite(crb[0, 1])
    crb[0, 1].backward()
    assert w.grad is not None and torch.isfinite(torch.view_as_real(w.grad)).all()
