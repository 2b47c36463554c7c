"""yang_som metrics: SINR with ICI (7), SE (8), wideband angle Fisher information (10) and CRLB
(11) (spec §7.2, §7.3)."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core import ShapeError, ValueRangeError, make_generator
from isaclearn.metrics.comm import sinr as narrowband_sinr
from isaclearn.metrics.ofdm import ofdm_link_gains, se, se_per_hz, sinr_ici
from isaclearn.metrics.sensing import crb_from_covariance, crlb_from_fisher, fisher_angle

C128 = torch.complex128
F64 = torch.float64


def _cn(shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=g, dtype=F64),
                         torch.randn(shape, generator=g, dtype=F64)) / math.sqrt(2)


def test_sinr_ici_matches_explicit_loop() -> None:
    g = make_generator(0)
    b, s, k, m = 2, 4, 3, 5
    h = _cn((b, s, s, k, m), g)
    f = _cn((b, s, m, k), g)
    noise = torch.tensor([0.3, 1.7], dtype=F64)
    got = sinr_ici(h, f, noise)
    assert got.shape == (b, s, k)
    for bb in range(b):
        for mm in range(s):
            for u in range(k):
                sig = abs(complex(h[bb, mm, mm, u] @ f[bb, mm, :, u])) ** 2
                ici = sum(abs(complex(h[bb, mm, kk, u] @ f[bb, kk, :, uu])) ** 2
                          for kk in range(s) if kk != mm for uu in range(k))
                iui = sum(abs(complex(h[bb, mm, mm, u] @ f[bb, mm, :, i])) ** 2
                          for i in range(k) if i != u)
                want = sig / (ici + iui + float(noise[bb]))
                assert math.isclose(float(got[bb, mm, u]), want, rel_tol=1e-12)
    rate = se(h, f, noise)
    assert torch.allclose(rate, torch.log2(1 + got).sum((-2, -1)))
    assert torch.allclose(se_per_hz(h, f, noise), rate / s)
    assert ofdm_link_gains(h, f).shape == (b, s, s, k, k)


def test_sinr_ici_monte_carlo_received_signal_eq6() -> None:
    """Simulate (6) with random QPSK on every stream and AWGN: the empirical interference-plus-
    noise power of each (m, u) is within 3σ of the denominator of (7)."""
    g = make_generator(1)
    s, k, m, n = 4, 2, 3, 40000
    h = _cn((s, s, k, m), g)
    h = h * (torch.eye(s, dtype=F64) + 0.3)[:, :, None, None]  # strong diagonal, real ICI
    f = _cn((s, m, k), g)
    noise = 0.5
    bits = torch.randint(0, 4, (n, s, k), generator=g)
    sym = torch.exp(1j * (math.pi / 4 + math.pi / 2 * bits.to(F64)))  # unit-power QPSK
    w = _cn((n, s, k), g) * math.sqrt(noise)
    y = torch.einsum("mkua,kav,nkv->nmu", h, f, sym) + w  # [n, S(m), K(u)]
    coef = torch.einsum("mmua,mau->mu", h, f)  # h_{m,m,u} f_{m,u}
    err = (y - coef * sym).abs().square()
    emp = err.mean(0)
    tol = 3 * err.std(0) / math.sqrt(n)
    gamma = sinr_ici(h, f, noise)
    denom = coef.abs().square() / gamma
    assert ((emp - denom).abs() <= tol).all()
    # and the empirical SINR is not the ICI-free one
    no_ici = sinr_ici(h * torch.eye(s, dtype=F64)[:, :, None, None], f, noise)
    assert ((no_ici - gamma).abs() / gamma).min() > 0.05


def test_zero_ici_reduces_to_narrowband_sinr() -> None:
    g = make_generator(2)
    s, k, m = 3, 2, 4
    hd = _cn((s, k, m), g)
    h = torch.zeros(s, s, k, m, dtype=C128)
    h[range(s), range(s)] = hd
    f = _cn((s, m, k), g)
    assert torch.allclose(sinr_ici(h, f, 0.2), narrowband_sinr(hd, f, 0.2))


def test_sinr_input_errors() -> None:
    h = torch.zeros(2, 3, 1, 4, dtype=C128)
    with pytest.raises(ShapeError):
        sinr_ici(h, torch.zeros(2, 4, 1, dtype=C128), 1.0)
    h = torch.zeros(2, 2, 1, 4, dtype=C128)
    with pytest.raises(ShapeError):
        sinr_ici(h, torch.zeros(2, 3, 1, dtype=C128), 1.0)
    with pytest.raises(ValueRangeError):
        sinr_ici(h, torch.zeros(2, 4, 1, dtype=C128), 0.0)


KW = {"reference": "first", "sign": -1, "normalize": True}


def test_steering_derivative_finite_difference() -> None:
    th, eps = torch.tensor(0.37, dtype=F64), 1e-6
    fd = (ula(8, th + eps, **KW) - ula(8, th - eps, **KW)) / (2 * eps)  # type: ignore[arg-type]
    assert torch.allclose(ula_derivative(8, th, **KW), fd, atol=1e-9)  # type: ignore[arg-type]


def test_fisher_angle_equals_autograd_schur_complement() -> None:
    """μ_m = α_m A(θ) X_m, FIM = (2/σ²) Re(JᴴJ) over (θ, Re α_m, Im α_m), m = 0..S-1:
    [FIM⁻¹]_θθ = 1/Σ_m J_m (spec §7.3)."""
    g = make_generator(3)
    s, m, n, ell, sigma2 = 3, 4, 5, 6, 0.7
    x = _cn((s, m, ell), g)
    alpha = _cn((s,), g) * 2
    theta0 = 0.4

    def mean(params: torch.Tensor) -> torch.Tensor:
        th = params[0]
        a_t = ula(m, th, **KW)  # type: ignore[arg-type]
        a_r = ula(n, th, **KW)  # type: ignore[arg-type]
        amat = a_r[:, None] * a_t.conj()[None, :]
        al = torch.complex(params[1:1 + s], params[1 + s:])
        mu = al[:, None, None] * (amat @ x)  # [S, N, L]
        return torch.view_as_real(mu).reshape(-1)

    params = torch.cat([torch.tensor([theta0], dtype=F64), alpha.real, alpha.imag])
    jac = torch.autograd.functional.jacobian(mean, params)  # real [2·S·N·L, 1 + 2S]
    fim = (2.0 / sigma2) * jac.T @ jac
    crb_auto = torch.linalg.inv(fim)[0, 0]
    r_x = x @ x.conj().transpose(-2, -1) / ell  # [S, M, M]
    j = fisher_angle(r_x, theta0, num_rx=n, radar_snr=alpha.abs().square() / sigma2,
                     num_symbols=ell)
    assert j.shape == (s,)
    crlb = crlb_from_fisher(j)
    assert abs(float(crlb) / float(crb_auto) - 1) < 1e-8
    assert math.isclose(float(crlb_from_fisher(j, db=True)), 10 * math.log10(float(crlb)),
                        rel_tol=1e-12)


def test_fisher_angle_matches_crb_from_covariance_and_batching() -> None:
    g = make_generator(4)
    w = _cn((2, 3, 6, 2), g)  # [B, S, M, K]
    r = w @ w.conj().transpose(-2, -1)
    th = torch.tensor([[0.1], [-0.5]], dtype=F64)  # [B, 1]
    eta = torch.tensor([[2.0], [0.5]], dtype=F64)
    j = fisher_angle(r, th, num_rx=5, radar_snr=eta, num_symbols=4, reference="center", sign=1,
                     normalize=False)
    crb = crb_from_covariance(r, th[..., None], num_rx=5, radar_snr=eta[..., None],
                              num_symbols=4)[..., 0]  # one target: [B, S]
    assert j.shape == (2, 3) and torch.allclose(j * crb, torch.ones_like(j), atol=1e-12)
    # default convention differs from the centre/+1 one only through normalization (1/(MN))
    j_def = fisher_angle(r, th, num_rx=5, radar_snr=eta, num_symbols=4, reference="center",
                         sign=1, normalize=True)
    assert torch.allclose(j_def * 30, j)
    # no illumination -> zero information, infinite CRLB
    z = fisher_angle(torch.zeros(6, 6, dtype=C128), 0.2, num_rx=5, radar_snr=1.0, num_symbols=1)
    assert float(z) == 0.0 and math.isinf(float(crlb_from_fisher(z[None])))


def test_fisher_angle_gradcheck() -> None:
    g = make_generator(5)
    w = _cn((2, 4, 2), g).requires_grad_(True)
    th = torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True)

    def fn(w_: torch.Tensor, th_: torch.Tensor) -> torch.Tensor:
        return fisher_angle(w_ @ w_.conj().transpose(-2, -1), th_, num_rx=3, radar_snr=1.5,
                            num_symbols=2)

    assert torch.autograd.gradcheck(fn, (w, th))


def test_fisher_angle_errors() -> None:
    with pytest.raises(ShapeError):
        fisher_angle(torch.zeros(3, 4, dtype=C128), 0.1, num_rx=2, radar_snr=1.0, num_symbols=1)
    with pytest.raises(ValueRangeError):
        fisher_angle(torch.eye(3, dtype=C128), 0.1, num_rx=2, radar_snr=-1.0, num_symbols=1)
    with pytest.raises(ShapeError):
        fisher_angle(torch.eye(3, dtype=C128).expand(2, 3, 3), torch.zeros(3), num_rx=2,
                     radar_snr=1.0, num_symbols=1)


def test_se_gradcheck() -> None:
    g = make_generator(6)
    h = _cn((2, 2, 2, 3), g)
    f = _cn((2, 3, 2), g).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda f_: se(h, f_, 0.4), (f,))


def test_fisher_angle_is_never_negative_for_near_null_beams_in_complex64() -> None:
    """Rank-one beams that (nearly) null the target: the Cauchy–Schwarz gap of (10) cancels
    in complex64 and came out negative (a negative CRLB in a yang_som frame at 30 m/s); the
    information is ≥ 0."""
    m, b = 16, 2000
    g = make_generator(0)
    th = torch.rand(b, 1, generator=g, dtype=torch.float64) * 2 - 1
    a = ula(m, th).reshape(b, m)
    v = torch.randn(b, m, 1, dtype=C128, generator=g)
    v = v - a[:, :, None] * (a.conj()[:, None, :] @ v) / (a.conj() * a).sum(-1)[:, None, None]
    leak = 10 ** (-8 * torch.rand(b, 1, 1, generator=g, dtype=torch.float64))
    v = v + leak * a[:, :, None]
    r = (v @ v.conj().transpose(-2, -1)).to(torch.complex64)
    j = fisher_angle(r, th[:, 0].float(), num_rx=m, radar_snr=1.0, num_symbols=8)
    assert bool((j >= 0).all())
    # where the gap is well conditioned the complex64 value is the complex128 one
    j128 = fisher_angle(v @ v.conj().transpose(-2, -1), th[:, 0], num_rx=m, radar_snr=1.0,
                        num_symbols=8)
    ok = leak.flatten() > 1e-2
    torch.testing.assert_close(j[ok].double(), j128[ok], rtol=1e-2, atol=0.0)
