"""Tests of isaclearn.arrays: ULA/UPA steering vectors against hand-written formulas."""

from __future__ import annotations

import cmath
import math

import pytest
import torch

from isaclearn.arrays import ula, ula_derivative, upa
from isaclearn.core import ConfigError, IsacError

ANGLES = [-1.3, -0.4, 0.0, 0.2, 0.7, math.pi / 2]


def _hand_eq10(m: int, theta: float) -> list[complex]:
    """temiz_unsup eq. (10) written out: [e^{-j(M-1)/2 π sinθ}, e^{-j(M-3)/2 π sinθ}, ...,
    e^{+j(M-1)/2 π sinθ}]."""
    return [cmath.exp(-1j * (m - 1 - 2 * i) / 2 * math.pi * math.sin(theta)) for i in range(m)]


def _close(got: torch.Tensor, want: list[complex], tol: float = 1e-12) -> None:
    assert got.shape == (len(want),)
    for g, w in zip(got.tolist(), want):
        assert abs(g - w) < tol, (g, w)


# --------------------------------------------------------------------------------------------
# eq. (10) and the conventions


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("theta", ANGLES)
def test_ula_matches_eq10_by_hand(m: int, theta: float) -> None:
    a = ula(m, torch.tensor(theta, dtype=torch.float64))
    assert a.dtype == torch.complex128
    _close(a, _hand_eq10(m, theta))
    # The first entry is e^{-j (M-1)/2 π sinθ}, the last its conjugate.
    assert abs(complex(a[0]) - cmath.exp(-1j * (m - 1) / 2 * math.pi * math.sin(theta))) < 1e-12
    assert abs(complex(a[-1]) - complex(a[0]).conjugate()) < 1e-12


def test_ula_small_m_literal_values() -> None:
    # M = 2, θ = 30°: sinθ = 1/2 -> [e^{-jπ/4}, e^{+jπ/4}].
    a = ula(2, torch.tensor(math.pi / 6, dtype=torch.float64))
    s = math.sqrt(0.5)
    _close(a, [complex(s, -s), complex(s, s)])
    # M = 3, θ = 90°: [e^{-jπ}, 1, e^{jπ}] = [-1, 1, -1].
    _close(ula(3, torch.tensor(math.pi / 2, dtype=torch.float64)), [-1, 1, -1])
    # Broadside: all ones.
    _close(ula(4, torch.tensor(0.0, dtype=torch.float64)), [1, 1, 1, 1])


@pytest.mark.parametrize("theta", ANGLES)
def test_ula_first_reference(theta: float) -> None:
    m = 5
    a = ula(m, torch.tensor(theta, dtype=torch.float64), reference="first")
    _close(a, [cmath.exp(1j * math.pi * i * math.sin(theta)) for i in range(m)])
    assert complex(a[0]) == 1
    # Same vector as the centre-referenced one up to the phase of the first element.
    c = ula(m, torch.tensor(theta, dtype=torch.float64))
    torch.testing.assert_close(a, c / c[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("theta", ANGLES)
def test_ula_sign_and_spacing(theta: float) -> None:
    m = 4
    t = torch.tensor(theta, dtype=torch.float64)
    neg = ula(m, t, sign=-1)
    _close(neg, [cmath.exp(1j * (m - 1 - 2 * i) / 2 * math.pi * math.sin(theta))
                 for i in range(m)])
    torch.testing.assert_close(neg, ula(m, t).conj(), rtol=0, atol=1e-12)
    for d in (0.25, 1.0, 1.7):
        got = ula(m, t, spacing=d)
        _close(got, [cmath.exp(1j * 2 * math.pi * d * (i - (m - 1) / 2) * math.sin(theta))
                     for i in range(m)])


@pytest.mark.parametrize("m", [1, 3, 8])
def test_ula_modulus_and_normalization(m: int) -> None:
    t = torch.linspace(-1.5, 1.5, 7, dtype=torch.float64)
    a = ula(m, t)
    torch.testing.assert_close(a.abs(), torch.ones(7, m, dtype=torch.float64))
    an = ula(m, t, normalize=True)
    torch.testing.assert_close(torch.linalg.vector_norm(an, dim=-1),
                               torch.ones(7, dtype=torch.float64))
    torch.testing.assert_close(an, a / math.sqrt(m))


# --------------------------------------------------------------------------------------------
# derivative


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"reference": "first"},
        {"sign": -1},
        {"spacing": 0.7},
        {"normalize": True, "reference": "first"},
    ],
)
def test_ula_derivative_vs_finite_differences(kwargs: dict) -> None:
    m = 6
    t = torch.tensor(ANGLES, dtype=torch.float64)
    step = 1e-6
    fd = (ula(m, t + step, **kwargs) - ula(m, t - step, **kwargs)) / (2 * step)
    da = ula_derivative(m, t, **kwargs)
    assert da.dtype == torch.complex128 and da.shape == (len(t), m)
    # Central difference error ~ step^2 |a'''| / 6 ~ 1e-12 * (2π d M)^3; round-off ~ 1e-16 / step.
    torch.testing.assert_close(da, fd, rtol=0, atol=1e-7)


