"""Tests of the per-antenna power helpers of isaclearn.core.linalg (liu_irs_ppo eq. 22): the
projection is idempotent, feasible and the nearest feasible point (CVXPY reference), the uniform
scaling meets the budget with equality."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import torch

from isaclearn.core import IsacError, complex_normal, make_generator
from isaclearn.core.linalg import project_per_antenna_power, scale_to_per_antenna_power

C128 = torch.complex128


def _rows(w: torch.Tensor) -> torch.Tensor:
    return w.abs().square().sum(-1)


def test_projection_idempotent_and_feasible(cdtype: torch.dtype, device: str) -> None:
    w = complex_normal((20, 5, 4), generator=make_generator(0, device), dtype=cdtype)
    p_max = 10.0
    x = project_per_antenna_power(w, p_max)
    assert x.shape == w.shape and x.dtype == cdtype and x.device.type == device
    tol = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert bool((_rows(x) <= p_max / 5 * (1 + tol)).all())
    assert torch.allclose(project_per_antenna_power(x, p_max), x, rtol=tol, atol=0)
    # rows already inside are untouched; rows outside end on the sphere
    inside = _rows(w) <= p_max / 5
    assert torch.equal(x[inside], w[inside])
    assert torch.allclose(_rows(x)[~inside], torch.full_like(_rows(x)[~inside], p_max / 5),
                          rtol=tol)


def test_projection_is_the_nearest_point_cvxpy() -> None:
    gen = make_generator(1)
    m, k, p_max = 5, 4, 10.0
    for _ in range(10):
        w = complex_normal((m, k), generator=gen, dtype=C128) * 1.5
        wn = w.numpy()
        x = cp.Variable((m, k), complex=True)
        cons = [cp.sum_squares(x[i, :]) <= p_max / m for i in range(m)]
        cp.Problem(cp.Minimize(cp.sum_squares(x - wn)), cons).solve(solver=cp.CLARABEL)
        got = project_per_antenna_power(w, p_max).numpy()
        np.testing.assert_allclose(got, x.value, atol=1e-6)


def test_uniform_scaling_meets_budget_with_equality() -> None:
    w = complex_normal((8, 5, 4), generator=make_generator(2), dtype=C128)
    p = torch.linspace(1.0, 8.0, 8, dtype=torch.float64)
    x = scale_to_per_antenna_power(w, p)
    assert torch.allclose(_rows(x).amax(-1), p / 5, rtol=1e-12)
    ratio = x / w  # one common factor per matrix
    assert torch.allclose(ratio, ratio[:, :1, :1].expand_as(ratio), rtol=1e-12)
    assert torch.equal(scale_to_per_antenna_power(torch.zeros(5, 4, dtype=C128), 1.0),
                       torch.zeros(5, 4, dtype=C128))
    with pytest.raises(IsacError):
        project_per_antenna_power(w, -1.0)
