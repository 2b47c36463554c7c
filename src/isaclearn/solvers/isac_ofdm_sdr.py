r"""Stage I of the Opt baseline (yang_som, ``shared/papers/000_e47146536a3e5322.txt``, Alg. 1,
eqs. 14–15): per-subcarrier SDR of the fully digital ISAC precoders.

Problem (15), per subcarrier ``m`` (spec §4, §6.8 readings)
-----------------------------------------------------------
For a fixed SINR target :math:`\tau` (on a grid: :math:`\tau` and :math:`\zeta` both free would
be bilinear),

.. math::
   \max_{\{\mathbf W_{m,u}\succeq 0\}}\ \zeta_m\quad\text{s.t.}\quad
   \begin{bmatrix}\operatorname{tr}(\dot{\mathbf A}^H\dot{\mathbf A}\mathbf W_m) - \zeta_m &
   \operatorname{tr}(\dot{\mathbf A}^H\mathbf A\mathbf W_m)\\ \cdot &
   \operatorname{tr}(\mathbf A^H\mathbf A\mathbf W_m)\end{bmatrix}\succeq 0\ (15c),\quad
   \frac{\mathbf h_{m,u}\mathbf W_{m,u}\mathbf h_{m,u}^H}
   {\sum_{i\ne u}\mathbf h_{m,u}\mathbf W_{m,i}\mathbf h_{m,u}^H + \sigma_c^2 + I_{m,u}}\ge\tau
   \ (15d),\quad \sum_u\operatorname{tr}\mathbf W_{m,u} = P_t/S,

with :math:`\mathbf W_m = \sum_u\mathbf W_{m,u}`, :math:`\mathbf A = \mathbf a_r(\theta_s)
\mathbf a_t^H(\theta_s)`, :math:`[\mathbf a_t(\theta)]_i = N_t^{-1/2}e^{-j i\pi\sin\theta}`
(0-based ``i``; first-element reference, sign −1, unit norm; the same for :math:`\mathbf a_r`
with :math:`N_r`), :math:`\mathbf h_{m,u} = \mathbf H_m[m][u,:]` the ICI-free channel and
:math:`I_{m,u} = \sum_{k\ne m}\sum_{u'}|\mathbf H_m[k][u,:]\mathbf w_{k,u'}|^2` the
inter-carrier interference of a previous iterate, added to the noise (spec §4: the joint (14a)
would couple the subcarriers; the paper's complexity implies ``S`` separate SDPs). The Fisher
information of subcarrier ``m`` (10) is :math:`J_m = g_m\,\zeta_m` with the radar gain
:math:`g_m = 2|\alpha_m|^2/\sigma_s^2` (times ``L`` if wanted), a per-subcarrier constant.
Rank one is restored by Liu et al. 2020, Thm. 1 (``w_u = W_u h_u^H/sqrt(h_u W_u h_u^H)``, which
keeps every SINR ≥ τ), then scaled to the full power.

Over the grid, each instance takes the :math:`\tau` that maximizes (15b)

.. math::
   \omega(\tau) = \psi\frac{K S\log_2(1+\tau)}{R^*} + (1-\psi)\frac{\sum_m J_m}{J^*},

with the wideband normalizers :math:`R^*` (bit per OFDM symbol, the SE (8) of the fully digital
WMMSE) and :math:`J^* = \sum_m J_m^*` passed in. ``utility`` is :math:`\omega` at the extracted
rank-one precoder, ``utility_relaxation`` at the relaxation's :math:`\mathbf W`; every extracted
precoder is feasible for the relaxation, so ``utility ≤ utility_relaxation`` (up to the solver's
tolerance).

Implementation
--------------
The SDP is :func:`isaclearn.solvers.convex_sdr.sdr_tradeoff` (one target: minimizing the CRB is
maximizing :math:`\zeta`; its feasibility certificate, repair and rank-one extraction are
reused). That function's arrays have phase sign +1; with sign −1 every steering vector is the
complex conjugate of the sign +1 one, and :math:`J(\mathbf R; \bar{\mathbf a}) =
J(\bar{\mathbf R}; \mathbf a)`, :math:`\bar{\mathbf h}\bar{\mathbf R}\bar{\mathbf h}^H =
\mathbf h\mathbf R\mathbf h^H`, so the program is solved for :math:`\bar{\mathbf h}` and the
solution conjugated back (exact; no change to the shared modules). The unit-norm scaling of
:math:`\mathbf a_t, \mathbf a_r` is a constant factor that the CRB program ignores and that
:func:`fisher_schur` applies.

Joint ICI (``ici="joint"``, spec §4: "option ``opt_ici="joint"`` (one coupled SDP) for toy
sizes")
----------------------------------------------------------------------------------------------
Instead of ``S`` programs with the ICI of a previous iterate in the noise, one program over all
subcarriers whose SINR constraints count the ICI of the program's own variables: for a fixed
:math:`\tau` the ICI term :math:`\sum_{k\ne m}\sum_{u'}\mathbf h_{m,k,u}\mathbf W_{k,u'}
\mathbf h_{m,k,u}^H` is linear in :math:`\mathbf W`, so (15d) with the exact ICI of (7)

.. math::
   \mathbf h_{m,u}\mathbf W_{m,u}\mathbf h_{m,u}^H \ge \tau\Big(\sum_{i\ne u}
   \mathbf h_{m,u}\mathbf W_{m,i}\mathbf h_{m,u}^H + \sigma_c^2 + \sum_{k\ne m}\sum_{u'}
   \mathbf h_{m,k,u}\mathbf W_{k,u'}\mathbf h_{m,k,u}^H\Big)\quad\forall m, u

is still an SDP constraint (:math:`\mathbf h_{m,k,u} = \mathbf H_m[k][u,:]`, ``h_ici``). The
objective is the sensing part of (15b) at that :math:`\tau`, :math:`\max\sum_m g_m\zeta_m`,
with (15c) per subcarrier and the per-subcarrier power :math:`\sum_u\operatorname{tr}
\mathbf W_{m,u}\le P_t/S` of the default (so with no ICI the program splits into the ``S``
per-subcarrier programs and has their optimum). It is written directly with the sign −1 arrays
(no conjugation), the SINR rows scaled as in :mod:`~isaclearn.solvers.convex_sdr` (divided by
:math:`P_t/S\,\|\mathbf h_{m,u}\|^2\max(1,\tau)`) and the Fisher rows by the conditioning
constants of the direct test. The rank-one extraction of Liu et al. keeps every signal power
and lowers every interference term, ICI included (:math:`\mathbf w\mathbf w^H\preceq
\mathbf W_{k,u'}`), so the extracted precoder meets every SINR :math:`\ge\tau` with ICI.
Scaling each subcarrier to :math:`P_t/S` as the default does could break a constraint through
the ICI, so the subcarrier powers are chosen by a small LP instead: with the extracted
directions scaled to :math:`P_t/S` and :math:`y_m\in[0,1]` the power fraction of subcarrier
``m``, every SINR constraint with ICI is linear in ``y``,
:math:`y_m(a_{m,u} - \tau b_{m,u}) - \tau\sum_{k\ne m}y_k d_{m,k,u}\ge\tau\sigma^2`, and the
objective :math:`\sum_m y_m J_m` (the Fisher information is linear in the power) is maximized
(scipy HiGHS). The unscaled extraction is a feasible point, so the LP is feasible; without ICI
its optimum is ``y = 1`` (every subcarrier at :math:`P_t/S`, the default's scaling); if the LP
fails, one common factor (always feasible) is used. Stage II renormalizes the total power.
``feasible`` is checked on the SINR recomputed with ICI (relative ``1e-4``).

Size limit (:data:`JOINT_MAX_SIZE`): the program has :math:`SK` PSD blocks of size :math:`N_t`
and dense SINR data of :math:`(SK)^2\cdot 2N_t^2` numbers; one Clarabel solve took 1.0 / 1.8 /
4.4–5.0 / 14 s at :math:`SKN_t^2` = 512 / 1024 (quick sizes) / 2048 / 4096 on the shared 2-core
machine (session 18), i.e. it grows faster than linearly, and the Opt frame solves it once per
SINR target and solved subframe. Above :math:`SKN_t^2 = 4096` (4× the quick sizes) the call is
refused; the paper sizes (:math:`32\cdot 8\cdot 32^2 = 262144`) are far out of reach. CVXPY
parameters (DPP) are not used here: compiling the dense parametrized SINR matrix took 33 s at
the quick sizes, longer than building the program with constants for every solve.

Notes
-----
One CVXPY solve per (instance, subcarrier, grid point, ICI round) (``ici="iterate"``) or per
(instance, grid point) (``ici="joint"``): the Python loop is forced by the algorithm (cost
:math:`O(S N_t^{3.5}\log 1/\epsilon)` per grid point and round for the default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.convex_sdr import SINR_RTOL, sdr_tradeoff
from isaclearn.solvers.cvx_tools import (
    SOLVED,
    InstanceLoop,
    functional,
    hermitian_vec,
    instance_loop,
    psd_part,
    solve,
    solver_names,
)

__all__ = ["ICI_MODES", "JOINT_MAX_SIZE", "OfdmSdrResult", "fisher_schur", "ici_power",
           "ofdm_isac_sdr"]

ICI_MODES = ("iterate", "joint")
"""Values of ``ici`` of :func:`ofdm_isac_sdr`: ``"iterate"`` (per-subcarrier SDPs, the ICI of a
previous iterate in the noise; ignored with one round and no ``w_init``) and ``"joint"`` (one
coupled SDP with the exact ICI, module docstring)."""

JOINT_MAX_SIZE = 4096
"""Largest :math:`S K N_t^2` that ``ici="joint"`` accepts (module docstring "Joint ICI")."""


def fisher_schur(r: torch.Tensor, theta: torch.Tensor, num_rx: int) -> torch.Tensor:
    r"""Schur-complement Fisher term of (10)/(15c) for transmit covariances ``r``.

    .. math::
       \zeta(\mathbf R) = \operatorname{tr}(\dot{\mathbf A}^H\dot{\mathbf A}\mathbf R)
       - \frac{|\operatorname{tr}(\dot{\mathbf A}^H\mathbf A\mathbf R)|^2}
              {\operatorname{tr}(\mathbf A^H\mathbf A\mathbf R)},\qquad
       \mathbf A = \mathbf a_r(\theta)\mathbf a_t^H(\theta)

    (first-element reference, sign −1, unit-norm ULAs; :math:`J_m = 2|\alpha_m|^2/\sigma_s^2\cdot
    \zeta(\mathbf R_{x,m})`).

    Parameters
    ----------
    r : torch.Tensor
        ``[..., M, M]`` complex Hermitian PSD.
    theta : torch.Tensor
        ``[...]`` target angle (radians), broadcasting against ``r.shape[:-2]``.
    num_rx : int
        Receive antennas :math:`N_r`.

    Returns
    -------
    torch.Tensor
        ``[...]`` real.

    Examples
    --------
    >>> import torch
    >>> th = torch.tensor(0.3, dtype=torch.float64)
    >>> float(fisher_schur(torch.eye(4, dtype=torch.complex128), th, 4)) > 0
    True
    """
    check_count(num_rx, "num_rx")
    m = r.shape[-1]
    th = torch.as_tensor(theta, dtype=r.real.dtype, device=r.device)
    a, da, b, db = (fn(n, th, reference="first", sign=-1, normalize=True)
                    for n in (m, num_rx) for fn in (ula, ula_derivative))
    a, da, b, db = (x.to(r.dtype) for x in (a, da, b, db))

    def quad(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # x^H R y
        return (x.conj().unsqueeze(-2) @ r @ y.unsqueeze(-1)).squeeze(-1).squeeze(-1)

    bb = (b.abs() ** 2).sum(-1)
    dbdb = (db.abs() ** 2).sum(-1)
    bdb = (b.conj() * db).sum(-1)  # b^H ḃ
    # A = b a^H, Ȧ = ḃ a^H + b ȧ^H: traces via a^H R a style terms.
    raa, rda, rdd = quad(a, a).real, quad(da, a), quad(da, da).real  # a^H R a, ȧ^H R a, ȧ^H R ȧ
    t_aa = bb * raa  # tr(A^H A R)
    t_dd = dbdb * raa + bb * rdd + 2.0 * (bdb.conj() * rda).real  # tr(Ȧ^H Ȧ R)
    t_da = bdb.conj() * raa + bb * rda.conj()  # tr(Ȧ^H A R)
    return t_dd - t_da.abs() ** 2 / t_aa


def ici_power(h_ici: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""Inter-carrier interference power per user and subcarrier (the ICI term of (7)).

    .. math:: I_{m,u} = \sum_{k\ne m}\sum_{u'}|\mathbf H_m[k][u,:]\,\mathbf w_{k,u'}|^2

    Parameters
    ----------
    h_ici : torch.Tensor
        ``[B, S, S, K, M]`` complex: ``h_ici[b, m, k]`` = :math:`\mathbf H_m[k]` (receive bin
        ``m``, transmit subcarrier ``k``), eq. (5).
    w : torch.Tensor
        ``[B, S, M, K]`` complex precoders (same scale as the noise they are compared with).

    Returns
    -------
    torch.Tensor
        ``[B, S, K]`` real.

    Examples
    --------
    >>> import torch
    >>> h = torch.zeros(1, 2, 2, 1, 3, dtype=torch.complex128); h[0, 0, 1, 0, 0] = 2.0
    >>> ici_power(h, torch.ones(1, 2, 3, 1, dtype=torch.complex128)).flatten().tolist()
    [4.0, 0.0]
    """
    if h_ici.dim() != 5 or w.dim() != 4 or h_ici.shape[1] != h_ici.shape[2] or \
            h_ici.shape[0] != w.shape[0] or h_ici.shape[2] != w.shape[1] or \
            h_ici.shape[-1] != w.shape[-2]:
        raise ShapeError(f"h_ici must be [B, S, S, K, M] and w [B, S, M, K]; got "
                         f"{tuple(h_ici.shape)} and {tuple(w.shape)}")
    y = torch.einsum("bxyun,byni->bxyui", h_ici, w.to(h_ici.dtype))  # [B, S, S, K, K']
    pw = (y.abs() ** 2).sum(-1)  # [B, S(rx), S(tx), K]
    s = h_ici.shape[1]
    off = ~torch.eye(s, dtype=torch.bool, device=h_ici.device)
    return (pw * off[None, :, :, None].to(pw.dtype)).sum(2)