@pytest.mark.parametrize("reference", ["center", "first"])
def test_ula_derivative_vs_autograd(reference: str) -> None:
    m = 5
    for theta in ANGLES:
        t0 = torch.tensor(theta, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(
            lambda t: torch.view_as_real(ula(m, t, reference=reference)), t0
        )  # [M, 2]
        auto = torch.complex(jac[..., 0], jac[..., 1])
        torch.testing.assert_close(ula_derivative(m, t0, reference=reference), auto,
                                   rtol=0, atol=1e-12)


def test_ula_derivative_closed_form_at_broadside() -> None:
    # At θ = 0: ȧ_m = j π (m - (M-1)/2).
    m = 4
    da = ula_derivative(m, torch.tensor(0.0, dtype=torch.float64))
    _close(da, [1j * math.pi * (i - 1.5) for i in range(m)])


# --------------------------------------------------------------------------------------------
# UPA


@pytest.mark.parametrize("theta", ANGLES)
def test_upa_reduces_to_ula(theta: float) -> None:
    m = 5
    t = torch.tensor(theta, dtype=torch.float64)
    zero = torch.tensor(0.0, dtype=torch.float64)
    # Array along x (num_y = 1), azimuth 0: phase 2π d p sin(el) -> ULA at θ = el.
    torch.testing.assert_close(upa(m, 1, zero, t), ula(m, t), rtol=0, atol=1e-12)
    # Array along y (num_x = 1), azimuth π/2.
    torch.testing.assert_close(upa(1, m, zero + math.pi / 2, t), ula(m, t), rtol=0, atol=1e-12)
    torch.testing.assert_close(upa(m, 1, zero, t, reference="first", sign=-1, spacing=0.3),
                               ula(m, t, reference="first", sign=-1, spacing=0.3),
                               rtol=0, atol=1e-12)


def test_upa_is_kronecker_of_ulas() -> None:
    nx, ny = 3, 4
    az = torch.tensor([0.3, -1.1, 2.0], dtype=torch.float64)
    el = torch.tensor([0.5, 0.9, 0.2], dtype=torch.float64)
    got = upa(nx, ny, az, el)
    assert got.shape == (3, nx * ny) and got.dtype == torch.complex128
    for b in range(3):
        ux = math.sin(el[b]) * math.cos(az[b])
        uy = math.sin(el[b]) * math.sin(az[b])
        want = [
            cmath.exp(1j * math.pi * ((p - (nx - 1) / 2) * ux + (q - (ny - 1) / 2) * uy))
            for p in range(nx)
            for q in range(ny)  # q fastest
        ]
        _close(got[b], want)
    norm = upa(nx, ny, az, el, normalize=True)
    torch.testing.assert_close(torch.linalg.vector_norm(norm, dim=-1),
                               torch.ones(3, dtype=torch.float64))


# --------------------------------------------------------------------------------------------
# shapes, dtypes, devices


@pytest.mark.parametrize(
    ("shape", "m"), [((), 4), ((3,), 4), ((2, 3), 5), ((2, 1, 3), 1)]
)
def test_ula_shapes(shape: tuple[int, ...], m: int, device: str) -> None:
    t = torch.zeros(shape, dtype=torch.float64, device=device)
    for f in (ula, ula_derivative):
        out = f(m, t)
        assert out.shape == (*shape, m)
        assert out.device.type == device


def test_ula_dtypes(device: str) -> None:
    assert ula(3, torch.zeros(2, dtype=torch.float64, device=device)).dtype == torch.complex128
    assert ula(3, torch.zeros(2, dtype=torch.float32, device=device)).dtype == torch.complex64
    assert ula_derivative(3, torch.zeros(2, dtype=torch.float64)).dtype == torch.complex128
    assert ula_derivative(3, torch.zeros(2, dtype=torch.float32)).dtype == torch.complex64
    assert ula(3, 0.1).dtype == torch.complex64  # Python float -> default precision
    assert ula(3, torch.tensor([0, 1])).dtype == torch.complex64  # integer angles promoted
    assert upa(2, 2, torch.zeros(1, dtype=torch.float64), 0.1).dtype == torch.complex128
    # float32 entries agree with the float64 ones to single precision.
    t = torch.linspace(-1.5, 1.5, 11, dtype=torch.float64)
    torch.testing.assert_close(ula(8, t.float()).to(torch.complex128), ula(8, t),
                               rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------------------
# bad arguments


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 0.1), {}, "num_antennas"),
        ((-2, 0.1), {}, "num_antennas"),
        ((2.5, 0.1), {}, "num_antennas"),
        ((3, 0.1), {"reference": "middle"}, "reference"),
        ((3, 0.1), {"spacing": 0.0}, "spacing"),
        ((3, 0.1), {"spacing": -0.5}, "spacing"),
        ((3, 0.1), {"spacing": math.nan}, "spacing"),
        ((3, 0.1), {"spacing": math.inf}, "spacing"),
        ((3, 0.1), {"sign": 0}, "sign"),
        ((3, 0.1), {"sign": 2}, "sign"),
        ((3, torch.tensor([0.1j])), {}, "theta"),
    ],
)
def test_bad_arguments_raise_isac_errors(args: tuple, kwargs: dict, match: str) -> None:
    for f in (ula, ula_derivative):
        with pytest.raises(ConfigError, match=match):
            f(*args, **kwargs)
    assert issubclass(ConfigError, IsacError)


