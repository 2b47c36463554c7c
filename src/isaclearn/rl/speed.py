"""Environment speed: :func:`steps_per_second` and :func:`compare_with_numpy`, for the
``isaclearn bench`` suites of the RL systems.

It reports, it does not gate (DESIGN: benchmarks report speed, tests check correctness).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from gymnasium.vector.utils import batch_space

from isaclearn.core.errors import ConfigError
from isaclearn.rl.core import CoreFactory, EnvCore, as_batched_action, build_core

__all__ = ["compare_with_numpy", "steps_per_second"]


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


def compare_with_numpy(core: EnvCore, numpy_rate: Callable[[int, int], float],
                       batches: Sequence[int], *, steps: int, numpy_steps: int | None = None,
                       numpy_steps_large: int = 1, device: str = "cpu",
                       seed: int = 0) -> list[dict[str, Any]]:
    """Steps per second of a batched core beside a per-sample NumPy step, per batch size.

    Parameters
    ----------
    core : EnvCore
        The core (``with_batch_size(B)`` of it is timed by :func:`steps_per_second`).
    numpy_rate : callable
        ``numpy_rate(B, steps) -> steps/s`` of the NumPy reference (one instance at a time).
    batches : sequence of int
        Batch sizes ``B``.
    steps : int
        Timed batched steps of the core.
    numpy_steps : int, optional
        Timed steps of the NumPy loop (default: ``steps`` for ``B ≤ 64``, else
        ``numpy_steps_large``, so that the loop stays short; the rate is per step either way).
    device : str
        Reported device of the core.
    seed : int
        Seed of the episodes and actions.

    Returns
    -------
    list of dict
        ``what`` ("env_step"), ``device``, ``batch``, ``steps_per_s`` (core),
        ``numpy_steps_per_s`` and ``ratio`` (core / NumPy).

    Raises
    ------
    ConfigError
        A batch size below 1.
    """
    rows: list[dict[str, Any]] = []
    for b in batches:
        if b < 1:
            raise ConfigError(f"batch sizes must be >= 1, got {b}")
        fast = steps_per_second(core, b, steps, seed=seed)
        n_np = numpy_steps if numpy_steps is not None else (
            steps if b <= 64 else numpy_steps_large)
        slow = numpy_rate(b, n_np)
        rows.append({"what": "env_step", "device": device, "batch": int(b),
                     "steps_per_s": fast, "numpy_steps_per_s": slow, "ratio": fast / slow})
    return rows
