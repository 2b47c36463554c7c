"""The :class:`~isaclearn.systems.base.SystemSpec` of liu_irs_ppo: what the platform dispatches
on (scenario, problem and design classes, :func:`evaluate`, metrics, designers, the ``rl``
bench suite)."""

from __future__ import annotations

from typing import Any

from isaclearn.channels.irs import IrsIsacProblem
from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.systems.base import DesignerEntry, Options, SystemSpec, register_system
from isaclearn.systems.liu_irs_ppo.bench import RL_SUITE
from isaclearn.systems.liu_irs_ppo.evaluation import METRIC_UNITS, evaluate, make_scenario

__all__ = ["SYSTEM", "baseline_designers"]


def baseline_designers() -> dict[str, Any]:
    """The classical designers by result name (spec §4): MRT, ZF, WMMSE on the effective channel
    with the episode's random V^0 (``FixedPhases``, uniform scaling onto (22)), the same
    without IRS (V = 0), and ZF with single-user co-phasing of user 0 (a reference)."""
    from isaclearn.solvers import MRT, WMMSE, ZF
    from isaclearn.solvers.irs import FixedPhases

    return {
        "mrt": FixedPhases(MRT(), name="mrt"),
        "zf": FixedPhases(ZF(), name="zf"),
        "wmmse": FixedPhases(WMMSE(), name="wmmse"),
        "mrt_no_irs": FixedPhases(MRT(), phases="off", name="mrt_no_irs"),
        "zf_no_irs": FixedPhases(ZF(), phases="off", name="zf_no_irs"),
        "wmmse_no_irs": FixedPhases(WMMSE(), phases="off", name="wmmse_no_irs"),
        "zf_co_phasing": FixedPhases(ZF(), phases="co_phasing", name="zf_co_phasing"),
    }


_DESCRIPTIONS = {
    "mrt": "MRT on the effective channel, random V^0 (Alg. 1), uniform scaling onto (22)",
    "zf": "ZF on the effective channel, random V^0, uniform scaling onto (22)",
    "wmmse": "MISO WMMSE at total power P_max, random V^0, then scaled onto (22)",
    "mrt_no_irs": "MRT on the direct channel (V = 0)",
    "zf_no_irs": "ZF on the direct channel (V = 0)",
    "wmmse_no_irs": "WMMSE on the direct channel (V = 0)",
    "zf_co_phasing": "ZF with the IRS co-phased to user 0 (continuous phases)",
}


def _designers() -> list[DesignerEntry]:
    def make(name: str) -> Any:
        return lambda: baseline_designers()[name]

    return [DesignerEntry(name, make(name), description=_DESCRIPTIONS[name])
            for name in _DESCRIPTIONS]


def _test_problem(options: Options) -> IrsIsacProblem:
    return make_scenario().sample(int(options.batch), generator=make_generator(int(options.seed)))


def _evaluate(problem: IrsIsacProblem, design: Design) -> dict[str, Any]:
    return evaluate(problem, design)


SYSTEM = register_system(SystemSpec(
    name="liu_irs_ppo",
    paper="001: Liu et al., primal-dual PPO / DPPO for IRS-aided THz ISAC",
    description="IRS-aided THz ISAC: sum rate under per-antenna power and a beampattern "
                "constraint; MDP env, PD-PPO/DPPO agents, MRT/ZF/WMMSE baselines",
    make_scenario=make_scenario,
    problem_cls=IrsIsacProblem,
    design_cls=Design,
    evaluate=_evaluate,
    metrics=dict(METRIC_UNITS),
    higher_is_better={"sum_rate": True, "beampattern_mse": False, "power": False,
                      "per_antenna_violation": False, "reward": True,
                      "cascade_direct_ratio": True},
    summary_metrics=["sum_rate", "beampattern_mse", "power", "reward"],
    designers=_designers,
    leaderboard_scenario=_test_problem,
    bench_suites=[RL_SUITE],
))
