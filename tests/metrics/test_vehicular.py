"""Tests of isaclearn.metrics.vehicular: per-RSU rate (10), assignment indicator and accuracy,
beam MSE, tracking MSE/RMSE and NEES (ding_dt, spec §2, §7)."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.core import ShapeError, ValueRangeError, complex_normal, make_generator
from isaclearn.metrics.vehicular import (
    assignment_accuracy,
    assignment_indicator,
    beam_mse,
    nees,
    rsu_rates,
    rsu_sinr,
    tracking_mse,
    tracking_rmse,
)

C128 = torch.complex128
F64 = torch.float64


def _case(seed: int, b: int = 3, i: int = 2, k: int = 5, n: int = 4,
          dtype: torch.dtype = C128) -> tuple[torch.Tensor, ...]:
    g = make_generator(seed)
    h = complex_normal((b, i, k, n), generator=g, dtype=dtype)
    f = complex_normal((b, i, k, n), generator=g, dtype=dtype)
    assign = torch.randint(0, i, (b, k), generator=g)
    mask = torch.rand(b, k, generator=g) > 0.3
    mask[:, 0] = True
    return h, f, assign, mask


def _loop_rates(h: torch.Tensor, f: torch.Tensor, assign: torch.Tensor, mask: torch.Tensor,
                noise: torch.Tensor, inter: bool) -> torch.Tensor:
    """Eq. (10) with explicit loops: SINR_k at i = i(k); ξ_[i,m] = (i(m) == i) and m valid."""
    b_sz, i_sz, k_sz, _ = h.shape
    out = torch.zeros(b_sz, k_sz, dtype=F64)
    for b in range(b_sz):
        for k in range(k_sz):
            if not bool(mask[b, k]):
                continue
            i = int(assign[b, k])
            signal = abs(complex(h[b, i, k] @ f[b, i, k])) ** 2
            interf = 0.0
            for j in range(i_sz):
                if j != i and not inter:
                    continue
                for m in range(k_sz):
                    xi = bool(mask[b, m]) and int(assign[b, m]) == j
                    if not xi or (j == i and m == k):
                        continue
                    interf += abs(complex(h[b, j, k] @ f[b, j, m])) ** 2
            out[b, k] = math.log2(1.0 + signal / (interf + float(noise[b, k])))
    return out


@pytest.mark.parametrize("inter", [False, True])
def test_rates_match_explicit_loop(inter: bool) -> None:
    h, f, assign, mask = _case(1)
    noise = torch.rand(3, 5, generator=make_generator(2), dtype=F64) + 0.1
    got = rsu_rates(h, f, assign, noise, mask=mask, inter_rsu_interference=inter)
    assert got.shape == (3, 5) and got.dtype == F64
    torch.testing.assert_close(got, _loop_rates(h, f, assign, mask, noise, inter),
                               rtol=1e-12, atol=1e-14)
    assert bool((got[~mask] == 0).all())


def test_rates_paper_form_and_inter_rsu_lowers_rates() -> None:
    """(10) with h = κ'√α aᴴ(φ): the library equals κ'²|α||aᴴf|²-form; inter-RSU interference
    only lowers rates; with one RSU both modes agree."""
    g = make_generator(4)
    n, k = 8, 3
    u = torch.rand(2, k, generator=g, dtype=F64) * 2 - 1  # [I, K] direction cosines
    alpha = 1e-7 / (torch.rand(2, k, generator=g, dtype=F64) * 30 + 10) ** 2
    pos = torch.arange(n, dtype=F64)
    a = torch.exp(-1j * math.pi * pos * u[..., None]) / math.sqrt(n)  # [I, K, N]
    h = (math.sqrt(n) * alpha.sqrt()[..., None] * a.conj())[None]  # [1, I, K, N]
    f = a[None] * 100.0  # matched beams, power 40 dB
    assign = torch.tensor([[0, 1, 0]])
    noise = 1e-7
    got = rsu_rates(h, f, assign, noise)
    for kk in range(k):
        i = int(assign[0, kk])
        num = n * float(alpha[i, kk]) * abs(complex(a[i, kk].conj() @ f[0, i, kk])) ** 2
        den = sum(n * float(alpha[i, kk]) * abs(complex(a[i, kk].conj() @ f[0, i, m])) ** 2
                  for m in range(k) if m != kk and int(assign[0, m]) == i) + noise
        assert float(got[0, kk]) == pytest.approx(math.log2(1 + num / den), rel=1e-12)
    both = rsu_rates(h, f, assign, noise, inter_rsu_interference=True)
    assert bool((both <= got + 1e-12).all()) and bool((both < got).any())
    one = (h[:, :1], f[:, :1], torch.zeros(1, k, dtype=torch.long))
    torch.testing.assert_close(rsu_rates(*one, noise), rsu_rates(*one, noise,
                                                                 inter_rsu_interference=True))


@pytest.mark.parametrize("inter", [False, True])
def test_padding_is_ignored(inter: bool) -> None:
    """Padded vehicles: rate 0 and no effect on the others, whatever their rows, beams and RSU
    index hold (NaN and out-of-range indices included); equals dropping them."""
    h, f, assign, _ = _case(5, b=1, k=4)
    mask = torch.tensor([[True, True, False, True]])
    ref = rsu_rates(h[..., [0, 1, 3], :], f[..., [0, 1, 3], :], assign[:, [0, 1, 3]], 0.3,
                    inter_rsu_interference=inter)
    h2, f2, a2 = h.clone(), f.clone(), assign.clone()
    h2[:, :, 2] = torch.tensor(complex("nan"), dtype=C128)
    f2[:, :, 2] = 1e6
    a2[:, 2] = -7
    got = rsu_rates(h2, f2, a2, 0.3, mask=mask, inter_rsu_interference=inter)
    assert float(got[0, 2]) == 0.0
    torch.testing.assert_close(got[:, [0, 1, 3]], ref)


def test_rates_noise_shapes_and_batch_broadcast() -> None:
    h, f, assign, mask = _case(6)
    per_inst = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    a = rsu_rates(h, f, assign, per_inst, mask=mask)
    b = rsu_rates(h, f, assign, per_inst[:, None].expand(3, 5), mask=mask)
    torch.testing.assert_close(a, b)
    c = rsu_rates(h, f, assign, 0.5, mask=mask)
    torch.testing.assert_close(a[0], c[0])
    # extra leading batch dimension on the assignment only (two candidate assignments)
    two = torch.stack([assign, 1 - assign])
    d = rsu_rates(h, f, two, 0.5, mask=mask)
    assert d.shape == (2, 3, 5)
    torch.testing.assert_close(d[1], rsu_rates(h, f, 1 - assign, 0.5, mask=mask))
    assert rsu_rates(h.to(torch.complex64), f.to(torch.complex64), assign, 0.5).dtype == \
        torch.float32


def test_rates_bad_inputs() -> None:
    h, f, assign, mask = _case(7)
    with pytest.raises(ValueRangeError):
        rsu_rates(h, f, assign + 2, 1.0)
    with pytest.raises(ShapeError):
        rsu_rates(h, f, assign.double(), 1.0)
    with pytest.raises(ShapeError):
        rsu_rates(h, f[..., :3], assign, 1.0)
    with pytest.raises(ShapeError):
        rsu_rates(h.real, f, assign, 1.0)
    with pytest.raises(ShapeError):
        rsu_rates(h, f, assign, 1.0, mask=mask.int())
    with pytest.raises(ValueRangeError):
        rsu_rates(h, f, assign, 0.0)
    with pytest.raises(ShapeError):
        rsu_rates(h, f, assign, torch.ones(3, 5, 2))


@pytest.mark.parametrize("inter", [False, True])
def test_rates_gradcheck(inter: bool) -> None:
    h, f, assign, mask = _case(8, b=2, k=3, n=3)
    f = f.requires_grad_(True)
    h = h.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda hh, ff: rsu_rates(hh, ff, assign, 0.7, mask=mask, inter_rsu_interference=inter),
        (h, f))


def test_sinr_single_vehicle_closed_form() -> None:
    h = torch.tensor([[[[1.0 + 0j, 0]], [[0, 2.0 + 0j]]]])  # [1, I=2, K=1, N=2]
    f = torch.tensor([[[[1.0 + 0j, 0]], [[0, 1.0 + 0j]]]])
    torch.testing.assert_close(rsu_sinr(h, f, torch.tensor([[1]]), 0.5), torch.tensor([[8.0]]))
    torch.testing.assert_close(rsu_sinr(h, f, torch.tensor([[0]]), 0.5), torch.tensor([[2.0]]))


# ----------------------------------------------------------------------------------------------
# assignment, accuracy, beam MSE


def test_assignment_indicator() -> None:
    xi = assignment_indicator(torch.tensor([[0, 1, 1], [1, 0, 5]]), 2,
                              torch.tensor([[True, True, True], [True, True, False]]))
    assert xi.shape == (2, 2, 3) and xi.dtype == torch.bool
    assert xi[0].int().tolist() == [[1, 0, 0], [0, 1, 1]]
    assert xi[1].int().tolist() == [[0, 1, 0], [1, 0, 0]]
    assert bool((xi.sum(-2) <= 1).all())
    with pytest.raises(ValueRangeError):
        assignment_indicator(torch.tensor([0, 2]), 2)


def test_assignment_accuracy_by_hand() -> None:
    pred = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    label = torch.tensor([[0, 1, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1]])
    mask = torch.tensor([[True, True, True, False], [True, True, True, True],
                         [False, False, False, False]])
    acc = assignment_accuracy(pred, label, mask)
    assert acc[:2].tolist() == pytest.approx([2 / 3, 3 / 4])
    assert math.isnan(float(acc[2]))
    both = assignment_accuracy(pred[:2], label[:2], mask[:2], dim=(0, 1))
    assert float(both) == pytest.approx(5 / 7)
    assert float(assignment_accuracy(pred[0], label[0])) == pytest.approx(0.5)
    with pytest.raises(ShapeError):
        assignment_accuracy(pred.float(), label)


def test_beam_mse_by_hand() -> None:
    f = torch.zeros(2, 3, 2, dtype=C128)
    f_hat = torch.tensor([[[1 + 1j, 0], [2, 0], [0, 1j]], [[0, 0], [3j, 0], [1, 1]]],
                         dtype=C128)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    got = beam_mse(f_hat, f, mask)
    # per vehicle ‖[Re, Im] diff‖² / (2 N_t), N_t = 2
    want = [(2 / 4 + 4 / 4) / 2, (0 + 9 / 4 + 2 / 4) / 3]
    assert got.tolist() == pytest.approx(want)
    # the real stacked [Re, Im] form gives the same
    stacked = torch.cat([f_hat.real, f_hat.imag], -1)
    torch.testing.assert_close(beam_mse(stacked, torch.zeros_like(stacked), mask), got)
    with pytest.raises(ShapeError):
        beam_mse(stacked, f)


# ----------------------------------------------------------------------------------------------
# tracking MSE / RMSE and NEES


def test_tracking_mse_rmse_by_loop() -> None:
    g = make_generator(9)
    est = torch.randn(4, 6, 3, generator=g, dtype=F64)  # [R, K, D]
    truth = torch.randn(4, 6, 3, generator=g, dtype=F64)
    mask = torch.rand(4, 6, generator=g) > 0.4
    got = tracking_rmse(est, truth, mask)
    assert got.shape == (4, 3)
    for r in range(4):
        for d in range(3):
            errs = [float(est[r, k, d] - truth[r, k, d]) ** 2 for k in range(6) if mask[r, k]]
            want = math.sqrt(sum(errs) / len(errs)) if errs else math.nan
            assert float(got[r, d]) == pytest.approx(want, rel=1e-12, nan_ok=True)
    pooled = tracking_mse(est, truth, mask, dim=(0, 1))
    sel = (est - truth)[mask]
    torch.testing.assert_close(pooled, sel.square().mean(0))


def test_nees_by_loop_and_chi2_mean() -> None:
    g = make_generator(10)
    k = 7
    a = torch.randn(2, k, 3, 3, generator=g, dtype=F64)
    cov = a @ a.mT + 0.1 * torch.eye(3, dtype=F64)
    err = torch.randn(2, k, 3, generator=g, dtype=F64)
    mask = torch.ones(2, k, dtype=torch.bool)
    mask[1, 2:] = False
    every = nees(err, cov, mask, dim=None)
    mean = nees(err, cov, mask)
    for b in range(2):
        vals = []
        for kk in range(k):
            e = err[b, kk].tolist()
            p_inv = torch.linalg.inv(cov[b, kk]).tolist()
            q = sum(e[i] * p_inv[i][j] * e[j] for i in range(3) for j in range(3))
            if mask[b, kk]:
                vals.append(q)
                assert float(every[b, kk]) == pytest.approx(q, rel=1e-10)
            else:
                assert math.isnan(float(every[b, kk]))
        assert float(mean[b]) == pytest.approx(sum(vals) / len(vals), rel=1e-10)
    # a consistent Gaussian error: mean NEES over 20 000 draws within the χ²₃ 99.9 % band of
    # the mean (sd of the mean = sqrt(2·3/R))
    r = 20000
    big_err = (torch.linalg.cholesky(cov[0, 0]) @ torch.randn(3, r, generator=g,
                                                              dtype=F64)).T
    m = float(nees(big_err[None], cov[0, 0]))
    assert abs(m - 3.0) < 3.3 * math.sqrt(6 / r)
    # masked entries may hold singular covariances
    cov2 = cov.clone()
    cov2[1, 2:] = 0.0
    torch.testing.assert_close(nees(err, cov2, mask), mean)


def test_device_and_dtype(device: str) -> None:
    h, f, assign, mask = _case(12)
    ref = rsu_rates(h, f, assign, 0.5, mask=mask, inter_rsu_interference=True)
    got = rsu_rates(h.to(device), f.to(device), assign.to(device), 0.5, mask=mask.to(device),
                    inter_rsu_interference=True)
    assert got.device.type == torch.device(device).type
    torch.testing.assert_close(got.cpu(), ref)
    err = torch.ones(2, 3, device=device)
    assert nees(err, torch.eye(3, device=device)).device.type == torch.device(device).type
