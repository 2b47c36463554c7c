"""RSU assignment of ding_dt (solvers.assignment): zeta (47) against explicit loops, Alg. 3's
termination and its gap to the exhaustive oracle, K = 1 agreement, the exhaustive search and
Alg. 2 against per-element reference loops, padding, the sensing constraint and bad inputs.

Instances: two RSUs at (0, +-30) m, vehicles on the lanes y = +-2.5 m with x in [-30, 30],
h = sqrt(N) sqrt(alpha/d^2) a^H(phi), alpha = sigma_c^2 = -70 dB, P = 40 dB (interference
limited, so the assignment matters; spec ding_dt §6.1).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from isaclearn.arrays import ula_u, ula_u_derivative
from isaclearn.core import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.assignment import (
    STOP_CAP,
    STOP_NO_GAIN,
    AssignmentResult,
    assign_alg3,
    assign_distance,
    assign_exhaustive,
    assign_greedy,
    nearest_rsu,
    zeta,
)
from isaclearn.solvers.fractional import FPOptions, fp_beamforming, mrt_beams, serving_mask

NOISE = 1e-7  # -70 dB
POWER = 1e4  # 40 dB
OPT = FPOptions(max_iter=60)


def highway(batch: int, k: int, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Channels [B, 2, K, N], distances [B, 2, K], direction cosines [B, 2, K] (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, k, generator=g, dtype=torch.float64) * 60 - 30
    lane = torch.where(torch.rand(batch, k, generator=g) < 0.5, 2.5, -2.5).double()
    rsu_y = torch.tensor([30.0, -30.0], dtype=torch.float64)
    dx = x[:, None, :].expand(batch, 2, k)
    dy = lane[:, None, :] - rsu_y[None, :, None]
    d = torch.sqrt(dx**2 + dy**2)
    phi = dx / d
    h = math.sqrt(n) * torch.sqrt(1e-7 / d**2)[..., None] * ula_u(n, phi).conj()
    return h, d, phi


def rates_loop(h: torch.Tensor, f: torch.Tensor, assign: torch.Tensor,
               mask: torch.Tensor | None = None) -> np.ndarray:
    """log2(1 + SINR) of (10) by explicit loops, [B, K] (0 for padding)."""
    hb, fb, ab = h.numpy(), f.numpy(), assign.numpy()
    mk = np.ones(ab.shape, bool) if mask is None else mask.numpy()
    out = np.zeros(ab.shape)
    for b in range(ab.shape[0]):
        for k in range(ab.shape[1]):
            if not mk[b, k]:
                continue
            i = ab[b, k]
            sig = abs(hb[b, i, k] @ fb[b, i, k]) ** 2
            intf = sum(abs(hb[b, i, k] @ fb[b, i, m]) ** 2 for m in range(ab.shape[1])
                       if m != k and mk[b, m] and ab[b, m] == i)
            out[b, k] = np.log2(1 + sig / (intf + NOISE))
    return out


def test_zeta_matches_explicit_formula():
    h, d, _ = highway(3, 5, 8, seed=1)
    assign = d.argmin(1)
    mask = torch.tensor([[True] * 5, [True] * 4 + [False], [True] * 5])
    g = torch.Generator().manual_seed(7)
    f = torch.complex(torch.randn(h.shape, generator=g, dtype=torch.float64),
                      torch.randn(h.shape, generator=g, dtype=torch.float64)) * 30
    z = zeta(h, f, assign, NOISE, POWER, mask=mask).numpy()
    hb, fb, ab, mk = h.numpy(), f.numpy(), assign.numpy(), mask.numpy()
    for b in range(3):
        for i in range(2):
            for k in range(5):
                if not mk[b, k]:
                    assert z[b, i, k] == 0
                    continue
                served = [m for m in range(5) if mk[b, m] and ab[b, m] == i and m != k]
                intf = sum(abs(hb[b, i, k] @ fb[b, i, m]) ** 2 for m in served)
                if ab[b, k] == i:
                    sig = abs(hb[b, i, k] @ fb[b, i, k]) ** 2
                else:  # as if served with sqrt(P) a(phi)
                    sig = POWER * np.linalg.norm(hb[b, i, k]) ** 2
                assert z[b, i, k] == pytest.approx(np.log1p(sig / (intf + NOISE)), rel=1e-9)


def test_nearest_rsu_and_distance_design():
    h, d, _ = highway(4, 6, 8, seed=2)
    a = nearest_rsu(d)
    assert torch.equal(a, (d[:, 1] < d[:, 0]).long())
    res = assign_distance(h, d, NOISE, POWER, options=OPT)
    assert isinstance(res, AssignmentResult)
    assert torch.equal(res.assign, a)
    f_ref, _ = fp_beamforming(h, a, NOISE, POWER, max_iter=OPT.max_iter)
    assert torch.allclose(res.beams, f_ref, rtol=0, atol=1e-9 * math.sqrt(POWER))


def test_single_vehicle_greedy_distance_exhaustive_agree():
    h, d, _ = highway(8, 1, 8, seed=3)
    results = [fn(h, d, NOISE, POWER, options=OPT)
               for fn in (assign_distance, assign_greedy, assign_alg3)]
    results.append(assign_exhaustive(h, NOISE, POWER, options=OPT))
    for r in results[1:]:
        assert torch.equal(r.assign, results[0].assign)
        assert torch.allclose(r.sum_rate, results[0].sum_rate, rtol=1e-9)
    # alone, a vehicle gets the full-power matched beam: rate log2(1 + P |h|^2 / sigma^2)
    i = results[0].assign[:, 0]
    gain = (h[torch.arange(8), i, 0].abs() ** 2).sum(-1)
    assert torch.allclose(results[0].sum_rate, torch.log2(1 + POWER * gain / NOISE), rtol=1e-9)


def test_alg3_terminates_without_positive_gain_and_respects_the_cap():
    h, d, _ = highway(8, 6, 8, seed=4)
    res = assign_alg3(h, d, NOISE, POWER, options=OPT)
    assert bool((res.flips <= 2 * 6).all())
    z = zeta(h, res.beams, res.assign, NOISE, POWER)
    xi = serving_mask(res.assign, 2)
    e = (z * (1 - 2 * xi.double())).sum(1)  # sum_i zeta (1 - 2 xi)
    done = res.stop == STOP_NO_GAIN
    assert bool(done.any())
    assert bool((e[done] <= 1e-12).all())
    assert bool((res.flips > 0).any())  # the instance makes Alg. 3 move vehicles
    # with no flips allowed Alg. 3 is the distance design, stopped by the cap where e_k > 0
    res0 = assign_alg3(h, d, NOISE, POWER, options=OPT, max_flips=0)
    dist = assign_distance(h, d, NOISE, POWER, options=OPT)
    assert torch.equal(res0.assign, dist.assign)
    assert torch.allclose(res0.sum_rate, dist.sum_rate, rtol=1e-12)
    assert bool((res0.stop[res.flips > 0] == STOP_CAP).all())


def test_alg3_reaches_95_percent_of_exhaustive_for_small_k():
    ratios = []
    gains = []
    for k in range(2, 7):
        h, d, _ = highway(6, k, 8, seed=10 + k)
        a3 = assign_alg3(h, d, NOISE, POWER, options=OPT)
        ex = assign_exhaustive(h, NOISE, POWER, options=OPT)
        dist = assign_distance(h, d, NOISE, POWER, options=OPT)
        ratios.append(float(a3.sum_rate.mean() / ex.sum_rate.mean()))
        gains.append(float((a3.sum_rate - dist.sum_rate).mean()))
        for r in (a3, ex):
            assert np.allclose(r.rates.numpy(), rates_loop(h, r.beams, r.assign), rtol=1e-9)
    assert min(ratios) >= 0.95, ratios
    assert sum(gains) > 0  # interference-limited: re-assignment pays off on average


def test_exhaustive_equals_a_loop_over_all_assignments():
    h, d, _ = highway(2, 3, 8, seed=5)
    ex = assign_exhaustive(h, NOISE, POWER, options=OPT, chunk_size=3)
    assert bool((ex.fp_runs == 8).all())
    for b in range(2):
        best, arg = -math.inf, None
        for cand in itertools.product(range(2), repeat=3):
            a = torch.tensor([cand])
            f, _ = fp_beamforming(h[b:b + 1], a, NOISE, POWER, max_iter=OPT.max_iter)
            rate = rates_loop(h[b:b + 1], f, a).sum()
            if rate > best + 1e-9:
                best, arg = rate, cand
        assert ex.sum_rate[b].item() == pytest.approx(best, rel=1e-9)
        assert tuple(ex.assign[b].tolist()) == arg


def _greedy_reference(h: torch.Tensor, d: torch.Tensor) -> list[list[int]]:
    """Alg. 2 for one element at a time, with the same warm starts as the batched code."""
    out = []
    for b in range(h.shape[0]):
        hb, db = h[b:b + 1], d[b]
        k_all = hb.shape[2]
        key = (1 / db[0] - 1 / db[1]) ** 2
        order = sorted(range(k_all), key=lambda k: -float(key[k]))
        mrt = mrt_beams(hb, POWER)
        xi = torch.zeros(1, 2, k_all, dtype=torch.bool)
        first = order[0]
        xi[0, int(db[:, first].argmin()), first] = True
        f, _ = fp_beamforming(hb, xi, NOISE, POWER, init=mrt, max_iter=OPT.max_iter)
        for k in order[1:]:
            best = None
            for i in range(2):
                x = xi.clone()
                x[0, i, k] = True
                init = f.clone()
                init[0, i, k] = mrt[0, i, k]
                fi, _ = fp_beamforming(hb, x, NOISE, POWER, init=init, max_iter=OPT.max_iter)
                zk = float(zeta(hb, fi, x, NOISE, POWER)[0, i, k])
                if best is None or zk >= best[0]:  # ties go to RSU 2, as in the paper
                    best = (zk, x, fi)
            assert best is not None
            _, xi, f = best
        out.append(xi[0].long().argmax(0).tolist())
    return out


def test_greedy_matches_a_per_element_reference():
    h, d, _ = highway(4, 5, 8, seed=6)
    res = assign_greedy(h, d, NOISE, POWER, options=OPT)
    assert res.assign.tolist() == _greedy_reference(h, d)
    assert np.allclose(res.rates.numpy(), rates_loop(h, res.beams, res.assign), rtol=1e-9)


def test_padding_changes_nothing():
    h, d, _ = highway(2, 4, 8, seed=8)
    hg, dg, _ = highway(2, 2, 8, seed=99)  # garbage vehicles appended as padding
    hp = torch.cat([h, hg * 5], 2)
    dp = torch.cat([d, dg], 2)
    mask = torch.tensor([[True] * 4 + [False] * 2] * 2)
    for fn in (assign_distance, assign_alg3, assign_greedy):
        ref, pad = fn(h, d, NOISE, POWER, options=OPT), fn(hp, dp, NOISE, POWER, mask=mask,
                                                           options=OPT)
        assert torch.equal(pad.assign[:, :4], ref.assign) and bool((pad.assign[:, 4:] == 0).all())
        assert torch.allclose(pad.sum_rate, ref.sum_rate, rtol=1e-9)
        assert bool((pad.beams[:, :, 4:] == 0).all()) and bool((pad.rates[:, 4:] == 0).all())
    ex, exp_ = assign_exhaustive(h, NOISE, POWER, options=OPT), \
        assign_exhaustive(hp, NOISE, POWER, mask=mask, options=OPT)
    assert torch.equal(exp_.assign[:, :4], ex.assign)
    assert torch.allclose(exp_.sum_rate, ex.sum_rate, rtol=1e-9)
    assert bool((exp_.fp_runs == 16).all())


def test_sensing_constraint_holds_for_the_served_pairs():
    n = 8
    h, d, phi = highway(3, 4, n, seed=12)
    a, ad = ula_u(n, phi), ula_u_derivative(n, phi)
    pi = ad[..., :, None] * a.conj()[..., None, :] + a[..., :, None] * ad.conj()[..., None, :]
    gram = pi.conj().transpose(-1, -2) @ pi
    lmax = torch.linalg.eigvalsh(gram)[..., -1]
    g = torch.Generator().manual_seed(3)
    lam = (torch.rand(lmax.shape, generator=g, dtype=torch.float64) * 1.2) * POWER * lmax
    for fn in (assign_alg3, assign_greedy):
        res = fn(h, d, NOISE, POWER, gram=gram, threshold=lam, options=OPT)
        xi = serving_mask(res.assign, 2)
        assert torch.equal(res.constrained, xi)
        assert torch.equal(res.infeasible, xi & (lam > POWER * lmax))
        afa = torch.einsum("...n,...nm,...m->...", res.beams.conj(), gram, res.beams).real
        want = torch.minimum(lam, POWER * lmax * (1 - OPT.clip_margin))
        assert bool((afa[xi] >= want[xi] * (1 - 1e-9)).all())
        assert np.allclose(res.rates.numpy(), rates_loop(h, res.beams, res.assign), rtol=1e-9)


def test_bad_inputs():
    h, d, _ = highway(2, 3, 4, seed=0)
    with pytest.raises(ConfigError):
        assign_greedy(torch.cat([h, h[:, :1]], 1), torch.cat([d, d[:, :1]], 1), NOISE, POWER)
    with pytest.raises(ConfigError):
        assign_exhaustive(h, NOISE, POWER, max_candidates=4)
    with pytest.raises(ShapeError):
        assign_alg3(h, d[:, :, :2], NOISE, POWER)
    with pytest.raises(ValueRangeError):
        assign_alg3(h, -d, NOISE, POWER)
    with pytest.raises(ConfigError):
        assign_alg3(h, d, NOISE, POWER, options={"max_iter": 3})  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        assign_alg3(h, d, NOISE, POWER, max_flips=-1)
    with pytest.raises(ShapeError):
        assign_distance(h, d, NOISE, POWER, mask=torch.ones(2, 3))
