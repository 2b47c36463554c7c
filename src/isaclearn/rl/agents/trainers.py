r"""Primal-dual PPO and A2C trainers for liu_irs_ppo (``shared/papers/001_...txt``, Alg. 1,
§III–IV; spec §3), generic over a batched :class:`~isaclearn.rl.core.EnvCore`.

The training loop of Alg. 1, read top to bottom (:meth:`OnPolicyTrainer.train`):

1. **Rollout.** Each worker (one for PPO/A2C, ``W`` for DPPO, :mod:`isaclearn.rl.dppo`) holds a
   core of ``B`` episodes and steps all of them as one tensor operation. At each step the actor
   draws the continuous action ``w`` from its truncated Gaussian and the critic's Q head picks
   the discrete indices ε-greedily (:meth:`~isaclearn.rl.agents.networks.HybridAgent.act`); the
   transition :math:`\{\mathbf H^t, \pi^t, r^t, \mathbf H^{t+1}\}` is stored (Alg. 1 h).
   A *round* is one episode of every worker's ``B`` episodes, started by one full reset
   (``steps_per_episode`` steps, default the core's ``max_episode_steps``, 50 for the paper);
   the round is split into batches of ``steps_per_update`` steps (default: the whole round, one
   update per episode). An episode that terminates early stays ended until the round ends (its
   later steps are masked out).
2. **Advantages.** Monte-Carlo (25) :math:`A = R - v` by default, L-step (44) or GAE(λ), from
   :mod:`isaclearn.rl.agents.returns`; nothing is bootstrapped at an episode's end unless
   ``bootstrap_truncated`` (SB3's convention for time limits), and a batch that ends inside an
   episode bootstraps from the critic's value there.
3. **Policy step (33)** and critic/Q-head step: one
   :meth:`~isaclearn.rl.agents.ppo_update.PPOUpdate.update` on the batch (the Lagrangian reward
   is what PPO maximizes).
4. **Primal-dual step (34)–(36):** :meth:`~isaclearn.rl.primal_dual.PrimalDual.update` with the
   batch's mean per-user rates :math:`\hat{\mathbb E}\,\mathrm{rate}_k` and mean beampattern
   error :math:`\hat{\mathbb E}L_r`; the new :math:`\boldsymbol\lambda, \boldsymbol\mu` are set
   on every worker's core (``core.set_multipliers(lam, mu)``, or its ``lam``/``mu`` attributes)
   for the next batch.
5. **Diagnostics:** at each round's end one row per episode (``episode``, ``reward`` — the
   episode's return —, ``steps``, the episode means of every ``info`` metric such as
   ``sum_rate`` and ``beampattern_mse``, ``lambda``, ``mu`` and the moving average
   ``reward_ema``, :math:`m \leftarrow 0.9m + 0.1r` as in the MorvanZhou code) goes to the
   ``callback`` and to :attr:`OnPolicyTrainer.history`; each update's KL, clip fraction,
   explained variance, losses, λ, μ, x and :math:`L_r` go to TensorBoard when a ``log_dir`` is
   given.

The action of the core is a ``Dict`` with a continuous ``Box`` entry (``continuous_key``, the
actor's action) and an optional ``MultiDiscrete([2**b] * N)`` entry (``discrete_key``, the Q
head's action), or a plain ``Box`` (a fixed-phase env, e.g. a
:class:`~isaclearn.rl.actions.BoxActionCore` view with the phases fixed). The observation is a
flat real ``Box``.

:class:`PrimalDualA2C` is the same loop with A2C's single-step policy gradient: one actor step
and one critic step per batch. At the first step of an update the PPO ratio is exactly 1 and the
clipped surrogate's gradient is :math:`-\hat{\mathbb E}[A\,\nabla\log\pi]`, the A2C gradient, so
A2C is PPO with ``actor_steps = critic_steps = 1`` (the clip never acts).

Determinism
-----------
Every random number comes from a :class:`torch.Generator`: the network initialization from
``(seed, "init")``, worker ``k``'s environment and action sampling from ``(seed, k, 0)`` and
``(seed, k, 1)``, the Q head's replay minibatches and the zeroth-order perturbations from
``(seed, "update")`` (each seed derived with :class:`numpy.random.SeedSequence`). On the CPU
the same seed gives a bit-identical history.

Checkpoints
-----------
``train(checkpoint=stem)`` saves, at the end of every ``checkpoint_every``-th round, one
:mod:`isaclearn.learn.checkpoint` (safetensors + JSON, kind ``"rl_training_state"``): the
networks (and the target critic), both Adam optimizers' state as tensors (their
``param_groups`` in the JSON), the primal-dual state
(:meth:`~isaclearn.rl.primal_dual.PrimalDual.state_dict`), the KL coefficient, every
generator's state, the counters, the moving average and the history. ``resume=True`` continues
from it and gives the same parameters and history as an uninterrupted run. The stored trainer
configuration must equal the current one except for ``episodes`` (which may be raised to train
longer); the environment's configuration is not stored and is the caller's responsibility.

Examples
--------
>>> import torch
>>> from isaclearn.rl.envs.toy import ToyBeamCore
>>> from isaclearn.rl.agents.trainers import PrimalDualPPO, TrainerConfig
>>> core = ToyBeamCore(4, action="dict", max_episode_steps=5)
>>> trainer = PrimalDualPPO(core, TrainerConfig(episodes=8, discrete_key="levels", seed=0))
>>> rows = trainer.train()
>>> len(rows), sorted(rows[0])[:4]
(8, ['episode', 'min_rate', 'power', 'reward'])
>>> action = trainer(torch.zeros(4, 16))  # deterministic: truncated-Gaussian mode + greedy Q
>>> sorted(action)
['levels', 'w']
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.core.checks import check_count
from isaclearn.core.errors import CheckpointError, ConfigError
from isaclearn.core.random import make_generator
from isaclearn.learn.checkpoint import (
    exists,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    unprefixed,
)
from isaclearn.rl.agents.networks import (
    Activation,
    EpsilonReading,
    HybridAgent,
    HybridAgentConfig,
    InitKind,
    PolicyKind,
    StdKind,
)
from isaclearn.rl.agents.ppo_update import PPOBatch, PPOUpdate, PPOUpdateConfig
from isaclearn.rl.agents.returns import (
    AdvantageEstimate,
    Window,
    gae_advantages,
    lstep_advantages,
    mc_advantages,
)
from isaclearn.rl.core import Action, EnvCore
from isaclearn.rl.primal_dual import PrimalDual, PrimalDualConfig

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

AdvantageKind = Literal["mc", "lstep", "gae"]
Backend = Literal["inprocess", "ray"]
EpisodeCallback = Callable[[dict[str, Any]], None]

__all__ = [
    "ActionLayout",
    "AdvantageKind",
    "Backend",
    "EpisodeCallback",
    "OnPolicyTrainer",
    "PrimalDualA2C",
    "PrimalDualPPO",
    "RolloutWorker",
    "TrainerConfig",
    "WorkerRollout",
    "compare_with_sb3",
    "derive_seed",
    "sb3_like_config",
]

CHECKPOINT_KIND = "rl_training_state"


def derive_seed(seed: int, *keys: int | str) -> int:
    """A 63-bit seed derived from ``(seed, *keys)`` (strings hashed by their UTF-8 bytes), the
    same in every process: :class:`numpy.random.SeedSequence` of the integers."""
    ints: list[int] = [int(seed) & 0xFFFFFFFFFFFFFFFF]
    for key in keys:
        if isinstance(key, str):
            ints.append(int.from_bytes(key.encode(), "little") & 0xFFFFFFFFFFFFFFFF)
        else:
            ints.append(int(key))
    state = np.random.SeedSequence(ints).generate_state(1, dtype=np.uint64)[0]
    return int(state) & 0x7FFFFFFFFFFFFFFF


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainerConfig:
    """The whole configuration of a primal-dual PPO / A2C / DPPO run (spec §1, §3).

    Attributes
    ----------
    episodes : int
        Episodes to train, counted over all workers and parallel episodes (rounded up to whole
        rounds of ``workers * B`` episodes).
    steps_per_episode : int or None
        Steps of one round (episode); ``None``: the core's ``max_episode_steps`` (50 for the
        liu env). Must not exceed it.
    steps_per_update : int or None
        Steps per batch; ``None``: the whole episode (one update per round). A smaller value
        splits the round into ``ceil(T / steps_per_update)`` batches.
    gamma : float
        Discount of the advantages and of the Q head's TD target (chosen 0.9; overrides
        ``update.gamma``).
    advantage : {"mc", "lstep", "gae"}
        Advantage estimator: Monte-Carlo (25), L-step (44) or GAE(λ).
    lstep : int
        ``L`` of the L-step returns (44).
    lstep_window : {"sliding", "segment"}
        Windowing of the L-step returns (see :func:`~isaclearn.rl.agents.returns.lstep_advantages`).
    gae_lambda : float
        λ of GAE.
    bootstrap_truncated : bool
        Add :math:`\\gamma v(\\text{last obs})` to the reward of a time-limit truncation (SB3's
        convention). Off: the paper's episodes are not bootstrapped (25).
    update : PPOUpdateConfig
        Learning rates (1e-3 / 2e-3), actor and critic steps (10 + 10), clip ε (0.2), Q replay
        batch (32) and the rest of the PPO + Q-head update.
    q_head : bool
        Learn the discrete entry with the critic's Q head (off: the core must have no discrete
        entry, e.g. a fixed-phase view).
    target_network : bool
        Use a target copy of the critic for the Q head's TD target (the paper has none).
    epsilon : float
        ε of the ε-greedy Q head (0.95).
    epsilon_reading : {"greedy", "random"}
        Meaning of ε (spec §6.6: the probability of the greedy index by default).
    actor_hidden, critic_hidden : int
        Hidden units (paper §VI: 30 and 20).
    min_std : float
        Floor of the policy's scale.
    hidden_layers, activation, policy, std, log_std_init, init
        Architecture of the networks, see
        :class:`~isaclearn.rl.agents.networks.HybridAgentConfig` (defaults: the paper's one
        ReLU layer, truncated Gaussian with a softplus std head, torch's initialization).
    primal_dual : PrimalDualConfig or None
        The primal-dual steps (34)–(36); ``None`` trains on the core's reward as it is.
    continuous_key : str
        Key of the continuous entry of a Dict action (``"w"``).
    discrete_key : str or None
        Key of the discrete entry of a Dict action (``"phases"``; ``None``: none).
    rate_prefix : str
        Per-user rates are read from ``info[f"{rate_prefix}{k}"]``; with one rate constraint
        and no such key, from ``info[sum_rate_key]``.
    sum_rate_key : str
        Info key of the sum rate.
    mse_key : str
        Info key of the beampattern error :math:`L_r` (``f"{mse_key}_{s}"`` for ``S > 1``
        constraints).
    ema : float
        Weight of the previous value in the moving average of the episode reward (0.9).
    seed : int
        Seed of every generator (see module Determinism).
    checkpoint_every : int
        Rounds between checkpoints (when a checkpoint is given).
    """

    episodes: int = 1000
    steps_per_episode: int | None = None
    steps_per_update: int | None = None
    gamma: float = 0.9
    advantage: AdvantageKind = "mc"
    lstep: int = 5
    lstep_window: Window = "sliding"
    gae_lambda: float = 0.95
    bootstrap_truncated: bool = False
    update: PPOUpdateConfig = field(default_factory=PPOUpdateConfig)
    q_head: bool = True
    target_network: bool = False
    epsilon: float = 0.95
    epsilon_reading: EpsilonReading = "greedy"
    actor_hidden: int = 30
    critic_hidden: int = 20
    min_std: float = 1e-3
    hidden_layers: int = 1
    activation: Activation = "relu"
    policy: PolicyKind = "truncated"
    std: StdKind = "head"
    log_std_init: float = 0.0
    init: InitKind = "torch"
    primal_dual: PrimalDualConfig | None = None
    continuous_key: str = "w"
    discrete_key: str | None = "phases"
    rate_prefix: str = "rate_"
    sum_rate_key: str = "sum_rate"
    mse_key: str = "beampattern_mse"
    ema: float = 0.9
    seed: int = 0
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        check_count(self.episodes, "episodes")
        check_count(self.lstep, "lstep")
        check_count(self.checkpoint_every, "checkpoint_every")
        for name in ("steps_per_episode", "steps_per_update"):
            if getattr(self, name) is not None:
                check_count(getattr(self, name), name)
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must lie in [0, 1], got {self.gamma}")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ConfigError(f"gae_lambda must lie in [0, 1], got {self.gae_lambda}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must lie in [0, 1), got {self.ema}")
        if self.advantage not in ("mc", "lstep", "gae"):
            raise ConfigError(f"advantage must be 'mc', 'lstep' or 'gae', got "
                              f"{self.advantage!r}")
        if not isinstance(self.update, PPOUpdateConfig):
            raise ConfigError(f"update must be a PPOUpdateConfig, got "
                              f"{type(self.update).__name__}")
        if self.primal_dual is not None and not isinstance(self.primal_dual, PrimalDualConfig):
            raise ConfigError(f"primal_dual must be a PrimalDualConfig or None, got "
                              f"{type(self.primal_dual).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable dict of the fields (nested configs as dicts)."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# the action layout of a core
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionLayout:
    """Where the actor's and the Q head's actions go in a core's action.

    Attributes
    ----------
    continuous_key : str or None
        Dict key of the continuous entry (``None``: the action is that Box itself).
    discrete_key : str or None
        Dict key of the discrete entry (``None``: none).
    action_dim : int
        Continuous components.
    low, high : float
        Bounds of every continuous component.
    num_elements : int
        Discrete components ``N`` (0 without a discrete entry).
    phase_bits : int
        ``b`` with ``2**b`` choices per discrete component (1 without a discrete entry).
    obs_dim : int
        Length of the flat observation.
    """

    continuous_key: str | None
    discrete_key: str | None
    action_dim: int
    low: float
    high: float
    num_elements: int
    phase_bits: int
    obs_dim: int

    @classmethod
    def from_core(cls, core: EnvCore, config: TrainerConfig) -> ActionLayout:
        """Read the layout from ``core``'s spaces.

        Raises
        ------
        ConfigError
            The observation is not a flat Box, the action is neither a Box nor a Dict of the
            configured keys, the Box bounds are not one finite interval, or the discrete entry
            is not ``MultiDiscrete([2**b] * N)`` starting at 0.
        """
        obs_space = core.observation_space
        if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
            raise ConfigError(f"the trainers need a flat Box observation, got {obs_space}")
        space = core.action_space
        disc_key: str | None = None
        disc: spaces.Space[Any] | None = None
        if isinstance(space, spaces.Dict):
            keys = set(space.spaces)
            if config.continuous_key not in keys:
                raise ConfigError(f"the action has no continuous entry {config.continuous_key!r}"
                                  f" (keys {sorted(keys)}); set continuous_key")
            cont_key: str | None = config.continuous_key
            box = space.spaces[config.continuous_key]
            rest = keys - {config.continuous_key}
            if config.discrete_key is not None and config.discrete_key in rest:
                disc_key = config.discrete_key
                disc = space.spaces[disc_key]
                rest -= {disc_key}
            if rest:
                raise ConfigError(f"the action entries {sorted(rest)} are neither the "
                                  f"continuous_key nor the discrete_key")
        else:
            cont_key, box = None, space
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise ConfigError(f"the continuous action must be a flat Box, got {box}")
        low, high = np.asarray(box.low, dtype=float), np.asarray(box.high, dtype=float)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))
                and np.all(low == low.flat[0]) and np.all(high == high.flat[0])):
            raise ConfigError("the continuous action's bounds must be one finite interval")
        num, bits = 0, 1
        if disc is not None:
            if not config.q_head:
                raise ConfigError(f"q_head=False but the action has the discrete entry "
                                  f"{disc_key!r}: fix it with BoxActionCore(core, fixed=...)")
            if not isinstance(disc, spaces.MultiDiscrete) or len(disc.nvec.shape) != 1:
                raise ConfigError(f"the discrete action must be a flat MultiDiscrete, got {disc}")
            nvec = disc.nvec
            choices = int(nvec[0])
            if not np.all(nvec == choices) or choices < 2 or choices & (choices - 1):
                raise ConfigError(f"the discrete action must be MultiDiscrete([2**b] * N), got "
                                  f"nvec {nvec.tolist()}")
            if np.any(disc.start != 0):
                raise ConfigError("the discrete action must start at 0")
            num, bits = int(nvec.shape[0]), choices.bit_length() - 1
        return cls(cont_key, disc_key, int(box.shape[0]), float(low.flat[0]),
                   float(high.flat[0]), num, bits, int(obs_space.shape[0]))

    def agent_config(self, config: TrainerConfig) -> HybridAgentConfig:
        """The :class:`HybridAgentConfig` of this layout and ``config``."""
        return HybridAgentConfig(
            obs_dim=self.obs_dim, action_dim=self.action_dim,
            num_irs_elements=self.num_elements, phase_bits=self.phase_bits,
            actor_hidden=config.actor_hidden, critic_hidden=config.critic_hidden,
            action_low=self.low, action_high=self.high, min_std=config.min_std,
            epsilon=config.epsilon, epsilon_reading=config.epsilon_reading,
            hidden_layers=config.hidden_layers, activation=config.activation,
            policy=config.policy, std=config.std, log_std_init=config.log_std_init,
            init=config.init)

    def to_env(self, w: torch.Tensor, phases: torch.Tensor) -> Action:
        """The core's action from the actor's ``w`` ``[B, A]`` (clamped to the box when some
        entry lies outside it: the clipping of ``policy="clipped"``; the truncated Gaussian's
        ``w`` passes unchanged, the same tensor) and the indices ``[B, N]``."""
        if bool(((w < self.low) | (w > self.high)).any()):
            w = w.clamp(self.low, self.high)
        if self.continuous_key is None:
            return w
        out = {self.continuous_key: w}
        if self.discrete_key is not None:
            out[self.discrete_key] = phases
        return out


def _set_multipliers(core: Any, lam: torch.Tensor, mu: torch.Tensor) -> bool:
    """Set λ, μ on ``core`` or on the first core it wraps (``.core`` chain) that has
    ``set_multipliers`` or ``lam``/``mu`` attributes; returns whether one was found."""
    obj = core
    for _ in range(8):
        if obj is None:
            return False
        if hasattr(obj, "set_multipliers"):
            obj.set_multipliers(lam, mu)
            return True
        if hasattr(obj, "lam") and hasattr(obj, "mu"):
            obj.lam = lam.to(obj.lam.device, obj.lam.dtype).clone()
            obj.mu = mu.to(obj.mu.device, obj.mu.dtype).clone()
            return True
        obj = getattr(obj, "core", None)
    return False


# --------------------------------------------------------------------------------------------
# workers: collecting rollouts
# --------------------------------------------------------------------------------------------


@dataclass
class WorkerRollout:
    """One batch of one worker, time-major ``[T, B]`` (see :mod:`isaclearn.rl.agents.returns`
    for the conventions).

    Attributes
    ----------
    obs, next_obs : Tensor
        ``[T, B, obs_dim]`` float32 observations before and after each step.
    w : Tensor
        ``[T, B, A]`` continuous actions.
    phases : Tensor
        ``[T, B, N]`` int64 discrete actions.
    log_prob, values : Tensor
        ``[T, B]`` log-probabilities of ``w`` and critic values at collection.
    rewards : Tensor
        ``[T, B]`` the core's rewards.
    adv_rewards : Tensor
        ``[T, B]`` rewards for the advantages (``rewards`` plus the truncation bootstrap).
    terminated : Tensor
        ``[T, B]`` bool, the episode terminated at the step.
    episode_starts : Tensor
        ``[T, B]`` bool.
    valid : Tensor
        ``[T, B]`` bool, the episode was running at the step.
    last_values : Tensor
        ``[B]`` value of the observation after the last step.
    last_dones : Tensor
        ``[B]`` bool, the episode is over after the last step.
    info : dict of str to Tensor
        ``[T, B]`` float64 info metrics of each step.
    rows : list of dict
        One row per episode of this worker when the batch ends a round (else empty).
    """

    obs: torch.Tensor
    next_obs: torch.Tensor
    w: torch.Tensor
    phases: torch.Tensor
    log_prob: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    adv_rewards: torch.Tensor
    terminated: torch.Tensor
    episode_starts: torch.Tensor
    valid: torch.Tensor
    last_values: torch.Tensor
    last_dones: torch.Tensor
    info: dict[str, torch.Tensor]
    rows: list[dict[str, Any]]

    @staticmethod
    def cat(parts: Sequence[WorkerRollout]) -> WorkerRollout:
        """The rollouts of several workers side by side (along ``B``, in the given order)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(first):
            if f.name == "info":
                kw["info"] = {k: torch.cat([p.info[k] for p in parts], dim=1)
                              for k in first.info}
            elif f.name == "rows":
                kw["rows"] = [r for p in parts for r in p.rows]
            elif f.name in ("last_values", "last_dones"):
                kw[f.name] = torch.cat([getattr(p, f.name) for p in parts], dim=0)
            else:
                kw[f.name] = torch.cat([getattr(p, f.name) for p in parts], dim=1)
        return WorkerRollout(**kw)


class RolloutWorker:
    """Worker ``index``: its own core, generators and copy of the agent (Alg. 1 b–h).

    The same class runs in process and inside a Ray actor, which is what makes both DPPO
    backends identical.

    Parameters
    ----------
    core : EnvCore
        The worker's core (``B`` parallel episodes).
    config : TrainerConfig
        The trainer's configuration.
    index : int
        Worker index ``k`` (seeds ``(seed, k, 0)`` for the environment and ``(seed, k, 1)``
        for the actions).
    """

    def __init__(self, core: EnvCore, config: TrainerConfig, index: int) -> None:
        self.core = core
        self.config = config
        self.index = int(index)
        self.layout = ActionLayout.from_core(core, config)
        horizon = core.max_episode_steps
        steps = config.steps_per_episode if config.steps_per_episode is not None else horizon
        if steps is None:
            raise ConfigError("the core has no max_episode_steps: set steps_per_episode")
        if horizon is not None and steps > horizon:
            raise ConfigError(f"steps_per_episode ({steps}) exceeds the core's "
                              f"max_episode_steps ({horizon})")
        self.round_length = int(steps)
        # weights come from the chief (set_weights); a private generator keeps the global one
        self.agent = HybridAgent(self.layout.agent_config(config),
                                 generator=torch.Generator().manual_seed(0)).to(core.device)
        self.env_generator = make_generator(derive_seed(config.seed, self.index, 0), core.device)
        self.act_generator = make_generator(derive_seed(config.seed, self.index, 1), core.device)
        self.lam: torch.Tensor | None = None
        self.mu: torch.Tensor | None = None
        self._step = 0
        self._obs: torch.Tensor | None = None
        self._alive = torch.zeros(core.batch_size, dtype=torch.bool, device=core.device)
        self._starts = torch.ones_like(self._alive)
        self._total = torch.zeros(core.batch_size, dtype=torch.float64, device=core.device)
        self._length = torch.zeros(core.batch_size, dtype=torch.int64, device=core.device)
        self._sums: dict[str, torch.Tensor] = {}

    # ---- control from the chief ---------------------------------------------------------

    def set_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Load the chief's agent weights (the broadcast of Alg. 2)."""
        self.agent.load_state_dict(state)

    def set_multipliers(self, lam: torch.Tensor, mu: torch.Tensor) -> None:
        """Set λ, μ on the core for the next batch.

        Raises
        ------
        ConfigError
            The core (or the core it wraps) has no multipliers.
        """
        if not _set_multipliers(self.core, lam, mu):
            raise ConfigError(f"{type(self.core).__name__} has no multipliers: primal_dual "
                              "needs a core with set_multipliers(lam, mu) or lam/mu attributes")
        self.lam, self.mu = lam.detach().cpu().clone(), mu.detach().cpu().clone()

    def get_state(self) -> dict[str, torch.Tensor]:
        """The generators' states (for checkpoints; taken between rounds)."""
        return {"env": self.env_generator.get_state(), "act": self.act_generator.get_state()}

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`get_state`."""
        self.env_generator.set_state(state["env"])
        self.act_generator.set_state(state["act"])

    def round_done(self) -> bool:
        """Whether the current round is over (the next batch starts a new one)."""
        return self._obs is None or self._step >= self.round_length

    # ---- acting -------------------------------------------------------------------------

    def _as_obs(self, obs: Any) -> torch.Tensor:
        if not isinstance(obs, torch.Tensor):
            raise ConfigError("the trainers need a core with tensor (Box) observations")
        return obs.to(torch.float32)

    def _start_round(self) -> None:
        obs, _ = self.core.reset(generator=self.env_generator)
        self._obs = self._as_obs(obs)
        self._step = 0
        self._alive.fill_(True)
        self._starts.fill_(True)
        self._total.zero_()
        self._length.zero_()
        self._sums = {}

    @torch.no_grad()
    def collect(self, num_steps: int) -> WorkerRollout:
        """Step the ``B`` episodes ``num_steps`` times (fewer if the round ends first), starting
        a new round (one full reset) if the last one is over.

        Returns
        -------
        WorkerRollout
            The batch; its ``rows`` hold the finished episodes when the round ends.
        """
        if self.round_done():
            self._start_round()
        assert self._obs is not None
        cfg, layout, agent = self.config, self.layout, self.agent
        steps = min(int(num_steps), self.round_length - self._step)
        rec: dict[str, list[torch.Tensor]] = {k: [] for k in (
            "obs", "next_obs", "w", "phases", "log_prob", "values", "rewards", "adv_rewards",
            "terminated", "episode_starts", "valid")}
        infos: dict[str, list[torch.Tensor]] = {}
        for _ in range(steps):
            obs = self._obs
            act = agent.act(obs, generator=self.act_generator)
            next_raw, reward, terminated, truncated, info = self.core.step(
                layout.to_env(act.w, act.phases))
            self._step += 1
            next_obs = self._as_obs(next_raw)
            valid = self._alive.clone()
            cut = truncated | (self._step >= self.round_length)
            done = terminated | cut
            reward = reward.to(torch.float32)
            adv_reward = reward
            if cfg.bootstrap_truncated:
                boot = cut & ~terminated & valid
                if bool(boot.any()):
                    v_next = agent.critic(next_obs)[0]
                    adv_reward = reward + cfg.gamma * torch.where(boot, v_next,
                                                                  torch.zeros_like(v_next))
            for key, value in (
                    ("obs", obs), ("next_obs", next_obs), ("w", act.w), ("phases", act.phases),
                    ("log_prob", act.log_prob), ("values", act.value), ("rewards", reward),
                    ("adv_rewards", adv_reward), ("terminated", terminated & valid),
                    ("episode_starts", self._starts.clone()), ("valid", valid)):
                rec[key].append(value)
            weight = valid.to(torch.float64)
            self._total += reward.to(torch.float64) * weight
            self._length += valid.to(torch.int64)
            for key, value in info.items():
                v64 = value.to(torch.float64)
                infos.setdefault(key, []).append(v64)
                self._sums[key] = self._sums.get(key, 0.0) + v64 * weight
            self._alive &= ~done
            self._starts = ~self._alive
            self._obs = next_obs
        last_values = agent.critic(self._obs)[0]
        out = {k: torch.stack(v) for k, v in rec.items()}
        info_t = {k: torch.stack(v) for k, v in infos.items()}
        rows = self._rows() if self._step >= self.round_length else []
        return WorkerRollout(**out, last_values=last_values, last_dones=~self._alive,
                             info=info_t, rows=rows)

    def _rows(self) -> list[dict[str, Any]]:
        """One row per episode of the round just finished, in batch order."""
        length = self._length.clamp_min(1)
        means = {k: (v / length).cpu().tolist() for k, v in self._sums.items()}
        totals, lengths = self._total.cpu().tolist(), self._length.cpu().tolist()
        rows: list[dict[str, Any]] = []
        for i in range(self.core.batch_size):
            row: dict[str, Any] = {"worker": self.index, "reward": float(totals[i]),
                                   "steps": int(lengths[i])}
            row.update({k: float(v[i]) for k, v in means.items()})
            if self.lam is not None and self.mu is not None:
                row["lambda"] = float(self.lam.mean())
                row["mu"] = float(self.mu.mean())
            rows.append(row)
        return rows


# --------------------------------------------------------------------------------------------
# worker groups (backends)
# --------------------------------------------------------------------------------------------


class _InProcessGroup:
    """Workers in this process, called in index order."""

    def __init__(self, cores: Sequence[EnvCore], config: TrainerConfig) -> None:
        self.workers = [RolloutWorker(c, config, k) for k, c in enumerate(cores)]

    def call(self, method: str, *args: Any) -> list[Any]:
        return [getattr(w, method)(*args) for w in self.workers]

    def call_one(self, index: int, method: str, *args: Any) -> Any:
        return getattr(self.workers[index], method)(*args)

    def close(self) -> None:
        """Nothing to release."""


class _RayGroup:
    """Workers as Ray actors on a local Ray instance; results gathered in index order."""

    def __init__(self, cores: Sequence[EnvCore], config: TrainerConfig,
                 num_cpus: int | None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("backend='ray' needs Ray: pip install 'isaclearn[distributed]'"
                              ) from None
        self._ray = ray
        if not ray.is_initialized():
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        threads = torch.get_num_threads()

        @ray.remote(num_cpus=0)
        class _Actor(RolloutWorker):
            def __init__(self, core: EnvCore, config: TrainerConfig, index: int) -> None:
                torch.set_num_threads(threads)
                super().__init__(core, config, index)

            def call(self, method: str, *args: Any) -> Any:
                return getattr(self, method)(*args)

        self.actors = [_Actor.remote(c, config, k) for k, c in enumerate(cores)]  # type: ignore[attr-defined]

    def call(self, method: str, *args: Any) -> list[Any]:
        refs = [a.call.remote(method, *args) for a in self.actors]
        return list(self._ray.get(refs))

    def call_one(self, index: int, method: str, *args: Any) -> Any:
        return self._ray.get(self.actors[index].call.remote(method, *args))

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        self.actors = []


# --------------------------------------------------------------------------------------------
# the trainer
# --------------------------------------------------------------------------------------------


def _mean_where(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    w = mask.to(x.dtype)
    return (x * w).sum() / w.sum().clamp_min(1.0)


class OnPolicyTrainer:
    """Primal-dual actor-critic training on a batched core (module docstring), with ``workers``
    workers; the base of :class:`PrimalDualPPO`, :class:`PrimalDualA2C` and
    :class:`~isaclearn.rl.dppo.DPPO`.

    Parameters
    ----------
    core : EnvCore
        The environment; each worker gets a fresh copy ``core.with_batch_size(B)`` (``B`` =
        ``core.batch_size`` episodes per worker). ``core`` itself is not stepped.
    config : TrainerConfig, optional
        The configuration (default ``TrainerConfig()``).
    workers : int
        Number ``W`` of workers (1 for PPO/A2C).
    backend : {"inprocess", "ray"}
        Where the workers run (Ray: one actor each on a local Ray instance).
    num_cpus : int, optional
        ``num_cpus`` of ``ray.init`` when this trainer starts Ray.
    worker_cores : sequence of EnvCore, optional
        One core per worker instead of copies of ``core`` (e.g. worker ``k`` serving user
        ``k`` in MIMO DPPO); same spaces as ``core``. Their multipliers are set by the trainer.

    Attributes
    ----------
    agent : HybridAgent
        The chief's actor and critic.
    updater : PPOUpdate
        Optimizers and the PPO + Q-head update.
    primal_dual : PrimalDual or None
        λ, μ, x.
    history : list of dict
        One row per finished episode.
    episodes_done, updates_done : int
        Progress counters.
    name : str
        The ``method`` column used by :func:`isaclearn.rl.rollout.rollout`.
    """

    name = "pd_ppo"

    def __init__(self, core: EnvCore, config: TrainerConfig | None = None, *, workers: int = 1,
                 backend: Backend = "inprocess", num_cpus: int | None = None,
                 worker_cores: Sequence[EnvCore] | None = None) -> None:
        if not isinstance(core, EnvCore):
            raise ConfigError(f"core must be an EnvCore, got {type(core).__name__}")
        check_count(workers, "workers")
        if worker_cores is not None:
            if len(worker_cores) != workers or not all(
                    isinstance(c, EnvCore) and c.observation_space == core.observation_space
                    and c.action_space == core.action_space for c in worker_cores):
                raise ConfigError(f"worker_cores must be {workers} EnvCores with the spaces of "
                                  "core")
        self._worker_cores = None if worker_cores is None else list(worker_cores)
        if backend not in ("inprocess", "ray"):
            raise ConfigError(f"backend must be 'inprocess' or 'ray', got {backend!r}")
        cfg = config if config is not None else TrainerConfig()
        cfg = dataclasses.replace(cfg, update=dataclasses.replace(cfg.update, gamma=cfg.gamma))
        self.config = self._adapt_config(cfg)
        self.core = core
        self.num_workers = int(workers)
        self.backend = backend
        self._num_cpus = num_cpus
        self.device = core.device
        self.layout = ActionLayout.from_core(core, self.config)
        init = make_generator(derive_seed(self.config.seed, "init"), "cpu")
        self.agent = HybridAgent(self.layout.agent_config(self.config), generator=init)
        self.agent.to(self.device)
        self.target_critic = copy.deepcopy(self.agent.critic) if self.config.target_network \
            else None
        self.updater = PPOUpdate(self.agent, self.config.update, target_critic=self.target_critic)
        self.primal_dual: PrimalDual | None = None
        pd_cfg = self.config.primal_dual
        if pd_cfg is not None:
            self.primal_dual = PrimalDual(pd_cfg, device=self.device)
        self.update_generator = make_generator(derive_seed(self.config.seed, "update"),
                                               self.device)
        self.eval_generator = make_generator(derive_seed(self.config.seed, "eval"), self.device)
        self.history: list[dict[str, Any]] = []
        self.episodes_done = 0
        self.updates_done = 0
        self.rounds_done = 0
        self.ema: float | None = None
        self._group: _InProcessGroup | _RayGroup | None = None

    def _adapt_config(self, config: TrainerConfig) -> TrainerConfig:
        """Hook of the subclasses (A2C fixes the step counts)."""
        return config

    # ---- acting (scoring through isaclearn.rl.rollout) ----------------------------------

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor, deterministic: bool = True) -> Action:
        """The action for a batch of observations ``[B, obs_dim]``: the truncated Gaussian's
        mode and greedy indices (``deterministic``), or a sample (with the trainer's own
        evaluation generator, never the training ones)."""
        step = self.agent.act(obs.to(device=self.device, dtype=torch.float32),
                              generator=None if deterministic else self.eval_generator,
                              deterministic=deterministic)
        return self.layout.to_env(step.w, step.phases)

    act = __call__

    # ---- workers ------------------------------------------------------------------------

    def _workers(self) -> _InProcessGroup | _RayGroup:
        if self._group is None:
            cores = self._worker_cores if self._worker_cores is not None else [
                self.core.with_batch_size(self.core.batch_size) for _ in range(self.num_workers)]
            if self.backend == "ray":
                self._group = _RayGroup(cores, self.config, self._num_cpus)
            else:
                self._group = _InProcessGroup(cores, self.config)
            if self.primal_dual is not None:
                s = self.primal_dual.state
                self._group.call("set_multipliers", s.lam, s.mu)
        return self._group

    def close(self) -> None:
        """Release the workers (Ray actors)."""
        if self._group is not None:
            self._group.close()
            self._group = None

    def _weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.agent.state_dict().items()}

    # ---- one batch: advantages, update, primal-dual -------------------------------------

    def _advantages(self, ro: WorkerRollout) -> AdvantageEstimate:
        """Step 2: advantages and value targets ``[T, B]`` of the batch."""
        cfg = self.config
        args = (ro.adv_rewards, ro.values, ro.episode_starts)
        if cfg.advantage == "mc":
            return mc_advantages(*args, gamma=cfg.gamma, last_values=ro.last_values,
                                 last_dones=ro.last_dones)
        if cfg.advantage == "lstep":
            return lstep_advantages(*args, gamma=cfg.gamma, num_steps=cfg.lstep,
                                    last_values=ro.last_values, last_dones=ro.last_dones,
                                    window=cfg.lstep_window)
        return gae_advantages(*args, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda,
                              last_values=ro.last_values, last_dones=ro.last_dones)

    def _batch(self, ro: WorkerRollout, est: AdvantageEstimate) -> PPOBatch:
        """The valid transitions of the batch, flattened time-major."""
        mask = ro.valid.reshape(-1)

        def flat(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])[mask]

        return PPOBatch(obs=flat(ro.obs), w_actions=flat(ro.w), phase_actions=flat(ro.phases),
                        old_log_probs=flat(ro.log_prob), returns=flat(est.returns),
                        advantages=flat(est.advantages), rewards=flat(ro.rewards),
                        next_obs=flat(ro.next_obs), terminated=flat(ro.terminated),
                        old_values=flat(ro.values))

    def _constraint_means(self, ro: WorkerRollout) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Ê rate_k [K], Ê L_r [S])`` over the valid steps of the batch."""
        pd_cfg = self.config.primal_dual
        assert pd_cfg is not None
        cfg, info = self.config, ro.info
        keys = [f"{cfg.rate_prefix}{k}" for k in range(pd_cfg.num_rates)]
        if not all(k in info for k in keys):
            if pd_cfg.num_rates == 1 and cfg.sum_rate_key in info:
                keys = [cfg.sum_rate_key]
            else:
                raise ConfigError(f"primal_dual needs the per-user rates {keys} in info")
        mse_keys = [cfg.mse_key] if pd_cfg.num_constraints == 1 else [
            f"{cfg.mse_key}_{s}" for s in range(pd_cfg.num_constraints)]
        missing = [k for k in mse_keys if k not in info]
        if missing:
            raise ConfigError(f"primal_dual needs {missing} in info")
        rates = torch.stack([_mean_where(info[k], ro.valid) for k in keys])
        mse = torch.stack([_mean_where(info[k], ro.valid) for k in mse_keys])
        return rates, mse

    def _learn(self, ro: WorkerRollout) -> dict[str, float]:
        """Steps 2–4 on one batch; returns the diagnostics."""
        est = self._advantages(ro)                                   # 2. advantages (25)/(44)
        stats = self.updater.update(self._batch(ro, est),            # 3. PPO + Q head (28)
                                    generator=self.update_generator)
        if self.primal_dual is not None:                             # 4. (34)-(36)
            rates, mse = self._constraint_means(ro)
            new = self.primal_dual.update(rates, mse, generator=self.update_generator)
            self._workers().call("set_multipliers", new["lam"], new["mu"])
            stats["L_r"] = float(mse.mean())
            for name, vec in (("lambda", new["lam"]), ("mu", new["mu"]), ("x", new["x"]),
                              ("rate", rates)):
                for i, v in enumerate(vec.tolist()):
                    stats[f"{name}_{i}"] = float(v)
        self.updates_done += 1
        return stats

    def _collect_and_learn(self, num_steps: int
                           ) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
        """Step 1 on every worker (after broadcasting the weights), then steps 2–4 on the
        batch assembled in worker-index order (Alg. 2's chief: the workers wait meanwhile).
        Returns the diagnostics of each update and the rows of the episodes that ended."""
        group = self._workers()
        group.call("set_weights", self._weights())
        parts: list[WorkerRollout] = group.call("collect", num_steps)
        ro = WorkerRollout.cat(parts)
        return [self._learn(ro)], ro.rows

    def _round(self, num_steps: int) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
        """One round: batches of ``num_steps`` steps until every worker's episodes are over."""
        stats: list[dict[str, float]] = []
        while True:
            s, rows = self._collect_and_learn(num_steps)
            stats.extend(s)
            if rows:
                return stats, rows

    # ---- the loop -----------------------------------------------------------------------

    def train(self, *, callback: EpisodeCallback | None = None,
              checkpoint: str | Path | None = None, resume: bool = True,
              log_dir: str | Path | None = None) -> list[dict[str, Any]]:
        """Train until ``config.episodes`` episodes are done (Alg. 1; Alg. 2 with workers).

        Parameters
        ----------
        callback : callable, optional
            Called with each episode's row (``episode``, ``worker``, ``reward``, ``steps``,
            the info means, ``lambda``, ``mu``, ``reward_ema``) as rounds finish.
        checkpoint : str or Path, optional
            Stem of the training checkpoint, written every ``checkpoint_every`` rounds and at
            the end.
        resume : bool
            Continue from ``checkpoint`` if it exists (its rows are not passed to
            ``callback`` again).
        log_dir : str or Path, optional
            TensorBoard directory for the per-update diagnostics.

        Returns
        -------
        list of dict
            :attr:`history`, every episode's row.

        Raises
        ------
        CheckpointError
            The checkpoint exists but belongs to another configuration or is damaged.
        """
        if checkpoint is not None and resume and exists(checkpoint):
            self.load_checkpoint(checkpoint)
        self._workers()
        per_update = self.config.steps_per_update or self._round_length()
        writer = self._writer(log_dir)
        try:
            while self.episodes_done < self.config.episodes:
                stats, rows = self._round(per_update)
                for row in rows:
                    self._finish_row(row, callback)
                self.rounds_done += 1
                if writer is not None:
                    self._log(writer, stats)
                if checkpoint is not None and (
                        self.rounds_done % self.config.checkpoint_every == 0
                        or self.episodes_done >= self.config.episodes):
                    self.save_checkpoint(checkpoint)
        finally:
            if writer is not None:
                writer.close()
        return self.history

    def _round_length(self) -> int:
        horizon = self.core.max_episode_steps
        steps = self.config.steps_per_episode or horizon
        if steps is None:
            raise ConfigError("the core has no max_episode_steps: set steps_per_episode")
        return int(steps)

    def _finish_row(self, row: dict[str, Any], callback: EpisodeCallback | None) -> None:
        r = float(row["reward"])
        a = self.config.ema
        self.ema = r if self.ema is None else a * self.ema + (1.0 - a) * r
        out = {"episode": self.episodes_done, **row, "reward_ema": self.ema}
        self.episodes_done += 1
        self.history.append(out)
        if callback is not None:
            callback(out)

    # ---- diagnostics --------------------------------------------------------------------

    def _writer(self, log_dir: str | Path | None) -> SummaryWriter | None:
        if log_dir is None:
            return None
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter(log_dir=str(log_dir))

    def _log(self, writer: SummaryWriter, stats: list[dict[str, float]]) -> None:
        first = self.updates_done - len(stats)
        for i, s in enumerate(stats):
            for key, value in s.items():
                group = "pd" if key.split("_")[0] in ("lambda", "mu", "x", "rate", "L") \
                    else "train"
                writer.add_scalar(f"{group}/{key}", value, first + i + 1)
        if self.ema is not None:
            writer.add_scalar("episode/reward_ema", self.ema, self.episodes_done)

    # ---- checkpoints --------------------------------------------------------------------

    def _checked_config(self) -> dict[str, Any]:
        cfg = self.config.to_dict()
        cfg.pop("episodes")
        return {"trainer": type(self).__name__, "config": cfg, "workers": self.num_workers,
                "batch_size": self.core.batch_size}

    def save_checkpoint(self, stem: str | Path) -> Path:
        """Write the training state (see module Checkpoints) to ``stem``; returns the tensor
        file's path."""
        tensors = prefixed(self.agent.state_dict(), "agent")
        if self.target_critic is not None:
            tensors.update(prefixed(self.target_critic.state_dict(), "target"))
        groups: dict[str, Any] = {}
        for name, opt in (("actor", self.updater.actor_optimizer),
                          ("critic", self.updater.critic_optimizer)):
            osd = opt.state_dict()
            groups[name] = osd["param_groups"]
            for pid, s in osd["state"].items():
                for key, t in s.items():
                    tensors[f"optim.{name}.{pid}.{key}"] = torch.as_tensor(t)
        if self.primal_dual is not None:
            tensors.update(prefixed(self.primal_dual.state_dict(), "pd"))
        tensors["rng.update"] = self.update_generator.get_state()
        tensors["rng.eval"] = self.eval_generator.get_state()
        for k, st in enumerate(self._workers().call("get_state")):
            for key, t in st.items():
                tensors[f"rng.worker{k}.{key}"] = t
        state = {"episodes_done": self.episodes_done, "updates_done": self.updates_done,
                 "rounds_done": self.rounds_done, "ema": self.ema,
                 "kl_beta": self.updater.kl_beta, "param_groups": groups,
                 "history": self.history}
        return save_checkpoint(stem, tensors, kind=CHECKPOINT_KIND,
                               config=self._checked_config(),
                               metrics={"reward_ema": self.ema}, state=state)

    def load_checkpoint(self, stem: str | Path) -> None:
        """Restore the training state written by :meth:`save_checkpoint`.

        Raises
        ------
        CheckpointError
            Missing or damaged files, another configuration, or missing entries.
        """
        ck = load_checkpoint(stem, expected_config=self._checked_config(),
                             expected_kind=CHECKPOINT_KIND)
        t = ck.tensors
        try:
            self.agent.load_state_dict(unprefixed(t, "agent"))
            if self.target_critic is not None:
                self.target_critic.load_state_dict(unprefixed(t, "target"))
            for name, opt in (("actor", self.updater.actor_optimizer),
                              ("critic", self.updater.critic_optimizer)):
                osd: dict[str, Any] = {"state": {}, "param_groups": ck.state["param_groups"][name]}
                for key, value in unprefixed(t, f"optim.{name}").items():
                    pid, sub = key.split(".", 1)
                    osd["state"].setdefault(int(pid), {})[sub] = value
                opt.load_state_dict(osd)
            if self.primal_dual is not None:
                self.primal_dual.load_state_dict(unprefixed(t, "pd"))
            self.update_generator.set_state(t["rng.update"])
            self.eval_generator.set_state(t["rng.eval"])
            group = self._workers()
            for k in range(self.num_workers):
                group.call_one(k, "set_state", unprefixed(t, f"rng.worker{k}"))
            if self.primal_dual is not None:
                s = self.primal_dual.state
                group.call("set_multipliers", s.lam, s.mu)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"training checkpoint {stem} does not fit this trainer: "
                                  f"{exc}") from None
        st = ck.state
        self.episodes_done = int(st["episodes_done"])
        self.updates_done = int(st["updates_done"])
        self.rounds_done = int(st["rounds_done"])
        self.ema = None if st["ema"] is None else float(st["ema"])
        self.updater.kl_beta = float(st["kl_beta"])
        self.history = list(st["history"])


