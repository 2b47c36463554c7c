"""DPC sum capacity: closed forms, a SciPy reference, and the bound over every designer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from isaclearn.channels import DownlinkIsacScenario, RicianChannel
from isaclearn.core import ConfigError, ShapeError, complex_normal, fro_norm_sq, make_generator
from isaclearn.metrics import sum_rate
from isaclearn.solvers import dpc_sum_capacity, mmse, mrt, wmmse, zf


def _scipy_dual_mac(h: np.ndarray, power: float, noise: float) -> float:
    """Independent reference: maximize log2 det(I + sum_k q_k h_k^H h_k / noise) over
    q >= 0, sum q <= P with SLSQP (the objective is concave in q)."""
    k, m = h.shape

    def neg_capacity(q: np.ndarray) -> float:
        s = np.eye(m) + (h.conj().T * q) @ h / noise
        return -float(np.linalg.slogdet(s)[1]) / np.log(2.0)

    best = np.inf
    for q0 in (np.full(k, power / k), np.eye(k)[0] * power):
        res = scipy.optimize.minimize(
            neg_capacity, q0, method="SLSQP", bounds=[(0.0, power)] * k,
            constraints=[{"type": "ineq", "fun": lambda q: power - q.sum()}],
            options={"ftol": 1e-14, "maxiter": 1000},
        )
        best = min(best, float(res.fun))
    return -best


def test_single_user_closed_form(cdtype, device, gen):
    h = complex_normal((7, 1, 4), generator=gen, dtype=cdtype)
    c = dpc_sum_capacity(h, 2.0, 0.1)
    assert c.shape == (7,) and c.dtype == h.real.dtype and c.device == h.device
    ref = torch.log2(1.0 + 2.0 * fro_norm_sq(h) / 0.1)
    tol = dict(rtol=1e-6, atol=0.0) if cdtype == torch.complex64 else dict(rtol=1e-12, atol=0.0)
    torch.testing.assert_close(c, ref, **tol)


@pytest.mark.parametrize("km", [(3, 2), (2, 3), (4, 4), (5, 3)])
def test_matches_scipy_reference(km):
    k, m = km
    gen = make_generator(11)
    h = complex_normal((3, k, m), generator=gen, dtype=torch.complex128)
    for power, noise in ((1.0, 1.0), (1.0, 0.01)):
        c, gap = dpc_sum_capacity(h, power, noise, tol=1e-10, return_gap=True)
        for b in range(3):
            ref = _scipy_dual_mac(h[b].numpy(), power, noise)
            assert abs(c[b].item() - ref) <= 1e-6 * ref
        assert bool((gap <= 1e-10 * c + 1e-12).all())


def test_orthogonal_channels_give_water_filling(device):
    """With orthogonal user channels the dual MAC decouples: C = water-filling over
    ||h_k||^2 / sigma^2, here with one user switched off (gain too small)."""
    gen = make_generator(3, device)
    q, _ = torch.linalg.qr(complex_normal((1, 4, 4), generator=gen, dtype=torch.complex128))
    gains = torch.tensor([3.0, 1.0, 0.01], dtype=torch.float64, device=device)
    h = torch.sqrt(gains)[:, None].to(q.dtype) * q[0].mH[:3]
    noise, power = 0.1, 1.0
    # Water level: users 1, 2 active: nu = (P + noise/3 + noise/1) / 2; user 3: noise/0.01 > nu.
    nu = (power + noise / 3.0 + noise / 1.0) / 2.0
    ref = np.log2(nu * 3.0 / noise) + np.log2(nu * 1.0 / noise)
    c = dpc_sum_capacity(h, power, noise, tol=1e-12)
    assert abs(c.item() - ref) <= 1e-9 * ref


def test_per_instance_parameters_and_invariances(device, gen):
    h = complex_normal((4, 3, 4), generator=gen, dtype=torch.complex128)
    power = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64, device=device)
    noise = torch.tensor([0.01, 0.1, 1.0, 0.3], dtype=torch.float64, device=device)
    c = dpc_sum_capacity(h, power, noise, tol=1e-10)
    for b in range(4):
        cb = dpc_sum_capacity(h[b], float(power[b]), float(noise[b]), tol=1e-10)
        torch.testing.assert_close(c[b], cb, rtol=1e-8, atol=0.0)
    # Only the SNR matters: scaling the channel by a and the noise by |a|^2 changes nothing.
    a = 3.0 - 4.0j
    torch.testing.assert_close(dpc_sum_capacity(a * h, power, 25.0 * noise, tol=1e-10), c,
                               rtol=1e-8, atol=0.0)
    # More power never lowers the capacity.
    assert bool((dpc_sum_capacity(h, 2.0 * power, noise, tol=1e-10) > c).all())


@pytest.mark.parametrize("mk", [(10, 10), (8, 4), (4, 6)], ids=["M10K10", "M8K4", "M4K6"])
def test_no_designer_exceeds_the_dpc_bound(mk, cdtype, device, gen):
    """Acceptance criterion: per instance, no designer's sum rate exceeds the DPC bound."""
    m, k = mk
    for snr_db in (0.0, 20.0):
        scenario = DownlinkIsacScenario(channel=RicianChannel(num_antennas=m, num_users=k),
                                        snr_db=snr_db)
        problem = scenario.sample(24, generator=gen, dtype=cdtype)
        h, p, n = problem.h, problem.power, problem.noise_var
        bound, gap = dpc_sum_capacity(h, p, n, return_gap=True)
        designs = [mrt(h, p), mmse(h, p, n), wmmse(h, p, n, max_iter=40),
                   wmmse(h, p, n, init="mrt", max_iter=40)]
        if k <= m:
            designs.append(zf(h, p))
        slack = gap + (1e-5 if cdtype == torch.complex64 else 1e-10) * bound
        for w in designs:
            assert bool((sum_rate(h, w, n) <= bound + slack).all())


def test_input_errors(gen):
    h = complex_normal((2, 3, 4), generator=gen, dtype=torch.complex64)
    with pytest.raises(ShapeError):
        dpc_sum_capacity(h.real, 1.0, 1.0)
    with pytest.raises(ConfigError, match="max_iter"):
        dpc_sum_capacity(h, 1.0, 1.0, max_iter=0)
    with pytest.raises(ShapeError, match="noise_var"):
        dpc_sum_capacity(h, 1.0, torch.ones(3))
