"""Tests of isaclearn.metrics.comm: SINR, rates, sum rate, Jain's fairness index."""

from __future__ import annotations

import math

import pytest
import torch

from isaclearn.core import IsacError, ShapeError, complex_normal, make_generator
from isaclearn.metrics import jain_fairness, rates, sinr, sum_rate


def _loop_sinr(h: torch.Tensor, w: torch.Tensor, noise: list[list[float]]) -> list[list[float]]:
    """Eq. (15) with explicit Python loops over instances, users, streams and antennas."""
    hl, wl = h.tolist(), w.tolist()
    out = []
    for b in range(len(hl)):
        k_users, m_ant = len(hl[b]), len(hl[b][0])
        row = []
        for k in range(k_users):
            powers = []
            for i in range(k_users):
                g = sum(hl[b][k][m] * wl[b][m][i] for m in range(m_ant))
                powers.append(abs(g) ** 2)
            interference = sum(p for i, p in enumerate(powers) if i != k)
            row.append(powers[k] / (interference + noise[b][k]))
        out.append(row)
    return out


def _rand(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype = torch.complex128,
          device: str = "cpu") -> torch.Tensor:
    return complex_normal(shape, generator=gen, dtype=dtype, device=device)


# --------------------------------------------------------------------------------------------
# against an explicit loop


@pytest.mark.parametrize(("b", "k", "m"), [(3, 4, 5), (2, 3, 2), (1, 1, 1), (4, 4, 4)])
def test_sinr_rate_vs_double_loop(b: int, k: int, m: int) -> None:
    gen = make_generator(11)
    h, w = _rand((b, k, m), gen), _rand((b, m, k), gen)
    noise = torch.rand((b, k), generator=gen, dtype=torch.float64) + 0.05
    want = _loop_sinr(h, w, noise.tolist())
    got = sinr(h, w, noise)
    assert got.shape == (b, k) and got.dtype == torch.float64
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=0)
    want_rates = [[math.log2(1.0 + s) for s in row] for row in want]
    torch.testing.assert_close(rates(h, w, noise), torch.tensor(want_rates, dtype=torch.float64),
                               rtol=1e-12, atol=0)
    torch.testing.assert_close(sum_rate(h, w, noise),
                               torch.tensor([sum(r) for r in want_rates], dtype=torch.float64),
                               rtol=1e-12, atol=0)


def test_closed_forms() -> None:
    # Docstring example: identity channel and precoder, SINR = 1/σ².
    h = torch.eye(2, dtype=torch.complex64)[None]
    torch.testing.assert_close(sinr(h, h.mT, 0.5), torch.tensor([[2.0, 2.0]]))
    # Zero-forcing removes all interference: SINR_k = |h_k w_k|^2 / σ², rate = log2(1 + 1/σ²)
    # when H W = I.
    gen = make_generator(2)
    hh = _rand((3, 3, 5), gen)
    w = torch.linalg.pinv(hh)  # H W = I
    torch.testing.assert_close(hh @ w, torch.eye(3, dtype=hh.dtype).expand(3, 3, 3),
                               rtol=0, atol=1e-10)
    torch.testing.assert_close(sinr(hh, w, 0.1), torch.full((3, 3), 10.0, dtype=torch.float64))
    torch.testing.assert_close(sum_rate(hh, w, 0.1),
                               torch.full((3,), 3 * math.log2(11.0), dtype=torch.float64))
    # A single user sees no interference: SINR = |h w|^2 / σ².
    h1, w1 = _rand((4, 1, 3), gen), _rand((4, 3, 1), gen)
    torch.testing.assert_close(sinr(h1, w1, 2.0)[..., 0], (h1 @ w1).abs()[..., 0, 0] ** 2 / 2.0)


# --------------------------------------------------------------------------------------------
# against a symbol-level Monte Carlo simulation of eq. (14)