class PrimalDualPPO(OnPolicyTrainer):
    """Primal-dual PPO (Alg. 1): see :class:`OnPolicyTrainer` and the module docstring.

    Examples
    --------
    >>> from isaclearn.rl.envs.toy import ToyBeamCore
    >>> t = PrimalDualPPO(ToyBeamCore(2, outage_rate=0.0), TrainerConfig(episodes=2))
    >>> [r["steps"] for r in t.train()]
    [20, 20]
    """

    name = "pd_ppo"


class PrimalDualA2C(OnPolicyTrainer):
    """Primal-dual A2C: the loop of :class:`PrimalDualPPO` with one actor step and one critic
    step per batch (A2C's single-step policy gradient; see the module docstring). The
    ``actor_steps`` and ``critic_steps`` of ``config.update`` are replaced by 1."""

    name = "pd_a2c"

    def _adapt_config(self, config: TrainerConfig) -> TrainerConfig:
        return dataclasses.replace(config, update=dataclasses.replace(
            config.update, actor_steps=1, critic_steps=1))


# --------------------------------------------------------------------------------------------
# sanity reference: our PPO with mu = 0 against SB3 PPO
# --------------------------------------------------------------------------------------------


def sb3_like_config(base: TrainerConfig | None = None) -> TrainerConfig:
    r"""``base`` (default ``TrainerConfig(q_head=False)``) with every setting of SB3's ``PPO``
    defaults that our trainer can express: ``MlpPolicy``'s two tanh layers of 64 units for
    the actor and the critic, orthogonal initialization, a plain Gaussian with a
    state-independent :math:`\log\sigma` (initially 0) clipped to the box, learning rate 3e-4
    for both networks, 10 epochs of minibatches of 64, advantages standardized, gradient norm
    clipped at 0.5.

    What stays different: SB3 standardizes the advantages per minibatch (ours per batch) and
    steps one Adam on the joint loss ``policy + 0.5 value`` with one global norm clip (ours: an
    optimizer per network, each clipped on its own); the discount and the advantage estimator
    are ``base``'s (:func:`compare_with_sb3` passes ``gamma`` to SB3).

    Examples
    --------
    >>> cfg = sb3_like_config()
    >>> cfg.hidden_layers, cfg.actor_hidden, cfg.activation, cfg.policy, cfg.update.minibatch_size
    (2, 64, 'tanh', 'clipped', 64)
    """
    cfg = base if base is not None else TrainerConfig(q_head=False)
    update = dataclasses.replace(cfg.update, lr_actor=3e-4, lr_critic=3e-4, actor_steps=10,
                                 critic_steps=10, minibatch_size=64, normalize_advantages=True,
                                 max_grad_norm=0.5)
    return dataclasses.replace(cfg, actor_hidden=64, critic_hidden=64, hidden_layers=2,
                               activation="tanh", policy="clipped", std="state",
                               log_std_init=0.0, init="orthogonal", update=update)


