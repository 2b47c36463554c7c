"""WMMSE: shapes, power constraint, monotone objective, closed forms and the acceptance criteria."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaclearn.channels import DownlinkIsacScenario, RicianChannel
from isaclearn.core import (
    ConfigError,
    ShapeError,
    ValueRangeError,
    complex_normal,
    fro_norm_sq,
    make_generator,
)
from isaclearn.metrics import rates, sum_rate
from isaclearn.solvers import WmmseInfo, mmse, mrt, wmmse, zf


def _tols(dtype: torch.dtype) -> dict[str, float]:
    return dict(rtol=1e-4, atol=1e-5) if dtype == torch.complex64 else dict(rtol=1e-9, atol=1e-10)


def _monotone_slack(dtype: torch.dtype) -> float:
    """Allowed relative decrease per iteration: rounding of the rate itself."""
    return 2e-6 if dtype == torch.complex64 else 1e-11


def _water_filling_rate(gain: np.ndarray, power: float) -> float:
    """Independent reference: max sum_k log2(1 + p_k g_k) s.t. sum p = P, by bisection on the
    water level."""
    lo, hi = 0.0, power + float((1.0 / gain).max())
    for _ in range(200):
        nu = 0.5 * (lo + hi)
        if np.clip(nu - 1.0 / gain, 0.0, None).sum() > power:
            hi = nu
        else:
            lo = nu
    p = np.clip(lo - 1.0 / gain, 0.0, None)
    return float(np.log2(1.0 + p * gain).sum())


@pytest.mark.parametrize("batch", [(), (3,), (2, 2)], ids=["unbatched", "B", "B1xB2"])
def test_shape_dtype_device_and_power(batch, cdtype, device, gen):
    h = complex_normal((*batch, 3, 5), generator=gen, dtype=cdtype)
    w, info = wmmse(h, 2.0, 0.05, max_iter=30, return_info=True)
    assert w.shape == (*batch, 5, 3) and w.dtype == cdtype and w.device == h.device
    power = fro_norm_sq(w)
    rel = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert bool((power <= 2.0 * (1 + rel)).all()) and bool((power >= 2.0 * (1 - 1e-4)).all())
    assert isinstance(info, WmmseInfo)
    assert info.objective.shape == (*batch, info.iterations + 1)
    assert info.objective.dtype == w.real.dtype
    assert info.init_index.shape == batch and info.converged.shape == batch
    assert len(info.init_used) == int(np.prod(batch, dtype=int))
    assert set(info.init_used) <= set(info.init_names) == {"mrt", "zf", "rzf"}


@pytest.mark.parametrize("mk", [(6, 4), (4, 4), (3, 5)], ids=["M>K", "M=K", "M<K"])
def test_objective_never_decreases_and_matches_the_metric(mk, cdtype, device, gen):
    m, k = mk
    h = complex_normal((16, k, m), generator=gen, dtype=cdtype)
    for noise in (1.0, 1e-2, 1e-3):
        w, info = wmmse(h, 1.0, noise, init="mrt", max_iter=40, tol=0.0, return_info=True)
        obj = info.objective
        assert info.iterations == 40
        slack = _monotone_slack(cdtype) * obj[..., :-1].abs()
        assert bool((obj.diff(dim=-1) >= -slack).all())
        torch.testing.assert_close(obj[..., 0], sum_rate(h, mrt(h, 1.0), noise), **_tols(cdtype))
        torch.testing.assert_close(obj[..., -1], sum_rate(h, w, noise), **_tols(cdtype))


def test_best_init_is_the_per_instance_best_of_the_single_runs(cdtype, device, gen):
    h = complex_normal((24, 4, 4), generator=gen, dtype=cdtype)
    noise = 1e-3
    w, info = wmmse(h, 1.0, noise, max_iter=40, tol=0.0, return_info=True)
    singles = {
        name: sum_rate(h, wmmse(h, 1.0, noise, init=name, max_iter=40, tol=0.0), noise)
        for name in ("mrt", "zf", "rzf")
    }
    best = torch.stack(list(singles.values())).amax(dim=0)
    torch.testing.assert_close(sum_rate(h, w, noise), best, **_tols(cdtype))
    for name, r in singles.items():
        mask = torch.tensor([u == name for u in info.init_used], device=h.device)
        torch.testing.assert_close(r[mask], best[mask], **_tols(cdtype))


def test_batched_equals_per_instance(device, gen):
    h = complex_normal((5, 3, 4), generator=gen, dtype=torch.complex128)
    power = torch.tensor([0.5, 1.0, 2.0, 1.0, 3.0], dtype=torch.float64, device=device)
    w = wmmse(h, power, 0.1, max_iter=25, tol=0.0)
    for b in range(5):
        wb = wmmse(h[b], float(power[b]), 0.1, max_iter=25, tol=0.0)
        torch.testing.assert_close(w[b], wb, rtol=1e-8, atol=1e-10)


def test_single_user_reaches_the_mrt_capacity(cdtype, device, gen):
    h = complex_normal((8, 1, 4), generator=gen, dtype=cdtype)
    w = wmmse(h, 2.0, 0.1, init="zf")
    cap = torch.log2(1.0 + 2.0 * fro_norm_sq(h) / 0.1)
    torch.testing.assert_close(sum_rate(h, w, 0.1), cap, **_tols(cdtype))


def test_orthogonal_channels_reach_water_filling(device):
    """Orthogonal user channels decouple the problem: the optimum is interference-free
    water-filling over the gains ||h_k||^2 / sigma^2 (computed here independently)."""
    gen = make_generator(7, device)
    m, k, noise, power = 6, 4, 0.1, 1.0
    q, _ = torch.linalg.qr(complex_normal((3, m, m), generator=gen, dtype=torch.complex128))
    gains = torch.tensor([[2.0, 1.0, 0.3, 0.02], [1.0, 1.0, 1.0, 1.0], [5.0, 0.1, 0.05, 0.01]],
                         dtype=torch.float64, device=device)
    h = torch.sqrt(gains)[..., None].to(q.dtype) * q.mH[:, :k, :]
    w = wmmse(h, power, noise, init="mrt", max_iter=400, tol=1e-13)
    got = sum_rate(h, w, noise)
    for b in range(3):
        ref = _water_filling_rate(gains[b].cpu().numpy() / noise, power)
        assert abs(got[b].item() - ref) <= 1e-6 * ref


def test_weights(device, gen):
    h = complex_normal((6, 3, 4), generator=gen, dtype=torch.complex128)
    weights = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64, device=device)
    w, info = wmmse(h, 1.0, 0.1, weights=weights, max_iter=50, return_info=True)
    # A user with zero weight is switched off after the first iteration.
    assert fro_norm_sq(w[..., 1:2]).amax() <= 1e-20
    torch.testing.assert_close(info.objective[..., -1], (weights * rates(h, w, 0.1)).sum(-1))
    assert bool((info.objective.diff(dim=-1) >= -1e-11 * info.objective[..., 1:]).all())


def test_given_initial_precoder(device, gen):
    h = complex_normal((4, 3, 4), generator=gen, dtype=torch.complex128)
    w0 = 5.0 * mmse(h, 1.0, 0.1)  # scaled to the budget before the first iteration
    w, info = wmmse(h, 1.0, 0.1, init=w0, max_iter=10, tol=0.0, return_info=True)
    torch.testing.assert_close(w, wmmse(h, 1.0, 0.1, init="rzf", max_iter=10, tol=0.0))
    assert info.init_used == ["given"] * 4
    w_zero_iter = wmmse(h, 1.0, 0.1, init=w0, max_iter=0)
    torch.testing.assert_close(w_zero_iter, mmse(h, 1.0, 0.1))


def test_input_errors(gen):
    h = complex_normal((2, 5, 4), generator=gen, dtype=torch.complex64)
    with pytest.raises(ConfigError, match="init"):
        wmmse(h, 1.0, 0.1, init="svd")
    with pytest.raises(ShapeError, match="K <= M"):
        wmmse(h, 1.0, 0.1, init="zf")
    with pytest.raises(ShapeError, match="w0"):
        wmmse(h, 1.0, 0.1, init=torch.ones(2, 5, 4, dtype=torch.complex64))
    with pytest.raises(ValueRangeError, match="nonzero"):
        wmmse(h, 1.0, 0.1, init=torch.zeros(2, 4, 5, dtype=torch.complex64))
    with pytest.raises(ValueRangeError, match="weights"):
        wmmse(h, 1.0, 0.1, weights=-torch.ones(5))
    with pytest.raises(ShapeError, match="weights"):
        wmmse(h, 1.0, 0.1, weights=torch.ones(4))
    with pytest.raises(ConfigError, match="max_iter"):
        wmmse(h, 1.0, 0.1, max_iter=-1)
    with pytest.raises(ValueRangeError, match="noise_var"):
        wmmse(h, 1.0, -0.1)
    # K > M: "best" silently skips ZF.
    _, info = wmmse(h, 1.0, 0.1, max_iter=3, return_info=True)
    assert info.init_names == ("mrt", "rzf")


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
@pytest.mark.parametrize("mk", [(16, 8), (10, 10)], ids=["M16K8", "M10K10"])
def test_acceptance_wmmse_beats_zf_and_mmse_on_average(mk, snr_db):
    """Acceptance criterion: WMMSE with the default initialization reaches at least the mean
    sum rate of ZF and of MMSE on the project scenario."""
    m, k = mk
    scenario = DownlinkIsacScenario(channel=RicianChannel(num_antennas=m, num_users=k),
                                    snr_db=snr_db)
    problem = scenario.sample(64, generator=make_generator(2024))
    h, p, n = problem.h, problem.power, problem.noise_var
    r_wmmse = sum_rate(h, wmmse(h, p, n), n).mean()
    assert r_wmmse >= sum_rate(h, zf(h, p), n).mean()
    assert r_wmmse >= sum_rate(h, mmse(h, p, n), n).mean()
