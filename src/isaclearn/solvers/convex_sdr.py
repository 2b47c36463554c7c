r"""Rate–CRB trade-off reference by semidefinite relaxation (SDR).

Problem (temiz_unsup eqs. 5, 15; the SINR-constrained CRB minimization of Liu et al. 2020/2022):

.. math::
   \min_{\{\mathbf R_k\}}\ \sum_t \mathrm{CRB}_t(\mathbf R)\quad\text{s.t.}\quad
   \mathbf R = \sum_k \mathbf R_k,\ \ \mathbf R_k\succeq 0,\ \ \operatorname{tr}(\mathbf R)\le P,
   \ \ \frac{\mathbf h_k\mathbf R_k\mathbf h_k^H}
   {\sum_{i\ne k}\mathbf h_k\mathbf R_i\mathbf h_k^H + \sigma_k^2}\ \ge\ \Gamma_k\ \ \forall k .

With ``R_k = w_k w_k^H`` this is exactly the design of an ``M × K`` precoder ``W`` (no dedicated
sensing streams: ``R_X = W W^H``, eq. 12) under per-user SINR targets; dropping
``rank(R_k) = 1`` makes it convex, so its optimum (``relaxation_sum_crb``) is a lower bound on
the sum CRB of every precoder that meets the targets. The CRB part is the exact
Schur-complement form of :mod:`isaclearn.solvers.convex`, with the same scaling (both built
from :mod:`isaclearn.solvers.cvx_tools`); each SINR
constraint is written as ``ĥ_k R̃_k ĥ_k^H − Γ_k Σ_{i≠k} ĥ_k R̃_i ĥ_k^H ≥ Γ_k σ_k² / (P ||h_k||²)``
with ``ĥ_k = h_k/||h_k||``, ``R̃ = R/P`` and both sides divided by ``max(1, Γ_k)``.

Rank-one extraction (choice)
----------------------------
``w_k = R_k h_k^H / sqrt(h_k R_k h_k^H)`` (Liu, Huang, Li, Li, Yuan, Li, *Joint transmit
beamforming for multiuser MIMO communications and MIMO radar*, IEEE TSP 2020, Theorem 1).
It keeps every user's signal power (``|h_k w_k|² = h_k R_k h_k^H``) and, because
``R_k − w_k w_k^H ⪰ 0``, never increases any interference term, so every SINR of ``W`` is at
least that of the relaxation, i.e. ``≥ Γ_k``, whether or not the relaxation is tight. ``W`` is
then scaled up to the full power ``P`` (which raises every SINR and lowers every CRB). When
each ``R_k`` has rank one the construction returns it exactly and ``W`` attains the bound. The
alternative (principal eigenvector of each ``R_k`` with a power correction) can violate the
SINR targets when the relaxation is not tight, so it is not used.

Near the feasibility boundary the solver may stop short of full accuracy
(``optimal_inaccurate``) with a target missed by more than the ``1e-4`` tolerance. Such a
precoder is *repaired* when the instance is certified feasible: each ``R_k`` is blended with
the minimum-power solution scaled up to ``P`` (which meets every target with slack), with the
smallest weight that restores every target (the SINR constraints are affine in the ``R_k``),
and the precoder is extracted from the blend as above. ``repaired`` flags it (its sum CRB is
then slightly above the relaxation's); an instance that still misses a target stays not
feasible.

Where the relaxation is not tight, the gap between ``rank_one_sum_crb`` and
``relaxation_sum_crb`` is reported, not hidden. Note that interior-point solvers return a
point in the relative interior of the optimal set, i.e. of maximal rank: when the SINR
constraints are inactive (``Γ → 0``) the optimal ``R`` can be split among the ``R_k`` in many
ways and the returned ``R_k`` are typically not rank one, even though a rank-one optimum may
exist.

Feasibility
-----------
Before any conic solve, the minimum power needed to meet the SINR targets is computed by the
fixed-point iteration of uplink–downlink duality (Schubert & Boche 2004; Wiesel, Eldar &
Shamai 2006): from ``λ = 0``, ``λ_k ← Γ_k / ((1 + Γ_k) h̄_k (I + Σ_i λ_i h̄_i^H h̄_i)^{-1} h̄_k^H)``
with ``h̄_k = h_k/σ_k``, whose iterates increase monotonically to ``P_min = Σ_k λ_k``. An
iterate with ``Σ_k λ_k > P`` certifies infeasibility (``w`` is NaN, no conic solve); a converged
``P_min ≤ P`` certifies feasibility. The conic solver decides the few undetermined instances.

Notes
-----
One CVXPY solve per instance: the Python loop over the batch is forced by the algorithm. The
program is built once per call (DPP-compliant) and reused by every instance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import torch

from isaclearn.core.checks import as_positive_per_item, check_count, check_last_dims
from isaclearn.core.design import Design
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.units import db_to_lin
from isaclearn.metrics.comm import sinr as _sinr
from isaclearn.metrics.comm import sum_rate as _sum_rate
from isaclearn.metrics.sensing import crb_from_covariance
from isaclearn.solvers.cvx_tools import (
    SOLVED,
    InstanceLoop,
    batch_theta,
    functional,
    hermitian_vec,
    instance_loop,
    power_vector,
    psd_part,
    sensing_data,
    sensing_part,
    solve,
    solver_names,
)

__all__ = ["SdrResult", "SdrTradeoff", "sdr_boundary", "sdr_tradeoff"]

SINR_RTOL = 1e-4
"""Relative tolerance of the SINR check of the extracted precoder (``SINR_k ≥ Γ_k (1 − tol)``)."""


# --------------------------------------------------------------------------------------------
# Minimum power to meet the SINR targets (feasibility certificate)
# --------------------------------------------------------------------------------------------


def _min_power(
    h: torch.Tensor,
    gamma: torch.Tensor,
    noise_var: torch.Tensor,
    power: torch.Tensor,
    *,
    max_iter: int = 20_000,
    rtol: float = 1e-11,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Minimum total power meeting every SINR target (uplink–downlink duality fixed point).

    ``h`` ``[B, K, M]`` complex128, ``gamma`` ``[K]``, ``noise_var`` ``[B, K]``, ``power``
    ``[B]``. Returns ``(p_min, feasible, infeasible, lam)``: ``p_min`` ``[B]`` (``inf`` where
    certified infeasible, the last iterate's lower bound where undetermined), the two
    certificates as ``[B]`` bool masks (both False: undetermined) and the dual (uplink) powers
    ``lam`` ``[B, K]``.
    """
    b, k, m = h.shape
    hb = h / noise_var.sqrt()[..., None].to(h.dtype)  # h̄ = h/σ
    g = gamma.to(torch.float64).expand(b, k)
    lam = torch.zeros(b, k, dtype=torch.float64)
    eye = torch.eye(m, dtype=h.dtype)
    feasible = torch.zeros(b, dtype=torch.bool)
    infeasible = torch.zeros(b, dtype=torch.bool)
    active = torch.ones(b, dtype=torch.bool)
    for _ in range(max_iter):
        idx = active.nonzero().squeeze(-1)
        hs = hb[idx]
        s = eye + hs.conj().transpose(-2, -1) @ (lam[idx].to(h.dtype)[..., None] * hs)
        x = torch.linalg.solve(s, hs.conj().transpose(-2, -1))  # S^{-1} h̄^H: [b, M, K]
        q = (hs * x.transpose(-2, -1)).sum(-1).real  # h̄_k S^{-1} h̄_k^H
        gi = g[idx]
        new = torch.where(gi > 0, gi / ((1.0 + gi) * q), torch.zeros_like(q))
        over = new.sum(-1) > power[idx] * (1.0 + 1e-9)
        done = ((new - lam[idx]).abs() <= rtol * new).all(-1)
        lam[idx] = new
        infeasible[idx[over]] = True
        feasible[idx[done & ~over]] = True
        active[idx[over | done]] = False
        if not bool(active.any()):
            break
    p_min = lam.sum(-1)
    p_min[infeasible] = math.inf
    return p_min, feasible, infeasible, lam


