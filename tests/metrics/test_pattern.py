"""Tests of isaclearn.metrics.pattern, metrics.power and metrics.comm.mimo_rates
(liu_irs_ppo eqs. 13, 16, 17, 22 and the log-det rate of spec §2; spec §7 "Correctness").

References: explicit loops in NumPy, closed forms for R = 0 and R = (P/M)I, Jensen's bound,
the scalar SINR of eq. (13), and torch.autograd.gradcheck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isaclearn.core import IsacError, ShapeError, complex_normal, make_generator
from isaclearn.metrics import beampattern, rates
from isaclearn.metrics.comm import mimo_rates, mimo_sum_rate
from isaclearn.metrics.pattern import (
    angle_grid,
    beampattern_error,
    beampattern_mse,
    constraint_violation,
    desired_pattern,
    paper_beampattern,
)
from isaclearn.metrics.power import per_antenna_power, per_antenna_violation, total_power

C128 = torch.complex128
TARGETS = torch.deg2rad(torch.tensor([-40.0, 0.0, 40.0], dtype=torch.float64))
FRACTION = 303 / 1801


def _desired(width_deg: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = angle_grid(dtype=torch.float64)
    return g, desired_pattern(g, TARGETS, math.radians(width_deg))


def test_grid() -> None:
    g = angle_grid(dtype=torch.float64)
    assert g.shape == (1801,)
    assert float(g[0]) == pytest.approx(-math.pi / 2) and float(g[-1]) == pytest.approx(
        math.pi / 2)
    assert torch.allclose(g.diff(), torch.full((1800,), math.radians(0.1), dtype=torch.float64))
    assert angle_grid(1.0).shape == (181,)
    with pytest.raises(IsacError):
        angle_grid(0.7)


def test_desired_pattern_counts() -> None:
    g, d = _desired()
    assert int(d.sum()) == 303  # 3 · 101 ones
    assert float(d.mean()) == pytest.approx(0.1682, abs=5e-5)
    # explicit: the ones are exactly the grid points within 5° (in tenths of a degree)
    tenths = np.arange(-900, 901)
    want = np.zeros(1801)
    for t in (-400, 0, 400):
        want[np.abs(tenths - t) <= 50] = 1.0
    np.testing.assert_array_equal(d.numpy(), want)
    _, d5 = _desired(5.0)
    assert int(d5.sum()) == 3 * 51
    # float32 grid gives the same mask; a height scales it; per-instance targets broadcast
    g32 = angle_grid()
    assert int(desired_pattern(g32, TARGETS.float(), math.radians(10)).sum()) == 303
    h = desired_pattern(g, TARGETS.expand(2, 3), math.radians(10), height=torch.tensor([1., 2.],
                        dtype=torch.float64))
    assert h.shape == (2, 1801) and float(h[1].sum()) == 606


def test_beampattern_against_loop() -> None:
    w = complex_normal((2, 5, 3), generator=make_generator(0), dtype=C128)
    g = torch.deg2rad(torch.tensor([-73.0, -40.0, 0.0, 12.5, 88.0], dtype=torch.float64))
    got = paper_beampattern(w, g).numpy()
    wn = w.numpy()
    for b in range(2):
        r = wn[b] @ wn[b].conj().T
        for i, psi in enumerate(g.tolist()):
            a = np.exp(-1j * np.pi * np.arange(5) * math.sin(psi)) / math.sqrt(5)
            assert got[b, i] == pytest.approx((a.conj() @ r @ a).real, rel=1e-12)
    # the sign -1 pattern is the sign +1 pattern mirrored; the default is unchanged
    plus = beampattern(w, -g, reference="first", spacing=0.5) / 5
    assert torch.allclose(torch.as_tensor(got), plus, rtol=1e-12)


def test_lr_for_zero_and_isotropic_covariance() -> None:
    g, d = _desired()
    m = 5
    assert float(beampattern_mse(torch.zeros(m, 4, dtype=C128), d, g)) == pytest.approx(
        FRACTION, rel=1e-12)
    for p in (1.0, 3.0, 10.0):
        w = math.sqrt(p / m) * torch.eye(m, dtype=C128)  # R = (P/M) I
        want = FRACTION * (1 - p / m) ** 2 + (1 - FRACTION) * (p / m) ** 2
        assert float(beampattern_mse(w, d, g)) == pytest.approx(want, rel=1e-10)
    w1 = math.sqrt(1 / m) * torch.eye(m, dtype=C128)
    assert float(beampattern_mse(w1, d, g)) == pytest.approx(0.141, abs=5e-4)


def test_lr_jensen_bound_and_per_user_shape() -> None:
    g, d = _desired()
    w = complex_normal((50, 5, 4), generator=make_generator(1), dtype=C128) * 0.7
    lr = beampattern_mse(w, d, g)
    pat = paper_beampattern(w, g)
    assert torch.allclose(lr, beampattern_error(pat, d))
    assert bool((lr >= (pat.mean(-1) - d.mean()).square() - 1e-12).all())
    wk = complex_normal((3, 4, 5, 4), generator=make_generator(2), dtype=C128)  # [B, K, M, N]
    assert beampattern_mse(wk, d, g).shape == (3, 4)


def test_lr_gradcheck() -> None:
    g = torch.deg2rad(torch.linspace(-90, 90, 37, dtype=torch.float64))
    d = desired_pattern(g, TARGETS, math.radians(10))
    w = complex_normal((2, 3, 2), generator=make_generator(3), dtype=C128).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: beampattern_mse(x, d, g), (w,))


def test_constraint_violation() -> None:
    x = torch.tensor([0.5, 3.0, 3.7], dtype=torch.float64)
    assert torch.allclose(constraint_violation(x, 3.0),
                          torch.tensor([0.0, 0.0, 0.7], dtype=torch.float64))
    assert torch.equal(constraint_violation(x, torch.tensor([1.0, 1.0, 5.0])),
                       torch.tensor([0.0, 2.0, 0.0], dtype=torch.float64))


def test_per_antenna_power_and_violation() -> None:
    w = complex_normal((6, 5, 4), generator=make_generator(4), dtype=C128)
    r = w @ w.conj().transpose(-2, -1)
    diag = torch.diagonal(r, dim1=-2, dim2=-1).real
    assert torch.allclose(per_antenna_power(w), diag)
    assert torch.allclose(total_power(w), diag.sum(-1))
    p_max = 15.0
    viol = per_antenna_violation(w, p_max)
    want = (diag - p_max / 5).clamp_min(0).amax(-1)
    assert torch.allclose(viol, want)
    assert float(per_antenna_violation(w * 1e-3, p_max).max()) == 0.0


def test_mimo_rate_with_one_antenna_equals_sinr_rate() -> None:
    g = make_generator(5)
    h = complex_normal((7, 4, 1, 5), generator=g, dtype=C128)  # [B, K, N=1, M]
    w = complex_normal((7, 4, 5, 1), generator=g, dtype=C128)  # [B, K, M, S=1]
    got = mimo_rates(h, w, 0.3)
    want = rates(h[:, :, 0, :], w[..., 0].transpose(-2, -1), 0.3)  # w columns = users
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(mimo_sum_rate(h, w, 0.3), want.sum(-1), rtol=1e-10)


def test_mimo_rate_against_numpy_logdet() -> None:
    g = make_generator(6)
    h = complex_normal((3, 3, 2, 4), generator=g, dtype=C128)
    w = complex_normal((3, 3, 4, 2), generator=g, dtype=C128)
    nv = torch.tensor([0.1, 1.0, 5.0], dtype=torch.float64)
    got = mimo_rates(h, w, nv).numpy()
    hn, wn = h.numpy(), w.numpy()
    for b in range(3):
        for k in range(3):
            c = nv[b].item() * np.eye(2, dtype=complex)
            for j in range(3):
                if j != k:
                    x = hn[b, k] @ wn[b, j]
                    c = c + x @ x.conj().T
            s = hn[b, k] @ wn[b, k]
            want = np.log2(np.linalg.det(np.eye(2) + s @ s.conj().T @ np.linalg.inv(c)).real)
            assert got[b, k] == pytest.approx(want, rel=1e-10)
    # tiny THz-scale channels in complex64 stay accurate (noise scaled alike)
    small = mimo_rates((h * 1e-8).to(torch.complex64), w.to(torch.complex64), nv.float() * 1e-16)
    assert np.allclose(small.numpy(), got, rtol=1e-4, atol=1e-4)
    with pytest.raises(ShapeError):
        mimo_rates(h, w[:, :2], 1.0)
