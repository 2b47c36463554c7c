"""Tests of the ding_dt highway scene (isaclearn.channels.highway): kinematics against Cartesian
motion, the measurement model and communication channel against explicit formulas, and the
traffic generators against their laws (KS test, Little's law)."""

from __future__ import annotations

import cmath
import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import stats

from isaclearn.arrays import ula_u, ula_u_derivative
from isaclearn.channels.highway import (
    SPEED_OF_LIGHT_MPS,
    HighwayConfig,
    Traffic,
    cartesian_to_state,
    comm_channel,
    constant_traffic,
    convert_state,
    handover,
    kinematic_speed,
    lap_index,
    measurement_mean,
    measurement_noise_var,
    positions,
    reflection_coefficient,
    sample_measurement,
    sample_poisson_traffic,
    split_measurement,
    state_to_cartesian,
    states_at,
    steering,
    transition,
)
from isaclearn.core import ConfigError, ShapeError, ValueRangeError, make_generator
from isaclearn.metrics.comm import sinr

F64 = torch.float64
CFG = HighwayConfig()
T = CFG.slot_s


def _state(x: float, y: float, vx: float, rsu: int, cfg: HighwayConfig = CFG) -> torch.Tensor:
    return cartesian_to_state(torch.tensor([x, y], dtype=F64), vx, cfg.rsu_xy()[rsu])


# ---- configuration ----------------------------------------------------------------------------