@dataclass
class OfdmSdrResult:
    """Result of :func:`ofdm_isac_sdr` (``B`` instances, ``S`` subcarriers, ``G`` targets τ).

    Attributes
    ----------
    w : torch.Tensor
        ``[B, S, M, K]`` extracted fully digital precoders (watts: ``||w_m||_F² = P_t/S``) at
        the selected τ; NaN where no τ of the grid is feasible.
    tau : torch.Tensor
        ``[B]`` selected SINR target (linear; NaN if none feasible).
    utility, utility_relaxation : torch.Tensor
        ``[B]`` ω (15b) at the extracted precoder and at the relaxation, selected τ.
    fisher, fisher_relaxation : torch.Tensor
        ``[B, S]`` :math:`J_m` (radar gain × :func:`fisher_schur`) of the extracted precoder
        and of the relaxation's :math:`\\mathbf W_m`, selected τ.
    feasible : torch.Tensor
        ``[B]`` bool: some τ of the grid met every SINR target on every subcarrier.
    noise : torch.Tensor
        ``[B, S, K]`` noise + ICI power used in the SINR constraints of the last round.
    utility_grid, utility_relaxation_grid : torch.Tensor
        ``[B, G]`` ω at every grid point of the last round (``-inf`` where infeasible).
    feasible_grid : torch.Tensor
        ``[B, G]`` bool.
    solve_seconds : torch.Tensor
        ``[B, S]`` total conic solve time per subcarrier (all grid points and rounds).
    """

    w: torch.Tensor
    tau: torch.Tensor
    utility: torch.Tensor
    utility_relaxation: torch.Tensor
    fisher: torch.Tensor
    fisher_relaxation: torch.Tensor
    feasible: torch.Tensor
    noise: torch.Tensor
    utility_grid: torch.Tensor
    utility_relaxation_grid: torch.Tensor
    feasible_grid: torch.Tensor
    solve_seconds: torch.Tensor


