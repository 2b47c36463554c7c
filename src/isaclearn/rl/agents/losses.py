r"""PPO's losses and diagnostics and the Q head's TD target for liu_irs_ppo
(``shared/papers/001_...txt``, eqs. 25–28, 31), written out term by term as in CleanRL.

In the paper's order, with the probability ratio
:math:`\rho_t(\omega) = \pi(a_t|\mathbf H^t,\omega)/\pi_{old}(a_t|\mathbf H^t)
= \exp(\log\pi - \log\pi_{old})` and the advantage :math:`A_t` (eq. 25, 44 or GAE, see
:mod:`isaclearn.rl.agents.returns`):

* KL-penalized surrogate (27), PPO₁: :math:`L^{KLPEN} = \hat{\mathbb E}_t[\rho_t A_t -
  \beta D_{KL}(\pi_{old}\|\pi)]` (:func:`kl_penalty_loss`), with the adaptive coefficient of
  Schulman et al. (:func:`adapt_kl_coef`);
* clipped surrogate (28), PPO₂: :math:`L^{CLIP} = \hat{\mathbb E}_t[\min(\rho_t A_t,
  \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon) A_t)]` with ε = 0.2
  (:func:`clip_surrogate_loss`);
* the critic's value loss :math:`\hat{\mathbb E}_t[(R_t - v(\mathbf H^t))^2]`
  (:func:`value_loss`);
* the Q head's DQN target (31): :math:`y_{t,n} = r_t + \gamma\max_{i}
  Q_n(\mathbf H^{t+1}, i)` per IRS element ``n`` (:func:`q_td_target`) and its squared error
  (:func:`q_loss`);
* diagnostics: the approximate KL :math:`\hat{\mathbb E}[(\rho-1) - \log\rho]`
  (:func:`approx_kl`), the clip fraction (:func:`clip_fraction`) and the explained variance of
  the value head (:func:`explained_variance`, Stable-Baselines3's).

Every loss is returned as a quantity to *minimize* (the negated objective) and is a mean over
the batch; the inputs are already-summed joint log-probabilities ``[B]``.

Notes
-----
*ε (spec §6.8).* The paper sets "ε = 2", which makes the clip range :math:`[-1, 3]` and removes
the clipping; we use 0.2 (Schulman et al., and the MorvanZhou code the paper follows).

*Sum versus mean.* (27) writes :math:`\sum_t` and (28) :math:`\mathbb E_t`; both are means here
(the sum only rescales the step size).

*KL direction.* (27) writes :math:`D_{KL}[\pi/\pi_{old}]`, which is not a divergence of two
distributions; we take :math:`D_{KL}(\pi_{old}\|\pi)` as in Schulman et al. (2017), either in
closed form (``torch.distributions.kl_divergence`` of two
:class:`~isaclearn.rl.agents.distributions.TruncatedNormal`, summed over action entries) or by the
sample estimate :func:`approx_kl`.

*Value loss.* Without the factor 1/2 of CleanRL, as in the MorvanZhou code
(``reduce_mean(square(advantage))``); value clipping (CleanRL's ``clip_vloss``) is an option.

*Q head (spec §3).* The paper mentions no target network: :func:`q_td_target` takes the next
Q values from whichever network the caller uses (the online critic by default, a target copy as
an option) and detaches them. Episodes end by truncation at t = 50 (never terminated), so the
target bootstraps at the last step unless ``terminated`` says otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from stable_baselines3.common.utils import explained_variance as _sb3_explained_variance
from torch.nn import functional as F

from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

QLossKind = Literal["mse", "huber"]

__all__ = [
    "QLossKind",
    "adapt_kl_coef",
    "approx_kl",
    "clip_fraction",
    "clip_surrogate_loss",
    "explained_variance",
    "kl_penalty_loss",
    "normalize_advantages",
    "q_loss",
    "q_td_target",
    "value_loss",
]


def _check_same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ShapeError(f"expected equal shapes [B], got {listed}")


def _check_clip(clip_eps: float) -> None:
    if not 0.0 < clip_eps < 1.0:
        raise ValueRangeError(f"clip_eps must lie in (0, 1), got {clip_eps}")


def clip_surrogate_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    clip_eps: float = 0.2,
) -> torch.Tensor:
    r"""Negated clipped surrogate :math:`-L^{CLIP}` (eq. 28).

    .. math::
       -L^{CLIP} = \hat{\mathbb E}_t\big[\max(-\rho_t A_t,\,
         -\operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon) A_t)\big]

    Parameters
    ----------
    log_prob : Tensor
        ``[B]`` joint log-probabilities of the taken actions under the current policy
        (differentiable).
    old_log_prob : Tensor
        ``[B]`` the same under the policy that collected the data.
    advantages : Tensor
        ``[B]`` advantage estimates (treated as constants).
    clip_eps : float
        ε in ``(0, 1)`` (0.2; the paper's "2" disables clipping, see module Notes).

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> lp = torch.log(torch.tensor([1.5, 0.5, 1.1]))
    >>> adv = torch.tensor([1.0, -2.0, 3.0])
    >>> round(clip_surrogate_loss(lp, torch.zeros(3), adv).item(), 4)  # -(1.2 - 1.6 + 3.3) / 3
    -0.9667
    """
    _check_same_shape(log_prob=log_prob, old_log_prob=old_log_prob, advantages=advantages)
    _check_clip(clip_eps)
    adv = advantages.detach()
    ratio = torch.exp(log_prob - old_log_prob.detach())
    pg_loss1 = -adv * ratio
    pg_loss2 = -adv * torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return torch.max(pg_loss1, pg_loss2).mean()


def kl_penalty_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    kl: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    r"""Negated KL-penalized surrogate :math:`-L^{KLPEN}` (eq. 27, PPO₁).

    .. math::
       -L^{KLPEN} = -\hat{\mathbb E}_t\big[\rho_t A_t - \beta\,D_{KL}(\pi_{old}\|\pi)_t\big]

    Parameters
    ----------
    log_prob, old_log_prob, advantages : Tensor
        ``[B]`` as in :func:`clip_surrogate_loss`.
    kl : Tensor
        ``[B]`` per-sample :math:`D_{KL}(\pi_{old}\|\pi)` (closed form or estimate; must carry
        the gradient with respect to the current policy).
    beta : float
        Penalty coefficient :math:`\beta \ge 0` (the paper's λ in (27), not the multiplier of
        (32)); see :func:`adapt_kl_coef`.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    _check_same_shape(log_prob=log_prob, old_log_prob=old_log_prob, advantages=advantages, kl=kl)
    if not beta >= 0:
        raise ValueRangeError(f"beta must be >= 0, got {beta}")
    ratio = torch.exp(log_prob - old_log_prob.detach())
    return -(ratio * advantages.detach() - beta * kl).mean()


def adapt_kl_coef(beta: float, kl: float, kl_target: float) -> float:
    r"""Adaptive KL coefficient of PPO₁ (Schulman et al. 2017, §4).

    :math:`\beta \leftarrow \beta/2` if :math:`d < d_{targ}/1.5`, :math:`\beta \leftarrow 2\beta`
    if :math:`d > 1.5\,d_{targ}`, unchanged otherwise (the rule the MorvanZhou code uses).

    Examples
    --------
    >>> [adapt_kl_coef(0.5, kl, kl_target=0.01) for kl in (0.001, 0.1, 0.01)]
    [0.25, 1.0, 0.5]
    """
    if not kl_target > 0:
        raise ValueRangeError(f"kl_target must be positive, got {kl_target}")
    if kl < kl_target / 1.5:
        return beta / 2.0
    if kl > kl_target * 1.5:
        return beta * 2.0
    return beta


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    *,
    old_values: torch.Tensor | None = None,
    clip_eps: float | None = None,
) -> torch.Tensor:
    r"""Critic loss :math:`\hat{\mathbb E}_t[(R_t - v(\mathbf H^t))^2]`.

    Parameters
    ----------
    values : Tensor
        ``[B]`` current value predictions (differentiable).
    returns : Tensor
        ``[B]`` return targets (treated as constants).
    old_values : Tensor, optional
        ``[B]`` predictions of the data-collecting critic; with ``clip_eps`` the loss is
        CleanRL's clipped form :math:`\max((v-R)^2, (v_{old} + \operatorname{clip}(v - v_{old},
        -\epsilon, \epsilon) - R)^2)`.
    clip_eps : float, optional
        Value clip range (off by default).

    Returns
    -------
    Tensor
        Scalar loss (no factor 1/2; see module Notes).
    """
    _check_same_shape(values=values, returns=returns)
    target = returns.detach()
    unclipped = (values - target) ** 2
    if clip_eps is None:
        return unclipped.mean()
    if old_values is None:
        raise ConfigError("value clipping needs old_values")
    _check_same_shape(values=values, old_values=old_values)
    old = old_values.detach()
    clipped = old + torch.clamp(values - old, -clip_eps, clip_eps)
    return torch.max(unclipped, (clipped - target) ** 2).mean()