def test_config_defaults_and_derived_values() -> None:
    cfg = HighwayConfig()
    assert cfg.rsu_positions_m == ((0.0, 30.0), (0.0, -30.0))
    assert cfg.vehicle_side == (-1.0, 1.0)
    assert cfg.kappa == pytest.approx(32.0) and cfg.kappa_comm == pytest.approx(math.sqrt(32))
    assert cfg.alpha_tilde == pytest.approx(1e-7) and cfg.comm_noise_var == pytest.approx(1e-7)
    assert cfg.power == pytest.approx(1.0)
    assert HighwayConfig(power_db=40).power == pytest.approx(1e4)
    assert cfg.echo_noise_var == pytest.approx(1.0**2 * 1e-7 / 10.0)  # (15)
    e = cfg.process_noise_cov()
    assert torch.equal(e, torch.diag(torch.tensor([1e-3**2, 0.02**2, 0.05**2], dtype=F64)))
    m0 = cfg.initial_cov(dtype=torch.float32)
    assert m0.dtype == torch.float32 and float(m0[1, 1]) == pytest.approx(0.01)
    assert torch.equal(cfg.rsu_xy(), torch.tensor([[0.0, 30.0], [0.0, -30.0]], dtype=F64))
    # Sequences from JSON become tuples (the config stays hashable).
    j = HighwayConfig(rsu_positions_m=[[0, 30], [0, -30]], lane_y_m=[-2.5, 2.5])  # type: ignore[arg-type]
    assert j == cfg and hash(j) == hash(cfg)
    assert HighwayConfig(fading=[10, 10]).fading == 10 + 10j  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_tx", 0), ("num_rx", 2.5), ("half_length_m", 0.0), ("speed_std_mps", -1.0),
        ("speed_min_mps", 40.0), ("slot_s", float("nan")), ("carrier_hz", -1.0),
        ("fading", 0j), ("mf_gain", 0.0), ("rho_nu", -1.0), ("power_db", float("inf")),
        ("process_std_d_m", -0.1), ("init_std_phi", 0.0), ("phi_guard", 1.5),
        ("rsu_positions_m", ((0.0, 2.5),)), ("rsu_positions_m", ((0.0, 0.0),)),
        ("rsu_positions_m", ()), ("lane_y_m", (1.0,)), ("alpha_tilde_db", "x"),
        ("fading", "10+10j"), ("fading", (1.0, float("nan"))),
    ],
)
def test_bad_config_names_the_field(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        HighwayConfig(**{name: value})  # type: ignore[arg-type]


# ---- kinematics (19) --------------------------------------------------------------------------


@pytest.mark.parametrize("direction", [1.0, -1.0])
@pytest.mark.parametrize("rsu", [0, 1])
@pytest.mark.parametrize("speed", [25.0, 31.7])
def test_transition_matches_cartesian_motion(direction: float, rsu: int, speed: float) -> None:
    """Spec §7: g iterated over a whole pass (crossing φ = 0) equals straight-line motion."""
    lane = CFG.lane_y_m[0] if direction > 0 else CFG.lane_y_m[1]
    vx = direction * speed
    x0 = -direction * CFG.half_length_m
    state = _state(x0, lane, vx, rsu)
    stored = torch.tensor(-vx, dtype=F64)  # the DT's stored speed v = -v_x
    err, min_phi = 0.0, 1.0
    for n in range(1, 121):  # 120 slots: 72-91 m, past x = 0 where phi changes sign
        stored = kinematic_speed(state, stored, CFG.phi_guard)
        state = transition(state, T, stored, CFG.phi_guard)
        ref = _state(x0 + vx * n * T, lane, vx, rsu)
        err = max(err, float((state - ref).abs().max()))
        min_phi = min(min_phi, abs(float(state[0])))
    assert err < 1e-12
    if speed == 25.0:  # 0.5 m per slot from x = -30: slot 60 lands on x = 0, inside the guard
        assert min_phi < CFG.phi_guard


def test_transition_equals_printed_eq19_outside_guard() -> None:
    """The (u, d_n) form equals eq. (19) as printed, for arbitrary (noisy) states."""
    gen = make_generator(3)
    n = 200
    phi = (torch.rand(n, generator=gen, dtype=F64) * 1.4 - 0.7)
    phi = torch.where(phi.abs() < 0.05, phi.sign() * 0.05 + phi, phi)
    d = 20 + 30 * torch.rand(n, generator=gen, dtype=F64)
    vd = 40 * torch.rand(n, generator=gen, dtype=F64) - 20
    out = transition(torch.stack([phi, d, vd], -1), T)
    w = vd * T / phi  # (19) literally: v̇T/φ
    root = torch.sqrt(d**2 + w**2 - 2 * d * vd * T)
    phi_n = (d * vd * T - w**2) / (w * root)
    vd_n = (d * vd * T - w**2) / (vd * T * root) * vd
    torch.testing.assert_close(out, torch.stack([phi_n, root, vd_n], -1), rtol=1e-12, atol=1e-12)


def test_guard_at_phi_zero() -> None:
    """At φ = 0 exactly v = v̇/φ is 0/0: the stored speed gives exact motion, a finite Jacobian
    and no NaN; without it the speed is lost (documented fallback: 0)."""
    lane, vx = CFG.lane_y_m[0], 25.0
    s0 = _state(0.0, lane, vx, 0)
    assert float(s0[0]) == 0.0 and float(s0[2]) == 0.0
    ref = _state(vx * T, lane, vx, 0)
    torch.testing.assert_close(transition(s0, T, -vx), ref, rtol=0, atol=1e-13)
    assert float(kinematic_speed(s0)) == 0.0
    torch.testing.assert_close(transition(s0, T), s0, rtol=0, atol=1e-13)  # no speed: stays
    g = torch.func.jacfwd(lambda s: transition(s, T, -vx))(s0)
    assert bool(torch.isfinite(g).all())
    # Just outside the guard the ratio is used and is exact on noiseless states.
    s1 = _state(2e-3 * 32.5, lane, vx, 0)
    torch.testing.assert_close(kinematic_speed(s1, 123.0), torch.tensor(-vx, dtype=F64))
    s2 = _state(5e-4 * 32.5, lane, vx, 0)
    assert float(kinematic_speed(s2, 123.0)) == 123.0


def test_transition_jacobian_matches_finite_differences_and_vmaps() -> None:
    """Spec §7: jacfwd G matches central differences to 1e-6 relative; vmap(jacfwd) runs."""
    states = torch.tensor([[0.4, 35.0, -12.0], [-0.3, 28.0, 9.0], [0.02, 32.6, -0.6]], dtype=F64)
    prev = torch.tensor([30.0, 30.0, 30.0], dtype=F64)
    batched = torch.func.vmap(torch.func.jacfwd(lambda s, p: transition(s, T, p)))(states, prev)
    for k in range(states.shape[0]):
        fd = torch.zeros(3, 3, dtype=F64)
        for j in range(3):
            h = 1e-6 * max(1.0, abs(float(states[k, j])))
            e = torch.zeros(3, dtype=F64)
            e[j] = h
            fd[:, j] = (transition(states[k] + e, T, prev[k])
                        - transition(states[k] - e, T, prev[k])) / (2 * h)
        scale = float(fd.abs().max())
        assert float((batched[k] - fd).abs().max()) < 1e-6 * scale


# ---- Cartesian conversion and handover --------------------------------------------------------


def test_cartesian_state_round_trip() -> None:
    gen = make_generator(5)
    n = 500
    direction = torch.where(torch.rand(n, generator=gen) < 0.5, 1.0, -1.0).to(F64)
    x = torch.rand(n, generator=gen, dtype=F64) * 60 - 30
    y = torch.where(direction > 0, CFG.lane_y_m[0], CFG.lane_y_m[1]).to(F64)
    vx = direction * (30 + 2 * torch.randn(n, generator=gen, dtype=F64))
    xy = torch.stack([x, y], -1)
    for i in range(2):
        rsu = CFG.rsu_xy()[i]
        st = cartesian_to_state(xy, vx, rsu)
        # Independent formulas: distance, direction cosine, closing speed -d(d)/dt.
        d = torch.sqrt(x**2 + (y - rsu[1]) ** 2)
        torch.testing.assert_close(st[:, 1], d, rtol=1e-14, atol=0)
        torch.testing.assert_close(st[:, 0], x / d, rtol=1e-14, atol=1e-15)
        d_later = torch.sqrt((x + vx * 1e-4) ** 2 + (y - rsu[1]) ** 2)
        d_before = torch.sqrt((x - vx * 1e-4) ** 2 + (y - rsu[1]) ** 2)
        torch.testing.assert_close(st[:, 2], -(d_later - d_before) / 2e-4, rtol=0, atol=1e-7)
        xy2, vx2 = state_to_cartesian(st, rsu, CFG.vehicle_side[i], -vx, CFG.phi_guard)
        torch.testing.assert_close(xy2, xy, rtol=0, atol=1e-12)
        torch.testing.assert_close(vx2, vx, rtol=1e-10, atol=1e-12)
        st2 = cartesian_to_state(xy2, vx2, rsu)
        torch.testing.assert_close(st2, st, rtol=1e-10, atol=1e-12)


def test_handover_converts_state_and_propagates_covariance() -> None:
    gen = make_generator(8)
    xy = torch.tensor([[-12.0, -2.5], [7.0, 2.5], [0.0, -2.5]], dtype=F64)
    vx = torch.tensor([29.0, -31.0, 30.0], dtype=F64)
    rsu = CFG.rsu_xy()
    s1 = cartesian_to_state(xy, vx, rsu[0])
    a = torch.randn(3, 3, 3, generator=gen, dtype=F64) * 1e-2
    cov = a @ a.mT + 1e-6 * torch.eye(3, dtype=F64)
    s2, cov2 = handover(s1, cov, rsu[0], rsu[1], CFG.vehicle_side[0], -vx, CFG.phi_guard)
    torch.testing.assert_close(s2, cartesian_to_state(xy, vx, rsu[1]), rtol=1e-12, atol=1e-12)
    for k in range(3):
        jac = torch.zeros(3, 3, dtype=F64)
        for j in range(3):
            e = torch.zeros(3, dtype=F64)
            e[j] = 1e-6
            plus = convert_state(s1[k] + e, rsu[0], rsu[1], -1.0, -vx[k], CFG.phi_guard)
            minus = convert_state(s1[k] - e, rsu[0], rsu[1], -1.0, -vx[k], CFG.phi_guard)
            jac[:, j] = (plus - minus) / 2e-6
        torch.testing.assert_close(cov2[k], jac @ cov[k] @ jac.T, rtol=1e-6, atol=1e-12)
    # Vehicle 3 sits at phi = 0 (guard): the stored speed is used, so an uncertainty in the old
    # v̇ alone does not propagate; elsewhere it does (v = v̇/φ moves the predicted x).
    only_v = torch.diag(torch.tensor([0.0, 0.0, 1.0], dtype=F64)).expand(3, 3, 3)
    _, cov_v = handover(s1, only_v, rsu[0], rsu[1], -1.0, -vx, CFG.phi_guard)
    assert float(cov_v[2].abs().max()) == 0.0
    assert float(cov_v[0, 2, 2]) > 0.1 and float(cov_v[1, 2, 2]) > 0.1


# ---- measurement model (12)-(17) --------------------------------------------------------------


def _random_beam(n: int, seed: int) -> torch.Tensor:
    g = make_generator(seed)
    return torch.complex(torch.randn(n, generator=g, dtype=F64), torch.randn(n, generator=g,
                                                                             dtype=F64))


def test_steering_equals_ula_u() -> None:
    phi = torch.linspace(-1, 1, 41, dtype=F64)
    torch.testing.assert_close(steering(7, phi), ula_u(7, phi), rtol=0, atol=1e-15)


def test_measurement_mean_matches_explicit_formula() -> None:
    cfg = HighwayConfig(num_tx=5, num_rx=7)
    phi, d, vd = 0.37, 27.5, -8.25
    f = _random_beam(5, 1)
    y = measurement_mean(torch.tensor([phi, d, vd], dtype=F64), f, cfg)
    a = [cmath.exp(-1j * math.pi * m * phi) / math.sqrt(5) for m in range(5)]
    b = [cmath.exp(-1j * math.pi * m * phi) / math.sqrt(7) for m in range(7)]
    eta = sum(a[m].conjugate() * complex(f[m]) for m in range(5))
    beta = (10 + 10j) / (2 * d)
    r = [math.sqrt(35) * beta * 10.0 * b[m] * eta for m in range(7)]
    ref = [z.real for z in r] + [z.imag for z in r]
    ref += [2 * d / 299_792_458.0, 2 * vd * 30e9 / 299_792_458.0]
    np.testing.assert_allclose(y.numpy(), np.array(ref), rtol=1e-13, atol=0)
    rr, nu, mu = split_measurement(y, 7)
    np.testing.assert_allclose(rr.numpy(), np.array(r), rtol=1e-13)
    assert float(nu) == pytest.approx(ref[-2]) and float(mu) == pytest.approx(ref[-1])


def test_measurement_batching_and_dtype() -> None:
    cfg = HighwayConfig(num_tx=4, num_rx=3)
    states = torch.tensor([[0.1, 30.0, 1.0], [0.5, 40.0, -2.0]], dtype=torch.float32)
    f = torch.ones(5, 1, 4, dtype=torch.complex128)  # broadcasts: [5, 1] x [2] -> [5, 2]
    y = measurement_mean(states, f, cfg)
    assert y.shape == (5, 2, 8) and y.dtype == torch.float64  # promoted, never downcast
    assert measurement_noise_var(states, f, cfg).shape == (5, 2, 8)
    with pytest.raises(ShapeError, match="f must have shape"):
        measurement_mean(states, torch.ones(2, 5, dtype=torch.complex64), cfg)
    with pytest.raises(ShapeError, match="state"):
        measurement_mean(torch.ones(2, 4), torch.ones(2, 4, dtype=torch.complex64), cfg)


def test_measurement_jacobian_with_known_beta_is_eq22() -> None:
    cfg = HighwayConfig(num_tx=6, num_rx=9)
    x = torch.tensor([-0.42, 31.0, 12.0], dtype=F64)
    f = _random_beam(6, 2)
    beta = reflection_coefficient(x[1], cfg)
    jac = torch.func.jacfwd(lambda s: measurement_mean(s, f, cfg, beta=beta))(x)
    n = cfg.num_rx
    assert float(jac[: 2 * n, 1:].abs().max()) == 0.0  # (22): dr/dd = dr/dv̇ = 0
    c = SPEED_OF_LIGHT_MPS
    torch.testing.assert_close(jac[2 * n], torch.tensor([0, 2 / c, 0], dtype=F64))
    torch.testing.assert_close(jac[2 * n + 1], torch.tensor([0, 0, 2 * cfg.carrier_hz / c],
                                                            dtype=F64))
    # d r̃/dφ = κβG (ḃ aᴴ f + b ȧᴴ f) with the derivatives of arrays.ula_u.
    a, b = ula_u(6, x[0]), ula_u(9, x[0])
    da, db = ula_u_derivative(6, x[0]), ula_u_derivative(9, x[0])
    dr = cfg.kappa * cfg.mf_gain * beta * (db * (a.conj() @ f) + b * (da.conj() @ f))
    torch.testing.assert_close(torch.complex(jac[:n, 0], jac[n:2 * n, 0]), dr, rtol=1e-12,
                               atol=1e-12)
    # The EKF's batched form vmap(jacfwd) gives the same Jacobian.
    xs = torch.stack([x, x + 0.01])
    batched = torch.func.vmap(torch.func.jacfwd(
        lambda s, dd: measurement_mean(s, f, cfg, beta_from=dd)))(xs, xs[:, 1])
    torch.testing.assert_close(batched[0], jac, rtol=1e-13, atol=0)
    assert float(batched[1, : 2 * n, 1:].abs().max()) == 0.0
    with pytest.raises(ConfigError, match="beta"):
        measurement_mean(x, f, cfg, beta=beta, beta_from=x[1])
    # Without a known beta, r̃ ∝ 1/d: dr/dd = -r/d.
    y = measurement_mean(x, f, cfg)
    jd = torch.func.jacfwd(lambda s: measurement_mean(s, f, cfg))(x)
    torch.testing.assert_close(jd[: 2 * n, 1], -y[: 2 * n] / x[1], rtol=1e-12, atol=1e-14)


def test_noise_variances_by_hand() -> None:
    """(15)-(17) at N = 32, d = 30 m, η = 1: the spec's 1.3 mm range and 1.3 mm/s speed std."""
    x = torch.tensor([0.2, 30.0, 5.0], dtype=F64)
    f = ula_u(32, torch.tensor(0.2, dtype=F64))  # η = aᴴ a = 1
    var = measurement_noise_var(x, f, CFG)
    sigma_e2, g, kappa2 = 1e-7, 10.0, 32.0 * 32.0
    beta2 = 200.0 / (4 * 900.0)  # |10+10j|² / (2d)²
    assert var.shape == (66,)
    np.testing.assert_allclose(var[:64].numpy(), 1e-7 / 10.0 / 2, rtol=1e-14)
    assert float(var[64]) == pytest.approx(6.7e-7**2 * sigma_e2 / (g * kappa2 * beta2), rel=1e-12)
    assert float(var[65]) == pytest.approx(2e4**2 * sigma_e2 / (g * kappa2 * beta2), rel=1e-12)
    range_std = math.sqrt(float(var[64])) * SPEED_OF_LIGHT_MPS / 2
    speed_std = math.sqrt(float(var[65])) * SPEED_OF_LIGHT_MPS / (2 * 30e9)
    assert range_std == pytest.approx(1.33e-3, rel=0.01)
    assert speed_std == pytest.approx(1.33e-3, rel=0.01)
    # A beam with η = 0 (orthogonal to a(0) = 1/√N): no delay/Doppler information, NaN.
    x = torch.tensor([0.0, 30.0, 0.0], dtype=F64)
    f0 = torch.zeros(32, dtype=torch.complex128)
    f0[0], f0[1] = 1.0, -1.0
    var0 = measurement_noise_var(x, f0, CFG)
    assert bool(torch.isinf(var0[64:]).all()) and bool(torch.isfinite(var0[:64]).all())
    y0 = sample_measurement(x, f0, CFG, make_generator(0))
    assert bool(torch.isnan(y0[64:]).all()) and bool(torch.isfinite(y0[:64]).all())


def test_sample_measurement_statistics_and_reproducibility() -> None:
    cfg = HighwayConfig(num_tx=4, num_rx=4)
    x = torch.tensor([-0.3, 25.0, 7.0], dtype=F64).expand(20000, 3)
    f = ula_u(4, -0.25).expand(20000, 4)
    y = sample_measurement(x, f, cfg, make_generator(1))
    z = (y - measurement_mean(x, f, cfg)) / measurement_noise_var(x, f, cfg).sqrt()
    n = z.shape[0]
    assert float(z.mean(0).abs().max()) < 5 / math.sqrt(n)
    assert float((z.var(0) - 1).abs().max()) < 5 * math.sqrt(2 / n)
    again = sample_measurement(x, f, cfg, make_generator(1))
    assert torch.equal(y, again)


# ---- communication channel (8)-(10) -----------------------------------------------------------


def test_comm_channel_reproduces_eq10_by_explicit_loop() -> None:
    cfg = HighwayConfig(num_tx=8, power_db=20.0)
    gen = make_generator(4)
    k = 5
    xs = torch.tensor([-20.0, -3.0, 0.0, 8.0, 25.0], dtype=F64)
    lanes = torch.tensor([-2.5, 2.5, -2.5, -2.5, 2.5], dtype=F64)
    st = cartesian_to_state(torch.stack([xs, lanes], -1), 30.0, cfg.rsu_xy()[0])
    beams = torch.complex(torch.randn(8, k, generator=gen, dtype=F64),
                          torch.randn(8, k, generator=gen, dtype=F64))
    xi = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=F64)
    h = comm_channel(st, cfg)  # [K, N_t]
    got = sinr(h, beams * xi, cfg.comm_noise_var)
    alpha_t, sc2 = 10 ** (-7.0), 10 ** (-7.0)
    for kk in range(k):
        phi, d = float(st[kk, 0]), float(st[kk, 1])
        a = [cmath.exp(-1j * math.pi * m * phi) / math.sqrt(8) for m in range(8)]
        alpha = alpha_t / d**2  # (9)

        def gain(m: int, a: list[complex] = a, alpha: float = alpha) -> float:
            af = sum(a[n].conjugate() * complex(beams[n, m]) for n in range(8))
            return 8 * abs(alpha) * abs(af) ** 2  # κ'² |α| |aᴴ f|²

        num = gain(kk) * float(xi[kk])
        den = sum(gain(m) * float(xi[m]) for m in range(k) if m != kk) + sc2
        assert float(got[kk]) == pytest.approx(num / den, rel=1e-12, abs=1e-300)


