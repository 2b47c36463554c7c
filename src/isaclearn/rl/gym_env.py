"""The single-instance Gymnasium face of a batched core: :class:`CoreEnv` (``B = 1``, NumPy in
and out).

``CoreEnv(core).reset(seed=s)`` gives the same episode as ``core.reset(seed=s)`` on a core with
``B = 1``, because it is that call. ``reset(options={"scenario": episodes})`` replays explicit
episode data (one row), e.g. row ``i`` of a batched core's
:attr:`~isaclearn.rl.core.EnvCore.episodes`.
Rewards are Python floats, ``terminated``/``truncated`` Python bools, and ``info`` maps each
diagnostic of the core to a Python scalar.

:func:`make_env` is the entry point under which :func:`isaclearn.rl.registry.register_core`
registers cores with Gymnasium.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import CoreFactory, EnvCore, Info, build_core, select_rows, to_numpy

__all__ = ["CoreEnv", "make_env", "scalar_info"]


def scalar_info(info: Info, row: int = 0) -> dict[str, Any]:
    """Row ``row`` of a batched info as Python scalars (``float``, ``int`` or ``bool``)."""
    return {key: value[row].item() for key, value in info.items()}


class CoreEnv(gym.Env[Any, Any]):
    """A Gymnasium ``Env`` over a batched core with ``B = 1``.

    Parameters
    ----------
    core : EnvCore
        The core; its ``batch_size`` must be 1.

    Notes
    -----
    The spaces, the reward, the start state and the episode end are the core's (see its
    module docstring). Observations are copies (never reused between calls). Rendering is not
    supported.

    Raises
    ------
    ConfigError
        A core with ``batch_size != 1``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, core: EnvCore) -> None:
        if core.batch_size != 1:
            raise ConfigError(f"CoreEnv needs a core with batch_size 1, got {core.batch_size}")
        self.core = core
        self.observation_space = core.observation_space
        self.action_space = core.action_space

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode (``seed`` seeds the core's generator; ``options`` as in
        :meth:`~isaclearn.rl.core.BatchedEnvCore.reset`)."""
        super().reset(seed=seed)
        obs, info = self.core.reset(seed=seed, options=options)
        return to_numpy(select_rows(obs, 0)), scalar_info(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """One step with the single-instance ``action`` (NumPy, as sampled from
        :attr:`action_space`)."""
        batched = _add_batch_dim(action)
        obs, reward, terminated, truncated, info = self.core.step(batched)
        return (to_numpy(select_rows(obs, 0)), float(reward[0].item()),
                bool(terminated[0].item()), bool(truncated[0].item()), scalar_info(info))


def _add_batch_dim(action: Any) -> Any:
    if isinstance(action, Mapping):
        return {k: _add_batch_dim(v) for k, v in action.items()}
    if isinstance(action, torch.Tensor):
        return action.unsqueeze(0)
    return np.asarray(action)[None]


def make_env(core: str | CoreFactory, **kwargs: Any) -> CoreEnv:
    """A :class:`CoreEnv` over ``core(1, **kwargs)`` (``core`` a core class or factory, or its
    name ``"module:name"``); the Gymnasium entry point of the registered ``isaclearn/...``
    environments."""
    return CoreEnv(build_core(core, 1, **kwargs))
