r"""Non-learned designers of the uplink ISAC system of qi_uplink (``shared/papers/002_...txt``).

Every designer maps an :class:`~isaclearn.channels.uplink.UplinkProblem` to a
:class:`~isaclearn.core.design.Design` with

* ``w``: receive beams ``[B, N_r, K]`` complex (column ``k`` is :math:`\mathbf w_k`);
* ``extras["s"]``: waveform :math:`\mathbf S` ``[B, L, N_t]`` complex (eq. 31);
* ``extras["sigma_s"]``: its powers per :math:`\mathbf R_T` eigen-direction ``[B, N_t]`` (W);
* ``extras["sic_residual"]`` (ZFBF only): the fraction :math:`\kappa` of the users' power left in
  the sensing stage, ``[B]``.

Designers see only ``problem.csi`` (the estimate under imperfect CSI), ``r_t``, the powers and
the scalars; they never compute the reported metrics.

Designers (all batched over instances unless stated):

* :class:`Average` — "Average scheme": :math:`\sigma_{s,i}=P_s/N_t`, MMSE beams.
* :class:`ZFBF` — "ZFBF scheme": zero-forcing receive beams; the waveform maximizes
  objective (28) with the zero-forcing rate, solved globally like the reference below.
* :class:`Traditional` — "traditional scheme": alternating optimization (AO) of the
  beams (eq. 25) and the waveform, the waveform step by successive convex approximation (SCA)
  of the communication rate. Each SCA subproblem is concave; ``backend="kkt"`` solves it
  exactly and batched (:func:`~isaclearn.solvers.allocation.solve_sensing_kkt`),
  ``backend="cvxpy"`` with CVXPY/Clarabel, one instance at a time (a Python loop over samples,
  forced by CVXPY).
* :class:`OptimalityReference` — optimality reference for problem (28), beyond the paper.

The reference rests on a structural fact: the communication rate depends on
:math:`\boldsymbol\sigma_s` only through the interference :math:`t=\boldsymbol\sigma_t^T
\boldsymbol\sigma_s` and is convex and decreasing in it (a maximum of convex functions of
:math:`t`, one per fixed beam), while the sensing rate is strictly concave. Any maximizer of (28)
therefore maximizes the sensing rate among allocations with at most its interference, and by
strong duality is the maximizer of the Lagrangian
:math:`\frac{\alpha}{M_s}\bar{\mathcal R}_s-\lambda\boldsymbol\sigma_t^T\boldsymbol\sigma_s` for
some :math:`\lambda\ge0`. The global optimum is thus a one-dimensional search over
:math:`\lambda` (a log grid, then golden-section refinement of the best bracket), each point
solved exactly; optionally a multi-start projected gradient ascent is run as an independent
check and the better point is kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from isaclearn.channels.uplink import UplinkProblem
from isaclearn.core.design import Design
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError
from isaclearn.metrics.uplink import rt_eig
from isaclearn.solvers.allocation import project_capped_simplex, solve_sensing_kkt
from isaclearn.solvers.uplink_reduced import (
    ReducedUplink,
    fixed_beam_spectrum,
    mmse_beams,
    reduce_problem,
    zf_beams,
)

_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# recovery (eqs. 31-32)
# ---------------------------------------------------------------------------------------------


def waveform_from_powers(
    sigma_s: torch.Tensor,
    u_t: torch.Tensor,
    num_symbols: int,
    *,
    basis: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Sensing waveform of eq. (31), :math:`\mathbf S=\mathbf U_s\boldsymbol\Sigma_s\mathbf U_T^H`.

    Parameters
    ----------
    sigma_s : torch.Tensor
        ``[B, N_t]`` powers (W), :math:`\sigma_{s,i}` paired with column ``i`` of ``u_t``.
    u_t : torch.Tensor
        ``[B, N_t, N_t]`` eigenvectors of :math:`\mathbf R_T` (:func:`rt_eig` order).
    num_symbols : int
        ``L ≥ N_t``.
    basis : torch.Tensor or None
        :math:`\mathbf U_s` ``[B or 1, L, L]`` unitary; ``None`` is the identity (any unitary
        gives the same rates).

    Returns
    -------
    torch.Tensor
        ``[B, L, N_t]`` complex with :math:`\mathrm{tr}(\mathbf S\mathbf S^H)=\sum_i\sigma_{s,i}`.
    """
    b, nt = sigma_s.shape
    if num_symbols < nt:
        raise ConfigError(f"num_symbols L must be >= N_t, got L={num_symbols}, N_t={nt}")
    sq = torch.sqrt(sigma_s.clamp_min(0.0)).to(u_t.dtype)
    core = sq[..., :, None] * u_t.conj().transpose(-2, -1)  # diag(sqrt σ) U_T^H, [B, N_t, N_t]
    if basis is None:
        pad = torch.zeros(b, num_symbols - nt, nt, dtype=u_t.dtype, device=u_t.device)
        return torch.cat([core, pad], dim=-2)
    return basis[..., :, :nt].to(u_t.dtype) @ core