@dataclass
class _Selection:
    """The τ picked per instance from the grid's results (shapes of :class:`OfdmSdrResult`)."""

    w: torch.Tensor  # [B, S, M, K], NaN where infeasible
    pick: torch.Tensor  # [B] grid index
    feasible: torch.Tensor  # [B]
    feasible_grid: torch.Tensor  # [B, G]
    u_ext: torch.Tensor  # [B, G]
    u_rel: torch.Tensor  # [B, G]
    j_ext: torch.Tensor  # [B, S, G]
    j_rel: torch.Tensor  # [B, S, G]


def _select(ws: list[torch.Tensor], fish: list[torch.Tensor], fish_rel: list[torch.Tensor],
            ok: list[torch.Tensor], rate_term: torch.Tensor, psi: float, j_norm: torch.Tensor,
            select: str) -> _Selection:
    """Utility (15b) of every grid point and the τ that maximizes it (lists over the grid of
    ``[B, S, M, K]`` precoders, ``[B, S]`` Fisher values and ``[B]`` feasibility)."""
    feasible_grid = torch.stack(ok, -1)  # [B, G]
    j_ext_g, j_rel_g = torch.stack(fish, -1), torch.stack(fish_rel, -1)  # [B, S, G]
    u_ext = rate_term + (1.0 - psi) * j_ext_g.sum(1) / j_norm[:, None]
    u_rel = rate_term + (1.0 - psi) * j_rel_g.sum(1) / j_norm[:, None]
    u_ext = torch.where(feasible_grid, u_ext, -math.inf)
    u_rel = torch.where(feasible_grid, u_rel, -math.inf)
    pick = (u_ext if select == "extracted" else u_rel).argmax(-1)  # [B]
    rows = torch.arange(pick.shape[0])
    w_all = torch.stack(ws, -1)  # [B, S, M, K, G]
    w_sel = w_all.permute(0, 4, 1, 2, 3)[rows, pick]
    feasible = feasible_grid.any(-1)
    w_sel[~feasible] = math.nan
    return _Selection(w_sel, pick, feasible, feasible_grid, u_ext, u_rel, j_ext_g, j_rel_g)


