"""The :class:`~isaclearn.systems.base.SystemSpec` of qi_uplink: what the platform dispatches on.

File layout of ``isaclearn evaluate FILE --system qi_uplink`` (``N`` = ``N_r`` receive and
``M`` = ``N_t`` transmit antennas, ``K`` users, ``L`` symbols):

===============  ==============  ==========================================================
key              shape           meaning
===============  ==============  ==========================================================
``h``            ``[B, N, K]``   true user channels; column ``k`` is ``h_k`` (eq. 6)
``r_t``          ``[B, M, M]``   target response covariance ``R_T`` (Hermitian PSD, W)
``p``            ``[B, K]``      user transmit powers (W), > 0
``power_s``      scalar          sensing power budget ``P_s`` (W), > 0
``noise_var``    scalar          noise variance per receive antenna (W), > 0
``num_symbols``  scalar          waveform length ``L`` (integer ≥ ``M``)
``alpha``        scalar, opt.    sensing weight in [0, 1] (default 0.5)
``h_est``        ``[B, N, K]``   optional channel estimate seen by the designers
``w``            ``[B, N, K]``   design: receive beams, column ``k`` for user ``k``
``s``            ``[B, L, M]``   design: sensing waveform ``S``
===============  ==============  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaclearn.channels.uplink import UplinkProblem
from isaclearn.core.design import Design
from isaclearn.core.errors import ShapeError
from isaclearn.core.random import make_generator
from isaclearn.systems.base import (
    DesignerEntry,
    FileField,
    FileFormat,
    Options,
    SystemSpec,
    register_system,
)
from isaclearn.systems.qi_uplink.bench import UPLINK_SUITE
from isaclearn.systems.qi_uplink.evaluation import METRIC_UNITS, evaluate, make_scenario

PROBLEM_FIELDS = (
    FileField("h", ("B", "N", "K"), "complex", "true user channels; column k is h_k"),
    FileField("r_t", ("B", "M", "M"), "complex", "target response covariance R_T (W)"),
    FileField("p", ("B", "K"), "positive", "user transmit powers (W)"),
    FileField("power_s", (), "positive", "sensing power budget P_s (W)"),
    FileField("noise_var", (), "positive", "noise variance per receive antenna (W)"),
    FileField("num_symbols", (), "count", "waveform length L (>= M)"),
    FileField("alpha", (), "fraction", "sensing weight", required=False, default=0.5),
    FileField("h_est", ("B", "N", "K"), "complex", "channel estimate seen by the designers",
              required=False),
)
DESIGN_FIELDS = (
    FileField("w", ("B", "N", "K"), "complex", "receive beams; column k for user k"),
    FileField("s", ("B", "L", "M"), "complex", "sensing waveform S"),
)


def _t(x: Any) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def _problem(arrays: Mapping[str, Any]) -> UplinkProblem:
    h_est = arrays.get("h_est")
    return UplinkProblem(
        h=_t(arrays["h"]), r_t=_t(arrays["r_t"]), p=_t(arrays["p"]),
        power_s=float(arrays["power_s"]), noise_var=float(arrays["noise_var"]),
        num_symbols=int(arrays["num_symbols"]), alpha=float(arrays["alpha"]),
        h_est=None if h_est is None else _t(h_est),
    )


def _design(arrays: Mapping[str, Any], problem: UplinkProblem) -> Design:
    s = _t(arrays["s"])
    if s.shape[1] != problem.num_symbols:
        raise ShapeError(f"s has L = {s.shape[1]} symbols but num_symbols = "
                         f"{problem.num_symbols}")
    return Design(w=_t(arrays["w"]), extras={"s": s})


def _design_arrays(design: Design) -> dict[str, Any]:
    return {"w": design.w, "s": design.extras["s"]}


def _designers() -> list[DesignerEntry]:
    from isaclearn.solvers.uplink import (
        ZFBF,
        Average,
        OptimalityReference,
        Traditional,
    )

    return [
        DesignerEntry("average", Average, description="equal waveform powers, MMSE beams"),
        DesignerEntry("zfbf", ZFBF,
                      description="zero-forcing beams with the waveform optimal for them"),
        DesignerEntry("traditional", Traditional,
                      description="AO + SCA (batched exact KKT subproblems)"),
        DesignerEntry("traditional_cvxpy", lambda: Traditional(backend="cvxpy"),
                      slow=True, description="AO + SCA, subproblems by CVXPY per instance"),
        DesignerEntry("reference", OptimalityReference, kind="bound",
                      description="optimality reference of problem (28) (frontier search)"),
    ]


def _load_learned(paths: Sequence[str], options: Options) -> dict[str, Any]:
    from isaclearn.learn.isacnn import LearnedUplink, load_uplink_net

    out: dict[str, Any] = {}
    for path in paths:
        stem = Path(path).name.removesuffix(".json").removesuffix(".safetensors")
        out[f"learned:{stem}"] = LearnedUplink(load_uplink_net(path),
                                                       name=f"learned:{stem}")
    return out


def _find_learned(folder: Path) -> list[Path]:
    """Trained ISACNN / FC-NN networks under ``folder``: checkpoint sidecars (``*.json``) of
    kind ``uplink_net`` (unreadable or foreign JSON files are skipped)."""
    import json

    from isaclearn.learn.isacnn import UPLINK_NET_KIND

    out: list[Path] = []
    if not Path(folder).is_dir():
        return out
    for side in sorted(Path(folder).rglob("*.json")):
        try:
            meta = json.loads(side.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("kind") == UPLINK_NET_KIND:
            out.append(side.with_suffix(""))
    return out


def _test_problem(options: Options) -> UplinkProblem:
    problem = make_scenario().sample(int(options.batch),
                                     generator=make_generator(int(options.seed)))
    return problem.to(dtype=torch.complex128)


SYSTEM = register_system(SystemSpec(
    name="qi_uplink",
    paper="002: Qi et al., deep-learning uplink ISAC (ISACNN)",
    description="uplink ISAC: sensing waveform + MMSE receive beamforming, weighted sum of "
                "normalized rates",
    make_scenario=make_scenario,
    problem_cls=UplinkProblem,
    design_cls=Design,
    evaluate=evaluate,
    metrics=dict(METRIC_UNITS),
    summary_metrics=["wsnr", "wsnr_genie", "sensing_rate", "comm_rate", "power_ratio"],
    designers=_designers,
    reference="reference",
    file_format=FileFormat(PROBLEM_FIELDS, DESIGN_FIELDS, _problem, _design, _design_arrays),
    load_learned=_load_learned,
    find_learned=_find_learned,
    leaderboard_scenario=_test_problem,
    bench_suites=[UPLINK_SUITE],
))
