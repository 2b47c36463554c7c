"""The :class:`~isaclearn.systems.base.SystemSpec` of ding_dt: what the platform dispatches on.

ding_dt is sequential: its experiments run the digital-twin loop. The one-shot commands
(``isaclearn list``, ``leaderboard``, Python callers) see one slot of a running twin
(:class:`~isaclearn.systems.ding_dt.scenario.SnapshotScenario`) as a batch of
:class:`~isaclearn.systems.ding_dt.evaluation.TwinProblem`. There is no ``evaluate`` file
layout (a slot's problem holds tracks, covariances and Λ; it is not a file of channels).

Trained Bi-LSTM networks come in pairs: ``--checkpoint`` names the stem of either one
(``.../lstm_assign_N32...`` or ``.../lstm_beam_N32...``); its partner is the file with
``assign`` and ``beam`` swapped in the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from isaclearn.core.design import Design
from isaclearn.core.errors import CheckpointError
from isaclearn.core.random import make_generator
from isaclearn.systems.base import DesignerEntry, Options, SystemSpec, register_system
from isaclearn.systems.ding_dt.designers import DESIGNER_NOTES, make_designer
from isaclearn.systems.ding_dt.evaluation import (
    HIGHER_IS_BETTER,
    METRIC_UNITS,
    TwinProblem,
    evaluate,
)
from isaclearn.systems.ding_dt.scenario import make_scenario

LEADERBOARD_SETTINGS: dict[str, Any] = {"num_vehicles": 8, "power_db": 20.0}
"""The leaderboard's instances: 8 vehicles (256 assignments for the exhaustive oracle), 20 dB,
the rest at the defaults."""


def _designers() -> list[DesignerEntry]:
    out = []
    for name, note in DESIGNER_NOTES.items():
        if name == "lstm":
            continue
        kind: Literal["baseline", "bound"] = ("bound" if name in ("genie", "exhaustive")
                                              else "baseline")
        out.append(DesignerEntry(name, _maker(name), kind=kind,
                                 slow=name == "exhaustive",
                                 description=note))
    return out


def _maker(name: str) -> Any:
    return lambda: make_designer(name)


def partner_stem(path: str | Path) -> tuple[Path, Path]:
    """``(assign stem, beam stem)`` of a pair of Bi-LSTM checkpoints named by either one.

    Raises
    ------
    CheckpointError
        A name with neither ``assign`` nor ``beam`` in it.
    """
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    name = stem.name
    if "assign" in name:
        return stem, stem.with_name(name.replace("assign", "beam"))
    if "beam" in name:
        return stem.with_name(name.replace("beam", "assign")), stem
    raise CheckpointError(f"checkpoint {path}: a ding_dt Bi-LSTM checkpoint name contains "
                          f"'assign' or 'beam' (its partner has the other word)")


def _load_learned(paths: Sequence[str], options: Options) -> dict[str, Any]:
    from isaclearn.learn.bilstm import load_bilstm
    from isaclearn.systems.ding_dt.designers import LstmDesigner

    out: dict[str, Any] = {}
    for path in paths:
        a_stem, b_stem = partner_stem(path)
        a_net = load_bilstm(a_stem, expect={"head": "assign"})
        b_net = load_bilstm(b_stem, expect={"head": "beam", "num_tx": a_net.config.num_tx,
                                            "num_rx": a_net.config.num_rx})
        out[f"lstm:{a_stem.name.replace('assign', '').strip('_')}"] = LstmDesigner(
            a_net, b_net, name="lstm")
    return out


def _find_learned(folder: Path) -> list[Path]:
    return sorted(p.with_suffix("") for p in Path(folder).rglob("lstm_assign*.json")
                  if p.with_name(p.name.replace("assign", "beam")).exists())


def _test_problem(options: Options) -> TwinProblem:
    sc = make_scenario(**LEADERBOARD_SETTINGS)
    return sc.sample(int(options.batch), generator=make_generator(int(options.seed)))


def _bench_suites() -> list[Any]:
    try:
        from isaclearn.systems.ding_dt.bench import SLOT_SUITE
    except ImportError:  # pragma: no cover - bench not built
        return []
    return [SLOT_SUITE]


SYSTEM = register_system(SystemSpec(
    name="ding_dt",
    paper="004: Ding et al., digital-twin vehicular ISAC",
    description="two RSUs track highway vehicles (EKF, PCRB), assign them and design "
                "predictive beams (FP+PGD, Alg. 2/3, Bi-LSTM); sum rate and RCRB",
    make_scenario=make_scenario,
    problem_cls=TwinProblem,
    design_cls=Design,
    evaluate=evaluate,
    metrics=dict(METRIC_UNITS),
    higher_is_better=dict(HIGHER_IS_BETTER),
    summary_metrics=["sum_rate", "rate_per_vehicle", "rcrb_m"],
    designers=_designers,
    reference="exhaustive",
    load_learned=_load_learned,
    find_learned=_find_learned,
    leaderboard_scenario=_test_problem,
    bench_suites=_bench_suites(),
))
"""The registered ding_dt system."""

__all__ = ["LEADERBOARD_SETTINGS", "SYSTEM", "partner_stem"]