def _result(sel: _Selection, grid: torch.Tensor, noise: torch.Tensor, seconds: torch.Tensor,
            device: torch.device, dtype: torch.dtype) -> OfdmSdrResult:
    b = sel.pick.shape[0]
    rows, pick, feasible = torch.arange(b), sel.pick, sel.feasible
    nan = torch.full((b,), math.nan, dtype=torch.float64)
    return OfdmSdrResult(
        w=sel.w.to(device=device, dtype=dtype),
        tau=torch.where(feasible, grid[pick], nan),
        utility=torch.where(feasible, sel.u_ext[rows, pick], nan),
        utility_relaxation=torch.where(feasible, sel.u_rel[rows, pick], nan),
        fisher=sel.j_ext.permute(0, 2, 1)[rows, pick],
        fisher_relaxation=sel.j_rel.permute(0, 2, 1)[rows, pick],
        feasible=feasible,
        noise=noise,
        utility_grid=sel.u_ext,
        utility_relaxation_grid=sel.u_rel,
        feasible_grid=sel.feasible_grid,
        solve_seconds=seconds,
    )


def _ofdm_isac_sdr_joint(hh: torch.Tensor, h_ici: torch.Tensor, th: torch.Tensor,
                         p_tot: torch.Tensor, noise: torch.Tensor, gain: torch.Tensor,
                         grid: torch.Tensor, psi: float, r_norm: torch.Tensor,
                         j_norm: torch.Tensor, num_rx: int, select: str,
                         solvers: tuple[str, ...], progress: InstanceLoop | None,
                         device: torch.device, dtype: torch.dtype) -> OfdmSdrResult:
    """:func:`ofdm_isac_sdr` with ``ici="joint"`` (checked, CPU complex128 inputs)."""
    b, s, k, m = hh.shape
    p_sub = p_tot / s  # [B]
    seconds = torch.zeros(b, s, dtype=torch.float64)
    rate_term = psi * k * s * torch.log2(1.0 + grid)[None, :] / r_norm[:, None]  # [B, G]
    ws, fish, fish_rel, ok = [], [], [], []
    for tau in grid.tolist():
        r_k = torch.full((b, s, k, m, m), math.nan, dtype=torch.complex128)
        solved = torch.zeros(b, dtype=torch.bool)
        for i in instance_loop(b, progress):  # one coupled conic solve per instance
            r_i, sec = _joint_relaxation(hh[i], h_ici[i], float(th[i]), tau, float(p_sub[i]),
                                         noise[i], gain[i], num_rx, solvers)
            seconds[i] += sec / s
            if r_i is not None:
                r_k[i], solved[i] = r_i, True
        w = _joint_extract(torch.nan_to_num(r_k), hh, h_ici, noise, tau, p_sub, gain, th,
                           num_rx, solved)
        sinr = _sinr_with_ici(hh, h_ici, w, noise)
        feas = solved & (sinr >= tau * (1.0 - SINR_RTOL)).flatten(1).all(-1)
        w[~solved] = math.nan
        r_rel = torch.nan_to_num(r_k).sum(2)  # [B, S, M, M]
        j_ext = gain * fisher_schur(w.nan_to_num() @ w.nan_to_num().conj().transpose(-2, -1),
                                    th[:, None], num_rx)
        j_rel = gain * fisher_schur(r_rel, th[:, None], num_rx)
        ws.append(w)
        fish.append(j_ext)
        fish_rel.append(j_rel)
        ok.append(feas)
    sel = _select(ws, fish, fish_rel, ok, rate_term, psi, j_norm, select)
    noise_sel = noise + ici_power(h_ici, torch.nan_to_num(sel.w))
    return _result(sel, grid, noise_sel, seconds, device, dtype)


