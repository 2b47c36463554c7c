"""The outcome checks of liu_irs_ppo (spec §7; issue 10 acceptance) at the quick profiles'
sizes over 5 seeds (0-4), each asserting the paper's claim as stated.

Every experiment runs once per module (module-scoped fixtures, ``MemoryContext``) with its
``quick`` profile (``isaclearn.systems.liu_irs_ppo.experiments``) and ``seeds = (0, 1, 2, 3, 4)``;
the tests read its summary and rows. No size is cut from the quick profiles (the wall
time is in the docs). Each test records the numbers it judged
with ``record_property`` (``--junitxml`` keeps them).

A claim that does not hold at these sizes is marked ``xfail(strict=True)`` with the measured
numbers: the test then fails loudly once the claim starts to hold, and ``docs/liu_irs_ppo.md``
("Outcome checks at quick sizes, 5 seeds") must be updated with it. Nothing here is tuned to
make a claim hold; the paper-size measurements are in the docs.

Run: ``pytest -m slow tests/systems/test_liu_irs_ppo_outcomes.py``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from isaclearn.systems.base import MemoryContext, get_experiment
from isaclearn.systems.liu_irs_ppo.experiments import (
    BeampatternConfig,
    CompareConfig,
    IrsSizeConfig,
    MimoConfig,
    PowerConfig,
    TradeoffConfig,
)

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2, 3, 4)
TOL_ELL = 0.05
"""Slack on the constraint L_r ≤ ℓ of the claim "at L_r ≤ ℓ (+0.05)"."""

Outcome = tuple[dict[str, Any], list[dict[str, Any]]]


def _quick(name: str, **changes: Any) -> Outcome:
    """Run experiment ``liu_irs_ppo.<name>`` at its quick profile with 5 seeds (and
    ``changes``); its summary and rows."""
    spec = get_experiment(f"liu_irs_ppo.{name}")
    cfg = spec.config_cls(**{**spec.profiles["quick"], "seeds": SEEDS, **changes})
    ctx = MemoryContext()
    summary = spec.fn(cfg, ctx)
    return summary, ctx.rows()


def _mean(rows: list[dict[str, Any]], method: str, col: str = "sum_rate",
          **where: Any) -> float:
    vals = [float(r[col]) for r in rows if r["method"] == method
            and all(r.get(k) == v for k, v in where.items())]
    assert vals, f"no rows of {method} {where}"
    return sum(vals) / len(vals)


def _record(record: Callable[[str, object], None], **values: Any) -> str:
    text = json.dumps(values, default=str)
    record("measured", text)
    return text


@pytest.fixture(scope="module")
def compare() -> Outcome:
    return _quick("compare")


@pytest.fixture(scope="module")
def power() -> Outcome:
    return _quick("power")


@pytest.fixture(scope="module")
def tradeoff() -> Outcome:
    return _quick("tradeoff")


@pytest.fixture(scope="module")
def irs_size() -> Outcome:
    return _quick("irs_size")


@pytest.fixture(scope="module")
def mimo_reward() -> Outcome:
    return _quick("mimo_reward")


@pytest.fixture(scope="module")
def beampattern() -> Outcome:
    return _quick("beampattern", agents=("pd_ppo",))


def test_quick_configs_are_the_registered_ones() -> None:
    # the fixtures build their configs from the registry: the classes behind the names
    assert get_experiment("liu_irs_ppo.compare").config_cls is CompareConfig
    assert get_experiment("liu_irs_ppo.power").config_cls is PowerConfig
    assert get_experiment("liu_irs_ppo.tradeoff").config_cls is TradeoffConfig
    assert get_experiment("liu_irs_ppo.irs_size").config_cls is IrsSizeConfig
    assert get_experiment("liu_irs_ppo.mimo_reward").config_cls is MimoConfig
    assert get_experiment("liu_irs_ppo.beampattern").config_cls is BeampatternConfig


@pytest.mark.xfail(strict=True, reason="does not hold at quick sizes, 5 seeds: PD-PPO 0.036 "
                   "vs MRT 0.984, ZF 0.115 bit/s/Hz (L_r 0.20 <= 3.05 holds); "
                   "docs/liu_irs_ppo.md")
def test_pd_ppo_above_zf_and_mrt_within_ell(compare: Outcome,
                                           record_property: Any) -> None:
    """Fig. 4: PD-PPO's capacity above ZF's and MRT's (V^0) at L_r ≤ ℓ + 0.05 (scored on the
    same seeded episodes)."""
    summary, rows = compare
    ell = CompareConfig().scenario().ell
    ppo = summary["pd_ppo_eval_sum_rate"]
    lr = summary["pd_ppo_eval_beampattern_mse"]
    mrt, zf = _mean(rows, "mrt"), _mean(rows, "zf")
    msg = _record(record_property, pd_ppo=ppo, pd_ppo_l_r=lr, ell=ell, mrt=mrt, zf=zf,
                  pd_ppo_train_final=summary.get("pd_ppo_final_sum_rate"),
                  pd_ppo_train_final_l_r=summary.get("pd_ppo_final_beampattern_mse"),
                  episodes_to_converge=summary.get("pd_ppo_episodes_to_converge_sum_rate"))
    assert ppo > mrt and ppo > zf and lr <= ell + TOL_ELL, msg


def test_pd_ppo_at_least_pd_a2c(compare: Outcome, record_property: Any) -> None:
    """Fig. 4: PD-PPO's final capacity ≥ PD-A2C's (scored on the same episodes)."""
    summary, _ = compare
    ppo, a2c = summary["pd_ppo_eval_sum_rate"], summary["pd_a2c_eval_sum_rate"]
    msg = _record(record_property, pd_ppo=ppo, pd_a2c=a2c,
                  pd_ppo_train_final=summary.get("pd_ppo_final_sum_rate"),
                  pd_a2c_train_final=summary.get("pd_a2c_final_sum_rate"),
                  episodes_to_converge_ppo=summary.get("pd_ppo_episodes_to_converge_sum_rate"),
                  episodes_to_converge_a2c=summary.get("pd_a2c_episodes_to_converge_sum_rate"))
    assert ppo >= a2c, msg


def _mimo_rewards(outcome: Outcome) -> dict[str, float]:
    summary, rows = outcome
    return {"pd_dppo": _mean(rows, "pd_dppo:eval", "reward"),
            "a3c": _mean(rows, "a3c:eval", "reward"),
            "wmmse_mimo": _mean(rows, "wmmse_mimo", "reward"),
            "dppo_episodes_to_converge": summary.get("pd_dppo_episodes_to_converge_sum_rate"),
            "a3c_episodes_to_converge": summary.get("a3c_episodes_to_converge_sum_rate")}


def test_dppo_at_least_a3c_in_reward(mimo_reward: Outcome, record_property: Any) -> None:
    """Fig. 10 (MIMO): DPPO's episode reward ≥ A3C's (scored, λ = 1, μ = 0)."""
    r = _mimo_rewards(mimo_reward)
    msg = _record(record_property, **r)
    assert r["pd_dppo"] >= r["a3c"], msg
    assert mimo_reward[0]["dppo_eval_ge_a3c"]


@pytest.mark.xfail(strict=True, reason="does not hold at quick sizes, 5 seeds: DPPO reward "
                   "14.2 vs WMMSE 191.8; docs/liu_irs_ppo.md")
def test_dppo_at_least_wmmse_in_reward(mimo_reward: Outcome, record_property: Any) -> None:
    """Fig. 10 (MIMO): DPPO's episode reward ≥ the matrix WMMSE's (V^0; scored, λ = 1,
    μ = 0)."""
    r = _mimo_rewards(mimo_reward)
    msg = _record(record_property, **r)
    assert r["pd_dppo"] >= r["wmmse_mimo"], msg


@pytest.mark.parametrize("num_users", [2, 3, 4])
def test_capacity_increasing_in_p_max(power: Outcome, num_users: int,
                                      record_property: Any) -> None:
    """Fig. 5: PD-PPO's capacity increasing in P_max, for each number of users K (scored)."""
    summary, _ = power
    k = num_users
    curve = summary[f"sum_rate_K{k}_pd_ppo_eval"]
    msg = _record(record_property, p_max_dbm=summary["p_max_dbm"], num_users=k, pd_ppo=curve,
                  pd_ppo_train_final=summary.get(f"sum_rate_K{k}_pd_ppo_final"),
                  mrt=summary.get(f"sum_rate_K{k}_mrt"), zf=summary.get(f"sum_rate_K{k}_zf"),
                  wmmse=summary.get(f"sum_rate_K{k}_wmmse"))
    assert all(b > a for a, b in zip(curve, curve[1:])), msg


