"""The liu_irs_ppo experiments of Figs. 3, 5 (agents), 7–12 at tiny sizes: rows, summaries,
resume (nothing recomputed on a second call), and the convergence helper against a hand
count."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from isaclearn.core.errors import ConfigError
from isaclearn.systems.base import MemoryContext, RunContext
from isaclearn.systems.liu_irs_ppo.experiments import (
    IrsSizeConfig,
    LrConfig,
    MimoBeampatternConfig,
    MimoConfig,
    PowerConfig,
    ThresholdConfig,
    TradeoffConfig,
    episodes_to_converge,
    run_irs_size,
    run_lr,
    run_mimo_beampattern,
    run_mimo_capacity,
    run_mimo_reward,
    run_power,
    run_threshold,
    run_tradeoff,
)

TINY: dict[str, Any] = {"seeds": (0,), "episodes": 2, "batch_size": 2, "train_episodes": 4,
                        "train_batch": 2}
NEED = {"method", "seed", "episode", "reward", "sum_rate", "beampattern_mse", "lambda", "mu"}


def _resumes(run: Any, cfg: Any, ctx: RunContext) -> list[dict[str, Any]]:
    summary = run(cfg, ctx)
    rows = list(ctx.rows())
    again = run(cfg, ctx)  # resumed: every point is done, nothing recomputed
    assert len(ctx.rows()) == len(rows)
    assert again.keys() == summary.keys()
    return rows


def test_episodes_to_converge_by_hand() -> None:
    # EMA 0.9 of a step 0 -> 1 at episode 10: m_i = 1 - 0.9^(i - 9); inside 5 % from
    # 0.9^(i-9) <= 0.05, i.e. i - 9 >= 28.43 -> i = 38
    assert episodes_to_converge([0.0] * 10 + [1.0] * 90) == 38
    assert episodes_to_converge([2.0] * 20) == 0
    assert episodes_to_converge([]) is None
    # a curve oscillating by ±20 % never settles: the answer is its length
    assert episodes_to_converge([1.2, 0.8] * 50, ema=0.0) == 100


def test_lr_rows_summary_and_resume() -> None:
    ctx = MemoryContext()
    cfg = LrConfig(**TINY, lr_actor=(1e-2, 1e-5), lr_critic=(2e-2, 2e-5))  # 2 rounds each
    rows = _resumes(run_lr, cfg, ctx)
    train = [r for r in rows if r["method"] == "pd_ppo"]
    assert len(train) == 8 and all(NEED <= set(r) for r in train)
    assert {r["lr"] for r in train} == {"0.01/0.02", "1e-05/2e-05"}
    assert all({"lambda_avg", "mu_avg", "x_avg"} <= set(r) for r in train)
    assert len([r for r in rows if r["method"] == "pd_ppo:eval"]) == 4
    # the learning rates reach the optimizer: different pairs give different training curves
    by_lr = {lr: [r["reward"] for r in train if r["lr"] == lr] for lr in ("0.01/0.02",
                                                                          "1e-05/2e-05")}
    assert by_lr["0.01/0.02"][-1] != by_lr["1e-05/2e-05"][-1]
    # one update per round (B = 2 episodes): the running mean of λ in the rows of round j
    # is the mean of the iterates after updates 1..j, and λ in force in round j + 1 is the
    # iterate after update j
    seq = sorted((r for r in train if r["lr"] == "0.01/0.02"), key=lambda r: r["episode"])
    lam_next = seq[2]["lambda"]  # after update 1
    assert math.isclose(seq[0]["lambda_avg"], lam_next, rel_tol=1e-6)
    assert seq[0]["lambda"] == 1.0 and seq[0]["lambda_avg"] != 1.0
    with pytest.raises(ConfigError):
        LrConfig(lr_actor=(1e-3,), lr_critic=(1e-3, 2e-3))


def test_power_with_agents() -> None:
    ctx = MemoryContext()
    cfg = PowerConfig(**TINY, methods=("mrt",), agents=("pd_ppo",), users=(2,),
                      p_max_dbm=(30.0, 40.0))
    rows = _resumes(run_power, cfg, ctx)
    assert {r["method"] for r in rows} == {"mrt", "pd_ppo", "pd_ppo:eval"}
    summary = run_power(cfg, ctx)
    assert len(summary["sum_rate_K2_pd_ppo_eval"]) == 2
    assert all(r["num_users"] == 2 for r in rows)
    assert summary["sum_rate_K2_mrt"][1] > summary["sum_rate_K2_mrt"][0]


def test_threshold_and_tradeoff() -> None:
    ctx = MemoryContext()
    rows = _resumes(run_threshold, ThresholdConfig(**TINY, ells=(1.0, 3.0)), ctx)
    assert {r["ell"] for r in rows} == {1.0, 3.0}
    summary = run_threshold(ThresholdConfig(**TINY, ells=(1.0, 3.0)), ctx)
    assert len(summary["pd_ppo_final_beampattern_mse_by_ell"]) == 2
    assert summary["pd_ppo_lower_ell_lower_lr"] in (True, False)
    # the violation rate is the share of the last 10 % of training episodes with L_r > ℓ
    last = [r for r in rows if r["method"] == "pd_ppo" and r["ell"] == 1.0
            and int(r["episode"]) == 3]
    assert summary["ell1_pd_ppo_final_violation_rate"] == sum(
        r["beampattern_mse"] > 1.0 for r in last) / len(last)
    ctx = MemoryContext()
    out = run_tradeoff(TradeoffConfig(**TINY, ells=(2.0, 10.0)), ctx)
    assert len(out["pd_ppo_eval_sum_rate_by_ell"]) == 2
    with pytest.raises(ConfigError):
        ThresholdConfig(ells=())


def test_irs_size_with_and_without_irs() -> None:
    ctx = MemoryContext()
    cfg = IrsSizeConfig(**TINY, elements=(4,), methods=("mrt", "mrt_no_irs"))
    rows = _resumes(run_irs_size, cfg, ctx)
    assert {r["method"] for r in rows} == {"mrt", "mrt_no_irs", "pd_ppo", "pd_ppo:eval",
                                           "pd_ppo_no_irs", "pd_ppo_no_irs:eval"}
    # without IRS the cascade is off in training and in scoring
    assert all(r["cascade_direct_ratio"] == 0.0 for r in rows
               if str(r["method"]).startswith("pd_ppo_no_irs"))
    assert all(r["cascade_direct_ratio"] > 0.0 for r in rows if r["method"] == "pd_ppo")


def test_mimo_reward() -> None:
    tiny = {**TINY, "train_episodes": 2, "train_batch": 1, "episodes": 1, "batch_size": 1}
    ctx = MemoryContext()
    cfg = MimoConfig(**tiny, workers=2)
    rows = _resumes(run_mimo_reward, cfg, ctx)
    assert {r["method"] for r in rows} == {"wmmse_mimo", "pd_dppo", "pd_dppo:eval", "a3c",
                                           "a3c:eval"}
    assert all(NEED <= set(r) for r in rows if r["method"] in ("pd_dppo", "a3c"))
    # A3C has no primal-dual part: λ stays 1 and μ 0
    assert all(r["lambda"] == 1.0 and r["mu"] == 0.0 for r in rows if r["method"] == "a3c")
    with pytest.raises(ConfigError):
        MimoConfig(agents=("pd_ppo",))
    with pytest.raises(ConfigError):
        MimoConfig(methods=("mrt",))


@pytest.mark.slow
def test_mimo_capacity_and_beampattern() -> None:
    tiny = {**TINY, "train_episodes": 4, "train_batch": 1, "episodes": 1, "batch_size": 1}
    ctx = MemoryContext()
    out = run_mimo_capacity(MimoConfig(**tiny, workers=2, methods=(), agents=("a3c",)), ctx)
    assert "a3c_final_sum_rate" in out
    ctx = MemoryContext()
    bp = MimoBeampatternConfig(**tiny, workers=2, grid_step_deg=2.0)
    rows = _resumes(run_mimo_beampattern, bp, ctx)
    pattern = [r for r in rows if r["method"] == "pd_dppo:pattern"]
    assert len(pattern) == 4 * 91 and {r["user"] for r in pattern} == {0, 1, 2, 3}
    assert all(torch.isfinite(torch.tensor(r["pattern"])) and r["pattern"] >= 0
               for r in pattern)
    assert "pd_dppo_user0_peaks_deg" in run_mimo_beampattern(bp, ctx)