def _per_instance(x: torch.Tensor | float, b: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).cpu()
    if t.is_complex() or not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    if t.dim() > 1 or (t.dim() == 1 and t.shape[0] not in (1, b)):
        raise ShapeError(f"{name} must be a scalar or [B] with B = {b}, got {tuple(t.shape)}")
    return t.expand(b).clone()


def _sensing_rows(theta: float, m: int, num_rx: int) -> np.ndarray:
    """Rows ``[f̃, Re c̃, Im c̃, ã]`` ``[4, 2M²]`` of the traces of (15c) on the real vector of
    ``W`` (sign −1, first-element, unit-norm arrays), each divided by its conditioning constant
    (``s_f``, ``s_c``, ``s_a``; then ``ζ = s_f (f̃ − |c̃|²/ã)``)."""
    th = torch.tensor(theta, dtype=torch.float64)
    kw = {"reference": "first", "sign": -1, "normalize": True}
    a, da = ula(m, th, **kw), ula_derivative(m, th, **kw)  # type: ignore[arg-type]
    b, db = ula(num_rx, th, **kw), ula_derivative(num_rx, th, **kw)  # type: ignore[arg-type]
    big_a = b[:, None] * a.conj()[None, :]  # A = a_r a_t^H
    big_da = db[:, None] * a.conj()[None, :] + b[:, None] * da.conj()[None, :]
    q_dd = big_da.conj().T @ big_da
    q_da = big_da.conj().T @ big_a
    q_aa = big_a.conj().T @ big_a
    s_f = float(torch.diagonal(q_dd).real.sum()) / m
    s_a = float(torch.diagonal(q_aa).real.sum()) / m
    s_c = math.sqrt(s_f * s_a)
    f_re, _ = functional(q_dd / s_f)
    c_re, c_im = functional(q_da / s_c)
    a_re, _ = functional(q_aa / s_a)
    return torch.stack([f_re, c_re, c_im, a_re]).numpy()


