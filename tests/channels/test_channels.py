"""Tests of isaclearn.channels: Rician generator, CSI errors, the downlink problem and scenario.

Statistical checks use tolerances of z standard errors of the estimate, computed from the
sample size (z = 5 unless stated), so a correct generator fails with negligible probability
while a wrong constant or a missing factor is caught.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from isaclearn.arrays import ula
from isaclearn.channels import (
    ChannelSample,
    DownlinkIsacScenario,
    DownlinkProblem,
    RicianChannel,
    csi_error,
)
from isaclearn.core import (
    ConfigError,
    IsacError,
    ShapeError,
    ValueRangeError,
    complex_normal,
    make_generator,
)

Z = 5.0
C128 = torch.complex128
SPEED_OF_LIGHT = 299_792_458.0


def _sample(seed: int = 0, batch: int = 4, dtype: torch.dtype = C128, **kwargs: object
            ) -> ChannelSample:
    return RicianChannel(**kwargs).sample(batch, generator=make_generator(seed),  # type: ignore[arg-type]
                                          dtype=dtype)


# --------------------------------------------------------------------------------------------
# shapes, dtypes, devices, determinism


def test_shapes_dtypes_device(cdtype: torch.dtype, device: str, gen: torch.Generator) -> None:
    ch = RicianChannel(num_antennas=5, num_users=3)
    s = ch.sample(4, generator=gen, dtype=cdtype)
    rdt = torch.float32 if cdtype == torch.complex64 else torch.float64
    assert s.h.shape == (4, 3, 5) and s.h.dtype == cdtype
    for x in (s.gain, s.distance_m, s.angle_rad):
        assert x.shape == (4, 3) and x.dtype == rdt
    for x in (s.h, s.gain, s.distance_m, s.angle_rad):
        assert x.device.type == device
        assert bool(torch.isfinite(torch.view_as_real(x) if x.is_complex() else x).all())
    # Without a generator the device argument decides.
    s2 = ch.sample(2, dtype=cdtype, device=device)
    assert s2.h.device.type == device and s2.h.shape == (2, 3, 5)


def test_determinism(device: str) -> None:
    ch = RicianChannel(num_antennas=4, num_users=3)
    a = ch.sample(5, generator=make_generator(42, device))
    b = ch.sample(5, generator=make_generator(42, device))
    c = ch.sample(5, generator=make_generator(43, device))
    for name in ("h", "gain", "distance_m", "angle_rad"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
        assert not torch.equal(getattr(a, name), getattr(c, name)), name
    sc = DownlinkIsacScenario(channel=ch, target_angles_deg=None, num_targets=3,
                              csi_error_mu=0.2)
    p1 = sc.sample(3, generator=make_generator(1, device))
    p2 = sc.sample(3, generator=make_generator(1, device))
    p3 = sc.sample(3, generator=make_generator(2, device))
    assert p1.h_est is not None and p2.h_est is not None and p3.h_est is not None
    assert torch.equal(p1.h, p2.h) and torch.equal(p1.theta, p2.theta)
    assert torch.equal(p1.h_est, p2.h_est)
    assert not torch.equal(p1.h, p3.h) and not torch.equal(p1.h_est, p3.h_est)


# --------------------------------------------------------------------------------------------
# large-scale gains and power


def test_instance_mean_normalization_is_exact() -> None:
    s = _sample(batch=50, num_users=7, num_antennas=3)
    torch.testing.assert_close(s.gain.mean(dim=-1), torch.ones(50, dtype=torch.float64),
                               rtol=1e-12, atol=0)
    assert bool((s.gain > 0).all())


@pytest.mark.parametrize("rician_k", [0.0, 1.0, 4.0])
def test_entry_power_equals_gain(rician_k: float) -> None:
    """E|h_{k,m}|² = g_k. For a Rician entry with factor κ, |h|²/g has mean 1 and variance
    E|h|⁴/g² - 1 = 1 - (κ/(1+κ))²."""
    b, k, m = 200, 10, 10
    s = _sample(seed=3, batch=b, num_users=k, num_antennas=m, rician_k=rician_k)
    ratio = s.h.abs() ** 2 / s.gain[..., None]
    n = ratio.numel()
    var = 1.0 - (rician_k / (1.0 + rician_k)) ** 2
    assert abs(ratio.mean().item() - 1.0) < Z * math.sqrt(var / n)
    # Second moment E|h|⁴/g² = 2 - (κ/(1+κ))² distinguishes the Rician mixture from Rayleigh.
    m4 = (ratio**2).mean().item()
    want_m4 = 2.0 - (rician_k / (1.0 + rician_k)) ** 2
    # Var of |h|⁴/g² is bounded by E|h|⁸/g⁴ ≤ 24 (the Rayleigh value, the largest).
    assert abs(m4 - want_m4) < Z * math.sqrt(24.0 / n)
    # The per-instance average power of h is the normalized mean gain, 1.
    per_instance = (s.h.abs() ** 2).mean(dim=(-2, -1))
    assert abs(per_instance.mean().item() - 1.0) < 0.1


def test_nlos_part_is_standard_complex_normal() -> None:
    """With κ = 0 the small-scale part h/√g is the NLOS component H_F ~ CN(0, 1)."""
    s = _sample(seed=4, batch=300, num_users=8, num_antennas=8, rician_k=0.0)
    hf = (s.h / s.gain.sqrt()[..., None]).reshape(-1)
    n = hf.numel()
    assert abs(hf.real.mean().item()) < Z * math.sqrt(0.5 / n)
    assert abs(hf.imag.mean().item()) < Z * math.sqrt(0.5 / n)
    assert abs((hf.abs() ** 2).mean().item() - 1.0) < Z / math.sqrt(n)  # Var|CN|² = 1
    assert abs(hf.real.var().item() - 0.5) < Z * math.sqrt(0.5 / n)  # Var(Re²) = 1/2
    assert abs((hf * hf).mean().abs().item()) < Z / math.sqrt(n)  # circular
    # Entries are independent across antennas: sample correlation of neighbours ≈ 0.
    h2 = s.h / s.gain.sqrt()[..., None]
    corr = (h2[..., :-1] * h2[..., 1:].conj()).mean().abs().item()
    assert corr < Z / math.sqrt(h2[..., 1:].numel())


def test_distances_and_angles() -> None:
    """Users are area-uniform on the annulus [30, 400] m: d² ~ U(d1², d2²); angles uniform on
    [-π/2, π/2]."""
    d1, d2 = 30.0, 400.0
    s = _sample(seed=5, batch=1000, num_users=10, num_antennas=1)
    d = s.distance_m.reshape(-1)
    n = d.numel()
    assert float(d.min()) >= d1 and float(d.max()) <= d2
    e_d2 = (d1**2 + d2**2) / 2.0
    std_d2 = (d2**2 - d1**2) / math.sqrt(12.0)
    assert abs((d**2).mean().item() - e_d2) < Z * std_d2 / math.sqrt(n)
    # Not uniform in radius: E[d] for area-uniform is (2/3)(d2³-d1³)/(d2²-d1²).
    e_d = 2.0 / 3.0 * (d2**3 - d1**3) / (d2**2 - d1**2)
    assert abs(d.mean().item() - e_d) < Z * (d2 - d1) / math.sqrt(12.0 * n)
    assert stats.kstest((d**2).numpy(), stats.uniform(d1**2, d2**2 - d1**2).cdf).pvalue > 1e-4
    a = s.angle_rad.reshape(-1)
    assert float(a.min()) >= -math.pi / 2 and float(a.max()) <= math.pi / 2
    assert stats.kstest(a.numpy(), stats.uniform(-math.pi / 2, math.pi).cdf).pvalue > 1e-4
    # A narrower sector and annulus are respected.
    s2 = _sample(seed=6, batch=100, num_users=5, num_antennas=1, min_distance_m=50.0,
                 max_distance_m=60.0, sector_rad=0.3)
    assert float(s2.distance_m.min()) >= 50.0 and float(s2.distance_m.max()) <= 60.0
    assert float(s2.angle_rad.abs().max()) <= 0.3


def test_pathloss_and_shadowing() -> None:
    """gain_normalization="none": -10 log10(g) = PL(d) + ζ with eq. (4) written out here;
    the residual ζ is N(0, σ_sh²). The sample std of n normals has standard error σ/√(2n)."""
    sigma_sh = 5.7
    s = _sample(seed=7, batch=1000, num_users=10, num_antennas=1, gain_normalization="none")
    d = s.distance_m.reshape(-1)
    pl = (20.0 * math.log10(4.0 * math.pi * 5e9 * 1.0 / SPEED_OF_LIGHT)
          + 10.0 * 2.9 * torch.log10(d / 1.0))
    zeta = -10.0 * torch.log10(s.gain.reshape(-1)) - pl
    n = zeta.numel()
    assert abs(zeta.mean().item()) < Z * sigma_sh / math.sqrt(n)
    assert abs(zeta.std().item() - sigma_sh) < Z * sigma_sh / math.sqrt(2 * n)
    assert stats.kstest(zeta.numpy() / sigma_sh, "norm").pvalue > 1e-4
    # Free-space loss at d0 = 1 m and 5 GHz is 46.43 dB.
    assert RicianChannel().pathloss_db(torch.tensor([1.0], dtype=torch.float64)).item() == (
        pytest.approx(46.42718, abs=1e-4))
    # No shadowing: the gain is deterministic in the distance.
    s0 = _sample(seed=8, batch=5, num_users=4, num_antennas=1, gain_normalization="none",
                 shadowing_db=0.0)
    want = 10.0 ** (-RicianChannel().pathloss_db(s0.distance_m) / 10.0)
    torch.testing.assert_close(s0.gain, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"shadowing_db": 0.0},
        {"pathloss_exponent": 2.0, "shadowing_db": 3.0},
        {"min_distance_m": 100.0, "max_distance_m": 200.0, "pathloss_exponent": 3.5},
    ],
)
def test_cell_mean_gain_vs_monte_carlo(kwargs: dict) -> None:
    """The closed form E[β] against the sample mean of absolute gains. The tolerance uses the
    sample standard deviation of the gains (heavy-tailed: log-normal times d^-φ)."""
    ch = RicianChannel(num_antennas=1, num_users=20, gain_normalization="none", **kwargs)
    g = ch.sample(10_000, generator=make_generator(9), dtype=C128).gain.reshape(-1)
    n = g.numel()
    closed = ch.cell_mean_gain()
    assert abs(g.mean().item() - closed) < Z * g.std().item() / math.sqrt(n), (
        g.mean().item(), closed)
    # "cell_mean" divides by exactly this constant.
    ch_c = RicianChannel(num_antennas=1, num_users=20, gain_normalization="cell_mean", **kwargs)
    g_c = ch_c.sample(10_000, generator=make_generator(9), dtype=C128).gain.reshape(-1)
    torch.testing.assert_close(g_c, g / closed, rtol=1e-12, atol=0)


def test_cell_mean_gain_degenerate_annulus() -> None:
    ch = RicianChannel(min_distance_m=100.0, max_distance_m=100.0, pathloss_exponent=2.0,
                       shadowing_db=0.0)
    want = 10.0 ** (-ch.pathloss_db(torch.tensor(100.0, dtype=torch.float64)).item() / 10.0)
    assert ch.cell_mean_gain() == pytest.approx(want, rel=1e-12)


# --------------------------------------------------------------------------------------------
# LOS component


def test_los_component_is_far_field_steering_vector() -> None:
    """κ → ∞ leaves h/√g = h_L (eq. 2): unit modulus, and for distant users the phase across
    antennas follows a far-field ULA. The distance to the antenna at x along the axis is
    d - x sinφ + x² cos²φ / (2d) + ..., so the phase 2π d_m/λ *decreases* with x sinφ: the LOS
    row is conj(a(φ)) = a^H(φ) up to a common phase, with a = isaclearn.arrays.ula(M, φ,
    spacing=0.5). The neglected quadratic term is at most π x_max² / (λ d) radians."""
    m = 8
    s = _sample(seed=10, batch=20, num_users=6, num_antennas=m, rician_k=1e14)
    h_los = s.h / s.gain.sqrt()[..., None]
    torch.testing.assert_close(h_los.abs(), torch.ones_like(h_los.real), rtol=0, atol=1e-6)
    a = ula(m, s.angle_rad, spacing=0.5)  # [B, K, M]
    lam = SPEED_OF_LIGHT / 5e9
    x_max = (m - 1) / 2 * 0.5 * lam
    bound = math.pi * x_max**2 / lam / s.distance_m  # [B, K] rad
    r = h_los * a  # = common phase if h_los = e^{jc} conj(a)
    dev = (r / r[..., :1] - 1).abs().amax(dim=-1)
    assert bool((dev <= 2 * bound + 1e-6).all()), (dev.max(), bound.min())
    # The opposite sign (h_L ∝ a(φ)) is wrong wherever the phase step 2π sinφ between
    # neighbours of the wrong guess is not aliased to a multiple of 2π.
    r_wrong = h_los * a.conj()
    dev_wrong = (r_wrong[..., 1] / r_wrong[..., 0] - 1).abs()
    sin_abs = s.angle_rad.sin().abs()
    resolved = (sin_abs > 0.2) & (sin_abs < 0.8)
    assert bool(resolved.any()) and bool((dev_wrong[resolved] > 0.5).all())
    # MRT on the LOS channel collects the full array gain M at each user.
    gain = (h_los * a).sum(dim=-1).abs()
    assert bool((gain > m * (1 - 2 * bound.max())).all())


def test_los_phase_exact_near_field() -> None:
    """Independent spherical-wave reference: place users from the returned distance/angle and
    compute 2π d_{k,m}/λ directly in float64."""
    m = 4
    s = _sample(seed=11, batch=3, num_users=2, num_antennas=m, rician_k=1e14,
                min_distance_m=1.0, max_distance_m=3.0)
    lam = SPEED_OF_LIGHT / 5e9
    h_los = s.h / s.gain.sqrt()[..., None]
    for b in range(3):
        for k in range(2):
            d, phi = s.distance_m[b, k].item(), s.angle_rad[b, k].item()
            for i in range(m):
                x = (i - (m - 1) / 2) * 0.5 * lam
                dist = math.hypot(d * math.sin(phi) - x, d * math.cos(phi))
                want = complex(math.cos(2 * math.pi * dist / lam),
                               math.sin(2 * math.pi * dist / lam))
                assert abs(complex(h_los[b, k, i]) - want) < 1e-5


# --------------------------------------------------------------------------------------------
# CSI error, eq. (11)


def test_csi_error_mu_zero_returns_h() -> None:
    h = complex_normal((2, 3, 4), generator=make_generator(0), dtype=C128)
    out = csi_error(h, 0.0, generator=make_generator(1))
    assert torch.equal(out, h)
    assert out.data_ptr() != h.data_ptr()  # a copy, not an alias


@pytest.mark.parametrize(("mu", "error_var"), [(0.1, 1.0), (0.5, 1.0), (0.3, 4.0), (1.0, 1.0)])
def test_csi_error_statistics(mu: float, error_var: float) -> None:
    """ĥ = μE + (1-μ)h: the error ĥ - (1-μ)h is CN(0, μ² σ_e²) and independent of h."""
    h = _sample(seed=12, batch=200, num_users=8, num_antennas=8).h
    est = csi_error(h, mu, generator=make_generator(13), error_var=error_var)
    assert est.shape == h.shape and est.dtype == h.dtype
    e = ((est - (1.0 - mu) * h) / mu).reshape(-1)
    n = e.numel()
    assert abs(e.mean().abs().item()) < Z * math.sqrt(error_var / n)
    assert abs((e.abs() ** 2).mean().item() - error_var) < Z * error_var / math.sqrt(n)
    assert abs((e * e).mean().abs().item()) < Z * error_var / math.sqrt(n)  # circular
    hf = h.reshape(-1)
    cross = (e * hf.conj()).mean().abs().item()
    assert cross < Z * math.sqrt(error_var * (hf.abs() ** 2).mean().item() / n)
    again = csi_error(h, mu, generator=make_generator(13), error_var=error_var)
    assert torch.equal(est, again)


def test_csi_error_bad_arguments() -> None:
    h = torch.zeros(1, 2, 2, dtype=C128)
    for mu in (-0.1, 1.5, math.nan):
        with pytest.raises(ConfigError, match="mu"):
            csi_error(h, mu)
    with pytest.raises(ConfigError, match="error_var"):
        csi_error(h, 0.1, error_var=-1.0)


# --------------------------------------------------------------------------------------------
# configuration errors


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_antennas": 0},
        {"num_users": 0},
        {"rician_k": -1.0},
        {"min_distance_m": 0.0},
        {"min_distance_m": 500.0},
        {"shadowing_db": -1.0},
        {"gain_normalization": "peak"},
        {"sector_rad": -0.1},
        {"sector_rad": 4.0},
        {"carrier_hz": 0.0},
        {"spacing": -0.5},
    ],
)
def test_channel_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        RicianChannel(**kwargs)


def test_channel_sample_errors() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        RicianChannel().sample(0)


# --------------------------------------------------------------------------------------------
# DownlinkProblem


def _problem(**kwargs: object) -> DownlinkProblem:
    base: dict[str, object] = {
        "h": complex_normal((3, 2, 4), generator=make_generator(0), dtype=C128),
        "theta": torch.tensor([0.1, -0.2], dtype=torch.float64),
    }
    base.update(kwargs)
    return DownlinkProblem(**base)  # type: ignore[arg-type]


def test_problem_valid_and_helpers(device: str) -> None:
    p = _problem()
    assert p.theta.shape == (3, 2)  # [T] broadcast to [B, T]
    assert (p.batch_size, p.num_users, p.num_antennas, p.num_targets) == (3, 2, 4, 2)
    assert p.csi is p.h
    h_est = p.h + 0.1
    q = _problem(h_est=h_est)
    assert q.csi is h_est
    sub = q.subset(slice(1, 3))
    assert sub.batch_size == 2 and sub.h_est is not None
    assert torch.equal(sub.h, q.h[1:3]) and torch.equal(sub.h_est, h_est[1:3])
    moved = q.to(device)
    assert moved.h.device.type == device and moved.theta.device.type == device
    assert moved.h_est is not None and moved.h_est.device.type == device


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"h": torch.zeros(2, 4, dtype=C128)}, ShapeError, "h must have shape"),
        ({"h": torch.zeros(1, 3, 2, 4, dtype=C128)}, ShapeError, "h must have shape"),
        ({"h": torch.zeros(3, 2, 4)}, ShapeError, "h must be complex"),
        ({"theta": torch.zeros(4, 2)}, ShapeError, "theta"),
        ({"theta": torch.zeros(3, 2, 1)}, ShapeError, "theta"),
        ({"theta": torch.zeros(2, dtype=C128)}, ValueRangeError, "theta"),
        ({"h_est": torch.zeros(3, 2, 5, dtype=C128)}, ShapeError, "h_est"),
        ({"h": torch.full((3, 2, 4), complex(math.nan, 0))}, ValueRangeError, "h contains NaN"),
        ({"theta": torch.tensor([math.nan, 0.0])}, ValueRangeError, "theta"),
        ({"h_est": torch.full((3, 2, 4), complex(0, math.inf))}, ValueRangeError, "h_est"),
        ({"power": -1.0}, ValueRangeError, "power must be positive"),
        ({"power": 0.0}, ValueRangeError, "power"),
        ({"power": math.nan}, ValueRangeError, "power"),
        ({"noise_var": -1e-3}, ValueRangeError, "noise_var"),
        ({"radar_snr": 0.0}, ValueRangeError, "radar_snr"),
        ({"num_rx": 0}, ConfigError, "num_rx"),
        ({"num_symbols": 0}, ConfigError, "num_symbols"),
    ],
)
def test_problem_rejects_bad_input(kwargs: dict, error: type[IsacError], match: str) -> None:
    with pytest.raises(error, match=match):
        _problem(**kwargs)
    assert issubclass(error, IsacError)


# --------------------------------------------------------------------------------------------
# DownlinkIsacScenario


@pytest.mark.parametrize(("power", "snr_db"), [(1.0, 20.0), (2.0, 0.0), (0.5, -5.0), (1.0, 35)])
def test_scenario_noise_and_radar_snr(power: float, snr_db: float) -> None:
    sc = DownlinkIsacScenario(power=power, snr_db=snr_db)
    assert sc.noise_var == pytest.approx(power / 10.0 ** (snr_db / 10.0), rel=1e-14)
    assert sc.radar_snr == pytest.approx(1.0 / sc.noise_var, rel=1e-14)
    sc2 = DownlinkIsacScenario(power=power, snr_db=snr_db, radar_snr_db=13.0)
    assert sc2.radar_snr == pytest.approx(10.0**1.3, rel=1e-14)
    p = sc.sample(2, generator=make_generator(0))
    assert p.noise_var == pytest.approx(sc.noise_var) and p.power == power
    assert p.radar_snr == pytest.approx(sc.radar_snr)


def test_scenario_sample(cdtype: torch.dtype, device: str, gen: torch.Generator) -> None:
    ch = RicianChannel(num_antennas=6, num_users=3)
    sc = DownlinkIsacScenario(channel=ch, num_rx=5, num_symbols=4)
    p = sc.sample(4, generator=gen, dtype=cdtype)
    assert p.h.shape == (4, 3, 6) and p.h.dtype == cdtype and p.h.device.type == device
    assert p.h_est is None and p.csi is p.h
    assert p.theta.shape == (4, 2) and p.theta.device.type == device
    want = torch.deg2rad(torch.tensor([-10.0, 25.0], dtype=torch.float64))
    torch.testing.assert_close(p.theta.double().cpu(), want.expand(4, 2), rtol=1e-6, atol=0)
    assert (p.num_rx, p.num_symbols) == (5, 4)
    # Random targets lie on the integer-degree grid in [-90, 90].
    sc_r = DownlinkIsacScenario(channel=ch, target_angles_deg=None, num_targets=3,
                                csi_error_mu=0.1)
    pr = sc_r.sample(200, generator=gen, dtype=cdtype)
    deg = torch.rad2deg(pr.theta.double())
    assert pr.theta.shape == (200, 3)
    torch.testing.assert_close(deg, deg.round(), rtol=0, atol=1e-4)
    assert float(deg.min()) >= -90.0 - 1e-4 and float(deg.max()) <= 90.0 + 1e-4
    assert pr.h_est is not None and pr.h_est.shape == pr.h.shape
    assert not torch.equal(pr.h_est, pr.h)


def test_scenario_config_errors() -> None:
    with pytest.raises(ConfigError, match="target angles"):
        DownlinkIsacScenario(target_angles_deg=(0.0, 100.0))
    with pytest.raises(ConfigError, match="num_targets"):
        DownlinkIsacScenario(target_angles_deg=None, num_targets=0)
    with pytest.raises(ConfigError, match="power"):
        DownlinkIsacScenario(power=0.0)
    assert DownlinkIsacScenario(target_angles_deg=(1, 2, 3)).num_targets == 3