def test_capacity_nondecreasing_in_ell(tradeoff: Outcome, record_property: Any) -> None:
    """Fig. 8: PD-PPO's capacity non-decreasing in ℓ (scored)."""
    summary, _ = tradeoff
    curve = summary["pd_ppo_eval_sum_rate_by_ell"]
    msg = _record(record_property, ells=summary["ells"], pd_ppo=curve,
                  pd_ppo_train_final=summary["pd_ppo_final_sum_rate_by_ell"],
                  l_r=summary["pd_ppo_eval_beampattern_mse_by_ell"])
    assert all(b >= a for a, b in zip(curve, curve[1:])), msg


@pytest.mark.xfail(strict=True, reason="does not hold at quick sizes, 5 seeds: PD-PPO "
                   "0.0310 / 0.0291 / 0.0287 at N = 4 / 16 / 36 (decreasing); "
                   "docs/liu_irs_ppo.md")
def test_capacity_with_irs_increasing_in_n(irs_size: Outcome, record_property: Any) -> None:
    """Fig. 9: PD-PPO's capacity with the IRS (phases in the action) increasing in N
    (scored)."""
    summary, _ = irs_size
    curve = summary["sum_rate_by_N_pd_ppo_eval"]
    msg = _record(record_property, elements=summary["elements"], pd_ppo=curve,
                  pd_ppo_no_irs=summary["sum_rate_by_N_pd_ppo_no_irs_eval"],
                  mrt=summary.get("sum_rate_by_N_mrt"))
    assert all(b > a for a, b in zip(curve, curve[1:])), msg


