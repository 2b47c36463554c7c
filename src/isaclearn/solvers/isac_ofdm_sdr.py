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

Notes
-----
One CVXPY solve per (instance, subcarrier, grid point, ICI round): the Python loop is forced by
the algorithm (cost :math:`O(S N_t^{3.5}\log 1/\epsilon)` per grid point and round).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.convex_sdr import sdr_tradeoff
from isaclearn.solvers.cvx_tools import InstanceLoop

__all__ = ["OfdmSdrResult", "fisher_schur", "ici_power", "ofdm_isac_sdr"]


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


def _per_instance(x: torch.Tensor | float, b: int, name: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float64).cpu()
    if t.is_complex() or not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    if t.dim() > 1 or (t.dim() == 1 and t.shape[0] not in (1, b)):
        raise ShapeError(f"{name} must be a scalar or [B] with B = {b}, got {tuple(t.shape)}")
    return t.expand(b).clone()


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
        Solve rounds: round ``r > 0`` recomputes the ICI from round ``r − 1``'s precoders.
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
        For malformed arguments.

    Notes
    -----
    A Python loop over instances × subcarriers × grid points (CVXPY; forced by the algorithm).
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
        feasible_grid = torch.stack(ok, -1)  # [B, G]
        j_ext_g, j_rel_g = torch.stack(fish, -1), torch.stack(fish_rel, -1)  # [B, S, G]
        u_ext = rate_term + (1.0 - psi) * j_ext_g.sum(1) / j_norm[:, None]
        u_rel = rate_term + (1.0 - psi) * j_rel_g.sum(1) / j_norm[:, None]
        u_ext = torch.where(feasible_grid, u_ext, -math.inf)
        u_rel = torch.where(feasible_grid, u_rel, -math.inf)
        pick = (u_ext if select == "extracted" else u_rel).argmax(-1)  # [B]
        rows = torch.arange(b)
        w_all = torch.stack(ws, -1)  # [B, S, M, K, G]
        w_sel = w_all.permute(0, 4, 1, 2, 3)[rows, pick]
        feasible = feasible_grid.any(-1)
        w_sel[~feasible] = math.nan
        prev = torch.nan_to_num(w_sel)
    tau = torch.where(feasible, grid[pick], torch.full((b,), math.nan, dtype=torch.float64))
    nan = torch.full((b,), math.nan, dtype=torch.float64)
    return OfdmSdrResult(
        w=w_sel.to(device=h.device, dtype=h.dtype),
        tau=tau,
        utility=torch.where(feasible, u_ext[rows, pick], nan),
        utility_relaxation=torch.where(feasible, u_rel[rows, pick], nan),
        fisher=j_ext_g.permute(0, 2, 1)[rows, pick],
        fisher_relaxation=j_rel_g.permute(0, 2, 1)[rows, pick],
        feasible=feasible,
        noise=noise_r,
        utility_grid=u_ext,
        utility_relaxation_grid=u_rel,
        feasible_grid=feasible_grid,
        solve_seconds=seconds,
    )
