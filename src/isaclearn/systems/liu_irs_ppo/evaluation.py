r"""Scoring of liu_irs_ppo designs, built only from :mod:`isaclearn.metrics` (and the Lagrangian
reward of :mod:`isaclearn.rl.primal_dual`), so that the env reward, the designers' scores and
the experiments' columns are the same functions.

A design is a :class:`~isaclearn.core.design.Design` whose ``w`` is the precoder (MISO
``[B, M, K]``; MIMO ``[B, K, M, N]``) and whose ``extras["reflection"]`` (``[B, E]`` complex,
the diagonal of V) or ``extras["phases"]`` (``[B, E]`` radians) gives the IRS; without either,
the problem's ``phases0`` (Alg. 1's V^0) are used.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from isaclearn.channels.irs import (
    IrsIsacConfig,
    IrsIsacProblem,
    IrsIsacScenario,
    cascade_direct_ratio,
    effective_channel,
)
from isaclearn.core.design import Design
from isaclearn.core.dtypes import real_dtype
from isaclearn.metrics.comm import mimo_rates, rates
from isaclearn.metrics.pattern import angle_grid, beampattern_mse, desired_pattern
from isaclearn.metrics.power import per_antenna_violation, total_power
from isaclearn.rl.primal_dual import lagrangian_reward

__all__ = ["METRIC_UNITS", "default_noise_snr_db", "evaluate", "make_scenario", "reflection_of"]

METRIC_UNITS = {
    "sum_rate": "bit/s/Hz",
    "beampattern_mse": "W^2",
    "power": "W",
    "per_antenna_violation": "W",
    "reward": "",
    "cascade_direct_ratio": "",
}
"""The metrics of :func:`evaluate` and their units."""


def make_scenario(**overrides: Any) -> IrsIsacScenario:
    """The scenario with the defaults of spec §1 (:class:`IrsIsacConfig`) and ``overrides``."""
    return IrsIsacScenario(IrsIsacConfig(**overrides))


def reflection_of(problem: IrsIsacProblem, design: Design) -> torch.Tensor:
    """The IRS reflection coefficients ``[B, E]`` a design uses (module docstring)."""
    extras = design.extras or {}
    if extras.get("reflection") is not None:
        return torch.as_tensor(extras["reflection"]).to(device=problem.h1.device)
    if extras.get("phases") is not None:
        return problem.reflection(torch.as_tensor(extras["phases"]))
    return problem.reflection(problem.phases0)


def evaluate(problem: IrsIsacProblem, design: Design, *, lam: float = 1.0,
             mu: float = 0.0) -> dict[str, torch.Tensor]:
    r"""Per-instance metrics ``[B]`` of a design.

    ``sum_rate`` (13)/(21) on the effective channel (12) (MIMO: the log-det rates),
    ``beampattern_mse`` :math:`L_r` (16) (MIMO: mean over users of :math:`L_r(\mathbf R_k)`),
    ``power`` :math:`\mathrm{tr}\,\mathbf R` (MIMO: mean per user), ``per_antenna_violation``
    of (22), ``cascade_direct_ratio`` (spec §2) and ``reward``, the per-step Lagrangian reward
    with every :math:`\lambda_k = ` ``lam`` and :math:`\mu = ` ``mu`` (defaults 1 and 0: the
    sum rate, the env's initial multipliers).
    """
    v = reflection_of(problem, design)
    h = effective_channel(problem, v)
    w = design.w.to(device=h.device)
    rdt = real_dtype(problem.h1.dtype)
    grid = angle_grid(problem.grid_step_deg, dtype=rdt, device=h.device)
    desired = desired_pattern(grid, problem.target_angles[0], problem.beam_width_rad,
                              height=problem.pattern_height)
    k = problem.num_users
    if problem.is_mimo:
        r = mimo_rates(h, w, problem.noise_var)
        l_r = beampattern_mse(w, desired, grid)  # [B, K]
        power = total_power(w).mean(-1)
        violation = per_antenna_violation(w, problem.p_max).amax(-1)
        mu_t = torch.full((k,), float(mu), dtype=rdt, device=h.device)
    else:
        r = rates(h, w, problem.noise_var)
        l_r = beampattern_mse(w, desired, grid)[:, None]
        power = total_power(w)
        violation = per_antenna_violation(w, problem.p_max)
        mu_t = torch.full((1,), float(mu), dtype=rdt, device=h.device)
    lam_t = torch.full((k,), float(lam), dtype=rdt, device=h.device)
    reward = lagrangian_reward(r.to(rdt), l_r.to(rdt), lam_t, mu_t, problem.ell)
    ratio = (torch.zeros(problem.batch_size, dtype=rdt, device=h.device)
             if not bool(v.abs().gt(0).any()) else cascade_direct_ratio(problem, v))
    return {"sum_rate": r.sum(-1), "beampattern_mse": l_r.mean(-1), "power": power,
            "per_antenna_violation": violation, "reward": reward,
            "cascade_direct_ratio": ratio}


def default_noise_snr_db(p_max_w: float, reference_p_max_w: float = 10.0,
                         reference_snr_db: float | None = None) -> float:
    r"""``snr_db`` that keeps :math:`\sigma^2` at its value for ``reference_p_max_w`` when
    :math:`P_{\max}` changes (the ``power`` sweep, Fig. 5): with ``noise="snr"``,
    :math:`\sigma^2 = P_{\max}\bar g_0/10^{\mathrm{snr}/10}`, so
    :math:`\mathrm{snr} = \mathrm{snr}_0 + 10\log_{10}(P_{\max}/P_0)`."""
    base = IrsIsacConfig().snr_db if reference_snr_db is None else reference_snr_db
    return base + 10.0 * math.log10(p_max_w / reference_p_max_w)
