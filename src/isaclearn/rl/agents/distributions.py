r"""The truncated Gaussian policy of liu_irs_ppo (``shared/papers/001_...txt``, §VI).

The paper's actor draws its action from "the truncated Gaussian distribution" whose mean is a
tanh head and whose standard deviation is a softplus head. Torch has no truncated normal, so
:class:`TruncatedNormal` implements one on an interval :math:`[a, b]` with location
:math:`\mu` and scale :math:`\sigma` (the mean and standard deviation of the *untruncated*
normal). With the standardized bounds :math:`\alpha = (a-\mu)/\sigma`,
:math:`\beta = (b-\mu)/\sigma`, the normal density :math:`\varphi`, its CDF :math:`\Phi` and the
mass :math:`Z = \Phi(\beta) - \Phi(\alpha)`:

.. math::
   p(x) &= \frac{\varphi\big((x-\mu)/\sigma\big)}{\sigma Z},\quad a \le x \le b,\\
   \mathbb E[X] &= \mu + \sigma\,\frac{\varphi(\alpha)-\varphi(\beta)}{Z},\\
   \operatorname{Var}[X] &= \sigma^2\Big[1 + \frac{\alpha\varphi(\alpha)-\beta\varphi(\beta)}{Z}
     - \Big(\frac{\varphi(\alpha)-\varphi(\beta)}{Z}\Big)^2\Big],\\
   H[X] &= \log\big(\sqrt{2\pi e}\,\sigma Z\big)
     + \frac{\alpha\varphi(\alpha)-\beta\varphi(\beta)}{2Z},

and samples by the inverse CDF, :math:`x = \mu + \sigma\,\Phi^{-1}\big(\Phi(\alpha) + u Z\big)`,
:math:`u \sim U[0,1)` drawn from an explicit :class:`torch.Generator`. Every quantity is
differentiable in ``loc`` and ``scale`` (``torch.special.ndtr``, ``log_ndtr`` and ``ndtri`` all
have gradients), so :meth:`TruncatedNormal.rsample` is a reparameterized sample.

Notes
-----
Numerics. When both bounds lie in the upper tail (:math:`\alpha > 0`), :math:`\Phi(\alpha)` and
:math:`\Phi(\beta)` are both close to 1 and their difference cancels; every computation is then
done on the reflected interval :math:`[-\beta, -\alpha]` (where the CDF values are small and
exact) and the result reflected back. Every normal CDF value is taken as ``exp(log_ndtr)``:
``torch.special.ndtr`` loses all relative accuracy below about −8 (it returns 0 at −9 in
float64), while ``log_ndtr`` and ``ndtri`` stay accurate in the lower tail. Sampling
stays accurate while the interval lies within about 37σ (float64) or 13σ (float32) of ``loc``;
beyond that the CDF underflows and the sample is clamped to the nearer bound. Samples are always
clamped into :math:`[a, b]`. The variance formula cancels when the interval is much narrower
than σ (it tends to :math:`(b-a)^2/12`); in float32 it keeps about four digits at
:math:`\sigma = 10 (b-a)`.

The KL divergence between two truncated normals on the same interval is registered with
:func:`torch.distributions.kl_divergence`:
:math:`D(p\|q) = -H[p] + \log(\sqrt{2\pi}\sigma_q Z_q)
+ (\operatorname{Var}_p + (\mathbb E_p - \mu_q)^2)/(2\sigma_q^2)`.

Examples
--------
>>> import torch
>>> from isaclearn.rl.agents.distributions import TruncatedNormal
>>> d = TruncatedNormal(torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.2]), -1.0, 1.0)
>>> x = d.sample((4,), generator=torch.Generator().manual_seed(0))
>>> x.shape, bool(((x >= -1) & (x <= 1)).all())
(torch.Size([4, 2]), True)
>>> d.mode
tensor([0.0000, 0.5000])
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution, constraints
from torch.distributions.kl import register_kl
from torch.distributions.utils import broadcast_all

from isaclearn.core.errors import ShapeError, ValueRangeError

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)

_EMPTY = torch.Size()

__all__ = ["ClippedNormal", "TruncatedNormal", "truncated_normal_variance"]


def _log_phi(z: torch.Tensor) -> torch.Tensor:
    """Log of the standard normal density."""
    return -0.5 * z * z - _LOG_SQRT_2PI


class TruncatedNormal(Distribution):
    r"""Normal :math:`\mathcal N(\mu, \sigma^2)` truncated to :math:`[a, b]`, batched.

    Parameters
    ----------
    loc : Tensor or float
        Location :math:`\mu` of the untruncated normal, any shape ``[...]``; it need not lie
        in ``[low, high]``.
    scale : Tensor or float
        Scale :math:`\sigma > 0` of the untruncated normal, broadcasting with ``loc``.
    low, high : Tensor or float
        Finite bounds :math:`a < b`, broadcasting with ``loc`` (default ``[-1, 1]``, the
        paper's action box).
    validate_args : bool
        Torch's argument validation (off by default: :meth:`log_prob` then returns ``-inf``
        outside the support instead of raising).

    Raises
    ------
    ValueRangeError
        A bound is not finite or ``low >= high`` somewhere, or ``scale <= 0``.
    ShapeError
        The bounds do not broadcast with ``loc``/``scale``.

    Notes
    -----
    ``batch_shape`` is the broadcast shape of ``loc``, ``scale``, ``low`` and ``high``;
    ``event_shape`` is ``()``: every entry is an independent scalar distribution, and the joint
    log-probability of a vector action is ``log_prob(x).sum(-1)``.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    has_rsample = True

    def __init__(
        self,
        loc: torch.Tensor | float,
        scale: torch.Tensor | float,
        low: torch.Tensor | float = -1.0,
        high: torch.Tensor | float = 1.0,
        validate_args: bool | None = False,
    ) -> None:
        try:
            loc_t, scale_t, low_t, high_t = broadcast_all(loc, scale, low, high)
        except RuntimeError as exc:
            raise ShapeError(f"loc, scale, low and high must broadcast together: {exc}") from None
        if not bool(torch.isfinite(low_t).all()) or not bool(torch.isfinite(high_t).all()):
            raise ValueRangeError("low and high must be finite")
        if not bool((low_t < high_t).all()):
            raise ValueRangeError("low must be < high everywhere")
        if not bool((scale_t > 0).all()):
            raise ValueRangeError("scale must be positive everywhere")
        self.loc, self.scale, self.low, self.high = loc_t, scale_t, low_t, high_t
        self._alpha = (low_t - loc_t) / scale_t
        self._beta = (high_t - loc_t) / scale_t
        # Reflect intervals in the upper tail: work on [a, b] = [-beta, -alpha], with a <= 0.
        self._flip = self._alpha > 0
        self._a = torch.where(self._flip, -self._beta, self._alpha)
        self._b = torch.where(self._flip, -self._alpha, self._beta)
        log_cdf_a = torch.special.log_ndtr(self._a)
        log_cdf_b = torch.special.log_ndtr(self._b)
        self._log_z = log_cdf_b + torch.log1p(-torch.exp(log_cdf_a - log_cdf_b))
        super().__init__(loc_t.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        """The interval ``[low, high]``."""
        return constraints.interval(self.low, self.high)

    # ----------------------------------------------------------------------------------------
    # standardized helpers
    # ----------------------------------------------------------------------------------------

    def _pdf_ratios(self) -> tuple[torch.Tensor, torch.Tensor]:
        """:math:`\\varphi(\\alpha)/Z` and :math:`\\varphi(\\beta)/Z`, computed in log space."""
        p_alpha = torch.exp(_log_phi(self._alpha) - self._log_z)
        p_beta = torch.exp(_log_phi(self._beta) - self._log_z)
        return p_alpha, p_beta

    # ----------------------------------------------------------------------------------------
    # moments
    # ----------------------------------------------------------------------------------------

    @property
    def mean(self) -> torch.Tensor:
        r""":math:`\mu + \sigma(\varphi(\alpha)-\varphi(\beta))/Z`, shape ``batch_shape``."""
        p_alpha, p_beta = self._pdf_ratios()
        return (self.loc + self.scale * (p_alpha - p_beta)).clamp(self.low, self.high)

    @property
    def mode(self) -> torch.Tensor:
        """``loc`` clamped into ``[low, high]`` (the density's maximum)."""
        return torch.maximum(torch.minimum(self.loc, self.high), self.low)

    @property
    def variance(self) -> torch.Tensor:
        """Variance of the truncated distribution, shape ``batch_shape``."""
        p_alpha, p_beta = self._pdf_ratios()
        std_var = 1.0 + (self._alpha * p_alpha - self._beta * p_beta) - (p_alpha - p_beta) ** 2
        return self.scale**2 * std_var.clamp_min(0.0)

    def entropy(self) -> torch.Tensor:
        r""":math:`\log(\sqrt{2\pi e}\sigma Z) + (\alpha\varphi(\alpha)-\beta\varphi(\beta))/(2Z)`
        in nats, shape ``batch_shape``."""
        p_alpha, p_beta = self._pdf_ratios()
        return (
            _HALF_LOG_2PI_E
            + torch.log(self.scale)
            + self._log_z
            + 0.5 * (self._alpha * p_alpha - self._beta * p_beta)
        )

    # ----------------------------------------------------------------------------------------
    # density, CDF, sampling
    # ----------------------------------------------------------------------------------------

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log density at ``value`` (broadcasting with ``batch_shape``); ``-inf`` outside
        ``[low, high]``."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        lp = _log_phi(z) - torch.log(self.scale) - self._log_z
        inside = (value >= self.low) & (value <= self.high)
        return torch.where(inside, lp, torch.full_like(lp, -math.inf))

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        r""":math:`(\Phi((x-\mu)/\sigma) - \Phi(\alpha))/Z`, clamped to ``[0, 1]``."""
        z = (value - self.loc) / self.scale
        # In reflected coordinates the CDF is 1 - (Phi(-z) - Phi(a)) / Z.
        z_ref = torch.where(self._flip, -z, z).clamp_min(self._a)
        frac = torch.exp(torch.special.log_ndtr(z_ref) - self._log_z) - torch.exp(
            torch.special.log_ndtr(self._a) - self._log_z
        )
        out = torch.where(self._flip, 1.0 - frac, frac)
        return out.clamp(0.0, 1.0)

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        """Inverse CDF at probabilities ``value`` in ``[0, 1]``, clamped into ``[low, high]``;
        differentiable in ``loc`` and ``scale``."""
        u = torch.where(self._flip, 1.0 - value, value)
        cdf_a = torch.exp(torch.special.log_ndtr(self._a))
        y = torch.special.ndtri(cdf_a + u * torch.exp(self._log_z))
        y = torch.maximum(torch.minimum(y, self._b), self._a)
        z = torch.where(self._flip, -y, y)
        x = self.loc + self.scale * z
        return torch.maximum(torch.minimum(x, self.high), self.low)

    def rsample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = _EMPTY,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Reparameterized sample of shape ``sample_shape + batch_shape`` by the inverse CDF.

        Parameters
        ----------
        sample_shape : tuple of int
            Leading shape of the draw.
        generator : torch.Generator or None
            Source of randomness, on ``loc``'s device. ``None`` uses torch's global generator
            (kept for the :mod:`torch.distributions` API; isaclearn code always passes one).
        """
        shape = self._extended_shape(torch.Size(sample_shape))
        u = torch.rand(shape, generator=generator, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def sample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = _EMPTY,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample of shape ``sample_shape + batch_shape`` without gradient (see
        :meth:`rsample`)."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)


class ClippedNormal(torch.distributions.Normal):
    r"""SB3's continuous policy: a plain Gaussian :math:`\mathcal N(\mu, \sigma^2)` whose
    samples are *clipped* to the action box by the environment side, not by the distribution.

    The distribution itself is :class:`torch.distributions.Normal` (``log_prob``, ``entropy``,
    the registered Normal–Normal KL); what differs from it is :meth:`rsample` / :meth:`sample`
    drawing from an explicit :class:`torch.Generator`, and the bounds ``low``, ``high`` it
    carries for :meth:`clip`. The log-probability of a sample is that of the *unclipped* value
    (as in SB3's PPO, which stores the unclipped action in its rollout buffer), so the policy
    gradient is the plain Gaussian score; the deterministic action is ``clip(loc)``.

    Parameters
    ----------
    loc, scale : Tensor
        Mean and standard deviation (``scale > 0``), broadcast together.
    low, high : float
        Bounds of the action box (``low < high``).

    Examples
    --------
    >>> import torch
    >>> d = ClippedNormal(torch.tensor([0.0, 3.0]), torch.tensor([1.0, 1.0]), -1.0, 1.0)
    >>> d.clip(d.mode)
    tensor([0., 1.])
    """

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor, low: float, high: float,
                 validate_args: bool | None = None) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueRangeError(f"need finite low < high, got [{low}, {high}]")
        super().__init__(loc, scale, validate_args=validate_args)
        self.low = float(low)
        self.high = float(high)

    def clip(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` clamped into ``[low, high]`` (what the environment receives)."""
        return value.clamp(self.low, self.high)

    def rsample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = _EMPTY,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        r"""Reparameterized, unclipped sample :math:`\mu + \sigma\,\varepsilon`,
        :math:`\varepsilon \sim \mathcal N(0, 1)` from ``generator``."""
        shape = self._extended_shape(torch.Size(sample_shape))
        eps = torch.randn(shape, generator=generator, dtype=self.loc.dtype,
                          device=self.loc.device)
        return self.loc + eps * self.scale

    def sample(
        self,
        sample_shape: torch.Size | list[int] | tuple[int, ...] = _EMPTY,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Unclipped sample without gradient (see :meth:`rsample`)."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)


def truncated_normal_variance(bound: float) -> float:
    r"""Variance of the standard normal truncated to ``[-bound, bound]``:
    :math:`1 - 2 b\varphi(b)/(2\Phi(b) - 1)`.

    It is the factor by which the zeroth-order estimator (37)–(39) of liu_irs_ppo scales the
    gradient when its perturbation is truncated (0.7737 for ``bound = 2``).

    Examples
    --------
    >>> round(truncated_normal_variance(2.0), 4)
    0.7737
    """
    if not (bound > 0 and math.isfinite(bound)):
        raise ValueRangeError(f"bound must be positive and finite, got {bound}")
    phi = math.exp(-0.5 * bound * bound) / math.sqrt(2.0 * math.pi)
    mass = math.erf(bound / math.sqrt(2.0))
    return 1.0 - 2.0 * bound * phi / mass


@register_kl(TruncatedNormal, TruncatedNormal)
def _kl_truncated_normal(p: TruncatedNormal, q: TruncatedNormal) -> torch.Tensor:
    """KL(p || q) for two truncated normals on the same interval (see module Notes)."""
    same = torch.equal(*torch.broadcast_tensors(p.low, q.low)) and torch.equal(
        *torch.broadcast_tensors(p.high, q.high)
    )
    if not same:
        raise ValueRangeError("the KL divergence needs two truncated normals on the same interval")
    second_moment = p.variance + (p.mean - q.loc) ** 2
    cross = _LOG_SQRT_2PI + torch.log(q.scale) + q._log_z + second_moment / (2.0 * q.scale**2)
    return cross - p.entropy()
