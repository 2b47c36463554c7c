"""The native vector env against Gymnasium's SyncVectorEnv over B single envs that replay the
same episodes: every autoreset mode, observations, rewards, flags and the vector infos
(masks, final_obs / final_info) agree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from isaclearn.core import ConfigError
from isaclearn.rl import CoreEnv, CoreVectorEnv
from isaclearn.rl.envs.toy import ToyBeamCore

B = 4


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """Structure, dtypes and masks equal; floating values equal to 1e-12."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a.keys(), b.keys())
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k}]")
    elif isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}({i})")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.shape == b.shape and a.dtype == b.dtype, (where, a.dtype, b.dtype)
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                assert_same(x, y, f"{where}[{i}]")
        elif np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=where)
        else:
            assert np.array_equal(a, b), where
    else:
        assert a == b, (where, a, b)


def _record_run(core: ToyBeamCore, venv: CoreVectorEnv, steps: int,
                rows_changed: Callable[..., torch.Tensor],
                reset_ended: bool = False) -> tuple[list[list[Any]], list[Any], list[Any]]:
    """Run ``venv`` with seeded random actions; record each sub-env's episodes in order."""
    first = venv.reset(seed=0)
    episodes = [[core.episodes.subset([i])] for i in range(B)]  # type: ignore[union-attr]
    venv.action_space.seed(1)
    actions, outputs = [], [first]
    for _ in range(steps):
        before = core.episodes
        action = venv.action_space.sample()
        out = venv.step(action)
        actions.append(action)
        outputs.append(out)
        if reset_ended and (out[2] | out[3]).any():
            mask = out[2] | out[3]
            outputs.append(venv.reset(options={"reset_mask": mask}))
        for i in np.flatnonzero(rows_changed(before, core.episodes).numpy()):
            episodes[i].append(core.episodes.subset([int(i)]))  # type: ignore[union-attr]
    return episodes, actions, outputs


def _reference(episodes: list[list[Any]], replay: type, mode: AutoresetMode,
               action: str) -> SyncVectorEnv:
    def factory(i: int) -> Callable[[], gym.Env[Any, Any]]:
        return lambda: replay(CoreEnv(ToyBeamCore(1, dtype=torch.complex128, action=action)),
                              episodes[i])
    return SyncVectorEnv([factory(i) for i in range(B)], autoreset_mode=mode)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("action", ["box", "dict"])
def test_autoreset_matches_sync_vector_env(mode: AutoresetMode, action: str, replay: type,
                                           rows_changed: Callable[..., torch.Tensor]) -> None:
    core = ToyBeamCore(B, dtype=torch.complex128, action=action)
    venv = CoreVectorEnv(core, autoreset_mode=mode)
    assert venv.metadata["autoreset_mode"] == mode
    episodes, actions, outputs = _record_run(core, venv, 45, rows_changed)
    assert sum(len(e) for e in episodes) > 2 * B, "several episodes end and restart"
    ref = _reference(episodes, replay, mode, action)
    assert_same(ref.reset(), outputs[0], "reset")
    saw_final = False
    for t, (a, out) in enumerate(zip(actions, outputs[1:], strict=True)):
        expected = ref.step(a)
        assert_same(expected, out, f"step {t}")
        saw_final |= "final_obs" in out[4]
    assert saw_final == (mode == AutoresetMode.SAME_STEP)


def test_disabled_autoreset_matches_sync_vector_env(
        replay: type, rows_changed: Callable[..., torch.Tensor]) -> None:
    core = ToyBeamCore(B, dtype=torch.complex128)
    venv = CoreVectorEnv(core, autoreset_mode="Disabled")
    episodes, actions, outputs = _record_run(core, venv, 30, rows_changed, reset_ended=True)
    ref = _reference(episodes, replay, AutoresetMode.DISABLED, "box")
    assert_same(ref.reset(), outputs[0], "reset")
    k = 1
    for a in actions:
        out = ref.step(a)
        assert_same(out, outputs[k], "step")
        k += 1
        if (out[2] | out[3]).any():
            assert_same(ref.reset(options={"reset_mask": out[2] | out[3]}), outputs[k], "mask")
            k += 1
    assert k == len(outputs)


def test_disabled_autoreset_refuses_to_step_an_ended_episode() -> None:
    venv = CoreVectorEnv(ToyBeamCore(2, max_episode_steps=1), autoreset_mode="Disabled")
    venv.reset(seed=0)
    venv.step(np.ones((2, 16), dtype=np.float32))
    with pytest.raises(ConfigError, match="reset_mask"):
        venv.step(np.ones((2, 16), dtype=np.float32))


def test_next_step_autoreset_by_hand() -> None:
    """The semantics spelled out: the step after an episode end returns the new episode's
    first observation, reward 0 and no flags, and ignores its action."""
    core = ToyBeamCore(2, max_episode_steps=2, outage_rate=0.0)
    venv = CoreVectorEnv(core)
    venv.reset(seed=0)
    a = np.ones((2, 16), dtype=np.float32)
    venv.step(a)
    _, _, _, truncated, _ = venv.step(a)
    assert truncated.all()
    obs, reward, terminated, truncated, info = venv.step(a)
    assert reward.tolist() == [0.0, 0.0] and not terminated.any() and not truncated.any()
    assert core.elapsed.tolist() == [0, 0] and info == {}
    h = core.episodes.h  # type: ignore[union-attr]
    np.testing.assert_array_equal(obs[:, :8], h[:, 0].reshape(2, -1).real.numpy())


def test_spaces_and_make_vec() -> None:
    venv = gym.make_vec("isaclearn/ToyBeamDict-v0", num_envs=3,
                        vectorization_mode="vector_entry_point")
    inner = venv.unwrapped
    assert isinstance(inner, CoreVectorEnv) and inner.num_envs == 3
    assert inner.observation_space.shape == (3, 16)
    assert isinstance(inner.action_space, gym.spaces.Dict)
    assert inner.action_space["levels"].shape == (3, 2)
    assert inner.core.max_episode_steps == 20
    obs, info = venv.reset(seed=0)
    assert obs.shape == (3, 16) and info == {}


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="autoreset_mode"):
        CoreVectorEnv(ToyBeamCore(2), autoreset_mode="sometimes")
    venv = CoreVectorEnv(ToyBeamCore(2))
    with pytest.raises(ConfigError, match="one integer seed"):
        venv.reset(seed=[1, 2])  # type: ignore[arg-type]
