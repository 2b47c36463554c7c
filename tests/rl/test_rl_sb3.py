"""The SB3 adapter against SB3's own DummyVecEnv over single envs replaying the same episodes
(same-step autoreset, terminal_observation, TimeLimit.truncated), VecMonitor statistics against
a hand count, and SB3 PPO / A2C training on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from isaclearn.rl import BoxActionCore, CoreEnv, rollout
from isaclearn.rl.envs.toy import ToyBeamCore
from isaclearn.rl.sb3 import SB3VecEnv

B = 4


def _record(core: ToyBeamCore, venv: SB3VecEnv, steps: int,
            rows_changed: Callable[..., torch.Tensor]) -> tuple[list[list[Any]], list[Any],
                                                                list[Any], np.ndarray]:
    venv.seed(0)
    obs0 = venv.reset()
    episodes = [[core.episodes.subset([i])] for i in range(B)]  # type: ignore[union-attr]
    rng = np.random.default_rng(1)
    actions, outputs = [], []
    for _ in range(steps):
        before = core.episodes
        a = rng.uniform(-1, 1, size=(B, 16)).astype(np.float64)
        outputs.append(venv.step(a))
        actions.append(a)
        for i in np.flatnonzero(rows_changed(before, core.episodes).numpy()):
            episodes[i].append(core.episodes.subset([int(i)]))  # type: ignore[union-attr]
    return episodes, actions, outputs, obs0


def test_same_step_autoreset_matches_dummy_vec_env(
        replay: type, rows_changed: Callable[..., torch.Tensor]) -> None:
    core = ToyBeamCore(B, dtype=torch.complex128)
    episodes, actions, outputs, obs0 = _record(core, SB3VecEnv(core), 45, rows_changed)

    def factory(i: int) -> Callable[[], gym.Env[Any, Any]]:
        return lambda: replay(CoreEnv(ToyBeamCore(1, dtype=torch.complex128)), episodes[i])

    ref = DummyVecEnv([factory(i) for i in range(B)])
    np.testing.assert_allclose(ref.reset(), obs0, rtol=1e-12, atol=1e-12)
    ends = {"terminated": 0, "truncated": 0}
    for a, (obs, reward, done, infos) in zip(actions, outputs, strict=True):
        r_obs, r_reward, r_done, r_infos = ref.step(a)
        np.testing.assert_allclose(obs, r_obs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(reward, r_reward, rtol=1e-6)
        assert reward.dtype == r_reward.dtype == np.float32
        assert np.array_equal(done, r_done)
        for i in range(B):
            if not done[i]:
                assert infos[i] == {}
                continue
            np.testing.assert_allclose(infos[i]["terminal_observation"],
                                       r_infos[i]["terminal_observation"], rtol=1e-12,
                                       atol=1e-12)
            assert infos[i]["TimeLimit.truncated"] == r_infos[i]["TimeLimit.truncated"]
            for key in ("sum_rate", "min_rate", "power"):
                assert infos[i][key] == pytest.approx(r_infos[i][key], rel=1e-12)
            ends["truncated" if infos[i]["TimeLimit.truncated"] else "terminated"] += 1
    assert ends["terminated"] > 0 and ends["truncated"] > 0


def test_vec_monitor_statistics_equal_a_hand_count() -> None:
    core = ToyBeamCore(B, max_episode_steps=8)
    venv = VecMonitor(SB3VecEnv(core))
    venv.seed(3)
    venv.reset()
    rng = np.random.default_rng(0)
    running_r, running_l = np.zeros(B), np.zeros(B, dtype=int)
    hand: list[tuple[int, float, int]] = []
    monitor: list[tuple[int, float, int]] = []
    for _ in range(40):
        _, reward, done, infos = venv.step(rng.uniform(-1, 1, size=(B, 16)))
        running_r += reward
        running_l += 1
        for i in np.flatnonzero(done):
            hand.append((int(i), float(running_r[i]), int(running_l[i])))
            running_r[i], running_l[i] = 0.0, 0
            ep = infos[i]["episode"]
            monitor.append((int(i), float(ep["r"]), int(ep["l"])))
    assert len(hand) > B and max(h[2] for h in hand) == 8
    assert [(i, l) for i, _, l in monitor] == [(i, l) for i, _, l in hand]
    np.testing.assert_allclose([r for _, r, _ in monitor], [r for _, r, _ in hand], rtol=1e-5)


def test_seed_and_options() -> None:
    core = ToyBeamCore(B)
    venv = SB3VecEnv(core)
    venv.seed(5)
    obs = venv.reset()
    ref = ToyBeamCore(B)
    ref_obs, _ = ref.reset(seed=5)
    np.testing.assert_array_equal(obs, ref_obs.numpy())
    other = ToyBeamCore(B).sample_episodes(B, torch.Generator().manual_seed(9))
    venv.set_options({"scenario": other})
    venv.reset()
    assert torch.equal(core.episodes.h, other.h)  # type: ignore[union-attr]
    venv.reset()  # options are used once
    assert not torch.equal(core.episodes.h, other.h)  # type: ignore[union-attr]
    assert venv.get_attr("batch_size") == [B] * B
    assert venv.env_method("with_batch_size", 2, indices=[0])[0].batch_size == 2
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * B


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_sb3_trains_on_the_batched_core(algo: type) -> None:
    core = BoxActionCore(ToyBeamCore(8, action="dict"))  # the Box view of a Dict core
    env = VecMonitor(SB3VecEnv(core))
    kwargs: dict[str, Any] = {"n_steps": 16, "seed": 0, "device": "cpu",
                              "policy_kwargs": {"net_arch": [16]}}
    if algo is PPO:
        kwargs.update(batch_size=64, n_epochs=2)
    model = algo("MlpPolicy", env, **kwargs)
    model.learn(total_timesteps=384)
    assert model.num_timesteps >= 384
    assert len(model.ep_info_buffer) > 0  # VecMonitor's episode statistics reached SB3
    rows = rollout(core.with_batch_size(3), model, episodes=3, seed=0)
    assert len(rows) == 3 and all(np.isfinite(r["reward"]) for r in rows)
