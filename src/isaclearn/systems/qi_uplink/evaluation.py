"""Scenario defaults and scoring of the qi_uplink system (built from
:mod:`isaclearn.metrics.uplink`, with the normalizer :math:`M_s`, an optimum, from
:func:`isaclearn.solvers.uplink_reduced.max_sensing_rate`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from isaclearn.channels.uplink import UplinkProblem, UplinkScenario
from isaclearn.core.design import Design
from isaclearn.core.errors import ShapeError
from isaclearn.metrics.uplink import (
    comm_rate,
    max_comm_rate,
    mmse_sinr,
    rt_eig,
    sensing_gains,
    sensing_interference_power,
    sensing_rate,
    wsnr,
)
from isaclearn.solvers.uplink_reduced import max_sensing_rate
from isaclearn.systems.toolkit import finite_mean

METRIC_UNITS = {
    "wsnr": "1",
    "wsnr_genie": "1",
    "sensing_rate": "bit/s/Hz",
    "comm_rate": "bit/s/Hz per user",
    "comm_rate_genie": "bit/s/Hz per user",
    "sum_comm_rate": "bit/s/Hz",
    "m_s": "bit/s/Hz",
    "m_c": "bit/s/Hz per user",
    "power_ratio": "1",
}


def make_scenario(**overrides: Any) -> UplinkScenario:
    """The scenario of Table II (``N_t = N_r = 16``, ``K = 5``, ``d_0 = 200`` m, ``α = 0.5``,
    ``L = 20``, ``SNR_s = 10`` dB, ``SNR_c = 0`` dB) with ``overrides`` applied."""
    return UplinkScenario(**overrides)


def evaluate(problem: UplinkProblem, design: Design) -> dict[str, torch.Tensor]:
    r"""Score a design on the *true* channels; every value is ``[B]``.

    Returns
    -------
    dict
        ``sensing_rate`` — eqs. (4)–(5) for the design's waveform ``extras["s"]`` (with the
        design's SIC residual :math:`\kappa` if it declares one, else 1);
        ``comm_rate`` — eq. (8) with the design's receive beams ``w`` (computed from the CSI
        estimate under imperfect CSI); ``comm_rate_genie`` — eq. (26), i.e. the beams recomputed
        on the true channel for the same waveform; ``sum_comm_rate`` = ``K · comm_rate``;
        ``m_s``, ``m_c`` — the normalizers (eqs. 39–40, per ``problem.ms_mode``);
        ``wsnr`` — eq. (9a) with ``sensing_rate`` and ``comm_rate``; ``wsnr_genie`` — the same
        with ``comm_rate_genie`` (the quantity the paper's loss and Fig. 11 use);
        ``power_ratio`` — :math:`\mathrm{tr}(\mathbf S\mathbf S^H)/P_s`.
    """
    if "s" not in design.extras:
        raise ShapeError("an uplink design needs the waveform extras['s'] [B, L, N_t]")
    s = design.extras["s"]
    h, r_t, p = problem.h, problem.r_t, problem.p
    s2 = float(problem.noise_var)
    if s.shape[0] != problem.batch_size or s.shape[-1] != problem.num_tx:
        raise ShapeError(f"waveform must be [B={problem.batch_size}, L, N_t={problem.num_tx}], "
                         f"got {tuple(s.shape)}")
    dt = torch.promote_types(h.dtype, s.dtype)
    h, r_t, s, w = h.to(dt), r_t.to(dt), s.to(dt), design.w.to(dt)
    kappa = design.extras.get("sic_residual")
    kap: torch.Tensor | float = 1.0 if kappa is None else kappa.to(h.real.dtype)
    r_s = sensing_rate(s, r_t, h, p, s2, interference_scale=kap)
    i_s = sensing_interference_power(s, r_t)
    r_c = comm_rate(w, h, p, s2, i_s)
    r_c_genie = torch.log2(1.0 + mmse_sinr(h, p, i_s + s2)).mean(-1)
    sigma_t, _ = rt_eig(r_t)
    if problem.ms_mode == "interference_free":
        m_s = max_sensing_rate(sigma_t, float(problem.power_s), s2, problem.num_rx,
                               problem.num_symbols)
    else:
        m_s = max_sensing_rate(sigma_t, float(problem.power_s), s2, problem.num_rx,
                               problem.num_symbols, sigma_h=sensing_gains(h, p, s2))
    m_c = max_comm_rate(h, p, s2)
    a = float(problem.alpha)
    power = (s.real.square() + s.imag.square()).sum(dim=(-2, -1)) / float(problem.power_s)
    return {
        "wsnr": wsnr(r_s, r_c, m_s, m_c, a),
        "wsnr_genie": wsnr(r_s, r_c_genie, m_s, m_c, a),
        "sensing_rate": r_s,
        "comm_rate": r_c,
        "comm_rate_genie": r_c_genie,
        "sum_comm_rate": r_c * problem.num_users,
        "m_s": m_s,
        "m_c": m_c,
        "power_ratio": power,
    }


def mean_scores(metrics: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Finite batch means of :func:`evaluate`'s output, plus ``wsnr_std`` (the spread of the
    finite WSNR values over the instances; 0 for fewer than two)."""
    out = {k: finite_mean(v) for k, v in metrics.items()}
    wsnr_finite = metrics["wsnr"][torch.isfinite(metrics["wsnr"])].double()
    out["wsnr_std"] = float(wsnr_finite.std()) if wsnr_finite.numel() > 1 else 0.0
    return out
