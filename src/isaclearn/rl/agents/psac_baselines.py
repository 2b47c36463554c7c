r"""The learned baselines of PSAC (yang_som, ``shared/papers/000_...txt``, Sec. VI; spec §4):
Stable-Baselines3 agents with PSAC's convolutional state encoder.

* **AC** (Fig. 6a, "classic actor-critic without sharing"): :func:`ac_baseline` builds SB3's
  ``DDPG`` (or ``TD3``) on :class:`~isaclearn.rl.sb3.SB3VecEnv` of the core, with
  :class:`ConvDictExtractor` (the same conv streams as PSAC's
  :class:`~isaclearn.rl.agents.psac.StateEncoder`) as the ``features_extractor_class`` and
  ``share_features_extractor=False``: the actor and the critic each own a *copy* of the encoder,
  nothing is shared. SB3's default ``CombinedExtractor`` would only flatten the image grids.
  Exploration is SB3's ``OrnsteinUhlenbeckActionNoise`` (θ = 0.5, σ = 0.3, ``dt = 1`` as in the
  authors' ``DRL_ISAC.py``).
* **DQN** (Sec. VI-D, "non-PSAC"): :func:`dqn_baseline` builds SB3's ``DQN`` with the same
  extractor on a core with a ``Discrete`` action. :class:`DiscreteActionCore` gives any core a
  ``Discrete(n)`` action through a user function ``to_action(index [B], core) -> action`` (an
  environment implements "replace column u of the analog precoder by codeword g",
  ``Discrete(U^max G_t)``, this way: the function may read the core's state);
  :func:`table_to_action` is the simplest such function (index → one row of a fixed table of
  Box actions).

Notes
-----
The baselines use SB3's own replay buffers, target networks, seeding (``seed=``, which also
seeds NumPy's global generator that SB3's noise draws from) and training loop; the authors'
DDPG (``DRL_ISAC.py``) used lr 0.01, soft target rate 0.06, batch 64, γ = 0.6 — our defaults,
with PSAC's buffer size 1024. Their nets are kept small: actor MLP ``[64]`` and critic MLP
``[64, 32]`` on top of the encoder (the authors' sizes).

On an action part whose effect depends only on its sign (DRL-UU's :math:`a_{RF,2}`, (31)) the
deterministic policy gradient drives the actor's ``tanh`` to saturation: the ReLU critic is
nearly linear in ``a``, and Adam moves the last layer by about ``learning_rate`` per weight and
step whatever the gradient's size, while nothing in the reward pulls the magnitude back. A
smaller learning rate only delays it (``docs/yang_som.md``, "Learned methods: findings").

Examples
--------
>>> import torch
>>> from gymnasium import spaces
>>> space = spaces.Dict({"img": spaces.Box(-1, 1, (1, 8, 8))})
>>> ext = ConvDictExtractor(space, channels=(4,))
>>> ext.features_dim, ext({"img": torch.zeros(3, 1, 8, 8)}).shape
(64, torch.Size([3, 64]))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import DDPG, DQN, TD3
from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from isaclearn.core.checks import check_count
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.rl.agents.psac import StateEncoder
from isaclearn.rl.core import Action, CoreView, EnvCore, StepResult, as_batched_action

__all__ = [
    "ConvDictExtractor",
    "DiscreteActionCore",
    "ToAction",
    "ac_baseline",
    "dqn_baseline",
    "table_to_action",
]

ToAction = Callable[[torch.Tensor, EnvCore], Action]
"""``to_action(index [B] int64, inner_core) -> inner action [B, ...]``."""


class ConvDictExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: PSAC's conv state encoder :math:`\\phi_{SE}` (one stream per
    Dict key, ``conv → BN → maxpool → ReLU`` blocks, flattened and concatenated).

    Parameters
    ----------
    observation_space : gymnasium.spaces.Dict
        Dict of image Boxes (``[C, H, W]`` or ``[H, W]``).
    inputs : sequence of str, optional
        Keys to encode (default all).
    channels : tuple of int
        Conv channels of every stream (4, 8).
    channels_per_key : sequence of (str, tuple of int)
        Per-key overrides.
    kernel_size, pool : int
        Conv kernel and pooling window (3, 2).
    batch_norm : bool
        BN after each conv.
    """

    def __init__(self, observation_space: spaces.Space[Any], *,
                 inputs: Sequence[str] | None = None, channels: tuple[int, ...] = (4, 8),
                 channels_per_key: Sequence[tuple[str, tuple[int, ...]]] = (),
                 kernel_size: int = 3, pool: int = 2, batch_norm: bool = True) -> None:
        per_key = {str(k): tuple(v) for k, v in channels_per_key}
        encoder = StateEncoder(observation_space, inputs=inputs,
                               channels=lambda key: per_key.get(key, tuple(channels)),
                               kernel_size=kernel_size, pool=pool, batch_norm=batch_norm)
        super().__init__(observation_space, features_dim=encoder.out_dim)
        self.encoder = encoder

    def forward(self, observations: Any) -> torch.Tensor:
        """Features ``[B, features_dim]``."""
        return self.encoder(observations)  # type: ignore[no-any-return]


