"""Helpers shared by the RL tests: replaying recorded episode data in single environments, so
that a reference built from B single envs (Gymnasium's SyncVectorEnv, SB3's DummyVecEnv) sees
exactly the episodes the batched core drew."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import pytest
import torch

from isaclearn.core.problem import BatchedProblem


class ReplayEpisodes(gym.Wrapper[Any, Any, Any, Any]):
    """A single env whose every reset plays the next recorded episode (seed ignored)."""

    def __init__(self, env: gym.Env[Any, Any], episodes: list[BatchedProblem]) -> None:
        super().__init__(env)
        self.queue = list(episodes)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if not self.queue:
            raise AssertionError("the reference asked for more episodes than were recorded")
        return self.env.reset(options={"scenario": self.queue.pop(0)})


def changed_rows(before: BatchedProblem, after: BatchedProblem) -> torch.Tensor:
    """``[B]`` bool: rows whose episode data differ (a new episode started there)."""
    out = torch.zeros(before.batch_size, dtype=torch.bool)
    for name in before.batched_fields():
        a, b = getattr(before, name), getattr(after, name)
        out |= (a != b).reshape(a.shape[0], -1).any(dim=1).cpu()
    return out


@pytest.fixture
def replay() -> type[ReplayEpisodes]:
    return ReplayEpisodes


@pytest.fixture
def rows_changed() -> Callable[[BatchedProblem, BatchedProblem], torch.Tensor]:
    return changed_rows
