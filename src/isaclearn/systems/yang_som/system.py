"""The :class:`~isaclearn.systems.base.SystemSpec` of yang_som: what the platform dispatches on.

yang_som is sequential (frames of ``T`` subframes); its experiments run whole frames
(:mod:`.experiments`). The one-shot commands (``isaclearn list``, ``leaderboard``) see subframe
0 of freshly drawn frames (:class:`~isaclearn.systems.yang_som.evaluation.YangSomScenario`) as a
batch of :class:`~isaclearn.systems.yang_som.evaluation.YangSomSubframe`. There is no
``evaluate`` file layout.
"""

from __future__ import annotations

from typing import Any

from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.systems.base import DesignerEntry, Options, SystemSpec, register_system
from isaclearn.systems.yang_som.bench import SUITE
from isaclearn.systems.yang_som.designers import classical_designers
from isaclearn.systems.yang_som.evaluation import (
    METRIC_UNITS,
    YangSomSubframe,
    evaluate,
    make_scenario,
)

__all__ = ["DESCRIPTIONS", "SYSTEM"]

DESCRIPTIONS = {
    "opt": "Alg. 1: per-subcarrier SDR (15) + alternating hybrid decomposition (16)-(22), "
           "B-bit phases (perfect CSI)",
    "omp": "the same SDR + OMP decomposition over the quantized angular dictionary",
    "mp": "MP-based predictive beamforming: Kalman angle prediction per user, quantized beams",
    "greedy": "greedy codebook: per user the codeword maximizing wideband SE with ICI",
    "ideal": "fully digital SDR precoder (no hybrid constraint): the ideal boundary",
    "orthogonal": "time sharing between (R*, 0) and (0, J*) with fraction psi: a boundary",
}


def _designers() -> list[DesignerEntry]:
    def make(name: str) -> Any:
        return lambda: classical_designers([name], num_grid=16)[name]

    return [DesignerEntry(n, make(n), kind="bound" if n in ("ideal", "orthogonal")
                          else "baseline", slow=n in ("opt", "omp", "ideal"), description=d)
            for n, d in DESCRIPTIONS.items()]


def _test_problem(options: Options) -> YangSomSubframe:
    return make_scenario().sample(int(options.batch), generator=make_generator(int(options.seed)))


def _evaluate(problem: YangSomSubframe, design: Design) -> dict[str, Any]:
    return evaluate(problem, design)


SYSTEM = register_system(SystemSpec(
    name="yang_som",
    paper="000: Yang et al., SoM-enhanced DRL hybrid precoding for wideband vehicular ISAC",
    description="wideband vehicular ISAC, hybrid precoding under ICI and mobility: SE (8) and "
                "angle CRLB (11); Opt (SDR + Stage II), MP, greedy, OMP; PSAC env",
    make_scenario=make_scenario,
    problem_cls=YangSomSubframe,
    design_cls=Design,
    evaluate=_evaluate,
    metrics=dict(METRIC_UNITS),
    higher_is_better={"se": True, "crlb_db": False, "reward": True, "se_per_hz": True,
                      "fisher": True, "crlb": False, "reward_rate": True,
                      "reward_sense": True},
    summary_metrics=["se", "crlb_db", "reward"],
    designers=_designers,
    leaderboard_scenario=_test_problem,
    bench_suites=[SUITE],
))