def recover_design(
    problem: UplinkProblem,
    sigma_s: torch.Tensor,
    *,
    u_t: torch.Tensor | None = None,
    sigma_t: torch.Tensor | None = None,
    basis: torch.Tensor | None = None,
    beams: torch.Tensor | None = None,
    extras: dict[str, torch.Tensor] | None = None,
    info: dict[str, Any] | None = None,
) -> Design:
    r"""The recover module (section IV-D): waveform by eq. (31), MMSE beams by eq. (32).

    .. math::
        \mathbf w_k=\frac{(\boldsymbol\Omega_k)^{-1}\mathbf h_k^*}{\sqrt{p_k}\mathbf h_k^T
        (\boldsymbol\Omega_k)^{-1}\mathbf h_k^*},\quad
        \boldsymbol\Omega_k=\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T+(\boldsymbol\sigma_t^T
        \boldsymbol\sigma_s/L+\sigma_n^2)\mathbf I

    computed on the designer's CSI ``problem.csi``.

    Parameters
    ----------
    problem : UplinkProblem
        The instances.
    sigma_s : torch.Tensor
        ``[B, N_t]`` powers per eigen-direction, W.
    u_t, sigma_t : torch.Tensor or None
        Eigen-decomposition of :math:`\mathbf R_T` if already computed.
    basis : torch.Tensor or None
        :math:`\mathbf U_s` of eq. (31).
    beams : torch.Tensor or None
        Receive beams ``[B, N_r, K]`` to use instead of eq. (32).
    extras, info : dict or None
        Added to the design.
    """
    if u_t is None or sigma_t is None:
        sigma_t, u_t = rt_eig(problem.r_t)
    h = problem.csi
    sigma_s = sigma_s.to(real_dtype(h.dtype))
    s = waveform_from_powers(sigma_s, u_t.to(h.dtype), problem.num_symbols, basis=basis)
    if beams is None:
        c = (sigma_s * sigma_t.to(sigma_s.dtype)).sum(-1) / problem.num_symbols + float(
            problem.noise_var)
        beams = mmse_beams(h, problem.p, c)
    ex = {"s": s, "sigma_s": sigma_s}
    ex.update(extras or {})
    return Design(w=beams, extras=ex, info=dict(info or {}))


# ---------------------------------------------------------------------------------------------
# global search of problem (28) along the sensing/interference frontier
# ---------------------------------------------------------------------------------------------


def _lagrangian_point(red: ReducedUplink, lam: torch.Tensor) -> torch.Tensor:
    """Maximizer of alpha/M_s R_s - lam * sum_i g_i x_i over the capped simplex, for ``lam``
    ``[..., B]`` → ``[..., B, N_t]``."""
    w_s = red.alpha / (red.m_s * red.num_symbols)
    shape = lam.shape
    g = red.gain_t.expand(*shape, red.gain_t.shape[-1])
    v = red.gain_h.expand(*shape, red.gain_h.shape[-1])
    return solve_sensing_kkt(g, v, w_s.expand(shape), lam[..., None] * g, 1.0)


def frontier_maximize(
    red: ReducedUplink,
    *,
    num_grid: int = 24,
    refine_iters: int = 20,
    chunk: int = 512,
) -> torch.Tensor:
    r"""Global maximizer of objective (28) for communication models that depend on the waveform
    only through :math:`\tilde c` (see the module docstring).

    Parameters
    ----------
    red : ReducedUplink
        The reduced problem (normalized variable :math:`\mathbf x=\boldsymbol\sigma_s/P_s`).
    num_grid : int
        Points of the log grid :math:`\lambda=\lambda_{\max}10^{-12\dots0}`.
    refine_iters : int
        Golden-section iterations on :math:`\log\lambda` inside the best grid bracket.
    chunk : int
        Instances processed at once (memory).

    Returns
    -------
    torch.Tensor
        ``[B, N_t]`` maximizer (the better of the frontier point and :math:`\mathbf x=0`).
    """
    if num_grid < 3:
        raise ConfigError(f"num_grid must be >= 3, got {num_grid}")
    outs = []
    for start in range(0, red.batch_size, chunk):
        outs.append(_frontier_chunk(red.subset(slice(start, start + chunk)), num_grid,
                                    refine_iters))
    return torch.cat(outs, 0)


