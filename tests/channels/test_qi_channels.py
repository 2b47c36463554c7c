"""Scenario of the qi_uplink system (isaclearn.channels.uplink): shapes, determinism,
statistics with tolerances from the sample size."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.channels.uplink import UplinkProblem, UplinkScenario, path_gain, random_unitary
from isaclearn.core import ConfigError, ShapeError, ValueRangeError, make_generator
from isaclearn.metrics.uplink import rt_eig


def test_path_gain_closed_form() -> None:
    assert float(path_gain(1000.0)) == pytest.approx(10 ** (-12.81), rel=1e-12)
    assert float(path_gain(200.0)) == pytest.approx(10 ** (-12.81) / 0.2 ** 3.76, rel=1e-12)
    with pytest.raises(ValueRangeError):
        path_gain(0.0)


def test_shapes_dtype_device_and_determinism(device: str, cdtype: torch.dtype) -> None:
    sc = UplinkScenario(num_tx=4, num_rx=6, num_users=3, num_symbols=8)
    a = sc.sample(5, generator=make_generator(7, device), dtype=cdtype)
    b = sc.sample(5, generator=make_generator(7, device), dtype=cdtype)
    assert a.h.shape == (5, 6, 3) and a.r_t.shape == (5, 4, 4) and a.p.shape == (5, 3)
    assert a.h.dtype == cdtype and a.h.device.type == device
    torch.testing.assert_close(a.h, b.h)
    torch.testing.assert_close(a.r_t, b.r_t)
    assert a.h_est is None and a.csi is a.h


def test_table2_defaults() -> None:
    sc = UplinkScenario()
    assert (sc.num_tx, sc.num_rx, sc.num_users, sc.num_symbols) == (16, 16, 5, 20)
    assert (sc.cell_radius_m, sc.alpha, sc.snr_s_db, sc.snr_c_db) == (200.0, 0.5, 10.0, 0.0)
    # SNR_s = P_s ξ_0 / σ²
    assert sc.power_s * sc.xi0 / sc.noise_var == pytest.approx(10.0, rel=1e-12)


def test_per_user_snr_and_cell_edge_mode() -> None:
    sc = UplinkScenario(num_users=4, snr_c_db=3.0)
    pr = sc.sample(50, generator=make_generator(1), dtype=torch.complex128)
    assert pr.distance_m is not None
    d = pr.distance_m
    assert bool((d >= 200.0).all()) and bool((d <= 400.0).all())
    snr = pr.p * path_gain(d) / pr.noise_var
    torch.testing.assert_close(snr, torch.full_like(snr, 10 ** 0.3))
    edge = UplinkScenario(num_users=4, snr_c_db=3.0, comm_snr_mode="cell_edge")
    pe = edge.sample(50, generator=make_generator(1), dtype=torch.complex128)
    torch.testing.assert_close(pe.p, torch.full_like(pe.p, 10 ** 0.3 * edge.noise_var
                                                     / edge.xi0))


def test_channel_and_rt_statistics() -> None:
    sc = UplinkScenario(num_tx=4, num_rx=4, num_users=2, num_symbols=4)
    n = 4000
    pr = sc.sample(n, generator=make_generator(2), dtype=torch.complex128)
    assert pr.distance_m is not None
    hb = pr.h / path_gain(pr.distance_m).sqrt()[:, None, :]  # small-scale fading
    e = (hb.abs() ** 2).mean()
    # mean of n*8 unit exponentials: std 1/sqrt(n*8); 5 sigma
    assert abs(float(e) - 1.0) < 5 / math.sqrt(n * 8)
    # R_T: Hermitian PSD, eigenvalues ~ xi0 * U(0, 1) (mean 1/2, std 1/sqrt(12))
    torch.testing.assert_close(pr.r_t, pr.r_t.conj().transpose(-2, -1))
    ev, _ = rt_eig(pr.r_t)
    u = ev / sc.xi0
    assert bool((u >= -1e-9).all()) and bool((u <= 1 + 1e-9).all())
    assert abs(float(u.mean()) - 0.5) < 5 / math.sqrt(12 * n * 4)


def test_imperfect_csi_model() -> None:
    beta = 0.3
    sc = UplinkScenario(num_tx=2, num_rx=4, num_users=2, num_symbols=2, csi_beta=beta)
    n = 4000
    pr = sc.sample(n, generator=make_generator(3), dtype=torch.complex128)
    assert pr.h_est is not None and pr.distance_m is not None and pr.csi is pr.h_est
    xi = path_gain(pr.distance_m).sqrt()[:, None, :]
    h, he = pr.h / xi, pr.h_est / xi
    m = n * 8
    # H = sqrt(beta) H_est + E with E ~ CN(0, 1 - beta): unit variance, correlation sqrt(beta)
    assert abs(float((h.abs() ** 2).mean()) - 1.0) < 5 / math.sqrt(m)
    corr = (h * he.conj()).mean()
    assert abs(float(corr.real) - math.sqrt(beta)) < 5 / math.sqrt(m)
    err = h - math.sqrt(beta) * he
    assert abs(float((err.abs() ** 2).mean()) - (1 - beta)) < 5 * (1 - beta) / math.sqrt(m)
    # the error is uncorrelated with the estimate (E independent of Ĥ in the model)
    assert abs(complex((err * he.conj()).mean())) < 5 * math.sqrt(1 - beta) / math.sqrt(m)
    assert abs(float((he.abs() ** 2).mean()) - 1.0) < 5 / math.sqrt(m)
    # the true channels and R_T do not depend on beta (paired comparisons)
    perfect = UplinkScenario(num_tx=2, num_rx=4, num_users=2, num_symbols=2).sample(
        n, generator=make_generator(3), dtype=torch.complex128)
    torch.testing.assert_close(perfect.h, pr.h)
    torch.testing.assert_close(perfect.r_t, pr.r_t)


def test_random_unitary() -> None:
    u = random_unitary((3,), 5, generator=make_generator(0), dtype=torch.complex128)
    torch.testing.assert_close(u @ u.conj().transpose(-2, -1),
                               torch.eye(5, dtype=torch.complex128).expand(3, 5, 5))


def test_validation_errors() -> None:
    with pytest.raises(ConfigError, match="num_symbols"):
        UplinkScenario(num_tx=8, num_symbols=4)
    with pytest.raises(ConfigError, match="csi_beta"):
        UplinkScenario(csi_beta=1.5)
    with pytest.raises(ConfigError, match="comm_snr_mode"):
        UplinkScenario(comm_snr_mode="x")  # type: ignore[arg-type]
    pr = UplinkScenario(num_tx=2, num_rx=3, num_users=2, num_symbols=2).sample(
        2, generator=make_generator(0))
    with pytest.raises(ShapeError, match="p must"):
        UplinkProblem(h=pr.h, r_t=pr.r_t, p=pr.p[:, :1], power_s=1.0, noise_var=1.0,
                      num_symbols=2)
    with pytest.raises(ValueRangeError, match="alpha"):
        UplinkProblem(h=pr.h, r_t=pr.r_t, p=pr.p, power_s=1.0, noise_var=1.0, num_symbols=2,
                      alpha=2.0)
    sub = pr.subset(slice(0, 1))
    assert sub.batch_size == 1 and sub.num_rx == 3 and sub.num_tx == 2
