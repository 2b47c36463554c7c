r"""The designers of ding_dt: RSU assignment and beams for one digital-twin slot.

Each designer is an object with a ``name`` and ``design(problem) -> Design`` on a
:class:`~isaclearn.systems.ding_dt.evaluation.TwinProblem`; the design holds the beams ``w``
``[B, I, K, N_t]`` (zero at non-serving RSUs) and ``extras["assign"]`` ``[B, K]``. Constructing
one is cheap; the work happens in ``design``. They see the *predicted* channels only (the
``genie`` designer excepted) and never compute metrics.

==============  ==============================================================================
``alg3``        Alg. 3, the paper's heuristic: distance start, flip the vehicle with the largest
                ζ gain (47) while any gain is positive, FP + PGD after every flip
                (:func:`isaclearn.solvers.assignment.assign_alg3`)
``greedy``      Alg. 2: vehicles one by one by :math:`|1/d_1 - 1/d_2|^2`, each tried at both
                RSUs with FP + PGD (:func:`~isaclearn.solvers.assignment.assign_greedy`)
``distance``    nearest RSU with the *same* FP + PGD beamformer (spec §4)
``exhaustive``  all :math:`2^K` assignments with FP + PGD, ``K ≤ 12`` (oracle; beyond the paper)
``steer``       nearest RSU, :math:`\mathbf f = \sqrt P\,\mathbf a(\hat\varphi)`, no FP (beyond
                the paper)
``genie``       Alg. 3 on the *true* channels (bounds the loss due to prediction errors)
``lstm``        the two Bi-LSTM networks of Sec. VI: assignment, then beams
                (:mod:`isaclearn.learn.bilstm`), beams projected onto ‖f‖² ≤ P
==============  ==============================================================================

All FP-based designers pass the sensing constraint of the problem (``gram``, ``threshold``; none
when ``sensing_constraint="none"``) and the FP controls of the settings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.learn.bilstm import (
    BiLstmNet,
    load_bilstm,
    predict_assignment,
    predict_beams,
)
from isaclearn.solvers.assignment import (
    AssignmentResult,
    assign_alg3,
    assign_distance,
    assign_exhaustive,
    assign_greedy,
    nearest_rsu,
)
from isaclearn.solvers.fractional import FPOptions, mrt_beams
from isaclearn.systems.ding_dt.config import DtSettings
from isaclearn.systems.ding_dt.evaluation import TwinProblem
from isaclearn.systems.ding_dt.twin import check_problem, empty_design

ASSIGNMENT_METHODS = ("alg3", "greedy", "distance", "exhaustive")
"""Designers built on :mod:`isaclearn.solvers.assignment` (FP + PGD beams)."""

DESIGNER_NOTES: dict[str, str] = {
    "alg3": "Alg. 3 heuristic assignment + FP/PGD beams (the paper's method)",
    "greedy": "Alg. 2 greedy assignment + FP/PGD beams",
    "distance": "nearest RSU + the same FP/PGD beams",
    "exhaustive": "all 2^K assignments + FP/PGD beams (K <= 12; oracle)",
    "steer": "nearest RSU, f = sqrt(P) a(phi_hat), no FP",
    "genie": "Alg. 3 on the true channels (prediction-loss bound)",
    "lstm": "Bi-LSTM assignment net, then Bi-LSTM beam net (Sec. VI)",
}
"""One line per designer for ``isaclearn list``."""


def fp_options(settings: DtSettings | None) -> FPOptions:
    """The FP iteration controls of ``settings`` (defaults without settings)."""
    if settings is None:
        return FPOptions()
    return FPOptions(max_iter=settings.fp_max_iter, tol=settings.fp_tol,
                     pgd_steps=settings.pgd_steps)


def _result_design(res: AssignmentResult, mask: torch.Tensor) -> Design:
    info = {"flips": res.flips, "fp_runs": res.fp_runs, "fp_iterations": res.fp_iterations,
            "fp_unconverged": res.fp_unconverged, "infeasible": res.infeasible,
            "active": res.active}
    return Design(w=res.beams, extras={"assign": torch.where(mask, res.assign, 0)}, info=info)


def _nothing_to_design(problem: TwinProblem) -> bool:
    return problem.num_vehicles == 0 or not bool(problem.mask.any())


class AssignmentDesigner:
    """An RSU assignment rule of :mod:`isaclearn.solvers.assignment` with FP + PGD beams.

    Parameters
    ----------
    method : {"alg3", "greedy", "distance", "exhaustive"}
        The rule (module docstring).
    settings : DtSettings or None
        FP controls (``fp_max_iter``, ``fp_tol``, ``pgd_steps``) and, for ``exhaustive``, the
        largest ``K`` (``max_exhaustive``); defaults without settings.
    name : str or None
        Name in tables (default ``method``).
    """

    def __init__(self, method: str, settings: DtSettings | None = None,
                 name: str | None = None) -> None:
        if method not in ASSIGNMENT_METHODS:
            raise ConfigError(f"unknown assignment method {method!r}; choose from "
                              f"{', '.join(ASSIGNMENT_METHODS)}")
        self.method = method
        self.settings = settings
        self.name = name or method

    def design(self, problem: TwinProblem) -> Design:
        """Assignment and beams on the predicted channels of ``problem``."""
        problem = check_problem(problem)
        if _nothing_to_design(problem):
            return empty_design(problem)
        opts = fp_options(self.settings)
        common: dict[str, Any] = {"mask": problem.mask, "gram": problem.gram,
                                  "threshold": problem.threshold, "options": opts}
        h, d = problem.h, problem.distance_m
        if self.method == "exhaustive":
            limit = self.settings.max_exhaustive if self.settings is not None else 12
            k_max = int(problem.mask.sum(1).max())
            if k_max > limit:
                raise ConfigError(f"the exhaustive designer searches 2^K assignments; K = "
                                  f"{k_max} exceeds its limit {limit} (max_exhaustive)")
            res = assign_exhaustive(_compact_h(problem), problem.noise_var, problem.power,
                                    **_compact(problem, common))
            return _uncompact(res, problem)
        fn: Callable[..., AssignmentResult] = {"alg3": assign_alg3, "greedy": assign_greedy,
                                               "distance": assign_distance}[self.method]
        return _result_design(fn(h, d, problem.noise_var, problem.power, **common),
                              problem.mask)


def _order(problem: TwinProblem) -> tuple[torch.Tensor, int]:
    """Permutation putting each instance's real vehicles first, and the largest count."""
    order = torch.sort((~problem.mask).to(torch.int8), dim=1, stable=True).indices
    return order, int(problem.mask.sum(1).max())


