"""The papers' agents: their policy distributions, networks, losses, return estimators and
update steps.

Building blocks of the primal-dual PPO / DPPO agents of liu_irs_ppo (``shared/papers/001_...txt``),
written so that later systems reuse them:

* :mod:`~isaclearn.rl.agents.distributions` — the truncated Gaussian policy;
* :mod:`~isaclearn.rl.agents.networks` — the hybrid actor (continuous ``W``) and the critic with a
  value head and a factorized Q head over IRS phase indices;
* :mod:`~isaclearn.rl.agents.losses` — PPO's clipped and KL-penalized surrogates (27)–(28), the
  value loss, the DQN-style TD target of the Q head and the training diagnostics;
* :mod:`~isaclearn.rl.agents.returns` — discounted returns (25), L-step returns (44) and GAE (via
  Stable-Baselines3);
* :mod:`~isaclearn.rl.agents.ppo_update` — one PPO + Q-head update on a batch of tensors.

The primal-dual multipliers and the Lagrangian reward live in :mod:`isaclearn.rl.primal_dual`.
"""

from isaclearn.rl.agents.distributions import TruncatedNormal, truncated_normal_variance
from isaclearn.rl.agents.losses import (
    adapt_kl_coef,
    approx_kl,
    clip_fraction,
    clip_surrogate_loss,
    explained_variance,
    kl_penalty_loss,
    normalize_advantages,
    q_loss,
    q_td_target,
    value_loss,
)
from isaclearn.rl.agents.networks import (
    HybridAction,
    HybridActor,
    HybridAgent,
    HybridAgentConfig,
    HybridCritic,
    init_linear_,
    select_phases,
)
from isaclearn.rl.agents.ppo_update import PPOBatch, PPOUpdate, PPOUpdateConfig
from isaclearn.rl.agents.returns import (
    AdvantageEstimate,
    discounted_returns,
    gae_advantages,
    lstep_advantages,
    mc_advantages,
)

__all__ = [
    "AdvantageEstimate",
    "HybridAction",
    "HybridActor",
    "HybridAgent",
    "HybridAgentConfig",
    "HybridCritic",
    "PPOBatch",
    "PPOUpdate",
    "PPOUpdateConfig",
    "TruncatedNormal",
    "adapt_kl_coef",
    "approx_kl",
    "clip_fraction",
    "clip_surrogate_loss",
    "discounted_returns",
    "explained_variance",
    "gae_advantages",
    "init_linear_",
    "kl_penalty_loss",
    "lstep_advantages",
    "mc_advantages",
    "normalize_advantages",
    "q_loss",
    "q_td_target",
    "select_phases",
    "truncated_normal_variance",
    "value_loss",
]
