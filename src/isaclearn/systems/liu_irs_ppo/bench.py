"""Environment speed benchmark of liu_irs_ppo, ``isaclearn bench rl`` (spec "RL foundation" 7).

Env steps per second of the batched torch core :class:`~isaclearn.rl.envs.liu_irs_ppo.
IrsIsacMisoCore` (:func:`isaclearn.rl.speed.steps_per_second`: random actions, masked resets
at episode ends) versus the per-sample NumPy implementation of the same step
(:class:`~isaclearn.rl.envs.liu_irs_ppo.IrsIsacMisoNumpy`, a Python loop over the batch, with
the same lag-sum computation of :math:`L_r` as the core, so that the ratio measures batching and
not a faster formula), at ``B`` ∈ {1, 64, 1024} by default. The goal of the spec is a ratio
≥ 100 at ``B = 1024``; the benchmark reports it and does not gate. Ratios, not absolute rates,
compare across machines.

DPPO rows (:func:`bench_dppo`): training samples (env steps, all workers) per second of
:class:`~isaclearn.rl.dppo.DPPO` with 1, 2, 4 in-process workers on the MISO env, collection
and updates included (two rounds after one untimed round).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.liu_irs_ppo import IrsIsacEnvConfig, IrsIsacMisoCore, numpy_steps_per_second
from isaclearn.rl.speed import compare_with_numpy
from isaclearn.systems.base import BenchSuite

__all__ = ["RL_BENCH_COLUMNS", "RL_SUITE", "bench_dppo", "bench_env"]

RL_BENCH_COLUMNS = ["what", "device", "batch", "steps_per_s", "numpy_steps_per_s", "ratio"]
"""Row fields printed by ``isaclearn bench rl``."""


def bench_env(batches: tuple[int, ...] = (1, 64, 1024), *, steps: int = 20,
              numpy_steps: int | None = None, device: str = "cpu",
              seed: int = 0) -> list[dict[str, Any]]:
    """Env steps per second of the batched core and of the NumPy step, per batch size.

    Parameters
    ----------
    batches : tuple of int
        Batch sizes ``B``.
    steps : int
        Timed batched steps of the core.
    numpy_steps : int, optional
        Timed batched steps of the NumPy loop (default: ``steps``, at most 2 for ``B > 64`` so
        that the loop stays short; the rate is per env step either way).
    device : str
        Torch device of the core (the NumPy step runs on the CPU).
    seed : int
        Seed of the episodes and actions.

    Returns
    -------
    list of dict
        ``what`` ("env_step"), ``device``, ``batch``, ``steps_per_s`` (core),
        ``numpy_steps_per_s`` and ``ratio`` (core / NumPy).
    """
    return compare_with_numpy(
        IrsIsacMisoCore(1, device=device),
        lambda b, n: numpy_steps_per_second(b, n, IrsIsacEnvConfig(), seed=seed),
        batches, steps=steps, numpy_steps=numpy_steps, numpy_steps_large=2, device=device,
        seed=seed)


def bench_dppo(workers: tuple[int, ...] = (1, 2, 4), *, batch: int = 16, rounds: int = 2,
               device: str = "cpu", seed: int = 0) -> list[dict[str, Any]]:
    """Training samples per second of in-process DPPO (one row per worker count).

    Each round is one 50-step episode of ``batch`` episodes per worker followed by the PPO +
    primal-dual update; one untimed round first, then ``rounds`` timed rounds.
    """
    import time

    from isaclearn.rl.agents.trainers import TrainerConfig
    from isaclearn.rl.dppo import DPPO
    from isaclearn.rl.primal_dual import PrimalDualConfig

    rows: list[dict[str, Any]] = []
    for w in workers:
        if w < 1:
            raise ConfigError(f"worker counts must be >= 1, got {w}")
        core = IrsIsacMisoCore(batch, device=device)
        per_round = batch * w
        cfg = TrainerConfig(episodes=per_round, seed=seed,
                            primal_dual=PrimalDualConfig(num_rates=core.lam.shape[0]))
        trainer = DPPO(core, cfg, workers=w)
        trainer.train()  # warm-up round
        trainer.config = dataclasses.replace(trainer.config,
                                             episodes=per_round * (1 + rounds))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        steps = int(core.max_episode_steps or 50)
        rows.append({"what": f"dppo_workers={w}", "device": device, "batch": batch,
                     "steps_per_s": per_round * rounds * steps / max(seconds, 1e-12)})
        trainer.close()
    return rows


def add_rl_bench_arguments(parser: Any) -> None:
    """Options of ``isaclearn bench rl`` (an :class:`argparse.ArgumentParser`)."""
    parser.add_argument("--batches", default="1,64,1024",
                        help="comma-separated batch sizes B (default 1,64,1024)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed batched steps of the core (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--dppo-workers", default="1,2,4",
                        help="DPPO worker counts (default 1,2,4; empty: no DPPO rows)")
    parser.add_argument("--dppo-batch", type=int, default=16,
                        help="episodes per DPPO worker per round (default 16)")


def run_rl_bench(options: Any, log: Any = None) -> list[dict[str, Any]]:
    """``run(options, log)`` of the ``rl`` bench suite: :func:`bench_env`."""
    try:
        batches = tuple(int(x) for x in str(options.batches).split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--batches must be comma-separated integers, got "
                          f"{options.batches!r}") from None
    if not batches or min(batches) < 1:
        raise ConfigError(f"--batches must be integers >= 1, got {options.batches!r}")
    if options.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {options.steps}")
    device = getattr(options, "device", None) or "cpu"
    if log is not None:
        log(f"rl bench: IrsIsacMiso env steps/s, batched torch core ({device}) vs per-sample "
            f"NumPy, B = {list(batches)}; DPPO training samples/s")
    try:
        workers = tuple(int(x) for x in str(getattr(options, "dppo_workers", "") or "").split(",")
                        if x.strip())
    except ValueError:
        raise ConfigError(f"--dppo-workers must be comma-separated integers, got "
                          f"{options.dppo_workers!r}") from None
    rows = bench_env(batches, steps=options.steps, device=device, seed=options.seed)
    if workers:
        rows += bench_dppo(workers, batch=int(getattr(options, "dppo_batch", 16)),
                           device=device, seed=options.seed)
    return rows


RL_SUITE = BenchSuite(
    name="rl",
    description="liu_irs_ppo: IRS-ISAC env steps/s, batched torch core vs per-sample NumPy",
    add_arguments=add_rl_bench_arguments,
    run=run_rl_bench,
    columns=RL_BENCH_COLUMNS,
)
