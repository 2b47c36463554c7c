"""The contract every registered environment keeps (spec liu_irs_ppo, "RL foundation" 6).

It iterates the ``isaclearn/`` namespace of the Gymnasium registry, so each environment
registered later is covered without editing this file, plus a test-only Box view of a Dict
core (the mechanism the SB3 variants of Dict environments use). Each check runs on every
device and in complex64 and complex128:

* ``gymnasium.utils.env_checker.check_env`` passes, with its warnings turned into errors
  (except the one about infinite observation bounds: Gaussian channels are unbounded);
* same seed → same trajectory (observations, actions from a seeded action space, rewards,
  flags, info), identical;
* the batched core equals B single environments: the episodes a seeded batched reset draws,
  replayed one by one in single envs through ``options={"scenario": ...}`` with the same
  actions, give the same observations, rewards, flags and info (1e-6 in complex64, 1e-12 in
  complex128) for whole episodes, including episodes restarted by masked resets while the
  others run on;
* ``CoreEnv.reset(seed=s)`` is the core's reset at ``B = 1`` with seed ``s``.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env, data_equivalence

import isaclearn.rl  # noqa: F401  (registers the package's environments)
from isaclearn.rl import build_core, registered_ids, to_numpy

TEST_IDS = ["isaclearn_test/ToyBeamBox-v0"]
gym.register(
    id=TEST_IDS[0],
    entry_point="isaclearn.rl.gym_env:make_env",
    vector_entry_point="isaclearn.rl.vector:make_vector_env",
    max_episode_steps=20,
    kwargs={"core": "isaclearn.rl.actions:box_action_core",
            "inner": "isaclearn.rl.envs.toy:ToyBeamCore", "action": "dict"},
)
ENV_IDS = registered_ids() + TEST_IDS
DTYPES = [torch.complex64, torch.complex128]
TOL = {torch.complex64: 1e-6, torch.complex128: 1e-12}


def test_the_namespace_is_not_empty() -> None:
    assert "isaclearn/ToyBeam-v0" in registered_ids()
    assert all(i.startswith("isaclearn/") for i in registered_ids())


@pytest.fixture(params=ENV_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DTYPES, ids=["c64", "c128"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param  # type: ignore[no-any-return]


def _make(env_id: str, device: str, dtype: torch.dtype) -> gym.Env[Any, Any]:
    return gym.make(env_id, device=device, dtype=dtype)


def _row(action: Any, i: int) -> Any:
    return {k: v[i] for k, v in action.items()} if isinstance(action, dict) else action[i]


def _close(a: Any, b: Any, tol: float, what: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            _close(a[k], b[k], tol, f"{what}[{k}]")
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=tol, atol=tol, err_msg=what)


def test_check_env(env_id: str, device: str, dtype: torch.dtype) -> None:
    env = _make(env_id, device, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=r".*infinity\. This is probably")
        check_env(env.unwrapped)
    assert env.spec is not None and env.spec.max_episode_steps is not None
    env.close()


def test_same_seed_same_trajectory(env_id: str, device: str, dtype: torch.dtype) -> None:
    runs = []
    for _ in range(2):
        env = _make(env_id, device, dtype)
        obs, info = env.reset(seed=7)
        env.action_space.seed(7)
        steps: list[Any] = [(obs, info)]
        done = False
        while not done:
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            steps.append((action, obs, reward, terminated, truncated, info))
            done = terminated or truncated
        runs.append(steps)
    assert len(runs[0]) == len(runs[1])
    for a, b in zip(runs[0], runs[1], strict=True):
        assert data_equivalence(a, b, exact=True)
    other = _make(env_id, device, dtype)
    obs_other, _ = other.reset(seed=8)
    assert not data_equivalence(runs[0][0][0], obs_other, exact=True)


def test_core_env_is_the_core_at_batch_one(env_id: str, device: str, dtype: torch.dtype) -> None:
    env = _make(env_id, device, dtype)
    spec = env.spec
    assert spec is not None
    kwargs = dict(spec.kwargs)
    core = build_core(kwargs.pop("core"), 1, **kwargs)
    obs_env, _ = env.reset(seed=11)
    obs_core, _ = core.reset(seed=11)
    assert data_equivalence(obs_env, to_numpy(obs_core)[0] if not isinstance(obs_core, dict)
                            else {k: v[0] for k, v in to_numpy(obs_core).items()}, exact=True)


def test_batched_equals_single_envs(env_id: str, device: str, dtype: torch.dtype) -> None:
    """Whole episodes of a seeded batch, replayed one by one. Episodes that end are restarted
    at once by a masked reset (the new rows replayed too), and half of the rows are restarted
    after the first step, so the batch holds episodes at different steps."""
    batch = 5
    venv = gym.make_vec(env_id, num_envs=batch, vectorization_mode="vector_entry_point",
                        device=device, dtype=dtype)
    core = venv.unwrapped.core  # type: ignore[attr-defined]
    singles = [_make(env_id, device, dtype) for _ in range(batch)]
    horizon = singles[0].spec.max_episode_steps  # type: ignore[union-attr]
    tol = TOL[dtype]

    def restart(rows: np.ndarray, obs: Any) -> None:
        obs_np = to_numpy(obs)
        for i in np.flatnonzero(rows):
            first, _ = singles[i].reset(options={"scenario": core.episodes.subset([int(i)])})
            _close(first, _row(obs_np, int(i)), tol, f"reset obs of row {i}")

    obs, _ = core.reset(seed=3)
    restart(np.ones(batch, dtype=bool), obs)
    venv.action_space.seed(5)
    finished = 0
    for t in range(2 * horizon):
        actions = venv.action_space.sample()
        obs, reward, terminated, truncated, info = core.step(actions)
        obs_np, info_np = to_numpy(obs), to_numpy(info)
        for i in range(batch):
            s_obs, s_reward, s_term, s_trunc, s_info = singles[i].step(_row(actions, i))
            what = f"row {i}, step {t}"
            _close(s_obs, _row(obs_np, i), tol, f"obs, {what}")
            _close(s_reward, float(reward[i]), tol, f"reward, {what}")
            _close(s_info, {k: v[i] for k, v in info_np.items()}, tol, f"info, {what}")
            assert s_term == bool(terminated[i]), what
            assert s_trunc == bool(truncated[i]), what
            assert np.isfinite(s_reward)
        ended = (terminated | truncated).cpu().numpy()
        finished += int(ended.sum())
        if t == 0:
            ended = ended | (np.arange(batch) % 2 == 0)
        if ended.any():
            obs, _ = core.reset(mask=torch.as_tensor(ended, device=core.device))
            restart(ended, obs)
    assert finished >= batch, "every episode ends within max_episode_steps"