def _frontier_chunk(red: ReducedUplink, num_grid: int, refine_iters: int) -> torch.Tensor:
    dt = red.gain_t.dtype
    dev = red.gain_t.device
    b, nt = red.gain_t.shape
    w_s = red.alpha / (red.m_s * red.num_symbols)
    lam_max = (w_s * red.gain_h.sum(-1) / _LN2).clamp_min(1e-300)  # [B]
    lo_exp, hi_exp = -12.0, 0.0
    t = torch.linspace(lo_exp, hi_exp, num_grid, dtype=dt, device=dev)  # [G]
    lam = lam_max[None, :] * torch.pow(10.0, t)[:, None]  # [G, B]
    xs = _lagrangian_point(red, lam)  # [G, B, N_t]
    f = red.wsnr(xs)  # [G, B]
    j = f.argmax(0)  # [B]
    best_x = xs[j, torch.arange(b, device=dev)]
    best_f = f[j, torch.arange(b, device=dev)]
    step = (hi_exp - lo_exp) / (num_grid - 1)
    a = t[j] - step
    c = t[j] + step
    gr = (math.sqrt(5.0) - 1.0) / 2.0

    def evaluate(e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = _lagrangian_point(red, lam_max * torch.pow(10.0, e))
        return x, red.wsnr(x)

    x1 = c - gr * (c - a)
    x2 = a + gr * (c - a)
    p1, f1 = evaluate(x1)
    p2, f2 = evaluate(x2)
    for _ in range(refine_iters):
        left = f1 >= f2  # maximum in [a, x2]
        for pt, ft in ((p1, f1), (p2, f2)):
            better = ft > best_f
            best_x = torch.where(better[:, None], pt, best_x)
            best_f = torch.where(better, ft, best_f)
        c = torch.where(left, x2, c)
        a = torch.where(left, a, x1)
        nx1 = torch.where(left, c - gr * (c - a), x2)
        nx2 = torch.where(left, x1, a + gr * (c - a))
        # one new evaluation per instance: where left, the new point is x1; else x2
        newe = torch.where(left, nx1, nx2)
        pn, fn = evaluate(newe)
        p1n = torch.where(left[:, None], pn, p2)
        f1n = torch.where(left, fn, f2)
        p2n = torch.where(left[:, None], p1, pn)
        f2n = torch.where(left, f1, fn)
        x1, x2, p1, f1, p2, f2 = nx1, nx2, p1n, f1n, p2n, f2n
    for pt, ft in ((p1, f1), (p2, f2)):
        better = ft > best_f
        best_x = torch.where(better[:, None], pt, best_x)
        best_f = torch.where(better, ft, best_f)
    zero = torch.zeros(b, nt, dtype=dt, device=dev)
    f0 = red.wsnr(zero)
    return torch.where((f0 > best_f)[:, None], zero, best_x)


def pga_maximize(
    red: ReducedUplink,
    *,
    num_starts: int = 16,
    iters: int = 300,
    lr: float = 0.05,
    generator: torch.Generator | None = None,
    inits: Sequence[torch.Tensor] = (),
) -> torch.Tensor:
    r"""Multi-start projected gradient ascent on objective (28) (an independent local method).

    Starts: ``num_starts`` random points of the capped simplex (random direction, random total
    power) plus ``inits``; Adam steps on :math:`\mathbf x` with a cosine-decaying step size, each
    followed by the projection onto :math:`\{\mathbf x\ge0,\sum x_i\le1\}`. Batched over starts
    and instances.

    Returns
    -------
    torch.Tensor
        ``[B, N_t]`` best point found.
    """
    dt = red.gain_t.dtype
    dev = red.gain_t.device
    b, nt = red.gain_t.shape
    starts = []
    if num_starts > 0:
        e = -torch.log(torch.rand((num_starts, b, nt), generator=generator, dtype=dt,
                                  device=dev).clamp_min(1e-12))
        tot = torch.rand((num_starts, b, 1), generator=generator, dtype=dt, device=dev)
        starts.append(e / e.sum(-1, keepdim=True) * tot)
    for x0 in inits:
        starts.append(x0.detach().to(dt)[None])
    if not starts:
        raise ConfigError("pga_maximize needs num_starts > 0 or at least one init")
    x = torch.cat(starts, 0).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(iters, 1),
                                                       eta_min=lr * 1e-3)
    with torch.enable_grad():
        for _ in range(iters):
            opt.zero_grad()
            loss = -red.wsnr(x).sum()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                x.copy_(project_capped_simplex(x))
    with torch.no_grad():
        x = x.detach()
        f = red.wsnr(x)  # [S, B]
        j = f.argmax(0)
        return x[j, torch.arange(b, device=dev)]