def compare_with_sb3(
    core: EnvCore,
    *,
    episodes: int,
    eval_episodes: int = 64,
    seed: int = 0,
    metric: str = "sum_rate",
    config: TrainerConfig | None = None,
    sb3_kwargs: dict[str, Any] | None = None,
    eval_seed: int = 12345,
) -> dict[str, float]:
    """Train our PPO (no primal-dual, so μ = 0 and λ = 1) and Stable-Baselines3's PPO on the
    same Box-action core for the same number of episodes, and score both deterministically on
    the same ``eval_episodes`` episodes (spec §7, §9: "within 5 %" on the fixed-phase env).

    Parameters
    ----------
    core : EnvCore
        A core with a Box action (a fixed-phase view of the liu env, a Box toy); its batch size
        is the number of parallel episodes of both learners.
    episodes : int
        Training episodes of each learner.
    eval_episodes : int
        Episodes scored by :func:`isaclearn.rl.rollout.rollout` (seed ``eval_seed``).
    seed : int
        Seed of both learners.
    metric : str
        The info metric compared (episode mean).
    config : TrainerConfig, optional
        Our trainer's configuration (``episodes``, ``seed`` are set here; ``primal_dual`` must
        be ``None``). The default (the paper's one-ReLU-layer networks) differs from SB3's
        ``MlpPolicy`` in its networks; :func:`sb3_like_config` gives the like-for-like check
        of the PPO implementation.
    sb3_kwargs : dict, optional
        Extra arguments of ``stable_baselines3.PPO`` (default: SB3's defaults with
        ``gamma = config.gamma`` and ``n_steps`` one episode per environment).
    eval_seed : int
        Seed of the scored episodes.

    Returns
    -------
    dict of str to float
        ``ours``, ``sb3`` (mean of ``metric`` over the scored episodes), ``ratio``
        (``ours / sb3``) and ``random`` (a uniformly random policy, for scale).

    Raises
    ------
    ConfigError
        The core's action is not a Box or ``config.primal_dual`` is set.
    """
    from stable_baselines3 import PPO

    from isaclearn.rl.rollout import rollout
    from isaclearn.rl.sb3 import SB3VecEnv

    if not isinstance(core.action_space, spaces.Box):
        raise ConfigError("compare_with_sb3 needs a Box-action core (fix the phases with "
                          "BoxActionCore(core, fixed=...))")
    base = config if config is not None else TrainerConfig(q_head=False)
    if base.primal_dual is not None:
        raise ConfigError("compare_with_sb3 compares the unconstrained PPO: primal_dual=None")
    cfg = dataclasses.replace(base, episodes=episodes, seed=seed)
    ours = PrimalDualPPO(core, cfg)
    ours.train()
    horizon = ours._round_length()
    b = core.batch_size
    kwargs: dict[str, Any] = {"gamma": cfg.gamma, "n_steps": horizon, "seed": seed,
                              "device": "cpu", "verbose": 0}
    kwargs.update(sb3_kwargs or {})
    env = SB3VecEnv(core.with_batch_size(b))
    model = PPO("MlpPolicy", env, **kwargs)
    model.learn(total_timesteps=int(math.ceil(episodes / b)) * b * horizon)
    env.close()

    eval_core = core.with_batch_size(eval_episodes)
    box = core.action_space
    rand_gen = make_generator(derive_seed(seed, "random"), core.device)

    def random_policy(obs: torch.Tensor) -> torch.Tensor:
        low = torch.as_tensor(box.low, dtype=torch.float32, device=core.device)
        high = torch.as_tensor(box.high, dtype=torch.float32, device=core.device)
        u = torch.rand((obs.shape[0], *box.shape), generator=rand_gen, device=core.device)
        return low + u * (high - low)

    def score(agent: Any) -> float:
        rows = rollout(eval_core, agent, eval_episodes, eval_seed)
        return float(np.mean([r[metric] for r in rows]))

    s_ours, s_sb3, s_rand = score(ours), score(model), score(random_policy)
    return {"ours": s_ours, "sb3": s_sb3, "ratio": s_ours / s_sb3 if s_sb3 else math.nan,
            "random": s_rand}
