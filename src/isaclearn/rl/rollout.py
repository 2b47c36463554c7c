"""Score RL agents and classical designers on the same episodes: :func:`rollout`.

All the randomness of an episode is drawn at its reset from the core's generator (see
:mod:`isaclearn.rl.core`), and acting never consumes that generator. So ``rollout(env, x,
episodes, seed)`` with the same environment configuration and batch size gives every method
``x`` the same episode data: a trained policy, an SB3 model and ZF are compared on identical
channel draws.

What can act
------------
* a **designer**: an object with ``design(problem) -> Design``. At each step it receives the
  core's :meth:`~isaclearn.rl.core.EnvCore.current_problem` and its design is applied through
  :meth:`~isaclearn.rl.core.EnvCore.design_to_action`;
* a **model** with SB3's ``predict(obs, deterministic=...) -> (action, state)`` (NumPy in and
  out, batched);
* a **policy**: a callable ``policy(obs) -> action`` on batched torch tensors (on the core's
  device). If it takes a ``deterministic`` keyword, it is passed.

Policies act deterministically by default; ``deterministic=False`` samples (with the agent's
own random source, not the environment's).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.rl.core import Action, CoreFactory, EnvCore, Obs, build_core, to_numpy

__all__ = ["RESERVED_COLUMNS", "rollout"]

RESERVED_COLUMNS = ("method", "seed", "episode", "reward", "steps")
"""The columns every row carries; the means of the info metrics follow."""


def _method_name(agent: Any) -> str:
    name = getattr(agent, "name", None)
    if isinstance(name, str) and name:
        return name
    return type(agent).__name__


def _takes_deterministic(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "deterministic" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _actor(agent: Any, core: EnvCore, deterministic: bool) -> Callable[[Obs], Action]:
    if hasattr(agent, "design"):
        def act_design(obs: Obs) -> Action:
            return core.design_to_action(agent.design(core.current_problem()))
        return act_design
    if hasattr(agent, "predict"):
        def act_predict(obs: Obs) -> Action:
            action, _ = agent.predict(to_numpy(obs), deterministic=deterministic)
            return torch.as_tensor(action) if not isinstance(action, dict) else action
        return act_predict
    if callable(agent):
        if _takes_deterministic(agent):
            def act_policy(obs: Obs) -> Action:
                return agent(obs, deterministic=deterministic)  # type: ignore[no-any-return]
            return act_policy
        return agent  # type: ignore[no-any-return]
    raise ConfigError(f"cannot act with a {type(agent).__name__}: give a designer "
                      "(design(problem)), a model (predict(obs)) or a policy (callable)")


def rollout(env: EnvCore | CoreFactory | str, agent: Any, episodes: int, seed: int, *,
            deterministic: bool = True, method: str | None = None,
            batch_size: int | None = None, max_steps: int | None = None,
            ) -> list[dict[str, Any]]:
    """Run ``episodes`` episodes with ``agent`` and return one row per episode.

    Parameters
    ----------
    env : EnvCore, core class/factory or its ``"module:name"``
        A core (its batch size ``B`` episodes run at a time, in ``ceil(episodes / B)``
        rounds) or a factory called as ``factory(min(episodes, batch_size))``.
    agent : designer, model or policy
        See the module docstring.
    episodes : int
        Number of episodes scored.
    seed : int
        Seed of the episode data (``make_generator(seed, device)``, consumed by the resets
        only): the same seed gives the same episodes to every method.
    deterministic : bool
        Act deterministically (default) or sample (models and policies that support it).
    method : str, optional
        The ``method`` column (default: ``agent.name`` or the class name).
    batch_size : int, optional
        Episodes run side by side when ``env`` is a factory (default: all of them).
    max_steps : int, optional
        Steps after which the episodes still running are cut (default: the core's
        ``max_episode_steps``; required for a core without one).

    Returns
    -------
    list of dict
        ``{"method", "seed", "episode", "reward", "steps", **metrics}`` per episode:
        ``reward`` is the episode's return (the sum of its rewards), ``steps`` its length, and
        each info metric of the core appears as its mean over the episode's steps.

    Raises
    ------
    ConfigError
        ``episodes`` not a positive integer, no step limit, an agent that cannot act, or an
        info metric named like a reserved column.

    Examples
    --------
    >>> from isaclearn.rl.envs.toy import ToyBeamCore
    >>> from isaclearn.solvers.designers import MRT
    >>> rows = rollout(ToyBeamCore, MRT(), episodes=2, seed=0)
    >>> [(r["method"], r["episode"], r["steps"]) for r in rows]
    [('mrt', 0, 20), ('mrt', 1, 20)]
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"episodes must be an integer >= 1, got {episodes!r}")
    if isinstance(env, EnvCore):
        core = env
    else:
        size = episodes if batch_size is None else min(int(batch_size), episodes)
        core = build_core(env, size)
    limit = core.max_episode_steps if max_steps is None else int(max_steps)
    if limit is None or limit < 1:
        raise ConfigError("rollout needs max_steps for a core without max_episode_steps")
    name = method or _method_name(agent)
    act = _actor(agent, core, deterministic)
    generator = make_generator(seed, core.device)
    b = core.batch_size
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for first in range(0, episodes, b):
            count = min(b, episodes - first)
            obs, _ = core.reset(generator=generator)
            alive = torch.ones(b, dtype=torch.bool, device=core.device)
            total = torch.zeros(b, dtype=torch.float64, device=core.device)
            length = torch.zeros(b, dtype=torch.int64, device=core.device)
            sums: dict[str, torch.Tensor] = {}
            for _ in range(limit):
                obs, reward, terminated, truncated, info = core.step(act(obs))
                weight = alive.to(torch.float64)
                total += reward.to(torch.float64) * weight
                length += alive.to(torch.int64)
                for key, value in info.items():
                    sums[key] = sums.get(key, 0.0) + value.to(torch.float64) * weight
                alive = alive & ~(terminated | truncated)
                if not bool(alive[:count].any()):
                    break
            clash = sorted(set(sums) & set(RESERVED_COLUMNS))
            if clash:
                raise ConfigError(f"info metrics {clash} clash with the row columns")
            means = {k: (v / length.clamp_min(1)).cpu().tolist() for k, v in sums.items()}
            totals, lengths = total.cpu().tolist(), length.cpu().tolist()
            for i in range(count):
                row: dict[str, Any] = {"method": name, "seed": int(seed), "episode": first + i,
                                       "reward": float(totals[i]), "steps": int(lengths[i])}
                row.update({k: float(v[i]) for k, v in means.items()})
                rows.append(row)
    return rows
