r"""Returns and advantage estimates for liu_irs_ppo (``shared/papers/001_...txt``, eqs. 25, 44),
batched over ``B`` parallel episodes stored time-major ``[T, B]``.

Three estimators, all with the same conventions as Stable-Baselines3's ``RolloutBuffer``:

* :func:`discounted_returns` and :func:`mc_advantages` — the Monte-Carlo return of (25),
  :math:`R_t = \sum_{t' \ge t}\gamma^{t'-t} r^{t'}` within the episode, and
  :math:`A_t = R_t - v(\mathbf H^t)`;
* :func:`lstep_advantages` — the L-step return of DPPO (44), in its corrected form
  :math:`A^t = \sum_{l=1}^{L}\gamma^{l-1} r^{t+l-1} + \gamma^{L} v(\mathbf H^{t+L})
  - v(\mathbf H^t)`, cut at the episode end and at the end of the rollout;
* :func:`gae_advantages` — GAE(λ), computed by SB3's
  ``RolloutBuffer.compute_returns_and_advantage`` (not re-implemented).

Conventions (SB3's)
-------------------
``rewards[t, b]`` is the reward of step ``t`` of environment ``b``; ``values[t, b]`` is
:math:`v` of the observation *before* step ``t``; ``episode_starts[t, b]`` is true when that
observation is the first of an episode; ``last_values[b]`` is :math:`v` of the observation after
the last stored step and ``last_dones[b]`` says whether the last stored step ended its episode.
Step ``t`` ends an episode iff ``episode_starts[t + 1]`` (or ``last_dones`` for ``t = T - 1``);
nothing is bootstrapped across an episode end. A time-limit truncation that should still
bootstrap is handled as in SB3: the caller adds :math:`\gamma v(\text{terminal obs})` to the
reward of the truncated step. The paper's episodes (50 steps, channels redrawn at each reset)
are not bootstrapped at the end, which is what (25) writes.

Notes
-----
*(25)* writes :math:`\sum_{t' > t}`, which drops the reward of step ``t`` itself; every
actor-critic estimator (and the MorvanZhou code the paper follows) includes it, so
:math:`t' \ge t` is used.

*(44)* is printed as :math:`\sum_{l=1}^{L}\gamma^{l-1} r^{t} + \gamma^{L-1} v(\mathbf H^{t+L})`:
the same reward ``L`` times and a bootstrap discounted once too little. The corrected form
(Mnih et al. 2016; Heess et al. 2017, the DPPO the paper cites) is used. Two windowings are
offered: ``"sliding"`` (default) gives every step its own ``L`` steps ahead, as the formula says;
``"segment"`` cuts the rollout into consecutive windows of ``L`` steps and bootstraps every step
of a window from the value at the window's end (the n-step scheme of A3C and of the MorvanZhou
DPPO, where ``L`` is the number of steps between updates).

The recursions loop over time (``T`` or ``L`` iterations, forced by the recursion), never over
the ``B`` episodes.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer

from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

Window = Literal["sliding", "segment"]

__all__ = [
    "AdvantageEstimate",
    "Window",
    "discounted_returns",
    "gae_advantages",
    "lstep_advantages",
    "mc_advantages",
]


class AdvantageEstimate(NamedTuple):
    """Advantages and the matching return targets, both ``[T, B]``
    (``returns = advantages + values``)."""

    advantages: torch.Tensor
    returns: torch.Tensor


def _check_gamma(gamma: float, name: str = "gamma") -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueRangeError(f"{name} must lie in [0, 1], got {gamma}")


def _prepare(
    rewards: torch.Tensor,
    episode_starts: torch.Tensor,
    values: torch.Tensor | None,
    last_values: torch.Tensor | None,
    last_dones: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check shapes; return ``(nonterminal [T, B], last_values [B], values_or_zeros [T, B])``,
    where ``nonterminal[t]`` is 0 where step ``t`` ends its episode."""
    if rewards.dim() != 2:
        raise ShapeError(f"rewards must have shape [T, B], got {tuple(rewards.shape)}")
    shape = rewards.shape
    if episode_starts.shape != shape:
        raise ShapeError(f"episode_starts must have shape {tuple(shape)}, got "
                         f"{tuple(episode_starts.shape)}")
    if values is not None and values.shape != shape:
        raise ShapeError(f"values must have shape {tuple(shape)}, got {tuple(values.shape)}")
    batch = shape[1:]
    for name, t in (("last_values", last_values), ("last_dones", last_dones)):
        if t is not None and t.shape != batch:
            raise ShapeError(f"{name} must have shape {tuple(batch)}, got {tuple(t.shape)}")
    dtype, device = rewards.dtype, rewards.device
    starts = episode_starts.to(device=device, dtype=dtype)
    last_done = (torch.zeros(batch, dtype=dtype, device=device) if last_dones is None
                 else last_dones.to(device=device, dtype=dtype))
    nonterminal = 1.0 - torch.cat([starts[1:], last_done[None]], dim=0)
    last_v = (torch.zeros(batch, dtype=dtype, device=device) if last_values is None
              else last_values.to(device=device, dtype=dtype))
    vals = torch.zeros_like(rewards) if values is None else values.to(dtype)
    return nonterminal, last_v, vals


