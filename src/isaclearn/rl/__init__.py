"""Reinforcement learning: batched torch environment cores, their Gymnasium and
Stable-Baselines3 faces, and rollouts shared with classical designers.

* :mod:`.core` — :class:`EnvCore` (the interface) and :class:`BatchedEnvCore` (the base of
  concrete cores): ``B`` episodes as batch-first tensors, stepped as one tensor operation,
  seeded by a :class:`torch.Generator`, episode data drawn at reset.
* :mod:`.gym_env` — :class:`CoreEnv`, the single-instance Gymnasium ``Env`` (``B = 1``).
* :mod:`.vector` — :class:`CoreVectorEnv`, a native ``gymnasium.vector.VectorEnv``
  (``num_envs = B``, next-step / same-step / disabled autoreset).
* :mod:`.sb3` — ``SB3VecEnv``, the Stable-Baselines3 ``VecEnv`` (imported on demand:
  ``from isaclearn.rl.sb3 import SB3VecEnv``).
* :mod:`.actions` — :class:`BoxActionCore`, a flat-Box view of a core with Dict / discrete
  actions (for SB3).
* :mod:`.rollout` — :func:`rollout`: agents, SB3 models and designers scored on the same
  episodes.
* :mod:`.registry` — :func:`register_core`: ``isaclearn/<Name>-v<N>`` Gymnasium ids;
  :mod:`.envs` registers the package's environments on import.
* :mod:`.speed` — :func:`steps_per_second` for the benchmark.
* :mod:`.agents` — the papers' learning pieces: truncated-Gaussian policy, hybrid actor / Q
  critic, PPO clip and KL losses, Monte-Carlo / L-step / GAE advantages, one PPO update.
* :mod:`.primal_dual` — the Lagrangian reward and the projected primal-dual steps (33)–(36) of
  liu_irs_ppo, with the zeroth-order estimator (37)–(39).
"""

from isaclearn.rl import envs
from isaclearn.rl.actions import BoxActionCore, box_action_core
from isaclearn.rl.core import (
    Action,
    BatchedEnvCore,
    CoreView,
    EnvCore,
    Info,
    Obs,
    StepResult,
    build_core,
    to_numpy,
)
from isaclearn.rl.gym_env import CoreEnv, make_env
from isaclearn.rl.registry import register_core, registered_ids
from isaclearn.rl.rollout import rollout
from isaclearn.rl.speed import steps_per_second
from isaclearn.rl.vector import CoreVectorEnv, make_vector_env

__all__ = [
    "Action",
    "BatchedEnvCore",
    "CoreView",
    "BoxActionCore",
    "CoreEnv",
    "CoreVectorEnv",
    "EnvCore",
    "Info",
    "Obs",
    "StepResult",
    "box_action_core",
    "build_core",
    "envs",
    "make_env",
    "make_vector_env",
    "register_core",
    "registered_ids",
    "rollout",
    "steps_per_second",
    "to_numpy",
]