# ---- traffic ----------------------------------------------------------------------------------


def _gaps_before(traffic: Traffic, direction: float, limit_s: float) -> np.ndarray:
    """Inter-arrival times (the first measured from t = 0) of one direction whose interval
    starts before ``limit_s``: uncensored when the window extends far beyond ``limit_s``."""
    out = []
    arr, dirs, mask = traffic.arrival_s.numpy(), traffic.direction.numpy(), traffic.mask.numpy()
    for b in range(arr.shape[0]):
        t = np.concatenate([[0.0], arr[b][mask[b] & (dirs[b] == direction)]])
        gaps, starts = np.diff(t), t[:-1]
        out.append(gaps[starts < limit_s])
    return np.concatenate(out)


def test_poisson_interarrival_times_pass_ks() -> None:
    rate = 5.0
    tr = sample_poisson_traffic(CFG, rate, 20.0, 60, make_generator(11))
    for direction in (1.0, -1.0):
        gaps = _gaps_before(tr, direction, 10.0)  # P(gap > 10 s) = e^-50: no censoring bias
        assert gaps.size > 2500
        assert stats.kstest(gaps, stats.expon(scale=1 / rate).cdf).pvalue > 0.01
        # The test has power: a 15 % wrong rate is rejected.
        assert stats.kstest(gaps, stats.expon(scale=1 / (1.15 * rate)).cdf).pvalue < 1e-3


