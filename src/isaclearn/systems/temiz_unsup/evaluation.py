"""Scoring of a downlink ISAC design (temiz_unsup), built only from :mod:`isaclearn.metrics`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import fro_norm_sq
from isaclearn.metrics import crb_angle, crb_angle_approx, jain_fairness, rates
from isaclearn.systems.toolkit import finite_mean

METRIC_UNITS = {
    "sum_rate": "bit/s/Hz",
    "min_rate": "bit/s/Hz",
    "rate_fairness": "",
    "sum_crb": "rad^2",
    "sum_crb_db": "dB rad^2",
    "sum_crb_approx": "rad^2",
    "crb_fairness": "",
    "power": "W",
    "crb": "rad^2 (per target)",
    "rates": "bit/s/Hz (per user)",
}


def evaluate(problem: DownlinkProblem, design: Design | torch.Tensor) -> dict[str, torch.Tensor]:
    """All metrics of a design on the problem's *true* channels, one value per instance.

    Parameters
    ----------
    problem : DownlinkProblem
        Batch of ``B`` instances.
    design : Design or torch.Tensor
        The design, or its precoder ``w`` ``[B, M, K]``.

    Returns
    -------
    dict of str to torch.Tensor
        ``sum_rate`` (eq. 16), ``min_rate``, ``rate_fairness`` (Jain over user rates),
        ``sum_crb`` (sum over targets of eq. 5), ``sum_crb_db`` (``10 log10`` of it, as the
        paper plots), ``sum_crb_approx`` (eq. 22 summed), ``crb_fairness`` (Jain over the
        targets' exact CRBs, eq. 24), ``power`` (``||W||_F²``), ``crb`` ``[B, T]`` per target and
        ``rates`` ``[B, K]`` per user; all others ``[B]``.
    """
    w = design.w if isinstance(design, Design) else design
    expected = (problem.batch_size, problem.num_antennas, problem.num_users)
    if tuple(w.shape) != expected:
        raise ShapeError(
            f"w must have shape [B, M, K] = {expected}, got shape {tuple(w.shape)}"
        )
    h = problem.h.to(w.dtype)
    r = rates(h, w, problem.noise_var)
    crb = crb_angle(w, problem.theta, num_rx=problem.num_rx, radar_snr=problem.radar_snr,
                    num_symbols=problem.num_symbols)
    crb_apx = crb_angle_approx(w, problem.theta, radar_snr=problem.radar_snr,
                               num_symbols=problem.num_symbols)
    sum_crb = crb.sum(-1)
    return {
        "sum_rate": r.sum(-1),
        "min_rate": r.min(-1).values,
        "rate_fairness": jain_fairness(r),
        "sum_crb": sum_crb,
        "sum_crb_db": 10.0 * torch.log10(sum_crb),
        "sum_crb_approx": crb_apx.sum(-1),
        "crb_fairness": jain_fairness(crb),
        "power": fro_norm_sq(w),
        "crb": crb,
        "rates": r,
    }


def scalar_metrics(metrics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The per-instance ``[B]`` entries of :func:`evaluate` (drops ``crb`` and ``rates``)."""
    return {k: v for k, v in metrics.items() if v.dim() == 1}


ROW_COLUMNS = ("sum_rate", "sum_crb_db", "sum_crb_approx_db", "crb_fairness", "min_rate")
"""The result columns of a learned-precoder experiment row (:func:`row_metrics`)."""

_DB_OF_MEAN = {"sum_crb_db": "sum_crb", "sum_crb_approx_db": "sum_crb_approx"}


def db(x: float) -> float:
    """``10 log10(x)``, NaN for a non-positive or non-finite ``x``."""
    return 10.0 * math.log10(x) if x > 0 and math.isfinite(x) else math.nan


def row_metrics(
    metrics: Mapping[str, torch.Tensor],
    columns: Sequence[str] = ROW_COLUMNS,
    *,
    dtype: torch.dtype | None = torch.float64,
) -> dict[str, float]:
    """The result-row values of :func:`evaluate`'s per-instance metrics.

    Each column is the finite mean over the instances
    (:func:`~isaclearn.systems.toolkit.finite_mean`), except ``sum_crb_db`` and
    ``sum_crb_approx_db``: ``10 log10`` of the finite mean of the sum CRB in rad² (as the paper
    plots it), not the mean of per-instance dB values.

    Parameters
    ----------
    metrics : mapping
        The output of :func:`evaluate`.
    columns : sequence of str
        Columns, in order: any ``[B]`` metric of :func:`evaluate`, ``sum_crb_db`` or
        ``sum_crb_approx_db``.
    dtype : torch.dtype or None
        Precision of the means (``None``: the metrics' own dtype).
    """
    out: dict[str, float] = {}
    for c in columns:
        if c in _DB_OF_MEAN:
            out[c] = db(finite_mean(metrics[_DB_OF_MEAN[c]], dtype=dtype))
        elif c in metrics and metrics[c].dim() == 1:
            out[c] = finite_mean(metrics[c], dtype=dtype)
        else:
            known = [k for k, v in metrics.items() if v.dim() == 1] + list(_DB_OF_MEAN)
            raise ConfigError(f"unknown row column {c!r}; choose from {', '.join(known)}")
    return out
