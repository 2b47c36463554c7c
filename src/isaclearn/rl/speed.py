"""Environment speed: :func:`steps_per_second`, for the ``isaclearn bench rl`` suite.

It reports, it does not gate (DESIGN: benchmarks report speed, tests check correctness).
"""

from __future__ import annotations

import time

import torch
from gymnasium.vector.utils import batch_space

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import CoreFactory, EnvCore, as_batched_action, build_core

__all__ = ["steps_per_second"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(core: EnvCore | CoreFactory | str, batch: int, steps: int, *,
                     seed: int = 0, warmup: int = 3) -> float:
    """Environment steps per second (``batch * steps / seconds``) of a batched core.

    The core runs ``batch`` episodes with random actions (a few batches drawn from the action
    space before the clock starts, used in turn) and resets the episodes that end with a masked
    reset, as the vector faces do.

    Parameters
    ----------
    core : EnvCore, core class/factory or its ``"module:name"``
        A core (``with_batch_size(batch)`` of it is timed) or a factory ``factory(batch)``.
    batch : int
        Episodes ``B`` stepped together.
    steps : int
        Timed batched steps.
    seed : int
        Seed of the episodes and of the actions.
    warmup : int
        Untimed steps first (allocations, kernel selection).

    Raises
    ------
    ConfigError
        ``batch`` or ``steps`` not positive.

    Examples
    --------
    >>> from isaclearn.rl.envs.toy import ToyBeamCore
    >>> steps_per_second(ToyBeamCore, batch=8, steps=5) > 0
    True
    """
    if batch < 1 or steps < 1:
        raise ConfigError(f"batch and steps must be >= 1, got {batch}, {steps}")
    env = core.with_batch_size(batch) if isinstance(core, EnvCore) else build_core(core, batch)
    space = batch_space(env.action_space, batch)
    space.seed(seed)
    actions = [as_batched_action(env.action_space, space.sample(), batch, env.device)
               for _ in range(min(steps, 4))]
    env.reset(seed=seed)

    def run(n: int) -> None:
        for i in range(n):
            _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
            done = terminated | truncated
            if bool(done.any()):
                env.reset(mask=done)

    run(warmup)
    _sync(env.device)
    start = time.perf_counter()
    run(steps)
    _sync(env.device)
    return batch * steps / max(time.perf_counter() - start, 1e-12)