def test_poisson_traffic_structure() -> None:
    cfg = HighwayConfig(speed_std_mps=8.0, speed_min_mps=20.0)
    tr = sample_poisson_traffic(cfg, 3.0, 6.0, 40, make_generator(2))
    k = tr.num_vehicles
    assert tr.mask.shape == (40, k) and not tr.wrap
    counts = tr.counts
    assert int(counts.max()) == k
    assert torch.equal(tr.mask, torch.arange(k)[None] < counts[:, None])  # padding at the end
    real = tr.arrival_s[tr.mask]
    assert bool((real >= 0).all()) and bool((real < 6.0).all())
    assert bool(torch.isinf(tr.arrival_s[~tr.mask]).all())
    assert bool((tr.arrival_s[:, 1:] >= tr.arrival_s[:, :-1]).all())  # sorted by arrival
    assert bool((tr.speed_mps >= 20.0).all())  # truncated below
    lane_ok = torch.where(tr.direction > 0, tr.lane_y_m == -2.5, tr.lane_y_m == 2.5)
    assert bool(lane_ok.all())
    # Vehicles enter at their entry end at their arrival time and move with direction * speed.
    x, y, active = positions(tr, tr.arrival_s.clamp_max(100.0), cfg)
    torch.testing.assert_close(x[tr.mask], (-tr.direction * 30.0)[tr.mask])
    assert bool(active[tr.mask].all())
    x2, _, active2 = positions(tr, tr.arrival_s.clamp_max(100.0) + 0.1, cfg)
    torch.testing.assert_close((x2 - x)[tr.mask], (0.1 * tr.velocity_x_mps)[tr.mask])
    _, _, gone = positions(tr, 6.0 + 60.0 / 20.0 + 1e-9, cfg)
    assert not bool(gone.any())  # every vehicle has left 2L / v_min after the last arrival
    with pytest.raises(ValueRangeError, match="rate_per_s"):
        sample_poisson_traffic(cfg, -1.0, 6.0, 4, make_generator(0))
    with pytest.raises(ConfigError, match="batch"):
        sample_poisson_traffic(cfg, 1.0, 6.0, 0, make_generator(0))


