"""Our PPO against SB3 PPO on the liu fixed-phase env (μ = 0), several seeds (issue 10 acceptance
"within 5 %"; ``docs/liu_irs_ppo.md``, "The gap to SB3 PPO").

The env is the Box view of the MISO core with the IRS phases held at the episode's V^0 and the
phase action fixed, ``box_action_core(B, inner="isaclearn.rl.envs.liu_irs_ppo:IrsIsacMisoCore",
phases="initial", fixed={"phases": [0] * 16})`` (``isaclearn/IrsIsacMisoFixedBox-v0``, ``B``
parallel episodes), γ = 0 for every learner. Per seed:

- ``ours_sb3like`` and ``sb3``: :func:`isaclearn.rl.agents.trainers.compare_with_sb3` with
  ``config=sb3_like_config(TrainerConfig(q_head=False, gamma=0))`` (SB3's ``PPO`` at its
  defaults, ``gamma = 0``, ``n_steps`` one episode per environment);
- ``ours_tanh``: our trainer with the paper's networks (one hidden layer, 30 / 20 units) and
  every trainer default but ``activation="tanh"``, trained on the same core for the same
  episodes and scored exactly as ``compare_with_sb3`` scores (deterministic policy through
  :func:`isaclearn.rl.rollout.rollout`, the same ``eval_episodes`` episodes of seed 12345, the
  episode-mean ``sum_rate``). Trained here rather than by a second ``compare_with_sb3`` call,
  which would train SB3 again with the same seed;
- ``random``: the uniformly random policy of ``compare_with_sb3`` (for scale).

Printed: one row per seed (sum rates, the per-seed ratios ours / SB3, wall times), then for each
of our two learners the ratio of the means over the seeds and the mean of the per-seed ratios
with its 95 % confidence interval (Student t, n - 1 degrees of freedom). The rows also go to
``--out`` as JSON when given.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 python tools/liu_sb3_gap.py --seeds 0,1,2,3,4
       --episodes 2000 [--eval-episodes 64] [--batch 10] [--out runs/sb3_gap.json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from isaclearn.rl.actions import box_action_core
from isaclearn.rl.agents.trainers import (
    PrimalDualPPO,
    TrainerConfig,
    compare_with_sb3,
    sb3_like_config,
)
from isaclearn.rl.rollout import rollout

EVAL_SEED = 12345
"""Seed of the scored episodes (``compare_with_sb3``'s default ``eval_seed``)."""


def make_core(batch: int) -> Any:
    """The fixed-phase Box view of the liu MISO env with ``batch`` parallel episodes."""
    return box_action_core(batch, inner="isaclearn.rl.envs.liu_irs_ppo:IrsIsacMisoCore",
                           phases="initial", fixed={"phases": [0] * 16})


def train_and_score(core: Any, cfg: TrainerConfig, *, episodes: int, seed: int,
                    eval_episodes: int) -> float:
    """Our PPO with ``cfg`` trained for ``episodes`` on ``core``, scored as
    ``compare_with_sb3`` scores ``ours`` (mean episode ``sum_rate``)."""
    import dataclasses

    agent = PrimalDualPPO(core, dataclasses.replace(cfg, episodes=episodes, seed=seed))
    agent.train()
    rows = rollout(core.with_batch_size(eval_episodes), agent, eval_episodes, EVAL_SEED)
    return float(np.mean([r["sum_rate"] for r in rows]))


def ci95(values: list[float]) -> tuple[float, float, float]:
    """Mean and the two ends of its 95 % Student-t confidence interval (nan for n < 2)."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) \
        / math.sqrt(len(values))
    return m, m - half, m + half


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    ap.add_argument("--episodes", type=int, default=2000, help="training episodes per learner")
    ap.add_argument("--eval-episodes", type=int, default=64)
    ap.add_argument("--batch", type=int, default=10, help="parallel episodes in training")
    ap.add_argument("--out", type=Path, default=None, help="JSON file of the rows")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    base = TrainerConfig(q_head=False, gamma=0.0)
    tanh = TrainerConfig(q_head=False, gamma=0.0, activation="tanh")

    rows: list[dict[str, Any]] = []
    print(f"liu fixed-phase env, mu = 0, gamma = 0, {args.episodes} training episodes, "
          f"{args.batch} parallel, {args.eval_episodes} scored episodes (seed {EVAL_SEED})")
    print("seed  sb3     ours_sb3like  ratio   ours_tanh  ratio   random  "
          "t_cmp(s)  t_tanh(s)", flush=True)
    for seed in seeds:
        t0 = time.perf_counter()
        res = compare_with_sb3(make_core(args.batch), episodes=args.episodes,
                               eval_episodes=args.eval_episodes, seed=seed,
                               config=sb3_like_config(base))
        t1 = time.perf_counter()
        ours_tanh = train_and_score(make_core(args.batch), tanh, episodes=args.episodes,
                                    seed=seed, eval_episodes=args.eval_episodes)
        t2 = time.perf_counter()
        row = {"seed": seed, "episodes": args.episodes, "sb3": res["sb3"],
               "ours_sb3like": res["ours"], "ratio_sb3like": res["ours"] / res["sb3"],
               "ours_tanh": ours_tanh, "ratio_tanh": ours_tanh / res["sb3"],
               "random": res["random"], "time_compare_s": t1 - t0, "time_tanh_s": t2 - t1}
        rows.append(row)
        print(f"{seed:<5d} {row['sb3']:.4f}  {row['ours_sb3like']:.4f}        "
              f"{row['ratio_sb3like']:.3f}   {row['ours_tanh']:.4f}     "
              f"{row['ratio_tanh']:.3f}   {row['random']:.4f}  {row['time_compare_s']:8.0f}  "
              f"{row['time_tanh_s']:9.0f}", flush=True)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(rows, indent=1))

    sb3_mean = statistics.fmean(r["sb3"] for r in rows)
    print(f"SB3 mean {sb3_mean:.4f}")
    for name in ("sb3like", "tanh"):
        ours = [r[f"ours_{name}"] for r in rows]
        m, lo, hi = ci95([r[f"ratio_{name}"] for r in rows])
        print(f"ours_{name}: mean {statistics.fmean(ours):.4f}; ratio of the means "
              f"{statistics.fmean(ours) / sb3_mean:.3f}; per-seed ratio mean {m:.3f}, "
              f"95 % CI [{lo:.3f}, {hi:.3f}] (n = {len(rows)})")


if __name__ == "__main__":
    main()