@pytest.mark.parametrize("seed", [0, 1])
def test_rate_vs_symbol_level_monte_carlo(seed: int) -> None:
    """Transmit Gaussian symbols through y_k = h_k W s + n_k and estimate, from samples, the
    power of the intended-stream term and of interference plus noise. Both are sample means of
    |CN|^2 (exponential) variables, whose relative standard deviation is 1/sqrt(n); the SINR
    ratio therefore has relative deviation about sqrt(2/n) and the rate deviates by at most
    that divided by ln 2."""
    gen = make_generator(100 + seed)
    k_users, m_ant, n = 3, 4, 40_000
    h = _rand((k_users, m_ant), gen)
    w = _rand((m_ant, k_users), gen) * 0.7
    noise_var = 0.3
    s = _rand((k_users, n), gen)  # unit-power, uncorrelated symbols
    noise = math.sqrt(noise_var) * _rand((k_users, n), gen)
    # Per-stream transmitted signals x_i = w_i s_i [K, M, n]; received contributions [K, K, n].
    x_streams = w.T[:, :, None] * s[:, None, :]
    contrib = torch.einsum("km,imn->kin", h, x_streams)
    y = contrib.sum(dim=1) + noise  # received samples [K, n]
    intended = contrib[torch.arange(k_users), torch.arange(k_users)]  # [K, n]
    rest = y - intended
    p_sig = (intended.abs() ** 2).mean(dim=-1)
    p_in = (rest.abs() ** 2).mean(dim=-1)
    mc_sinr = p_sig / p_in
    mc_rate = torch.log2(1 + mc_sinr)

    z = 5.0
    rel = z * math.sqrt(2.0 / n)
    got = sinr(h, w, noise_var)
    assert bool(((mc_sinr / got - 1).abs() < rel).all()), (mc_sinr, got)
    assert bool(((mc_rate - rates(h, w, noise_var)).abs() < rel / math.log(2)).all())
    assert abs(mc_rate.sum().item() - sum_rate(h, w, noise_var).item()) < (
        k_users * rel / math.log(2)
    )
    # The Monte Carlo estimate is sharp enough to tell interference apart from noise: ignoring
    # interference (a classic bug) would be caught.
    no_int = (h @ w).abs().diagonal() ** 2 / noise_var
    assert bool(((mc_sinr / no_int - 1).abs() > rel).all())


# --------------------------------------------------------------------------------------------
# noise_var forms and broadcasting


@pytest.mark.parametrize("b", [2, 4, 5])
def test_noise_var_forms(b: int) -> None:
    """Scalar, per-instance [B] and per-user [B, K]; b = K = 4 catches a batch that is taken for
    a per-user vector."""
    k_users, m_ant = 4, 3
    gen = make_generator(3)
    h, w = _rand((b, k_users, m_ant), gen), _rand((b, m_ant, k_users), gen)
    per_inst = torch.rand(b, generator=gen, dtype=torch.float64) + 0.1
    per_user = torch.rand((b, k_users), generator=gen, dtype=torch.float64) + 0.1
    scalar = sinr(h, w, 0.25)
    torch.testing.assert_close(scalar, sinr(h, w, torch.tensor(0.25, dtype=torch.float64)))
    torch.testing.assert_close(scalar, sinr(h, w, torch.full((b,), 0.25, dtype=torch.float64)))
    torch.testing.assert_close(scalar, sinr(h, w, torch.full((b, k_users), 0.25,
                                                             dtype=torch.float64)))
    got_inst = sinr(h, w, per_inst)
    got_user = sinr(h, w, per_user)
    for i in range(b):
        torch.testing.assert_close(got_inst[i], sinr(h[i], w[i], per_inst[i].item()))
        torch.testing.assert_close(got_user[i], sinr(h[i], w[i], per_user[i]))
        torch.testing.assert_close(got_inst[i], torch.tensor(
            _loop_sinr(h[i : i + 1], w[i : i + 1], [[per_inst[i].item()] * k_users])[0],
            dtype=torch.float64))
    torch.testing.assert_close(sinr(h, w, per_inst[:, None]), got_inst)  # [B, 1]
    # A per-user vector shared by the batch is [1, K].
    shared = per_user[:1]
    for i in range(b):
        torch.testing.assert_close(sinr(h, w, shared)[i], sinr(h[i], w[i], shared[0]))
    torch.testing.assert_close(sum_rate(h, w, per_user), rates(h, w, per_user).sum(-1))


def test_broadcast_shared_precoder() -> None:
    gen = make_generator(4)
    h, w = _rand((3, 2, 4), gen), _rand((4, 2), gen)
    got = sinr(h, w, 0.5)
    assert got.shape == (3, 2)
    for i in range(3):
        torch.testing.assert_close(got[i], sinr(h[i], w, 0.5))
    assert sinr(h[0], w, 0.5).shape == (2,)  # unbatched


# --------------------------------------------------------------------------------------------
# dtype and device


def test_dtype_and_device(cdtype: torch.dtype, device: str, gen: torch.Generator) -> None:
    h = complex_normal((3, 2, 4), generator=gen, dtype=cdtype, device=device)
    w = complex_normal((3, 4, 2), generator=gen, dtype=cdtype, device=device)
    rdt = torch.float32 if cdtype == torch.complex64 else torch.float64
    for out in (sinr(h, w, 0.1), rates(h, w, 0.1), sum_rate(h, w, 0.1),
                sinr(h, w, torch.full((3,), 0.1, device=device)),
                sinr(h, w, torch.full((3, 2), 0.1, device=device, dtype=rdt))):
        assert out.dtype == rdt
        assert out.device.type == device
    assert sum_rate(h, w, 0.1).shape == (3,)
    # Single precision agrees with double precision.
    ref = sum_rate(h.to(torch.complex128), w.to(torch.complex128), 0.1)
    torch.testing.assert_close(sum_rate(h, w, 0.1).double(), ref, rtol=1e-5, atol=0)


