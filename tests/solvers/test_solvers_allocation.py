"""The one water-filling routine (isaclearn.solvers.allocation.water_filling): KKT conditions,
agreement with the water-filling step that dpc_sum_capacity used before it shared the routine,
and finite results when many gains are tiny."""

from __future__ import annotations

import pytest
import torch

from isaclearn.core import make_generator
from isaclearn.solvers import water_filling


def _former_dpc_water_fill(inv_gain: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """The private routine of solvers/dpc.py before this refactor, verbatim: powers
    ``(nu - c_k)^+`` with ``sum = total`` for floors ``c`` (finite, non-negative)."""
    k = inv_gain.shape[-1]
    c_sorted, _ = torch.sort(inv_gain, dim=-1)
    n = torch.arange(1, k + 1, dtype=inv_gain.dtype, device=inv_gain.device)
    level = (total[..., None] + torch.cumsum(c_sorted, dim=-1)) / n
    n_active = (level > c_sorted).sum(dim=-1, keepdim=True).clamp_min(1)
    nu = torch.take_along_dim(level, n_active - 1, dim=-1)
    return (nu - inv_gain).clamp_min(0.0)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_matches_the_former_dpc_step_bit_for_bit(k: int, device: str) -> None:
    gen = make_generator(11, device)
    # gains spread over 12 decades, some below the float64 "tiny" clamp and some exactly 0
    gamma = torch.pow(10.0, 12 * torch.rand(64, k, dtype=torch.float64, generator=gen,
                                            device=device) - 6)
    gamma[:4, 0] = 0.0
    gamma[4:8, -1] = 1e-320
    total = 0.1 + 10 * torch.rand(64, dtype=torch.float64, generator=gen, device=device)
    fi = torch.finfo(torch.float64)
    # dpc_sum_capacity's floors before the refactor
    inv_gain = (1.0 / gamma.clamp_min(fi.tiny)).clamp_max(fi.max / (4.0 * k))
    want = _former_dpc_water_fill(inv_gain, total)
    got = water_filling(gamma.clamp_min(fi.tiny), total)  # the call dpc makes now
    assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kkt_conditions(dtype: torch.dtype) -> None:
    gen = make_generator(3)
    g = torch.pow(10.0, 4 * torch.rand(200, 6, dtype=dtype, generator=gen) - 2)
    g[:20, :2] = 0.0
    budget = 0.05 + 5 * torch.rand(200, dtype=dtype, generator=gen)
    x = water_filling(g, budget)
    assert x.dtype == dtype and bool((x >= 0).all())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(x.sum(-1), budget, rtol=tol, atol=0.0)
    assert bool((x[g == 0] == 0).all())
    # x_i + 1/g_i equals the water level where x_i > 0 and is at least the level elsewhere
    inv = torch.where(g > 0, 1.0 / g, torch.full_like(g, float("inf")))
    level = torch.where(x > 0, x + inv, torch.full_like(x, float("nan")))
    mu = torch.nanmean(level, dim=-1, keepdim=True)
    active = x > 0
    torch.testing.assert_close(level[active], mu.expand_as(x)[active], rtol=10 * tol, atol=0.0)
    assert bool((inv[~active] >= mu.expand_as(x)[~active] * (1 - 10 * tol)).all())


def test_many_tiny_gains_stay_finite() -> None:
    # float32: 1/1e-39 is about 8.5e37 after the tiny clamp; six such floors summed exceed the
    # float32 maximum (3.4e38) unless they are capped.
    g = torch.tensor([[1.0, 1e-39, 1e-39, 1e-39, 1e-39, 1e-39, 1e-39, 0.0]], dtype=torch.float32)
    x = water_filling(g, 2.0)
    assert bool(torch.isfinite(x).all())
    torch.testing.assert_close(x, torch.tensor([[2.0, 0, 0, 0, 0, 0, 0, 0]]))
    # an all-zero gain vector allocates nothing
    assert torch.equal(water_filling(torch.zeros(1, 3), 1.0), torch.zeros(1, 3))