def _compact_h(problem: TwinProblem) -> torch.Tensor:
    order, k = _order(problem)
    bi = torch.arange(problem.batch_size)[:, None]
    return problem.h[bi, :, order[:, :k]].transpose(1, 2)


def _compact(problem: TwinProblem, common: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the exhaustive search on the real vehicles only (its cost is
    ``2^K`` in the padded ``K``)."""
    order, k = _order(problem)
    bi = torch.arange(problem.batch_size)[:, None]
    sel = order[:, :k]
    out = dict(common)
    out["mask"] = problem.mask[bi, sel]
    if problem.gram is not None and problem.threshold is not None:
        out["gram"] = problem.gram[bi, :, sel].transpose(1, 2)
        out["threshold"] = problem.threshold[bi, :, sel].transpose(1, 2)
    return out


def _uncompact(res: AssignmentResult, problem: TwinProblem) -> Design:
    order, k = _order(problem)
    bi = torch.arange(problem.batch_size)[:, None]
    sel = order[:, :k]
    w = torch.zeros_like(problem.h)
    assign = torch.zeros(problem.mask.shape, dtype=torch.int64)
    w[bi, :, sel] = res.beams.transpose(1, 2).to(w.dtype)
    assign[bi, sel] = res.assign
    info = {"fp_runs": res.fp_runs, "fp_unconverged": res.fp_unconverged}
    return Design(w=w, extras={"assign": torch.where(problem.mask, assign, 0)}, info=info)


class SteerDesigner:
    """Nearest RSU and the full-power matched beam :math:`\\sqrt P\\,\\mathbf a(\\hat\\varphi)`
    (no FP; it meets the sensing constraint wherever it is feasible, as ``a`` is the top
    eigenvector of :math:`\\mathbf\\Pi^H\\mathbf\\Pi` for ``N_t = N_r``)."""

    def __init__(self, name: str = "steer") -> None:
        self.name = name

    def design(self, problem: TwinProblem) -> Design:
        """Assignment and beams of ``problem``."""
        problem = check_problem(problem)
        if _nothing_to_design(problem):
            return empty_design(problem)
        assign = nearest_rsu(problem.distance_m, problem.mask)
        xi = (torch.arange(problem.num_rsus)[None, :, None] == assign[:, None, :]) \
            & problem.mask[:, None, :]
        w = mrt_beams(problem.h, problem.power) * xi[..., None]
        return Design(w=w, extras={"assign": assign})


class GenieDesigner:
    """A designer run on the true channels and states (:meth:`TwinProblem.genie`)."""

    def __init__(self, inner: Any, name: str = "genie") -> None:
        self.inner = inner
        self.name = name

    def design(self, problem: TwinProblem) -> Design:
        """``inner.design(problem.genie())``."""
        return self.inner.design(check_problem(problem).genie())  # type: ignore[no-any-return]


class SwitchDesigner:
    """``first`` for the first ``switch_after`` calls, ``main`` afterwards (a cheap warm-up of
    the tracks before the designer under test takes over). Counts calls, so use one instance
    per twin run.

    Parameters
    ----------
    first, main : designers
    switch_after : int
        Calls handled by ``first`` (≥ 0).
    """

    def __init__(self, first: Any, main: Any, switch_after: int) -> None:
        if switch_after < 0:
            raise ConfigError(f"switch_after must be >= 0, got {switch_after}")
        self.first = first
        self.main = main
        self.switch_after = int(switch_after)
        self.calls = 0
        self.name = getattr(main, "name", "switch")
        self.needs_features = bool(getattr(main, "needs_features", False))

    def design(self, problem: TwinProblem) -> Design:
        """Delegate (class docstring)."""
        d = self.first if self.calls < self.switch_after else self.main
        self.calls += 1
        return d.design(problem)  # type: ignore[no-any-return]


class LstmDesigner:
    """The learned designer of Sec. VI: the assignment Bi-LSTM, then the beam Bi-LSTM.

    Both networks read the same per-vehicle features (the problem's ``features``, built by the
    twin: :func:`isaclearn.learn.bilstm.vehicle_features`) with the vehicles of each instance
    sorted by their predicted position ``x``. The beam network's output (the beam at the
    serving RSU) is projected onto ‖f‖² ≤ P and placed at the RSU the assignment network chose.
    With a sensing constraint in the problem (and ``project_sensing``), each served beam is then
    projected onto ball ∩ the SCA half-space of (37) linearised at the network's beam, with Λ
    clipped to :math:`P\\lambda_{max}(1 - 10^{-6})` as in FP + PGD
    (:func:`isaclearn.solvers.fractional.project_ball_halfspace`): the closest beam to the
    network's that meets the (linearised) constraint (our choice, spec §3).

    Parameters
    ----------
    assign_net, beam_net : BiLstmNet
        ``head="assign"`` and ``head="beam"`` networks for this system's ``N_t``, ``N_r``.
    name : str
        Name in tables.
    project_sensing : bool
        Project the beams onto the sensing constraint (default True).

    Raises
    ------
    ConfigError
        Networks with the wrong heads, or built for different antenna counts.
    """

    needs_features = True

    def __init__(self, assign_net: BiLstmNet, beam_net: BiLstmNet, name: str = "lstm",
                 project_sensing: bool = True) -> None:
        if assign_net.config.head != "assign" or beam_net.config.head != "beam":
            raise ConfigError("LstmDesigner needs a head='assign' and a head='beam' network, "
                              f"got {assign_net.config.head!r} and {beam_net.config.head!r}")
        a, b = assign_net.config, beam_net.config
        if (a.num_tx, a.num_rx, a.num_rsu) != (b.num_tx, b.num_rx, b.num_rsu):
            raise ConfigError(f"the assignment and beam networks are built for different "
                              f"arrays: (N_t, N_r, I) = {(a.num_tx, a.num_rx, a.num_rsu)} and "
                              f"{(b.num_tx, b.num_rx, b.num_rsu)}")
        self.assign_net = assign_net
        self.beam_net = beam_net
        self.name = name
        self.project_sensing = project_sensing

    @property
    def num_tx(self) -> int:
        """``N_t`` the networks are built for."""
        return self.assign_net.config.num_tx

    def design(self, problem: TwinProblem) -> Design:
        """Assignment and beams from the networks (class docstring)."""
        problem = check_problem(problem)
        cfg = self.assign_net.config
        if problem.num_vehicles == 0:
            raise ConfigError("the Bi-LSTM designer needs at least one vehicle position "
                              "(K = 0); it is built for K >= 1 vehicles")
        if problem.num_tx != cfg.num_tx or problem.config.num_rx != cfg.num_rx \
                or problem.num_rsus != cfg.num_rsu:
            raise ConfigError(f"the Bi-LSTM networks are built for N_t = {cfg.num_tx}, N_r = "
                              f"{cfg.num_rx}, I = {cfg.num_rsu}; the problem has N_t = "
                              f"{problem.num_tx}, N_r = {problem.config.num_rx}, I = "
                              f"{problem.num_rsus}")
        if problem.features is None:
            raise ShapeError("the Bi-LSTM designer needs the problem's features (the twin "
                             "builds them for a designer with needs_features = True)")
        if not bool(problem.mask.any()):
            return empty_design(problem)
        design = lstm_design(self.assign_net, self.beam_net, problem)
        if self.project_sensing and problem.gram is not None:
            design = project_sensing(design, problem)
        return design


def project_sensing(design: Design, problem: TwinProblem, margin: float = 1e-6) -> Design:
    """Each served beam projected onto ball ∩ the SCA half-space of (37) at itself (see
    :class:`LstmDesigner`); pairs without a constraint (Λ ≤ 0) are left as they are."""
    from isaclearn.metrics.pcrb import angle_information_max
    from isaclearn.solvers.fractional import project_ball_halfspace, sca_halfspace

    assert problem.gram is not None and problem.threshold is not None
    cfg = problem.config
    cap = problem.power * angle_information_max(problem.state[..., 0], cfg.num_tx, cfg.num_rx)
    lam = torch.minimum(problem.threshold, cap * (1.0 - margin))
    xi = (torch.arange(problem.num_rsus)[None, :, None] == design.extras["assign"][:, None, :]) \
        & problem.mask[:, None, :]
    on = xi & (problem.threshold > 0)
    if not bool(on.any()):
        return design
    f0 = design.w[on].to(problem.gram.dtype)
    c, b = sca_halfspace(problem.gram[on], f0, lam[on])
    w = design.w.clone()
    w[on] = project_ball_halfspace(f0, c, b, math.sqrt(problem.power)).to(w.dtype)  # type: ignore[union-attr]
    return Design(w=w, extras=design.extras, info=design.info)


def lstm_design(assign_net: BiLstmNet, beam_net: BiLstmNet, problem: TwinProblem) -> Design:
    """Run both networks on the instances with vehicles (see :class:`LstmDesigner`)."""
    assert problem.features is not None
    mask = problem.mask
    lengths = mask.sum(1)
    has = lengths > 0
    rows = has.nonzero().squeeze(1)
    key = torch.where(mask, problem.x_m, torch.full_like(problem.x_m, math.inf))
    order = torch.sort(key, dim=1, stable=True).indices  # real vehicles first, by x
    k_max = int(lengths.max())
    sel = order[rows, :k_max]
    ri = rows[:, None]
    feats = problem.features[ri, sel]
    lens = lengths[rows]
    a_sorted = predict_assignment(assign_net, feats, lens)  # [S, k_max], -1 at padding
    f_sorted = predict_beams(beam_net, feats, lens, power=problem.power)  # [S, k_max, N]
    assign = nearest_rsu(problem.distance_m, mask)
    real = a_sorted >= 0
    assign[ri, sel] = torch.where(real, a_sorted.to(assign.device), assign[ri, sel])
    assign = torch.where(mask, assign, 0)
    beams = torch.zeros(mask.shape + (problem.num_tx,), dtype=problem.h.dtype)
    beams[ri, sel] = torch.where(real[..., None], f_sorted.to(beams.dtype), 0.0)
    xi = (torch.arange(problem.num_rsus)[None, :, None] == assign[:, None, :]) \
        & mask[:, None, :]
    w = torch.where(xi[..., None], beams[:, None], 0.0)
    return Design(w=w, extras={"assign": assign})


def load_lstm_designer(assign_path: str | Path, beam_path: str | Path, *, num_tx: int,
                       num_rx: int | None = None, name: str = "lstm") -> LstmDesigner:
    """An :class:`LstmDesigner` from two ``kind="bilstm"`` checkpoints.

    Parameters
    ----------
    assign_path, beam_path : str or Path
        Checkpoint stems of the assignment and beam networks.
    num_tx, num_rx : int
        The system's ``N_t`` and ``N_r`` (``num_rx`` defaults to ``num_tx``).
    name : str

    Raises
    ------
    CheckpointError
        A missing or foreign checkpoint, or one built for other ``N_t``/``N_r`` or head (one
        line naming the differing fields).
    """
    rx = num_tx if num_rx is None else num_rx
    nets = []
    for path, head in ((assign_path, "assign"), (beam_path, "beam")):
        nets.append(load_bilstm(path, expect={"num_tx": num_tx, "num_rx": rx, "head": head}))
    return LstmDesigner(nets[0], nets[1], name=name)


def make_designer(name: str, settings: DtSettings | None = None, *,
                  lstm: LstmDesigner | None = None) -> Any:
    """The designer called ``name`` (module docstring).

    Raises
    ------
    ConfigError
        An unknown name, or ``"lstm"`` without trained networks.
    """
    if name in ASSIGNMENT_METHODS:
        return AssignmentDesigner(name, settings)
    if name == "steer":
        return SteerDesigner()
    if name == "genie":
        return GenieDesigner(AssignmentDesigner("alg3", settings), name="genie")
    if name == "lstm":
        if lstm is None:
            raise ConfigError("the lstm designer needs trained Bi-LSTM networks (train them "
                              "with ding_dt.lstm_assign / ding_dt.lstm_beam or give "
                              "checkpoint_dir)")
        return lstm
    raise ConfigError(f"unknown ding_dt designer {name!r}; choose from "
                      f"{', '.join(DESIGNER_NOTES)}")


def classical_designers(settings: DtSettings | None = None) -> Mapping[str, Any]:
    """Every designer that needs no training, by name."""
    return {n: make_designer(n, settings) for n in DESIGNER_NOTES if n != "lstm"}


__all__ = [
    "ASSIGNMENT_METHODS",
    "DESIGNER_NOTES",
    "AssignmentDesigner",
    "GenieDesigner",
    "LstmDesigner",
    "SteerDesigner",
    "SwitchDesigner",
    "classical_designers",
    "fp_options",
    "load_lstm_designer",
    "lstm_design",
    "make_designer",
]
