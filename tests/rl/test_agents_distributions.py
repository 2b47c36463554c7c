"""The truncated Gaussian policy against scipy.stats.truncnorm, numerical integration and a KS
test of its samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from isaclearn.core import make_generator
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.rl.agents.distributions import TruncatedNormal, truncated_normal_variance

# (loc, scale, low, high): centred, off-centre, loc outside the box on either side (upper-tail
# reflection), narrow and wide scales
CASES = [
    (0.0, 1.0, -1.0, 1.0),
    (0.7, 0.3, -1.0, 1.0),
    (2.5, 0.5, -1.0, 1.0),
    (-3.0, 0.8, -1.0, 1.0),
    (0.2, 0.01, -1.0, 1.0),
    (-0.3, 5.0, -1.0, 1.0),
    (1.0, 2.0, 0.0, 4.0),
    (8.0, 1.0, -2.0, 2.0),
]


def _dist(dtype: torch.dtype = torch.float64) -> tuple[TruncatedNormal, object]:
    arr = np.array(CASES)
    loc, scale, low, high = (torch.tensor(arr[:, i], dtype=dtype) for i in range(4))
    ref = stats.truncnorm((arr[:, 2] - arr[:, 0]) / arr[:, 1], (arr[:, 3] - arr[:, 0]) / arr[:, 1],
                          loc=arr[:, 0], scale=arr[:, 1])
    return TruncatedNormal(loc, scale, low, high), ref


def test_log_prob_cdf_mean_variance_entropy_match_scipy() -> None:
    d, ref = _dist()
    arr = np.array(CASES)
    # points inside each interval
    fr = np.array([0.05, 0.3, 0.5, 0.77, 0.99])[:, None]
    x = arr[:, 2] + fr * (arr[:, 3] - arr[:, 2])
    xt = torch.tensor(x)
    np.testing.assert_allclose(d.log_prob(xt).numpy(), ref.logpdf(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d.cdf(xt).numpy(), ref.cdf(x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d.mean.numpy(), ref.mean(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d.variance.numpy(), ref.var(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d.mode.numpy(), np.clip(arr[:, 0], arr[:, 2], arr[:, 3]))


def test_log_prob_outside_the_support_is_minus_inf() -> None:
    d = TruncatedNormal(torch.zeros(3), torch.ones(3))
    lp = d.log_prob(torch.tensor([-1.5, 1.0001, 0.0]))
    assert torch.isinf(lp[:2]).all() and (lp[:2] < 0).all()
    assert torch.isfinite(lp[2])


def test_icdf_inverts_cdf() -> None:
    d, _ = _dist()
    u = torch.linspace(0.01, 0.99, 7, dtype=torch.float64)[:, None]
    torch.testing.assert_close(d.cdf(d.icdf(u)), u.expand(7, len(CASES)), rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_samples_pass_a_ks_test_and_lie_in_the_box(device: str, dtype: torch.dtype) -> None:
    d, ref = _dist(dtype)
    d = TruncatedNormal(d.loc.to(device), d.scale.to(device), d.low.to(device),
                        d.high.to(device))
    x = d.sample((4000,), generator=make_generator(7, device)).cpu().double().numpy()
    arr = np.array(CASES)
    assert x.shape == (4000, len(CASES))
    assert (x >= arr[:, 2]).all() and (x <= arr[:, 3]).all()
    for i in range(len(CASES)):
        a, b = (arr[i, 2] - arr[i, 0]) / arr[i, 1], (arr[i, 3] - arr[i, 0]) / arr[i, 1]
        p = stats.kstest(x[:, i], stats.truncnorm(a, b, loc=arr[i, 0], scale=arr[i, 1]).cdf).pvalue
        assert p > 1e-3, (CASES[i], p)


def test_same_generator_seed_gives_same_samples() -> None:
    d, _ = _dist()
    x1 = d.sample((5,), generator=make_generator(3))
    x2 = d.sample((5,), generator=make_generator(3))
    x3 = d.sample((5,), generator=make_generator(4))
    assert torch.equal(x1, x2) and not torch.equal(x1, x3)


def test_log_prob_and_entropy_are_differentiable_in_loc_and_scale() -> None:
    loc = torch.tensor([0.1, -0.4, 1.7], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([0.5, 1.3, 0.4], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([0.3, -0.9, 0.8], dtype=torch.float64)

    def f(m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        d = TruncatedNormal(m, s)
        return d.log_prob(x) + d.entropy() + d.mean + d.variance

    assert torch.autograd.gradcheck(f, (loc, scale))

    def g(m: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return TruncatedNormal(m, s).rsample((3,), generator=make_generator(0))

    assert torch.autograd.gradcheck(g, (loc, scale))


def test_rsample_gradient_of_the_mean_matches_the_analytic_mean() -> None:
    # d E[X] / d loc by reparameterization equals the derivative of the closed-form mean
    loc = torch.tensor(0.4, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(0.7, dtype=torch.float64)
    d = TruncatedNormal(loc, scale)
    (g_mc,) = torch.autograd.grad(d.rsample((200000,), generator=make_generator(1)).mean(), loc)
    (g_cf,) = torch.autograd.grad(TruncatedNormal(loc, scale).mean, loc)
    assert abs(g_mc.item() - g_cf.item()) < 0.01


def test_kl_divergence_matches_numerical_integration() -> None:
    f64 = torch.float64
    p = TruncatedNormal(torch.tensor([0.2, 1.5], dtype=f64), torch.tensor([0.6, 0.3], dtype=f64))
    q = TruncatedNormal(torch.tensor([-0.3, 0.0], dtype=f64), torch.tensor([0.9, 1.2], dtype=f64))
    kl = torch.distributions.kl_divergence(p, q)
    for i in range(2):
        def integrand(x: float, i: int = i) -> float:
            t = torch.tensor(x, dtype=f64)
            lp = p.log_prob(t)[i].item()
            return math.exp(lp) * (lp - q.log_prob(t)[i].item())

        ref, _ = integrate.quad(integrand, -1.0, 1.0, limit=200)
        assert abs(kl[i].item() - ref) < 1e-9 * max(1.0, ref)
    assert torch.distributions.kl_divergence(p, p).abs().max() < 1e-12


def test_truncated_variance_factor() -> None:
    assert truncated_normal_variance(2.0) == pytest.approx(stats.truncnorm(-2, 2).var(), 1e-12)
    assert truncated_normal_variance(2.0) == pytest.approx(0.7737413, abs=1e-6)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueRangeError, match="low must be < high"):
        TruncatedNormal(0.0, 1.0, 1.0, -1.0)
    with pytest.raises(ValueRangeError, match="scale"):
        TruncatedNormal(torch.zeros(2), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueRangeError, match="finite"):
        TruncatedNormal(0.0, 1.0, -math.inf, 1.0)
    with pytest.raises(ShapeError):
        TruncatedNormal(torch.zeros(2), torch.ones(3))


def test_float32_log_prob_and_entropy_stay_accurate() -> None:
    d32, ref = _dist(torch.float32)
    arr = np.array(CASES)
    x = arr[:, 2] + 0.4 * (arr[:, 3] - arr[:, 2])
    lp = d32.log_prob(torch.tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(lp, ref.logpdf(x), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(d32.entropy().double().numpy(), ref.entropy(), rtol=1e-4,
                               atol=1e-4)


def test_clipped_normal_is_the_plain_gaussian_with_seeded_unclipped_samples() -> None:
    """SB3's policy: the log-density and entropy are the untruncated normal's (scipy), samples
    are ``loc + scale * randn`` from the generator, unclipped; ``clip`` clamps to the box."""
    from isaclearn.rl.agents.distributions import ClippedNormal

    loc = torch.tensor([0.0, 2.5, -0.3], dtype=torch.float64)
    scale = torch.tensor([1.0, 0.5, 2.0], dtype=torch.float64)
    d = ClippedNormal(loc, scale, -1.0, 1.0)
    x = torch.tensor([0.4, 3.0, -5.0], dtype=torch.float64)
    ref = stats.norm(loc.numpy(), scale.numpy())
    np.testing.assert_allclose(d.log_prob(x).numpy(), ref.logpdf(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), ref.entropy(), rtol=1e-12)
    s = d.sample((1000,), generator=make_generator(3))
    eps = torch.randn((1000, 3), generator=make_generator(3), dtype=torch.float64)
    torch.testing.assert_close(s, loc + scale * eps)
    assert bool((s.abs() > 1).any())                      # not clipped by the distribution
    torch.testing.assert_close(d.clip(torch.tensor([-3.0, 0.2, 7.0], dtype=torch.float64)),
                               torch.tensor([-1.0, 0.2, 1.0], dtype=torch.float64))
    with pytest.raises(ValueRangeError):
        ClippedNormal(loc, scale, 1.0, -1.0)