def test_steady_state_occupancy_matches_littles_law() -> None:
    """λ = 5 /s per direction: E[N] = 2λ·2L·E[1/s] ≈ 20 (Little's law); N is Poisson."""
    rate, batch = 5.0, 2000
    tr = sample_poisson_traffic(CFG, rate, 10.0, batch, make_generator(21))
    _, _, active = positions(tr, 8.0, CFG)  # steady state after 2L / v ≈ 2 s
    count = active.sum(-1).to(F64)
    law = stats.truncnorm(a=(1.0 - 30.0) / 2.0, b=np.inf, loc=30.0, scale=2.0)
    expected = 2 * rate * 60.0 * law.expect(lambda s: 1.0 / s)
    assert abs(expected - 20.0) < 0.1  # the speed spread adds 0.4 %
    se = math.sqrt(expected / batch)
    assert abs(float(count.mean()) - expected) < 3 * se
    assert abs(float(count.var()) / expected - 1) < 3 * math.sqrt(2 / batch)  # Poisson: var = mean


def test_constant_traffic_wraps_and_keeps_count() -> None:
    cfg = HighwayConfig()
    tr = constant_traffic(cfg, 6, 300, make_generator(9))
    assert tr.wrap and bool(tr.mask.all()) and bool((tr.arrival_s <= 0).all())
    x0, _, _ = positions(tr, 0.0, cfg)
    assert stats.kstest(x0.flatten().numpy(), stats.uniform(-30, 60).cdf).pvalue > 0.01
    assert abs(float((tr.direction > 0).to(F64).mean()) - 0.5) < 3 * math.sqrt(0.25 / 1800)
    t = torch.tensor(1.37, dtype=F64)
    x, _, active = positions(tr, t, cfg)
    assert bool(active.all()) and bool((x.abs() <= 30.0).all())
    laps = lap_index(tr, t, cfg)
    # Unwrapped motion: x(t) = x0 + v_x t - dir * 2L * laps.
    torch.testing.assert_close(x, x0 + tr.velocity_x_mps * t - tr.direction * 60.0 * laps,
                               rtol=0, atol=1e-12)
    assert int(laps.max()) >= 1 and int(laps.min()) == 0
    assert bool((lap_index(sample_poisson_traffic(cfg, 5.0, 2.0, 2, make_generator(0)), 9.0,
                           cfg) == 0).all())
    with pytest.raises(ConfigError, match="num_vehicles"):
        constant_traffic(cfg, -1, 2, make_generator(0))
    assert constant_traffic(cfg, 0, 2, make_generator(0)).num_vehicles == 0