def test_upa_bad_arguments() -> None:
    with pytest.raises(IsacError, match="num_antennas"):
        upa(0, 2, 0.0, 0.0)
    with pytest.raises(IsacError, match="sign"):
        upa(2, 2, 0.0, 0.0, sign=3)
    with pytest.raises(IsacError, match="reference"):
        upa(2, 2, 0.0, 0.0, reference="corner")  # type: ignore[arg-type]


def test_ula_u_equals_ula_at_arcsin_and_paper_form():
    from isaclearn.arrays import ula_u, ula_u_derivative

    u = torch.linspace(-0.99, 0.99, 41, dtype=torch.float64)
    a = ula_u(8, u)
    b = ula(8, torch.arcsin(u), reference="first", sign=-1, normalize=True)
    assert torch.allclose(a, b, atol=1e-14)
    n = torch.arange(8, dtype=torch.float64)
    explicit = torch.exp(-1j * torch.pi * n * u[:, None]) / 8**0.5
    assert torch.allclose(a, explicit, atol=1e-14)
    h = 1e-6
    fd = (ula_u(8, u + h) - ula_u(8, u - h)) / (2 * h)
    assert torch.allclose(ula_u_derivative(8, u), fd, atol=1e-8)


def test_ula_u_runs_under_vmap_jacfwd():
    from isaclearn.arrays import ula_u, ula_u_derivative

    u = torch.tensor([-0.4, 0.1, 0.7], dtype=torch.float64)

    def re_im(x: torch.Tensor) -> torch.Tensor:
        a = ula_u(6, x)
        return torch.cat([a.real, a.imag])

    jac = torch.func.vmap(torch.func.jacfwd(re_im))(u)
    d = ula_u_derivative(6, u)
    assert torch.allclose(jac, torch.cat([d.real, d.imag], dim=-1), atol=1e-12)
