r"""The parameter-shared actor-critic (PSAC) of yang_som (``shared/papers/000_...txt``, Sec. V-E/F,
Fig. 5, Alg. 2, eqs. (43)–(48)), generic over a batched :class:`~isaclearn.rl.core.EnvCore` with
a ``Dict`` observation of image-like tensors and a flat ``Box`` action.

Network (Fig. 5)
----------------
* **State encoder** :math:`\phi_{SE}`: one convolutional stream per observation key used
  (``conv → BN → maxpool → ReLU`` blocks, :class:`StateEncoder`), flattened and concatenated
  into :math:`\mathbf v_s`.
* **Action encoder** :math:`\phi_{AE}`: ``FC → BN → ReLU`` on the action, :math:`\mathbf v_a`.
* **Internal layer** :math:`\phi_{IN}`: ``FC → BN → ReLU`` on
  :math:`[\mathbf v_s, \mathbf v_a]`, :math:`\mathbf v`.
* **Action decoder** :math:`\phi_{AD}`: a list of heads (:class:`ActionHead`), each ``FC`` (an
  optional hidden ``FC → ReLU`` first) and an activation; a *conditioned* head also sees the
  outputs of the heads before it (the DPU-Net :math:`\phi_{DPU}(\mathbf v, \mathbf a_{RF})`). The
  flat action is the heads' outputs concatenated in order.
* **Value decoder** :math:`\phi_{VD}`: ``FC → BN → ReLU → FC`` → :math:`Q`.

Actor :math:`\mu = \phi_{AD}\circ\phi_{IN}(\phi_{SE}(o), \mathbf 0)` (``SE ∪ IN ∪ AD``), critic
:math:`Q = \phi_{VD}\circ\phi_{IN}(\phi_{SE}(o), \phi_{AE}(a))` (``SE ∪ AE ∪ IN ∪ VD``); SE and IN
are shared.

Training (Alg. 2)
-----------------
Each episode of :meth:`PSAC.train` is one frame of ``T`` steps of all ``B`` parallel episodes of
the core, acting with :math:`a = \mathrm{clip}(\mu(o) + \mathcal N)` (Ornstein–Uhlenbeck noise,
SB3's ``OrnsteinUhlenbeckActionNoise``) and storing every transition in SB3's
``DictReplayBuffer``. Then ``K`` minibatches of ``N_b`` transitions, each:

.. math::
    y_i &= r_i + \gamma\,Q'(o_{i+1}, \mu'(o_{i+1}))                      && (43)\\
    \delta_{C,i} &= f(y_i - Q(o_i, a_i))                                 && (44)\\
    \delta_{A,i} &= f(\mu(o_i) - \mu'(o_i))                              && (45)\\
    Z &= \tfrac1{N_b}\textstyle\sum_i \bigl[\delta_{C,i} + (1-\lambda)\delta_{A,i}
         - \lambda\,Q_\star(o_i, \mu(o_i))\bigr]                          && (46)\\
    \phi &\leftarrow \mathrm{Adam}(\phi, \nabla_\phi Z;\ \kappa)          && (48)

with :math:`f` the smooth-L1 function (``beta = 1``, averaged over the action components in
(45)) and :math:`Q_\star = Q'` (the target critic, default) or :math:`Q` (``actor_term=
"literal"``). Every ``p`` batches, with :math:`\bar L_c` the mean of the last ``p`` batches'
:math:`\tfrac1{N_b}\sum_i\delta_{C,i}`,

.. math::
    \lambda \leftarrow \tau e^{-\bar L_c^2} + (1-\tau)\lambda,\qquad \lambda_0 = 0.5   \quad (47)

and the target network is hard-copied, :math:`\phi' \leftarrow \phi`, iff
:math:`\lambda > \lambda_{thres}` (Alg. 2 l. 20–21).

Notes
-----
*Origin.* PSAC follows ElegantRL's ``AgentSharedAC`` / ``SharedDPG`` (AgentZoo; the paper's
[38]): ``enc_s / enc_a / net / dec_a / dec_q`` are SE / AE / IN / AD / VD, the actor pass feeds
the internal layer without an action (ElegantRL adds ``enc_a(a)`` to ``enc_s(s)``; with our
concatenation that is :math:`\mathbf v_a = \mathbf 0`, spec §6.11), the united loss has a
critic term, a trust term toward the target actor and a :math:`-Q_{target}(s, \mu(s))` term, and
:math:`\lambda = e^{-\bar L_c^2}` with :math:`\bar L_c` started at :math:`\sqrt{\ln 2}`
(:math:`\lambda_0 = 0.5`, Table III). ElegantRL writes the trust term on :math:`s'` and weighs
the Q term by :math:`\lambda/2`; we follow the paper's (45)–(46) (:math:`o`, :math:`\lambda`).
Its hard target copy is guarded by a condition that never fires (a bug, spec §8); ours fires.

*Our readings (spec §6.11).* (46) literally puts :math:`-\lambda Q(o, \mu(o))` through the
online critic, which would also push the critic-only parameters (AE, VD) to raise Q. As in the
ElegantRL origin we evaluate that term with the **target** critic by default, so its gradient
reaches the actor's parameters (SE, IN, AD) only; ``actor_term="literal"`` follows (46) as
printed. Alg. 2 l. 17 "if k mod p" is read as :math:`k \equiv 0 \pmod p`; the copy test of
l. 20 is read as following every batch (``copy_check="every_batch"``, default: l. 19 closes the
λ block) or only the batches where λ changes (``"lambda_update"``). The critic-loss accumulator
is reset at each episode (l. 12), so batches left over when ``p`` does not divide ``K`` do not
update λ. Terminal transitions (``terminated``) are not bootstrapped in (43); truncation at the
frame's end is (the frame is a window of an ongoing process). An episode that terminates
before ``T`` is restarted in place and the frame goes on.

*Action heads of the two update schemes* (spec §3; the flat action is the heads in order, so
the environment must read it in the same order):

* user-dimension update (30)–(32), ``U^max + N_t + M`` components:
  ``(ActionHead("a_rf1", U_max, "sigmoid", box_affine=True), ActionHead("a_rf2", N_t,
  "tanh"), ActionHead("a_bb", M, "tanh", conditioned=True))``;
* antenna-dimension update (33)–(37), ``N_t + M`` components:
  ``(ActionHead("a_rf", N_t, "sigmoid", box_affine=True), ActionHead("a_bb", M, "tanh",
  conditioned=True))``.

A sigmoid head covers ``(0, 1)``, inside a ``Box(-1, 1)`` action. An environment that reads
such a part affinely (:math:`a = (x + 1)/2`, as yang_som's does for :math:`a_{RF}`) would
receive only :math:`(1/2, 1)` of it; ``ActionHead(..., box_affine=True)`` emits :math:`2s - 1`
instead, so the environment receives the head's :math:`s \in (0, 1)` (the heads after it
are conditioned on :math:`s`). Exploration noise is added to the emitted action and the
result clipped to the action box.

*Batch normalization.* The online network acts in eval mode (running statistics) and is
trained in train mode (batch statistics); the target network always runs in eval mode (as SB3
does for its target networks). The running statistics of IN's BN see both the actor pass
(:math:`\mathbf v_a = 0`) and the critic pass.

*Noise.* SB3's ``OrnsteinUhlenbeckActionNoise`` with a ``[B, action_dim]`` mean (one process per
parallel episode, one call per step), ``dt = 1`` (the authors' ``DRL_ISAC.py``: :math:`x
\leftarrow x + \theta(\mu - x) + \sigma\,n`), reset at every episode. SB3 draws from NumPy's
global generator; :class:`SeededOUNoise` swaps a private ``RandomState`` in for each draw, so
the noise is reproducible and the global state is left as it was (not thread-safe).

*Replay.* SB3's ``DictReplayBuffer`` with ``n_envs = B`` (``buffer_size // B`` rows); the
minibatch indices come from a :class:`torch.Generator` (:class:`GeneratorDictReplayBuffer`)
instead of NumPy's global generator.

Determinism and checkpoints
---------------------------
The network initialization uses ``(seed, "init")``, the episodes ``(seed, "env")``, the
minibatches ``(seed, "update")`` and the noise ``(seed, "noise")``
(:func:`~isaclearn.rl.agents.trainers.derive_seed`); on the CPU the same seed gives a
bit-identical history. ``train(checkpoint=stem)`` writes a :mod:`isaclearn.learn.checkpoint`
(safetensors + JSON, kind ``"psac_training_state"``) every ``checkpoint_every`` episodes and at
the end: network, target, Adam state, λ, generators, noise state, counters and history, and —
with ``checkpoint_buffer=True`` — the replay buffer. With the buffer, a resumed run equals an
uninterrupted one exactly; without it (the default: at the paper's sizes the buffer is about
150 MB) the buffer restarts empty and refills from the next episode, so a resumed run differs.

Examples
--------
>>> import torch
>>> from gymnasium import spaces
>>> obs_space = spaces.Dict({"s_h": spaces.Box(0, 1, (2, 8, 8)),
...                          "s_p": spaces.Box(0, 2, (3, 8, 8))})
>>> act_space = spaces.Box(-1, 1, (6,))
>>> heads = (ActionHead("a_rf", 4, "sigmoid"), ActionHead("a_bb", 2, "tanh", conditioned=True))
>>> net = PSACNetwork(obs_space, act_space, PSACConfig(heads=heads),
...                   generator=torch.Generator().manual_seed(0)).eval()
>>> obs = {"s_h": torch.rand(5, 2, 8, 8), "s_p": torch.rand(5, 3, 8, 8)}
>>> a = net.actor(obs)
>>> a.shape, net.critic(obs, a).shape
(torch.Size([5, 6]), torch.Size([5]))
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer
from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.type_aliases import DictReplayBufferSamples
from torch import nn
from torch.nn import functional as F

from isaclearn.core.checks import check_count
from isaclearn.core.errors import CheckpointError, ConfigError, ShapeError
from isaclearn.core.random import make_generator
from isaclearn.learn.checkpoint import (
    exists,
    load_checkpoint,
    prefixed,
    save_checkpoint,
    unprefixed,
)
from isaclearn.rl.agents.networks import init_linear_
from isaclearn.rl.agents.trainers import derive_seed
from isaclearn.rl.core import EnvCore, to_numpy

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

Activation = Literal["sigmoid", "tanh", "identity"]
ActorTerm = Literal["target", "literal"]
CopyCheck = Literal["every_batch", "lambda_update"]
EpisodeCallback = Callable[[dict[str, Any]], None]

__all__ = [
    "ActionHead",
    "Activation",
    "ActorTerm",
    "CopyCheck",
    "GeneratorDictReplayBuffer",
    "PSAC",
    "PSACConfig",
    "PSACNetwork",
    "SeededOUNoise",
    "StateEncoder",
    "UnitedLoss",
    "init_conv_",
    "lambda_update",
    "smooth_l1",
    "united_loss",
]

CHECKPOINT_KIND = "psac_training_state"


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionHead:
    """One head of the action decoder :math:`\\phi_{AD}` (spec §3): ``[FC → ReLU →] FC →
    activation``."""

    name: str
    """Label (``"a_rf"``, ``"a_bb"``); used in error messages only."""
    size: int
    """Number of action components the head produces."""
    activation: Activation = "tanh"
    """``"sigmoid"`` gives ``(0, 1)`` (APU-Net's :math:`a_{RF}`), ``"tanh"`` ``(-1, 1)``
    (DPU-Net's :math:`a_{BB}`, UU's :math:`a_{RF,2}`), ``"identity"`` the raw output."""
    conditioned: bool = False
    """The head's input is :math:`[\\mathbf v, \\text{outputs of the earlier heads}]` (DPU-Net
    :math:`\\phi_{DPU}(\\mathbf v, \\mathbf a_{RF})`); otherwise :math:`\\mathbf v` only."""
    hidden: int = 0
    """Width of an optional hidden ``FC → ReLU`` before the output layer (0: none)."""
    box_affine: bool = False
    """Emit a sigmoid head's value :math:`s \\in (0, 1)` as :math:`2s - 1 \\in (-1, 1)`, for an
    environment that reads this part of its ``Box(-1, 1)`` action affinely,
    :math:`a = (x + 1)/2` (yang_som's :math:`a_{RF}` parts): the environment then receives
    :math:`s` itself. Conditioned heads still see :math:`s` (module Notes)."""

    def __post_init__(self) -> None:
        check_count(self.size, f"ActionHead {self.name!r} size")
        if self.box_affine and self.activation != "sigmoid":
            raise ConfigError(f"ActionHead {self.name!r}: box_affine needs the sigmoid "
                              f"activation, got {self.activation!r}")
        if self.activation not in ("sigmoid", "tanh", "identity"):
            raise ConfigError(f"ActionHead {self.name!r}: activation must be 'sigmoid', 'tanh' "
                              f"or 'identity', got {self.activation!r}")
        if isinstance(self.hidden, bool) or not isinstance(self.hidden, int) or self.hidden < 0:
            raise ConfigError(f"ActionHead {self.name!r}: hidden must be an integer >= 0, got "
                              f"{self.hidden!r}")


@dataclass(frozen=True)
class PSACConfig:
    """The whole configuration of PSAC: network sizes (Fig. 5) and the Alg. 2
    hyper-parameters (Table III unless said otherwise). One docstring per field."""

    inputs: tuple[str, ...] | None = None
    """Observation keys fed to the state encoder (the input variants: both streams, or one);
    ``None``: every key of the Dict observation."""
    channels: tuple[int, ...] = (4, 8)
    """Output channels of the conv blocks of every stream (authors' code: ``(4, 8)`` for
    :math:`S_H`)."""
    channels_per_key: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """Per-key overrides of ``channels`` (authors' code: ``(("s_p", (4, 6)),)``)."""
    kernel_size: int = 3
    """Conv kernel (padding ``kernel_size // 2``, stride 1: the spatial size is kept)."""
    pool: int = 2
    """Max-pooling window and stride of every block."""
    action_hidden: int = 64
    """Width of the action encoder's ``FC → BN → ReLU`` (chosen)."""
    internal_hidden: int = 64
    """Width of the internal layer's ``FC → BN → ReLU`` (the authors' ``fc1``)."""
    value_hidden: int = 32
    """Width of the value decoder's ``FC → BN → ReLU`` before the scalar output (the authors'
    critic ``fc2``)."""
    heads: tuple[ActionHead, ...] | None = None
    """The action decoder; the sizes must add up to the action dimension. ``None``: one tanh
    head over the whole action."""
    batch_norm: bool = True
    """Use the BN layers of Fig. 5 (off: identity in their place)."""
    gamma: float = 0.6
    """Discount γ of (43)."""
    learning_rate: float = 0.02
    """Adam step κ of (48)."""
    buffer_size: int = 1024
    """Replay capacity in transitions, split over the ``B`` parallel episodes (SB3:
    ``buffer_size // B`` rows)."""
    batch_size: int = 64
    """Minibatch size :math:`N_b`."""
    batches_per_episode: int = 16
    """``K``, minibatches after each episode."""
    lambda_period: int = 4
    """``p``: λ is updated every ``p`` batches."""
    lambda_init: float = 0.5
    """:math:`\\lambda_0`."""
    lambda_tau: float = 0.5
    """τ of (47)."""
    lambda_thres: float = 0.1
    """:math:`\\lambda_{thres}` of the hard target copy (the ElegantRL origin's value; unstated
    in the paper)."""
    actor_term: ActorTerm = "target"
    """Critic of the :math:`-\\lambda Q(o, \\mu(o))` term: the target critic (default, spec
    §6.11) or the online one (``"literal"``, (46) as printed)."""
    copy_check: CopyCheck = "every_batch"
    """When the copy test :math:`\\lambda > \\lambda_{thres}` runs: after every batch, or only
    after the batches that update λ (module Notes)."""
    ou_theta: float = 0.5
    """Ornstein–Uhlenbeck mean reversion θ (authors' code)."""
    ou_sigma: float = 0.3
    """Ornstein–Uhlenbeck scale σ (authors' code)."""
    ou_dt: float = 1.0
    """Ornstein–Uhlenbeck time step (1: the authors' update; SB3's default would be 0.01)."""
    steps_per_episode: int | None = None
    """``T``, steps of one episode (frame); ``None``: the core's ``max_episode_steps``."""
    learning_starts: int | None = None
    """Transitions in the buffer before the first update; ``None``: ``batch_size``."""
    seed: int = 0
    """Seed of every generator (module Determinism)."""
    checkpoint_every: int = 1
    """Episodes between checkpoints (may change between a run and its resumption)."""
    checkpoint_buffer: bool = False
    """Store the replay buffer in the checkpoint (exact resume; large at paper sizes)."""

    def __post_init__(self) -> None:
        for name in ("kernel_size", "pool", "action_hidden", "internal_hidden", "value_hidden",
                     "buffer_size", "batch_size", "batches_per_episode", "lambda_period",
                     "checkpoint_every"):
            check_count(getattr(self, name), name)
        for name in ("steps_per_episode", "learning_starts"):
            if getattr(self, name) is not None:
                check_count(getattr(self, name), name)
        if not self.channels or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                                    for c in self.channels):
            raise ConfigError(f"channels must be a non-empty tuple of positive integers, got "
                              f"{self.channels!r}")
        if self.batch_size < 2 and self.batch_norm:
            raise ConfigError("batch_size must be >= 2 with batch_norm (batch statistics)")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must lie in [0, 1], got {self.gamma!r}")
        for name in ("lambda_init", "lambda_tau"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
        if not (self.learning_rate > 0.0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.actor_term not in ("target", "literal"):
            raise ConfigError(f"actor_term must be 'target' or 'literal', got "
                              f"{self.actor_term!r}")
        if self.copy_check not in ("every_batch", "lambda_update"):
            raise ConfigError(f"copy_check must be 'every_batch' or 'lambda_update', got "
                              f"{self.copy_check!r}")
        if not (self.ou_theta >= 0.0 and self.ou_sigma >= 0.0 and self.ou_dt > 0.0):
            raise ConfigError("ou_theta and ou_sigma must be >= 0 and ou_dt > 0")

    def stream_channels(self, key: str) -> tuple[int, ...]:
        """The conv channels of the stream of observation ``key``."""
        return dict(self.channels_per_key).get(key, self.channels)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serializable dict of the fields."""
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------


def init_conv_(layer: nn.Conv2d, generator: torch.Generator | None) -> nn.Conv2d:
    """Re-initialize ``layer`` in place as :meth:`torch.nn.Conv2d.reset_parameters` does
    (Kaiming-uniform weight with ``a = √5``, bias uniform in ``±1/√fan_in``), drawing from
    ``generator``. Returns ``layer``."""
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        if layer.bias is not None:
            fan_in = layer.in_channels * math.prod(layer.kernel_size) // layer.groups
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


def _init_(module: nn.Module, generator: torch.Generator | None) -> None:
    if generator is None:
        return
    for m in module.modules():
        if isinstance(m, nn.Linear):
            init_linear_(m, generator)
        elif isinstance(m, nn.Conv2d):
            init_conv_(m, generator)


def _bn1d(width: int, on: bool) -> nn.Module:
    return nn.BatchNorm1d(width) if on else nn.Identity()


def _image_shape(space: spaces.Space[Any], key: str) -> tuple[int, int, int]:
    if not isinstance(space, spaces.Box):
        raise ConfigError(f"observation {key!r} must be a Box, got {space}")
    shape = tuple(int(s) for s in space.shape)
    if len(shape) == 2:
        return (1, shape[0], shape[1])
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2])
    raise ConfigError(f"observation {key!r} must be an image [C, H, W] or [H, W], got shape "
                      f"{list(shape)}")


class StateEncoder(nn.Module):
    """State encoder :math:`\\phi_{SE}`: one ``(conv → BN → maxpool → ReLU) × n`` stream per
    observation key, flattened and concatenated into :math:`\\mathbf v_s` (Fig. 5).

    Parameters
    ----------
    observation_space : gymnasium.spaces.Dict
        Single-instance observation space; each used entry a ``Box`` of shape ``[C, H, W]``
        (or ``[H, W]``, one channel).
    inputs : sequence of str or None
        Keys to encode (``None``: all, in the space's order).
    channels : callable or tuple of int
        Conv channels of each stream: a tuple for all, or ``key -> tuple``.
    kernel_size, pool : int
        Conv kernel (padding ``kernel_size // 2``) and max-pool window.
    batch_norm : bool
        BN after each conv.
    generator : torch.Generator, optional
        Source of the initial weights.

    Attributes
    ----------
    keys : tuple of str
        The encoded keys, in order.
    out_dim : int
        Length of :math:`\\mathbf v_s`.

    Raises
    ------
    ConfigError
        Not a Dict space, an unknown or non-image key, or an image too small for the pooling.
    """

    def __init__(self, observation_space: spaces.Space[Any], *,
                 inputs: Sequence[str] | None = None,
                 channels: tuple[int, ...] | Callable[[str], tuple[int, ...]] = (4, 8),
                 kernel_size: int = 3, pool: int = 2, batch_norm: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(observation_space, spaces.Dict):
            raise ConfigError(f"PSAC needs a Dict observation of images, got {observation_space}")
        keys = tuple(observation_space.spaces) if inputs is None else tuple(inputs)
        if not keys:
            raise ConfigError("inputs must name at least one observation key")
        unknown = sorted(set(keys) - set(observation_space.spaces))
        if unknown:
            raise ConfigError(f"inputs {unknown} are not observation keys "
                              f"{sorted(observation_space.spaces)}")
        self.keys = keys
        self._shapes: dict[str, tuple[int, int, int]] = {}
        streams: dict[str, nn.Module] = {}
        out_dim = 0
        for key in keys:
            c, h, w = _image_shape(observation_space.spaces[key], key)
            self._shapes[key] = (c, h, w)
            chans = channels(key) if callable(channels) else channels
            layers: list[nn.Module] = []
            for out_c in chans:
                layers += [nn.Conv2d(c, out_c, kernel_size, padding=kernel_size // 2),
                           nn.BatchNorm2d(out_c) if batch_norm else nn.Identity(),
                           nn.MaxPool2d(pool), nn.ReLU()]
                c = out_c
                h = (h + 2 * (kernel_size // 2) - kernel_size + 1) // pool
                w = (w + 2 * (kernel_size // 2) - kernel_size + 1) // pool
                if h < 1 or w < 1:
                    raise ConfigError(f"observation {key!r} of shape {list(self._shapes[key])} "
                                      f"is too small for {len(chans)} blocks with pool {pool}")
            streams[key] = nn.Sequential(*layers, nn.Flatten())
            out_dim += c * h * w
        self.streams = nn.ModuleDict(streams)
        self.out_dim = out_dim
        _init_(self, generator)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """:math:`\\mathbf v_s` ``[B, out_dim]`` of a batch of observations (``[B, C, H, W]`` or
        ``[B, H, W]`` per key; extra keys are ignored)."""
        parts = []
        for key in self.keys:
            if key not in obs:
                raise ConfigError(f"the observation lacks the key {key!r}")
            x = obs[key]
            c, h, w = self._shapes[key]
            if x.dim() == 3 and c == 1:
                x = x.unsqueeze(1)
            if x.dim() != 4 or tuple(x.shape[1:]) != (c, h, w):
                raise ShapeError(f"observation {key!r} must have shape [B, {c}, {h}, {w}], got "
                                 f"{list(x.shape)}")
            parts.append(self.streams[key](x.float()))
        return torch.cat(parts, dim=1)


_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda x: x}


class PSACNetwork(nn.Module):
    """The PSAC network of Fig. 5 (see the module docstring).

    Parameters
    ----------
    observation_space : gymnasium.spaces.Dict
        Single-instance Dict of image Boxes.
    action_space : gymnasium.spaces.Box
        Single-instance flat action Box.
    config : PSACConfig
        Sizes.
    generator : torch.Generator, optional
        Source of the initial weights (``None``: torch's global generator).

    Attributes
    ----------
    state_encoder, action_encoder, internal, heads, value_decoder : nn.Module
        :math:`\\phi_{SE}, \\phi_{AE}, \\phi_{IN}, \\phi_{AD}, \\phi_{VD}`.
    action_dim : int
        Length of the flat action.

    Raises
    ------
    ConfigError
        The spaces do not fit, or the heads' sizes do not add up to the action dimension.
    """

    def __init__(self, observation_space: spaces.Space[Any], action_space: spaces.Space[Any],
                 config: PSACConfig, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(action_space, spaces.Box) or len(action_space.shape) != 1:
            raise ConfigError(f"PSAC needs a flat Box action, got {action_space}")
        self.config = config
        self.action_dim = int(action_space.shape[0])
        bn = config.batch_norm
        self.state_encoder = StateEncoder(
            observation_space, inputs=config.inputs, channels=config.stream_channels,
            kernel_size=config.kernel_size, pool=config.pool, batch_norm=bn)
        self.action_encoder = nn.Sequential(
            nn.Linear(self.action_dim, config.action_hidden), _bn1d(config.action_hidden, bn),
            nn.ReLU())
        self.internal = nn.Sequential(
            nn.Linear(self.state_encoder.out_dim + config.action_hidden, config.internal_hidden),
            _bn1d(config.internal_hidden, bn), nn.ReLU())
        head_specs = config.heads if config.heads is not None else (
            ActionHead("action", self.action_dim, "tanh"),)
        total = sum(h.size for h in head_specs)
        if total != self.action_dim:
            raise ConfigError(f"the action heads produce {total} components, the action has "
                              f"{self.action_dim}")
        self.head_specs = tuple(head_specs)
        heads: list[nn.Module] = []
        before = 0
        for spec in self.head_specs:
            width = config.internal_hidden + (before if spec.conditioned else 0)
            layers: list[nn.Module] = []
            if spec.hidden:
                layers += [nn.Linear(width, spec.hidden), nn.ReLU()]
                width = spec.hidden
            layers.append(nn.Linear(width, spec.size))
            heads.append(nn.Sequential(*layers))
            before += spec.size
        self.heads = nn.ModuleList(heads)
        self.value_decoder = nn.Sequential(
            nn.Linear(config.internal_hidden, config.value_hidden),
            _bn1d(config.value_hidden, bn), nn.ReLU(), nn.Linear(config.value_hidden, 1))
        _init_(self, generator)

    # ---- the five parts -----------------------------------------------------------------

    def encode_state(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """:math:`\\mathbf v_s = \\phi_{SE}(o)` ``[B, S]``."""
        return self.state_encoder(obs)  # type: ignore[no-any-return]

    def encode_action(self, action: torch.Tensor) -> torch.Tensor:
        """:math:`\\mathbf v_a = \\phi_{AE}(a)` ``[B, action_hidden]``."""
        if action.dim() != 2 or action.shape[1] != self.action_dim:
            raise ShapeError(f"action must have shape [B, {self.action_dim}], got "
                             f"{list(action.shape)}")
        return self.action_encoder(action.float())  # type: ignore[no-any-return]

    def internal_features(self, v_s: torch.Tensor, v_a: torch.Tensor | None) -> torch.Tensor:
        """:math:`\\mathbf v = \\phi_{IN}([\\mathbf v_s, \\mathbf v_a])`; ``v_a = None`` is the
        actor pass (:math:`\\mathbf v_a = \\mathbf 0`)."""
        if v_a is None:
            v_a = v_s.new_zeros(v_s.shape[0], self.config.action_hidden)
        return self.internal(torch.cat([v_s, v_a], dim=1))  # type: ignore[no-any-return]

    def decode_action(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`\\phi_{AD}(\\mathbf v)`: the heads' outputs concatenated, ``[B, action_dim]``."""
        outs: list[torch.Tensor] = []
        emitted: list[torch.Tensor] = []
        for spec, head in zip(self.head_specs, self.heads, strict=True):
            x = torch.cat([v, *outs], dim=1) if spec.conditioned and outs else v
            out = _ACTIVATIONS[spec.activation](head(x))
            outs.append(out)
            emitted.append(2.0 * out - 1.0 if spec.box_affine else out)
        return torch.cat(emitted, dim=1)

    def decode_value(self, v: torch.Tensor) -> torch.Tensor:
        """:math:`Q = \\phi_{VD}(\\mathbf v)` ``[B]``."""
        return self.value_decoder(v).squeeze(1)  # type: ignore[no-any-return]

    # ---- actor and critic ---------------------------------------------------------------

    def actor(self, obs: Mapping[str, torch.Tensor], v_s: torch.Tensor | None = None
              ) -> torch.Tensor:
        """:math:`\\mu(o)` ``[B, action_dim]`` (``v_s`` reuses an encoded state)."""
        v_s = self.encode_state(obs) if v_s is None else v_s
        return self.decode_action(self.internal_features(v_s, None))

    def critic(self, obs: Mapping[str, torch.Tensor], action: torch.Tensor,
               v_s: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`Q(o, a)` ``[B]`` (``v_s`` reuses an encoded state)."""
        v_s = self.encode_state(obs) if v_s is None else v_s
        return self.decode_value(self.internal_features(v_s, self.encode_action(action)))

    def forward(self, obs: Mapping[str, torch.Tensor],
                action: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`\\mu(o)` without ``action``, :math:`Q(o, a)` with it."""
        return self.actor(obs) if action is None else self.critic(obs, action)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by part: ``"SE"``, ``"AE"``, ``"IN"``, ``"AD"``, ``"VD"``."""
        return {"SE": list(self.state_encoder.parameters()),
                "AE": list(self.action_encoder.parameters()),
                "IN": list(self.internal.parameters()),
                "AD": list(self.heads.parameters()),
                "VD": list(self.value_decoder.parameters())}


# --------------------------------------------------------------------------------------------
# the united loss (43)-(46) and the lambda schedule (47)
# --------------------------------------------------------------------------------------------


def smooth_l1(x: torch.Tensor) -> torch.Tensor:
    """:math:`f(x) = x^2/2` for :math:`|x| < 1`, :math:`|x| - 1/2` otherwise, elementwise (the
    :math:`l_1`-smoothing function of (44)–(45); ``torch``'s ``beta = 1``)."""
    return F.smooth_l1_loss(x, torch.zeros_like(x), reduction="none", beta=1.0)


@dataclass
class UnitedLoss:
    """The terms of the united loss (46) on one minibatch.

    Attributes
    ----------
    total : torch.Tensor
        ``Z`` (scalar, differentiable).
    critic : torch.Tensor
        :math:`\\delta_{C,i}` ``[N_b]`` (44).
    actor : torch.Tensor
        :math:`\\delta_{A,i}` ``[N_b]`` (45), averaged over the action components.
    q : torch.Tensor
        :math:`Q_\\star(o_i, \\mu(o_i))` ``[N_b]`` of the :math:`-\\lambda Q` term.
    target : torch.Tensor
        :math:`y_i` ``[N_b]`` (43), detached.
    """

    total: torch.Tensor
    critic: torch.Tensor
    actor: torch.Tensor
    q: torch.Tensor
    target: torch.Tensor


def united_loss(net: PSACNetwork, target_net: PSACNetwork, obs: Mapping[str, torch.Tensor],
                actions: torch.Tensor, rewards: torch.Tensor,
                next_obs: Mapping[str, torch.Tensor], dones: torch.Tensor, *, lam: float,
                gamma: float, actor_term: ActorTerm = "target") -> UnitedLoss:
    """The united loss (46) of one minibatch, with (43)–(45).

    Parameters
    ----------
    net, target_net : PSACNetwork
        Online network :math:`\\phi` (its mode is left as it is: train mode for an update) and
        target :math:`\\phi'` (no gradient flows into it).
    obs, next_obs : dict of str to torch.Tensor
        :math:`o_i`, :math:`o_{i+1}`, each ``[N_b, ...]``.
    actions : torch.Tensor
        :math:`a_i` ``[N_b, action_dim]`` (as stored, with exploration noise).
    rewards, dones : torch.Tensor
        ``[N_b]``; ``dones`` (1 for a terminal transition) stops the bootstrap in (43).
    lam : float
        λ of (46).
    gamma : float
        γ of (43).
    actor_term : {"target", "literal"}
        Critic of the :math:`-\\lambda Q(o, \\mu(o))` term (module Notes).

    Returns
    -------
    UnitedLoss
    """
    rewards = rewards.reshape(-1).float()
    dones = dones.reshape(-1).float()
    with torch.no_grad():
        next_v_s = target_net.encode_state(next_obs)
        next_a = target_net.actor(next_obs, next_v_s)
        y = rewards + gamma * (1.0 - dones) * target_net.critic(next_obs, next_a, next_v_s)  # (43)
        v_s_t = target_net.encode_state(obs)
        mu_target = target_net.actor(obs, v_s_t)
    v_s = net.encode_state(obs)
    q = net.critic(obs, actions, v_s)
    delta_c = smooth_l1(y - q)                                                             # (44)
    mu = net.actor(obs, v_s)
    delta_a = smooth_l1(mu - mu_target).mean(dim=1)                                        # (45)
    if actor_term == "target":
        q_pi = target_net.critic(obs, mu, v_s_t)
    elif actor_term == "literal":
        q_pi = net.critic(obs, mu, v_s)
    else:
        raise ConfigError(f"actor_term must be 'target' or 'literal', got {actor_term!r}")
    total = (delta_c + (1.0 - lam) * delta_a - lam * q_pi).mean()                          # (46)
    return UnitedLoss(total=total, critic=delta_c, actor=delta_a, q=q_pi, target=y)


def lambda_update(lam: float, mean_critic_loss: float, tau: float) -> float:
    """One step of (47): :math:`\\lambda \\leftarrow \\tau e^{-\\bar L_c^2} + (1-\\tau)\\lambda`."""
    return float(tau * math.exp(-float(mean_critic_loss) ** 2) + (1.0 - tau) * lam)


# --------------------------------------------------------------------------------------------
# SB3 replay buffer and noise with explicit random sources
# --------------------------------------------------------------------------------------------


class GeneratorDictReplayBuffer(DictReplayBuffer):
    """SB3's ``DictReplayBuffer`` whose minibatches are drawn with a :class:`torch.Generator`
    (:meth:`sample_with`) instead of NumPy's global generator; storage and :meth:`add` are
    SB3's."""

    def num_transitions(self) -> int:
        """Transitions stored (rows × ``n_envs``)."""
        return (self.buffer_size if self.full else self.pos) * self.n_envs

    def sample_with(self, batch_size: int, generator: torch.Generator
                    ) -> DictReplayBufferSamples:
        """``batch_size`` transitions drawn uniformly with replacement (as SB3's ``sample``)."""
        n = self.num_transitions()
        if n == 0:
            raise ConfigError("the replay buffer is empty")
        flat = torch.randint(n, (batch_size,), generator=generator).numpy()
        return self.samples_at(flat // self.n_envs, flat % self.n_envs)

    def samples_at(self, batch_inds: np.ndarray, env_inds: np.ndarray
                   ) -> DictReplayBufferSamples:
        """The transitions at rows ``batch_inds`` and parallel episodes ``env_inds`` (SB3's
        ``_get_samples`` with the episode indices given)."""
        obs = {k: self.to_torch(v[batch_inds, env_inds]) for k, v in self.observations.items()}
        nxt = {k: self.to_torch(v[batch_inds, env_inds])
               for k, v in self.next_observations.items()}
        dones = self.dones[batch_inds, env_inds] * (1 - self.timeouts[batch_inds, env_inds])
        return DictReplayBufferSamples(
            observations=obs, actions=self.to_torch(self.actions[batch_inds, env_inds]),
            next_observations=nxt, dones=self.to_torch(dones).reshape(-1, 1),
            rewards=self.to_torch(self.rewards[batch_inds, env_inds].reshape(-1, 1)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The stored arrays by name (for checkpoints)."""
        out = {f"obs.{k}": v for k, v in self.observations.items()}
        out.update({f"next_obs.{k}": v for k, v in self.next_observations.items()})
        out.update(actions=self.actions, rewards=self.rewards, dones=self.dones,
                   timeouts=self.timeouts)
        return out


class SeededOUNoise:
    """SB3's ``OrnsteinUhlenbeckActionNoise`` drawn from a private NumPy ``RandomState``.

    Parameters
    ----------
    shape : tuple of int
        Shape of one draw (``[B, action_dim]``: one process per parallel episode).
    theta, sigma, dt : float
        OU parameters (SB3's: :math:`x \\leftarrow x + \\theta(0 - x)dt + \\sigma\\sqrt{dt}\\,n`).
    seed : int
        Seed of the private ``RandomState``.
    """

    def __init__(self, shape: tuple[int, ...], *, theta: float, sigma: float, dt: float,
                 seed: int) -> None:
        self.process = OrnsteinUhlenbeckActionNoise(
            mean=np.zeros(shape), sigma=np.full(shape, float(sigma)), theta=float(theta),
            dt=float(dt))
        self.random_state = np.random.RandomState(seed % (2 ** 32))

    def __call__(self) -> np.ndarray:
        """One draw (``float32``); NumPy's global generator is left untouched."""
        # SB3's process draws from NumPy's legacy global generator: swap ours in and back
        saved = np.random.get_state()  # noqa: NPY002
        np.random.set_state(self.random_state.get_state())  # noqa: NPY002
        try:
            out = self.process()
        finally:
            self.random_state.set_state(np.random.get_state())  # noqa: NPY002
            np.random.set_state(saved)  # noqa: NPY002
        return out

    def reset(self) -> None:
        """Restart the process at 0."""
        self.process.reset()

    def get_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(tensors, json)`` of the full state."""
        _, keys, pos, has_gauss, cached = self.random_state.get_state()  # type: ignore[misc]
        tensors = {"keys": torch.as_tensor(np.asarray(keys, dtype=np.int64)),
                   "prev": torch.as_tensor(np.asarray(self.process.noise_prev))}
        return tensors, {"pos": int(pos), "has_gauss": int(has_gauss),
                         "cached_gaussian": float(cached)}

    def set_state(self, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        keys = tensors["keys"].numpy().astype(np.uint32)
        self.random_state.set_state(("MT19937", keys, int(meta["pos"]), int(meta["has_gauss"]),
                                     float(meta["cached_gaussian"])))
        self.process.noise_prev = tensors["prev"].numpy().astype(np.float64).copy()


# --------------------------------------------------------------------------------------------
# the agent
# --------------------------------------------------------------------------------------------


@dataclass
class _BatchStats:
    critic_loss: float
    actor_loss: float
    q: float
    total: float
    lam: float
    copied: bool


class PSAC:
    """PSAC agent and its Alg. 2 training loop on a batched core (see the module docstring).

    Parameters
    ----------
    core : EnvCore
        ``B`` parallel episodes; Dict observation of image Boxes, flat Box action.
    config : PSACConfig, optional
        Network sizes and hyper-parameters (default ``PSACConfig()``).
    checkpoint_tag : mapping, optional
        JSON description of what the agent is trained on (the environment's configuration,
        ...), stored in the training checkpoint and required to match on resume (the core's
        configuration is not known to the agent).

    Attributes
    ----------
    network, target_network : PSACNetwork
        :math:`\\phi` and :math:`\\phi'`.
    optimizer : torch.optim.Adam
        One optimizer over all of :math:`\\phi` (48).
    lam : float
        Current λ.
    buffer : GeneratorDictReplayBuffer
        The replay memory :math:`\\mathcal M`.
    history : list of dict
        One row per episode (``episode``, ``reward`` — cumulative reward of the frame, mean
        over the ``B`` parallel episodes —, ``reward_std``, ``steps``, the means of every
        ``info`` entry such as ``se`` and ``crlb``, ``lambda``, ``critic_loss``,
        ``actor_loss``, ``q``, ``target_copies``, ``updates``).
    batch_stats : list of dict
        Per-batch diagnostics of the last episode (``critic_loss``, ``actor_loss``, ``q``,
        ``loss``, ``lambda`` after the batch, ``copied``).
    episodes_done, updates_done : int
        Progress counters.
    name : str
        The ``method`` column of :func:`isaclearn.rl.rollout.rollout`.

    Raises
    ------
    ConfigError
        The core's spaces do not fit (see :class:`PSACNetwork`).
    """

    name = "psac"

    def __init__(self, core: EnvCore, config: PSACConfig | None = None, *,
                 checkpoint_tag: Mapping[str, Any] | None = None) -> None:
        if not isinstance(core, EnvCore):
            raise ConfigError(f"core must be an EnvCore, got {type(core).__name__}")
        self.core = core
        self.config = config if config is not None else PSACConfig()
        self.checkpoint_tag = None if checkpoint_tag is None else dict(checkpoint_tag)
        cfg = self.config
        self.device = core.device
        space = core.action_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise ConfigError(f"PSAC needs a flat Box action, got {space}")
        self.action_low = torch.as_tensor(space.low, dtype=torch.float32, device=self.device)
        self.action_high = torch.as_tensor(space.high, dtype=torch.float32, device=self.device)
        init = make_generator(derive_seed(cfg.seed, "init"), "cpu")
        self.network = PSACNetwork(core.observation_space, space, cfg, generator=init)
        self.network.to(self.device).eval()
        self.target_network = copy.deepcopy(self.network).eval()
        self.target_network.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=cfg.learning_rate,
                                          foreach=True)
        self.lam = float(cfg.lambda_init)
        obs_space = core.observation_space
        assert isinstance(obs_space, spaces.Dict)
        self.buffer = GeneratorDictReplayBuffer(
            cfg.buffer_size, _float32_dict(obs_space), _float32_box(space), device=self.device,
            n_envs=core.batch_size, handle_timeout_termination=False)
        self.env_generator = make_generator(derive_seed(cfg.seed, "env"), self.device)
        self.update_generator = make_generator(derive_seed(cfg.seed, "update"), "cpu")
        self.noise = SeededOUNoise((core.batch_size, self.network.action_dim),
                                   theta=cfg.ou_theta, sigma=cfg.ou_sigma, dt=cfg.ou_dt,
                                   seed=derive_seed(cfg.seed, "noise"))
        self._eval_noise: dict[int, SeededOUNoise] = {}
        self.history: list[dict[str, Any]] = []
        self.batch_stats: list[dict[str, Any]] = []
        self.episodes_done = 0
        self.updates_done = 0

    # ---- acting -------------------------------------------------------------------------

    def _as_obs(self, obs: Any) -> dict[str, torch.Tensor]:
        if not isinstance(obs, Mapping):
            raise ConfigError(f"PSAC needs a Dict observation, got {type(obs).__name__}")
        return {k: torch.as_tensor(v, device=self.device, dtype=torch.float32)
                for k, v in obs.items()}

    @torch.no_grad()
    def act(self, obs: Mapping[str, Any], deterministic: bool = True) -> torch.Tensor:
        """The action ``[B, action_dim]`` for a batch of observations: :math:`\\mu(o)` with BN
        in eval mode; ``deterministic=False`` adds an evaluation OU process (seeded apart from
        training's, one per batch size) and clips to the action box."""
        self.network.eval()
        a = self.network.actor(self._as_obs(obs))
        if not deterministic:
            b = a.shape[0]
            if b not in self._eval_noise:
                self._eval_noise[b] = SeededOUNoise(
                    (b, self.network.action_dim), theta=self.config.ou_theta,
                    sigma=self.config.ou_sigma, dt=self.config.ou_dt,
                    seed=derive_seed(self.config.seed, "eval", b))
            a = self._clip(a + torch.as_tensor(self._eval_noise[b](), device=a.device,
                                               dtype=a.dtype))
        return a

    __call__ = act

    def _clip(self, a: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(a, self.action_high), self.action_low)

    # ---- one update (43)-(48) -----------------------------------------------------------

    def _learn_batch(self) -> tuple[_BatchStats, float]:
        cfg = self.config
        s = self.buffer.sample_with(cfg.batch_size, self.update_generator)
        self.network.train()
        loss = united_loss(self.network, self.target_network, s.observations, s.actions,
                           s.rewards, s.next_observations, s.dones, lam=self.lam,
                           gamma=cfg.gamma, actor_term=cfg.actor_term)
        self.optimizer.zero_grad(set_to_none=True)
        loss.total.backward()                                                   # (48)
        self.optimizer.step()
        self.network.eval()
        self.updates_done += 1
        critic = float(loss.critic.detach().mean())
        return _BatchStats(critic_loss=critic, actor_loss=float(loss.actor.detach().mean()),
                           q=float(loss.q.detach().mean()), total=float(loss.total.detach()),
                           lam=self.lam,
                           copied=False), critic

    def copy_target(self) -> None:
        """Hard copy :math:`\\phi' \\leftarrow \\phi` (parameters and BN statistics)."""
        with torch.no_grad():
            src = self.network.state_dict()
            for key, value in self.target_network.state_dict().items():
                value.copy_(src[key])

    def update(self) -> list[dict[str, Any]]:
        """Alg. 2 l. 12–22: ``K`` minibatches, λ by (47) every ``p``, hard copy iff
        :math:`\\lambda > \\lambda_{thres}`. Returns (and stores in :attr:`batch_stats`) the
        per-batch diagnostics; nothing happens while the buffer holds fewer than
        ``learning_starts`` transitions."""
        cfg = self.config
        starts = cfg.learning_starts if cfg.learning_starts is not None else cfg.batch_size
        self.batch_stats = []
        if self.buffer.num_transitions() < starts:
            return self.batch_stats
        acc = 0.0                                                               # l. 12
        for k in range(1, cfg.batches_per_episode + 1):
            stats, critic = self._learn_batch()                                 # l. 14-16
            acc += critic
            changed = False
            if k % cfg.lambda_period == 0:                                      # l. 17-18
                self.lam = lambda_update(self.lam, acc / cfg.lambda_period, cfg.lambda_tau)
                acc = 0.0
                changed = True
            if (cfg.copy_check == "every_batch" or changed) and self.lam > cfg.lambda_thres:
                self.copy_target()                                              # l. 20-21
                stats.copied = True
            stats.lam = self.lam
            self.batch_stats.append({"critic_loss": stats.critic_loss,
                                     "actor_loss": stats.actor_loss, "q": stats.q,
                                     "loss": stats.total, "lambda": stats.lam,
                                     "copied": stats.copied})
        return self.batch_stats

    # ---- one episode (frame) ------------------------------------------------------------

    def _steps(self) -> int:
        steps = self.config.steps_per_episode or self.core.max_episode_steps
        if steps is None:
            raise ConfigError("the core has no max_episode_steps: set steps_per_episode")
        return int(steps)

    def _collect(self) -> dict[str, Any]:
        """Alg. 2 l. 6–11 for all ``B`` parallel episodes; returns the episode's row stub."""
        core = self.core
        obs, _ = core.reset(generator=self.env_generator)
        self.noise.reset()
        total = torch.zeros(core.batch_size, dtype=torch.float64, device=self.device)
        sums: dict[str, torch.Tensor] = {}
        steps = self._steps()
        for _ in range(steps):
            a = self.act(self._as_obs(obs))
            noise = torch.as_tensor(self.noise(), device=self.device, dtype=a.dtype)
            a = self._clip(a + noise)
            next_obs, reward, terminated, _, info = core.step(a)
            self.buffer.add(_np_obs(obs), _np_obs(next_obs), a.cpu().numpy(),
                            reward.detach().cpu().numpy().astype(np.float32),
                            terminated.cpu().numpy().astype(np.float32), [])
            total += reward.detach().to(torch.float64)
            for key, value in info.items():
                if isinstance(value, torch.Tensor) and value.dim() == 1 and (
                        value.shape[0] == core.batch_size) and not value.is_complex():
                    sums[key] = sums.get(key, 0.0) + value.detach().to(torch.float64)
            if bool(terminated.any()):
                obs, _ = core.reset(mask=terminated)
            else:
                obs = next_obs
        row: dict[str, Any] = {"reward": float(total.mean()),
                               "reward_std": float(total.std()) if total.numel() > 1 else 0.0,
                               "steps": steps}
        for key, value in sums.items():
            if key not in row:
                row[key] = float((value / steps).mean())
        return row

    # ---- the loop -----------------------------------------------------------------------

    def train(self, episodes: int, *, callback: EpisodeCallback | None = None,
              checkpoint: str | Path | None = None, resume: bool = True,
              log_dir: str | Path | None = None) -> list[dict[str, Any]]:
        """Train until ``episodes`` episodes (frames of ``B`` parallel episodes) are done
        (Alg. 2).

        Parameters
        ----------
        episodes : int
            Total episodes :math:`N_{ep}` (a resumed run continues up to it).
        callback : callable, optional
            Called with each new episode's row.
        checkpoint : str or Path, optional
            Stem of the training checkpoint (every ``checkpoint_every`` episodes and at the
            end).
        resume : bool
            Continue from ``checkpoint`` if it exists.
        log_dir : str or Path, optional
            TensorBoard directory: per-batch losses, Q and λ, per-episode reward.

        Returns
        -------
        list of dict
            :attr:`history`.

        Raises
        ------
        CheckpointError
            The checkpoint exists but belongs to another configuration or is damaged.
        """
        check_count(episodes, "episodes")
        if checkpoint is not None and resume and exists(checkpoint):
            self.load_checkpoint(checkpoint)
        writer = _writer(log_dir)
        try:
            while self.episodes_done < episodes:
                row = self._collect()
                first = self.updates_done
                stats = self.update()
                row.update(_episode_stats(stats, self.lam))
                row = {"episode": self.episodes_done, **row}
                self.episodes_done += 1
                self.history.append(row)
                if writer is not None:
                    for i, st in enumerate(stats):
                        for key in ("critic_loss", "actor_loss", "q", "loss", "lambda"):
                            writer.add_scalar(f"train/{key}", st[key], first + i + 1)
                    writer.add_scalar("episode/reward", row["reward"], self.episodes_done)
                if callback is not None:
                    callback(row)
                if checkpoint is not None and (
                        self.episodes_done % self.config.checkpoint_every == 0
                        or self.episodes_done >= episodes):
                    self.save_checkpoint(checkpoint)
        finally:
            if writer is not None:
                writer.close()
        return self.history

    # ---- checkpoints --------------------------------------------------------------------

    def _checked_config(self) -> dict[str, Any]:
        cfg = self.config.to_dict()
        cfg.pop("checkpoint_every")
        out = {"agent": "PSAC", "config": cfg, "batch_size": self.core.batch_size}
        if self.checkpoint_tag is not None:
            out["tag"] = self.checkpoint_tag
        return out

    def save_checkpoint(self, stem: str | Path) -> Path:
        """Write the training state (module Determinism and checkpoints); returns the tensor
        file's path."""
        tensors = prefixed(self.network.state_dict(), "net")
        tensors.update(prefixed(self.target_network.state_dict(), "target"))
        osd = self.optimizer.state_dict()
        for pid, st in osd["state"].items():
            for key, t in st.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(t)
        tensors["rng.env"] = self.env_generator.get_state()
        tensors["rng.update"] = self.update_generator.get_state()
        noise_t, noise_meta = self.noise.get_state()
        tensors.update(prefixed(noise_t, "noise"))
        buffer_meta: dict[str, Any] | None = None
        if self.config.checkpoint_buffer:
            for key, arr in self.buffer.arrays().items():
                tensors[f"buffer.{key}"] = torch.from_numpy(np.ascontiguousarray(arr))
            buffer_meta = {"pos": int(self.buffer.pos), "full": bool(self.buffer.full)}
        state = {"episodes_done": self.episodes_done, "updates_done": self.updates_done,
                 "lambda": self.lam, "param_groups": osd["param_groups"], "noise": noise_meta,
                 "buffer": buffer_meta, "history": self.history}
        last = self.history[-1]["reward"] if self.history else None
        return save_checkpoint(stem, tensors, kind=CHECKPOINT_KIND,
                               config=self._checked_config(), metrics={"reward": last},
                               state=state)

    def load_checkpoint(self, stem: str | Path) -> None:
        """Restore the training state written by :meth:`save_checkpoint` (the replay buffer
        only if it was stored; otherwise it restarts empty).

        Raises
        ------
        CheckpointError
            Missing or damaged files, another configuration, or missing entries.
        """
        ck = load_checkpoint(stem, expected_config=self._checked_config(),
                             expected_kind=CHECKPOINT_KIND)
        t, st = ck.tensors, ck.state
        try:
            self.network.load_state_dict(unprefixed(t, "net"))
            self.target_network.load_state_dict(unprefixed(t, "target"))
            osd: dict[str, Any] = {"state": {}, "param_groups": st["param_groups"]}
            for key, value in unprefixed(t, "optim").items():
                pid, sub = key.split(".", 1)
                osd["state"].setdefault(int(pid), {})[sub] = value
            self.optimizer.load_state_dict(osd)
            self.env_generator.set_state(t["rng.env"])
            self.update_generator.set_state(t["rng.update"])
            self.noise.set_state(unprefixed(t, "noise"), st["noise"])
            self.buffer.reset()
            if st.get("buffer") is not None:
                for key, arr in self.buffer.arrays().items():
                    arr[...] = t[f"buffer.{key}"].numpy()
                self.buffer.pos = int(st["buffer"]["pos"])
                self.buffer.full = bool(st["buffer"]["full"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"PSAC checkpoint {stem} does not fit this agent: "
                                  f"{exc}") from None
        self.episodes_done = int(st["episodes_done"])
        self.updates_done = int(st["updates_done"])
        self.lam = float(st["lambda"])
        self.history = list(st["history"])


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _float32_box(space: spaces.Box) -> spaces.Box:
    return spaces.Box(space.low.astype(np.float32), space.high.astype(np.float32),
                      dtype=np.float32)


def _float32_dict(space: spaces.Dict) -> spaces.Dict:
    out: dict[str, spaces.Space[Any]] = {}
    for key, sub in space.spaces.items():
        if not isinstance(sub, spaces.Box):
            raise ConfigError(f"observation {key!r} must be a Box, got {sub}")
        out[key] = _float32_box(sub)
    return spaces.Dict(out)


def _np_obs(obs: Any) -> dict[str, np.ndarray]:
    arrays = to_numpy(obs)
    if not isinstance(arrays, dict):
        raise ConfigError("PSAC needs a Dict observation")
    return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}


def _episode_stats(stats: list[dict[str, Any]], lam: float) -> dict[str, Any]:
    def mean(key: str) -> float:
        return float(np.mean([s[key] for s in stats])) if stats else float("nan")

    return {"lambda": lam, "critic_loss": mean("critic_loss"), "actor_loss": mean("actor_loss"),
            "q": mean("q"), "target_copies": int(sum(bool(s["copied"]) for s in stats)),
            "updates": len(stats)}


def _writer(log_dir: str | Path | None) -> SummaryWriter | None:
    if log_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=str(log_dir))