def test_traffic_is_reproducible_with_the_same_seed() -> None:
    for sampler in (lambda g: sample_poisson_traffic(CFG, 5.0, 4.0, 8, g),
                    lambda g: constant_traffic(CFG, 7, 8, g)):
        a, b, c = sampler(make_generator(7)), sampler(make_generator(7)), sampler(make_generator(8))
        for f in dataclasses.fields(Traffic):
            va, vb = getattr(a, f.name), getattr(b, f.name)
            assert torch.equal(va, vb) if isinstance(va, torch.Tensor) else va == vb
        assert not torch.equal(a.speed_mps, c.speed_mps)


def test_states_at_follow_the_transition() -> None:
    """Ground truth from positions() and the DT's model g agree slot to slot (both RSUs)."""
    tr = sample_poisson_traffic(CFG, 5.0, 3.0, 4, make_generator(13))
    t = 2.5
    s0, s1 = states_at(tr, t, CFG), states_at(tr, t + T, CFG)
    assert s0.shape == (4, 2, tr.num_vehicles, 3)
    _, _, a0 = positions(tr, t, CFG)
    _, _, a1 = positions(tr, t + T, CFG)
    both = (a0 & a1)[:, None].expand(-1, 2, -1)
    v = (-tr.velocity_x_mps)[:, None].expand(-1, 2, -1)
    pred = transition(s0, T, v, CFG.phi_guard)
    torch.testing.assert_close(pred[both], s1[both], rtol=0, atol=1e-11)
    assert int(both.sum()) > 10


def test_scene_runs_on_the_generator_device(device: str, gen: torch.Generator) -> None:
    """Traffic follows the generator's device; states, measurements and channels follow the
    inputs (no host round trip, no downcast)."""
    cfg = HighwayConfig(num_tx=8, num_rx=8)
    tr = sample_poisson_traffic(cfg, 5.0, 3.0, 4, gen)
    assert tr.arrival_s.device.type == torch.device(device).type
    st = states_at(tr, 2.0, cfg)
    assert st.device == tr.arrival_s.device and st.dtype == F64
    f = steering(8, st[..., 0])
    y = sample_measurement(st, f, cfg, gen)
    assert y.shape == (*st.shape[:-1], 18) and y.device == st.device
    assert comm_channel(st, cfg).dtype == torch.complex128
    ct = constant_traffic(cfg, 3, 2, gen, dtype=torch.float32)
    assert states_at(ct, 0.5, cfg).dtype == torch.float32
