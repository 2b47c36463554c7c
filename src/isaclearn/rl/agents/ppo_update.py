r"""One PPO + Q-head update of the hybrid agent on a given batch (liu_irs_ppo, Alg. 1 h),
pure tensors, no environment.

The update reads top to bottom in the paper's order (and the MorvanZhou code's, which the paper
follows, spec §8):

1. **Actor** — ``actor_steps`` (10) full-batch Adam steps (lr 1e-3) on PPO's clipped surrogate
   (28) (:func:`~isaclearn.rl.agents.losses.clip_surrogate_loss`) or, with
   ``objective="kl_penalty"``, on the KL-penalized one (27) with the closed-form KL of the
   truncated Gaussians and the adaptive coefficient; the advantages are fixed for the whole
   update. With ``minibatch_size`` (off by default) each step becomes an epoch of SB3's
   minibatch SGD over a random permutation of the batch (critic likewise).
2. **Critic** — ``critic_steps`` (10) Adam steps (lr 2e-3) on the value loss over the whole
   batch plus ``q_coef`` times the Q head's TD loss (31) on a replay minibatch of 32
   transitions drawn from the batch with the caller's generator (target
   :math:`r + \gamma\max_i Q_n(\mathbf H^{t+1}, i)` per element, from the online critic or a
   target copy).
3. **Diagnostics** — approximate KL and clip fraction after the actor steps, the explained
   variance of the values (before the critic steps) with respect to the returns, the losses,
   the policy entropy and the KL coefficient.

The primal-dual steps (34)–(36) are not part of this update: they act on the Lagrangian reward
(:mod:`isaclearn.rl.primal_dual`) before the batch's advantages are computed.

Notes
-----
The KL-penalty form needs the distribution of the data-collecting policy: it is taken as the
actor's distribution at the start of :meth:`PPOUpdate.update`, which is the collecting policy
whenever each batch is used by one update, as in Alg. 1/2. The ratio always uses the batch's
``old_log_probs``.

Examples
--------
>>> import torch
>>> from isaclearn.rl.agents.networks import HybridAgent, HybridAgentConfig
>>> from isaclearn.rl.agents.ppo_update import PPOBatch, PPOUpdate, PPOUpdateConfig
>>> cfg = HybridAgentConfig(obs_dim=4, action_dim=2, num_irs_elements=3, phase_bits=1)
>>> agent = HybridAgent(cfg, generator=torch.Generator().manual_seed(0))
>>> g = torch.Generator().manual_seed(1)
>>> obs = torch.randn(64, 4, generator=g)
>>> step = agent.act(obs, generator=g)
>>> batch = PPOBatch(obs=obs, w_actions=step.w, phase_actions=step.phases,
...                  old_log_probs=step.log_prob, returns=torch.zeros(64),
...                  advantages=torch.randn(64, generator=g), rewards=torch.zeros(64),
...                  next_obs=obs)
>>> stats = PPOUpdate(agent, PPOUpdateConfig()).update(batch, generator=g)
>>> sorted(stats)[:4]
['approx_kl', 'clip_fraction', 'entropy', 'explained_variance']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from stable_baselines3.common.utils import polyak_update
from torch import nn

from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.rl.agents.losses import (
    QLossKind,
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
from isaclearn.rl.agents.networks import HybridAgent, HybridCritic

Objective = Literal["clip", "kl_penalty"]

__all__ = ["Objective", "PPOBatch", "PPOUpdate", "PPOUpdateConfig"]


@dataclass(frozen=True)
class PPOUpdateConfig:
    """Hyperparameters of one PPO + Q-head update (spec §1 table).

    Attributes
    ----------
    lr_actor : float
        Adam learning rate of the actor (paper: 1e-3, chosen from Fig. 3).
    lr_critic : float
        Adam learning rate of the critic (paper: 2e-3).
    actor_steps : int
        Full-batch actor steps per update (chosen 10, the MorvanZhou value).
    critic_steps : int
        Critic steps per update (chosen 10).
    objective : {"clip", "kl_penalty"}
        PPO₂'s clipped surrogate (28) or PPO₁'s KL penalty (27).
    clip_eps : float
        Clip range ε (0.2; spec §6.8).
    kl_beta : float
        Initial KL coefficient of (27) (MorvanZhou: 0.5).
    kl_target : float
        KL target of the adaptive coefficient (MorvanZhou: 0.01).
    gamma : float
        Discount of the Q head's TD target (chosen 0.9).
    q_coef : float
        Weight of the Q loss in the critic loss (chosen 1; 0 freezes the Q head).
    q_batch_size : int
        Replay minibatch of the Q loss (paper: 32); the whole batch if it is smaller.
    q_loss : {"mse", "huber"}
        Form of the Q loss.
    target_tau : float
        Polyak coefficient of the target critic after each update, when one is given (1: hard
        copy).
    value_clip : float or None
        CleanRL's value clipping range (off).
    normalize_advantages : bool
        Standardize the advantages over the batch (off, as in the MorvanZhou code).
    entropy_coef : float
        Entropy bonus in the actor loss (0: the paper has none).
    max_grad_norm : float or None
        Global gradient-norm clipping of each optimizer step (off).
    minibatch_size : int or None
        ``None`` (default): every actor and critic step uses the whole batch (the MorvanZhou
        code). An integer ``m``: SB3's minibatch SGD, each of the ``actor_steps`` (and
        ``critic_steps``) is an *epoch* over a fresh random permutation of the batch split into
        minibatches of ``m`` (the last one smaller), one optimizer step per minibatch, the
        permutation drawn from the update's generator.
    """

    lr_actor: float = 1e-3
    lr_critic: float = 2e-3
    actor_steps: int = 10
    critic_steps: int = 10
    objective: Objective = "clip"
    clip_eps: float = 0.2
    kl_beta: float = 0.5
    kl_target: float = 0.01
    gamma: float = 0.9
    q_coef: float = 1.0
    q_batch_size: int = 32
    q_loss: QLossKind = "mse"
    target_tau: float = 1.0
    value_clip: float | None = None
    normalize_advantages: bool = False
    entropy_coef: float = 0.0
    max_grad_norm: float | None = None
    minibatch_size: int | None = None

    def __post_init__(self) -> None:
        if self.minibatch_size is not None:
            check_count(self.minibatch_size, "minibatch_size")
            if self.objective != "clip":
                raise ConfigError("minibatch_size needs objective='clip' (the KL penalty "
                                  "form uses the whole batch)")
        for name in ("actor_steps", "critic_steps", "q_batch_size"):
            check_count(getattr(self, name), name)
        for name in ("lr_actor", "lr_critic", "kl_target"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.objective not in ("clip", "kl_penalty"):
            raise ConfigError(f"objective must be 'clip' or 'kl_penalty', got "
                              f"{self.objective!r}")
        if not 0.0 < self.clip_eps < 1.0:
            raise ConfigError(f"clip_eps must lie in (0, 1), got {self.clip_eps}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must lie in [0, 1], got {self.gamma}")
        if not 0.0 < self.target_tau <= 1.0:
            raise ConfigError(f"target_tau must lie in (0, 1], got {self.target_tau}")
        for name in ("kl_beta", "q_coef", "entropy_coef"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.q_loss not in ("mse", "huber"):
            raise ConfigError(f"q_loss must be 'mse' or 'huber', got {self.q_loss!r}")


@dataclass(frozen=True)
class PPOBatch:
    """One batch of ``B`` transitions for :meth:`PPOUpdate.update`.

    Attributes
    ----------
    obs : Tensor
        ``[B, obs_dim]`` observations :math:`\\mathbf H^t`.
    w_actions : Tensor
        ``[B, action_dim]`` continuous actions taken (in the actor's box).
    phase_actions : Tensor
        ``[B, N]`` int64 phase indices taken.
    old_log_probs : Tensor
        ``[B]`` joint log-probabilities of ``w_actions`` under the collecting policy.
    returns : Tensor
        ``[B]`` value targets.
    advantages : Tensor
        ``[B]`` advantage estimates.
    rewards : Tensor
        ``[B]`` (Lagrangian) rewards, for the Q head's TD target.
    next_obs : Tensor
        ``[B, obs_dim]`` observations :math:`\\mathbf H^{t+1}`.
    terminated : Tensor or None
        ``[B]`` bool, true where the episode terminated (not truncated) at the step.
    old_values : Tensor or None
        ``[B]`` values at collection (for value clipping and the explained variance).
    """

    obs: torch.Tensor
    w_actions: torch.Tensor
    phase_actions: torch.Tensor
    old_log_probs: torch.Tensor
    returns: torch.Tensor
    advantages: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor | None = None
    old_values: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.obs.dim() != 2:
            raise ShapeError(f"obs must have shape [B, obs_dim], got {tuple(self.obs.shape)}")
        size = self.obs.shape[0]
        two_d = {"w_actions": self.w_actions, "phase_actions": self.phase_actions,
                 "next_obs": self.next_obs}
        for name, t in two_d.items():
            if t.dim() != 2 or t.shape[0] != size:
                raise ShapeError(f"{name} must have shape [{size}, ...], got {tuple(t.shape)}")
        if self.next_obs.shape != self.obs.shape:
            raise ShapeError(f"next_obs must have the shape of obs {tuple(self.obs.shape)}, "
                             f"got {tuple(self.next_obs.shape)}")
        one_d = {"old_log_probs": self.old_log_probs, "returns": self.returns,
                 "advantages": self.advantages, "rewards": self.rewards,
                 "terminated": self.terminated, "old_values": self.old_values}
        for name, vec in one_d.items():
            if vec is not None and vec.shape != (size,):
                raise ShapeError(f"{name} must have shape [{size}], got {tuple(vec.shape)}")
        if self.phase_actions.dtype not in (torch.int64, torch.int32):
            raise ShapeError(f"phase_actions must be integer indices, got "
                             f"{self.phase_actions.dtype}")

    @property
    def size(self) -> int:
        """Number ``B`` of transitions."""
        return int(self.obs.shape[0])


class PPOUpdate:
    """Adam optimizers of the hybrid agent and one PPO + Q-head update per call.

    Parameters
    ----------
    agent : HybridAgent
        The actor and critic, updated in place.
    config : PPOUpdateConfig
        Hyperparameters.
    target_critic : HybridCritic, optional
        A target copy of the critic for the Q head's TD target (the paper has none); after each
        update it moves towards the critic by ``config.target_tau`` (SB3's ``polyak_update``).

    Attributes
    ----------
    kl_beta : float
        Current KL coefficient (adapted after each ``kl_penalty`` update).
    """

    def __init__(
        self,
        agent: HybridAgent,
        config: PPOUpdateConfig,
        *,
        target_critic: HybridCritic | None = None,
    ) -> None:
        self.agent = agent
        self.config = config
        self.target_critic = target_critic
        self.actor_optimizer = torch.optim.Adam(agent.actor.parameters(), lr=config.lr_actor)
        self.critic_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=config.lr_critic)
        self.kl_beta = config.kl_beta

    def _step(self, optimizer: torch.optim.Optimizer, module: nn.Module,
              loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(module.parameters(), self.config.max_grad_norm)
        optimizer.step()

    def update(self, batch: PPOBatch, *, generator: torch.Generator | None) -> dict[str, float]:
        """Run the actor steps, then the critic steps, on ``batch``.

        Parameters
        ----------
        batch : PPOBatch
            Transitions collected with the current policy.
        generator : torch.Generator or None
            Source of the Q head's replay minibatches (on the batch's device); ``None`` only
            when the whole batch fits in one minibatch.

        Returns
        -------
        dict of str to float
            ``policy_loss``, ``approx_kl``, ``clip_fraction``, ``entropy``, ``kl_beta`` (after
            adaptation), ``value_loss``, ``q_loss`` (last critic step), ``explained_variance``.
        """
        cfg, actor, critic = self.config, self.agent.actor, self.agent.critic
        adv = batch.advantages.detach()
        if cfg.normalize_advantages:
            adv = normalize_advantages(adv)
        old_lp = batch.old_log_probs.detach()

        # 1. actor: L^CLIP (28) or L^KLPEN (27), full batch, fixed advantages
        old_dist = None
        if cfg.objective == "kl_penalty":
            with torch.no_grad():
                old_dist = actor.distribution(batch.obs)
        for _ in range(cfg.actor_steps):
            for idx in self._minibatches(batch.size, generator, batch.obs.device):
                dist = actor.distribution(batch.obs[idx])
                log_prob = dist.log_prob(batch.w_actions[idx]).sum(-1)
                if old_dist is None:
                    pg_loss = clip_surrogate_loss(log_prob, old_lp[idx], adv[idx],
                                                  cfg.clip_eps)
                else:
                    kl = torch.distributions.kl_divergence(old_dist, dist).sum(-1)
                    pg_loss = kl_penalty_loss(log_prob, old_lp[idx], adv[idx], kl,
                                              self.kl_beta)
                entropy = dist.entropy().sum(-1).mean()
                self._step(self.actor_optimizer, actor, pg_loss - cfg.entropy_coef * entropy)
        with torch.no_grad():
            dist = actor.distribution(batch.obs)
            log_prob = dist.log_prob(batch.w_actions).sum(-1)
            kl_now = approx_kl(log_prob, old_lp)
            clip_frac = clip_fraction(log_prob, old_lp, cfg.clip_eps)
            entropy_now = dist.entropy().sum(-1).mean()
            if old_dist is None:
                policy_loss = clip_surrogate_loss(log_prob, old_lp, adv, cfg.clip_eps)
            else:
                kl_exact = torch.distributions.kl_divergence(old_dist, dist).sum(-1)
                policy_loss = kl_penalty_loss(log_prob, old_lp, adv, kl_exact, self.kl_beta)
                self.kl_beta = adapt_kl_coef(self.kl_beta, float(kl_exact.mean()),
                                             cfg.kl_target)

        # 2. critic: value loss + q_coef * TD loss of the Q head on a replay minibatch
        with torch.no_grad():
            values_before = critic(batch.obs)[0] if batch.old_values is None \
                else batch.old_values
        has_q = critic.q_head is not None and cfg.q_coef > 0
        v_loss = q_l = torch.zeros((), device=batch.obs.device)
        for _ in range(cfg.critic_steps):
            for mb in self._minibatches(batch.size, generator, batch.obs.device):
                values, q = critic(batch.obs[mb])
                v_loss = value_loss(values, batch.returns[mb],
                                    old_values=None if batch.old_values is None
                                    else batch.old_values[mb], clip_eps=cfg.value_clip)
                loss = v_loss
                if has_q:
                    idx = self._replay_indices(batch.size, generator, batch.obs.device)
                    q_idx = q[idx] if isinstance(mb, slice) else critic(batch.obs[idx])[1]
                    q_net = self.target_critic if self.target_critic is not None else critic
                    target = q_td_target(batch.rewards[idx], q_net(batch.next_obs[idx])[1],
                                         cfg.gamma, terminated=None if batch.terminated is None
                                         else batch.terminated[idx])
                    q_l = q_loss(q_idx, batch.phase_actions[idx], target, cfg.q_loss)
                    loss = loss + cfg.q_coef * q_l
                self._step(self.critic_optimizer, critic, loss)
        if self.target_critic is not None:
            polyak_update(critic.parameters(), self.target_critic.parameters(), cfg.target_tau)

        # 3. diagnostics
        return {
            "policy_loss": float(policy_loss),
            "approx_kl": float(kl_now),
            "clip_fraction": float(clip_frac),
            "entropy": float(entropy_now),
            "kl_beta": float(self.kl_beta),
            "value_loss": float(v_loss.detach()),
            "q_loss": float(q_l.detach()),
            "explained_variance": explained_variance(values_before, batch.returns),
        }

    def _minibatches(self, size: int, generator: torch.Generator | None,
                     device: torch.device) -> list[slice | torch.Tensor]:
        """The index sets of one epoch: ``[slice(None)]`` (the whole batch) without
        ``minibatch_size`` or when it covers the batch, else a random permutation of
        ``range(size)`` split into chunks of ``minibatch_size``."""
        m = self.config.minibatch_size
        if m is None or m >= size:
            return [slice(None)]
        if generator is None:
            raise ConfigError("minibatch_size needs a generator for the permutations")
        return list(torch.randperm(size, generator=generator, device=device).split(m))

    def _replay_indices(self, size: int, generator: torch.Generator | None,
                        device: torch.device) -> torch.Tensor:
        """``q_batch_size`` distinct indices drawn uniformly (all of them if the batch is
        smaller)."""
        if size <= self.config.q_batch_size:
            return torch.arange(size, device=device)
        if generator is None:
            raise ConfigError("the Q head's replay minibatches need a generator")
        return torch.randperm(size, generator=generator, device=device)[: self.config.q_batch_size]
