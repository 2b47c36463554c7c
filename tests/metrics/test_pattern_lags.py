"""ula_beampattern_mse (the lag-sum form of L_r) equals beampattern_mse (the steering-product
form of metrics.pattern) and an explicit loop over grid points."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.core.random import complex_normal, make_generator
from isaclearn.metrics.pattern import (
    angle_grid,
    beampattern_mse,
    desired_pattern,
    ula_beampattern_mse,
)


@pytest.mark.parametrize("shape", [(7, 5, 4), (3, 4, 5, 4), (2, 1, 3)])
@pytest.mark.parametrize("spacing", [0.5, 0.3])
def test_equals_the_steering_form(shape: tuple[int, ...], spacing: float) -> None:
    w = complex_normal(shape, generator=make_generator(0), dtype=torch.complex128)
    g = angle_grid(0.1, dtype=torch.float64)
    d = desired_pattern(g, torch.deg2rad(torch.tensor([-40.0, 0.0, 40.0], dtype=torch.float64)),
                        math.radians(10))
    torch.testing.assert_close(ula_beampattern_mse(w, d, g, spacing=spacing),
                               beampattern_mse(w, d, g, spacing=spacing), rtol=1e-12,
                               atol=1e-12)


def test_equals_a_loop_over_the_grid() -> None:
    w = complex_normal((5, 3), generator=make_generator(1), dtype=torch.complex128)
    g = angle_grid(1.0, dtype=torch.float64)
    d = (g.abs() < 0.3).to(torch.float64)
    total = 0.0
    for psi, want in zip(g.tolist(), d.tolist(), strict=True):
        a = torch.tensor([complex(math.cos(math.pi * m * math.sin(psi)),
                                  -math.sin(math.pi * m * math.sin(psi))) for m in range(5)],
                         dtype=torch.complex128) / math.sqrt(5)
        p = float(torch.sum((a.conj() @ w).abs() ** 2))
        total += (want - p) ** 2
    assert math.isclose(float(ula_beampattern_mse(w, d, g)), total / len(g), rel_tol=1e-12)


def test_complex64_and_zero() -> None:
    g = angle_grid(0.5)
    d = desired_pattern(g, torch.deg2rad(torch.tensor([0.0])), math.radians(10))
    zero = ula_beampattern_mse(torch.zeros(2, 5, 4, dtype=torch.complex64), d, g)
    torch.testing.assert_close(zero, (d ** 2).mean().expand(2))
    w = complex_normal((4, 5, 4), generator=make_generator(2), dtype=torch.complex64)
    torch.testing.assert_close(ula_beampattern_mse(w, d, g), beampattern_mse(w, d, g),
                               rtol=1e-5, atol=1e-5)
