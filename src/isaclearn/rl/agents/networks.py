r"""The hybrid actor and Q-critic of liu_irs_ppo (``shared/papers/001_...txt``, §III-A, §V-A,
§VI).

The paper splits one PPO agent into two networks that act together:

* the **actor** :math:`\pi(\mathbf H, \omega)` designs the transmit beamformer :math:`\mathbf W`:
  one dense layer of 30 ReLU units, a mean head with tanh and a standard-deviation head with
  softplus, and a truncated Gaussian (:class:`~isaclearn.rl.agents.distributions.TruncatedNormal`)
  over the ``2MK`` real and imaginary parts of :math:`\mathbf W` in :math:`[-1, 1]` (the env maps
  them to complex and projects onto the per-antenna power constraint (22));
* the **critic** has one dense layer of 20 ReLU units and two heads: the state value
  :math:`v(\mathbf H, \upsilon)` used by PPO's advantage (25) and a Q function over the IRS phase
  indices (31), :math:`i_n = \arg\max_i Q(\mathbf H, i_n, \upsilon)`, chosen ε-greedily.

:class:`HybridAgentConfig` holds every size; :class:`HybridAgent` bundles both networks and
:meth:`HybridAgent.act` draws one joint action (``w``, ``phases``) with its log-probability and
value.

Notes
-----
*Q head (spec §6.6).* "The critic designs the phases" leaves open one Q value per joint phase
vector (:math:`2^{bN}` outputs, 2^48 at the default N = 16, b = 3) or one per element. We use a
**factorized** head: ``N`` heads of :math:`2^b` outputs each, ``q[..., n, i]`` being the value of
element ``n`` taking index ``i``; each element is chosen by its own argmax and each is trained
towards its own TD target (:func:`isaclearn.rl.agents.losses.q_td_target`).

*ε-greedy (spec §6.6).* The paper's ε = 0.95 with "a random action with probability ε" would
explore 95 % of the time forever. Read as in the MorvanZhou DQN code the paper follows, ε is the
probability of the **greedy** action (``epsilon_reading="greedy"``, the default); the literal
reading (``"random"``) is an option. The coin is thrown per element (the paper indexes the random
choice by ``n``).

*Action range.* The paper puts the action "on the domain [0, P_max]", which cannot hold the
complex ``W`` (spec §6.5); the box is ``[action_low, action_high] = [-1, 1]`` and the tanh mean is
mapped affinely onto it. The softplus scale gets a floor ``min_std`` (chosen, 1e-3) so that the
truncated Gaussian never degenerates.

*Initialization.* With a ``generator``, every layer is initialized exactly as
:meth:`torch.nn.Linear.reset_parameters` does, but from that generator, so that two processes
(the in-process and the Ray DPPO chiefs) build identical networks; without one, torch's global
generator is used.

Examples
--------
>>> import torch
>>> from isaclearn.rl.agents.networks import HybridAgent, HybridAgentConfig
>>> cfg = HybridAgentConfig(obs_dim=40, action_dim=40, num_irs_elements=16, phase_bits=3)
>>> agent = HybridAgent(cfg, generator=torch.Generator().manual_seed(0))
>>> step = agent.act(torch.zeros(8, 40), generator=torch.Generator().manual_seed(1))
>>> step.w.shape, step.phases.shape, step.log_prob.shape, step.value.shape
(torch.Size([8, 40]), torch.Size([8, 16]), torch.Size([8]), torch.Size([8]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from isaclearn.core.checks import check_count, check_last_dims
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.rl.agents.distributions import ClippedNormal, TruncatedNormal

EpsilonReading = Literal["greedy", "random"]
Activation = Literal["relu", "tanh"]
PolicyKind = Literal["truncated", "clipped"]
StdKind = Literal["head", "state"]
InitKind = Literal["torch", "orthogonal"]

__all__ = [
    "Activation",
    "EpsilonReading",
    "InitKind",
    "PolicyKind",
    "StdKind",
    "HybridAction",
    "HybridActor",
    "HybridAgent",
    "HybridAgentConfig",
    "HybridCritic",
    "init_linear_",
    "select_phases",
]


@dataclass(frozen=True)
class HybridAgentConfig:
    r"""Sizes and exploration of the hybrid actor / Q-critic agent.

    Attributes
    ----------
    obs_dim : int
        Length of the flat real observation (``2KM`` for the MISO effective channel, stacked
        real and imaginary parts).
    action_dim : int
        Number of continuous action entries (``2MK``: real and imaginary parts of ``W``).
    num_irs_elements : int
        IRS elements ``N`` (one Q head each). ``0`` builds no Q head (fixed-phase env).
    phase_bits : int
        Bits ``b`` per IRS phase; each Q head has ``2**b`` outputs (spec §1, chosen 3).
    actor_hidden : int
        Units of the actor's single dense ReLU layer (paper §VI: 30).
    critic_hidden : int
        Units of the critic's single dense ReLU layer (paper §VI: 20).
    action_low : float
        Lower bound of every continuous action entry (-1).
    action_high : float
        Upper bound of every continuous action entry (1).
    min_std : float
        Floor added to the softplus scale head (chosen, 1e-3).
    epsilon : float
        ε of the ε-greedy phase choice (paper §VI: 0.95), in ``[0, 1]``.
    epsilon_reading : {"greedy", "random"}
        ``"greedy"``: ε is the probability of the greedy index (MorvanZhou convention, default);
        ``"random"``: the paper's literal text, ε is the probability of a random index.
    hidden_layers : int
        Dense hidden layers of the actor and of the critic trunk, each of ``actor_hidden`` /
        ``critic_hidden`` units (paper §VI: 1; SB3's ``MlpPolicy``: 2 of 64).
    activation : {"relu", "tanh"}
        Activation of the hidden layers (paper: ReLU; SB3: tanh).
    policy : {"truncated", "clipped"}
        ``"truncated"`` (paper §VI): tanh mean mapped onto the box and a
        :class:`~isaclearn.rl.agents.distributions.TruncatedNormal`. ``"clipped"`` (SB3): a
        linear, unbounded mean and a plain Gaussian
        (:class:`~isaclearn.rl.agents.distributions.ClippedNormal`) whose samples are clipped to
        the box on the way to the environment.
    std : {"head", "state"}
        ``"head"`` (paper): a softplus head of the hidden layer plus ``min_std``; ``"state"``
        (SB3): a state-independent parameter :math:`\log\sigma`, :math:`\sigma =
        e^{\log\sigma}` (``min_std`` not added).
    log_std_init : float
        Initial :math:`\log\sigma` of ``std="state"`` (SB3: 0).
    init : {"torch", "orthogonal"}
        ``"torch"``: :meth:`torch.nn.Linear.reset_parameters`. ``"orthogonal"`` (SB3's
        ``ortho_init``): orthogonal weights with gain √2 for hidden layers, 0.01 for the
        policy heads, 1 for the value and Q heads, zero biases.
    """

    obs_dim: int
    action_dim: int
    num_irs_elements: int
    phase_bits: int = 3
    actor_hidden: int = 30
    critic_hidden: int = 20
    action_low: float = -1.0
    action_high: float = 1.0
    min_std: float = 1e-3
    epsilon: float = 0.95
    epsilon_reading: EpsilonReading = "greedy"
    hidden_layers: int = 1
    activation: Activation = "relu"
    policy: PolicyKind = "truncated"
    std: StdKind = "head"
    log_std_init: float = 0.0
    init: InitKind = "torch"

    def __post_init__(self) -> None:
        choices = {"activation": ("relu", "tanh"), "policy": ("truncated", "clipped"),
                   "std": ("head", "state"), "init": ("torch", "orthogonal")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got "
                                  f"{getattr(self, name)!r}")
        if not math.isfinite(self.log_std_init):
            raise ConfigError(f"log_std_init must be finite, got {self.log_std_init}")
        for name in ("obs_dim", "action_dim", "phase_bits", "actor_hidden", "critic_hidden",
                     "hidden_layers"):
            check_count(getattr(self, name), name)
        n = self.num_irs_elements
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"num_irs_elements must be an integer >= 0, got {n!r}")
        if not (math.isfinite(self.action_low) and math.isfinite(self.action_high)
                and self.action_low < self.action_high):
            raise ConfigError(f"need finite action_low < action_high, got "
                              f"[{self.action_low}, {self.action_high}]")
        if not (self.min_std > 0 and math.isfinite(self.min_std)):
            raise ConfigError(f"min_std must be positive, got {self.min_std}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError(f"epsilon must lie in [0, 1], got {self.epsilon}")
        if self.epsilon_reading not in ("greedy", "random"):
            raise ConfigError(f"epsilon_reading must be 'greedy' or 'random', got "
                              f"{self.epsilon_reading!r}")

    @property
    def num_phases(self) -> int:
        """Phase indices per element, ``2**phase_bits``."""
        return 2**self.phase_bits


def init_linear_(layer: nn.Linear, generator: torch.Generator | None) -> nn.Linear:
    """Re-initialize ``layer`` in place as :meth:`torch.nn.Linear.reset_parameters` does
    (Kaiming-uniform weight with ``a = √5``, bias uniform in ``±1/√fan_in``), drawing from
    ``generator``. Returns ``layer``."""
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        if layer.bias is not None:
            bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def orthogonal_linear_(layer: nn.Linear, gain: float,
                       generator: torch.Generator | None) -> nn.Linear:
    """Re-initialize ``layer`` in place as SB3's ``ortho_init``: orthogonal weight of ``gain``
    (:func:`torch.nn.init.orthogonal_` from ``generator``), zero bias. Returns ``layer``."""
    with torch.no_grad():
        nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def _run_trunk(body: nn.Linear, deeper: nn.ModuleList, x: torch.Tensor,
               activation: Activation) -> torch.Tensor:
    """The hidden layers: ``body`` then each of ``deeper``, each followed by ``activation``."""
    act = F.relu if activation == "relu" else torch.tanh
    x = act(body(x))
    for layer in deeper:
        x = act(layer(x))
    return x


def _init_layers(layers: list[tuple[nn.Module | None, float]], kind: InitKind,
                 generator: torch.Generator | None) -> None:
    """Initialize ``(layer, orthogonal gain)`` pairs in order (``None`` layers skipped):
    torch's default from ``generator`` (only when one is given) or orthogonal."""
    for layer, gain in layers:
        if layer is None:
            continue
        assert isinstance(layer, nn.Linear)
        if kind == "orthogonal":
            orthogonal_linear_(layer, gain, generator)
        elif generator is not None:
            init_linear_(layer, generator)


def _check_obs(obs: torch.Tensor, obs_dim: int) -> None:
    if not isinstance(obs, torch.Tensor):
        raise TypeError(f"obs must be a torch.Tensor of shape [..., {obs_dim}], got "
                        f"{type(obs).__name__}")
    if obs.is_complex():
        raise ShapeError("obs must be real (stacked real and imaginary parts), got complex")
    check_last_dims(obs, (obs_dim,), "obs", f"[..., {obs_dim}]")


class HybridActor(nn.Module):
    r"""Actor :math:`\pi(\mathbf H, \omega)`: dense(ReLU) → tanh mean head, softplus std head.

    Parameters
    ----------
    config : HybridAgentConfig
        Sizes and action box.
    generator : torch.Generator or None
        Source of the initial weights (see module Notes).
    """

    def __init__(self, config: HybridAgentConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.body = nn.Linear(config.obs_dim, config.actor_hidden)
        self.mean_head = nn.Linear(config.actor_hidden, config.action_dim)
        self.std_head: nn.Linear | None = None
        self.log_std: nn.Parameter | None = None
        if config.std == "head":
            self.std_head = nn.Linear(config.actor_hidden, config.action_dim)
        else:
            self.log_std = nn.Parameter(torch.full((config.action_dim,), config.log_std_init))
        self.deeper = nn.ModuleList([nn.Linear(config.actor_hidden, config.actor_hidden)
                                     for _ in range(config.hidden_layers - 1)])
        root2 = math.sqrt(2.0)
        _init_layers([(self.body, root2), (self.mean_head, 0.01), (self.std_head, 0.01)]
                     + [(layer, root2) for layer in self.deeper], config.init, generator)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Location and scale of the truncated Gaussian.

        Parameters
        ----------
        obs : Tensor
            ``[..., obs_dim]`` real observations.

        Returns
        -------
        loc : Tensor
            ``[..., action_dim]``, tanh mapped onto ``[action_low, action_high]``.
        scale : Tensor
            ``[..., action_dim]``, ``softplus(·) + min_std``.
        """
        _check_obs(obs, self.config.obs_dim)
        cfg = self.config
        hidden = _run_trunk(self.body, self.deeper, obs, cfg.activation)
        if cfg.policy == "truncated":
            half_width = 0.5 * (cfg.action_high - cfg.action_low)
            centre = 0.5 * (cfg.action_high + cfg.action_low)
            loc = centre + half_width * torch.tanh(self.mean_head(hidden))
        else:
            loc = self.mean_head(hidden)
        if self.std_head is not None:
            scale = F.softplus(self.std_head(hidden)) + cfg.min_std
        else:
            assert self.log_std is not None
            scale = self.log_std.exp().expand_as(loc)
        return loc, scale

    def distribution(self, obs: torch.Tensor) -> TruncatedNormal | ClippedNormal:
        """The policy at ``obs``: independent truncated (or, ``policy="clipped"``, plain)
        Gaussians, ``batch_shape [..., action_dim]`` (joint log-probability:
        ``log_prob(w).sum(-1)``)."""
        loc, scale = self(obs)
        cls = TruncatedNormal if self.config.policy == "truncated" else ClippedNormal
        return cls(loc, scale, self.config.action_low, self.config.action_high)


class HybridCritic(nn.Module):
    r"""Critic: dense(ReLU) trunk shared by a value head :math:`v(\mathbf H)` and a factorized Q
    head over IRS phase indices.

    Parameters
    ----------
    config : HybridAgentConfig
        Sizes.
    generator : torch.Generator or None
        Source of the initial weights (see module Notes).
    """

    def __init__(self, config: HybridAgentConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.body = nn.Linear(config.obs_dim, config.critic_hidden)
        self.value_head = nn.Linear(config.critic_hidden, 1)
        self.q_head: nn.Linear | None = None
        if config.num_irs_elements > 0:
            self.q_head = nn.Linear(config.critic_hidden,
                                    config.num_irs_elements * config.num_phases)
        self.deeper = nn.ModuleList([nn.Linear(config.critic_hidden, config.critic_hidden)
                                     for _ in range(config.hidden_layers - 1)])
        root2 = math.sqrt(2.0)
        _init_layers([(self.body, root2), (self.value_head, 1.0), (self.q_head, 1.0)]
                     + [(layer, root2) for layer in self.deeper], config.init, generator)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Value and Q values.

        Parameters
        ----------
        obs : Tensor
            ``[..., obs_dim]`` real observations.

        Returns
        -------
        value : Tensor
            ``[...]`` state values.
        q : Tensor
            ``[..., N, 2**b]`` Q values per element and index (``[..., 0, 2**b]`` without a Q
            head).
        """
        _check_obs(obs, self.config.obs_dim)
        hidden = _run_trunk(self.body, self.deeper, obs, self.config.activation)
        value = self.value_head(hidden).squeeze(-1)
        cfg = self.config
        if self.q_head is None:
            q = hidden.new_zeros((*hidden.shape[:-1], 0, cfg.num_phases))
        else:
            q = self.q_head(hidden).unflatten(-1, (cfg.num_irs_elements, cfg.num_phases))
        return value, q


def select_phases(
    q: torch.Tensor,
    epsilon: float,
    *,
    generator: torch.Generator | None,
    reading: EpsilonReading = "greedy",
    greedy: bool = False,
) -> torch.Tensor:
    r"""ε-greedy IRS phase indices from a factorized Q head (eq. 31).

    Each element ``n`` independently takes :math:`\arg\max_i q_{n,i}` with probability
    :math:`p_g` and a uniformly random index otherwise, where :math:`p_g = \varepsilon` for
    ``reading="greedy"`` (default) and :math:`p_g = 1 - \varepsilon` for ``reading="random"``
    (the paper's literal text; see module Notes).

    Parameters
    ----------
    q : Tensor
        ``[..., N, A]`` Q values (``A = 2**b``).
    epsilon : float
        ε in ``[0, 1]``.
    generator : torch.Generator or None
        Source of the coins and random indices (on ``q``'s device); only ``None`` when
        ``greedy``.
    reading : {"greedy", "random"}
        Meaning of ε.
    greedy : bool
        Take the argmax everywhere (evaluation); draws nothing.

    Returns
    -------
    Tensor
        ``[..., N]`` int64 indices in ``[0, A)``.

    Raises
    ------
    ShapeError
        ``q`` has fewer than two dimensions.
    ValueRangeError
        ``epsilon`` outside ``[0, 1]``.
    ConfigError
        Unknown ``reading``.
    """
    if q.dim() < 2:
        raise ShapeError(f"q must have shape [..., N, A], got shape {tuple(q.shape)}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueRangeError(f"epsilon must lie in [0, 1], got {epsilon}")
    if reading not in ("greedy", "random"):
        raise ConfigError(f"reading must be 'greedy' or 'random', got {reading!r}")
    best = q.argmax(dim=-1)
    if greedy:
        return best
    p_greedy = epsilon if reading == "greedy" else 1.0 - epsilon
    coin = torch.rand(best.shape, generator=generator, device=q.device)
    random_idx = torch.randint(q.shape[-1], best.shape, generator=generator, device=q.device)
    return torch.where(coin < p_greedy, best, random_idx)


@dataclass(frozen=True)
class HybridAction:
    """One joint action of :class:`HybridAgent` for a batch of observations.

    Attributes
    ----------
    w : Tensor
        ``[..., action_dim]`` continuous action in ``[action_low, action_high]``.
    phases : Tensor
        ``[..., N]`` int64 IRS phase indices.
    log_prob : Tensor
        ``[...]`` joint log-probability of ``w`` under the actor (sum over entries).
    value : Tensor
        ``[...]`` critic value of the observation.
    """

    w: torch.Tensor
    phases: torch.Tensor
    log_prob: torch.Tensor
    value: torch.Tensor


class HybridAgent(nn.Module):
    """The actor and the critic of the primal-dual PPO agent.

    Parameters
    ----------
    config : HybridAgentConfig
        Sizes and exploration.
    generator : torch.Generator or None
        Source of the initial weights, actor first (see module Notes).
    """

    def __init__(self, config: HybridAgentConfig, *, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        self.actor = HybridActor(config, generator=generator)
        self.critic = HybridCritic(config, generator=generator)

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        *,
        generator: torch.Generator | None,
        deterministic: bool = False,
    ) -> HybridAction:
        """Draw ``W`` from the truncated Gaussian and ε-greedy phase indices.

        Parameters
        ----------
        obs : Tensor
            ``[..., obs_dim]`` real observations.
        generator : torch.Generator or None
            Source of randomness, used in this order: the ``W`` draw, then the phase coins, then
            the random phase indices. ``None`` only with ``deterministic``.
        deterministic : bool
            ``W`` = the mode (the clamped location) and greedy phases; draws nothing.

        Returns
        -------
        HybridAction
        """
        dist = self.actor.distribution(obs)
        w = dist.mode if deterministic else dist.sample(generator=generator)
        value, q = self.critic(obs)
        phases = select_phases(q, self.config.epsilon, generator=generator,
                               reading=self.config.epsilon_reading, greedy=deterministic)
        return HybridAction(w=w, phases=phases, log_prob=dist.log_prob(w).sum(-1), value=value)
