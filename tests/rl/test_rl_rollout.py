"""rollout: designers, policies and models scored on identical episodes; rows against a hand
count on single envs replaying the same episode data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isaclearn.core import ConfigError, make_generator
from isaclearn.rl import CoreEnv, rollout
from isaclearn.rl.envs.toy import ToyBeamCore
from isaclearn.solvers.designers import MRT
from isaclearn.solvers.linear import mrt


def _mrt_from_obs(obs: torch.Tensor) -> torch.Tensor:
    """MRT rebuilt from the observation alone (Re/Im of g_t), as a Box action."""
    b = obs.shape[0]
    g = torch.complex(obs[:, :8], obs[:, 8:]).reshape(b, 2, 4)
    w = mrt(g, 1.0)  # [B, M, K]
    flat = torch.cat([w.real.reshape(b, -1), w.imag.reshape(b, -1)], dim=1)
    return flat / flat.abs().amax(dim=1, keepdim=True)


def test_designer_and_policy_see_the_same_episodes(cdtype: torch.dtype) -> None:
    env = ToyBeamCore(5, dtype=cdtype)
    by_designer = rollout(env, MRT(), episodes=8, seed=4)
    by_policy = rollout(env, _mrt_from_obs, episodes=8, seed=4, method="mrt_policy")
    tol = 1e-5 if cdtype == torch.complex64 else 1e-12
    assert [r["method"] for r in by_designer] == ["mrt"] * 8
    assert [r["method"] for r in by_policy] == ["mrt_policy"] * 8
    for a, b in zip(by_designer, by_policy, strict=True):
        assert (a["seed"], a["episode"], a["steps"]) == (b["seed"], b["episode"], b["steps"])
        for key in ("reward", "sum_rate", "min_rate", "power"):
            assert a[key] == pytest.approx(b[key], rel=tol, abs=tol), key
    other_seed = rollout(env, MRT(), episodes=8, seed=5)
    assert [r["reward"] for r in other_seed] != [r["reward"] for r in by_designer]


def test_rows_equal_a_hand_count_on_single_envs() -> None:
    weights = torch.randn(16, 16, generator=make_generator(0), dtype=torch.float64) * 2

    def policy(obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(obs.to(torch.float64) @ weights)

    rows = rollout(ToyBeamCore, policy, episodes=6, seed=9, batch_size=6,
                   method="tanh")
    episodes = ToyBeamCore(6).sample_episodes(6, make_generator(9))  # what the reset drew
    short = 0
    for i, row in enumerate(rows):
        env = CoreEnv(ToyBeamCore(1))
        obs, _ = env.reset(options={"scenario": episodes.subset([i])})
        total, steps, sums = 0.0, 0, {"sum_rate": 0.0, "min_rate": 0.0, "power": 0.0}
        done = False
        while not done:
            action = policy(torch.as_tensor(obs)[None])[0].numpy()
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            steps += 1
            for key in sums:
                sums[key] += info[key]
            done = terminated or truncated
        assert row["episode"] == i and row["steps"] == steps
        assert row["reward"] == pytest.approx(total, rel=1e-5)
        for key, value in sums.items():
            assert row[key] == pytest.approx(value / steps, rel=1e-5, abs=1e-6)
        short += steps < 20
    assert short > 0, "some episodes terminate early (masking is exercised)"


def test_rounds_of_a_fixed_batch() -> None:
    core = ToyBeamCore(3)
    rows = rollout(core, MRT(), episodes=7, seed=1)
    assert [r["episode"] for r in rows] == list(range(7))
    again = rollout(core, MRT(), episodes=7, seed=1)
    assert rows == again
    # the rounds draw successive batches of the seeded generator
    gen = make_generator(1)
    ref = [ToyBeamCore(3).sample_episodes(3, gen) for _ in range(3)]
    single = rollout(ToyBeamCore(1), MRT(), episodes=1, seed=0)[0]
    assert set(single) == {"method", "seed", "episode", "reward", "steps", "sum_rate",
                           "min_rate", "power"}
    env = CoreEnv(ToyBeamCore(1))
    for i, episode in ((4, ref[1].subset([1])), (6, ref[2].subset([0]))):
        env.reset(options={"scenario": episode})
        total = 0.0
        for _ in range(20):
            problem = env.core.current_problem()
            action = env.core.design_to_action(MRT().design(problem))
            total += env.step(action[0].numpy())[1]  # type: ignore[index]
        assert rows[i]["reward"] == pytest.approx(total, rel=1e-5)


class _Model:
    """Something with SB3's predict: records the flag, acts with MRT from the observation."""

    def __init__(self) -> None:
        self.flags: list[bool] = []

    def predict(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, None]:
        assert isinstance(obs, np.ndarray)
        self.flags.append(deterministic)
        return _mrt_from_obs(torch.as_tensor(obs)).numpy(), None


def test_models_and_policies_get_the_deterministic_flag() -> None:
    model = _Model()
    rows = rollout(ToyBeamCore(2), model, episodes=2, seed=0)
    assert rows[0]["method"] == "_Model" and set(model.flags) == {True}
    rollout(ToyBeamCore(2), model, episodes=2, seed=0, deterministic=False)
    assert model.flags[-1] is False
    seen: list[bool] = []

    def policy(obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        seen.append(deterministic)
        return _mrt_from_obs(obs)

    by_policy = rollout(ToyBeamCore(2), policy, episodes=2, seed=0, deterministic=False)
    assert set(seen) == {False}
    assert [r["reward"] for r in by_policy] == pytest.approx([r["reward"] for r in rows])


def test_dict_core_designer() -> None:
    rows = rollout(ToyBeamCore(2, action="dict"), MRT(), episodes=2, seed=0)
    assert all(r["steps"] == 20 and r["power"] == pytest.approx(1.0, rel=1e-5) for r in rows)


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="episodes"):
        rollout(ToyBeamCore, MRT(), episodes=0, seed=0)
    with pytest.raises(ConfigError, match="cannot act"):
        rollout(ToyBeamCore, object(), episodes=1, seed=0)
    with pytest.raises(ConfigError, match="max_steps"):
        rollout(ToyBeamCore(1), MRT(), episodes=1, seed=0, max_steps=0)


def test_max_steps_cuts_episodes() -> None:
    rows = rollout(ToyBeamCore(2), MRT(), episodes=2, seed=0, max_steps=5)
    assert [r["steps"] for r in rows] == [5, 5]