# ---------------------------------------------------------------------------------------------
# designers
# ---------------------------------------------------------------------------------------------


def _reduced(problem: UplinkProblem, comm: Literal["mmse", "zf"] = "mmse",
             interference_scale: float = 1.0, use_csi: bool = True) -> ReducedUplink:
    return reduce_problem(problem, use_csi=use_csi, comm=comm,
                          interference_scale=interference_scale, ms_mode=problem.ms_mode)


@dataclass
class Average:
    r"""Average scheme: equal power :math:`\sigma_{s,i}=P_s/N_t`, MMSE beams (eq. 32)."""

    name: str = "average"

    def design(self, problem: UplinkProblem) -> Design:
        b, nt = problem.batch_size, problem.num_tx
        rdt = real_dtype(problem.h.dtype)
        sigma_s = torch.full((b, nt), float(problem.power_s) / nt, dtype=rdt,
                             device=problem.h.device)
        return recover_design(problem, sigma_s)


@dataclass
class ZFBF:
    r"""ZFBF scheme: zero-forcing receive beams and the waveform that maximizes (28) with the
    zero-forcing rate :math:`\gamma_k=p_k/(c\,\|\mathbf w_k\|^2)`.

    Attributes
    ----------
    sic_residual : float
        :math:`\kappa\in[0,1]`, the fraction of the users' power left in the sensing stage after
        the communication signals are decoded and cancelled (SIC of the paper's ref. [14]).
        The paper's Fig. 7 shows this scheme equal to ISACNN at α = 1, which requires the sensing
        stage to see the full interference; the default ``1.0`` reproduces that. ``0`` is
        perfect SIC (then the scheme reaches :math:`M_s` at α = 1: a different receiver).
    num_grid, refine_iters : int
        Settings of :func:`frontier_maximize`.
    """

    name: str = "zfbf"
    sic_residual: float = 1.0
    num_grid: int = 24
    refine_iters: int = 20

    def design(self, problem: UplinkProblem) -> Design:
        if not 0.0 <= self.sic_residual <= 1.0:
            raise ConfigError(f"sic_residual must lie in [0, 1], got {self.sic_residual}")
        red = _reduced(problem, comm="zf", interference_scale=self.sic_residual)
        x = frontier_maximize(red, num_grid=self.num_grid, refine_iters=self.refine_iters)
        sigma_s = x * float(problem.power_s)
        kappa = torch.full((problem.batch_size,), float(self.sic_residual),
                           dtype=sigma_s.dtype, device=sigma_s.device)
        return recover_design(problem, sigma_s, beams=zf_beams(problem.csi),
                              extras={"sic_residual": kappa})


@dataclass
class OptimalityReference:
    """Optimality reference for problem (28): exact frontier search (module docstring),
    optionally checked by multi-start projected gradient ascent; the better point is kept.

    Attributes
    ----------
    num_grid, refine_iters : int
        Settings of :func:`frontier_maximize`.
    pga_starts, pga_iters : int
        Random starts and iterations of :func:`pga_maximize` (0 starts: frontier only).
    use_csi : bool
        Design on the estimate (default) or, as a genie bound under imperfect CSI, on the true
        channel.
    seed : int
        Seed of the random starts.
    """

    name: str = "reference"
    num_grid: int = 24
    refine_iters: int = 20
    pga_starts: int = 0
    pga_iters: int = 300
    use_csi: bool = True
    seed: int = 0

    def design(self, problem: UplinkProblem) -> Design:
        red = _reduced(problem, use_csi=self.use_csi)
        x = frontier_maximize(red, num_grid=self.num_grid, refine_iters=self.refine_iters)
        info: dict[str, Any] = {}
        if self.pga_starts > 0:
            gen = torch.Generator(device=x.device)
            gen.manual_seed(self.seed)
            xp = pga_maximize(red, num_starts=self.pga_starts, iters=self.pga_iters,
                              generator=gen, inits=[x, torch.full_like(x, 1.0 / x.shape[-1])])
            fp, ff = red.wsnr(xp), red.wsnr(x)
            info["pga_improved"] = int((fp > ff + 1e-9).sum())
            x = torch.where((fp > ff)[:, None], xp, x)
        sigma_s = x * float(problem.power_s)
        if self.use_csi:
            return recover_design(problem, sigma_s, info=info)
        sigma_t, u_t = rt_eig(problem.r_t)
        c = (sigma_s * sigma_t).sum(-1) / problem.num_symbols + float(problem.noise_var)
        return recover_design(problem, sigma_s, u_t=u_t, sigma_t=sigma_t,
                              beams=mmse_beams(problem.h, problem.p, c), info=info)


