"""steps_per_second: runs on a core, a factory and a registered name, and leaves the given core
untouched (it times a copy)."""

from __future__ import annotations

import pytest

from isaclearn.core import ConfigError
from isaclearn.rl import BoxActionCore, steps_per_second
from isaclearn.rl.envs.toy import ToyBeamCore


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
