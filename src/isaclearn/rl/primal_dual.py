r"""Primal-dual learning with ergodic constraints for liu_irs_ppo (``shared/papers/001_...txt``,
§III-B, eqs. 32–39), settled as a Lagrangian reward with projected dual steps (spec §3, §6.3).

Problem (29): :math:`\max_{\omega, \mathbf x} f_0(\mathbf x)` s.t.
:math:`\mathbf x \le \mathbb E[\mathbf f_1(\mathbf H, \pi(\mathbf H, \omega))]` (the ergodic rates,
one per user) and the sensing constraint, read as the ergodic constraint
:math:`\mathbb E[\ell - L_r(\mathbf R)] \ge 0` (spec §6.3). Its Lagrangian (32),

.. math::
   \mathcal L(\omega, \mathbf x, \boldsymbol\lambda, \boldsymbol\mu) = f_0(\mathbf x)
     + \boldsymbol\mu^T \mathbb E[\ell - L_r]
     + \boldsymbol\lambda^T\big(\mathbb E[\mathbf f_1(\mathbf H, \pi(\mathbf H,\omega))]
       - \mathbf x\big),

is maximized over the primal variables :math:`(\omega, \mathbf x)` and minimized over the
multipliers :math:`(\boldsymbol\lambda, \boldsymbol\mu) \ge 0` by alternating steps:

* (33) :math:`\omega` — the policy step. The part of :math:`\mathcal L` that depends on
  :math:`\omega` is the expectation of the **Lagrangian reward** (:func:`lagrangian_reward`)
  :math:`r = \sum_k \lambda_k \log_2(1+\mathrm{SINR}_k) + \sum_s \mu_s(\ell - L_{r,s})`, which
  PPO maximizes (the agents' update, not this module);
* (34) :math:`\mathbf x \leftarrow \operatorname{Proj}_{[0, x_{max}]}[\mathbf x + \tau_2(\nabla
  f_0(\mathbf x) + \nabla\mathbf f_2(\mathbf x)\boldsymbol\mu - \boldsymbol\lambda)]`;
* (35) :math:`\boldsymbol\lambda \leftarrow [\boldsymbol\lambda - \tau_3(\hat{\mathbb E}
  \mathbf f_1 - \mathbf x^{t+1})]_+`;
* (36) :math:`\boldsymbol\mu \leftarrow [\boldsymbol\mu - \tau_4\hat{\mathbb E}(\ell -
  L_r)]_+`;

where :math:`\hat{\mathbb E}` is the mean over the last batch. :class:`PrimalDual` holds
:math:`(\mathbf x, \boldsymbol\lambda, \boldsymbol\mu)` (:class:`DualState`) and does (34)–(36);
:class:`PrimalDualConfig` is its configuration.

Gradients in (34). By default they are analytic: :math:`f_0(\mathbf x) = \sum_k x_k` (23) gives
:math:`\nabla f_0 = \mathbf 1` (or the autograd gradient of a custom ``utility``), and
:math:`\mathbf f_2 = \ell - L_r(\mathbf R)` does not depend on :math:`\mathbf x`, so
:math:`\nabla\mathbf f_2(\mathbf x) = 0`. With ``gradient="zeroth_order"``,
:math:`\nabla f_0` is replaced by the finite-difference estimator (37)
(:func:`zeroth_order_gradient`), and :math:`\nabla\mathbf f_2` by (38), which is exactly 0 for
a constraint that does not depend on :math:`\mathbf x` and is therefore not evaluated.

Zeroth-order estimator (37)–(39):
:math:`\hat\nabla f(\mathbf x_0) = \frac{f(\mathbf x_0 + \alpha\hat{\mathbf x}) -
f(\mathbf x_0)}{\alpha}\hat{\mathbf x}` with :math:`\hat{\mathbf x}` drawn from a truncated
standard normal. For smooth ``f`` its mean is :math:`\operatorname{Cov}(\hat{\mathbf x})
\nabla f + O(\alpha) = \sigma_{tr}^2\nabla f + O(\alpha)`: with the truncation to
:math:`[-2, 2]` (chosen; the paper gives no range) the variance is
:math:`\sigma_{tr}^2 = 1 - 4\varphi(2)/(2\Phi(2)-1) = 0.7737`, so the literal estimator is biased
by that factor. ``zo_normalize=True`` divides by it (unbiased); the default follows the printed
formula, and then :math:`\boldsymbol\lambda` settles at :math:`0.774` instead of 1.

Notes
-----
Defects of the paper and our readings (spec §6.3, §6.9, §8):

* (34) prints ":math:`-1`" where the derivative of (32) in :math:`\mathbf x` gives
  :math:`-\boldsymbol\lambda`; the set :math:`\chi` is not given: the box
  :math:`[0, x_{max}]^K`, :math:`x_{max} = 20` bit/s/Hz (chosen).
* (35) and (36) omit the projection :math:`[\cdot]_+` that the text demands; it is applied.
* (36) prints :math:`\mathbf f_2(\mathbf x^{t+1})`; :math:`\mathbf f_2 = \ell - L_r(\mathbf R)`
  depends on the beamformer, so its batch mean :math:`\hat{\mathbb E}(\ell - L_r)` is used.
* As printed, the multiplier :math:`\boldsymbol\mu` never reaches the policy (only
  :math:`\nabla\mathbf f_2(\mathbf x) = 0` multiplies it). Reading: :math:`\boldsymbol\mu` enters
  the reward (:func:`lagrangian_reward`), so the policy step (33) sees the sensing constraint.
* The multipliers are updated by plain projected SGD as printed, never by Adam: Adam's
  normalized step is about ±lr whatever the violation (omnisafe #348, Safe-Policy-Optimization
  #69, Torch-PPO-Lagrangian #1).
* The step sizes τ₁…τ₄ are printed γ₁…γ₄ (0.001 each, §1).
* Initial values are not given: :math:`\mathbf x^0 = 0`, :math:`\boldsymbol\lambda^0 = 1`
  (so that the first rewards are the sum rate), :math:`\boldsymbol\mu^0 = 0` (chosen).

Our additions (not in the paper; off by default, so the default numbers are those of the
printed steps):

* **Averaged iterates** (``average=True``). With :math:`f_0 = \sum_k x_k`, the pair
  :math:`(\mathbf x, \boldsymbol\lambda)` of (34)–(35) is a bilinear saddle: linearized
  around a constant rate :math:`r`, :math:`e = x - r` and :math:`\lambda` follow
  :math:`e^{t+1} = e^t + \tau_2(1 - \lambda^t)`,
  :math:`\lambda^{t+1} = \lambda^t + \tau_3 e^{t+1}`, a rotation with unit determinant, so
  the iterates circle around :math:`(r, 1)` and never damp (measured: λ swings ±0.3 around 1).
  Their running means :math:`\bar{\mathbf x}^T = \frac1T\sum_{t\le T}\mathbf x^t` (same for
  λ, μ), the ergodic averages of primal-dual methods (Nedić & Ozdaglar 2009), do converge;
  they are kept in :attr:`DualState.x_avg` etc. and returned by :meth:`PrimalDual.update` as
  ``x_avg``, ``lam_avg``, ``mu_avg``. Reporting only: the multipliers that enter the reward are
  the iterates themselves.
* **Damping** (``damping = ρ > 0``): (34) becomes
  :math:`\mathbf x \leftarrow \operatorname{Proj}[\mathbf x + \tau_2(\nabla f_0 -
  \boldsymbol\lambda - \rho(\mathbf x - \hat{\mathbb E}\mathbf f_1))]`, the gradient of the
  augmented Lagrangian :math:`\mathcal L - \frac\rho2\|\mathbf x - \mathbb E\mathbf
  f_1\|^2` (the constraint :math:`\mathbf x \le \mathbb E\mathbf f_1` is active at the
  optimum of an increasing :math:`f_0`, so the penalty does not move the saddle point). The
  linearized pair becomes :math:`\ddot\lambda = (1-\lambda) - \rho\dot\lambda` (for
  :math:`\tau_2 = \tau_3`), a damped oscillator: :math:`\lambda \to 1` and
  :math:`\mathbf x \to \hat{\mathbb E}\mathbf f_1`; :math:`\rho = 2` is critically damped.

Examples
--------
>>> import torch
>>> from isaclearn.rl.primal_dual import PrimalDual, PrimalDualConfig
>>> pd = PrimalDual(PrimalDualConfig(num_rates=2, ell=3.0))
>>> pd.reward(torch.tensor([[1.0, 2.0]]), torch.tensor([4.0]))  # 1 + 2 + 0 * (3 - 4)
tensor([3.])
>>> d = pd.update(torch.tensor([1.0, 2.0]), torch.tensor([4.0]))
>>> pd.state.mu  # [0 - 0.001 * (3 - 4)]_+
tensor([0.0010])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch

from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.rl.agents.distributions import TruncatedNormal, truncated_normal_variance

Gradient = Literal["analytic", "zeroth_order"]

__all__ = [
    "DualState",
    "Gradient",
    "PrimalDual",
    "PrimalDualConfig",
    "lagrangian_reward",
    "zeroth_order_gradient",
]


def lagrangian_reward(
    rates: torch.Tensor,
    beampattern_mse: torch.Tensor,
    lam: torch.Tensor,
    mu: torch.Tensor,
    ell: float | torch.Tensor,
    *,
    per_user: bool = False,
) -> torch.Tensor:
    r"""The Lagrangian reward of the policy step (33):
    :math:`r = \sum_k \lambda_k\,\mathrm{rate}_k + \sum_s \mu_s(\ell - L_{r,s})`.

    Parameters
    ----------
    rates : Tensor
        ``[..., K]`` per-user rates :math:`\log_2(1+\mathrm{SINR}_k)` (bit/s/Hz).
    beampattern_mse : Tensor
        ``[..., S]`` beampattern errors :math:`L_r` (16) of the ``S`` sensing constraints, or
        ``[...]`` when ``S = 1``.
    lam : Tensor
        ``[K]`` rate multipliers :math:`\lambda \ge 0`.
    mu : Tensor
        ``[S]`` sensing multipliers :math:`\mu \ge 0`.
    ell : float or Tensor
        Threshold :math:`\ell` of (18), a scalar or ``[S]``.
    per_user : bool
        Return the ``K`` terms :math:`\lambda_k\mathrm{rate}_k + \mu_k(\ell - L_{r,k})`
        separately (MIMO DPPO: worker ``k``'s reward with its own covariance's
        :math:`L_r(\mathbf R_k)`; needs ``S = K``).

    Returns
    -------
    Tensor
        ``[...]`` rewards (``[..., K]`` with ``per_user``). Differentiable in ``rates`` and
        ``beampattern_mse``; the multipliers are constants of the reward.

    Raises
    ------
    ShapeError
        The shapes do not match as described.
    """
    if rates.dim() < 1:
        raise ShapeError(f"rates must have shape [..., K], got {tuple(rates.shape)}")
    if beampattern_mse.dim() == rates.dim() - 1:
        beampattern_mse = beampattern_mse.unsqueeze(-1)
    num_rates, num_sens = rates.shape[-1], beampattern_mse.shape[-1]
    if beampattern_mse.shape[:-1] != rates.shape[:-1]:
        raise ShapeError(f"beampattern_mse must have shape [..., S] with the batch shape of "
                         f"rates {tuple(rates.shape[:-1])}, got {tuple(beampattern_mse.shape)}")
    if lam.shape != (num_rates,):
        raise ShapeError(f"lam must have shape [{num_rates}], got {tuple(lam.shape)}")
    if mu.shape != (num_sens,):
        raise ShapeError(f"mu must have shape [{num_sens}], got {tuple(mu.shape)}")
    ell_t = torch.as_tensor(ell, dtype=beampattern_mse.dtype, device=beampattern_mse.device)
    if ell_t.dim() > 1 or (ell_t.dim() == 1 and ell_t.shape[0] not in (1, num_sens)):
        raise ShapeError(f"ell must be a scalar or have shape [{num_sens}], got "
                         f"{tuple(ell_t.shape)}")
    rate_terms = lam.detach() * rates
    sens_terms = mu.detach() * (ell_t - beampattern_mse)
    if per_user:
        if num_sens != num_rates:
            raise ShapeError(f"per_user needs one sensing constraint per user (S = K = "
                             f"{num_rates}), got S = {num_sens}")
        return rate_terms + sens_terms
    return rate_terms.sum(-1) + sens_terms.sum(-1)


def zeroth_order_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    alpha: float,
    *,
    generator: torch.Generator | None,
    num_samples: int = 1,
    truncation: float | None = 2.0,
    normalize: bool = False,
    reduce: bool = True,
) -> torch.Tensor:
    r"""Finite-difference gradient estimate (37)–(39):
    :math:`\hat\nabla f(\mathbf x_0) = \frac{f(\mathbf x_0 + \alpha\hat{\mathbf x}) -
    f(\mathbf x_0)}{\alpha}\hat{\mathbf x}`.

    Parameters
    ----------
    f : callable
        Maps a batch of points ``[n, D]`` to values ``[n]`` (scalar ``f``, eqs. 37, 39) or
        ``[n, S]`` (vector ``f``, eq. 38).
    x0 : Tensor
        ``[D]`` point of evaluation (real).
    alpha : float
        Step factor :math:`\alpha > 0` (α₁…α₃ = 0.001 in the paper).
    generator : torch.Generator or None
        Source of :math:`\hat{\mathbf x}` (on ``x0``'s device).
    num_samples : int
        Number ``n`` of directions drawn (one call of ``f`` on ``[n, D]`` and one at ``x0``).
    truncation : float or None
        Draw :math:`\hat{\mathbf x}` from the standard normal truncated to
        ``[-truncation, truncation]`` (default 2, chosen); ``None``: untruncated.
    normalize : bool
        Divide by the variance of :math:`\hat x` (0.7737 for ``truncation = 2``, 1 untruncated)
        so that the estimator is unbiased for linear ``f`` (see module docstring).
    reduce : bool
        Return the mean over the ``n`` directions (default) or every per-direction estimate.

    Returns
    -------
    Tensor
        ``[D]`` (scalar ``f``) or ``[D, S]`` (vector ``f``: the Jacobian transposed, so that
        ``grad @ mu`` is :math:`\nabla\mathbf f_2(\mathbf x)\boldsymbol\mu` of (34)); with
        ``reduce=False`` a leading ``[n]`` axis.

    Raises
    ------
    ShapeError
        ``x0`` is not one-dimensional or ``f`` returns a wrong shape.
    ValueRangeError
        ``alpha`` or ``truncation`` not positive.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([1.0, -2.0])
    >>> g = zeroth_order_gradient(lambda x: x @ a, torch.zeros(2), 1e-3, num_samples=100_000,
    ...                           generator=torch.Generator().manual_seed(0), normalize=True)
    >>> torch.allclose(g, a, atol=0.05)
    True
    """
    if x0.dim() != 1:
        raise ShapeError(f"x0 must have shape [D], got {tuple(x0.shape)}")
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueRangeError(f"alpha must be positive, got {alpha}")
    check_count(num_samples, "num_samples")
    shape = (num_samples, x0.shape[0])
    if truncation is None:
        x_hat = torch.randn(shape, generator=generator, dtype=x0.dtype, device=x0.device)
        var = 1.0
    else:
        if not (truncation > 0 and math.isfinite(truncation)):
            raise ValueRangeError(f"truncation must be positive, got {truncation}")
        zero = torch.zeros((), dtype=x0.dtype, device=x0.device)
        x_hat = TruncatedNormal(zero, zero + 1.0, -truncation, truncation).sample(
            shape, generator=generator)
        var = truncated_normal_variance(truncation)
    with torch.no_grad():
        f0 = f(x0[None])
        f1 = f(x0[None] + alpha * x_hat)
    if f1.shape[:1] != (num_samples,) or f1.dim() > 2 or f0.shape != (1, *f1.shape[1:]):
        raise ShapeError(f"f must map [n, D] to [n] or [n, S]; got {tuple(f1.shape)} for n = "
                         f"{num_samples} and {tuple(f0.shape)} for n = 1")
    slope = (f1 - f0) / alpha
    est = slope[:, None] * x_hat if slope.dim() == 1 else x_hat[:, :, None] * slope[:, None, :]
    if normalize:
        est = est / var
    return est.mean(0) if reduce else est


@dataclass(frozen=True)
class PrimalDualConfig:
    """Configuration of the primal-dual updates (34)–(36).

    Attributes
    ----------
    num_rates : int
        Number ``K`` of rate constraints (users): the size of ``x`` and ``λ``.
    num_constraints : int
        Number ``S`` of sensing constraints: the size of ``μ`` (1 for MISO, ``K`` for MIMO
        with one :math:`L_r(R_k)` per user).
    ell : float
        Beampattern-error threshold :math:`\\ell` of (18) (chosen default 3).
    x_max : float
        Upper end of the box :math:`\\chi = [0, x_{max}]^K` (chosen 20 bit/s/Hz).
    tau_x : float
        Step τ₂ of (34) (printed γ₂; 0.001).
    tau_lambda : float
        Step τ₃ of (35) (printed γ₃; 0.001).
    tau_mu : float
        Step τ₄ of (36) (printed γ₄; 0.001).
    x_init : float
        Initial ``x`` (chosen 0).
    lambda_init : float
        Initial ``λ`` (chosen 1).
    mu_init : float
        Initial ``μ`` (chosen 0).
    gradient : {"analytic", "zeroth_order"}
        How ``∇f_0`` and ``∇f_2`` of (34) are obtained (analytic by default).
    zo_alpha : float
        Step factor α₁ = α₂ of (37)–(38) (0.001).
    zo_samples : int
        Directions averaged per zeroth-order estimate (the paper draws one).
    zo_truncation : float
        Truncation of the perturbation's standard normal (chosen 2).
    zo_normalize : bool
        Divide the zeroth-order estimate by the perturbation's variance (0.774).
    average : bool
        Keep the running averages of the iterates (our addition, module docstring; reporting
        only, default False).
    damping : float
        Augmented-Lagrangian damping ρ ≥ 0 of (34) (our addition, module docstring; default 0:
        the printed step).
    """

    num_rates: int
    num_constraints: int = 1
    ell: float = 3.0
    x_max: float = 20.0
    tau_x: float = 1e-3
    tau_lambda: float = 1e-3
    tau_mu: float = 1e-3
    x_init: float = 0.0
    lambda_init: float = 1.0
    mu_init: float = 0.0
    gradient: Gradient = "analytic"
    zo_alpha: float = 1e-3
    zo_samples: int = 1
    zo_truncation: float = 2.0
    zo_normalize: bool = False
    average: bool = False
    damping: float = 0.0

    def __post_init__(self) -> None:
        check_count(self.num_rates, "num_rates")
        check_count(self.num_constraints, "num_constraints")
        check_count(self.zo_samples, "zo_samples")
        for name in ("x_max", "tau_x", "tau_lambda", "tau_mu", "zo_alpha", "zo_truncation"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be positive and finite, got {value}")
        for name in ("ell", "x_init", "lambda_init", "mu_init"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be finite, got {value}")
        if not 0.0 <= self.x_init <= self.x_max:
            raise ConfigError(f"x_init must lie in [0, x_max], got {self.x_init}")
        if self.lambda_init < 0 or self.mu_init < 0:
            raise ConfigError("lambda_init and mu_init must be >= 0")
        if not (self.damping >= 0 and math.isfinite(self.damping)):
            raise ConfigError(f"damping must be finite and >= 0, got {self.damping}")
        if self.gradient not in ("analytic", "zeroth_order"):
            raise ConfigError(f"gradient must be 'analytic' or 'zeroth_order', got "
                              f"{self.gradient!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serializable) of the fields."""
        return asdict(self)


@dataclass
class DualState:
    """The iterates of the primal-dual updates.

    Attributes
    ----------
    x : Tensor
        ``[K]`` ergodic rate variables, in ``[0, x_max]``.
    lam : Tensor
        ``[K]`` rate multipliers λ ≥ 0.
    mu : Tensor
        ``[S]`` sensing multipliers μ ≥ 0.
    num_updates : int
        Updates done so far.
    x_avg, lam_avg, mu_avg : Tensor or None
        Running means of ``x``, ``lam``, ``mu`` over the updates done (``None`` unless
        ``PrimalDualConfig.average``; before the first update they hold the initial values).
    """

    x: torch.Tensor
    lam: torch.Tensor
    mu: torch.Tensor
    num_updates: int = field(default=0)
    x_avg: torch.Tensor | None = None
    lam_avg: torch.Tensor | None = None
    mu_avg: torch.Tensor | None = None


class PrimalDual:
    """Stateful primal-dual updates (34)–(36) and the Lagrangian reward of (33).

    Parameters
    ----------
    config : PrimalDualConfig
        Sizes, steps and options.
    utility : callable, optional
        :math:`f_0`, mapping ``[n, K]`` to ``[n]`` (default: the sum (23)). Its gradient comes
        from autograd (analytic mode) or from (37).
    dtype : torch.dtype
        Real dtype of the state (float32).
    device : torch.device or str
        Device of the state.
    """

    def __init__(
        self,
        config: PrimalDualConfig,
        *,
        utility: Callable[[torch.Tensor], torch.Tensor] | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        self.config = config
        self.utility = utility
        kw: dict[str, Any] = {"dtype": dtype, "device": device}
        self.state = DualState(
            x=torch.full((config.num_rates,), config.x_init, **kw),
            lam=torch.full((config.num_rates,), config.lambda_init, **kw),
            mu=torch.full((config.num_constraints,), config.mu_init, **kw),
        )
        if config.average:
            s = self.state
            s.x_avg, s.lam_avg, s.mu_avg = s.x.clone(), s.lam.clone(), s.mu.clone()

    # ----------------------------------------------------------------------------------------
    # reward of the policy step (33)
    # ----------------------------------------------------------------------------------------

    def reward(
        self, rates: torch.Tensor, beampattern_mse: torch.Tensor, *, per_user: bool = False
    ) -> torch.Tensor:
        """:func:`lagrangian_reward` with the current multipliers and ``config.ell``."""
        s = self.state
        return lagrangian_reward(rates, beampattern_mse, s.lam.to(rates.dtype),
                                 s.mu.to(rates.dtype), self.config.ell, per_user=per_user)

    # ----------------------------------------------------------------------------------------
    # (34)-(36)
    # ----------------------------------------------------------------------------------------

    def utility_gradient(self, *, generator: torch.Generator | None = None) -> torch.Tensor:
        r""":math:`\nabla f_0(\mathbf x)` at the current ``x``: analytic (``1`` for the sum, or
        autograd of ``utility``) or the zeroth-order estimate (37), ``[K]``."""
        cfg, x = self.config, self.state.x
        f0 = self.utility if self.utility is not None else (lambda v: v.sum(-1))
        if cfg.gradient == "zeroth_order":
            if generator is None:
                raise ConfigError("gradient='zeroth_order' needs a generator")
            return zeroth_order_gradient(f0, x, cfg.zo_alpha, generator=generator,
                                         num_samples=cfg.zo_samples,
                                         truncation=cfg.zo_truncation,
                                         normalize=cfg.zo_normalize)
        if self.utility is None:
            return torch.ones_like(x)
        xg = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f0(xg[None]).sum(), xg)
        return grad.detach()

    def update(
        self,
        mean_rates: torch.Tensor,
        mean_beampattern_mse: torch.Tensor | float,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        r"""One round of (34), (35), (36), in that order (λ uses the new ``x``).

        Parameters
        ----------
        mean_rates : Tensor
            ``[K]`` :math:`\hat{\mathbb E}\,\mathrm{rate}_k` over the last batch, collected with
            the updated policy :math:`\omega^{t+1}`.
        mean_beampattern_mse : Tensor or float
            ``[S]`` (or a scalar when ``S = 1``) :math:`\hat{\mathbb E} L_r` over the same
            batch.
        generator : torch.Generator, optional
            Source of the zeroth-order perturbations (needed only with
            ``gradient="zeroth_order"``).

        Returns
        -------
        dict of str to Tensor
            The new ``x``, ``lam``, ``mu`` (copies), ``grad_f0`` used in (34), the rate slack
            ``rate_slack`` :math:`\hat{\mathbb E}\mathbf f_1 - \mathbf x^{t+1}` and the sensing
            slack ``sensing_slack`` :math:`\ell - \hat{\mathbb E}L_r`; with ``average`` also
            the running means ``x_avg``, ``lam_avg``, ``mu_avg`` including the new iterates.
        """
        cfg, s = self.config, self.state
        rates = torch.as_tensor(mean_rates, dtype=s.x.dtype, device=s.x.device)
        l_r = torch.as_tensor(mean_beampattern_mse, dtype=s.x.dtype, device=s.x.device)
        if l_r.dim() == 0:
            l_r = l_r.reshape(1)
        if rates.shape != (cfg.num_rates,):
            raise ShapeError(f"mean_rates must have shape [{cfg.num_rates}], got "
                             f"{tuple(rates.shape)}")
        if l_r.shape != (cfg.num_constraints,):
            raise ShapeError(f"mean_beampattern_mse must have shape [{cfg.num_constraints}], "
                             f"got {tuple(l_r.shape)}")
        if not bool(torch.isfinite(rates).all()) or not bool(torch.isfinite(l_r).all()):
            raise ValueRangeError("mean_rates and mean_beampattern_mse must be finite")
        # (34): x <- Proj_[0, x_max][x + tau_2 (grad f0 + grad f2 mu - lambda)], grad f2 = 0
        grad_f0 = self.utility_gradient(generator=generator)
        step = grad_f0 - s.lam
        if cfg.damping > 0:  # our addition: augmented-Lagrangian damping (module docstring)
            step = step - cfg.damping * (s.x - rates)
        x_new = (s.x + cfg.tau_x * step).clamp(0.0, cfg.x_max)
        # (35): lambda <- [lambda - tau_3 (E f1 - x^{t+1})]_+
        rate_slack = rates - x_new
        lam_new = (s.lam - cfg.tau_lambda * rate_slack).clamp_min(0.0)
        # (36): mu <- [mu - tau_4 E(ell - L_r)]_+
        sensing_slack = cfg.ell - l_r
        mu_new = (s.mu - cfg.tau_mu * sensing_slack).clamp_min(0.0)
        n = s.num_updates + 1
        self.state = DualState(x=x_new, lam=lam_new, mu=mu_new, num_updates=n)
        out = {"x": x_new.clone(), "lam": lam_new.clone(), "mu": mu_new.clone(),
               "grad_f0": grad_f0, "rate_slack": rate_slack, "sensing_slack": sensing_slack}
        if cfg.average:  # running means over the n updates (the initial values are not counted)
            assert s.x_avg is not None and s.lam_avg is not None and s.mu_avg is not None
            new = self.state
            new.x_avg = s.x_avg + (x_new - s.x_avg) / n
            new.lam_avg = s.lam_avg + (lam_new - s.lam_avg) / n
            new.mu_avg = s.mu_avg + (mu_new - s.mu_avg) / n
            out.update(x_avg=new.x_avg.clone(), lam_avg=new.lam_avg.clone(),
                       mu_avg=new.mu_avg.clone())
        return out

    # ----------------------------------------------------------------------------------------
    # checkpointing (tensors only: safetensors-compatible)
    # ----------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``x``, ``lam``, ``mu`` and ``num_updates`` as tensors (for safetensors); with
        ``average`` also ``x_avg``, ``lam_avg``, ``mu_avg``."""
        s = self.state
        out = {"x": s.x.clone(), "lam": s.lam.clone(), "mu": s.mu.clone(),
               "num_updates": torch.tensor(s.num_updates, dtype=torch.int64)}
        if s.x_avg is not None and s.lam_avg is not None and s.mu_avg is not None:
            out.update(x_avg=s.x_avg.clone(), lam_avg=s.lam_avg.clone(),
                       mu_avg=s.mu_avg.clone())
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict` (shapes are checked)."""
        cfg, s = self.config, self.state
        for key, size in (("x", cfg.num_rates), ("lam", cfg.num_rates),
                          ("mu", cfg.num_constraints)):
            if key not in state or tuple(state[key].shape) != (size,):
                raise ShapeError(f"state[{key!r}] must have shape [{size}]")
        kw: dict[str, Any] = {"dtype": s.x.dtype, "device": s.x.device}
        self.state = DualState(x=state["x"].to(**kw), lam=state["lam"].to(**kw),
                               mu=state["mu"].to(**kw),
                               num_updates=int(state.get("num_updates", torch.tensor(0)).item()))
        if cfg.average:
            new = self.state
            if not all(k in state for k in ("x_avg", "lam_avg", "mu_avg")):
                raise ShapeError("state has no running averages (x_avg, lam_avg, mu_avg) but "
                                 "config.average is set")
            new.x_avg = state["x_avg"].to(**kw)
            new.lam_avg = state["lam_avg"].to(**kw)
            new.mu_avg = state["mu_avg"].to(**kw)
