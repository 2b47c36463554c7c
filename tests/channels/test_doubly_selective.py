"""yang_som doubly-selective channel: taps (3), ICI matrix (5) vs a brute-force OFDM link,
the ω = 0 and single-path closed forms, CP sufficiency, the evolution (42), echo (9)
(spec §7.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.channels.doubly_selective import (
    SPEED_OF_LIGHT,
    DoublySelectiveConfig,
    frame_ici,
    ici_channel,
    ici_matrix,
    radar_response,
    raised_cosine,
    time_domain_taps,
)
from isaclearn.channels.mobility import step
from isaclearn.core import ConfigError, ShapeError, make_generator

C128 = torch.complex128
F64 = torch.float64


def _paths(k: int, p: int, num_taps: int, seed: int, *, omega_max: float = 0.05):
    g = make_generator(seed)
    gains = torch.complex(torch.randn(k, p, generator=g, dtype=F64),
                          torch.randn(k, p, generator=g, dtype=F64)) / math.sqrt(2)
    delays = (num_taps - 1) * torch.rand(k, p, generator=g, dtype=F64)  # T_s = 1
    omega = omega_max * (2 * torch.rand(k, p, generator=g, dtype=F64) - 1)
    phase = 2 * math.pi * torch.rand(k, p, generator=g, dtype=F64)
    aod = (torch.rand(k, p, generator=g, dtype=F64) - 0.5) * math.pi
    return gains, delays, omega, phase, aod


def _rc_reference(x: float, rho: float) -> float:
    if abs(abs(2 * rho * x) - 1) < 1e-12:
        return math.pi / 4 * float(np.sinc(1 / (2 * rho)))
    return float(np.sinc(x) * math.cos(math.pi * rho * x) / (1 - (2 * rho * x) ** 2))


def test_raised_cosine_closed_form() -> None:
    x = torch.tensor([0.0, 0.3, 1.0, 1.7, 2.0, -2.0, 3.5], dtype=F64)
    got = raised_cosine(x, 0.25)
    want = torch.tensor([_rc_reference(float(v), 0.25) for v in x], dtype=F64)
    assert torch.allclose(got, want, atol=1e-15)
    assert torch.allclose(raised_cosine(x, 0.0), torch.sinc(x))
    with pytest.raises(ConfigError):
        raised_cosine(x, 1.5)


def test_time_domain_taps_match_explicit_loop_eq3() -> None:
    k, p, m, nd = 2, 3, 4, 3
    gains, delays, omega, phase, aod = _paths(k, p, nd, seed=1)
    t = torch.tensor([0, 5, 11])
    taps = time_domain_taps(gains, delays, omega, phase, aod, t, num_antennas=m, num_taps=nd,
                            sample_period_s=1.0, rolloff=0.25).numpy()
    want = np.zeros((3, nd, k, m), dtype=complex)
    for j, tj in enumerate(t.tolist()):
        for d in range(nd):
            for u in range(k):
                for q in range(p):
                    a = np.exp(-1j * np.pi * np.arange(m) * math.sin(aod[u, q])) / math.sqrt(m)
                    want[j, d, u] += (math.sqrt(m / p) * complex(gains[u, q])
                                      * _rc_reference(d - float(delays[u, q]), 0.25)
                                      * np.exp(1j * (float(phase[u, q]) + float(omega[u, q]) * tj))
                                      * a.conj())
    assert np.allclose(taps, want, atol=1e-13)


def _brute_received(taps: torch.Tensor, x_stream: torch.Tensor) -> torch.Tensor:
    """y[j] = sum_d H_d(j) x[j - d] with x = 0 before the stream (per-sample time-varying
    convolution, explicit loops). taps [J, N_d, K, M], x_stream [J, M] -> [J, K]."""
    num, nd = taps.shape[0], taps.shape[1]
    y = torch.zeros(num, taps.shape[2], dtype=taps.dtype)
    for j in range(num):
        for d in range(nd):
            if j - d >= 0:
                y[j] += taps[j, d] @ x_stream[j - d]
    return y


def _ofdm_tx(freq: torch.Tensor, cp_len: int) -> torch.Tensor:
    """Unitary IFFT + CP: [S, M] -> [S + L_CP, M]."""
    x = torch.fft.ifft(freq, dim=0, norm="ortho")
    return torch.cat([x[x.shape[0] - cp_len:], x], dim=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ici_matrix_equals_brute_force_ofdm_eq5(seed: int) -> None:
    s, cp, nd, k, p, m = 16, 4, 4, 3, 4, 5
    gains, delays, omega, phase, aod = _paths(k, p, nd, seed, omega_max=0.2)
    h = ici_channel(gains, delays, omega, phase, aod, num_antennas=m, num_subcarriers=s,
                    num_taps=nd, cp_len=cp, sample_period_s=1.0)  # [S, S, K, M]
    assert h.shape == (s, s, k, m) and h.dtype == C128
    g = make_generator(10 + seed)
    xf = torch.complex(torch.randn(s, m, generator=g, dtype=F64),
                       torch.randn(s, m, generator=g, dtype=F64))
    taps = time_domain_taps(gains, delays, omega, phase, aod, torch.arange(s + cp),
                            num_antennas=m, num_taps=nd, sample_period_s=1.0)
    y = _brute_received(taps, _ofdm_tx(xf, cp))
    yf = torch.fft.fft(y[cp:], dim=0, norm="ortho")  # CP removal + unitary FFT: [S, K]
    model = torch.einsum("mkua,ka->mu", h, xf)
    assert (yf - model).abs().max() / yf.abs().max() < 1e-10
    # the ICI is real here: dropping the k != m terms would not match
    diag_only = torch.einsum("mmua,ma->mu", h, xf)
    assert (yf - diag_only).abs().max() / yf.abs().max() > 1e-3


def test_cp_sufficiency_no_isi() -> None:
    """L_CP >= N_d - 1: the previous symbol does not leak; a shorter CP does (Sionna #1068)."""
    s, nd, k, p, m = 16, 4, 2, 3, 3
    gains, _, omega, phase, aod = _paths(k, p, nd, seed=4)
    delays = torch.full((k, p), float(nd - 1))  # energy on the last tap
    g = make_generator(3)
    prev = torch.complex(torch.randn(s, m, generator=g, dtype=F64),
                         torch.randn(s, m, generator=g, dtype=F64))
    cur = torch.complex(torch.randn(s, m, generator=g, dtype=F64),
                        torch.randn(s, m, generator=g, dtype=F64))
    for cp, leaks in ((nd - 1, False), (nd, False), (1, True)):
        n = s + cp
        taps = time_domain_taps(gains, delays, omega, phase, aod, torch.arange(2 * n),
                                num_antennas=m, num_taps=nd, sample_period_s=1.0)
        outs = []
        for first in (prev, torch.zeros_like(prev)):
            stream = torch.cat([_ofdm_tx(first, cp), _ofdm_tx(cur, cp)])
            outs.append(_brute_received(taps, stream)[n + cp:])
        diff = (outs[0] - outs[1]).abs().max()
        assert (diff > 1e-3) if leaks else (diff < 1e-12)


def test_zero_doppler_removes_ici() -> None:
    s, cp, nd, k, p, m = 16, 4, 4, 3, 4, 5
    gains, delays, _, phase, aod = _paths(k, p, nd, seed=5)
    omega = torch.zeros(k, p, dtype=F64)
    h = ici_channel(gains, delays, omega, phase, aod, num_antennas=m, num_subcarriers=s,
                    num_taps=nd, cp_len=cp, sample_period_s=1.0)
    off = h * (~torch.eye(s, dtype=torch.bool))[:, :, None, None]
    assert off.abs().max() < 1e-13
    hd = time_domain_taps(gains, delays, omega, phase, aod, torch.tensor([0]), num_antennas=m,
                          num_taps=nd, sample_period_s=1.0)[0]  # [N_d, K, M], time-invariant
    d = torch.arange(nd, dtype=F64)
    for mm in range(s):
        want = (hd * torch.exp(-2j * math.pi * mm * d / s)[:, None, None]).sum(0)
        assert torch.allclose(h[mm, mm], want, atol=1e-13)


def test_single_path_dirichlet_and_energy_conservation() -> None:
    s, cp, nd, m = 16, 4, 4, 4
    gains, delays, _, phase, aod = _paths(1, 1, nd, seed=6)
    eps = 0.3  # normalized frequency offset f_D / Δf
    omega = torch.full((1, 1), 2 * math.pi * eps / s, dtype=F64)
    kw = {"num_antennas": m, "num_subcarriers": s, "num_taps": nd, "cp_len": cp,
          "sample_period_s": 1.0}
    h = ici_channel(gains, delays, omega, phase, aod, **kw)[..., 0, :]  # [S, S, M]
    h0 = ici_channel(gains, delays, omega * 0, phase, aod, **kw)[..., 0, :]
    diag0 = torch.diagonal(h0, dim1=0, dim2=1).T  # [S(k), M]
    q = (torch.arange(s)[:, None] - torch.arange(s)[None, :]).to(F64)  # m - k
    x = omega[0, 0] - 2 * math.pi * q / s
    dirichlet = (torch.sin(s * x / 2) / (s * torch.sin(x / 2))).abs()  # [m, k]
    assert torch.allclose(h.abs(), dirichlet[:, :, None] * diag0.abs()[None], atol=1e-13)
    energy = h.abs().square().sum(0)  # sum over receive bins m: [S(k), M]
    assert torch.allclose(energy, diag0.abs().square(), atol=1e-13)
    rows = h.abs().square().sum(1)  # row sums (over k) are NOT conserved
    assert (rows - diag0.abs().square()).abs().max() > 1e-4


def test_ici_matrix_shape_errors() -> None:
    with pytest.raises(ShapeError):
        ici_matrix(torch.zeros(4, 8, 1, 1, dtype=C128))  # N_d > S
    with pytest.raises(ShapeError):
        ici_matrix(torch.zeros(4, 2, 1, 1))  # real


SMALL = DoublySelectiveConfig(num_antennas=4, num_rx=3, num_subcarriers=8, num_users=2,
                              max_users=4, num_taps=3, num_paths=2, cp_len=2, num_symbols=4,
                              num_subframes=6)


def test_sample_reproducible_and_shapes() -> None:
    a = SMALL.sample(3, generator=make_generator(7))
    b = SMALL.sample(3, generator=make_generator(7))
    c = SMALL.sample(3, generator=make_generator(8))
    assert a.h.shape == (3, 6, 8, 8, 2, 4) and a.h.dtype == torch.complex64
    assert torch.equal(a.h, b.h) and torch.equal(a.target_theta_rad, b.target_theta_rad)
    assert not torch.equal(a.h, c.h)
    d = SMALL.sample(3, generator=make_generator(7), dtype=C128)
    assert d.h.dtype == C128
    assert (d.h.to(torch.complex64) - a.h).abs().max() < 1e-5 * d.h.abs().max()
    assert a.target_theta_rad.shape == (3, 6) and a.alpha.shape == (3, 6)
    assert a.gains.shape == (3, 6, 2, 2) and a.user_theta_rad.shape == (3, 6, 2)
    lazy = SMALL.sample(3, generator=make_generator(7), materialize=False)
    assert lazy.h is None and torch.equal(lazy.gains, a.gains)
    assert torch.equal(frame_ici(lazy, SMALL, subframes=slice(4, 6)), a.h[:, 4:6])


def test_frame_evolution_eq42() -> None:
    cfg = SMALL
    fr = cfg.sample(4, generator=make_generator(1), dtype=C128)
    dt = cfg.subframe_s
    assert math.isclose(dt, 4 * 10 / (8 * 30e3))
    # positions: one Cartesian step per subframe, users and target
    for n in range(cfg.num_subframes - 1):
        th, d = step(fr.user_theta_rad[:, n], fr.user_distance_m[:, n], fr.user_speed_mps,
                     fr.user_heading_rad, dt)
        assert torch.allclose(th, fr.user_theta_rad[:, n + 1], atol=1e-12)
        assert torch.allclose(d, fr.user_distance_m[:, n + 1], rtol=1e-12)
        th, d = step(fr.target_theta_rad[:, n], fr.target_distance_m[:, n], fr.target_speed_mps,
                     fr.target_heading_rad, dt)
        assert torch.allclose(th, fr.target_theta_rad[:, n + 1], atol=1e-12)
    # AoD offsets fixed per frame; delays d/c + excess (path 0 excess = 0)
    delta = fr.aod_rad - fr.user_theta_rad[..., None]
    assert torch.allclose(delta, delta[:, :1].expand_as(delta), atol=1e-12)
    assert delta.abs().max() <= 5 * math.pi / 180
    excess = fr.delays_s - fr.user_distance_m[..., None] / SPEED_OF_LIGHT
    assert torch.allclose(excess[..., 0], torch.zeros_like(excess[..., 0]), atol=1e-18)
    assert excess.min() >= 0 and excess.max() <= (cfg.num_taps - 1) * cfg.sample_period_s
    # Doppler (42) and the continuous phase (spec §6.3)
    want = (2 * math.pi * cfg.carrier_hz * fr.user_speed_mps[:, None, :, None]
            * cfg.sample_period_s * torch.sin(fr.aod_rad) / SPEED_OF_LIGHT)
    assert torch.allclose(fr.doppler_rad, want, rtol=1e-12)
    per_sub = fr.doppler_rad * cfg.num_symbols * cfg.symbol_samples
    assert torch.allclose(fr.phase_rad[:, 0], torch.zeros_like(fr.phase_rad[:, 0]))
    assert torch.allclose(fr.phase_rad[:, 1:] - fr.phase_rad[:, :-1], per_sub[:, :-1])
    # echo power (spec default) and the stored channel = symbol 0 of each subframe
    assert torch.allclose(fr.alpha.abs().square(),
                          10.0 * (100.0 / fr.target_distance_m) ** 4, rtol=1e-12)
    assert torch.allclose(fr.h, frame_ici(fr, cfg, symbol=0), atol=1e-14)
    later = frame_ici(fr, cfg, symbol=3, subframes=slice(2, 3))
    assert later.shape == (4, 1, 8, 8, 2, 4) and not torch.allclose(later, fr.h[:, 2:3])


def test_gain_random_walk_statistics() -> None:
    cfg = DoublySelectiveConfig(num_antennas=2, num_rx=2, num_subcarriers=4, num_users=4,
                                num_taps=2, num_paths=8, cp_len=1, num_symbols=1,
                                num_subframes=11, gain_walk_std=0.05)
    fr = cfg.sample(64, generator=make_generator(2), dtype=C128)
    steps = (fr.gains[:, 1:] - fr.gains[:, :-1]).abs().square()
    n = steps.numel()  # |Δβ|² ~ σ² Exp(1): mean σ², std σ²
    assert abs(float(steps.mean()) / 0.05**2 - 1) < 4 / math.sqrt(n)
    g0 = fr.gains[:, 0].abs().square()
    assert abs(float(g0.mean()) - 1) < 4 / math.sqrt(g0.numel())


def test_radar_response_eq9() -> None:
    alpha = torch.tensor([0.5 + 0.5j, 2.0], dtype=C128)
    th = torch.tensor([0.3, -0.7], dtype=F64)
    g = radar_response(alpha, th, num_antennas=4, num_rx=3)
    assert g.shape == (2, 3, 4)
    m, n = 4, 3
    for b in range(2):
        s = math.sin(float(th[b]))
        for r in range(n):
            for t in range(m):
                want = complex(alpha[b]) * np.exp(-1j * math.pi * (r - t) * s) / math.sqrt(m * n)
                assert abs(complex(g[b, r, t]) - want) < 1e-14


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        DoublySelectiveConfig(num_users=20)
    with pytest.raises(ConfigError):
        DoublySelectiveConfig(num_taps=64)
    with pytest.raises(ConfigError):
        DoublySelectiveConfig(delay_model="nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SMALL.sample(0, generator=None)


def test_paper_ici_power_anchor() -> None:
    """Spec §1 derived values: ε = f_D/Δf = 0.093 at 30 m/s and 28 GHz, ICI ≈ 2.8 % of the
    power of one path at sinθ = 1 (≈ (πε)²/3)."""
    cfg = DoublySelectiveConfig()
    omega = cfg.doppler(torch.tensor([[math.pi / 2]], dtype=F64), torch.tensor(30.0, dtype=F64),
                        torch.tensor(math.pi / 2, dtype=F64))
    eps = float(omega) * cfg.num_subcarriers / (2 * math.pi)
    assert abs(eps - 0.0933) < 1e-3
    h = ici_channel(torch.ones(1, 1, dtype=C128), torch.zeros(1, 1, dtype=F64), omega,
                    torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64),
                    num_antennas=1, num_subcarriers=cfg.num_subcarriers, num_taps=cfg.num_taps,
                    cp_len=cfg.cp_len, sample_period_s=cfg.sample_period_s)[..., 0, 0]
    power = h.abs().square()
    ici_fraction = 1 - power.diagonal() / power.sum(0)
    assert torch.allclose(ici_fraction, torch.full_like(ici_fraction, (math.pi * eps) ** 2 / 3),
                          rtol=0.02)
    assert abs(float(ici_fraction.mean()) - 0.028) < 1.5e-3
