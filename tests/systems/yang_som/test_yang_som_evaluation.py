"""yang_som scoring: evaluate = the env's score_precoder, aggregate = hand-computed means and
Student-t intervals, the R* reduction = the full WMMSE."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from isaclearn.rl.envs.yang_som import YangSomCore
from isaclearn.solvers.hybrid import normalize_power, quantize_phases
from isaclearn.systems.yang_som.evaluation import (
    aggregate,
    evaluate,
    hybrid_design,
    subframe_problem,
)

TINY = {"num_antennas": 4, "num_rx": 4, "num_subcarriers": 2, "num_users": 2, "max_users": 2,
        "num_taps": 2, "num_paths": 2, "num_symbols": 2, "max_episode_steps": 3, "num_grid": 8,
        "dtype": torch.complex128}


def test_evaluate_equals_the_env_score() -> None:
    core = YangSomCore(3, **TINY)
    core.reset(seed=1)
    g = torch.Generator().manual_seed(0)
    core.step_precoder(core.f_rf, core.p)  # a later subframe
    f_rf = quantize_phases(torch.randn(3, 4, 2, dtype=torch.complex128, generator=g), 3)
    p = normalize_power(torch.randn(3, 2, 2, dtype=torch.complex128, generator=g), 4.0)
    problem = subframe_problem(core)
    mine = evaluate(problem, hybrid_design(problem, f_rf, p))
    env = core.score_precoder(f_rf, p)
    for key in ("se", "se_per_hz", "fisher", "crlb", "crlb_db", "reward_rate", "reward_sense",
                "reward"):
        assert torch.allclose(mine[key], env[key], rtol=1e-12), key


def test_aggregate_mean_and_student_t_interval() -> None:
    rows = [{"method": "a", "se": x, "se_per_hz": x / 2, "reward": 2 * x, "reward_rate": x,
             "reward_sense": x, "crlb": c} for x, c in ((1.0, 1e-3), (2.0, 2e-3), (4.0, 3e-3))]
    out = aggregate(rows, {"snr_db": 0.0})
    assert len(out) == 1 and out[0]["frames"] == 3 and out[0]["snr_db"] == 0.0
    x = [1.0, 2.0, 4.0]
    mean = sum(x) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in x) / 2)
    assert out[0]["se"] == pytest.approx(mean)
    assert out[0]["se_ci"] == pytest.approx(stats.t.ppf(0.975, 2) * sd / math.sqrt(3))
    assert out[0]["crlb_db"] == pytest.approx(10 * math.log10(2e-3))
    half = stats.t.ppf(0.975, 2) * 1e-3 / math.sqrt(3)
    assert out[0]["crlb_db_ci"] == pytest.approx(10 / math.log(10) * half / 2e-3)


@pytest.mark.parametrize("init", ["mrt", "best"])
def test_reduced_rate_star_equals_the_full_wmmse(init: str) -> None:
    core = YangSomCore(4, **{**TINY, "num_antennas": 6, "num_users": 2, "max_users": 3,
                             "wmmse_init": init})
    core.reset(seed=2)
    assert core.episodes is not None
    full = core.frame_rate_star(core.episodes, reduced=False)
    fast = core.frame_rate_star(core.episodes)
    assert torch.allclose(fast, full, rtol=1e-8, atol=0)
    assert torch.equal(core.episodes.rate_star, fast)  # reset uses the reduced form
