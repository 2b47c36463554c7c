"""Scenario defaults of ding_dt: a snapshot of the digital twin as a batch of design problems.

The experiments run the whole loop (:func:`~isaclearn.systems.ding_dt.twin.run_twin`). For the
platform's one-shot commands (``isaclearn leaderboard``, Python callers who want a
:class:`~isaclearn.systems.ding_dt.evaluation.TwinProblem` to hand to a designer),
:class:`SnapshotScenario` samples ``B`` constant-traffic instances of ``K`` vehicles (spec
§6.12), runs the twin with the cheap ``steer`` designer for ``warmup_slots`` slots so that the
tracks, their MSE matrices and Λ are those of a running twin, and returns the problem of the
next slot (with the Bi-LSTM features, so every designer can run on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from isaclearn.channels.highway import constant_traffic
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError
from isaclearn.systems.ding_dt.config import DtSettings, make_settings
from isaclearn.systems.ding_dt.evaluation import SlotMetrics, TwinProblem
from isaclearn.systems.ding_dt.twin import run_twin


@dataclass
class SnapshotScenario:
    """``sample(batch, generator=...)`` → the :class:`TwinProblem` of one slot of a running twin.

    Attributes
    ----------
    settings : DtSettings
        Scene and loop settings.
    num_vehicles : int
        ``K ≥ 1`` vehicles per instance (constant traffic).
    warmup_slots : int
        Slots run with the ``steer`` designer before the returned slot (≥ 0).
    """

    settings: DtSettings = field(default_factory=DtSettings)
    num_vehicles: int = 10
    warmup_slots: int = 10

    def __post_init__(self) -> None:
        for name, low in (("num_vehicles", 1), ("warmup_slots", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")

    def sample(self, batch: int, *, generator: torch.Generator | None = None) -> TwinProblem:
        """``batch`` instances of the problem of slot ``warmup_slots`` (module docstring)."""
        from isaclearn.systems.ding_dt.designers import SteerDesigner

        traffic = constant_traffic(self.settings.highway, self.num_vehicles, batch, generator)
        captured: list[TwinProblem] = []

        def keep(n: int, problem: TwinProblem, design: Design, metrics: SlotMetrics) -> None:
            if n == self.warmup_slots:
                captured.append(problem)

        run_twin(self.settings, traffic, SteerDesigner(), self.warmup_slots + 1,
                 generator=generator, features=True, on_slot=keep)
        return captured[0]


def make_scenario(num_vehicles: int = 10, *, warmup_slots: int = 10,
                  **settings: Any) -> SnapshotScenario:
    """The default snapshot scenario: ``K = 10`` vehicles, ``N_t = N_r = 32``, Table I
    constants, ``power_db`` 0 (the paper's ‖f‖ ≤ 1) unless given, sensing constraint
    ``"paper"``; ``settings`` are the keywords of
    :func:`~isaclearn.systems.ding_dt.config.make_settings` (e.g. ``power_db=20.0``,
    ``num_antennas=16``).

    Examples
    --------
    >>> from isaclearn.core.random import make_generator
    >>> p = make_scenario(3, warmup_slots=2, num_antennas=8).sample(2, generator=make_generator(0))
    >>> tuple(p.h.shape), int(p.mask.sum())
    ((2, 2, 3, 8), 6)
    """
    return SnapshotScenario(make_settings(**settings), num_vehicles, warmup_slots)


__all__ = ["SnapshotScenario", "make_scenario"]
