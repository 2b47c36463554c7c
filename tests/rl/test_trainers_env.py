"""A tiny test environment with a closed-form optimum for the trainers' tests
(:class:`QuadraticCore`), and its own checks.

Each of ``K`` users gets the "rate"

    rate_k = peak_k - (w_k - c)^2 + bonus * [i = 1],

with ``w`` ``[K]`` the continuous action in ``[-1, 1]`` and ``i`` a binary discrete index, and the
"beampattern error" ``L_r = mean_k w_k^2``. The reward is the Lagrangian one of the liu env,
``r = sum_k lam_k rate_k + mu (ell - L_r)``, with ``lam`` and ``mu`` set by
``set_multipliers``. For fixed multipliers the best action is ``i = 1`` and

    w_k = lam_k c / (lam_k + mu / K),

so PPO's learned mode, the Q head's greedy index and the sign of the μ term can be checked
against a closed form. The observation is a small random nuisance (``obs_scale * z``,
``z ~ N(0, I)``) drawn at reset (it does not affect the reward), so the environment's generator
is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.rl.core import Action, BatchedEnvCore, Info, Obs


@dataclass
class QuadraticEpisodes(BatchedProblem):
    """``z`` ``[B, T + 1, 2]``: the observation sequence (nuisance)."""

    z: torch.Tensor = field(metadata=BATCHED)


@dataclass
class QuadraticConfig:
    num_users: int = 2
    max_episode_steps: int = 5
    peak: tuple[float, ...] = (1.0, 2.0)
    target: float = 0.5
    bonus: float = 0.25
    ell: float = 0.1
    discrete: bool = True
    mu_init: float = 0.0
    obs_scale: float = 0.1
    device: str = "cpu"
    dtype: torch.dtype = torch.complex64


class QuadraticCore(BatchedEnvCore[QuadraticEpisodes]):
    config_class = QuadraticConfig
    episodes_class = QuadraticEpisodes
    config: QuadraticConfig

    def __init__(self, batch_size: int = 1, config: Any = None, **overrides: Any) -> None:
        super().__init__(batch_size, config, **overrides)
        k = self.config.num_users
        self.lam = torch.ones(k, dtype=torch.float32)
        self.mu = torch.full((1,), float(self.config.mu_init), dtype=torch.float32)

    def set_multipliers(self, lam: Any = None, mu: Any = None) -> None:
        if lam is not None:
            self.lam = torch.as_tensor(lam, dtype=torch.float32).reshape(-1).clone()
        if mu is not None:
            self.mu = torch.as_tensor(mu, dtype=torch.float32).reshape(-1).clone()

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        k = self.config.num_users
        obs = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        w = spaces.Box(-1.0, 1.0, shape=(k,), dtype=np.float32)
        if not self.config.discrete:
            return obs, spaces.Dict({"w": w})
        return obs, spaces.Dict({"phases": spaces.MultiDiscrete([2]), "w": w})

    def sample_episodes(self, num: int, generator: torch.Generator) -> QuadraticEpisodes:
        steps = self.config.max_episode_steps + 1
        z = torch.randn(num, steps, 2, generator=generator, device=self.device)
        return QuadraticEpisodes(z=self.config.obs_scale * z)

    def begin(self, index: torch.Tensor) -> None:
        """Stateless."""

    def observe(self) -> Obs:
        ep = self._require_episodes()
        t = self.elapsed.clamp_max(self.config.max_episode_steps)
        return ep.z[torch.arange(self.batch_size), t].clone()

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        assert isinstance(action, dict)
        c = self.config
        w = action["w"].to(torch.float32).clamp(-1.0, 1.0)
        peak = torch.tensor(c.peak, dtype=torch.float32)
        rates = peak - (w - c.target) ** 2
        if c.discrete:
            rates = rates + c.bonus * (action["phases"][:, :1] == 1).to(torch.float32)
        l_r = (w**2).mean(dim=1)
        reward = (self.lam * rates).sum(1) + self.mu.sum() * (c.ell - l_r)
        info: Info = {"sum_rate": rates.sum(1), "beampattern_mse": l_r}
        for k in range(c.num_users):
            info[f"rate_{k}"] = rates[:, k]
        return reward, torch.zeros(self.batch_size, dtype=torch.bool), info


def test_quadratic_core_closed_form() -> None:
    core = QuadraticCore(3)
    core.reset(seed=0)
    core.set_multipliers(torch.tensor([2.0, 1.0]), torch.tensor([4.0]))
    w = torch.tensor([[0.5, 0.5], [0.0, 0.0], [0.25, -1.0]])
    phases = torch.tensor([[1], [0], [0]])
    _, reward, _, _, info = core.step({"w": w, "phases": phases})
    rate = torch.tensor([[1.25, 2.25], [0.75, 1.75], [1 - 0.0625, 2 - 2.25]])
    l_r = torch.tensor([0.25, 0.0, (0.0625 + 1) / 2])
    want = 2 * rate[:, 0] + rate[:, 1] + 4 * (0.1 - l_r)
    torch.testing.assert_close(reward, want)
    torch.testing.assert_close(info["rate_1"], rate[:, 1])
    torch.testing.assert_close(info["beampattern_mse"], l_r)
