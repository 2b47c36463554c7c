"""Tests of DPPO (Alg. 2) and the A3C baseline (isaclearn.rl.dppo)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from test_trainers_env import QuadraticCore

from isaclearn.core.errors import ConfigError
from isaclearn.core.random import make_generator
from isaclearn.rl.agents.ppo_update import PPOUpdateConfig
from isaclearn.rl.agents.trainers import PrimalDualPPO, TrainerConfig, derive_seed
from isaclearn.rl.dppo import A3C, DPPO
from isaclearn.rl.primal_dual import PrimalDualConfig


def _params(trainer: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.agent.state_dict().items()}


def _config(**kw: Any) -> TrainerConfig:
    pd = PrimalDualConfig(num_rates=2, ell=0.2, tau_x=0.1, tau_lambda=0.05, tau_mu=0.05)
    base: dict[str, Any] = {"episodes": 2 * 3 * 2, "advantage": "lstep", "lstep": 2,
                            "seed": 11, "primal_dual": pd,
                            "update": PPOUpdateConfig(q_batch_size=8, actor_steps=3,
                                                      critic_steps=3)}
    base.update(kw)
    return TrainerConfig(**base)


def test_dppo_in_process_is_deterministic_and_ordered() -> None:
    def run() -> tuple[DPPO, list[dict[str, Any]]]:
        t = DPPO(QuadraticCore(3), _config(), workers=2)
        return t, t.train()

    t1, h1 = run()
    t2, h2 = run()
    assert h1 == h2
    p1, p2 = _params(t1), _params(t2)
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert t1.updates_done == 2
    # each round: worker 0's three episodes, then worker 1's
    assert [r["worker"] for r in h1] == [0, 0, 0, 1, 1, 1] * 2
    assert [r["episode"] for r in h1] == list(range(12))


def test_worker_k_draws_its_episodes_from_seed_and_k() -> None:
    trainer = DPPO(QuadraticCore(3), _config(episodes=6), workers=2)
    trainer.train()
    group = trainer._workers()
    for k, worker in enumerate(group.workers):  # type: ignore[union-attr]
        ref = QuadraticCore(3)
        ref.reset(generator=make_generator(derive_seed(11, k, 0)))
        assert ref.episodes is not None and worker.core.episodes is not None
        assert torch.equal(worker.core.episodes.z, ref.episodes.z)
    zs = [w.core.episodes.z for w in group.workers]  # type: ignore[union-attr]
    assert not torch.equal(zs[0], zs[1])


def test_one_worker_dppo_is_ppo() -> None:
    cfg = _config(episodes=6)
    ppo, dppo = PrimalDualPPO(QuadraticCore(3), cfg), DPPO(QuadraticCore(3), cfg, workers=1)
    assert ppo.train() == dppo.train()
    p1, p2 = _params(ppo), _params(dppo)
    assert all(torch.equal(p1[k], p2[k]) for k in p1)


def test_dppo_batch_is_assembled_in_worker_order() -> None:
    trainer = DPPO(QuadraticCore(2), _config(episodes=4), workers=2)
    seen = []
    learn = trainer._learn

    def spy(ro: Any) -> dict[str, float]:
        seen.append(ro)
        return learn(ro)

    trainer._learn = spy  # type: ignore[method-assign]
    trainer.train()
    (ro,) = seen
    assert ro.obs.shape[:2] == (5, 4)
    cores = [w.core for w in trainer._workers().workers]  # type: ignore[union-attr]
    torch.testing.assert_close(ro.obs[0, :2], cores[0].episodes.z[:, 0])
    torch.testing.assert_close(ro.obs[0, 2:], cores[1].episodes.z[:, 0])


def test_a3c_updates_worker_by_worker() -> None:
    cfg = TrainerConfig(episodes=4, advantage="lstep", lstep_window="segment", lstep=2,
                        steps_per_update=2, seed=0)
    trainer = A3C(QuadraticCore(2), cfg, workers=2)
    assert trainer.config.update.actor_steps == 1 and trainer.primal_dual is None
    used: list[torch.Tensor] = []
    group = trainer._workers()
    for w in group.workers:  # type: ignore[union-attr]
        orig = w.collect

        def spy(n: int, _w: Any = w, _orig: Any = orig) -> Any:
            used.append(_w.agent.actor.body.weight.detach().clone())
            return _orig(n)

        w.collect = spy
    w0 = trainer.agent.actor.body.weight.detach().clone()
    rows = trainer.train()
    assert len(rows) == 4 and trainer.updates_done == 2 * 3  # 2 workers x ceil(5 / 2)
    assert torch.equal(used[0], w0)
    assert not torch.equal(used[1], w0)  # worker 1 acts with the weights after worker 0's step
    with pytest.raises(ConfigError, match="primal"):
        A3C(QuadraticCore(2), _config())


@pytest.mark.slow
def test_dppo_ray_equals_in_process() -> None:
    """Spec §7: in-process and Ray DPPO give identical parameters after 2 updates."""
    ray = pytest.importorskip("ray")
    cfg = _config()
    local = DPPO(QuadraticCore(3), cfg, workers=2)
    h_local = local.train()
    start = time.perf_counter()
    # the actors must import the test environment's module: put this directory on their path
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    remote = DPPO(QuadraticCore(3), cfg, workers=2, backend="ray", num_cpus=2)
    try:
        h_remote = remote.train()
    finally:
        remote.close()
        ray.shutdown()
    print(f"ray DPPO: {time.perf_counter() - start:.1f} s")
    assert remote.updates_done == local.updates_done == 2
    p1, p2 = _params(local), _params(remote)
    assert all(torch.equal(p1[k], p2[k]) for k in p1)
    assert h_local == h_remote


def test_worker_cores_are_used_as_given() -> None:
    cores = [QuadraticCore(2, peak=(1.0, 2.0)), QuadraticCore(2, peak=(3.0, 3.0))]
    trainer = DPPO(QuadraticCore(2), TrainerConfig(episodes=4, seed=0), workers=2,
                   worker_cores=cores)
    rows = trainer.train()
    by_worker = {k: [r["rate_1"] for r in rows if r["worker"] == k] for k in (0, 1)}
    assert min(by_worker[1]) > max(by_worker[0]) + 0.5  # peaks 2 and 3
    assert trainer._workers().workers[1].core is cores[1]  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="worker_cores"):
        DPPO(QuadraticCore(2), workers=2, worker_cores=cores[:1])