def approx_kl(log_prob: torch.Tensor, old_log_prob: torch.Tensor) -> torch.Tensor:
    r"""Sample estimate of :math:`D_{KL}(\pi_{old}\|\pi)`:
    :math:`\hat{\mathbb E}[(\rho - 1) - \log\rho]` (unbiased, never negative; CleanRL's
    ``approx_kl``). Returns a detached scalar."""
    _check_same_shape(log_prob=log_prob, old_log_prob=old_log_prob)
    with torch.no_grad():
        log_ratio = log_prob - old_log_prob
        return ((torch.exp(log_ratio) - 1.0) - log_ratio).mean()


def clip_fraction(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, clip_eps: float = 0.2
) -> torch.Tensor:
    r"""Fraction of samples whose ratio lies outside :math:`[1-\epsilon, 1+\epsilon]`
    (detached scalar)."""
    _check_same_shape(log_prob=log_prob, old_log_prob=old_log_prob)
    _check_clip(clip_eps)
    with torch.no_grad():
        ratio = torch.exp(log_prob - old_log_prob)
        return ((ratio - 1.0).abs() > clip_eps).to(ratio.dtype).mean()


def normalize_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(A - mean A) / (std A + eps)`` over the batch (CleanRL's ``norm_adv``; off by default
    in the paper's setting, as in the MorvanZhou code)."""
    if advantages.numel() < 2:
        return advantages - advantages.mean()
    return (advantages - advantages.mean()) / (advantages.std() + eps)


def q_td_target(
    rewards: torch.Tensor,
    next_q: torch.Tensor,
    gamma: float,
    *,
    terminated: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Per-element DQN target of the factorized Q head (eq. 31):
    :math:`y_{t,n} = r_t + \gamma\,(1 - d_t)\max_i Q_n(\mathbf H^{t+1}, i)`.

    Parameters
    ----------
    rewards : Tensor
        ``[B]`` rewards :math:`r_t` (the Lagrangian reward of the step).
    next_q : Tensor
        ``[B, N, A]`` Q values at the next observation, from the online critic or a target
        copy; detached here.
    gamma : float
        Discount in ``[0, 1]``.
    terminated : Tensor, optional
        ``[B]`` bool, true where the episode terminated at step ``t`` (no bootstrap).
        Truncation is not termination: leave it false at the time limit.

    Returns
    -------
    Tensor
        ``[B, N]`` targets, without gradient.
    """
    if next_q.dim() != 3 or rewards.shape != next_q.shape[:1]:
        raise ShapeError(f"expected rewards [B] and next_q [B, N, A], got "
                         f"{tuple(rewards.shape)} and {tuple(next_q.shape)}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueRangeError(f"gamma must lie in [0, 1], got {gamma}")
    with torch.no_grad():
        bootstrap = next_q.max(dim=-1).values
        if terminated is not None:
            if terminated.shape != rewards.shape:
                raise ShapeError(f"terminated must have shape {tuple(rewards.shape)}, got "
                                 f"{tuple(terminated.shape)}")
            bootstrap = bootstrap * (~terminated.bool()).to(bootstrap.dtype)[:, None]
        return rewards[:, None] + gamma * bootstrap


def q_loss(
    q: torch.Tensor,
    actions: torch.Tensor,
    target: torch.Tensor,
    kind: QLossKind = "mse",
) -> torch.Tensor:
    r"""Squared (or Huber) TD error of the taken indices, averaged over batch and elements:
    :math:`\hat{\mathbb E}_{t,n}[(y_{t,n} - Q_n(\mathbf H^t, i_{t,n}))^2]`.

    Parameters
    ----------
    q : Tensor
        ``[B, N, A]`` online Q values at the current observations (differentiable).
    actions : Tensor
        ``[B, N]`` int64 indices taken.
    target : Tensor
        ``[B, N]`` targets from :func:`q_td_target`.
    kind : {"mse", "huber"}
        Squared error (default; the MorvanZhou DQN) or smooth-L1 (SB3's DQN).

    Returns
    -------
    Tensor
        Scalar loss.
    """
    if q.dim() != 3 or actions.shape != q.shape[:2] or target.shape != q.shape[:2]:
        raise ShapeError(f"expected q [B, N, A], actions and target [B, N], got "
                         f"{tuple(q.shape)}, {tuple(actions.shape)}, {tuple(target.shape)}")
    taken = q.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    if kind == "mse":
        return F.mse_loss(taken, target.detach())
    if kind == "huber":
        return F.smooth_l1_loss(taken, target.detach())
    raise ConfigError(f"kind must be 'mse' or 'huber', got {kind!r}")


def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    r""":math:`1 - \operatorname{Var}[y - \hat y]/\operatorname{Var}[y]` over all entries, by
    Stable-Baselines3's ``explained_variance`` (NaN when ``y_true`` is constant).

    Examples
    --------
    >>> import torch
    >>> explained_variance(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]))
    1.0
    """
    if y_pred.shape != y_true.shape:
        raise ShapeError(f"y_pred and y_true must have equal shapes, got {tuple(y_pred.shape)} "
                         f"and {tuple(y_true.shape)}")
    pred = y_pred.detach().double().cpu().numpy().reshape(-1)
    true = y_true.detach().double().cpu().numpy().reshape(-1)
    return float(_sb3_explained_variance(np.asarray(pred), np.asarray(true)))
