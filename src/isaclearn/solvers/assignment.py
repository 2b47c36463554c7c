r"""Vehicle-to-RSU assignment for the multi-RSU downlink of ding_dt (``shared/papers/004_...txt``,
Sec. V-B, eqs. (47)–(48), Algs. 2 and 3), each design finished by the FP + PGD beamformer of
:mod:`isaclearn.solvers.fractional`.

The per-pair utility (47) is the term of the quadratic transform (44) that belongs to vehicle
``k`` at RSU ``i``:

.. math::
    \zeta_{[i,k]} = \ln(1+\gamma) - \gamma + 2\mathrm{Re}\{y^*\sqrt{1+\gamma}\,
    \mathbf h_{[i,k]}\mathbf f_{[i,k]}\}\xi_{[i,k]} - |y|^2\Big(\sum_m
    |\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2\xi_{[i,m]} + \sigma_c^2\Big).

For the serving RSU it is evaluated with the current beams; for a non-serving RSU *as if*
:math:`\xi_{[i,k]} = 1` with :math:`\mathbf f_{[i,k]} = \sqrt P\,\mathbf a(\varphi_{[i,k]})`
(spec ``shared/specs/ding_dt.md`` §3), the interference coming from the beams RSU ``i`` already
sends. :math:`\gamma, y` are at their optima (43)/(46), where :math:`\zeta_{[i,k]} =
\ln(1+\mathrm{SINR}_{[i,k]})`.

Methods (all batched over ``B``; vehicles padded with a mask):

* :func:`assign_distance` — nearest RSU (:func:`nearest_rsu`) and the *same* FP + PGD beams
  (spec §4: Alg. 3's "zero gain" with few vehicles in Fig. 9 needs a shared beamformer).
* :func:`assign_alg3` — Alg. 3 (the paper's heuristic): start from the distance assignment;
  :math:`e_k = \sum_i\zeta_{[i,k]}(1-2\xi_{[i,k]})` (= :math:`\zeta_\text{other} -
  \zeta_\text{current}` for two RSUs); while some :math:`e_k > 0`, move
  :math:`k^\star = \arg\max e_k` to the other RSU, rerun FP + PGD, update :math:`\zeta, e`.
* :func:`assign_greedy` — Alg. 2: vehicles sorted by :math:`|1/d_{[1,k]} - 1/d_{[2,k]}|^2`
  (descending); the first goes to the nearer RSU; every later one is tried at both RSUs with
  FP + PGD over :math:`\mathcal V\cup\{k\}` and kept where its :math:`\zeta` is larger.
* :func:`assign_exhaustive` — all :math:`I^K` assignments (``K <= 12`` for two RSUs), each with
  FP + PGD; the oracle for Alg. 3 (not in the paper).

Notes
-----
* Readings of the paper (spec §3, §4, §6.8): Alg. 3 step 1 sets :math:`\mathbf F` to
  :math:`\mathbf a(\varphi)` and computes :math:`\zeta` before any FP run; we run FP + PGD on the
  distance assignment first, so that Alg. 3 without a flip returns exactly the distance design.
  After a flip (and for Alg. 2's tentative placements) FP is warm-started from the current beams,
  the moved vehicle's beam set to :math:`\sqrt P\mathbf a(\varphi)` at its new RSU (the paper's
  "initialize :math:`\mathbf f_{[i,k]} = \mathbf a(\varphi_{[i,k]})`").
* The paper does not prove that Alg. 3 terminates. Our guards: at most ``2 K`` flips (``K`` real
  vehicles of the element), and a tabu on the vehicle flipped last (it may not flip straight
  back). The reason each element stopped is returned (``AssignmentResult.stop``).
* Batching: Alg. 3's flip loop runs for all batch elements at once, each with its own "done"
  flag; the FP reruns are done only for the elements still flipping. Alg. 2 is sequential over
  vehicles by nature (the ``t``-th step depends on the first ``t - 1``); its steps are batched
  over ``B`` and over the two tentative RSUs. The exhaustive search runs FP on chunks of
  (element, candidate) pairs.
* :math:`\mathbf a(\varphi_{[i,k]})` is taken as :math:`\mathbf h_{[i,k]}^H/\|\mathbf h_{[i,k]}\|`
  (exact for the line-of-sight rows :math:`\kappa'\sqrt\alpha\,\mathbf a^H(\varphi)`), so the
  solvers need only the channel tensor.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.solvers.fractional import (
    FPOptions,
    _as_xi,
    _check_beams,
    _check_h,
    _fp_loop,
    _per_batch,
    _prepare_sensing,
    _rdot,
    _Sensing,
    _signals,
    mrt_beams,
    serving_mask,
)

__all__ = [
    "AssignmentResult",
    "assign_alg3",
    "assign_distance",
    "assign_exhaustive",
    "assign_greedy",
    "nearest_rsu",
    "zeta",
]

STOP_NO_GAIN = 0
"""Alg. 3 stopped because every :math:`e_k \\le 0` (the paper's rule)."""
STOP_TABU = 1
"""Alg. 3 stopped because only the vehicle flipped last (tabu) had :math:`e_k > 0`."""
STOP_CAP = 2
"""Alg. 3 stopped at the cap of ``2 K`` flips."""


@dataclass
class AssignmentResult:
    """An assignment with its FP + PGD beams and diagnostics (all batched over ``B``)."""

    assign: torch.Tensor
    """``[B, K]`` int64 serving RSU of each vehicle (0 for padding)."""
    beams: torch.Tensor
    """``[B, I, K, N]`` complex beams, zero for unserved pairs."""
    rates: torch.Tensor
    """``[B, K]`` log2(1 + SINR) at the serving RSU, bit/s/Hz (0 for padding)."""
    sum_rate: torch.Tensor
    """``[B]`` sum of ``rates``, bit/s/Hz."""
    flips: torch.Tensor
    """``[B]`` int64 flips made by Alg. 3 (0 for the other methods)."""
    stop: torch.Tensor
    """``[B]`` int64, why Alg. 3 stopped (:data:`STOP_NO_GAIN`, :data:`STOP_TABU`,
    :data:`STOP_CAP`; 0 for the other methods)."""
    fp_runs: torch.Tensor
    """``[B]`` int64, FP + PGD runs per element (candidates, hypotheses and reruns)."""
    fp_iterations: torch.Tensor
    """``[B]`` int64, outer FP iterations summed over the runs."""
    fp_unconverged: torch.Tensor
    """``[B]`` int64, FP runs that hit ``max_iter`` before ``tol``."""
    constrained: torch.Tensor
    """``[B, I, K]`` bool, served pairs with a sensing constraint (Lambda > 0)."""
    infeasible: torch.Tensor
    """``[B, I, K]`` bool, constrained pairs whose threshold was clipped (Lambda > P lambda_max)."""
    active: torch.Tensor
    """``[B, I, K]`` bool, constrained pairs where the constraint binds at the returned beams."""


# --------------------------------------------------------------------------------------------
# shared context
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    h: torch.Tensor  # [B, I, K, N]
    mask: torch.Tensor  # [B, K]
    noise: torch.Tensor  # [B, 1, 1]
    p: torch.Tensor  # [B, 1, 1]
    mrt: torch.Tensor  # [B, I, K, N]
    sens: _Sensing | None
    opt: FPOptions
    runs: torch.Tensor  # [B] long
    iters: torch.Tensor  # [B] long
    unconv: torch.Tensor  # [B] long

    def solve(self, idx: torch.Tensor, xi: torch.Tensor, init: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """FP + PGD for elements ``idx`` (repeats allowed) with assignment ``xi``; returns the
        beams and the sum rate in bit/s/Hz."""
        sens = None if self.sens is None else self.sens.index(idx).with_xi(xi)
        h, noise = self.h[idx], self.noise[idx]
        f, info = _fp_loop(h, xi, noise, self.p[idx], init, sens, self.opt)
        one = torch.ones_like(idx)
        self.runs.index_add_(0, idx, one)
        self.iters.index_add_(0, idx, info.iterations)
        self.unconv.index_add_(0, idx, (~info.converged).long())
        return f, _rates_bits(h, f, xi, noise).sum(-1)

    def zeta(self, idx: torch.Tensor, xi: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return _zeta(self.h[idx], f, xi, self.noise[idx], self.mrt[idx], self.mask[idx])

    def result(self, xi: torch.Tensor, f: torch.Tensor, flips: torch.Tensor | None = None,
               stop: torch.Tensor | None = None) -> AssignmentResult:
        rates = _rates_bits(self.h, f, xi, self.noise)
        zero = torch.zeros_like(self.runs)
        if self.sens is None:
            constrained = infeasible = active = torch.zeros_like(xi)
        else:
            sens = self.sens.with_xi(xi)
            constrained, infeasible = sens.on, sens.infeasible
            afa = _rdot(f, (sens.gram @ f[..., None])[..., 0])
            active = sens.on & (afa <= sens.lam * (1.0 + self.opt.active_rtol))
        return AssignmentResult(
            assign=xi.long().argmax(1) * self.mask,
            beams=f,
            rates=rates,
            sum_rate=rates.sum(-1),
            flips=zero.clone() if flips is None else flips,
            stop=zero.clone() if stop is None else stop,
            fp_runs=self.runs,
            fp_iterations=self.iters,
            fp_unconverged=self.unconv,
            constrained=constrained,
            infeasible=infeasible,
            active=active,
        )


def _context(h: torch.Tensor, noise_var: torch.Tensor | float, power: torch.Tensor | float,
             mask: torch.Tensor | None, gram: torch.Tensor | None,
             threshold: torch.Tensor | None, options: FPOptions | None) -> _Ctx:
    _check_h(h)
    bsz, _, nk, _ = h.shape
    if mask is None:
        mask = torch.ones(bsz, nk, dtype=torch.bool, device=h.device)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (bsz, nk):
        raise ShapeError(f"mask must be a bool tensor of shape [B, K] = {(bsz, nk)}")
    opt = FPOptions() if options is None else options
    if not isinstance(opt, FPOptions):
        raise ConfigError(f"options must be an FPOptions, got {type(opt).__name__}")
    for name in ("max_iter", "pgd_steps", "max_backtracks"):
        val = getattr(opt, name)
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ConfigError(f"options.{name} must be an integer >= 1, got {val!r}")
    if not opt.tol > 0 or not 0.0 < opt.armijo <= 0.5 or not 0.0 <= opt.clip_margin < 1.0:
        raise ConfigError("options: tol > 0, armijo in (0, 0.5], clip_margin in [0, 1) required")
    noise = _per_batch(noise_var, h, "noise_var")
    p = _per_batch(power, h, "power")
    sens = _prepare_sensing(gram, threshold, h, p, opt.clip_margin)
    zero = torch.zeros(bsz, dtype=torch.long, device=h.device)
    return _Ctx(h, mask.to(h.device), noise, p, mrt_beams(h, p.reshape(-1)), sens, opt,
                zero.clone(), zero.clone(), zero.clone())


def _check_distances(distances: torch.Tensor, h: torch.Tensor | None = None) -> None:
    if not isinstance(distances, torch.Tensor) or distances.dim() != 3 or \
            distances.is_complex():
        raise ShapeError("distances must be a real tensor of shape [B, I, K]")
    if h is not None and distances.shape != h.shape[:3]:
        raise ShapeError(f"distances must have shape [B, I, K] = {tuple(h.shape[:3])}, got "
                         f"{tuple(distances.shape)}")
    if not bool(torch.isfinite(distances).all()) or not bool((distances > 0).all()):
        raise ValueRangeError("distances must be finite and positive")


def _rates_bits(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, noise: torch.Tensor
                ) -> torch.Tensor:
    """``[B, K]`` log2(1 + SINR) at the serving RSU (0 if unserved)."""
    s, u, _, _ = _signals(h, f, xi, noise)
    sinr = (s.real**2 + s.imag**2) * xi / u
    return torch.log2(1.0 + sinr.sum(1))


def _zeta(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, noise: torch.Tensor,
          mrt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(47) for every pair at gamma*, y*, non-serving pairs as if served with the MRT beam."""
    s, u, _, _ = _signals(h, f, xi, noise)  # u excludes own signal; unserved beams are zero
    s_asif = (h * mrt).sum(-1)
    s = torch.where(xi, s, s_asif)
    own = s.real**2 + s.imag**2
    gamma = own / u
    sq = torch.sqrt(1.0 + gamma)
    d = u + own
    y = sq * s / d
    z = torch.log1p(gamma) - gamma + 2.0 * (y.conj() * sq * s).real - (y.real**2 + y.imag**2) * d
    return z * mask[:, None, :]


def zeta(
    h: torch.Tensor,
    beams: torch.Tensor,
    assign_or_xi: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""The assignment utility :math:`\zeta_{[i,k]}` of (47) for every pair (nats).

    Serving pairs use ``beams``; a non-serving pair is evaluated as if RSU ``i`` served ``k``
    with :math:`\mathbf f_{[i,k]} = \sqrt P\,\mathbf h_{[i,k]}^H/\|\mathbf h_{[i,k]}\|`
    (:math:`= \sqrt P\mathbf a(\varphi_{[i,k]})`), interfered by the beams RSU ``i`` sends to
    the vehicles it serves. :math:`\gamma` and :math:`y` are at (43)/(46), so
    :math:`\zeta_{[i,k]} = \ln(1 + \mathrm{SINR}_{[i,k]})` (computed through (47)).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channel rows.
    beams : torch.Tensor
        ``[B, I, K, N]`` complex beams of the serving pairs.
    assign_or_xi : torch.Tensor
        ``[B, K]`` int serving RSU or ``[B, I, K]`` bool :math:`\xi`.
    noise_var : torch.Tensor or float
        :math:`\sigma_c^2`, scalar or ``[B]``.
    power : torch.Tensor or float
        Per-beam power ``P``, scalar or ``[B]``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, real vehicles (padding gets :math:`\zeta = 0`).

    Returns
    -------
    torch.Tensor
        ``[B, I, K]`` real.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(1, 2, 3, 4, dtype=torch.complex128, generator=g)
    >>> a = torch.tensor([[0, 1, 0]])
    >>> zeta(h, mrt_beams(h, 1.0), a, 0.1, 1.0).shape
    torch.Size([1, 2, 3])
    """
    _check_h(h)
    _check_beams(beams, h, "beams")
    bsz, _, nk, _ = h.shape
    if mask is None:
        mask = torch.ones(bsz, nk, dtype=torch.bool, device=h.device)
    xi = _as_xi(assign_or_xi, h, mask)
    noise = _per_batch(noise_var, h, "noise_var")
    p = _per_batch(power, h, "power")
    return _zeta(h, beams * xi[..., None], xi, noise, mrt_beams(h, p.reshape(-1)), mask)


# --------------------------------------------------------------------------------------------
# distance
# --------------------------------------------------------------------------------------------


def nearest_rsu(distances: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""The distance-based assignment: each vehicle to its nearest RSU.

    Parameters
    ----------
    distances : torch.Tensor
        ``[B, I, K]`` real, :math:`d_{[i,k]}` in m (predicted).
    mask : torch.Tensor, optional
        ``[B, K]`` bool, real vehicles.

    Returns
    -------
    torch.Tensor
        ``[B, K]`` int64 RSU index (ties to the lower index; 0 for padding).

    Examples
    --------
    >>> import torch
    >>> nearest_rsu(torch.tensor([[[10.0, 40.0]], [[20.0, 5.0]]]).transpose(0, 1)).tolist()
    [[0, 1]]
    """
    _check_distances(distances)
    a = distances.argmin(1)
    if mask is not None:
        if mask.shape != a.shape or mask.dtype != torch.bool:
            raise ShapeError(f"mask must be a bool tensor of shape {tuple(a.shape)}")
        a = a * mask
    return a


def assign_distance(
    h: torch.Tensor,
    distances: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    gram: torch.Tensor | None = None,
    threshold: torch.Tensor | None = None,
    options: FPOptions | None = None,
) -> AssignmentResult:
    r"""Distance-based baseline: :func:`nearest_rsu` + FP + PGD beams (spec §4).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channel rows (predicted).
    distances : torch.Tensor
        ``[B, I, K]`` distances in m (predicted).
    noise_var : torch.Tensor or float
        :math:`\sigma_c^2`, scalar or ``[B]``.
    power : torch.Tensor or float
        Per-beam power ``P``, scalar or ``[B]``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, real vehicles.
    gram, threshold : torch.Tensor, optional
        Sensing constraint (37) as in :func:`~isaclearn.solvers.fractional.fp_beamforming`.
    options : FPOptions, optional
        FP iteration controls.

    Returns
    -------
    AssignmentResult
    """
    ctx = _context(h, noise_var, power, mask, gram, threshold, options)
    _check_distances(distances, h)
    xi = serving_mask(nearest_rsu(distances, ctx.mask), h.shape[1], ctx.mask)
    idx = torch.arange(h.shape[0], device=h.device)
    f, _ = ctx.solve(idx, xi, ctx.mrt)
    return ctx.result(xi, f)


# --------------------------------------------------------------------------------------------
# Alg. 3
# --------------------------------------------------------------------------------------------


def _gains(z: torch.Tensor, xi: torch.Tensor, mask: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """``e [B, K]`` (best other RSU minus current; -inf for padding) and the best other RSU."""
    cur = (z * xi).sum(1)
    other = z.masked_fill(xi, -math.inf)
    best, target = other.max(1)
    e = torch.where(mask, best - cur, torch.full_like(cur, -math.inf))
    return e, target


def assign_alg3(
    h: torch.Tensor,
    distances: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    gram: torch.Tensor | None = None,
    threshold: torch.Tensor | None = None,
    options: FPOptions | None = None,
    max_flips: int | None = None,
    tabu: bool = True,
    keep_best: bool = False,
) -> AssignmentResult:
    r"""Alg. 3 of ding_dt (heuristic assignment) with FP + PGD beams.

    1. Distance assignment, FP + PGD from :math:`\sqrt P\mathbf a(\varphi)`; :math:`\zeta` (47).
    2. :math:`e_k = \sum_i \zeta_{[i,k]}(1 - 2\xi_{[i,k]})`; for ``I > 2`` the best other RSU
       replaces "the other".
    3. While some :math:`e_k > 0`: flip :math:`k^\star = \arg\max_k e_k`, rerun FP + PGD (warm
       start), update :math:`\zeta` and :math:`e`.

    Guards (ours): at most ``max_flips`` flips (default ``2 K`` with ``K`` the element's real
    vehicles) and, with ``tabu``, the vehicle flipped last may not be chosen next. Runs for all
    batch elements at once, each with its own "done" flag.

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channel rows (predicted).
    distances : torch.Tensor
        ``[B, I, K]`` distances in m (predicted), for the starting assignment.
    noise_var : torch.Tensor or float
        :math:`\sigma_c^2`, scalar or ``[B]``.
    power : torch.Tensor or float
        Per-beam power ``P``, scalar or ``[B]``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, real vehicles.
    gram, threshold : torch.Tensor, optional
        Sensing constraint (37), see :func:`~isaclearn.solvers.fractional.fp_beamforming`.
    options : FPOptions, optional
        FP iteration controls.
    max_flips : int, optional
        Flip cap; default ``2 K`` per element.
    tabu : bool
        Forbid flipping the vehicle flipped in the previous iteration.
    keep_best : bool
        Return the visited assignment with the highest sum rate instead of the last one (not
        in the paper; default off).

    Returns
    -------
    AssignmentResult
        ``flips`` and ``stop`` say how each element ended.
    """
    ctx = _context(h, noise_var, power, mask, gram, threshold, options)
    _check_distances(distances, h)
    if max_flips is not None and (isinstance(max_flips, bool) or not isinstance(max_flips, int)
                                  or max_flips < 0):
        raise ConfigError(f"max_flips must be an integer >= 0, got {max_flips!r}")
    bsz, ni, nk, _ = h.shape
    dev = h.device
    xi = serving_mask(nearest_rsu(distances, ctx.mask), ni, ctx.mask)
    every = torch.arange(bsz, device=dev)
    f, rate = ctx.solve(every, xi, ctx.mrt)
    z = ctx.zeta(every, xi, f)
    cap = 2 * ctx.mask.sum(1) if max_flips is None else torch.full((bsz,), max_flips,
                                                                   device=dev)
    flips = torch.zeros(bsz, dtype=torch.long, device=dev)
    stop = torch.zeros(bsz, dtype=torch.long, device=dev)
    last = torch.full((bsz,), -1, dtype=torch.long, device=dev)
    done = torch.zeros(bsz, dtype=torch.bool, device=dev)
    best_rate, best_xi, best_f = rate.clone(), xi.clone(), f.clone()
    rows = torch.arange(bsz, device=dev)
    while True:
        e, target = _gains(z, xi, ctx.mask)
        e_ok = e.clone()
        if tabu:
            has_last = last >= 0
            e_ok[rows[has_last], last[has_last]] = -math.inf
        gain, kstar = e_ok.max(1)
        any_pos = (e > 0).any(1)
        newly = ~done & ~any_pos
        stop = torch.where(newly, STOP_NO_GAIN, stop)
        done |= newly
        newly = ~done & ~(gain > 0)
        stop = torch.where(newly, STOP_TABU, stop)
        done |= newly
        newly = ~done & (flips >= cap)
        stop = torch.where(newly, STOP_CAP, stop)
        done |= newly
        idx = (~done).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        k = kstar[idx]
        new_i = target[idx, k]
        xs = xi[idx].clone()
        xs[torch.arange(idx.numel(), device=dev), :, k] = False
        xs[torch.arange(idx.numel(), device=dev), new_i, k] = True
        init = f[idx].clone()
        init[torch.arange(idx.numel(), device=dev), :, k] = 0.0
        init[torch.arange(idx.numel(), device=dev), new_i, k] = ctx.mrt[idx, new_i, k]
        fs, rs = ctx.solve(idx, xs, init)
        xi[idx], f[idx], rate[idx] = xs, fs, rs
        z[idx] = ctx.zeta(idx, xs, fs)
        flips[idx] += 1
        last[idx] = k
        if keep_best:
            better = rate > best_rate
            best_rate = torch.where(better, rate, best_rate)
            best_xi[better], best_f[better] = xi[better], f[better]
    if keep_best:
        xi, f = best_xi, best_f
    return ctx.result(xi, f, flips, stop)


# --------------------------------------------------------------------------------------------
# Alg. 2
# --------------------------------------------------------------------------------------------


def assign_greedy(
    h: torch.Tensor,
    distances: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    gram: torch.Tensor | None = None,
    threshold: torch.Tensor | None = None,
    options: FPOptions | None = None,
) -> AssignmentResult:
    r"""Alg. 2 of ding_dt (greedy assignment) with FP + PGD beams; two RSUs.

    Vehicles are sorted by :math:`|1/d_{[1,k]} - 1/d_{[2,k]}|^2`, descending. The first goes to
    the nearer RSU. Each later vehicle ``k`` is placed tentatively at RSU 1 and at RSU 2; FP +
    PGD runs over the placed vehicles :math:`\mathcal V\cup\{k\}` for each placement (vehicles
    not yet placed are absent); ``k`` stays where its :math:`\zeta_{[i,k]}` (47) is larger (RSU
    2 on a tie, as in the paper's "if :math:`\zeta_1 > \zeta_2`"). The returned beams are those
    of the last FP run, over all vehicles.

    Sequential over vehicles by nature (step ``t`` depends on steps ``< t``); each step is
    batched over ``B`` and over both placements.

    Parameters
    ----------
    h, distances, noise_var, power, mask, gram, threshold, options
        As in :func:`assign_alg3`; ``I`` must be 2.

    Returns
    -------
    AssignmentResult
    """
    ctx = _context(h, noise_var, power, mask, gram, threshold, options)
    _check_distances(distances, h)
    bsz, ni, nk, _ = h.shape
    if ni != 2:
        raise ConfigError(f"assign_greedy (Alg. 2) needs exactly two RSUs, got I = {ni}")
    dev = h.device
    key = (1.0 / distances[:, 0] - 1.0 / distances[:, 1]) ** 2
    key = key.masked_fill(~ctx.mask, -math.inf)
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    xi = torch.zeros(bsz, ni, nk, dtype=torch.bool, device=dev)
    f = torch.zeros_like(h)
    first = order[:, 0]
    rows = torch.arange(bsz, device=dev)
    valid = ctx.mask[rows, first]
    near = distances[rows, :, first].argmin(-1)
    idx = valid.nonzero().squeeze(1)
    if idx.numel() > 0:
        xi[idx, near[idx], first[idx]] = True
        f[idx], _ = ctx.solve(idx, xi[idx], ctx.mrt[idx])
    for t in range(1, nk):
        k = order[:, t]
        valid = ctx.mask[rows, k]
        idx = valid.nonzero().squeeze(1)
        if idx.numel() == 0:
            break  # padding is sorted last
        n = idx.numel()
        kk = k[idx]
        sub = torch.arange(n, device=dev)
        xs, inits = [], []
        for i in range(ni):
            x = xi[idx].clone()
            x[sub, i, kk] = True
            g = f[idx].clone()
            g[sub, i, kk] = ctx.mrt[idx, i, kk]
            xs.append(x)
            inits.append(g)
        idx2 = idx.repeat(ni)
        x2 = torch.cat(xs)
        f2, _ = ctx.solve(idx2, x2, torch.cat(inits))
        z2 = ctx.zeta(idx2, x2, f2)
        hyp = torch.arange(ni, device=dev).repeat_interleave(n)
        zk = z2[torch.arange(ni * n, device=dev), hyp, kk.repeat(ni)].reshape(ni, n)
        choice = torch.where(zk[0] > zk[1], 0, 1)
        pick = choice * n + sub
        xi[idx], f[idx] = x2[pick], f2[pick]
    return ctx.result(xi, f)


# --------------------------------------------------------------------------------------------
# exhaustive
# --------------------------------------------------------------------------------------------


def assign_exhaustive(
    h: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    gram: torch.Tensor | None = None,
    threshold: torch.Tensor | None = None,
    options: FPOptions | None = None,
    max_candidates: int = 4096,
    chunk_size: int | None = None,
) -> AssignmentResult:
    r"""Exhaustive search over all :math:`I^K` assignments, each with FP + PGD beams (the oracle
    for Alg. 3; not in the paper).

    The candidates are ``itertools.product(range(I), repeat=K)``; for an element with padding,
    only candidates that put every padded vehicle on RSU 0 are run (no duplicates). FP runs on
    chunks of (element, candidate) pairs; the best sum rate (bit/s/Hz) wins, the first in
    candidate order on a tie. The search is exact over :math:`\xi`; the beams of each candidate
    are FP + PGD's (a local optimum), as for the other methods.

    Parameters
    ----------
    h, noise_var, power, mask, gram, threshold, options
        As in :func:`assign_alg3`.
    max_candidates : int
        Refuse ``I**K`` above this (4096: ``K <= 12`` for two RSUs).
    chunk_size : int, optional
        (element, candidate) pairs per FP call; default from a 256 MiB working-set estimate.

    Returns
    -------
    AssignmentResult
        ``fp_runs`` counts the candidates run per element.

    Raises
    ------
    ConfigError
        ``I**K > max_candidates`` or a bad ``chunk_size``.
    """
    ctx = _context(h, noise_var, power, mask, gram, threshold, options)
    bsz, ni, nk, n_ant = h.shape
    if ni**nk > max_candidates:
        raise ConfigError(f"exhaustive search over I**K = {ni}**{nk} assignments exceeds "
                          f"max_candidates = {max_candidates}")
    dev = h.device
    cands = torch.tensor(list(itertools.product(range(ni), repeat=nk)), dtype=torch.long,
                         device=dev).reshape(-1, nk)
    ok = ~((cands[None, :, :] != 0) & ~ctx.mask[:, None, :]).any(-1)  # [B, C]
    pairs = ok.nonzero()
    if chunk_size is None:
        item = h.element_size()
        per = ni * nk * (12 * n_ant + 8 * nk + (n_ant * n_ant if ctx.sens is not None else 0))
        chunk_size = max(1, (256 * 2**20) // (per * item))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    best = torch.full((bsz,), -math.inf, dtype=ctx.noise.dtype, device=dev)
    best_xi = torch.zeros(bsz, ni, nk, dtype=torch.bool, device=dev)
    best_f = torch.zeros_like(h)
    for chunk in pairs.split(chunk_size):
        b_idx, c_idx = chunk[:, 0], chunk[:, 1]
        xs = serving_mask(cands[c_idx], ni, ctx.mask[b_idx])
        fs, rs = ctx.solve(b_idx, xs, ctx.mrt[b_idx])
        top = torch.full_like(best, -math.inf).scatter_reduce(0, b_idx, rs, "amax")
        win = (rs >= top[b_idx]) & (rs > best[b_idx])
        pos = torch.arange(b_idx.numel(), device=dev)
        first = torch.full((bsz,), b_idx.numel(), dtype=torch.long, device=dev)
        first = first.scatter_reduce(0, b_idx[win], pos[win], "amin")
        hit = first < b_idx.numel()
        sel = first[hit]
        best[hit] = rs[sel]
        best_xi[hit] = xs[sel]
        best_f[hit] = fs[sel]
    return ctx.result(best_xi, best_f)