@dataclass
class Traditional:
    r"""Traditional scheme: alternating optimization with successive convex approximation.

    Outer (AO) iteration ``n``: (a) beams :math:`\mathbf w_k` by eq. (25) for the current
    waveform; (b) with the beams fixed, the rate of eq. (7) is
    :math:`f_{\mathbf w}(\tilde c)=\frac1K\sum_k\log_2(1+a_k/(b_k+e_k\tilde c))`, convex in the
    interference :math:`\tilde c`; SCA replaces it by its tangent at the current point (a global
    lower bound), which makes the waveform step the concave problem
    :math:`\max\frac{\alpha}{M_s}\bar{\mathcal R}_s(\mathbf x)+\frac{1-\alpha}{M_c}
    f'_{\mathbf w}(\tilde c_n)\sum_ig_ix_i/L` over the capped simplex; it is repeated until the
    fixed-beam objective stops improving. Both steps are minorize–maximize steps of (28), so the
    objective never decreases (recorded in ``info["trace"]``). Starts from the Average scheme.

    Attributes
    ----------
    backend : {"kkt", "cvxpy"}
        SCA subproblem solver: the exact batched KKT solver, or CVXPY with Clarabel (one
        instance at a time; a Python loop over samples forced by CVXPY).
    max_ao_iters, max_sca_iters : int
        Iteration limits of the two loops.
    tol : float
        Stop when no instance improves the objective by more than ``tol``.
    """

    name: str = "traditional"
    backend: Literal["kkt", "cvxpy"] = "kkt"
    max_ao_iters: int = 30
    max_sca_iters: int = 10
    tol: float = 1e-6

    def design(self, problem: UplinkProblem) -> Design:
        if self.backend not in ("kkt", "cvxpy"):
            raise ConfigError(f"backend must be 'kkt' or 'cvxpy', got {self.backend!r}")
        red = _reduced(problem)
        h = problem.csi
        s2 = float(problem.noise_var)
        b, nt = red.gain_t.shape
        x = torch.full((b, nt), 1.0 / nt, dtype=red.gain_t.dtype, device=red.gain_t.device)
        f = red.wsnr(x)
        trace = [float(f.mean())]
        w_s = red.alpha / (red.m_s * red.num_symbols)
        w_c = (1.0 - red.alpha) / red.m_c
        solver = _CvxpySca(nt, red.gain_h.shape[-1]) if self.backend == "cvxpy" else None
        ao_done = 0
        sca_total = 0
        active = torch.ones(b, dtype=torch.bool, device=x.device)
        for _ in range(self.max_ao_iters):
            ao_done += 1
            c = red.noise_factor(x)
            w = mmse_beams(h, problem.p, c.to(real_dtype(h.dtype)) * s2)
            d, q = fixed_beam_spectrum(w, h, problem.p, s2)
            red_w = red.with_comm(d.to(x.dtype), q.to(x.dtype))
            fw = red_w.wsnr(x)
            sca_active = active.clone()
            for _ in range(self.max_sca_iters):
                sca_total += 1
                c = red_w.noise_factor(x)
                dd, qq = red_w.spec_d[..., 0], red_w.spec_q[..., 0]
                slope = (-qq / ((dd + c[:, None]) * (dd + c[:, None] + qq))).mean(-1) / _LN2
                pen = (-w_c * slope)[:, None] * red.gain_t / red.num_symbols  # [B, N_t] >= 0
                if solver is None:
                    x_new = solve_sensing_kkt(red.gain_t, red.gain_h, w_s, pen, 1.0)
                else:
                    x_new = solver.solve(red.gain_t, red.gain_h, w_s, pen, sca_active)
                    ok = sca_active & torch.isfinite(x_new).all(-1)
                    x_new = torch.where(ok[:, None], x_new, x)
                fw_new = red_w.wsnr(x_new)
                improved = fw_new > fw
                x = torch.where(improved[:, None], x_new, x)
                gain = torch.where(improved, fw_new - fw, torch.zeros_like(fw))
                fw = torch.where(improved, fw_new, fw)
                sca_active = sca_active & (gain > self.tol)
                if not bool(sca_active.any()):
                    break
            f_new = red.wsnr(x)
            active = active & ((f_new - f) > self.tol)
            f = torch.maximum(f, f_new)
            trace.append(float(f_new.mean()))
            if not bool(active.any()):
                break
        info: dict[str, Any] = {"ao_iters": ao_done, "sca_iters": sca_total, "trace": trace,
                                "backend": self.backend}
        if solver is not None:
            info["cvxpy_inaccurate_solves"] = solver.inaccurate
            info["cvxpy_scs_fallbacks"] = solver.fallbacks
            info["cvxpy_failed_solves"] = solver.failed
        return recover_design(problem, x * float(problem.power_s), info=info)


