"""steps_per_second runs on a core, a factory and a registered name, and leaves the given core
untouched (it times a copy); compare_with_numpy's rows and NumPy step counts."""

from __future__ import annotations

import pytest

from isaclearn.core import ConfigError
from isaclearn.rl import BoxActionCore, steps_per_second
from isaclearn.rl.envs.toy import ToyBeamCore
from isaclearn.rl.speed import compare_with_numpy


def test_steps_per_second_runs(device: str) -> None:
    core = ToyBeamCore(2, device=device, max_episode_steps=3)
    assert steps_per_second(core, batch=4, steps=7) > 0  # crosses episode ends
    assert core.episodes is None  # the given core is not stepped
    assert steps_per_second(ToyBeamCore, batch=2, steps=2) > 0
    assert steps_per_second("isaclearn.rl.envs.toy:ToyBeamCore", batch=2, steps=2) > 0
    assert steps_per_second(BoxActionCore(ToyBeamCore(1, action="dict")), 3, 2) > 0


def test_steps_per_second_checks_its_arguments() -> None:
    with pytest.raises(ConfigError, match="batch and steps"):
        steps_per_second(ToyBeamCore, batch=0, steps=1)


def test_compare_with_numpy_rows_and_numpy_step_counts() -> None:
    calls: list[tuple[int, int]] = []

    def rate(b: int, n: int) -> float:
        calls.append((b, n))
        return 2.0

    rows = compare_with_numpy(ToyBeamCore(1), rate, (1, 128), steps=3, numpy_steps_large=2)
    assert calls == [(1, 3), (128, 2)]  # B <= 64: steps; larger: numpy_steps_large
    assert [r["batch"] for r in rows] == [1, 128]
    for r in rows:
        assert r["numpy_steps_per_s"] == 2.0 and r["ratio"] == r["steps_per_s"] / 2.0
    compare_with_numpy(ToyBeamCore(1), rate, (8,), steps=3, numpy_steps=5)
    assert calls[-1] == (8, 5)
    with pytest.raises(ConfigError, match="batch sizes"):
        compare_with_numpy(ToyBeamCore(1), rate, (0,), steps=1)
