"""The :class:`~isaclearn.systems.base.SystemSpec` of temiz_unsup: what the platform dispatches on.

File layout of ``isaclearn evaluate FILE`` (the default system):

==============  ===================  ====================================================
key             shape                meaning
==============  ===================  ====================================================
``H``           ``[B, K, M]``        true channels, user ``k``'s channel is row ``H[b, k, :]``
                or ``[K, M]``        (then ``B = 1``); real or complex
``W``           ``[B, M, K]``        precoders, user ``k``'s beam is column ``W[b, :, k]``
                or ``[M, K]``        (optional when the command designs its own)
``theta``       ``[T]`` or ``[B, T]``  target angles in radians, within ``[-π/2, π/2]``, real;
                                     ``[T]`` (or a 1×T row) is shared by every instance
``noise_var``   scalar               user noise variance ``σ²`` (W), > 0
``radar_snr``   scalar               radar SNR ``η`` (linear), > 0
``num_rx``      scalar               radar receive antennas ``N``, integer ≥ 1
``num_symbols`` scalar, optional     snapshots ``L``, integer ≥ 1 (default 1)
``power``       scalar, optional     power budget ``P_t`` (W), > 0 (default 1; not used in scoring)
==============  ===================  ====================================================

A MATLAB column ``theta`` of ``n`` angles is read as ``n`` angles shared by every instance when
``n ≠ B``; with ``n = B > 1`` it is ambiguous (``T = B`` shared angles, or one angle per
instance) and refused: store shared angles as a 1×T row (``theta(:).'``), one angle per instance
as an ``.npz`` array of shape ``(B, 1)`` (NumPy keeps shapes exactly, so there it is read as
``[B, T = 1]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.design import Design
from isaclearn.core.random import make_generator
from isaclearn.systems.base import (
    CliOption,
    DesignerEntry,
    FileField,
    FileFormat,
    Options,
    SystemSpec,
    register_system,
)
from isaclearn.systems.temiz_unsup.bench import PRECODERS_SUITE
from isaclearn.systems.temiz_unsup.designers import CONVEX_DESIGNERS, baseline_designers
from isaclearn.systems.temiz_unsup.evaluation import METRIC_UNITS, evaluate
from isaclearn.systems.temiz_unsup.scenario import make_scenario

PROBLEM_FIELDS = (
    FileField("H", ("B", "K", "M"), "complex", "true channels; user k's channel is row H[b, k, :]"),
    FileField("theta", ("B", "T"), "angle_rad", "target angles in radians, within [-pi/2, pi/2]; "
              "[T] or a 1xT row is shared by every instance (a .mat Bx1 column with B > 1 is "
              "refused as ambiguous)",
              batch="broadcast"),
    FileField("noise_var", (), "positive", "user noise variance sigma^2 (W)"),
    FileField("radar_snr", (), "positive", "radar SNR eta (linear)"),
    FileField("num_rx", (), "count", "radar receive antennas N"),
    FileField("num_symbols", (), "count", "snapshots L", required=False, default=1),
    FileField("power", (), "positive", "power budget P_t (W); not used in scoring",
              required=False, default=1.0),
)
DESIGN_FIELDS = (
    FileField("W", ("B", "M", "K"), "complex", "precoders; user k's beam is column W[b, :, k]"),
)


def _problem(arrays: Mapping[str, Any]) -> DownlinkProblem:
    return DownlinkProblem(
        h=torch.from_numpy(np.ascontiguousarray(arrays["H"])),
        theta=torch.from_numpy(np.ascontiguousarray(arrays["theta"])),
        power=float(arrays["power"]),
        noise_var=float(arrays["noise_var"]),
        radar_snr=float(arrays["radar_snr"]),
        num_rx=int(arrays["num_rx"]),
        num_symbols=int(arrays["num_symbols"]),
    )


def _design(arrays: Mapping[str, Any], problem: DownlinkProblem) -> Design:
    return Design(w=torch.from_numpy(np.ascontiguousarray(arrays["W"])))


def _design_arrays(design: Design) -> dict[str, Any]:
    return {"W": design.w}


def _designers() -> list[DesignerEntry]:
    from isaclearn.systems.temiz_unsup.designers import DESIGNER_NOTES

    made = baseline_designers(include_convex=True)
    return [DesignerEntry(name, _constant(d), kind="baseline", slow=name in CONVEX_DESIGNERS,
                          description=DESIGNER_NOTES.get(name, ""))
            for name, d in made.items()]


def _constant(designer: Any) -> Callable[[], Any]:
    return lambda: designer


def _dpc_bound(problem: DownlinkProblem) -> dict[str, torch.Tensor]:
    from isaclearn.solvers import dpc_sum_capacity

    return {"sum_rate": dpc_sum_capacity(problem.h, problem.power, problem.noise_var)}


def _load_learned(paths: Sequence[str], options: Options) -> dict[str, Any]:
    from isaclearn.systems.temiz_unsup.learned import learned_designers

    return learned_designers(paths, rho=getattr(options, "rho", None))


def _find_learned(folder: Path) -> list[Path]:
    from isaclearn.systems.temiz_unsup.learned import find_networks

    return find_networks(folder)


def _test_problem(options: Options) -> DownlinkProblem:
    scenario = make_scenario(10, 10, snr_db=20.0)
    return scenario.sample(int(options.batch), generator=make_generator(int(options.seed)))


SYSTEM = register_system(SystemSpec(
    name="temiz_unsup",
    paper="003: Temiz & Masouros, unsupervised deep-learning ISAC precoder",
    description="downlink multi-user, multi-target precoding: sum rate vs. angle CRB",
    make_scenario=make_scenario,
    problem_cls=DownlinkProblem,
    design_cls=Design,
    evaluate=evaluate,
    metrics=dict(METRIC_UNITS),
    higher_is_better={"sum_rate": True, "min_rate": True, "rate_fairness": True,
                      "sum_crb": False, "sum_crb_db": False, "sum_crb_approx": False,
                      "crb_fairness": True},
    summary_metrics=["sum_rate", "min_rate", "sum_crb_db", "crb_fairness", "power"],
    designers=_designers,
    bounds={"dpc_bound": _dpc_bound},
    reference="dpc_bound",
    file_format=FileFormat(PROBLEM_FIELDS, DESIGN_FIELDS, _problem, _design, _design_arrays),
    load_learned=_load_learned,
    find_learned=_find_learned,
    cli_options=[CliOption("--rho", float, "trade-off weight fed to a rho-conditioned network "
                                           "(in [0, 1])")],
    leaderboard_scenario=_test_problem,
    bench_suites=[PRECODERS_SUITE],
))