def _joint_sinr_rows(h: torch.Tensor, h_ici: torch.Tensor, tau: float, p_sub: float,
                     noise: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Scaled SINR constraints of the joint program: ``C x ≥ rhs`` with ``x`` the real vectors of
    the ``W̃_{k,u'} = W_{k,u'}/(P/S)`` stacked in (subcarrier, user) order.

    ``h`` ``[S, K, M]``, ``h_ici`` ``[S, S, K, M]``, ``noise`` ``[S, K]``; returns ``C``
    ``[S K, S K · 2M²]`` and ``rhs`` ``[S K]``. Row ``(m, u)`` is
    ``(ĥ W̃_u ĥ^H − τ Σ_{i≠u} ĥ W̃_i ĥ^H − τ Σ_{k≠m, u'} ĝ_k W̃_{k,u'} ĝ_k^H) / max(1, τ)`` with
    ``ĥ = h_{m,u}/||h_{m,u}||``, ``ĝ_k = h_{m,k,u}/||h_{m,u}||``, and
    ``rhs = τ σ²_{m,u} / (P/S ||h_{m,u}||² max(1, τ))``.
    """
    s, k, m = h.shape
    hn = torch.linalg.vector_norm(h, dim=-1)  # [S, K]
    hat = h / hn[..., None]
    g = h_ici / hn[:, None, :, None]  # [S(m), S(k), K(u), M]
    q_sig, _ = functional(hat.conj()[..., :, None] * hat[..., None, :])  # [S, K, 2M²]
    q_ici, _ = functional(g.conj()[..., :, None] * g[..., None, :])  # [S, S, K, 2M²]
    c = -tau * q_ici.permute(0, 2, 1, 3)[:, :, :, None, :].expand(s, k, s, k, 2 * m * m)
    c = c.clone()  # [S(m), K(u), S(k), K(u'), 2M²]
    for j in range(s):  # subcarrier m = k: the signal and the inter-user terms (no ICI)
        c[j, :, j] = -tau * q_sig[j][:, None, :].expand(k, k, 2 * m * m)
        c[j, torch.arange(k), j, torch.arange(k)] = q_sig[j]
    scale = max(1.0, tau)
    rhs = tau * noise / (p_sub * hn.square() * scale)
    return (c / scale).reshape(s * k, s * k * 2 * m * m).numpy(), rhs.reshape(-1).numpy()


def _joint_relaxation(h: torch.Tensor, h_ici: torch.Tensor, theta: float, tau: float,
                      p_sub: float, noise: torch.Tensor, gain: torch.Tensor, num_rx: int,
                      solvers: tuple[str, ...]) -> tuple[torch.Tensor | None, float]:
    """Solve the joint program (module docstring "Joint ICI") of one instance at one ``τ``.

    ``h`` ``[S, K, M]``, ``h_ici`` ``[S, S, K, M]`` (complex128), ``noise`` ``[S, K]``, ``gain``
    ``[S]`` radar gains :math:`g_m`. Returns the relaxation's ``W`` ``[S, K, M, M]`` (watts,
    PSD parts; ``None`` if not solved) and the solve seconds.
    """
    s, k, m = h.shape
    if tau > 0 and not bool((torch.linalg.vector_norm(h, dim=-1) > 0).all()):
        return None, 0.0  # a user without a channel cannot reach τ > 0
    rows = _sensing_rows(theta, m, num_rx)
    w = [cp.Variable((m, m), hermitian=True) for _ in range(s * k)]
    u = cp.Variable(s)
    cons: list[cp.Constraint] = [x >> 0 for x in w]
    if tau > 0:  # τ = 0: every SINR constraint reads h W h^H ≥ 0, true for W ⪰ 0
        c, rhs = _joint_sinr_rows(h, h_ici, tau, p_sub, noise)
        cons.append(c @ cp.hstack([hermitian_vec(x) for x in w]) >= rhs)
    for j in range(s):
        w_m: Any = w[j * k]  # W̃_m = Σ_u W̃_{m,u}
        for i in range(1, k):
            w_m = w_m + w[j * k + i]
        z = rows @ hermitian_vec(w_m)
        cons.append(cp.quad_over_lin(cp.hstack([z[1], z[2]]), z[3]) <= z[0] - u[j])
        cons.append(cp.sum(cp.hstack([cp.real(cp.trace(w[j * k + i])) for i in range(k)]))
                    <= 1.0)
    weight = (gain / gain.sum()).numpy()
    problem = cp.Problem(cp.Maximize(weight @ u), cons)
    status, _, seconds = solve(problem, solvers)
    if status not in SOLVED or any(x.value is None for x in w):
        return None, seconds
    r = torch.from_numpy(np.stack([np.asarray(x.value) for x in w])).to(torch.complex128)
    return p_sub * psd_part(r.reshape(s, k, m, m)), seconds


def _joint_extract(r_k: torch.Tensor, h: torch.Tensor, h_ici: torch.Tensor,
                   noise: torch.Tensor, tau: float, p_sub: torch.Tensor, gain: torch.Tensor,
                   theta: torch.Tensor, num_rx: int, solved: torch.Tensor) -> torch.Tensor:
    """Rank-one precoders ``[B, S, M, K]`` from ``r_k`` ``[B, S, K, M, M]``: the directions of
    Liu et al. (Thm 1) per subcarrier, then the subcarrier powers of the LP of the module
    docstring ("Joint ICI"); ``h`` ``[B, S, K, M]``, ``h_ici`` ``[B, S, S, K, M]``, ``noise``
    ``[B, S, K]``, ``p_sub`` ``[B]``, ``gain`` ``[B, S]``, ``theta`` ``[B]``, ``solved`` ``[B]``
    (the LP runs for these instances only).

    Notes
    -----
    One small LP (scipy HiGHS) per instance: a Python loop over the batch.
    """
    from scipy.optimize import linprog

    b, s, k, _ = h.shape
    v = (r_k @ h.conj().unsqueeze(-1)).squeeze(-1)  # R h^H: [B, S, K, M]
    sig = (h * v).sum(-1).real
    w = torch.where((sig > 0)[..., None], v / sig.clamp_min(1e-300).sqrt()[..., None].to(v.dtype),
                    torch.zeros_like(v)).transpose(-2, -1)  # [B, S, M, K]
    pw = (w.real.square() + w.imag.square()).sum(dim=(-2, -1))  # [B, S]
    ub = torch.where(pw > 0, p_sub[:, None] / pw.clamp_min(1e-300), torch.zeros_like(pw))
    wf = w * ub.sqrt()[..., None, None].to(w.dtype)  # every subcarrier at P/S
    fisher = torch.nan_to_num(
        gain * fisher_schur(wf @ wf.conj().transpose(-2, -1), theta[:, None], num_rx))
    g = (h @ wf).abs().square()  # [B, S, K(u), K(i)]
    own = torch.diagonal(g, dim1=-2, dim2=-1)  # [B, S, K]
    ici = torch.einsum("bxyun,byni->bxyui", h_ici, wf).abs().square().sum(-1)  # [B, S, S, K]
    ici = ici * (1.0 - torch.eye(s, dtype=ici.dtype))[None, :, :, None]
    y = torch.ones(b, s, dtype=torch.float64)
    if tau > 0:
        for i in solved.nonzero().flatten().tolist():
            # row (m, u): y_m (a − τ b) − τ Σ_k y_k d_{m,k,u} ≥ τ σ², divided by τ σ²
            rows = -tau * ici[i].permute(0, 2, 1)  # [S(m), K(u), S(k)]
            for x in range(s):
                rows[x, :, x] = own[i, x] - tau * (g[i, x].sum(-1) - own[i, x])
            rows = rows / (tau * noise[i])[..., None]
            obj = fisher[i] / fisher[i].abs().max().clamp_min(1e-300)
            res = linprog(-obj.numpy(), A_ub=-rows.reshape(s * k, s).numpy(),
                          b_ub=-np.ones(s * k), bounds=[(0.0, 1.0)] * s, method="highs")
            if res.status == 0:
                y[i] = torch.from_numpy(res.x).clamp(0.0, 1.0)
            else:  # the common scaling (always feasible, module docstring)
                y[i] = pw[i] / pw[i].amax().clamp_min(1e-300)
    return wf * y.sqrt()[..., None, None].to(wf.dtype)


def _sinr_with_ici(h: torch.Tensor, h_ici: torch.Tensor, w: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
    """SINR (7) ``[B, S, K]`` of precoders ``w`` ``[B, S, M, K]``: signal and inter-user terms
    on ``h`` ``[B, S, K, M]``, the ICI of :func:`ici_power` on ``h_ici``, noise ``[B, S, K]``."""
    g = (h @ w).abs().square()  # [B, S, K(u), K(i)]: |h_{m,u} w_{m,i}|²
    sig = torch.diagonal(g, dim1=-2, dim2=-1)
    return sig / (g.sum(-1) - sig + noise + ici_power(h_ici, w))


def ofdm_isac_sdr(
    h: torch.Tensor,
    theta: torch.Tensor | float,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    sinr_grid: Sequence[float] | torch.Tensor,
    psi: float,
    rate_norm: torch.Tensor | float,
    fisher_norm: torch.Tensor | float,
    num_rx: int,
    radar_gain: torch.Tensor | float = 1.0,
    h_ici: torch.Tensor | None = None,
    w_init: torch.Tensor | None = None,
    ici_rounds: int = 1,
    ici: str = "iterate",
    select: str = "extracted",
    solver: str | Sequence[str] | None = None,
    progress: InstanceLoop | None = None,
) -> OfdmSdrResult:
    r"""Stage I of Alg. 1: per-subcarrier SDR (15) over a grid of SINR targets (module docstring).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, S, K, M]`` complex ICI-free channels :math:`\mathbf H_m[m]` (rows = users).
    theta : torch.Tensor or float
        Target angle :math:`\theta_s` (radians, broadside): scalar or ``[B]``.
    power : float or torch.Tensor
        Total transmit power :math:`P_t` (watts), scalar or ``[B]``; each subcarrier gets
        :math:`P_t/S`.
    noise_var : float or torch.Tensor
        :math:`\sigma_c^2` (watts): scalar, ``[B]`` or ``[B, S, K]``.
    sinr_grid : sequence of float
        SINR targets τ (linear, ``≥ 0``; include 0 so that some point is always feasible).
    psi : float
        Weight ψ ∈ [0, 1] of (12)/(15b).
    rate_norm, fisher_norm : float or torch.Tensor
        :math:`R^*` (bit per OFDM symbol, summed over subcarriers and users) and
        :math:`J^* = \sum_m J_m^*` (same units as ``radar_gain`` × ζ), scalar or ``[B]``.
    num_rx : int
        Radar receive antennas :math:`N_r`.
    radar_gain : float or torch.Tensor
        :math:`g_m = 2|\alpha_m|^2/\sigma_s^2` (× ``L``): scalar, ``[B]`` or ``[B, S]``.
    h_ici : torch.Tensor, optional
        ``[B, S, S, K, M]`` full ICI channel (see :func:`ici_power`); needed for ICI-aware
        noise. Without it the ICI term is 0.
    w_init : torch.Tensor, optional
        ``[B, S, M, K]`` previous iterate (watts) whose ICI enters the first round.
    ici_rounds : int
        Solve rounds: round ``r > 0`` recomputes the ICI from round ``r − 1``'s precoders
        (``ici="iterate"`` only).
    ici : {"iterate", "joint"}
        ``"iterate"`` (default): per-subcarrier SDPs with the ICI of ``w_init`` / the previous
        round in the noise; ``"joint"``: one coupled SDP per instance and τ with the exact ICI
        of its own variables (module docstring "Joint ICI"; needs ``h_ici``, one round, and
        :math:`SKM^2\le` :data:`JOINT_MAX_SIZE`; ``w_init`` is not used).
    select : {"extracted", "relaxation"}
        Which ω picks τ: the extracted precoder's (default) or the relaxation's (the paper's
        (15) reading).
    solver : str or sequence of str, optional
        CVXPY solver(s), default Clarabel then SCS.
    progress : callable, optional
        Wrapper of each loop over the ``B·S`` programs (see :func:`sdr_tradeoff`).

    Returns
    -------
    OfdmSdrResult

    Raises
    ------
    ShapeError, ValueRangeError, ConfigError
        For malformed arguments; ``ConfigError`` also for an unknown ``ici``, ``ici="joint"``
        without ``h_ici``, with ``ici_rounds > 1`` or above :data:`JOINT_MAX_SIZE`.

    Notes
    -----
    A Python loop over instances × subcarriers × grid points (CVXPY; forced by the algorithm);
    with ``ici="joint"`` over instances × grid points. For ``ici="joint"``, ``noise`` of the
    result is :math:`\sigma_c^2` plus the ICI power of the selected precoder (so the SINR of
    (15d) with that noise is the SINR (7) with ICI), and each instance's solve time is spread
    evenly over its subcarriers in ``solve_seconds``.
    The rate term uses τ (the guaranteed SINR), not the extracted precoder's SINRs, which are
    ``≥ τ``; the scaling to full power may raise them further.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(1, 2, 2, 4, dtype=torch.complex128, generator=g)
    >>> res = ofdm_isac_sdr(h, 0.2, 2.0, 0.1, sinr_grid=[0.0, 1.0], psi=0.5, rate_norm=4.0,
    ...                     fisher_norm=10.0, num_rx=4)
    >>> res.w.shape, bool(res.feasible[0])
    (torch.Size([1, 2, 4, 2]), True)
    """
    if not isinstance(h, torch.Tensor) or h.dim() != 4 or not h.is_complex():
        raise ShapeError(f"h must be a complex tensor [B, S, K, M], got "
                         f"{getattr(h, 'shape', type(h))}")
    check_count(num_rx, "num_rx")
    check_count(ici_rounds, "ici_rounds")
    if select not in ("extracted", "relaxation"):
        raise ConfigError(f"select must be 'extracted' or 'relaxation', got {select!r}")
    if ici not in ICI_MODES:
        raise ConfigError(f"ici must be one of {ICI_MODES}, got {ici!r}")
    if not (0.0 <= psi <= 1.0):
        raise ValueRangeError(f"psi must lie in [0, 1], got {psi}")
    b, s, k, m = h.shape
    hh = h.detach().to("cpu", torch.complex128)
    grid = torch.as_tensor(sinr_grid, dtype=torch.float64).flatten()
    if grid.numel() == 0 or not bool(torch.isfinite(grid).all()) or not bool((grid >= 0).all()):
        raise ValueRangeError("sinr_grid must be a non-empty list of finite values >= 0")
    th = torch.as_tensor(theta, dtype=torch.float64).cpu()
    if th.dim() > 1 or (th.dim() == 1 and th.shape[0] not in (1, b)):
        raise ShapeError(f"theta must be a scalar or [B] with B = {b}, got {tuple(th.shape)}")
    th = th.expand(b).clone()
    if not bool(torch.isfinite(th).all()) or not bool((th.abs() < math.pi / 2).all()):
        raise ValueRangeError("theta must be finite with |θ| < 90° (radians)")
    p_tot = _per_instance(power, b, "power")
    r_norm = _per_instance(rate_norm, b, "rate_norm")
    j_norm = _per_instance(fisher_norm, b, "fisher_norm")
    nv = torch.as_tensor(noise_var, dtype=torch.float64).cpu()
    if nv.dim() == 1:
        nv = nv[:, None, None]
    try:
        noise = nv.expand(b, s, k).clone()
    except RuntimeError:
        raise ShapeError(f"noise_var must be a scalar, [B] or [B, S, K], got "
                         f"{tuple(nv.shape)}") from None
    if not bool(torch.isfinite(noise).all()) or not bool((noise > 0).all()):
        raise ValueRangeError("noise_var must be finite and positive")
    gain = torch.as_tensor(radar_gain, dtype=torch.float64).cpu()
    gain = gain[:, None] if gain.dim() == 1 else gain
    try:
        gain = gain.expand(b, s).clone()
    except RuntimeError:
        raise ShapeError(f"radar_gain must be a scalar, [B] or [B, S], got "
                         f"{tuple(gain.shape)}") from None
    if h_ici is not None:
        if tuple(h_ici.shape) != (b, s, s, k, m):
            raise ShapeError(f"h_ici must be [B, S, S, K, M] = {[b, s, s, k, m]}, got "
                             f"{tuple(h_ici.shape)}")
        h_ici = h_ici.detach().to("cpu", torch.complex128)
    if ici == "joint":
        if h_ici is None:
            raise ConfigError("ici='joint' needs h_ici (the [B, S, S, K, M] ICI channel)")
        if ici_rounds != 1:
            raise ConfigError(f"ici_rounds applies to ici='iterate' only; got {ici_rounds} "
                              f"with ici='joint'")
        if s * k * m * m > JOINT_MAX_SIZE:
            raise ConfigError(f"ici='joint' is for toy sizes: S*K*M^2 = {s}*{k}*{m}^2 = "
                              f"{s * k * m * m} > {JOINT_MAX_SIZE} (JOINT_MAX_SIZE); use "
                              f"ici='iterate'")
        return _ofdm_isac_sdr_joint(hh, h_ici, th, p_tot, noise, gain, grid, psi, r_norm,
                                    j_norm, int(num_rx), select, solver_names(solver),
                                    progress, h.device, h.dtype)
    prev = None if w_init is None else w_init.detach().to("cpu", torch.complex128)
    if prev is not None and tuple(prev.shape) != (b, s, m, k):
        raise ShapeError(f"w_init must be [B, S, M, K] = {[b, s, m, k]}, got "
                         f"{tuple(prev.shape)}")

    theta_bs = th[:, None, None].expand(b, s, 1)
    p_sub = (p_tot / s)[:, None].expand(b, s)
    seconds = torch.zeros(b, s, dtype=torch.float64)
    rate_term = psi * k * s * torch.log2(1.0 + grid)[None, :] / r_norm[:, None]  # [B, G]
    for _ in range(ici_rounds):
        noise_r = noise.clone()
        if h_ici is not None and prev is not None:
            noise_r = noise_r + ici_power(h_ici, prev)
        ws, fish, fish_rel, ok = [], [], [], []
        for tau in grid.tolist():
            res = sdr_tradeoff(hh.conj(), theta_bs, tau, p_sub, noise_r, num_rx=int(num_rx),
                               radar_snr=1.0, num_symbols=1, reference="first", solver=solver,
                               progress=progress)
            w = res.w.conj()  # sign −1 arrays: conjugate problem (module docstring)
            r_rel = res.r_k.conj().sum(-3)  # [B, S, M, M]
            feas = res.feasible.all(-1)
            w0 = torch.nan_to_num(w)
            j_ext = gain * fisher_schur(w0 @ w0.conj().transpose(-2, -1), th[:, None], num_rx)
            j_rel = gain * fisher_schur(torch.nan_to_num(r_rel), th[:, None], num_rx)
            ws.append(w)
            fish.append(j_ext)
            fish_rel.append(j_rel)
            ok.append(feas)
            seconds += res.solve_seconds
        sel = _select(ws, fish, fish_rel, ok, rate_term, psi, j_norm, select)
        prev = torch.nan_to_num(sel.w)
    return _result(sel, grid, noise_r, seconds, h.device, h.dtype)
