"""Tests of isaclearn.channels.thz: THz path loss (8)/(9), reflection (10)/(11), the Rician link
(4) and the array steering of the links (liu_irs_ppo, spec §7 "Correctness").

References are independent: closed forms evaluated with Python's math, explicit loops in NumPy,
scipy quadrature for the expected NLOS power, and Monte Carlo with tolerances of z standard
errors (z = 3 as in the spec, fixed seeds).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from isaclearn.arrays import ula, upa
from isaclearn.channels.thz import (
    FREE_SPACE_IMPEDANCE,
    SPEED_OF_LIGHT,
    ThzLink,
    UlaSteering,
    UpaSteering,
    absorption_loss,
    fresnel_reflection,
    path_gain,
    reflection_coefficient,
    rician_channel,
    roughness_factor,
    spreading_loss,
    unit_vectors,
)
from isaclearn.core import IsacError, make_generator

F = 0.55e12
C128 = torch.complex128


def _db(x: float | torch.Tensor) -> float:
    return 10.0 * math.log10(float(x))


# --------------------------------------------------------------------------------------------
# (8), (9): spreading and absorption


def test_spreading_loss_at_one_and_ten_metres() -> None:
    assert abs(_db(spreading_loss(F, 1.0)) - (-87.25)) < 0.005
    assert abs(_db(spreading_loss(F, 10.0)) - (-107.25)) < 0.005
    # closed form with Python floats
    for d in (0.5, 2.0, 7.3):
        ref = (SPEED_OF_LIGHT / (4 * math.pi * F * d)) ** 2
        assert float(spreading_loss(F, torch.tensor(d, dtype=torch.float64))) == pytest.approx(
            ref, rel=1e-14)


def test_absorption_is_exactly_exponential() -> None:
    k = torch.tensor([0.0, 6.7141e-4, 0.05, 1.3], dtype=torch.float64)
    d = torch.tensor([3.0, 10.0, 2.5, 0.7], dtype=torch.float64)
    got = absorption_loss(k, d)
    for gi, ki, di in zip(got.tolist(), k.tolist(), d.tolist()):
        assert gi == pytest.approx(math.exp(-ki * di), rel=1e-15)
    # the paper's k_abs is negligible indoors: 0.029 dB at 10 m
    assert abs(_db(absorption_loss(6.7141e-4, 10.0)) + 0.02916) < 1e-4


def test_doubling_distance_costs_6db_plus_absorption() -> None:
    k, d = 0.4, 3.0  # a large k so the absorption term is visible
    loss1 = spreading_loss(F, d) * absorption_loss(k, d)
    loss2 = spreading_loss(F, 2 * d) * absorption_loss(k, 2 * d)
    extra = _db(loss1) - _db(loss2)
    assert extra == pytest.approx(20 * math.log10(2) + 10 * math.log10(math.e) * k * d,
                                  abs=1e-9)
    assert 20 * math.log10(2) == pytest.approx(6.0206, abs=1e-4)


def test_path_gain_amplitude_and_phase() -> None:
    d = torch.tensor([1.0, 4.2, 9.9], dtype=torch.float64)
    k = 0.2
    a = path_gain(F, d, k)
    assert a.dtype == C128
    for ai, di in zip(a.tolist(), d.tolist()):
        power = (SPEED_OF_LIGHT / (4 * math.pi * F * di)) ** 2 * math.exp(-k * di)
        assert abs(ai) ** 2 == pytest.approx(power, rel=1e-12)
        # phase -2π f l / c modulo 2π, from the exact cycle count
        cycles = F * di / SPEED_OF_LIGHT
        want = cmath.exp(-2j * math.pi * (cycles - math.floor(cycles)))
        assert abs(ai / abs(ai) - want) < 1e-9


# --------------------------------------------------------------------------------------------
# (10), (11): reflection


def test_fresnel_real_and_bounded_below_critical_angle() -> None:
    phi = torch.linspace(0.0, math.pi / 2, 91, dtype=torch.float64)
    for z in (30.0, 120.0, 376.0):  # Z < Z0: never critical
        iota = fresnel_reflection(z, phi)
        assert bool((iota.imag.abs() < 1e-12).all())
        assert bool((iota.real.abs() <= 1 + 1e-12).all())
    z = 600.0  # Z > Z0: critical angle arcsin(Z0/Z)
    crit = math.asin(FREE_SPACE_IMPEDANCE / z)
    below = phi[phi < crit - 1e-6]
    iota = fresnel_reflection(z, below)
    assert bool((iota.imag.abs() < 1e-12).all()) and bool((iota.real.abs() <= 1).all())
    above = phi[phi > crit + 1e-6]
    assert torch.allclose(fresnel_reflection(z, above).abs(), torch.ones(len(above),
                                                                          dtype=torch.float64))


def test_fresnel_zero_for_matched_impedance_and_closed_form() -> None:
    assert abs(complex(fresnel_reflection(FREE_SPACE_IMPEDANCE, 0.0))) < 1e-15
    # normal incidence: (Z - Z0) / (Z + Z0)
    for z in (50.0, 200.0, 900.0):
        want = (z - FREE_SPACE_IMPEDANCE) / (z + FREE_SPACE_IMPEDANCE)
        assert complex(fresnel_reflection(z, 0.0)).real == pytest.approx(want, rel=1e-14)
    # oblique, from the printed arcsin
    z, p = 150.0, 0.6
    ref = math.asin(z / FREE_SPACE_IMPEDANCE * math.sin(p))
    want = ((z * math.cos(p) - FREE_SPACE_IMPEDANCE * math.cos(ref))
            / (z * math.cos(p) + FREE_SPACE_IMPEDANCE * math.cos(ref)))
    assert complex(fresnel_reflection(z, p)).real == pytest.approx(want, rel=1e-13)


def test_roughness_factor() -> None:
    assert float(roughness_factor(F, 0.0, 0.3)) == 1.0
    phi = 0.4
    sigma = SPEED_OF_LIGHT / (4 * math.pi * F * math.cos(phi))  # exponent argument = 1
    assert float(roughness_factor(F, sigma, phi)) == pytest.approx(math.exp(-0.5), rel=1e-14)
    gamma = reflection_coefficient(F, 150.0, sigma, phi)
    assert complex(gamma) == pytest.approx(complex(fresnel_reflection(150.0, phi))
                                           * math.exp(-0.5), rel=1e-14)


# --------------------------------------------------------------------------------------------
# (4): the Rician link


def test_rician_channel_against_loop() -> None:
    g = make_generator(3)
    nt, nr, p = 3, 2, 4
    rnd = lambda *s: torch.complex(torch.randn(*s, generator=g, dtype=torch.float64),  # noqa: E731
                                   torch.randn(*s, generator=g, dtype=torch.float64))
    a0, b0, al0 = rnd(nt), rnd(nr), rnd(())
    ai, bi, ali = rnd(p, nt), rnd(p, nr), rnd(p)
    gam = 2.5
    h = rician_channel(al0, a0, b0, ali, ai, bi, gam).numpy()
    ref = math.sqrt(gam / (1 + gam)) * complex(al0) * np.outer(b0.numpy(), a0.numpy().conj())
    for i in range(p):
        ref = ref + math.sqrt(1 / (1 + gam)) * complex(ali[i]) * np.outer(bi[i].numpy(),
                                                                           ai[i].numpy().conj())
    np.testing.assert_allclose(h, ref, rtol=1e-13, atol=1e-13)


def test_steering_matches_arrays_module() -> None:
    theta = torch.tensor([-0.7, 0.0, 0.4], dtype=torch.float64)
    u = torch.stack([torch.cos(theta), torch.sin(theta), torch.zeros_like(theta)], -1)
    s = UlaSteering(5)
    want = ula(5, theta, reference="first", sign=-1)
    assert torch.allclose(s.steer(u, receive=False), want, atol=1e-14)
    assert torch.allclose(s.steer(u, receive=True), want.conj(), atol=1e-14)
    az, el = torch.tensor([0.3, -2.0]), torch.tensor([0.5, 1.2])
    az, el = az.double(), el.double()
    u3 = torch.stack([torch.sin(el) * torch.cos(az), torch.sin(el) * torch.sin(az),
                      -torch.cos(el)], -1)
    want3 = upa(3, 3, az, el, sign=-1)
    assert torch.allclose(UpaSteering(3, 3).steer(u3, receive=False), want3, atol=1e-12)
    assert torch.allclose(UlaSteering(1).steer(u, receive=True), torch.ones(3, 1, dtype=C128))


def test_flat_irs_reflects_specularly() -> None:
    """Physical consistency of the transmit/receive conventions: an IRS with equal phases sums
    the paths coherently exactly in the mirror direction."""
    irs = UpaSteering(4, 4)
    u_in = torch.tensor([0.3, -0.5, -math.sqrt(1 - 0.34)], dtype=torch.float64)  # towards BS
    b = irs.steer(u_in, receive=True)
    dirs = []
    for ux, uy in [(-0.3, 0.5), (0.3, 0.5), (-0.1, 0.2), (0.6, 0.0)]:
        dirs.append([ux, uy, -math.sqrt(1 - ux * ux - uy * uy)])
    a = irs.steer(torch.tensor(dirs, dtype=torch.float64), receive=False)
    gain = (a.conj() * b).sum(-1).abs()
    assert float(gain[0]) == pytest.approx(16.0, rel=1e-12)
    assert bool((gain[1:] < 15.0).all())


def _mc_link() -> tuple[ThzLink, UlaSteering, UlaSteering, torch.Tensor, torch.Tensor]:
    link = ThzLink(carrier_hz=F, k_abs_per_m=0.3, rician_factor=3.0, num_nlos=2,
                   nlos_reflection_db=-3.0, gain_tx=2.0, gain_rx=0.5,
                   nlos_length_factor=(1.0, 2.0))
    d, u = unit_vectors(torch.zeros(3, dtype=torch.float64),
                        torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64))
    return link, UlaSteering(3), UlaSteering(2), d, u


def test_mean_entry_power_matches_quadrature() -> None:
    link, _, _, d, _ = _mc_link()
    ell = float(d)

    def loss(x: float) -> float:
        return (SPEED_OF_LIGHT / (4 * math.pi * F * x)) ** 2 * math.exp(-0.3 * x)

    e_nlos = integrate.quad(lambda s: loss(s * ell), 1.0, 2.0)[0] / 1.0
    want = 4.0 * 0.25 * (3.0 * loss(ell) + 2 * 10 ** (-0.3) * e_nlos) / 4.0
    assert float(link.mean_entry_power(ell)) == pytest.approx(want, rel=1e-10)


def test_rician_monte_carlo_power() -> None:
    """E||H||_F^2 = Gt²Gr²[γ|α_LOS|² + Σ E|α_i|²]/(1+γ)·||a||²||b||², within 3σ/√n."""
    link, tx, rx, d, u = _mc_link()
    n = 20000
    h = link.sample(d.expand(n), tx, rx, u.expand(n, 3), (-u).expand(n, 3),
                    generator=make_generator(11), dtype=C128)
    assert h.shape == (n, 2, 3)
    power = h.abs().square().sum((-2, -1))
    want = float(link.mean_entry_power(d)) * 3 * 2
    se = float(power.std()) / math.sqrt(n)
    assert abs(float(power.mean()) - want) <= 3 * se


def test_rician_los_share() -> None:
    """With NLOS power equal to the LOS power (Γ² = 1/n_NL, equal lengths, k = 0) the LOS share
    of E||H||² is γ/(1+γ); the LOS part is E[H] (the NLOS rays have random phases)."""
    gam = 4.0
    link = ThzLink(carrier_hz=F, k_abs_per_m=0.0, rician_factor=gam, num_nlos=2,
                   nlos_reflection_db=-10 * math.log10(2), nlos_length_factor=(1.0, 1.0))
    tx, rx = UlaSteering(2), UlaSteering(2)
    d, u = unit_vectors(torch.zeros(3, dtype=torch.float64),
                        torch.tensor([3.0, -1.0, 0.0], dtype=torch.float64))
    n = 40000
    h = link.sample(d.expand(n), tx, rx, u.expand(n, 3), (-u).expand(n, 3),
                    generator=make_generator(5), dtype=C128)
    alpha = path_gain(F, d, 0.0)
    los = math.sqrt(gam / (1 + gam)) * alpha * torch.outer(rx.steer(-u, receive=True),
                                                           tx.steer(u, receive=False).conj())
    # the sample mean of H is the LOS part: entrywise, within 3 standard errors
    mean = h.mean(0)
    se = (h - los).abs().square().mean(0).sqrt() / math.sqrt(n)
    assert bool(((mean - los).abs() <= 3 * se * math.sqrt(2)).all())
    power = h.abs().square().sum((-2, -1))
    share = float(los.abs().square().sum()) / float(power.mean())
    rel_se = float(power.std()) / math.sqrt(n) / float(power.mean())
    assert abs(share - gam / (1 + gam)) <= 3 * rel_se * share + 1e-12


def test_link_reproducible_and_dtype_consistent() -> None:
    link, tx, rx, d, u = _mc_link()
    args = (d.expand(4), tx, rx, u.expand(4, 3), (-u).expand(4, 3))
    h1 = link.sample(*args, generator=make_generator(2), dtype=C128)
    h2 = link.sample(*args, generator=make_generator(2), dtype=C128)
    h3 = link.sample(*args, generator=make_generator(2), dtype=torch.complex64)
    h4 = link.sample(*args, generator=make_generator(3), dtype=C128)
    assert torch.equal(h1, h2)
    assert h3.dtype == torch.complex64
    assert torch.allclose(h3.to(C128), h1, rtol=1e-6, atol=1e-6 * float(h1.abs().max()))
    assert not torch.allclose(h1, h4)


@pytest.mark.parametrize("bad", [
    lambda: spreading_loss(F, 0.0),
    lambda: spreading_loss(-1.0, 1.0),
    lambda: absorption_loss(-0.1, 1.0),
    lambda: fresnel_reflection(100.0, 2.0),
    lambda: ThzLink(rician_factor=-1.0),
    lambda: ThzLink(num_nlos=-1),
    lambda: ThzLink(nlos_length_factor=(0.5, 1.0)),
    lambda: UlaSteering(0),
    lambda: unit_vectors(torch.zeros(3), torch.zeros(3)),
])
def test_bad_inputs_raise(bad: object) -> None:
    with pytest.raises(IsacError):
        bad()  # type: ignore[operator]
