"""The native Gymnasium vector face of a batched core: :class:`CoreVectorEnv`.

``num_envs = B``; every ``step`` is ONE call of the core's batched ``step`` (not a
``SyncVectorEnv`` over ``B`` copies). Observations, rewards and flags are NumPy arrays with a
leading ``B`` axis; ``info`` follows Gymnasium's vector convention: ``info[key]`` is a ``[B]``
array and ``info["_key"]`` the boolean mask of the sub-environments that report it.

Autoreset (``metadata["autoreset_mode"]``, Gymnasium 1.x :class:`~gymnasium.vector.AutoresetMode`)
----------------------------------------------------------------------------------------------
``NEXT_STEP`` (default, Gymnasium's own default)
    An episode that ends at step ``n`` is reset during step ``n + 1``: that step ignores its
    action and returns the first observation of the new episode, reward 0,
    ``terminated = truncated = False`` and the reset ``info``.
``SAME_STEP``
    An episode that ends is reset within the same step: the returned observation is the new
    episode's first one; the last observation and info of the ended episode are in
    ``info["final_obs"]`` (an object array, ``None`` elsewhere) and ``info["final_info"]``,
    masked by ``info["_final_obs"]`` and ``info["_final_info"]``.
``DISABLED``
    Nothing is reset; ``reset(options={"reset_mask": mask})`` starts new episodes where
    ``mask`` is ``True`` (stepping an ended episode without it is an error).

These are exactly the semantics of ``gymnasium.vector.SyncVectorEnv`` in the same mode, which
the tests use as the reference. Resets draw the new episodes from the core's generator, all
ended episodes of a step in one batched draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import CoreFactory, EnvCore, Info, build_core, to_numpy

__all__ = ["CoreVectorEnv", "add_vector_info", "make_vector_env"]


def _info_array(value: torch.Tensor) -> np.ndarray:
    """A ``[B]`` info tensor as the NumPy array Gymnasium's ``_add_info`` builds from Python
    scalars (``float64``, ``int64`` or ``bool``)."""
    arr = value.detach().cpu().numpy()
    if arr.dtype == np.bool_:
        return arr.copy()
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    return arr.astype(np.float64)


def add_vector_info(infos: dict[str, Any], info: Info, rows: np.ndarray) -> dict[str, Any]:
    """Add the entries of the batched ``info`` for the sub-environments ``rows`` (``[B]``
    bool) to the vector ``infos``, as Gymnasium's ``VectorEnv._add_info`` does one
    sub-environment at a time (zeros and a ``False`` mask elsewhere; nothing if no row)."""
    if not rows.any():
        return infos
    for key, value in info.items():
        arr = _info_array(value)
        if key in infos:
            out = infos[key]
            mask = infos[f"_{key}"]
        else:
            out = np.zeros_like(arr)
            mask = np.zeros(rows.shape[0], dtype=np.bool_)
        out[rows] = arr[rows]
        mask = mask | rows
        infos[key], infos[f"_{key}"] = out, mask
    return infos


class CoreVectorEnv(VectorEnv[Any, Any, np.ndarray]):
    """A Gymnasium ``VectorEnv`` with ``num_envs = B`` over a batched core.

    Parameters
    ----------
    core : EnvCore
        The batched core.
    autoreset_mode : gymnasium.vector.AutoresetMode or str
        ``NEXT_STEP`` (default), ``SAME_STEP`` or ``DISABLED`` (or their values
        ``"NextStep"``, ``"SameStep"``, ``"Disabled"``); see the module docstring.

    Raises
    ------
    ConfigError
        An unknown autoreset mode.
    """

    def __init__(self, core: EnvCore,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP) -> None:
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ConfigError(f"autoreset_mode must be one of "
                              f"{[m.value for m in AutoresetMode]}, got {autoreset_mode!r}"
                              ) from None
        self.core = core
        self.num_envs = core.batch_size
        self.single_observation_space = core.observation_space
        self.single_action_space = core.action_space
        self.observation_space = batch_space(core.observation_space, self.num_envs)
        self.action_space = batch_space(core.action_space, self.num_envs)
        self.autoreset_mode = mode
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self._autoreset = torch.zeros(self.num_envs, dtype=torch.bool, device=core.device)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start episodes (all, or those of ``options["reset_mask"]``, a ``[B]`` bool array).

        ``seed`` seeds the core's generator (one seed for the batch); ``options["scenario"]``
        gives the episode data explicitly (one row per episode started).
        """
        if seed is not None and not isinstance(seed, int | np.integer):
            raise ConfigError(f"CoreVectorEnv.reset takes one integer seed for the batch, got "
                              f"{seed!r}")
        super().reset(seed=seed)
        opts = dict(options or {})
        reset_mask = opts.pop("reset_mask", None)
        mask = None
        if reset_mask is not None:
            mask = torch.as_tensor(np.asarray(reset_mask), device=self.core.device)
        obs, info = self.core.reset(seed=seed, mask=mask, options=opts or None)
        rows = np.ones(self.num_envs, dtype=np.bool_)
        if mask is None:
            self._autoreset.zero_()
        else:
            self._autoreset &= ~mask
            rows = mask.cpu().numpy()
        return to_numpy(obs), add_vector_info({}, info, rows)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        """One batched step with ``actions`` ``[B, ...]`` (see the autoreset modes)."""
        obs, reward, terminated, truncated, info = self.core.step(actions)
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            pending = self._autoreset
            rows = pending.cpu().numpy()
            if rows.any():
                obs, reset_info = self.core.reset(mask=pending)
                reward = torch.where(pending, torch.zeros_like(reward), reward)
                terminated = terminated & ~pending
                truncated = truncated & ~pending
                add_vector_info(infos, info, ~rows)
                add_vector_info(infos, reset_info, rows)
            else:
                add_vector_info(infos, info, ~rows)
            self._autoreset = terminated | truncated
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            done = terminated | truncated
            rows = done.cpu().numpy()
            add_vector_info(infos, info, ~rows)
            if rows.any():
                final_obs = to_numpy(obs)
                objects = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(rows):  # only the episodes that ended
                    objects[i] = _row(final_obs, int(i))
                infos["final_obs"], infos["_final_obs"] = objects, rows.copy()
                infos["final_info"] = add_vector_info({}, info, rows)
                infos["_final_info"] = rows.copy()
                obs, reset_info = self.core.reset(mask=done)
                add_vector_info(infos, reset_info, rows)
        else:
            if bool(self._autoreset.any()):
                raise ConfigError("autoreset is disabled: reset the ended episodes with "
                                  "reset(options={'reset_mask': mask}) before stepping")
            add_vector_info(infos, info, np.ones(self.num_envs, dtype=np.bool_))
            self._autoreset = terminated | truncated
        return (to_numpy(obs), reward.detach().cpu().numpy().astype(np.float64),
                terminated.cpu().numpy(), truncated.cpu().numpy(), infos)


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i] for k, v in obs.items()}
    return obs[i]


def make_vector_env(num_envs: int, core: str | CoreFactory,
                    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                    **kwargs: Any) -> CoreVectorEnv:
    """A :class:`CoreVectorEnv` over ``core(num_envs, **kwargs)``; the Gymnasium
    ``vector_entry_point`` of the registered ``isaclearn/...`` environments
    (``gymnasium.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point")``).
    ``max_episode_steps``, which ``make_vec`` passes, is a config field of the core."""
    return CoreVectorEnv(build_core(core, num_envs, **kwargs), autoreset_mode=autoreset_mode)
