"""The flat-Box view of a core: the map onto each kind of action entry against explicit
per-component formulas, its inverse, fixed entries, and designers acting through it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces

from isaclearn.core import ConfigError, ValueRangeError, make_generator
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.rl import BatchedEnvCore, BoxActionCore, box_action_core
from isaclearn.rl.core import Action, Info, Obs
from isaclearn.rl.envs.toy import ToyBeamCore
from isaclearn.solvers.designers import MRT


@dataclass
class _Cfg:
    device: str = "cpu"
    dtype: torch.dtype = torch.complex64
    max_episode_steps: int | None = None


@dataclass
class _Ep(BatchedProblem):
    x: torch.Tensor = field(metadata=BATCHED)


class RecordingCore(BatchedEnvCore[_Ep]):
    """A minimal core with a mixed Dict action that records what it receives."""

    config_class = _Cfg
    episodes_class = _Ep

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        act = spaces.Dict({
            "box": spaces.Box(np.array([0.0, -2.0], dtype=np.float32),
                              np.array([10.0, 2.0], dtype=np.float32), dtype=np.float32),
            "md": spaces.MultiDiscrete([3, 5], start=[1, -2]),
            "d": spaces.Discrete(4, start=2),
            "mb": spaces.MultiBinary(2),
        })
        return spaces.Box(-np.inf, np.inf, (1,), np.float32), act

    def sample_episodes(self, num: int, generator: torch.Generator) -> _Ep:
        return _Ep(x=torch.rand(num, 1, generator=generator, device=self.device))

    def begin(self, index: torch.Tensor) -> None:
        self.received: Any = None

    def observe(self) -> Obs:
        return self.episodes.x.clone()  # type: ignore[union-attr]

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        self.received = action
        zeros = torch.zeros(self.batch_size)
        return zeros, zeros.bool(), {}


def test_the_map_per_component() -> None:
    view = BoxActionCore(RecordingCore(5))
    # keys in the Dict's (sorted) order: box (2), d (1), mb (2), md (2)
    assert view.action_space.shape == (7,)
    view.reset(seed=0)
    u = torch.rand(5, 7, generator=make_generator(1)) * 2.2 - 1.1  # also outside [-1, 1]
    view.step(u)
    got = view.core.received  # type: ignore[attr-defined]
    c = u.clamp(-1, 1).double()
    for b in range(5):
        box = [0 + (c[b, 0] + 1) * 10 / 2, -2 + (c[b, 1] + 1) * 4 / 2]
        np.testing.assert_allclose(got["box"][b].double(), box, rtol=1e-6)
        assert got["d"][b] == 2 + min(math.floor((c[b, 2] + 1) * 4 / 2), 3)
        assert got["mb"][b].tolist() == [int(c[b, 3] > 0), int(c[b, 4] > 0)]
        assert got["md"][b].tolist() == [1 + min(math.floor((c[b, 5] + 1) * 3 / 2), 2),
                                         -2 + min(math.floor((c[b, 6] + 1) * 5 / 2), 4)]
        assert view.core.action_space.contains({k: v[b].numpy() for k, v in got.items()})


def test_inverse_map() -> None:
    view = BoxActionCore(RecordingCore(6))
    inner = view.core.action_space
    inner.seed(0)
    samples = [inner.sample() for _ in range(6)]
    action = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
    flat = view.from_inner(action)
    assert flat.shape == (6, 7) and flat.abs().max() <= 1
    back = view.to_inner(flat)
    assert isinstance(back, dict)
    for key in ("d", "mb", "md"):
        assert np.array_equal(back[key].numpy(), action[key]), key
    np.testing.assert_allclose(back["box"].numpy(), action["box"], rtol=1e-5, atol=1e-5)


def test_fixed_entries() -> None:
    view = BoxActionCore(RecordingCore(2), fixed={"md": [3, 0], "d": 5})
    assert view.action_space.shape == (4,)
    view.reset(seed=0)
    view.step(np.zeros((2, 4), dtype=np.float32))
    got = view.core.received  # type: ignore[attr-defined]
    assert got["md"].tolist() == [[3, 0], [3, 0]] and got["d"].tolist() == [5, 5]
    with pytest.raises(ValueRangeError, match="fixed"):
        BoxActionCore(RecordingCore(2), fixed={"d": 9})
    with pytest.raises(ConfigError, match="does not have"):
        BoxActionCore(RecordingCore(2), fixed={"phases": 1})
    with pytest.raises(ConfigError, match="nothing is left"):
        BoxActionCore(RecordingCore(2), fixed={"md": [1, 0], "d": 2, "mb": [0, 1],
                                               "box": [1.0, 0.0]})


def test_infinite_box_is_refused() -> None:
    class Unbounded(RecordingCore):
        def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
            obs, _ = super().make_spaces()
            return obs, spaces.Box(-np.inf, np.inf, (2,), np.float32)

    with pytest.raises(ConfigError, match="infinite"):
        BoxActionCore(Unbounded(1))


def test_a_box_core_passes_through() -> None:
    core = ToyBeamCore(3)
    view = BoxActionCore(core)
    assert view.action_space == core.action_space
    view.reset(seed=0)
    u = torch.rand(3, 16, generator=make_generator(0)) * 2 - 1
    torch.testing.assert_close(view.to_inner(u), u)  # type: ignore[arg-type]


def test_designers_act_through_the_view() -> None:
    direct = ToyBeamCore(4, action="dict")
    view = box_action_core(4, inner=ToyBeamCore, action="dict")
    direct.reset(seed=2)
    view.reset(seed=2)
    for _ in range(5):
        a = direct.design_to_action(MRT().design(direct.current_problem()))
        b = view.design_to_action(MRT().design(view.current_problem()))
        _, r_direct, *_ = direct.step(a)
        _, r_view, *_ = view.step(b)
        torch.testing.assert_close(r_view, r_direct, rtol=1e-5, atol=1e-6)
    assert view.with_batch_size(2).batch_size == 2
    assert view.max_episode_steps == 20 and view.elapsed.tolist() == [5] * 4