def _min_power_beamformer(h: torch.Tensor, lam: torch.Tensor, gamma: torch.Tensor,
                          noise: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """Minimum-power beamformer from converged dual powers ``lam``, scaled up to ``power``.

    Directions ``u_k ∝ (I + Σ_i λ_i h̄_i^H h̄_i)^{-1} h̄_k^H`` (``h̄ = h/σ``); downlink powers solve
    ``q_k |h_k u_k|²/Γ_k − Σ_{i≠k} q_i |h_k u_i|² = σ_k²`` (every target met with equality at
    total power ``P_min``); the result is scaled to ``power`` (which only raises every SINR).
    Users with ``Γ_k = 0`` get no power. ``[b, M, K]``.
    """
    m = h.shape[-1]
    hb = h / noise.sqrt()[..., None].to(h.dtype)
    s = torch.eye(m, dtype=h.dtype) + hb.conj().transpose(-2, -1) @ (lam.to(h.dtype)[..., None]
                                                                      * hb)
    u = torch.linalg.solve(s, hb.conj().transpose(-2, -1))  # [b, M, K]
    u = u / torch.linalg.vector_norm(u, dim=-2, keepdim=True).clamp_min(1e-300)
    g = (h @ u).real.square() + (h @ u).imag.square()  # |h_k u_i|²: [b, K, K]
    active = (gamma > 0).to(g.dtype)
    f = torch.diag_embed(torch.diagonal(g, dim1=-2, dim2=-1) / gamma.clamp_min(1e-300))
    f = torch.where(torch.eye(g.shape[-1], dtype=torch.bool), f, -g)
    f = f * active[:, None] + torch.diag_embed(1.0 - active).expand_as(f)  # inactive: q_k = 0
    q = torch.linalg.solve(f, (noise * active).unsqueeze(-1)).squeeze(-1).clamp_min(0.0)
    q = q * (power / q.sum(-1).clamp_min(1e-300))[:, None]
    return u * q.sqrt().unsqueeze(-2).to(u.dtype)


def _sinr_margin(h: torch.Tensor, r_k: torch.Tensor, gamma: torch.Tensor,
                 noise: torch.Tensor) -> torch.Tensor:
    """``h_k R_k h_k^H/Γ_k − Σ_{i≠k} h_k R_i h_k^H − σ_k²`` ``[b, K]`` (``+inf`` if ``Γ_k = 0``).

    Affine in the ``R_k`` (with weights summing to one), and ``≥ 0`` iff ``SINR_k ≥ Γ_k``.
    """
    g = torch.einsum("bkm,bimn,bkn->bki", h, r_k, h.conj()).real  # g[k, i] = h_k R_i h_k^H
    sig = torch.diagonal(g, dim1=-2, dim2=-1)
    margin = sig / gamma.clamp_min(1e-300) - (g.sum(-1) - sig) - noise
    return torch.where(gamma > 0, margin, torch.full_like(margin, math.inf))


def _extract(r_k: torch.Tensor, h: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """``w_k = R_k h_k^H / sqrt(h_k R_k h_k^H)`` (0 where that is 0), scaled to ``power``.

    ``r_k`` ``[b, K, M, M]``, ``h`` ``[b, K, M]`` → ``[b, M, K]``.
    """
    v = (r_k @ h.conj().unsqueeze(-1)).squeeze(-1)  # R_k h_k^H: [b, K, M]
    s = (h * v).sum(-1).real  # h_k R_k h_k^H
    w = torch.where((s > 0)[..., None], v / s.clamp_min(1e-300).sqrt()[..., None].to(v.dtype),
                    torch.zeros_like(v)).transpose(-2, -1)
    norm = (w.real.square() + w.imag.square()).sum(dim=(-2, -1)).clamp_min(1e-300)
    return w * torch.sqrt(power / norm)[:, None, None].to(w.dtype)


# --------------------------------------------------------------------------------------------
# The relaxation
# --------------------------------------------------------------------------------------------


def _min_sinr_ratio(h: torch.Tensor, w: torch.Tensor, gamma: torch.Tensor,
                    noise: torch.Tensor) -> torch.Tensor:
    """``min_k SINR_k(w)/Γ_k`` ``[B]`` (``inf`` when every ``Γ_k = 0``; NaN rows give NaN)."""
    achieved = _sinr(h, w, noise)
    ratio = torch.where(gamma > 0, achieved / gamma.clamp_min(1e-300),
                        torch.full_like(achieved, math.inf))
    return ratio.amin(-1)


class _SdrProgram:
    """The parametrized (DPP) relaxation for fixed ``M, K, T`` and SINR targets ``Γ`` ``[K]``."""

    def __init__(self, m: int, k: int, t: int, gamma: np.ndarray) -> None:
        self.r = [cp.Variable((m, m), hermitian=True, name=f"r{i}") for i in range(k)]
        rs = cp.vstack([hermitian_vec(r) for r in self.r])  # [K, 2M²]
        objective, cons, self.coef, self.weight = sensing_part(cp.sum(rs, axis=0), m, t)
        self.hcoef = cp.Parameter((k, 2 * m * m), name="channel_coef")
        self.rhs = cp.Parameter(k, nonneg=True, name="sinr_rhs")
        # mix[i, j] / max(1, Γ_j): row j of mix.T @ rs is (r_j − Γ_j Σ_{i≠j} r_i) / max(1, Γ_j).
        mix = (np.eye(k) - gamma[None, :] * (1.0 - np.eye(k))) / np.maximum(1.0, gamma)[None, :]
        excess = mix.T @ rs
        cons += [cp.sum(cp.multiply(self.hcoef, excess), axis=1) >= self.rhs]
        cons += [r >> 0 for r in self.r]
        cons += [cp.sum(cp.hstack([cp.real(cp.trace(r)) for r in self.r])) <= 1.0]
        self.problem = cp.Problem(cp.Minimize(objective), cons)


@dataclass
class SdrResult:
    """Result of :func:`sdr_tradeoff` for a batch of ``B`` instances.

    Attributes
    ----------
    w : torch.Tensor
        Extracted precoder ``[..., M, K]`` in ``h``'s dtype, ``||w||_F² = P``; NaN where no
        solution exists (``infeasible``) or the solver failed.
    r_k : torch.Tensor
        Relaxation solution ``[..., K, M, M]`` (watts, ``Σ_k tr R_k = P``); NaN where unsolved.
    relaxation_sum_crb : torch.Tensor
        ``[...]`` sum CRB of ``R = Σ_k R_k`` (the bound), recomputed in float64; NaN if unsolved.
    rank_one_sum_crb : torch.Tensor
        ``[...]`` sum CRB of ``w w^H``, float64 recomputation.
    feasible : torch.Tensor
        ``[...]`` bool: solved, and ``w`` meets every SINR target to relative ``1e-4``.
    infeasible : torch.Tensor
        ``[...]`` bool: the SINR targets cannot be met with power ``P`` (certified by the
        minimum-power fixed point or declared by the conic solver).
    tight : torch.Tensor
        ``[...]`` bool: every ``R_k`` is rank one, ``max_k λ₂(R_k)/λ₁(R_k) < tight_tol``.
    rank_ratio : torch.Tensor
        ``[...]`` ``max_k λ₂(R_k)/λ₁(R_k)`` (0 for ``R_k = 0``).
    min_power : torch.Tensor
        ``[...]`` minimum power (watts) needed to meet the SINR targets; ``inf`` if certified
        infeasible, a lower bound where the fixed point did not converge.
    min_sinr_ratio : torch.Tensor
        ``[...]`` ``min_k SINR_k(w)/Γ_k`` on the channel given (``inf`` when every ``Γ_k = 0``).
    objective_rel_error : torch.Tensor
        ``[...]`` relative difference between the solver's objective and the float64
        recomputation of ``relaxation_sum_crb`` (an accuracy diagnostic).
    repaired : torch.Tensor
        ``[...]`` bool: the extracted precoder missed a target by more than ``1e-4`` (solver
        inaccuracy near the feasibility boundary) and was extracted instead from a blend with
        the minimum-power solution (see the module docstring).
    status : list of str
        Per instance: a CVXPY status, ``"infeasible_certified"`` or ``"solver_error"``.
    solver : list of str
        Per instance: the solver that produced the result (``""`` if none ran).
    solve_seconds : torch.Tensor
        ``[...]`` wall time of the conic solve(s) of each instance.
    """

    w: torch.Tensor
    r_k: torch.Tensor
    relaxation_sum_crb: torch.Tensor
    rank_one_sum_crb: torch.Tensor
    feasible: torch.Tensor
    infeasible: torch.Tensor
    tight: torch.Tensor
    rank_ratio: torch.Tensor
    min_power: torch.Tensor
    min_sinr_ratio: torch.Tensor
    objective_rel_error: torch.Tensor
    repaired: torch.Tensor
    status: list[str]
    solver: list[str]
    solve_seconds: torch.Tensor


def _sinr_targets(sinr_min: torch.Tensor | float, k: int) -> np.ndarray:
    g = torch.as_tensor(sinr_min, dtype=torch.float64).cpu()
    if g.is_complex() or not bool(torch.isfinite(g).all()) or not bool((g >= 0).all()):
        raise ValueRangeError("sinr_min must be finite and non-negative (linear)")
    if g.dim() > 1 or (g.dim() == 1 and g.shape[0] not in (1, k)):
        raise ShapeError(
            f"sinr_min must be a scalar or [K] with K = {k} (shared by the batch), got shape "
            f"{tuple(g.shape)}"
        )
    return g.expand(k).numpy().copy()


def _noise_matrix(noise_var: torch.Tensor | float, batch: tuple[int, ...], k: int
                  ) -> torch.Tensor:
    n = torch.as_tensor(noise_var, dtype=torch.float64).cpu()
    if n.is_complex() or not bool(torch.isfinite(n).all()) or not bool((n > 0).all()):
        raise ValueRangeError("noise_var must be finite and positive")
    if n.dim() == len(batch):
        n = n[..., None]  # per instance: broadcast over users
    try:
        return n.expand(*batch, k).reshape(-1, k).clone()
    except RuntimeError:
        raise ShapeError(
            f"noise_var must be a scalar, {list(batch)} per instance or {[*batch, k]} per user, "
            f"got shape {tuple(n.shape)}"
        ) from None


def sdr_tradeoff(
    h: torch.Tensor,
    theta: torch.Tensor | float,
    sinr_min: torch.Tensor | float,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    solver: str | Sequence[str] | None = None,
    tight_tol: float = 1e-4,
    reference: str = "center",
    spacing: float = 0.5,
    progress: InstanceLoop | None = None,
) -> SdrResult:
    r"""Minimum sum CRB under per-user SINR targets, by semidefinite relaxation.

    Solves the relaxation of the module docstring for every instance, extracts the rank-one
    precoder of Liu et al. (2020) and reports the bound, the precoder's sum CRB, tightness and
    feasibility. One CVXPY solve per instance: the loop over the batch is forced by the
    algorithm; instances certified infeasible are not solved.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]`` complex, one row per user (the channel the design may use).
    theta : torch.Tensor or float
        Target angles ``[T]`` or ``[..., T]`` in radians (``|θ| < 90°``).
    sinr_min : float or torch.Tensor
        SINR target :math:`\Gamma` (linear, ``≥ 0``): a scalar or ``[K]``, shared by the batch.
    power : float or torch.Tensor
        Power budget ``P`` (watts): scalar or ``[...]``.
    noise_var : float or torch.Tensor
        Noise variance :math:`\sigma^2` (watts): scalar, ``[...]`` or ``[..., K]``.
    num_rx : int
        Radar receive antennas ``N``.
    radar_snr : float or torch.Tensor
        :math:`\eta` (linear): scalar, ``[...]`` or ``[..., T]``.
    num_symbols : int
        Snapshots ``L``.
    solver : str or sequence of str, optional
        CVXPY solver(s) tried in order; default Clarabel, then SCS.
    tight_tol : float
        Threshold on ``max_k λ₂/λ₁`` of ``R_k`` below which the relaxation counts as tight.
    reference, spacing
        Array convention of both ULAs.
    progress : callable, optional
        Wraps the loop over the instances: ``progress(range(B))`` must yield ``0, ..., B-1`` in
        order (e.g. ``functools.partial(ctx.progress, desc=...)`` of an experiment, to show
        how far the solves are); the solver itself never prints. ``None``: a plain loop.

    Returns
    -------
    SdrResult
        See :class:`SdrResult`; tensors on ``h``'s device, reals in float64 (bounds are
        references), ``w`` in ``h``'s dtype.

    Raises
    ------
    ShapeError, ValueRangeError, ConfigError
        For malformed arguments (the message names the argument).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(1, 2, 4, dtype=torch.complex128, generator=g)
    >>> res = sdr_tradeoff(h, torch.tensor([0.3]), 1.0, 1.0, 0.1, num_rx=4, radar_snr=100.0,
    ...                    num_symbols=1)
    >>> bool(res.feasible[0]), res.w.shape
    (True, torch.Size([1, 4, 2]))
    """
    check_last_dims(h, (None, None), "h", "[..., K, M]")
    if not h.is_complex():
        raise ShapeError("h must be complex")
    if not bool(torch.isfinite(h).all()):
        raise ValueRangeError("h contains NaN or Inf")
    check_count(num_rx, "num_rx")
    check_count(num_symbols, "num_symbols")
    if not tight_tol > 0:
        raise ValueRangeError(f"tight_tol must be positive, got {tight_tol}")
    batch, k, m = tuple(h.shape[:-2]), int(h.shape[-2]), int(h.shape[-1])
    t_in = batch_theta(theta).detach().to("cpu", torch.float64)
    try:
        th = t_in.expand(*batch, t_in.shape[-1])
    except RuntimeError:
        raise ShapeError(
            f"theta must be [T] or {[*batch, 'T']} for h of shape {tuple(h.shape)}, got shape "
            f"{tuple(t_in.shape)}"
        ) from None
    t_count = int(th.shape[-1])
    th = th.reshape(-1, t_count)
    b = th.shape[0]
    hh = h.detach().to("cpu", torch.complex128).reshape(b, k, m)
    gamma = _sinr_targets(sinr_min, k)
    p = power_vector(power, batch)
    noise = _noise_matrix(noise_var, batch, k)
    eta = as_positive_per_item(radar_snr, th.reshape(*batch, t_count),
                               "radar_snr").to(torch.float64)
    eta = eta.expand(*batch, t_count).reshape(b, t_count)
    solvers = solver_names(solver)
    sens = sensing_data(th, m, p, num_rx=int(num_rx), radar_snr=eta,
                         num_symbols=int(num_symbols), reference=reference, spacing=spacing)

    # Channel data, scaled: ĥ_k = h_k/||h_k||, rhs_k = Γ_k σ_k² / (P ||h_k||² max(1, Γ_k)).
    g_t = torch.from_numpy(gamma)
    hn2 = (hh.real.square() + hh.imag.square()).sum(-1)  # [B, K]
    hhat = hh / hn2.sqrt().clamp_min(torch.finfo(torch.float64).tiny)[..., None]
    hcoef, _ = functional(hhat.conj().unsqueeze(-1) * hhat.unsqueeze(-2))  # ĥ^H ĥ: [B,K,2M²]
    rhs = torch.where(g_t > 0, g_t * noise / (p[:, None] * hn2 * g_t.clamp_min(1.0)),
                      torch.zeros_like(noise))
    rhs = torch.nan_to_num(rhs, nan=math.inf)  # h_k = 0 with Γ_k > 0: certified infeasible

    p_min, cert_ok, cert_bad, lam_dual = _min_power(hh, g_t, noise, p)

    program = _SdrProgram(m, k, t_count, gamma)
    r_out = torch.full((b, k, m, m), math.nan, dtype=torch.complex128)
    status = ["infeasible_certified" if bool(x) else "" for x in cert_bad]
    used = [""] * b
    seconds = torch.zeros(b, dtype=torch.float64)
    objective = torch.full((b,), math.nan, dtype=torch.float64)
    for i in instance_loop(b, progress):  # per-instance conic solve (forced by the algorithm)
        if cert_bad[i]:
            continue
        program.coef.value, program.weight.value = sens.coef[i], sens.weight[i]
        program.hcoef.value, program.rhs.value = hcoef[i].numpy(), rhs[i].numpy()
        status[i], used[i], seconds[i] = solve(program.problem, solvers)
        if status[i] in SOLVED and all(r.value is not None for r in program.r):
            r_out[i] = torch.from_numpy(np.stack([np.asarray(r.value) for r in program.r]))
            objective[i] = float(program.problem.value) * float(sens.crb_scale[i])
    solved = torch.tensor([s in SOLVED for s in status], dtype=torch.bool)
    infeasible = cert_bad | torch.tensor([s.startswith("infeasible") for s in status])

    # Post-process: Hermitian PSD parts, Σ_k tr R_k = P (the power constraint is active).
    r_k = torch.full_like(r_out, math.nan)
    if bool(solved.any()):
        rs = psd_part(r_out[solved]) * p[solved, None, None, None].to(torch.complex128)
        tr = torch.diagonal(rs, dim1=-2, dim2=-1).real.sum(dim=(-2, -1))
        r_k[solved] = rs * (p[solved] / tr)[:, None, None, None].to(rs.dtype)
    r_tot = r_k.sum(1)
    crb_kw: dict[str, Any] = {"num_rx": num_rx, "radar_snr": eta, "num_symbols": num_symbols,
                              "reference": reference, "spacing": spacing}
    relax = crb_from_covariance(r_tot, th, **crb_kw).sum(-1)

    # Rank-one extraction w_k = R_k h_k^H / sqrt(h_k R_k h_k^H), then full power.
    w = _extract(torch.nan_to_num(r_k), hh, p)
    w[~solved] = math.nan

    lam = torch.linalg.eigvalsh(torch.where(solved[:, None, None, None], r_k, 0.0))  # ascending
    top, second = lam[..., -1], lam[..., -2] if m > 1 else torch.zeros_like(lam[..., -1])
    ratio = torch.where(top > 0, second.clamp_min(0.0) / top.clamp_min(1e-300),
                        torch.zeros_like(top)).amax(-1)
    ratio[~solved] = math.nan
    tight = solved & (ratio < tight_tol)

    # Near the feasibility boundary the solver can stop with a slightly violated target
    # ("optimal_inaccurate"). Repair: blend each R_k with the minimum-power solution (scaled
    # to P, so every target has slack) using the smallest weight that restores every target,
    # then extract as above.
    repaired = solved & cert_ok & (_min_sinr_ratio(hh, w, g_t, noise) < 1.0 - SINR_RTOL)
    if bool(repaired.any()):
        hr, nr, pr = hh[repaired], noise[repaired], p[repaired]
        w_mp = _min_power_beamformer(hr, lam_dual[repaired], g_t, nr, pr)
        r_mp = w_mp.transpose(-2, -1).unsqueeze(-1) * w_mp.transpose(-2, -1).conj().unsqueeze(-2)
        v_sdr, v_mp = _sinr_margin(hr, r_k[repaired], g_t, nr), _sinr_margin(hr, r_mp, g_t, nr)
        need = torch.where(v_sdr < 0, -v_sdr / (v_mp - v_sdr), torch.zeros_like(v_sdr))
        alpha = torch.nan_to_num(need, nan=0.0).amax(-1).clamp(0.0, 1.0)[:, None, None, None]
        w[repaired] = _extract((1.0 - alpha) * r_k[repaired] + alpha * r_mp, hr, pr)
    min_ratio = _min_sinr_ratio(hh, w, g_t, noise)
    min_ratio[~solved] = math.nan
    feasible = solved & (min_ratio >= 1.0 - SINR_RTOL)
    rank_one = crb_from_covariance(w @ w.conj().transpose(-2, -1), th, **crb_kw).sum(-1)
    rel_err = (objective - relax).abs() / relax

    dev = h.device
    return SdrResult(
        w=w.reshape(*batch, m, k).to(device=dev, dtype=h.dtype),
        r_k=r_k.reshape(*batch, k, m, m).to(dev),
        relaxation_sum_crb=relax.reshape(batch).to(dev),
        rank_one_sum_crb=rank_one.reshape(batch).to(dev),
        feasible=feasible.reshape(batch).to(dev),
        infeasible=infeasible.reshape(batch).to(dev),
        tight=tight.reshape(batch).to(dev),
        rank_ratio=ratio.reshape(batch).to(dev),
        min_power=p_min.reshape(batch).to(dev),
        min_sinr_ratio=min_ratio.reshape(batch).to(dev),
        objective_rel_error=rel_err.reshape(batch).to(dev),
        repaired=repaired.reshape(batch).to(dev),
        status=status,
        solver=used,
        solve_seconds=seconds.reshape(batch).to(dev),
    )


def _lin(sinr_min_db: float | Sequence[float]) -> torch.Tensor:
    g = torch.as_tensor(sinr_min_db, dtype=torch.float64)
    if bool(torch.isnan(g).any()) or bool((g == math.inf).any()):
        raise ValueRangeError(f"sinr_min_db must be finite or -inf, got {sinr_min_db}")
    return db_to_lin(g)  # -inf dB -> 0


@dataclass
class SdrTradeoff:
    """Trade-off reference designer: :func:`sdr_tradeoff` at a fixed SINR target.

    Attributes
    ----------
    sinr_min_db : float or sequence of float
        SINR target :math:`\\Gamma` in dB for every user (or one per user); ``-inf`` removes
        the constraints (the relaxation is then the sensing-only minimum).
    solver : str or sequence of str or None
        CVXPY solver(s) tried in order; ``None`` means Clarabel, then SCS.
    tight_tol : float
        Threshold on ``max_k λ₂/λ₁`` of ``R_k`` for ``info["tight"]``.
    progress : callable or None
        Wrapper of the per-instance loop (see :func:`sdr_tradeoff`); not part of the design's
        definition (left out of comparisons and ``repr``).

    Notes
    -----
    ``design(problem)`` uses ``problem.csi`` and returns ``w`` ``[B, M, K]`` (NaN rows where
    ``info["feasible"]`` is False and no solution exists), ``extras["r_k"]`` ``[B, K, M, M]`` and
    ``info`` with the :class:`SdrResult` fields ``relaxation_sum_crb``, ``rank_one_sum_crb``,
    ``feasible``, ``infeasible``, ``tight``, ``rank_ratio``, ``min_power``, ``min_sinr_ratio``,
    ``objective_rel_error``, ``repaired``, ``status``, ``solver``, ``solve_seconds`` and
    ``sinr_min`` (linear).
    """

    sinr_min_db: float | Sequence[float] = 10.0
    solver: str | Sequence[str] | None = None
    tight_tol: float = 1e-4
    progress: InstanceLoop | None = field(default=None, compare=False, repr=False)
    name: str = field(default="sdr", init=False)

    def design(self, problem: Any) -> Design:
        """Solve the relaxation for every instance of ``problem`` (a ``DownlinkProblem``)."""
        h = problem.csi
        gamma = _lin(self.sinr_min_db)
        res = sdr_tradeoff(
            h, problem.theta, gamma, problem.power, problem.noise_var,
            num_rx=problem.num_rx, radar_snr=problem.radar_snr,
            num_symbols=problem.num_symbols, solver=self.solver, tight_tol=self.tight_tol,
            progress=self.progress,
        )
        info: dict[str, Any] = {
            name: getattr(res, name)
            for name in ("relaxation_sum_crb", "rank_one_sum_crb", "feasible", "infeasible",
                         "tight", "rank_ratio", "min_power", "min_sinr_ratio",
                         "objective_rel_error", "repaired", "status", "solver",
                         "solve_seconds")
        }
        info["sinr_min"] = gamma
        return Design(w=res.w, extras={"r_k": res.r_k.to(h.dtype)}, info=info)


def sdr_boundary(
    problem: Any,
    sinr_db_grid: Sequence[float] | torch.Tensor,
    *,
    solver: str | Sequence[str] | None = None,
    tight_tol: float = 1e-4,
    progress: Callable[[float], InstanceLoop | None] | None = None,
) -> list[dict[str, float]]:
    """Points of the rate–CRB boundary traced by the SDR reference over a grid of SINR targets.

    For each ``Γ`` (dB) of the grid, :class:`SdrTradeoff` designs every instance of ``problem``
    (from ``problem.csi``) and the extracted precoders are scored on the true channel
    ``problem.h`` (eqs. 15–16). Means are over the instances with ``feasible`` True, which is a
    different subset at each ``Γ`` (high targets keep only the favourable channels).

    Parameters
    ----------
    problem : DownlinkProblem
        The instances (``B`` of them; one conic solve per instance and grid point).
    sinr_db_grid : sequence of float
        SINR targets in dB, the same for every user.
    solver, tight_tol
        As in :class:`SdrTradeoff`.
    progress : callable, optional
        ``progress(sinr_db)`` gives the wrapper of the per-instance loop at that target (see
        :func:`sdr_tradeoff`), or ``None``.

    Returns
    -------
    list of dict
        One tidy row per grid point with keys ``sinr_min_db``, ``sum_rate`` (bit/s/Hz, mean of
        the extracted precoders), ``relaxation_sum_crb`` and ``rank_one_sum_crb`` (rad², means),
        ``fraction_feasible``, ``fraction_tight`` (among feasible) and ``num_feasible``. Means of
        an empty set are NaN.
    """
    rows: list[dict[str, float]] = []
    for g_db in [float(x) for x in torch.as_tensor(sinr_db_grid, dtype=torch.float64).flatten()]:
        loop = progress(g_db) if progress is not None else None
        design = SdrTradeoff(sinr_min_db=g_db, solver=solver, tight_tol=tight_tol,
                             progress=loop).design(problem)
        ok = design.info["feasible"]
        n_ok = int(ok.sum())

        def mean(x: torch.Tensor, ok: torch.Tensor = ok, n_ok: int = n_ok) -> float:
            return float(x[ok].to(torch.float64).mean()) if n_ok else math.nan

        rate = _sum_rate(problem.h[ok].to(torch.complex128),
                         design.w[ok].to(torch.complex128), problem.noise_var)
        rows.append({
            "sinr_min_db": g_db,
            "sum_rate": float(rate.mean()) if n_ok else math.nan,
            "relaxation_sum_crb": mean(design.info["relaxation_sum_crb"]),
            "rank_one_sum_crb": mean(design.info["rank_one_sum_crb"]),
            "fraction_feasible": n_ok / problem.batch_size,
            "fraction_tight": mean(design.info["tight"].to(torch.float64)),
            "num_feasible": float(n_ok),
        })
    return rows
