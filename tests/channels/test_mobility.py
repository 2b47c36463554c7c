"""yang_som mobility (41): the Cartesian step against the paper's polar relations (spec §7.6)."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.channels.mobility import (
    MobilityConfig,
    cartesian_to_polar,
    polar_to_cartesian,
    radial_speed,
    sample_motion,
    step,
    trajectory,
)
from isaclearn.core import ConfigError, ShapeError, make_generator


def _draws(n: int = 1000, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = make_generator(seed)
    f = torch.float64
    th = (torch.rand(n, generator=g, dtype=f) - 0.5) * math.pi  # (-90°, 90°)
    d = 1.0 + 149.0 * torch.rand(n, generator=g, dtype=f)
    v = 40.0 * torch.rand(n, generator=g, dtype=f)
    hd = (2.0 * torch.rand(n, generator=g, dtype=f) - 1.0) * math.pi  # any heading
    dt = 0.05 * torch.rand(n, generator=g, dtype=f)  # up to 2 m per step
    return th, d, v, hd, dt


def test_step_satisfies_polar_relations_41() -> None:
    th, d, v, hd, dt = _draws()
    th1, d1 = step(th, d, v, hd, dt)  # type: ignore[arg-type]
    s = v * dt
    # sin(θ' − θ) = |v|ΔT sin(θ − ∠v + π)/d'
    lhs1 = torch.sin(th1 - th)
    rhs1 = s * torch.sin(th - hd + math.pi) / d1
    assert torch.allclose(lhs1, rhs1, rtol=0.0, atol=1e-12)
    # d'² − d² = (|v|ΔT)² − 2 d |v|ΔT cos(θ − ∠v + π), relative to d²
    lhs2 = d1**2 - d**2
    rhs2 = s**2 - 2.0 * d * s * torch.cos(th - hd + math.pi)
    assert ((lhs2 - rhs2).abs() / d**2).max() < 1e-12


def test_step_wrong_sign_convention_fails_41() -> None:
    """The relations are not vacuous: a heading in another convention (mirrored) breaks them."""
    th, d, v, hd, dt = _draws(seed=1)
    th1, d1 = step(th, d, v, -hd, dt)  # type: ignore[arg-type]
    rhs1 = v * dt * torch.sin(th - hd + math.pi) / d1
    assert (torch.sin(th1 - th) - rhs1).abs().max() > 1e-4


def test_polar_roundtrip_and_geometry() -> None:
    th, d, *_ = _draws(seed=2)
    p = polar_to_cartesian(th, d)
    assert torch.allclose(p[:, 0], d * torch.sin(th)) and torch.allclose(p[:, 1], d * torch.cos(th))
    th2, d2 = cartesian_to_polar(p)
    assert torch.allclose(th2, th, atol=1e-14) and torch.allclose(d2, d, rtol=1e-14)
    with pytest.raises(ShapeError):
        cartesian_to_polar(torch.zeros(3, 3))


def test_trajectory_equals_iterated_steps_and_radial_speed() -> None:
    th, d, v, hd, _ = _draws(n=50, seed=3)
    tt, dd = trajectory(th, d, v, hd, num_steps=20, dt_s=0.01)
    a, b = th, d
    for n in range(20):
        assert torch.allclose(tt[:, n], a, atol=1e-12) and torch.allclose(dd[:, n], b, rtol=1e-12)
        a, b = step(a, b, v, hd, 0.01)
    # range rate: finite difference of d against the radial speed
    eps = 1e-4
    _, d_plus = step(th, d, v, hd, eps)
    _, d_minus = step(th, d, v, hd, -eps)
    assert torch.allclose((d_plus - d_minus) / (2 * eps), radial_speed(th, v, hd), atol=1e-6)
    # heading along +x: radial speed = |v| sin θ (the paper's Doppler, spec §6.4)
    assert torch.allclose(radial_speed(th, v, torch.full_like(th, math.pi / 2)), v * torch.sin(th))


def test_sample_motion_ranges_and_seed() -> None:
    cfg = MobilityConfig()
    out = sample_motion(cfg, (4000,), generator=make_generator(5))
    again = sample_motion(cfg, (4000,), generator=make_generator(5))
    for x, y in zip(out, again):
        assert torch.equal(x, y)
    th, d, v, hd = out
    deg = math.pi / 180
    assert th.abs().max() <= 60 * deg and d.min() >= 20 and d.max() <= 150
    assert v.min() >= 10 and v.max() <= 30 and ((hd - 90 * deg).abs() <= 10 * deg).all()
    # uniform mean of θ within 4σ: σ = 60°/sqrt(3 n)
    assert th.mean().abs() < 4 * 60 * deg / math.sqrt(3 * 4000)
    fixed = sample_motion(MobilityConfig(speed_range_mps=(20.0, 20.0), two_way=True), (100,),
                          generator=make_generator(0))
    assert torch.all(fixed[2] == 20.0)
    assert (fixed[3] > math.pi).any() and (fixed[3] < math.pi).any()
    with pytest.raises(ConfigError):
        MobilityConfig(distance_range_m=(50.0, 10.0))
