"""MRT, ZF and MMSE precoders: shapes, power, closed forms, an independent NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaclearn.core import ShapeError, ValueRangeError, complex_normal, fro_norm_sq
from isaclearn.metrics import sum_rate
from isaclearn.solvers import mmse, mrt, zf


def _rtol(dtype: torch.dtype) -> float:
    return 1e-5 if dtype == torch.complex64 else 1e-12


def _channel(shape: tuple[int, ...], gen: torch.Generator, cdtype: torch.dtype) -> torch.Tensor:
    return complex_normal(shape, generator=gen, dtype=cdtype)


@pytest.mark.parametrize("precoder", [mrt, zf, mmse], ids=["mrt", "zf", "mmse"])
@pytest.mark.parametrize("batch", [(), (5,), (2, 3)], ids=["unbatched", "B", "B1xB2"])
def test_shape_dtype_device_power(precoder, batch, cdtype, device, gen):
    h = _channel((*batch, 3, 4), gen, cdtype)
    w = precoder(h, 2.5, 0.1)
    assert w.shape == (*batch, 4, 3)
    assert w.dtype == cdtype
    assert w.device == h.device
    torch.testing.assert_close(
        fro_norm_sq(w), torch.full(batch, 2.5, dtype=w.real.dtype, device=h.device),
        rtol=_rtol(cdtype), atol=0.0,
    )


@pytest.mark.parametrize("precoder", [mrt, zf, mmse], ids=["mrt", "zf", "mmse"])
def test_per_instance_power_and_noise_match_a_loop(precoder, cdtype, device, gen):
    h = _channel((4, 3, 5), gen, cdtype)
    rdt = h.real.dtype
    power = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=rdt, device=device)
    noise = torch.tensor([0.01, 0.1, 1.0, 0.3], dtype=rdt, device=device)
    w = precoder(h, power, noise)
    torch.testing.assert_close(fro_norm_sq(w), power, rtol=_rtol(cdtype), atol=0.0)
    for b in range(4):
        wb = precoder(h[b], float(power[b]), float(noise[b]))
        torch.testing.assert_close(w[b], wb, rtol=1e-4 if cdtype == torch.complex64 else 1e-10,
                                   atol=1e-6 if cdtype == torch.complex64 else 1e-12)


def test_zf_diagonalizes_the_channel(cdtype, device, gen):
    h = _channel((16, 4, 6), gen, cdtype)
    w = zf(h, 1.0)
    g = h @ w
    diag = torch.diagonal(g, dim1=-2, dim2=-1)
    off = g - torch.diag_embed(diag)
    tol = 1e-4 if cdtype == torch.complex64 else 1e-10
    assert off.abs().amax() <= tol * diag.abs().amin()
    # Common scaling: every user sees the same real positive gain sqrt(P / tr((H H^H)^-1)).
    gram_inv_trace = torch.linalg.inv(h @ h.mH).diagonal(dim1=-2, dim2=-1).real.sum(-1)
    expected = torch.sqrt(1.0 / gram_inv_trace)[:, None].expand_as(diag.real)
    torch.testing.assert_close(diag.real, expected, rtol=100 * _rtol(cdtype), atol=0.0)
    assert diag.imag.abs().amax() <= tol * diag.abs().amin()


def test_zf_square_channel_is_interference_free(device, gen):
    h = _channel((8, 5, 5), gen, torch.complex128)
    w = zf(h, 1.0)
    sinr_rate = sum_rate(h, w, 1e-2)
    # Interference-free: rate = K log2(1 + |g|^2 / sigma^2) with the common gain g.
    g = torch.diagonal(h @ w, dim1=-2, dim2=-1).abs()
    torch.testing.assert_close(sinr_rate, torch.log2(1 + g.square() / 1e-2).sum(-1))


def test_zf_rejects_more_users_than_antennas(gen):
    h = _channel((2, 5, 4), gen, torch.complex64)
    with pytest.raises(ShapeError, match="K <= M"):
        zf(h, 1.0)


def test_zf_rejects_a_rank_deficient_channel():
    h = torch.tensor([[1.0, 2.0j, 0.0], [1.0, 2.0j, 0.0]], dtype=torch.complex128)
    with pytest.raises(ValueRangeError, match="full row rank"):
        zf(h, 1.0)


def test_mrt_is_the_conjugate_channel(cdtype, device, gen):
    h = _channel((3, 2, 4), gen, cdtype)
    w = mrt(h, 1.0)
    ratio = w / h.mH
    torch.testing.assert_close(ratio, ratio[..., :1, :1].expand_as(ratio),
                               rtol=1e-5 if cdtype == torch.complex64 else 1e-12, atol=0.0)
    assert bool((ratio.real > 0).all())


def test_single_user_all_precoders_coincide(cdtype, device, gen):
    h = _channel((6, 1, 4), gen, cdtype)
    ref = mrt(h, 2.0)
    tol = dict(rtol=1e-4, atol=1e-6) if cdtype == torch.complex64 else dict(rtol=1e-10, atol=0.0)
    torch.testing.assert_close(zf(h, 2.0), ref, **tol)
    torch.testing.assert_close(mmse(h, 2.0, 0.3), ref, **tol)


def test_mmse_matches_numpy_explicit_loop(device, gen):
    h = _channel((6, 3, 5), gen, torch.complex128)
    power, noise = 2.0, 0.2
    w = mmse(h, power, noise).cpu().numpy()
    for b in range(h.shape[0]):
        hb = h[b].cpu().numpy()
        k = hb.shape[0]
        ref = hb.conj().T @ np.linalg.inv(hb @ hb.conj().T + k * noise / power * np.eye(k))
        ref *= np.sqrt(power) / np.linalg.norm(ref)
        np.testing.assert_allclose(w[b], ref, rtol=1e-10, atol=1e-12)


def test_mmse_limits(device, gen):
    h = _channel((4, 3, 6), gen, torch.complex128)
    torch.testing.assert_close(mmse(h, 1.0, 1.0, reg=0.0), zf(h, 1.0))
    torch.testing.assert_close(mmse(h, 1.0, 1.0, reg=1e12), mrt(h, 1.0), rtol=1e-8, atol=1e-9)
    # Overloaded (K > M): MMSE is defined.
    h_over = _channel((4, 6, 3), gen, torch.complex128)
    w = mmse(h_over, 1.0, 0.1)
    assert w.shape == (4, 3, 6) and bool(torch.isfinite(w).all())


def test_mmse_beats_zf_and_mrt_on_average(device, gen):
    h = _channel((256, 4, 4), gen, torch.complex128)
    noise = 0.1
    r_mmse = sum_rate(h, mmse(h, 1.0, noise), noise).mean()
    assert r_mmse > sum_rate(h, zf(h, 1.0), noise).mean()
    assert r_mmse > sum_rate(h, mrt(h, 1.0), noise).mean()


def test_input_errors(gen):
    h = _channel((2, 3, 4), gen, torch.complex64)
    with pytest.raises(ShapeError, match="complex"):
        mrt(h.real, 1.0)
    with pytest.raises(ShapeError, match="power"):
        mrt(h, torch.ones(3))
    with pytest.raises(ValueRangeError, match="power"):
        zf(h, -1.0)
    with pytest.raises(ValueRangeError, match="noise_var"):
        mmse(h, 1.0, 0.0)
    with pytest.raises(ValueRangeError, match="h"):
        mrt(torch.full_like(h, float("nan")), 1.0)
    with pytest.raises(ShapeError, match="K, M"):
        mrt(h[0, 0], 1.0)