def _ou_noise(n: int, theta: float, sigma: float, dt: float) -> OrnsteinUhlenbeckActionNoise:
    return OrnsteinUhlenbeckActionNoise(mean=np.zeros(n), sigma=np.full(n, float(sigma)),
                                        theta=float(theta), dt=float(dt))


def ac_baseline(core: EnvCore, *, algorithm: Literal["ddpg", "td3"] = "ddpg",
                encoder: Mapping[str, Any] | None = None,
                actor_arch: Sequence[int] = (64,), critic_arch: Sequence[int] = (64, 32),
                learning_rate: float = 0.01, buffer_size: int = 1024, batch_size: int = 64,
                gamma: float = 0.6, tau: float = 0.06, learning_starts: int = 100,
                ou_theta: float = 0.5, ou_sigma: float = 0.3, ou_dt: float = 1.0,
                seed: int | None = 0, device: str | None = None,
                **kwargs: Any) -> DDPG | TD3:
    """The AC baseline: SB3 ``DDPG`` / ``TD3`` on ``SB3VecEnv(core)`` with
    :class:`ConvDictExtractor` copies in the actor and the critic (not shared).

    Parameters
    ----------
    core : EnvCore
        Dict observation of images, flat Box action.
    algorithm : {"ddpg", "td3"}
        SB3 algorithm.
    encoder : mapping, optional
        Keyword arguments of :class:`ConvDictExtractor` (``inputs``, ``channels``, ...).
    actor_arch, critic_arch : sequence of int
        MLP widths on top of the encoder (64 / 64, 32).
    learning_rate, buffer_size, batch_size, gamma, tau, learning_starts
        SB3 hyper-parameters (authors' DDPG: 0.01, PSAC's 1024, 64, 0.6, 0.06).
    ou_theta, ou_sigma, ou_dt : float
        Ornstein–Uhlenbeck exploration noise (0.5, 0.3, 1).
    seed : int or None
        SB3 seed.
    device : str, optional
        Torch device of the networks (default the core's).
    **kwargs
        Further arguments of the SB3 constructor.

    Returns
    -------
    stable_baselines3.DDPG or stable_baselines3.TD3
        Untrained; call ``.learn(total_timesteps)`` (timesteps count all ``B`` parallel
        episodes). ``model.predict`` acts in :func:`isaclearn.rl.rollout.rollout`.

    Raises
    ------
    ConfigError
        Not a Dict observation / Box action, or an unknown algorithm.
    """
    from isaclearn.rl.sb3 import SB3VecEnv

    if not isinstance(core.observation_space, spaces.Dict):
        raise ConfigError(f"the AC baseline needs a Dict observation, got "
                          f"{core.observation_space}")
    space = core.action_space
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ConfigError(f"the AC baseline needs a flat Box action, got {space}")
    classes: dict[str, type[DDPG] | type[TD3]] = {"ddpg": DDPG, "td3": TD3}
    if algorithm not in classes:
        raise ConfigError(f"algorithm must be 'ddpg' or 'td3', got {algorithm!r}")
    policy_kwargs = {"features_extractor_class": ConvDictExtractor,
                     "features_extractor_kwargs": dict(encoder or {}),
                     "share_features_extractor": False,
                     "net_arch": {"pi": list(actor_arch), "qf": list(critic_arch)}}
    noise = _ou_noise(int(space.shape[0]), ou_theta, ou_sigma, ou_dt)
    return classes[algorithm](
        "MultiInputPolicy", SB3VecEnv(core), learning_rate=learning_rate,
        buffer_size=buffer_size, batch_size=batch_size, gamma=gamma, tau=tau,
        learning_starts=learning_starts, action_noise=noise, policy_kwargs=policy_kwargs,
        seed=seed, device=device or str(core.device), **kwargs)


