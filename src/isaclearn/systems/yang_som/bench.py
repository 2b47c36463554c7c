r"""Speed benchmark of yang_som, ``isaclearn bench yang_som``.

Two kinds of rows:

* ``env_step``: env steps per second of the batched torch core
  :class:`~isaclearn.rl.envs.yang_som.YangSomCore` (:func:`isaclearn.rl.speed.steps_per_second`:
  random actions, masked resets at frame ends, so the reset's :math:`R^*` WMMSE is included in
  proportion) versus the per-sample NumPy implementation of the same step
  (:class:`~isaclearn.rl.envs.yang_som.YangSomNumpy`, a Python loop over the batch), at ``B`` ∈
  {1, 1024} by default (quick sizes). The issue's goal is a ratio ≥ 100 at ``B = 1024``; the
  benchmark reports it and does not gate.
* ``design``: design time per frame of each classical method (Fig. 15) on the same frames, and
  its ratio to the fastest (:func:`~isaclearn.systems.yang_som.designers.rollout_designer`,
  Opt's SDR on every ``opt_stride``-th subframe; ``seconds_per_frame_full`` extrapolates it to
  every subframe). ``drl_uu`` / ``drl_au`` time the PSAC policy's own calls on the same frames
  (a freshly initialized network: the forward pass costs the same with any weights, so no
  trained agent is needed; its scores are not reported).
"""

from __future__ import annotations

from typing import Any

from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.yang_som import YangSomConfig, YangSomCore, numpy_steps_per_second
from isaclearn.rl.rollout import rollout
from isaclearn.rl.speed import compare_with_numpy
from isaclearn.systems.base import BenchSuite
from isaclearn.systems.yang_som.designers import (
    CLASSICAL_METHODS,
    OptDesigner,
    classical_designers,
    rollout_designer,
)
from isaclearn.systems.yang_som.learned import TimedPolicy, untrained_policy

__all__ = ["BENCH_COLUMNS", "SUITE", "bench_designers", "bench_env"]

BENCH_COLUMNS = ["what", "device", "batch", "steps_per_s", "numpy_steps_per_s", "ratio",
                 "seconds_per_frame", "seconds_per_frame_full", "time_ratio"]
"""Row fields printed by ``isaclearn bench yang_som``."""


def bench_env(batches: tuple[int, ...] = (1, 1024), *, steps: int = 10,
              numpy_steps: int | None = None, device: str = "cpu",
              seed: int = 0) -> list[dict[str, Any]]:
    """Env steps per second of the batched core and of the NumPy step, per batch size
    (``numpy_steps`` default: ``steps`` for ``B ≤ 64``, else 1)."""
    return compare_with_numpy(
        YangSomCore(1, device=device),
        lambda b, n: numpy_steps_per_second(b, n, YangSomConfig(), seed=seed),
        batches, steps=steps, numpy_steps=numpy_steps, numpy_steps_large=1, device=device,
        seed=seed)


_DRL = ("drl_uu", "drl_au")


def _drl_seconds_per_frame(method: str, frames: int, device: str, seed: int) -> float:
    policy = untrained_policy(method, {"device": device}, seed=seed)
    rollout(policy.make_core(1), policy, 1, seed)  # warm-up
    timed = TimedPolicy(policy)
    rollout(policy.make_core(1), timed, frames, seed)
    return timed.seconds / frames


def bench_designers(methods: tuple[str, ...] = ("drl_uu", "drl_au", "opt", "omp", "mp",
                                                "greedy"), *,
                    frames: int = 1, opt_stride: int = 5, device: str = "cpu",
                    seed: int = 0) -> list[dict[str, Any]]:
    """Design time per frame (quick sizes, ``T = 10``) of each method (classical designers and
    the PSAC policies ``drl_uu`` / ``drl_au``) and its ratio to the fastest (Fig. 15)."""
    unknown = sorted(set(methods) - set(CLASSICAL_METHODS) - set(_DRL))
    if unknown:
        raise ConfigError(f"unknown methods {unknown}; known: "
                          f"{[*_DRL, *CLASSICAL_METHODS]}")
    cfg = YangSomConfig(device=device)
    rows: list[dict[str, Any]] = []
    for m in methods:
        if m in _DRL:
            per = _drl_seconds_per_frame(m, frames, device, seed)
            rows.append({"what": f"design:{m}", "device": device, "batch": 1,
                         "seconds_per_frame": per, "_t": per})
            continue
        designer = classical_designers([m], num_grid=cfg.num_grid,
                                       opt_fractions=(0.03, 0.1, 0.3), opt_stride=opt_stride)[m]
        core = YangSomCore(1, cfg)
        if m not in ("opt", "omp", "ideal"):  # warm-up on a fresh designer (no shared cache)
            rollout_designer(core, classical_designers([m], num_grid=cfg.num_grid)[m], 1, seed)
        frame_rows = rollout_designer(core, designer, frames, seed, method=m)
        per = sum(r["seconds_per_frame"] for r in frame_rows) / len(frame_rows)
        row: dict[str, Any] = {"what": f"design:{m}", "device": device, "batch": 1,
                               "seconds_per_frame": per}
        full = per
        if isinstance(designer, OptDesigner) and designer.sdr.solves:
            solve = designer.sdr.solve_seconds / designer.sdr.solves
            full = per + solve * (cfg.max_episode_steps - designer.sdr.solves / frames)
            row["seconds_per_frame_full"] = full
        row["_t"] = full
        rows.append(row)
    fastest = min(r["_t"] for r in rows)
    for r in rows:
        r["time_ratio"] = r.pop("_t") / fastest
    return rows


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        out = tuple(int(x) for x in str(text).split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated integers, got {text!r}") from None
    if any(x < 1 for x in out):
        raise ConfigError(f"{flag} must be integers >= 1, got {text!r}")
    return out


def add_arguments(parser: Any) -> None:
    """Options of ``isaclearn bench yang_som``."""
    parser.add_argument("--batches", default="1,1024",
                        help="comma-separated batch sizes B (default 1,1024)")
    parser.add_argument("--steps", type=int, default=10,
                        help="timed batched steps of the core (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--methods", default="drl_uu,drl_au,opt,omp,mp,greedy",
                        help="methods timed per frame (default drl_uu,drl_au,opt,omp,mp,"
                             "greedy; empty: none)")


def run(options: Any, log: Any = None) -> list[dict[str, Any]]:
    """``run(options, log)`` of the suite: :func:`bench_env` then :func:`bench_designers`."""
    batches = _ints(options.batches, "--batches")
    if not batches:
        raise ConfigError("--batches must name at least one batch size")
    if options.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {options.steps}")
    device = getattr(options, "device", None) or "cpu"
    methods = tuple(m.strip() for m in str(getattr(options, "methods", "") or "").split(",")
                    if m.strip())
    if log is not None:
        log(f"yang_som bench: YangSom env steps/s, batched torch core ({device}) vs per-sample "
            f"NumPy, B = {list(batches)}; design time per frame of {list(methods)}")
    rows = bench_env(batches, steps=options.steps, device=device, seed=options.seed)
    if methods:
        rows += bench_designers(methods, device=device, seed=options.seed)
    return rows


SUITE = BenchSuite(
    name="yang_som",
    description="yang_som: env steps/s (batched torch vs per-sample NumPy) and design time "
                "per frame of each method (Fig. 15)",
    add_arguments=add_arguments,
    run=run,
    columns=BENCH_COLUMNS,
)
