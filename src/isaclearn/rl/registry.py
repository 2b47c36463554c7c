"""Registration of batched cores as Gymnasium environments under ``isaclearn/<Name>-v<N>``.

:func:`register_core` registers one id with both entry points:

* ``gymnasium.make(id, **overrides)`` gives a :class:`~isaclearn.rl.gym_env.CoreEnv` (``B = 1``)
  wrapped in ``TimeLimit(max_episode_steps)`` (and Gymnasium's passive checker);
* ``gymnasium.make_vec(id, num_envs=B, vectorization_mode="vector_entry_point", **overrides)``
  gives the native :class:`~isaclearn.rl.vector.CoreVectorEnv` over one core with ``B``
  episodes.

``overrides`` are config fields of the core (``device="cuda"``, ``dtype="complex128"``, ...).
The environments of the package are registered when :mod:`isaclearn.rl` is imported;
:func:`registered_ids` lists the ``isaclearn/`` namespace (what the contract test covers).

Examples
--------
>>> import gymnasium as gym
>>> import isaclearn.rl
>>> "isaclearn/ToyBeam-v0" in registered_ids()
True
>>> env = gym.make("isaclearn/ToyBeam-v0")
>>> env.spec.max_episode_steps
20
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import CoreFactory, build_core

__all__ = ["NAMESPACE", "register_core", "registered_ids"]

NAMESPACE = "isaclearn"
_ID = re.compile(rf"^{NAMESPACE}/[A-Za-z][A-Za-z0-9]*-v\d+$")


def _qualified_name(core: str | CoreFactory) -> str:
    if isinstance(core, str):
        return core
    module = getattr(core, "__module__", None)
    name = getattr(core, "__qualname__", None)
    if module is None or name is None or "<" in name:
        raise ConfigError(f"register a core by a module-level class or function, got {core!r}")
    return f"{module}:{name}"


def register_core(env_id: str, core: str | CoreFactory, *,
                  max_episode_steps: int | None = None, **kwargs: Any) -> None:
    """Register ``core`` (a core class or factory ``factory(batch_size, **kwargs)``, or its
    name ``"module:name"``) under ``env_id``.

    Parameters
    ----------
    env_id : str
        ``"isaclearn/<Name>-v<N>"``.
    core : str or callable
        The core class or factory (a module-level name, so that the spec can be pickled).
    max_episode_steps : int, optional
        The ``TimeLimit`` of ``gymnasium.make``; by default the core's own
        ``max_episode_steps`` (with ``kwargs`` applied).
    **kwargs
        Config overrides stored in the spec (e.g. ``action="dict"``).

    Raises
    ------
    ConfigError
        An id outside the ``isaclearn/`` namespace or without a version, or a core that cannot
        be built.

    Notes
    -----
    Registering an id again with the same spec is a no-op; with a different spec it replaces
    the old one (Gymnasium warns).
    """
    if not _ID.match(env_id):
        raise ConfigError(f"env_id must look like '{NAMESPACE}/Name-v0', got {env_id!r}")
    name = _qualified_name(core)
    if max_episode_steps is None:
        max_episode_steps = build_core(name, 1, **kwargs).max_episode_steps
    spec_kwargs = {"core": name, **kwargs}
    old = gym.registry.get(env_id)
    if (old is not None and old.kwargs == spec_kwargs
            and old.max_episode_steps == max_episode_steps):
        return
    gym.register(
        id=env_id,
        entry_point="isaclearn.rl.gym_env:make_env",
        vector_entry_point="isaclearn.rl.vector:make_vector_env",
        max_episode_steps=max_episode_steps,
        kwargs=spec_kwargs,
    )


def registered_ids() -> list[str]:
    """The ids of the ``isaclearn/`` namespace of the Gymnasium registry, sorted."""
    return sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/"))