def dqn_baseline(core: EnvCore, *, encoder: Mapping[str, Any] | None = None,
                 net_arch: Sequence[int] = (64,), learning_rate: float = 1e-3,
                 buffer_size: int = 1024, batch_size: int = 64, gamma: float = 0.6,
                 learning_starts: int = 100, target_update_interval: int = 100,
                 exploration_fraction: float = 0.5, seed: int | None = 0,
                 device: str | None = None, **kwargs: Any) -> DQN:
    """The DQN baseline: SB3 ``DQN`` on ``SB3VecEnv(core)`` (a ``Discrete`` action, e.g. a
    :class:`DiscreteActionCore`) with :class:`ConvDictExtractor`.

    Parameters
    ----------
    core : EnvCore
        Dict observation of images, ``Discrete`` action.
    encoder : mapping, optional
        Keyword arguments of :class:`ConvDictExtractor`.
    net_arch : sequence of int
        Q-network MLP widths on top of the encoder.
    learning_rate, buffer_size, batch_size, gamma, learning_starts, target_update_interval, \
exploration_fraction
        SB3 hyper-parameters (buffer, batch and γ as PSAC's).
    seed : int or None
        SB3 seed.
    device : str, optional
        Torch device (default the core's).
    **kwargs
        Further arguments of ``DQN``.

    Returns
    -------
    stable_baselines3.DQN
        Untrained; call ``.learn(total_timesteps)``.

    Raises
    ------
    ConfigError
        Not a Dict observation or not a Discrete action.
    """
    from isaclearn.rl.sb3 import SB3VecEnv

    if not isinstance(core.observation_space, spaces.Dict):
        raise ConfigError(f"the DQN baseline needs a Dict observation, got "
                          f"{core.observation_space}")
    if not isinstance(core.action_space, spaces.Discrete):
        raise ConfigError(f"the DQN baseline needs a Discrete action (see DiscreteActionCore), "
                          f"got {core.action_space}")
    policy_kwargs = {"features_extractor_class": ConvDictExtractor,
                     "features_extractor_kwargs": dict(encoder or {}),
                     "net_arch": list(net_arch)}
    return DQN("MultiInputPolicy", SB3VecEnv(core), learning_rate=learning_rate,
               buffer_size=buffer_size, batch_size=batch_size, gamma=gamma,
               learning_starts=learning_starts, target_update_interval=target_update_interval,
               exploration_fraction=exploration_fraction, policy_kwargs=policy_kwargs,
               seed=seed, device=device or str(core.device), **kwargs)


def table_to_action(table: torch.Tensor | np.ndarray) -> ToAction:
    """``to_action`` of :class:`DiscreteActionCore` that returns row ``index`` of ``table``
    (``[n, *action_shape]``, one fixed inner action per discrete choice)."""
    t = torch.as_tensor(table)

    def to_action(index: torch.Tensor, core: EnvCore) -> Action:
        return t.to(device=index.device)[index]

    return to_action


class DiscreteActionCore(CoreView):
    """A view of a core with a ``Discrete(num_actions)`` action, mapped onto the inner core's
    action by ``to_action(index [B] int64, inner_core)``.

    Parameters
    ----------
    core : EnvCore
        The inner core.
    num_actions : int
        Number of discrete choices.
    to_action : callable
        ``to_action(index, core) -> action`` for the inner core (``[B, ...]``); it may read the
        inner core's current state (e.g. the precoder whose column it replaces).

    Raises
    ------
    ConfigError
        ``num_actions`` is not a positive integer or ``to_action`` not callable.
    """

    def __init__(self, core: EnvCore, num_actions: int, to_action: ToAction) -> None:
        check_count(num_actions, "num_actions")
        if not callable(to_action):
            raise ConfigError("to_action must be callable")
        super().__init__(core, spaces.Discrete(int(num_actions)))
        self.num_actions = int(num_actions)
        self.to_action = to_action

    def with_batch_size(self, batch_size: int) -> DiscreteActionCore:
        return DiscreteActionCore(self.core.with_batch_size(batch_size), self.num_actions,
                                  self.to_action)

    def step(self, action: Any) -> StepResult:
        """Map the indices ``[B]`` through ``to_action`` and step the inner core."""
        index = as_batched_action(self.action_space, action, self.batch_size, self.device)
        assert isinstance(index, torch.Tensor)
        return self.core.step(self.to_action(index.to(torch.int64), self.core))

    def design_to_action(self, design: Design) -> Action:
        raise ConfigError("a DiscreteActionCore cannot express an arbitrary Design")
