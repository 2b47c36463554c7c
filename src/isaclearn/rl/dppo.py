r"""Distributed PPO (Alg. 2 of liu_irs_ppo, ``shared/papers/001_...txt`` §IV-B, §V-B) and the
paper's A3C baseline (Appendix B), on the trainers of :mod:`isaclearn.rl.agents.trainers`.

DPPO, settled as **data push** (spec §3, §6.15; Heess et al. 2017)
    ``W`` workers (one per user in the paper) each run the loop of Alg. 1 on their own
    episodes with the latest global policy and push their rollouts to the chief. The chief
    waits for all of them (the workers are paused while it updates), assembles the batch in
    worker-index order, does the PPO + Q-head update and the primal-dual step (34)–(36), sets
    λ, μ on every worker's core and broadcasts the weights. Advantages by the L-step returns
    (44) (``advantage="lstep"``, the default here).

    Worker ``k``'s environment and action sampling use generators seeded from ``(seed, k)``
    (:class:`~isaclearn.rl.agents.trainers.RolloutWorker`), and the batch is assembled in index
    order whatever the arrival order, so the in-process backend (default: the workers run in
    this process, one after the other) and the Ray backend (``backend="ray"``: one Ray actor
    per worker on a local ``ray.init(num_cpus=..., include_dashboard=False)``) give identical
    parameters for the same seed.

A3C (the paper's baseline, eqs. 52–53 with the L-step returns (44), no primal-dual)
    ``W`` workers; each computes an advantage actor-critic gradient on its own ``L``-step
    segment and the global networks apply it at once, so the next worker acts with the updated
    weights. Here the asynchrony is **emulated sequentially in process**: the workers take
    turns in index order (worker 0's segment, update, worker 1's segment with the new weights,
    update, ...), which is A3C's update pattern without its non-deterministic staleness. Each
    update is the single-step policy gradient of
    :class:`~isaclearn.rl.agents.trainers.PrimalDualA2C` (one actor and one critic Adam step;
    the original uses shared RMSProp). The reward is the core's (λ and μ stay as the core has
    them).

Examples
--------
>>> from isaclearn.rl.envs.toy import ToyBeamCore
>>> from isaclearn.rl.agents.trainers import TrainerConfig
>>> core = ToyBeamCore(2, outage_rate=0.0, max_episode_steps=4)
>>> dppo = DPPO(core, TrainerConfig(episodes=4, advantage="lstep", lstep=2), workers=2)
>>> [(r["episode"], r["worker"]) for r in dppo.train()]
[(0, 0), (1, 0), (2, 1), (3, 1)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from isaclearn.core.errors import ConfigError
from isaclearn.rl.agents.trainers import (
    Backend,
    OnPolicyTrainer,
    TrainerConfig,
    WorkerRollout,
)
from isaclearn.rl.core import EnvCore

__all__ = ["A3C", "DPPO"]


class DPPO(OnPolicyTrainer):
    """Primal-dual DPPO (Alg. 2): :class:`~isaclearn.rl.agents.trainers.OnPolicyTrainer` with
    ``workers`` workers (module docstring).

    Parameters
    ----------
    core : EnvCore
        The environment; every worker gets its own copy with ``core.batch_size`` episodes.
    config : TrainerConfig, optional
        Default ``TrainerConfig(advantage="lstep")`` (L-step returns (44)).
    workers : int
        Number ``W`` of workers (the paper: one per user, K = 4).
    backend : {"inprocess", "ray"}
        Where the workers run; both give identical results.
    num_cpus : int, optional
        ``num_cpus`` of ``ray.init`` when this trainer starts Ray.
    worker_cores : sequence of EnvCore, optional
        One core per worker (worker ``k`` serving user ``k``), instead of copies of ``core``.
    """

    name = "pd_dppo"

    def __init__(self, core: EnvCore, config: TrainerConfig | None = None, *, workers: int = 4,
                 backend: Backend = "inprocess", num_cpus: int | None = None,
                 worker_cores: Sequence[EnvCore] | None = None) -> None:
        super().__init__(core, config if config is not None else TrainerConfig(
            advantage="lstep"), workers=workers, backend=backend, num_cpus=num_cpus,
            worker_cores=worker_cores)


class A3C(OnPolicyTrainer):
    """The A3C baseline, sequentially emulated (module docstring).

    Parameters
    ----------
    core : EnvCore
        The environment; every worker gets its own copy with ``core.batch_size`` episodes.
    config : TrainerConfig, optional
        Default ``TrainerConfig(advantage="lstep", lstep_window="segment",
        steps_per_update=5, lstep=5)``: ``L = 5``-step segments, each bootstrapped from the
        value at its end (A3C's n-step returns). ``update.actor_steps`` and
        ``update.critic_steps`` are replaced by 1; ``primal_dual`` must be ``None``.
    workers : int
        Number ``W`` of workers.
    backend : {"inprocess", "ray"}
        Where the workers' environments run (the turns stay sequential either way).
    num_cpus : int, optional
        ``num_cpus`` of ``ray.init`` when this trainer starts Ray.

    Raises
    ------
    ConfigError
        ``config.primal_dual`` is set.
    """

    name = "a3c"

    def __init__(self, core: EnvCore, config: TrainerConfig | None = None, *, workers: int = 4,
                 backend: Backend = "inprocess", num_cpus: int | None = None) -> None:
        cfg = config if config is not None else TrainerConfig(
            advantage="lstep", lstep_window="segment", steps_per_update=5, lstep=5)
        if cfg.primal_dual is not None:
            raise ConfigError("A3C has no primal-dual part (spec §6.17): primal_dual=None")
        super().__init__(core, cfg, workers=workers, backend=backend, num_cpus=num_cpus)

    def _adapt_config(self, config: TrainerConfig) -> TrainerConfig:
        return dataclasses.replace(config, update=dataclasses.replace(
            config.update, actor_steps=1, critic_steps=1))

    def _collect_and_learn(self, num_steps: int
                           ) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
        """Worker by worker: pull the global weights, collect a segment, apply its update."""
        group = self._workers()
        stats: list[dict[str, float]] = []
        rows: list[dict[str, Any]] = []
        for k in range(self.num_workers):
            group.call_one(k, "set_weights", self._weights())
            part: WorkerRollout = group.call_one(k, "collect", num_steps)
            stats.append(self._learn(part))
            rows.extend(part.rows)
        return stats, rows