def test_capacity_without_irs_flat_in_n(irs_size: Outcome, record_property: Any) -> None:
    """Fig. 9: PD-PPO's capacity without the IRS flat in N within noise: every two values of N
    differ by at most twice the standard error of their difference (the per-seed means'
    standard deviation over the 5 seeds, unpaired)."""
    summary, rows = irs_size
    stats: list[tuple[float, float]] = []
    for n in summary["elements"]:
        per_seed = [_mean(rows, "pd_ppo_no_irs:eval", seed=s, num_irs_elements=int(n))
                    for s in SEEDS]
        stats.append((statistics.fmean(per_seed),
                      statistics.stdev(per_seed) / math.sqrt(len(per_seed))))
    msg = _record(record_property, elements=summary["elements"],
                  mean_and_standard_error=stats)
    assert all(abs(m1 - m2) <= 2.0 * math.hypot(s1, s2)
               for i, (m1, s1) in enumerate(stats) for m2, s2 in stats[i + 1:]), msg


@pytest.mark.xfail(strict=True, reason="does not hold at quick sizes, 5 seeds: PD-PPO peaks "
                   "at -23.0, 7.0, 47.5 deg; docs/liu_irs_ppo.md")
def test_beampattern_peaks_at_targets(beampattern: Outcome, record_property: Any) -> None:
    """Fig. 6: the three largest local maxima of the trained PD-PPO policy's beampattern
    (seed mean) lie within 5° of −40°, 0° and 40°."""
    summary, _ = beampattern
    msg = _record(record_property, peaks_deg=summary["pd_ppo_peaks_deg"],
                  peak_power=summary["pd_ppo_peak_power"],
                  mrt_peaks_deg=summary.get("peaks_deg_mrt"))
    assert summary["pd_ppo_peaks_within_5deg_of_targets"], msg
