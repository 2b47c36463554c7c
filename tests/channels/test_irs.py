"""Tests of isaclearn.channels.irs: the IRS amplitude model (3), B-bit phases (30), the cascade
(12)/(42), co-phasing, the scenario and its noise rule (liu_irs_ppo, spec §7 "Correctness").

References: explicit loops over IRS elements, closed forms, a brute force over all 2^(bN) phase
settings, and Monte Carlo with z = 3 standard errors.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from isaclearn.channels.irs import (
    IrsIsacConfig,
    IrsIsacProblem,
    IrsIsacScenario,
    cascade_channel,
    cascade_direct_ratio,
    co_phasing_phases,
    direct_channel,
    effective_channel,
    irs_amplitude,
    phase_levels,
    phases_from_indices,
    quantize_phases,
    random_initial_phases,
    reflection_vector,
)
from isaclearn.core import ConfigError, IsacError, ShapeError, make_generator

C128 = torch.complex128


def _problem(seed: int = 0, batch: int = 3, dtype: torch.dtype = C128,
             **changes: object) -> IrsIsacProblem:
    cfg = dataclasses.replace(IrsIsacConfig(), **changes)  # type: ignore[arg-type]
    return IrsIsacScenario(cfg).sample(batch, generator=make_generator(seed), dtype=dtype)


# --------------------------------------------------------------------------------------------
# (3) and (30)


@pytest.mark.parametrize("phi,eps,gmin", [(0.0, 1.6, 0.2), (0.7, 0.5, 0.0), (2.0, 3.0, 0.5)])
def test_amplitude_model_properties(phi: float, eps: float, gmin: float) -> None:
    kw = {"gamma_min": gmin, "phase_offset_rad": phi, "exponent": eps}
    top = irs_amplitude(torch.tensor(phi + math.pi / 2, dtype=torch.float64), **kw)
    bottom = irs_amplitude(torch.tensor(phi - math.pi / 2, dtype=torch.float64), **kw)
    assert float(top) == pytest.approx(1.0, abs=1e-15)
    assert float(bottom) == pytest.approx(gmin, abs=1e-15)
    beta = torch.linspace(phi - math.pi / 2, phi + math.pi / 2, 2001, dtype=torch.float64)
    g = irs_amplitude(beta, **kw)
    assert bool((g.diff() >= -1e-15).all())  # monotone on [φ − π/2, φ + π/2]
    wide = irs_amplitude(torch.linspace(-10, 10, 5001, dtype=torch.float64), **kw)
    assert bool((wide >= gmin - 1e-15).all()) and bool((wide <= 1 + 1e-15).all())
    # one value from the formula by hand
    b0 = 0.3
    want = (1 - gmin) * ((math.sin(b0 - phi) + 1) / 2) ** eps + gmin
    assert float(irs_amplitude(torch.tensor(b0, dtype=torch.float64), **kw)) == pytest.approx(
        want, rel=1e-14)


def test_ideal_amplitude_and_reflection_vector() -> None:
    beta = torch.linspace(-4, 4, 50, dtype=torch.float64)
    assert torch.equal(irs_amplitude(beta, gamma_min=1.0), torch.ones_like(beta))
    v = reflection_vector(beta)
    assert v.dtype == C128
    assert torch.allclose(v.abs(), irs_amplitude(beta), atol=1e-15)
    assert torch.allclose(torch.polar(torch.ones_like(beta), beta), v / v.abs(), atol=1e-14)


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5])
def test_quantized_phases_are_distinct(bits: int) -> None:
    lv = phase_levels(bits, dtype=torch.float64)
    assert lv.shape == (2**bits,)
    on_circle = torch.polar(torch.ones_like(lv), lv)
    dist = (on_circle[:, None] - on_circle[None, :]).abs() + 10 * torch.eye(2**bits)
    assert float(dist.min()) > 1e-9  # 2^b distinct phases
    assert float(lv[1] - lv[0]) == pytest.approx(2 * math.pi / 2**bits)
    if bits > 1:  # the literal (30) maps the first and last index to the same phase
        lit = phase_levels(bits, levels="literal", dtype=torch.float64)
        assert float(lit[-1]) == pytest.approx(2 * math.pi)
    idx = torch.arange(2**bits)
    assert torch.equal(quantize_phases(phases_from_indices(idx, bits, dtype=torch.float64),
                                       bits), idx)


def test_quantize_is_nearest_level() -> None:
    beta = (torch.rand(500, generator=make_generator(1), dtype=torch.float64) - 0.5) * 20
    for bits in (1, 2, 3):
        q = phases_from_indices(quantize_phases(beta, bits), bits, dtype=torch.float64)
        err = torch.remainder(beta - q + math.pi, 2 * math.pi) - math.pi
        assert bool((err.abs() <= math.pi / 2**bits + 1e-12).all())
    with pytest.raises(IsacError):
        phases_from_indices(torch.tensor([8]), 3)


def test_random_initial_phases_range() -> None:
    p = random_initial_phases((1000, 4), generator=make_generator(0), dtype=torch.float64)
    assert float(p.min()) >= -math.pi / 2 and float(p.max()) <= math.pi / 2
    assert float(p.std()) == pytest.approx(math.pi / math.sqrt(12), rel=0.05)


# --------------------------------------------------------------------------------------------
# The cascade (12) / (42)


@pytest.mark.parametrize("mimo", [False, True])
def test_cascade_against_element_loop(mimo: bool) -> None:
    p = _problem(1, 2, mimo=mimo)
    beta = (torch.rand(2, 16, generator=make_generator(9), dtype=torch.float64) - 0.5) * 6
    v = p.reflection(beta)
    h = effective_channel(p, v).numpy()
    h0, h1, h2, vv = p.h0.numpy(), p.h1.numpy(), p.h2.numpy(), v.numpy()
    for b in range(2):
        for k in range(p.num_users):
            if mimo:
                ref = h0[b, k].conj().T.copy()  # [N, M]
                for n in range(16):
                    ref += np.outer(h2[b, k, n].conj(), vv[b, n] * h1[b, n])
            else:
                ref = h0[b, :, k].conj().copy()  # [M]
                for n in range(16):
                    ref += h2[b, n, k].conj() * vv[b, n] * h1[b, n]
            scale = np.abs(ref).max()
            np.testing.assert_allclose(h[b, k], ref, rtol=0, atol=1e-6 * scale)


def test_cascade_complex64_matches_loop() -> None:
    p = _problem(1, 2, dtype=torch.complex64)
    v = p.reflection(p.phases0)
    h = effective_channel(p, v)
    ref = direct_channel(p).to(C128) + torch.einsum(
        "bnk,bn,bnm->bkm", p.h2.to(C128).conj(), v.to(C128), p.h1.to(C128))
    assert float((h.to(C128) - ref).abs().max()) <= 1e-6 * float(ref.abs().max())


def test_single_element_closed_form() -> None:
    p = _problem(2, 4, num_irs_elements=1)
    v = p.reflection(torch.full((4, 1), 0.8, dtype=torch.float64))
    h = effective_channel(p, v)
    # h_k^H = h_{0,k}^H + conj(h_{2,k}) v h_1 (a rank-one update for E = 1)
    want = p.h0.conj().transpose(-2, -1) + (p.h2[:, 0, :].conj() * v)[:, :, None] * p.h1[:, 0,
                                                                                          None]
    assert torch.allclose(h, want, atol=1e-20, rtol=1e-12)


def test_irs_off_gives_direct_channel() -> None:
    for mimo in (False, True):
        p = _problem(3, 2, mimo=mimo)
        v = torch.zeros(2, 16, dtype=C128)
        assert torch.equal(effective_channel(p, v), direct_channel(p))
        assert torch.equal(cascade_direct_ratio(p, v), torch.zeros(2, dtype=torch.float64))


def test_direct_link_db_scales_direct_power_exactly() -> None:
    a = _problem(4, 5, direct_link_db=0.0)
    b = _problem(4, 5, direct_link_db=-60.0)
    ratio = b.h0.abs().square().sum((-2, -1)) / a.h0.abs().square().sum((-2, -1))
    assert torch.allclose(ratio, torch.full_like(ratio, 1e-6), rtol=1e-12)
    assert torch.equal(a.h1, b.h1) and torch.equal(a.h2, b.h2)
    assert torch.equal(a.phases0, b.phases0)


def test_cascade_direct_ratio_definition() -> None:
    p = _problem(5, 3)
    v = p.reflection(p.phases0)
    c = cascade_channel(p, v)
    want = c.abs().square().sum((-2, -1)) / p.h0.abs().square().sum((-2, -1))
    assert torch.allclose(cascade_direct_ratio(p, v), want, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Co-phasing (single user)


def _received_power(h0: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor,
                    v: torch.Tensor) -> torch.Tensor:
    """|h^H w|^2 for M = 1, w = 1: |conj(h0) + Σ_n conj(h2_n) v_n h1_n|^2."""
    return (h0[..., 0].conj() + (h2.conj() * v * h1[..., 0]).sum(-1)).abs().square()


def test_co_phasing_against_brute_force() -> None:
    """N = 4, b = 2, M = 1, γ_min = 1: co-phasing gives (|h0| + Σ|h2 h1|)², the brute force over
    all 2^(bN) settings stays below it and at or above the quantized co-phasing."""
    p = _problem(6, 8, num_irs_elements=4, num_antennas=1, num_users=1, gamma_min=1.0,
                 phase_bits=2, direct_link_db=-75.0)  # cascade and direct of similar size
    h0, h1, h2 = p.h0[:, :, 0], p.h1, p.h2[:, :, 0]  # [B, 1], [B, 4, 1], [B, 4]
    beta = co_phasing_phases(h0, h1, h2)
    best_cont = _received_power(h0, h1, h2, p.reflection(beta))
    closed = (h0[:, 0].abs() + (h2 * h1[..., 0]).abs().sum(-1)).square()
    assert torch.allclose(best_cont, closed, rtol=1e-10)
    combos = torch.tensor(list(itertools.product(range(4), repeat=4)))  # [256, 4]
    v_all = p.reflection_from_indices(combos)  # [256, 4]
    brute = _received_power(h0[:, None], h1[:, None], h2[:, None], v_all[None])  # [B, 256]
    best = brute.max(-1).values
    assert bool((best <= closed * (1 + 1e-10)).all())
    q = p.reflection_from_indices(quantize_phases(beta, 2))
    quant = _received_power(h0, h1, h2, q)
    assert bool((best >= quant * (1 - 1e-10)).all())
    # quantization error at most π/4 per element
    bound = (h0[:, 0].abs() + math.cos(math.pi / 4) * (h2 * h1[..., 0]).abs().sum(-1)).square()
    assert bool((quant >= bound * (1 - 1e-10)).all())
    # and a random continuous setting never beats co-phasing
    rnd = p.reflection((torch.rand(8, 4, generator=make_generator(0), dtype=torch.float64)
                        - 0.5) * 2 * math.pi)
    assert bool((_received_power(h0, h1, h2, rnd) <= closed * (1 + 1e-10)).all())


def test_co_phasing_with_given_beam_and_alternation() -> None:
    p = _problem(7, 4, num_users=1, gamma_min=1.0, direct_link_db=-75.0)
    h0, h1, h2 = p.h0[:, :, 0], p.h1, p.h2[:, :, 0]
    w = torch.complex(torch.randn(4, 5, generator=make_generator(1), dtype=torch.float64),
                      torch.randn(4, 5, generator=make_generator(2), dtype=torch.float64))
    beta = co_phasing_phases(h0, h1, h2, w)
    v = p.reflection(beta)
    amp = (h0.conj() * w).sum(-1) + (h2.conj() * v * (h1 @ w[..., None])[..., 0]).sum(-1)
    want = (h0.conj() * w).sum(-1).abs() + (h2.conj() * (h1 @ w[..., None])[..., 0]).abs().sum(-1)
    assert torch.allclose(amp.abs(), want, rtol=1e-10)

    def mrt_gain(b: torch.Tensor) -> torch.Tensor:  # ||h||^2 with the MRT beam
        return effective_channel(p, p.reflection(b))[:, 0].abs().square().sum(-1)

    g0 = mrt_gain(co_phasing_phases(h0, h1, h2, iterations=0))
    g10 = mrt_gain(co_phasing_phases(h0, h1, h2, iterations=10))
    assert bool((g10 >= g0 * (1 - 1e-9)).all())


# --------------------------------------------------------------------------------------------
# Scenario


def test_shapes_dtypes_and_layout() -> None:
    p = _problem(0, 3, dtype=torch.complex64)
    assert (p.h0.shape, p.h1.shape, p.h2.shape) == ((3, 5, 4), (3, 16, 5), (3, 16, 4))
    assert p.h0.dtype == torch.complex64 and p.target_angles.dtype == torch.float32
    assert p.target_angles.shape == (3, 3) and p.phases0.shape == (3, 16)
    assert (p.num_users, p.num_antennas, p.num_irs_elements, p.num_rx) == (4, 5, 16, 1)
    assert effective_channel(p, p.reflection(p.phases0)).shape == (3, 4, 5)
    q = _problem(0, 3, mimo=True)
    assert (q.h0.shape, q.h2.shape) == ((3, 4, 5, 4), (3, 4, 16, 4))
    assert q.is_mimo and q.num_rx == 4
    assert effective_channel(q, q.reflection(q.phases0)).shape == (3, 4, 4, 5)
    both = IrsIsacProblem.cat([p, p.subset(slice(0, 1))])
    assert both.batch_size == 4


def test_reproducible_by_seed_and_dtype_consistent() -> None:
    a, b = _problem(8, 4), _problem(8, 4)
    for name in ("h0", "h1", "h2", "phases0", "user_distance_m"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    c = _problem(9, 4)
    assert not torch.allclose(a.h0, c.h0)
    s = _problem(8, 4, dtype=torch.complex64)
    for name in ("h0", "h1", "h2"):
        x, y = getattr(s, name).to(C128), getattr(a, name)
        assert float((x - y).abs().max()) <= 1e-6 * float(y.abs().max())


def test_geometry_and_los_direction() -> None:
    p = _problem(10, 200)
    d, ang = p.user_distance_m, p.user_angle_rad
    assert float(d.min()) >= 2 and float(d.max()) <= 10
    assert float(ang.abs().max()) <= math.radians(60) + 1e-12
    # LOS-dominated direct channel: MRT's beampattern peak is near the user's angle
    from isaclearn.arrays import ula
    grid = torch.deg2rad(torch.linspace(-90, 90, 1801, dtype=torch.float64))
    a = ula(5, grid, reference="first", sign=-1)  # [G, M]
    w = p.h0[:, :, 0]  # MRT for user 0 is h_{0,0}
    pattern = (a.conj() @ w.T).abs().square()  # [G, B]
    peak = grid[pattern.argmax(0)]
    close = (peak - ang[:, 0]).abs() < math.radians(6)
    assert float(close.double().mean()) > 0.8


def test_noise_rule_matches_monte_carlo() -> None:
    cfg = IrsIsacConfig()
    p = IrsIsacScenario(cfg).sample(4000, generator=make_generator(12), dtype=C128)
    per_user = p.h0.abs().square().mean(1)  # mean over m: [B, K]
    x = per_user.reshape(-1)
    se = float(x.std()) / math.sqrt(x.numel())
    assert abs(float(x.mean()) - cfg.mean_direct_gain) <= 3 * se
    assert cfg.noise_var == pytest.approx(cfg.p_max_w * cfg.mean_direct_gain
                                          / 10 ** (cfg.snr_db / 10), rel=1e-14)
    thermal = dataclasses.replace(cfg, noise="thermal", bandwidth_hz=1e9, noise_figure_db=0.0)
    assert 10 * math.log10(thermal.noise_var * 1e3) == pytest.approx(-174 + 90, abs=1e-9)
    assert p.noise_var == cfg.noise_var and p.p_max == 10.0 and p.ell == 3.0


def test_problem_reflection_helpers() -> None:
    p = _problem(0, 2)
    idx = torch.randint(0, 8, (2, 16), generator=make_generator(0))
    v = p.reflection_from_indices(idx)
    beta = 2 * math.pi * idx.double() / 8
    assert torch.allclose(v, reflection_vector(beta), atol=1e-15)
    with pytest.raises(ShapeError):
        effective_channel(p, torch.zeros(2, 15, dtype=C128))


@pytest.mark.parametrize("changes", [
    {"num_irs_elements": 15},
    {"phase_levels": "other"},
    {"gamma_min": 1.5},
    {"user_min_distance_m": 12.0},
    {"irs_position_m": (0.0, 4.0, 0.0)},
    {"grid_step_deg": 0.7},
    {"num_users": 0},
])
def test_bad_config_raises(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        dataclasses.replace(IrsIsacConfig(), **changes)  # type: ignore[arg-type]


def test_bad_problem_raises() -> None:
    p = _problem(0, 2)
    with pytest.raises(ShapeError):
        dataclasses.replace(p, h2=p.h2[:, :-1])
    with pytest.raises(IsacError):
        dataclasses.replace(p, noise_var=0.0)