def discounted_returns(
    rewards: torch.Tensor,
    episode_starts: torch.Tensor,
    *,
    gamma: float,
    last_values: torch.Tensor | None = None,
    last_dones: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Discounted return :math:`R_t = \sum_{t' \ge t}\gamma^{t'-t} r^{t'}` within each episode
    (eq. 25), by the backward recursion :math:`R_t = r_t + \gamma(1 - d_t) R_{t+1}`.

    Parameters
    ----------
    rewards : Tensor
        ``[T, B]`` rewards.
    episode_starts : Tensor
        ``[T, B]`` bool or 0/1, see module conventions.
    gamma : float
        Discount in ``[0, 1]``.
    last_values : Tensor, optional
        ``[B]`` bootstrap :math:`v` after the last step for episodes still running (default 0:
        the return is cut at the end of the rollout).
    last_dones : Tensor, optional
        ``[B]`` whether the last step ended its episode (default false).

    Returns
    -------
    Tensor
        ``[T, B]`` returns, ``rewards``' dtype and device.

    Examples
    --------
    >>> import torch
    >>> r = torch.ones(3, 1)
    >>> discounted_returns(r, torch.zeros(3, 1), gamma=0.5).squeeze(1)
    tensor([1.7500, 1.5000, 1.0000])
    """
    _check_gamma(gamma)
    nonterminal, last_v, _ = _prepare(rewards, episode_starts, None, last_values, last_dones)
    out = torch.empty_like(rewards)
    running = last_v
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * nonterminal[t] * running
        out[t] = running
    return out


def mc_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    episode_starts: torch.Tensor,
    *,
    gamma: float,
    last_values: torch.Tensor | None = None,
    last_dones: torch.Tensor | None = None,
) -> AdvantageEstimate:
    r"""Monte-Carlo advantage :math:`A_t = R_t - v(\mathbf H^t)` (eq. 25), with
    :math:`R_t` from :func:`discounted_returns` (equal to GAE with λ = 1).

    Parameters
    ----------
    rewards, episode_starts : Tensor
        ``[T, B]``, see :func:`discounted_returns`.
    values : Tensor
        ``[T, B]`` critic values of the observations before each step.
    gamma, last_values, last_dones
        See :func:`discounted_returns`.

    Returns
    -------
    AdvantageEstimate
        ``advantages`` and ``returns = R``, both ``[T, B]``.
    """
    returns = discounted_returns(rewards, episode_starts, gamma=gamma, last_values=last_values,
                                 last_dones=last_dones)
    if values.shape != rewards.shape:
        raise ShapeError(f"values must have shape {tuple(rewards.shape)}, got "
                         f"{tuple(values.shape)}")
    return AdvantageEstimate(returns - values.to(returns.dtype), returns)


def lstep_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    episode_starts: torch.Tensor,
    *,
    gamma: float,
    num_steps: int,
    last_values: torch.Tensor | None = None,
    last_dones: torch.Tensor | None = None,
    window: Window = "sliding",
) -> AdvantageEstimate:
    r"""L-step advantage of DPPO (eq. 44, corrected):

    .. math::
       A^t = \sum_{l=1}^{n_t}\gamma^{l-1} r^{t+l-1} + \gamma^{n_t}\, v(\mathbf H^{t+n_t})
         - v(\mathbf H^t),

    where :math:`n_t = L` unless the episode or the rollout ends first: at an episode end the
    sum stops there and nothing is bootstrapped; at the rollout's end it stops and bootstraps
    from ``last_values``. With ``window="segment"``, :math:`t + n_t` is the end of the
    length-``L`` window holding ``t`` (see module Notes).

    Parameters
    ----------
    rewards, values, episode_starts : Tensor
        ``[T, B]``, see :func:`mc_advantages`.
    gamma : float
        Discount in ``[0, 1]``.
    num_steps : int
        ``L ≥ 1``. ``L = 1`` is the one-step TD error (GAE with λ = 0); ``L ≥ T`` is the
        Monte-Carlo advantage with bootstrap at the rollout's end (GAE with λ = 1).
    last_values, last_dones : Tensor, optional
        ``[B]``, see :func:`discounted_returns`.
    window : {"sliding", "segment"}
        Windowing of the L steps.

    Returns
    -------
    AdvantageEstimate
        ``advantages`` and the L-step ``returns``, both ``[T, B]``.

    Examples
    --------
    >>> import torch
    >>> r, v = torch.ones(4, 1), torch.full((4, 1), 2.0)
    >>> est = lstep_advantages(r, v, torch.zeros(4, 1), gamma=0.5, num_steps=2,
    ...                        last_values=torch.tensor([2.0]))
    >>> est.returns.squeeze(1)  # 1 + 0.5 + 0.25 * 2 everywhere
    tensor([2., 2., 2., 2.])
    """
    _check_gamma(gamma)
    check_count(num_steps, "num_steps")
    if window not in ("sliding", "segment"):
        raise ConfigError(f"window must be 'sliding' or 'segment', got {window!r}")
    nonterminal, last_v, vals = _prepare(rewards, episode_starts, values, last_values,
                                         last_dones)
    horizon, device = rewards.shape[0], rewards.device
    t_idx = torch.arange(horizon, device=device)
    if window == "sliding":
        n_t = torch.clamp(horizon - t_idx, max=num_steps)
    else:
        n_t = torch.minimum(num_steps - t_idx % num_steps, horizon - t_idx)
    values_ext = torch.cat([vals, last_v[None]], dim=0)  # v(H^0) ... v(H^T)
    total = torch.zeros_like(rewards)
    weight = torch.ones_like(rewards)  # gamma^l times "no episode end yet"
    for lag in range(num_steps):
        active = (lag < n_t)[:, None]
        j = torch.clamp(t_idx + lag, max=horizon - 1)
        total = total + torch.where(active, weight * rewards[j], torch.zeros_like(total))
        weight = torch.where(active, weight * gamma * nonterminal[j], weight)
    returns = total + weight * values_ext[t_idx + n_t]
    return AdvantageEstimate(returns - vals, returns)


def gae_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    episode_starts: torch.Tensor,
    *,
    gamma: float,
    gae_lambda: float,
    last_values: torch.Tensor,
    last_dones: torch.Tensor,
) -> AdvantageEstimate:
    r"""GAE(λ) by Stable-Baselines3's ``RolloutBuffer.compute_returns_and_advantage``:
    :math:`\delta_t = r_t + \gamma(1-d_t) v_{t+1} - v_t`,
    :math:`A_t = \delta_t + \gamma\lambda(1-d_t) A_{t+1}`, ``returns = A + v``.

    Parameters
    ----------
    rewards, values, episode_starts : Tensor
        ``[T, B]``, see :func:`mc_advantages`.
    gamma : float
        Discount in ``[0, 1]``.
    gae_lambda : float
        λ in ``[0, 1]`` (1: Monte-Carlo, 0: one-step TD).
    last_values : Tensor
        ``[B]`` values after the last step.
    last_dones : Tensor
        ``[B]`` whether the last step ended its episode.

    Returns
    -------
    AdvantageEstimate
        ``[T, B]`` tensors in ``rewards``' dtype and device; SB3 computes in float32, so a
        float64 input keeps only float32 precision.
    """
    _check_gamma(gamma)
    _check_gamma(gae_lambda, "gae_lambda")
    _prepare(rewards, episode_starts, values, last_values, last_dones)
    horizon, num_envs = rewards.shape
    box = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    buffer = RolloutBuffer(horizon, box, box, device="cpu", gae_lambda=gae_lambda, gamma=gamma,
                           n_envs=num_envs)

    def to_np(x: torch.Tensor) -> np.ndarray:
        return x.detach().to("cpu", torch.float32).numpy().copy()

    buffer.rewards = to_np(rewards)
    buffer.values = to_np(values)
    buffer.episode_starts = to_np(episode_starts.float())
    buffer.compute_returns_and_advantage(last_values.detach().to("cpu", torch.float32),
                                         to_np(last_dones.float()))
    kw = {"dtype": rewards.dtype, "device": rewards.device}
    return AdvantageEstimate(torch.as_tensor(buffer.advantages, **kw),  # type: ignore[arg-type]
                             torch.as_tensor(buffer.returns, **kw))  # type: ignore[arg-type]