def test_mixed_precision_is_promoted() -> None:
    gen = make_generator(6)
    h, w = _rand((2, 2, 3), gen), _rand((2, 3, 2), gen)
    out = sinr(h.to(torch.complex64), w, 0.1)
    assert out.dtype == torch.float64


# --------------------------------------------------------------------------------------------
# gradients


def test_gradcheck_sinr_and_sum_rate() -> None:
    gen = make_generator(7)
    h = _rand((2, 3, 2), gen).requires_grad_(True)
    w = _rand((2, 2, 3), gen).requires_grad_(True)
    noise = (torch.rand((2, 3), generator=gen, dtype=torch.float64) + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda w_: sinr(h, w_, 0.2), (w,))
    assert torch.autograd.gradcheck(lambda w_: sum_rate(h, w_, 0.2), (w,))
    assert torch.autograd.gradcheck(lambda h_, w_, n_: sum_rate(h_, w_, n_), (h, w, noise))
    assert torch.autograd.gradcheck(lambda w_: rates(h, w_, noise[:, 0]), (w,))


def test_gradcheck_jain_fairness() -> None:
    x = (torch.rand((3, 4), generator=make_generator(8), dtype=torch.float64) + 0.1)
    assert torch.autograd.gradcheck(jain_fairness, (x.requires_grad_(True),))


# --------------------------------------------------------------------------------------------
# errors


def test_shape_errors_name_the_argument() -> None:
    gen = make_generator(9)
    h, w = _rand((2, 3, 4), gen), _rand((2, 4, 3), gen)
    with pytest.raises(ShapeError, match=r"h .*w .*disagree"):
        sinr(h, w[..., :2], 0.1)  # K mismatch
    with pytest.raises(ShapeError, match=r"h .*w .*disagree"):
        sinr(h, w[..., :3, :], 0.1)  # M mismatch
    with pytest.raises(ShapeError, match=r"^h must have shape"):
        sinr(h[0, 0], w, 0.1)
    with pytest.raises(ShapeError, match=r"^w must have shape"):
        sum_rate(h, w[0, 0], 0.1)
    with pytest.raises(ShapeError, match="batch dimensions of h"):
        sinr(h, _rand((3, 4, 3), gen), 0.1)
    with pytest.raises(ShapeError, match="noise_var"):
        sinr(h, w, torch.ones(5))  # neither [B] nor [B, K]
    with pytest.raises(ShapeError, match="noise_var"):
        sinr(h, w, torch.ones(2, 4))  # [B, K] with the wrong K
    with pytest.raises(ShapeError, match="noise_var"):
        sum_rate(h, w, torch.ones(1, 2, 3, 1))  # too many dimensions
    assert issubclass(ShapeError, IsacError)


# --------------------------------------------------------------------------------------------
# Jain's fairness index (eq. 24)


def test_jain_hand_values() -> None:
    x = torch.tensor([[2.0, 2.0, 2.0], [0.0, 5.0, 0.0], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]],
                     dtype=torch.float64)
    want = torch.tensor([1.0, 1.0 / 3.0, 36.0 / 42.0, 4.0 / 6.0], dtype=torch.float64)
    torch.testing.assert_close(jain_fairness(x), want, rtol=1e-14, atol=0)
    for t in (1, 2, 5, 10):
        one_hot = torch.zeros(t, dtype=torch.float64)
        one_hot[t // 2] = 3.0
        assert jain_fairness(one_hot).item() == pytest.approx(1.0 / t, rel=1e-14)
        assert jain_fairness(torch.full((t,), 0.7)).item() == pytest.approx(1.0, rel=1e-6)


def test_jain_bounds_and_invariance() -> None:
    gen = make_generator(10)
    x = torch.rand((200, 6), generator=gen, dtype=torch.float64) ** 3
    f = jain_fairness(x)
    assert f.shape == (200,)
    assert bool((f >= 1.0 / 6.0 - 1e-12).all()) and bool((f <= 1.0 + 1e-12).all())
    torch.testing.assert_close(jain_fairness(17.0 * x), f)  # scale invariant
    torch.testing.assert_close(jain_fairness(x.flip(-1)), f)  # permutation invariant
    assert jain_fairness(x.float()).dtype == torch.float32


def test_jain_bad_input() -> None:
    with pytest.raises(ShapeError):
        jain_fairness(torch.tensor(1.0))
    with pytest.raises(ShapeError):
        jain_fairness(torch.ones(3, dtype=torch.complex64))
    with pytest.raises(ShapeError):
        jain_fairness(torch.ones(3, 0))
