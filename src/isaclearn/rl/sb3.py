"""The Stable-Baselines3 face of a batched core: :class:`SB3VecEnv`, a
``stable_baselines3.common.vec_env.VecEnv`` with ``num_envs = B``.

SB3 algorithms (PPO, A2C, ...) train on the ``B`` episodes of one core; each ``step_wait`` is
ONE batched step of the core. SB3's conventions hold:

* same-step autoreset: an episode that ends is reset within the step; the returned observation
  is the new episode's first one, ``dones[i]`` is ``True``, and ``infos[i]`` holds
  ``"terminal_observation"`` (the ended episode's last observation),
  ``"TimeLimit.truncated"`` (``truncated and not terminated``) and the core's info values of
  that last step (Python scalars);
* ``infos[i]`` is an empty dict for an episode that goes on (only the ended episodes are
  visited, so a step costs no Python work per running instance beyond SB3's list of dicts);
* ``VecMonitor`` wraps it for episode returns and lengths;
* ``seed(s)`` then ``reset()`` seeds the core's one generator with ``s`` (SB3 would seed
  ``s + i`` per sub-environment; the batched core draws all ``B`` episodes from one);
  ``set_options({"scenario": episodes})`` gives the next reset explicit episode data.

SB3 has no Dict (hybrid) actions: run it on a core with a Box action, e.g. a Box-only view of a
Dict core made with :class:`~isaclearn.rl.actions.BoxActionCore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import EnvCore, select_rows, to_numpy
from isaclearn.rl.gym_env import scalar_info

__all__ = ["SB3VecEnv"]


class SB3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` over a batched core (see the module docstring).

    Parameters
    ----------
    core : EnvCore
        The batched core (``num_envs = core.batch_size``).
    """

    def __init__(self, core: EnvCore) -> None:
        self.core = core
        self._actions: Any = None
        super().__init__(core.batch_size, core.observation_space, core.action_space)

    # ---- the stepping API ---------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        """Start all ``B`` episodes (with the seed of :meth:`seed` and the options of
        :meth:`set_options`, if given since the last reset)."""
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, info = self.core.reset(seed=seed, options=options)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return to_numpy(obs)  # type: ignore[no-any-return]

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise ConfigError("step_wait without step_async")
        actions, self._actions = self._actions, None
        obs, reward, terminated, truncated, info = self.core.step(actions)
        done = terminated | truncated
        rows = done.cpu().numpy()
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if rows.any():
            index = np.flatnonzero(rows)
            last = to_numpy(select_rows(obs, torch.as_tensor(index, device=self.core.device)))
            ended = {k: v[torch.as_tensor(index, device=v.device)] for k, v in info.items()}
            term = terminated.cpu().numpy()
            trunc = truncated.cpu().numpy()
            for j, i in enumerate(index):  # only the episodes that ended
                entry = scalar_info(ended, j)
                entry["terminal_observation"] = _row(last, j)
                entry["TimeLimit.truncated"] = bool(trunc[i] and not term[i])
                infos[int(i)] = entry
            obs, _ = self.core.reset(mask=done)
        return (to_numpy(obs), reward.detach().cpu().numpy().astype(np.float32), rows, infos)

    def close(self) -> None:
        """Nothing to release."""

    # ---- attribute access (one core stands for every sub-environment) -------------------

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """``getattr(core, attr_name)``, once per index (``render_mode`` is ``None``: a core
        does not render)."""
        value = getattr(self.core, attr_name, None) if attr_name == "render_mode" else getattr(
            self.core, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the core (the same for every sub-environment)."""
        setattr(self.core, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """Call a method of the core once; its result is repeated per index."""
        result = getattr(self.core, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]],
                       indices: VecEnvIndices = None) -> list[bool]:
        """Always ``False``: the core is not a Gymnasium env."""
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """No rendering."""
        return [None for _ in range(self.num_envs)]


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i] for k, v in obs.items()}
    return obs[i]