class _CvxpySca:
    """The concave SCA subproblem in CVXPY (DPP-parametrized, compiled once):

    maximize   sum_ij log(1 + a_ij x_i) - (ln 2 / w) c^T x   s.t. x >= 0, sum x <= 1,

    i.e. the objective of :func:`solve_sensing_kkt` divided by w / ln 2. Solutions that Clarabel
    flags "optimal_inaccurate" are kept (they agree with the exact KKT backend to ~1e-11 in
    WSNR) and counted in ``inaccurate``. When Clarabel fails (it occasionally does on an
    already-converged subproblem) SCS is tried (``fallbacks``); if both fail the instance keeps
    its current iterate (``failed``), which leaves the minorize-maximize ascent monotone.
    """

    def __init__(self, num_tx: int, num_rx: int) -> None:
        import cvxpy as cp
        import numpy as np

        self.cp = cp
        self.np = np
        self.x = cp.Variable(num_tx, nonneg=True)
        self.a = cp.Parameter((num_tx, num_rx), nonneg=True)
        self.c = cp.Parameter(num_tx, nonneg=True)
        xx = cp.reshape(self.x, (num_tx, 1), order="F") @ np.ones((1, num_rx))
        obj = cp.sum(cp.log(1.0 + cp.multiply(self.a, xx))) - self.c @ self.x
        self.prob = cp.Problem(cp.Maximize(obj), [cp.sum(self.x) <= 1.0])
        self.inaccurate = 0
        self.fallbacks = 0
        self.failed = 0

    def _solve_one(self) -> Any:
        """Clarabel, then SCS if Clarabel fails; ``None`` if both fail."""
        cp = self.cp
        for solver, opts in (("CLARABEL", {}), ("SCS", {"eps": 1e-9, "max_iters": 50000})):
            try:
                with warnings.catch_warnings():  # "inaccurate" is counted, not printed
                    warnings.simplefilter("ignore", UserWarning)
                    self.prob.solve(solver=solver, **opts)
            except cp.error.SolverError:
                self.fallbacks += 1
                continue
            if self.x.value is None or self.prob.status not in ("optimal",
                                                               "optimal_inaccurate"):
                self.fallbacks += 1
                continue
            if self.prob.status == "optimal_inaccurate":
                self.inaccurate += 1
            return self.x.value
        self.failed += 1
        return None

    def solve(self, g: torch.Tensor, v: torch.Tensor, w_s: torch.Tensor, pen: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
        np = self.np
        out = torch.zeros_like(g)
        gn = g.detach().cpu().double().numpy()
        vn = v.detach().cpu().double().numpy()
        wn = w_s.detach().cpu().double().numpy()
        pn = pen.detach().cpu().double().numpy()
        for i in range(g.shape[0]):  # CVXPY solves one instance at a time
            if not bool(mask[i]) or wn[i] <= 0:
                continue
            self.a.value = np.outer(gn[i], vn[i])
            self.c.value = np.maximum(pn[i] * _LN2 / wn[i], 0.0)
            xv = self._solve_one()
            if xv is None:  # both solvers failed: keep the current iterate (counted)
                out[i] = float("nan")
                continue
            xi = np.clip(xv, 0.0, None)
            s = xi.sum()
            if s > 1.0:
                xi = xi / s
            out[i] = torch.as_tensor(xi, dtype=g.dtype, device=g.device)
        return out
