"""Tests of the IRS baselines (isaclearn.solvers.irs) and the matrix WMMSE
(isaclearn.solvers.mimo_wmmse) of liu_irs_ppo spec §4.

References: the inner designers composed by hand on the effective channel, the ZF
diagonalization, the MISO WMMSE (for N = S = 1), the log-det rate metric and the monotone
objective of the block coordinate descent.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from isaclearn.channels.irs import (
    IrsIsacConfig,
    IrsIsacProblem,
    IrsIsacScenario,
    direct_channel,
    effective_channel,
    phase_levels,
)
from isaclearn.core import ConfigError, Design, Designer, complex_normal, make_generator
from isaclearn.core.linalg import scale_to_per_antenna_power
from isaclearn.metrics.comm import mimo_rates
from isaclearn.metrics.power import per_antenna_power
from isaclearn.solvers import MRT, WMMSE, ZF, mrt, wmmse
from isaclearn.solvers.irs import FixedPhases, MimoWmmse, choose_phases, without_irs
from isaclearn.solvers.mimo_wmmse import mimo_wmmse

C128 = torch.complex128


def _problem(seed: int = 0, batch: int = 4, dtype: torch.dtype = C128,
             **changes: object) -> IrsIsacProblem:
    cfg = dataclasses.replace(IrsIsacConfig(), **changes)  # type: ignore[arg-type]
    return IrsIsacScenario(cfg).sample(batch, generator=make_generator(seed), dtype=dtype)


def test_fixed_phases_mrt_equals_hand_composition(cdtype: torch.dtype) -> None:
    p = _problem(0, 4, dtype=cdtype)
    d = FixedPhases(MRT()).design(p)
    assert isinstance(FixedPhases(MRT()), Designer) and isinstance(d, Design)
    h = effective_channel(p, p.reflection(p.phases0))
    want = scale_to_per_antenna_power(mrt(h, p.p_max), p.p_max)
    tol = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert torch.allclose(d.w, want, rtol=tol, atol=tol * float(want.abs().max()))
    assert d.w.shape == (4, 5, 4) and d.w.dtype == cdtype
    assert torch.allclose(per_antenna_power(d.w).amax(-1),
                          torch.full((4,), p.p_max / 5, dtype=d.w.real.dtype), rtol=tol)
    assert torch.equal(d.extras["phases"], p.phases0)


def test_fixed_phases_zf_keeps_zero_interference() -> None:
    p = _problem(1, 5)
    d = FixedPhases(ZF()).design(p)
    g = effective_channel(p, d.extras["reflection"]) @ d.w  # [B, K, K]
    off = g - torch.diag_embed(torch.diagonal(g, dim1=-2, dim2=-1))
    assert float(off.abs().max()) <= 1e-9 * float(g.abs().max())


def test_without_irs_uses_the_direct_channel() -> None:
    p = _problem(2, 3)
    d = without_irs(WMMSE(max_iter=20)).design(p)
    assert torch.equal(d.extras["reflection"], torch.zeros(3, 16, dtype=C128))
    scale = math.sqrt(p.noise_var)
    want = scale_to_per_antenna_power(
        wmmse(direct_channel(p) / scale, p.p_max, 1.0, max_iter=20), p.p_max)
    assert torch.allclose(d.w, want, rtol=1e-9, atol=1e-9)
    assert without_irs(ZF()).name == "zf+off"


def test_phase_choices() -> None:
    p = _problem(3, 6)
    a = FixedPhases(MRT(), phases="random", seed=5)
    b = FixedPhases(MRT(), phases="random", seed=5)
    pa1, pb1 = a.design(p).extras["phases"], b.design(p).extras["phases"]
    assert torch.equal(pa1, pb1)  # reproducible by seed
    assert not torch.equal(a.design(p).extras["phases"], pa1)  # a new draw per call
    assert float(pa1.abs().max()) <= math.pi / 2
    q = FixedPhases(MRT(), phases="co_phasing", quantize=True).design(p).extras["phases"]
    levels = phase_levels(3, dtype=torch.float64)
    assert bool((q[..., None] - levels).abs().min(-1).values.max() < 1e-12)
    idx = torch.zeros(16, dtype=torch.long)
    beta, v = choose_phases(p, idx)
    assert torch.equal(beta, torch.zeros(6, 16, dtype=torch.float64))
    assert torch.allclose(v, torch.full((6, 16), 0.2 + (1 - 0.2) * 0.5**1.6, dtype=C128))
    with pytest.raises(ConfigError):
        FixedPhases(MRT(), phases="learned")  # type: ignore[arg-type]


def test_co_phasing_raises_the_users_gain() -> None:
    """Co-phasing towards user 0 gives it more channel gain than the random V^0 (IRS made strong
    by a deeper blockage)."""
    p = _problem(4, 50, direct_link_db=-90.0)
    _, v_co = choose_phases(p, "co_phasing")
    _, v_0 = choose_phases(p, "initial")
    g_co = effective_channel(p, v_co)[:, 0].abs().square().sum(-1)
    g_0 = effective_channel(p, v_0)[:, 0].abs().square().sum(-1)
    assert float((g_co > g_0).double().mean()) > 0.9


def test_project_power_rule_is_feasible() -> None:
    p = _problem(5, 4)
    d = FixedPhases(WMMSE(max_iter=10), power_rule="project").design(p)
    assert bool((per_antenna_power(d.w) <= p.p_max / 5 * (1 + 1e-12)).all())


def test_mimo_wmmse_equals_miso_wmmse_for_one_antenna() -> None:
    h = complex_normal((6, 4, 1, 5), generator=make_generator(6), dtype=C128)
    w_miso, info_miso = wmmse(h[:, :, 0, :], 2.0, 0.2, init="mrt", max_iter=30, tol=0.0,
                              return_info=True)
    # from the same start (MRT: W_k = h_k^H) the iterates coincide
    w, info = mimo_wmmse(h, 2.0, 0.2, max_iter=30, tol=0.0, init=h.conj().transpose(-2, -1),
                         return_info=True)
    assert torch.allclose(w[..., 0].transpose(-2, -1), w_miso, rtol=1e-8, atol=1e-8)
    assert torch.allclose(info.objective, info_miso.objective, rtol=1e-9)
    # the default eigen-beamforming start is MRT up to a phase per user: same objective
    _, info_eig = mimo_wmmse(h, 2.0, 0.2, max_iter=30, tol=0.0, return_info=True)
    assert torch.allclose(info_eig.objective, info_miso.objective, rtol=1e-9)


def test_mimo_wmmse_monotone_budget_and_rate() -> None:
    h = complex_normal((5, 4, 3, 5), generator=make_generator(7), dtype=C128)
    p = torch.tensor([1.0, 2.0, 5.0, 10.0, 0.5], dtype=torch.float64)
    w, info = mimo_wmmse(h, p, 0.5, max_iter=40, return_info=True)
    assert w.shape == (5, 4, 5, 3)
    assert bool((info.objective.diff(dim=-1) >= -1e-9).all())
    assert torch.allclose(w.abs().square().sum((-3, -2, -1)), p, rtol=1e-8)
    assert torch.allclose(info.objective[:, -1], mimo_rates(h, w, 0.5).sum(-1), rtol=1e-9)
    # better than its eigen-beamforming start
    assert bool((info.objective[:, -1] > info.objective[:, 0]).all())
    w2, _ = mimo_wmmse(h, p, 0.5, num_streams=1, max_iter=5, return_info=True)
    assert w2.shape == (5, 4, 5, 1)


def test_mimo_wmmse_designer() -> None:
    p = _problem(8, 3, mimo=True)
    d = MimoWmmse(max_iter=20).design(p)
    assert d.w.shape == (3, 4, 5, 4)
    peak = per_antenna_power(d.w).amax(-1)  # per user: [B, K]
    active = peak > 0
    assert torch.allclose(peak[active], torch.full_like(peak[active], p.p_max / 5), rtol=1e-10)
    assert torch.equal(d.extras["phases"], p.phases0)
    assert bool((d.info["objective"].diff(dim=-1) >= -1e-9).all())
    d2 = MimoWmmse(max_iter=5, budget="per_user", power_rule="project").design(p)
    assert bool((per_antenna_power(d2.w) <= p.p_max / 5 * (1 + 1e-12)).all())
    with pytest.raises(ConfigError):
        MimoWmmse().design(_problem(8, 2))
    with pytest.raises(ConfigError):
        FixedPhases(MRT()).design(p)
