r"""Fractional programming (quadratic transform) with projected gradient ascent for the
multi-RSU downlink with intra-RSU interference (ding_dt, ``shared/papers/004_...txt``, Sec. V).

Model. ``I`` RSUs with ``N`` transmit antennas serve ``K`` single-antenna vehicles. Row
:math:`\mathbf h_{[i,k]} = \kappa'\sqrt{\alpha_{[i,k]}}\,\mathbf a^H(\varphi_{[i,k]})` is the
channel of vehicle ``k`` at RSU ``i`` (eq. (8)); :math:`\xi_{[i,k]}\in\{0,1\}` says that RSU ``i``
serves ``k`` (at most one RSU per vehicle); :math:`\mathbf f_{[i,k]}` is the beam RSU ``i`` sends
to ``k``. The SINR (10), with only intra-RSU interference, is

.. math::
    \mathrm{SINR}_{[i,k]} = \frac{|\mathbf h_{[i,k]}\mathbf f_{[i,k]}|^2\,\xi_{[i,k]}}
    {\sum_{m\ne k}|\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2\xi_{[i,m]} + \sigma_c^2}.

Problem (38) with a fixed assignment :math:`\xi`:
:math:`\max_{\mathbf F}\sum_{i,k}\ln(1+\mathrm{SINR}_{[i,k]})` s.t.
:math:`\|\mathbf f_{[i,k]}\|^2\le P` and, for each served pair, the sensing constraint (37)
:math:`\mathbf f^H\mathbf A\mathbf f \ge \Lambda` with :math:`\mathbf A=\Pi^H\Pi`.

Algorithm (FP + PGD, one vectorised loop over all batch elements, RSUs and vehicles):

1. :math:`\gamma` step, eq. (43): :math:`\gamma^\star_{[i,k]} = \mathrm{SINR}_{[i,k]}` (the
   Lagrangian dual transform (39)–(42); :math:`\lambda^\star = 1/(1+\gamma)`).
2. :math:`Y` step, eq. (46) corrected: :math:`y^\star_{[i,k]} = \sqrt{1+\gamma_{[i,k]}}\,
   \mathbf h_{[i,k]}\mathbf f_{[i,k]}\xi_{[i,k]} / (\sum_m |\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2
   \xi_{[i,m]} + \sigma_c^2)`.
3. :math:`F` step: maximise the quadratic transform (44)

   .. math::
       f_q = \sum_{i,k}\Big[\ln(1+\gamma) - \gamma + 2\,\mathrm{Re}\{y^*\sqrt{1+\gamma}\,
       \mathbf h_{[i,k]}\mathbf f_{[i,k]}\}\xi_{[i,k]} - |y|^2\big(\textstyle\sum_m
       |\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2\xi_{[i,m]} + \sigma_c^2\big)\Big]

   in :math:`\mathbf F` with :math:`\gamma, Y` fixed. It is a concave quadratic that separates
   over the beams: beam ``m`` of RSU ``i`` maximises
   :math:`2\mathrm{Re}\{c_m\mathbf h_m\mathbf f_m\} - \mathbf f_m^H\mathbf Q_i\mathbf f_m` with
   :math:`c_m = y_m^*\sqrt{1+\gamma_m}` and :math:`\mathbf Q_i=\sum_k |y_k|^2\mathbf h_k^H
   \mathbf h_k`, over :math:`\{\|\mathbf f\|^2\le P\}` intersected with the SCA half-space
   :math:`2\mathrm{Re}\{\mathbf f_0^H\mathbf A\mathbf f\} - \mathbf f_0^H\mathbf A\mathbf f_0
   \ge\Lambda` (the sensing constraint linearised at the current beam :math:`\mathbf f_0`).
   Solved by projected gradient *ascent* with the Armijo rule along the feasible direction
   (Bertsekas, *Nonlinear Programming*, 2nd ed., 1999, Sec. 2.3): the direction is
   :math:`\mathbf d = \mathrm{Proj}(\mathbf f + \bar t\,\mathbf g) - \mathbf f` with the
   Barzilai–Borwein scaling :math:`\bar t` of the previous step, and the step
   :math:`\mathbf f + \tau\mathbf d`, :math:`\tau\in(0, 1]`, stays feasible by convexity. The
   first trial :math:`\tau` is the exact maximiser of the quadratic along :math:`\mathbf d`;
   it is halved until the Armijo test holds (in exact arithmetic the first trial passes for any
   Armijo constant :math:`\le 1/2`). Every step therefore increases :math:`f_q`. The projection
   onto ball ∩ half-space is closed form (:func:`project_ball_halfspace`).

The outer loop stops for a batch element when :math:`\sum\ln(1+\mathrm{SINR})` (the value of
:math:`f_q` at :math:`\gamma^\star, y^\star`) changes by less than ``tol`` relative.

Notes
-----
Paper typos and our readings (spec ``shared/specs/ding_dt.md`` §3, §6):

* (43) writes ":math:`m\ne 1`" and :math:`\xi_{[i,k]}` in the interference sum; it is
  :math:`m\ne k` and :math:`\xi_{[i,m]}`.
* (46) as printed uses the radar quantities :math:`\kappa,\beta,\sigma_z` and a modulus; the
  maximiser of (44) in :math:`y` is the expression of step 2 (Shen and Yu's quadratic
  transform), with the *total* received power (own signal included) in the denominator.
* (44) prints :math:`2y\sqrt{1+\gamma}\ldots` without conjugate and real part; for complex
  :math:`y` it is :math:`2\mathrm{Re}\{y^*\ldots\}` (Shen and Yu, [64]).
* The natural log is used in :math:`f_q` ((40)–(42) imply it; spec §6.3); reported rates use
  :math:`\log_2`.
* The paper calls the sensing constraint convex and the F step "PGD". The constraint
  :math:`\mathbf f^H\mathbf A\mathbf f\ge\Lambda` is reverse-convex and the F objective is
  *concave*; we use SCA (the half-space above, which lies inside the true feasible set because
  :math:`\mathbf f^H\mathbf A\mathbf f` is convex) and gradient *ascent*.
* Lemma 2 claims that each of (43), (46) maximises :math:`f_q`. (46) and the F step do; (43)
  maximises :math:`\max_y f_q` (the Lagrangian-dual objective), not :math:`f_q` at the stale
  :math:`y`, so :math:`f_q` may drop inside the :math:`\gamma` block alone and is restored by
  the :math:`Y` block: after every :math:`(\gamma, Y)` pair
  :math:`f_q = \sum\ln(1+\mathrm{SINR}(\mathbf F))` and the sequence of sum rates never
  decreases. ``FPInfo.trace`` records :math:`f_q` after every block so this can be checked.
* Feasibility. :math:`\max_{\|\mathbf f\|^2\le P}\mathbf f^H\mathbf A\mathbf f =
  P\lambda_{\max}(\mathbf A)`. A threshold above it is infeasible (spec §6.2); it is clipped to
  :math:`P\lambda_{\max}(1-\epsilon)` (``clip_margin``) and flagged in ``FPInfo.infeasible``
  (the spec's mode "paper"; mode "slack" passes a different :math:`\Lambda`, mode "none" passes
  none). :math:`\Lambda\le 0` is inactive. The constraint applies to served pairs only (§6.5).
  The initial beam is first made feasible: projected onto ball ∩ the half-space linearised at
  it (which lands inside the true feasible set), or, where that intersection is empty, replaced
  by :math:`\sqrt P` times the top eigenvector of :math:`\mathbf A`.
* For ding_dt's :math:`\Pi = \dot{\mathbf b}\mathbf a^H + \mathbf b\dot{\mathbf a}^H` with
  :math:`N_t = N_r` (so :math:`\mathbf b = \mathbf a`), :math:`\Pi` is Hermitian of rank 2 with
  eigenvalues :math:`\pm(\|\dot{\mathbf a}\|^2 - |\mathbf a^H\dot{\mathbf a}|^2)^{1/2}`
  (because :math:`\mathbf a^H\dot{\mathbf a}` is imaginary), so
  :math:`\lambda_{\max}(\mathbf A)` is *double* and :math:`\mathbf a(\varphi)` is one vector
  of a two-dimensional top eigenspace. A threshold close to
  :math:`P\lambda_{\max}` then leaves a thin non-convex shell around the unit sphere of that
  plane, along which SCA advances by small steps per outer iteration: expect such runs to end at
  ``max_iter`` rather than at ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from isaclearn.core.checks import check_finite
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

__all__ = [
    "FPInfo",
    "FPOptions",
    "fp_beamforming",
    "fq_objective",
    "fq_terms",
    "intra_rsu_sinr",
    "mrt_beams",
    "optimal_gamma",
    "optimal_y",
    "pgd_beams",
    "project_ball_halfspace",
    "sca_halfspace",
    "serving_mask",
]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _rdot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Real inner product ``Re{u^H v}`` over the last dimension."""
    return (u.conj() * v).sum(-1).real


def _sqnorm(u: torch.Tensor) -> torch.Tensor:
    return (u.real**2 + u.imag**2).sum(-1)


def _per_batch(x: torch.Tensor | float, h: torch.Tensor, name: str) -> torch.Tensor:
    """A positive scalar or ``[B]`` tensor as a real ``[B, 1, 1]`` tensor (``h`` is
    ``[B, I, K, N]``)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=real_dtype(h.dtype))
    t = t.to(h.device)
    if t.is_complex():
        raise ValueRangeError(f"{name} must be real and positive, got a complex value")
    t = t.to(real_dtype(h.dtype))
    if t.dim() not in (0, 1) or (t.dim() == 1 and t.shape[0] != h.shape[0]):
        raise ShapeError(f"{name} must be a scalar or have shape [B] = [{h.shape[0]}], got "
                         f"shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    return t.expand(h.shape[0]).reshape(-1, 1, 1)


def _check_h(h: torch.Tensor) -> None:
    if not isinstance(h, torch.Tensor):
        raise TypeError(f"h must be a torch.Tensor [B, I, K, N], got {type(h).__name__}")
    if h.dim() != 4 or not h.is_complex():
        raise ShapeError(f"h must be a complex tensor of shape [B, I, K, N], got "
                         f"{tuple(h.shape)} {h.dtype}")
    if h.shape[1] < 1 or h.shape[2] < 1 or h.shape[3] < 1:
        raise ShapeError(f"h must have I, K, N >= 1, got shape {tuple(h.shape)}")
    check_finite(h, "h")


def _check_beams(f: torch.Tensor, h: torch.Tensor, name: str) -> None:
    if not isinstance(f, torch.Tensor) or not f.is_complex() or f.shape != h.shape:
        got = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
        raise ShapeError(f"{name} must be a complex tensor of shape {tuple(h.shape)} "
                         f"[B, I, K, N], got {got}")
    check_finite(f, name)


def serving_mask(
    assign: torch.Tensor, num_rsus: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    r"""The binary assignment :math:`\xi` of (1) from RSU indices.

    Parameters
    ----------
    assign : torch.Tensor
        ``[B, K]`` integer, the serving RSU of each vehicle, in ``[0, I)`` (ignored where
        ``mask`` is False).
    num_rsus : int
        ``I``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, True for real vehicles (padding False). Default: all True.

    Returns
    -------
    torch.Tensor
        ``xi`` ``[B, I, K]`` bool; column ``k`` has exactly one True if ``mask[b, k]``, none
        otherwise.

    Examples
    --------
    >>> import torch
    >>> serving_mask(torch.tensor([[0, 1, 1]]), 2)[0].int().tolist()
    [[1, 0, 0], [0, 1, 1]]
    """
    if not isinstance(assign, torch.Tensor) or assign.dim() != 2:
        raise ShapeError("assign must be an integer tensor of shape [B, K]")
    if assign.is_floating_point() or assign.is_complex() or assign.dtype == torch.bool:
        raise ShapeError(f"assign must be an integer tensor, got {assign.dtype}")
    if mask is None:
        mask = torch.ones_like(assign, dtype=torch.bool)
    if mask.shape != assign.shape or mask.dtype != torch.bool:
        raise ShapeError(f"mask must be a bool tensor of shape {tuple(assign.shape)}, got "
                         f"{tuple(mask.shape)} {mask.dtype}")
    a = torch.where(mask, assign, 0).long()
    if bool(((a < 0) | (a >= num_rsus)).any()):
        raise ValueRangeError(f"assign must hold RSU indices in [0, {num_rsus}) for every "
                              f"vehicle in the mask")
    rsu = torch.arange(num_rsus, device=assign.device)
    return (a[:, None, :] == rsu[None, :, None]) & mask[:, None, :]


def _as_xi(assign_or_xi: torch.Tensor, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    b, i, k, _ = h.shape
    if not isinstance(assign_or_xi, torch.Tensor):
        raise TypeError("assign_or_xi must be a tensor: [B, K] int or [B, I, K] bool")
    if assign_or_xi.dtype == torch.bool:
        xi = assign_or_xi
        if xi.shape != (b, i, k):
            raise ShapeError(f"xi must have shape [B, I, K] = {(b, i, k)}, got "
                             f"{tuple(xi.shape)}")
        if bool((xi.sum(1) > 1).any()):
            raise ValueRangeError("xi must serve each vehicle from at most one RSU")
        if mask is not None:
            xi = xi & mask[:, None, :]
        return xi.to(h.device)
    if assign_or_xi.shape != (b, k):
        raise ShapeError(f"assign must have shape [B, K] = {(b, k)}, got "
                         f"{tuple(assign_or_xi.shape)}")
    return serving_mask(assign_or_xi.to(h.device), i, mask)


def mrt_beams(h: torch.Tensor, power: torch.Tensor | float) -> torch.Tensor:
    r"""Full-power matched beams :math:`\sqrt P\,\mathbf h^H/\|\mathbf h\|` for every pair.

    For the line-of-sight channel :math:`\mathbf h = \kappa'\sqrt\alpha\,\mathbf a^H(\varphi)`
    this is :math:`\sqrt P\,\mathbf a(\varphi)`, the initial beam of Algs. 2/3 (ding_dt).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channel rows.
    power : torch.Tensor or float
        ``P``, scalar or ``[B]``.

    Returns
    -------
    torch.Tensor
        ``[B, I, K, N]`` with :math:`\|\mathbf f\|^2 = P` (zero where ``h`` is zero).
    """
    _check_h(h)
    p = _per_batch(power, h, "power")
    nrm = _sqnorm(h).sqrt()
    scale = torch.where(nrm > 0, p.sqrt() / nrm.clamp_min(torch.finfo(nrm.dtype).tiny), 0.0)
    return h.conj() * scale[..., None]


# --------------------------------------------------------------------------------------------
# SINR, auxiliaries, objective
# --------------------------------------------------------------------------------------------


def _signals(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, noise: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Own signal ``s = h_k f_k``, interference-plus-noise ``u``, total power ``D`` and the gain
    matrix ``G[k, m] = h_k f_m`` (``[B, I, K]`` x3 and ``[B, I, K, K]``)."""
    g = h @ f.transpose(-1, -2)  # G[..., k, m] = h_k f_m
    pw = g.real**2 + g.imag**2
    xf = xi.to(pw.dtype)
    s = torch.diagonal(g, dim1=-2, dim2=-1)
    own = (s.real**2 + s.imag**2) * xf
    eye = torch.eye(h.shape[2], dtype=torch.bool, device=h.device)
    interf = (pw * xf[..., None, :]).masked_fill(eye, 0.0).sum(-1)
    u = interf + noise
    return s, u, u + own, g


def intra_rsu_sinr(
    h: torch.Tensor,
    beams: torch.Tensor,
    assign_or_xi: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""SINR (10) of every pair, intra-RSU interference only; zero where :math:`\xi = 0`.

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channel rows :math:`\mathbf h_{[i,k]}`.
    beams : torch.Tensor
        ``[B, I, K, N]`` complex, :math:`\mathbf f_{[i,k]}` (entries of unserved pairs unused).
    assign_or_xi : torch.Tensor
        ``[B, K]`` int (serving RSU) or ``[B, I, K]`` bool (:math:`\xi`).
    noise_var : torch.Tensor or float
        :math:`\sigma_c^2`, scalar or ``[B]``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, True for real vehicles.

    Returns
    -------
    torch.Tensor
        ``[B, I, K]`` real SINR (linear). The rate of vehicle ``k`` is
        ``log2(1 + sinr.sum(1))`` (one nonzero entry per served vehicle).
    """
    _check_h(h)
    _check_beams(beams, h, "beams")
    xi = _as_xi(assign_or_xi, h, mask)
    noise = _per_batch(noise_var, h, "noise_var")
    s, u, _, _ = _signals(h, beams, xi, noise)
    return (s.real**2 + s.imag**2) * xi / u


def optimal_gamma(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor,
                  noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""Eq. (43): :math:`\gamma^\star = \mathrm{SINR}` (zero for unserved pairs).

    Parameters
    ----------
    h, f : torch.Tensor
        ``[B, I, K, N]`` complex channels and beams.
    xi : torch.Tensor
        ``[B, I, K]`` bool.
    noise_var : torch.Tensor or float
        scalar or ``[B]``.

    Returns
    -------
    torch.Tensor
        ``[B, I, K]`` real.
    """
    return intra_rsu_sinr(h, f, xi, noise_var)


def optimal_y(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, gamma: torch.Tensor,
              noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""Eq. (46), corrected: the maximiser of (44) in :math:`y`.

    .. math:: y^\star_{[i,k]} = \frac{\sqrt{1+\gamma_{[i,k]}}\,\mathbf h_{[i,k]}\mathbf f_{[i,k]}
              \xi_{[i,k]}}{\sum_m |\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2\xi_{[i,m]}+\sigma_c^2}

    Parameters
    ----------
    h, f : torch.Tensor
        ``[B, I, K, N]`` complex.
    xi : torch.Tensor
        ``[B, I, K]`` bool.
    gamma : torch.Tensor
        ``[B, I, K]`` real, :math:`\gamma \ge 0`.
    noise_var : torch.Tensor or float
        scalar or ``[B]``.

    Returns
    -------
    torch.Tensor
        ``[B, I, K]`` complex (zero for unserved pairs).

    Notes
    -----
    The printed (46) uses the radar :math:`\kappa|\beta|`, :math:`\sigma_z^2` and the modulus
    :math:`|\mathbf a^H\mathbf f|` (!); setting :math:`\partial f_q/\partial y^* = 0` in (44)
    gives the expression above.
    """
    _check_h(h)
    noise = _per_batch(noise_var, h, "noise_var")
    s, _, d, _ = _signals(h, f, xi, noise)
    return torch.sqrt(1.0 + gamma) * s * xi / d


def fq_terms(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, gamma: torch.Tensor,
             y: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""The per-pair terms of (44), i.e. :math:`\zeta_{[i,k]}` of (47), natural log.

    .. math:: \zeta_{[i,k]} = \ln(1+\gamma) - \gamma + 2\mathrm{Re}\{y^*\sqrt{1+\gamma}\,
              \mathbf h_{[i,k]}\mathbf f_{[i,k]}\}\xi_{[i,k]} - |y|^2\Big(\sum_m
              |\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2\xi_{[i,m]} + \sigma_c^2\Big)

    Parameters
    ----------
    h, f : torch.Tensor
        ``[B, I, K, N]`` complex.
    xi : torch.Tensor
        ``[B, I, K]`` bool.
    gamma : torch.Tensor
        ``[B, I, K]`` real, ``> -1``.
    y : torch.Tensor
        ``[B, I, K]`` complex.
    noise_var : torch.Tensor or float
        scalar or ``[B]``.

    Returns
    -------
    torch.Tensor
        ``[B, I, K]`` real. Zero for pairs with :math:`\gamma = y = 0`; equal to
        :math:`\ln(1+\mathrm{SINR})` at :math:`\gamma^\star, y^\star` of a served pair.
    """
    noise = _per_batch(noise_var, h, "noise_var")
    s, _, d, _ = _signals(h, f, xi, noise)
    sq = torch.sqrt(1.0 + gamma)
    lin = 2.0 * (y.conj() * sq * s).real * xi
    return torch.log1p(gamma) - gamma + lin - (y.real**2 + y.imag**2) * d


def fq_objective(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, gamma: torch.Tensor,
                 y: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""The quadratic-transform objective :math:`f_q` (44) per batch element (nats).

    Same arguments as :func:`fq_terms`; returns ``[B]`` (the sum of :func:`fq_terms` over
    ``I`` and ``K``).
    """
    return fq_terms(h, f, xi, gamma, y, noise_var).sum((1, 2))


# --------------------------------------------------------------------------------------------
# projection and SCA
# --------------------------------------------------------------------------------------------


def project_ball_halfspace(
    z: torch.Tensor,
    c: torch.Tensor,
    b: torch.Tensor | float,
    radius: torch.Tensor | float,
    *,
    return_case: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Euclidean projection onto :math:`\{\mathbf f\in\mathbb C^N:\ \|\mathbf f\|\le r,\
    \mathrm{Re}\{\mathbf c^H\mathbf f\}\ge b\}`, in closed form, batched.

    With :math:`P_B` the ball projection and :math:`P_H` the half-space projection:

    * case 0: :math:`P_B(\mathbf z)` if it lies in the half-space;
    * case 1: else :math:`P_H(\mathbf z) = \mathbf z + \frac{(b-\mathrm{Re}\{\mathbf c^H
      \mathbf z\})^+}{\|\mathbf c\|^2}\mathbf c` if it lies in the ball;
    * case 2: else both constraints are active and the projection is the nearest point of the
      sphere ∩ hyperplane, :math:`\beta\mathbf u + \sqrt{r^2-\beta^2}\,\mathbf w/\|\mathbf w\|`
      with :math:`\mathbf u = \mathbf c/\|\mathbf c\|`, :math:`\beta = b/\|\mathbf c\|` and
      :math:`\mathbf w = \mathbf z - \mathrm{Re}\{\mathbf u^H\mathbf z\}\mathbf u` (if
      :math:`\mathbf w = 0`, the direction :math:`j\mathbf u`, which is real-orthogonal to
      :math:`\mathbf u`);
    * case 3: the set is empty (:math:`b > r\|\mathbf c\|`): returns :math:`r\mathbf u`, the
      point of the ball that maximises :math:`\mathrm{Re}\{\mathbf c^H\mathbf f\}` (the ball
      projection when :math:`\mathbf c = 0`).

    Parameters
    ----------
    z : torch.Tensor
        ``[..., N]`` complex points.
    c : torch.Tensor
        ``[..., N]`` complex normals (``0`` with ``b <= 0`` means no half-space).
    b : torch.Tensor or float
        ``[...]`` real offsets.
    radius : torch.Tensor or float
        ``r >= 0``, broadcasting against ``[...]``.
    return_case : bool
        Also return the case index ``[...]`` (int64, 0–3 as above).

    Returns
    -------
    torch.Tensor or (torch.Tensor, torch.Tensor)
        ``[..., N]`` projections (and the case indices).

    Notes
    -----
    :math:`\mathbb C^N` is treated as :math:`\mathbb R^{2N}` with the inner product
    :math:`\mathrm{Re}\{\mathbf u^H\mathbf v\}`. The three-case rule is exact for the
    intersection of a ball and a half-space: if neither single projection is feasible, both
    constraints are active at the solution (KKT).

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([2.0 + 0j, 0.0])
    >>> c = torch.tensor([0.0 + 0j, 1.0])
    >>> project_ball_halfspace(z, c, 0.6, 1.0)
    tensor([0.8000+0.j, 0.6000+0.j])
    """
    if not (isinstance(z, torch.Tensor) and isinstance(c, torch.Tensor)):
        raise TypeError("z and c must be complex tensors [..., N]")
    if not z.is_complex() or not c.is_complex() or z.dim() < 1:
        raise ShapeError("z and c must be complex tensors [..., N]")
    rd = real_dtype(z.dtype)
    bt = torch.as_tensor(b, dtype=rd, device=z.device)
    r = torch.as_tensor(radius, dtype=rd, device=z.device)
    if bool((r < 0).any()):
        raise ValueRangeError("radius must be non-negative")
    z, c = torch.broadcast_tensors(z, c)
    shape = z.shape[:-1]
    bt = bt.expand(shape)
    r = r.expand(shape)
    tiny = torch.finfo(rd).tiny

    zn = _sqnorm(z).sqrt()
    zb = z * torch.where(zn > r, r / zn.clamp_min(tiny), torch.ones_like(zn))[..., None]
    cn2 = _sqnorm(c)
    cn = cn2.sqrt()
    ok_ball = _rdot(c, zb) >= bt
    viol = (bt - _rdot(c, z)).clamp_min(0.0)
    zh = z + (viol / cn2.clamp_min(tiny))[..., None] * c
    ok_half = _sqnorm(zh) <= r * r
    u = c / cn.clamp_min(tiny)[..., None]
    beta = bt / cn.clamp_min(tiny)
    rho = (r * r - beta * beta).clamp_min(0.0).sqrt()
    w = z - _rdot(u, z)[..., None] * u
    wn = _sqnorm(w).sqrt()
    degenerate = wn <= 1e-12 * (zn + r).clamp_min(tiny)
    w = torch.where(degenerate[..., None], 1j * u, w)
    wn = torch.where(degenerate, _sqnorm(w).sqrt(), wn)
    zc = beta[..., None] * u + (rho / wn.clamp_min(tiny))[..., None] * w
    empty = bt > r * cn
    zempty = torch.where((cn > 0)[..., None], r[..., None] * u, zb)

    case = torch.full(shape, 2, dtype=torch.long, device=z.device)
    case = torch.where(ok_half, torch.ones_like(case), case)
    case = torch.where(ok_ball, torch.zeros_like(case), case)
    case = torch.where(empty, torch.full_like(case, 3), case)
    out = torch.where((case == 0)[..., None], zb,
                      torch.where((case == 1)[..., None], zh,
                                  torch.where((case == 2)[..., None], zc, zempty)))
    return (out, case) if return_case else out


def sca_halfspace(gram: torch.Tensor, f0: torch.Tensor, threshold: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""SCA of the sensing constraint (37) at :math:`\mathbf f_0`: a half-space.

    :math:`\mathbf f^H\mathbf A\mathbf f \ge \Lambda` is replaced by its convex minorant's
    level set :math:`2\mathrm{Re}\{\mathbf f_0^H\mathbf A\mathbf f\} - \mathbf f_0^H\mathbf A
    \mathbf f_0\ge\Lambda`, written as :math:`\mathrm{Re}\{\mathbf c^H\mathbf f\}\ge b` with
    :math:`\mathbf c = 2\mathbf A\mathbf f_0` and :math:`b = \Lambda + \mathbf f_0^H\mathbf A
    \mathbf f_0`. Every point of the half-space satisfies the original constraint.

    Parameters
    ----------
    gram : torch.Tensor
        ``[..., N, N]`` Hermitian PSD :math:`\mathbf A = \Pi^H\Pi`.
    f0 : torch.Tensor
        ``[..., N]`` complex linearisation point.
    threshold : torch.Tensor
        ``[...]`` real :math:`\Lambda`.

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``c`` ``[..., N]`` complex and ``b`` ``[...]`` real.
    """
    af = (gram @ f0[..., None])[..., 0]
    return 2.0 * af, threshold + _rdot(f0, af)


# --------------------------------------------------------------------------------------------
# F step: projected gradient ascent with Armijo backtracking
# --------------------------------------------------------------------------------------------


def _project(z: torch.Tensor, c: torch.Tensor | None, b: torch.Tensor | None,
             radius: torch.Tensor) -> torch.Tensor:
    if c is None or b is None:
        zn = _sqnorm(z).sqrt()
        tiny = torch.finfo(zn.dtype).tiny
        return z * torch.where(zn > radius, radius / zn.clamp_min(tiny),
                               torch.ones_like(zn))[..., None]
    out = project_ball_halfspace(z, c, b, radius)
    assert isinstance(out, torch.Tensor)
    return out


def _pgd(h: torch.Tensor, f: torch.Tensor, xi: torch.Tensor, coef: torch.Tensor,
         wy: torch.Tensor, radius: torch.Tensor, c: torch.Tensor | None, b: torch.Tensor | None,
         steps: int, armijo: float, max_backtracks: int, step_tol: float
         ) -> tuple[torch.Tensor, int]:
    """PGD core on validated tensors. ``coef`` = conj(y) sqrt(1+gamma) xi ``[B, I, K]``,
    ``wy`` = |y|^2 ``[B, I, K]``, ``radius`` ``[B, 1, 1]``; returns the beams and the number of
    steps taken."""
    xf = xi.to(wy.dtype)[..., None]
    hc = h.conj()
    rad = radius.expand(xi.shape)
    wyc = wy.to(h.dtype)
    # Q_i = sum_k |y_k|^2 h_k^H h_k; 1/tr(Q_i) <= 1/lambda_max is the first scaling.
    trq = (wy * _sqnorm(h)).sum(-1, keepdim=True).expand(xi.shape)
    tiny = torch.finfo(wy.dtype).tiny
    t_min = torch.where(trq > 0, 1.0 / trq.clamp_min(tiny), torch.ones_like(trq))
    t_max = 1e8 * t_min
    t = t_min.clone()
    tol2 = (step_tol**2) * rad * rad

    def qmul(v: torch.Tensor) -> torch.Tensor:  # Q_i v_m for every beam m
        gv = h @ v.transpose(-1, -2)  # [.., k, m] = h_k v_m
        return torch.einsum("bik,bikn,bikm->bimn", wyc, hc, gv)

    lin_coef = coef.conj()[..., None] * hc
    qf = qmul(f)
    taken = 0
    for _ in range(steps):
        grad = (lin_coef - qf) * xf
        d = _project(f + t[..., None] * grad, c, b, rad) * xf - f
        lin = 2.0 * _rdot(grad, d)  # directional derivative, >= 0 up to rounding
        qd = qmul(d)
        quad = _rdot(d, qd)  # d^H Q d >= 0
        # First trial: the exact maximiser of tau*lin - tau^2*quad on (0, 1].
        tau = torch.where(quad > 0, (0.5 * lin / quad.clamp_min(tiny)).clamp(max=1.0),
                          torch.ones_like(lin))
        tau = torch.where((lin > 0) & xi, tau, torch.zeros_like(tau))
        ok = torch.zeros_like(xi)
        for _ in range(max_backtracks):
            ok = tau * lin - tau * tau * quad >= armijo * tau * lin
            if bool(ok.all()):
                break
            tau = torch.where(ok, tau, 0.5 * tau)
        tau = torch.where(ok, tau, torch.zeros_like(tau))
        taken += 1
        f = f + tau[..., None] * d
        qf = qf + tau[..., None] * qd
        # Barzilai-Borwein scaling for the next step: s^T s / s^T Q s with s = tau d.
        dd = _sqnorm(d)
        t = torch.where((tau > 0) & (quad > 0),
                        (dd / quad.clamp_min(tiny)).clamp(min=t_min, max=t_max), t)
        if bool((tau * tau * dd <= tol2).all()):
            break
    return f, taken


def pgd_beams(
    h: torch.Tensor,
    f0: torch.Tensor,
    xi: torch.Tensor,
    gamma: torch.Tensor,
    y: torch.Tensor,
    power: torch.Tensor | float,
    *,
    halfspace: tuple[torch.Tensor, torch.Tensor] | None = None,
    steps: int = 200,
    armijo: float = 1e-4,
    max_backtracks: int = 40,
    step_tol: float = 1e-10,
) -> torch.Tensor:
    r"""The F step of FP: maximise (44) over the beams with :math:`\gamma, Y` fixed, by
    projected gradient ascent with Armijo backtracking.

    Each served beam ``m`` of RSU ``i`` solves the concave QP
    :math:`\max\ 2\mathrm{Re}\{c_m\mathbf h_m\mathbf f_m\} - \mathbf f_m^H\mathbf Q_i
    \mathbf f_m` over :math:`\{\|\mathbf f_m\|^2\le P\}\cap\{\mathrm{Re}\{\mathbf c^H
    \mathbf f_m\}\ge b\}` (see the module docstring). With the ascent direction
    :math:`\mathbf g = c_m^*\mathbf h_m^H - \mathbf Q_i\mathbf f_m` (half the real gradient), each
    step forms :math:`\mathbf d = \mathrm{Proj}(\mathbf f + \bar t\mathbf g) - \mathbf f` and moves
    to :math:`\mathbf f + \tau\mathbf d`. The increment is exactly
    :math:`\tau\,2\mathrm{Re}\{\mathbf g^H\mathbf d\} - \tau^2\mathbf d^H\mathbf Q\mathbf d`; the
    first trial :math:`\tau = \min(1, \mathrm{Re}\{\mathbf g^H\mathbf d\}/\mathbf d^H\mathbf Q
    \mathbf d)` maximises it and :math:`\tau` is halved until the Armijo test (increment
    :math:`\ge` ``armijo`` :math:`\cdot\,\tau\,2\mathrm{Re}\{\mathbf g^H\mathbf d\}`) holds.
    :math:`\bar t` is the Barzilai–Borwein step :math:`\|\mathbf s\|^2/\mathbf s^H\mathbf Q
    \mathbf s` of the previous step, clipped to :math:`[1, 10^8]/\mathrm{tr}\,\mathbf Q_i`.

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex channels.
    f0 : torch.Tensor
        ``[B, I, K, N]`` complex start, feasible for the served beams.
    xi : torch.Tensor
        ``[B, I, K]`` bool, served pairs (others stay zero).
    gamma : torch.Tensor
        ``[B, I, K]`` real.
    y : torch.Tensor
        ``[B, I, K]`` complex.
    power : torch.Tensor or float
        ``P``, scalar or ``[B]``.
    halfspace : (torch.Tensor, torch.Tensor), optional
        ``(c [B, I, K, N], b [B, I, K])``: :math:`\mathrm{Re}\{\mathbf c^H\mathbf f\}\ge b` per
        beam (``c = 0, b < 0`` disables it for a beam).
    steps : int
        Maximum number of gradient steps.
    armijo : float
        Armijo constant in ``(0, 1/2]``.
    max_backtracks : int
        Maximum halvings per step.
    step_tol : float
        Stop when every step satisfies :math:`\tau\|\mathbf d\|\le` ``step_tol``
        :math:`\sqrt P`.

    Returns
    -------
    torch.Tensor
        ``[B, I, K, N]`` beams (zero for unserved pairs).
    """
    _check_h(h)
    _check_beams(f0, h, "f0")
    if not 0.0 < armijo <= 0.5:
        raise ConfigError(f"armijo must lie in (0, 0.5], got {armijo}")
    p = _per_batch(power, h, "power")
    coef = y.conj() * torch.sqrt(1.0 + gamma) * xi
    wy = (y.real**2 + y.imag**2)
    c, b = (None, None) if halfspace is None else halfspace
    f, _ = _pgd(h, f0 * xi[..., None], xi, coef, wy, p.sqrt(), c, b, steps, armijo,
                max_backtracks, step_tol)
    return f


# --------------------------------------------------------------------------------------------
# the FP loop
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FPOptions:
    """Iteration controls of :func:`fp_beamforming` (shared by the assignment solvers)."""

    max_iter: int = 100
    """Maximum number of outer (gamma, Y, F) iterations."""
    tol: float = 1e-5
    """Stop when the sum rate (nats) changes by less than ``tol`` relative."""
    pgd_steps: int = 10
    """Maximum projected-gradient steps per F step."""
    armijo: float = 1e-4
    """Armijo constant of the backtracking line search."""
    max_backtracks: int = 40
    """Maximum step halvings per gradient step."""
    step_tol: float = 1e-10
    """A PGD pass ends when every step is below ``step_tol * sqrt(P)``."""
    clip_margin: float = 1e-6
    """An infeasible threshold is clipped to ``P lambda_max (1 - clip_margin)``."""
    active_rtol: float = 1e-3
    """The sensing constraint counts as active when ``f^H A f <= Lambda (1 + active_rtol)``."""


@dataclass
class FPInfo:
    """Diagnostics of :func:`fp_beamforming` (``T`` = iterations the loop ran, max over B)."""

    objective: torch.Tensor
    """``[B, T + 1]`` sum of ln(1 + SINR) (nats) at the start and after every iteration (padded
    with the last value after an element converged)."""
    trace: torch.Tensor
    """``[B, 3 T + 1]`` f_q (44) after the start and after each F, gamma and Y block."""
    iterations: torch.Tensor
    """``[B]`` int64, outer iterations run per element."""
    converged: torch.Tensor
    """``[B]`` bool, the relative change fell below ``tol``."""
    constrained: torch.Tensor
    """``[B, I, K]`` bool, served pairs with a sensing constraint (Lambda > 0)."""
    infeasible: torch.Tensor
    """``[B, I, K]`` bool, constrained pairs with Lambda > P lambda_max(A) (threshold clipped)."""
    active: torch.Tensor
    """``[B, I, K]`` bool, constrained pairs where the constraint binds at the returned beams."""
    threshold: torch.Tensor | None
    """``[B, I, K]`` the thresholds used (after clipping), or None without a constraint."""


@dataclass
class _Sensing:
    """The sensing constraint of every pair, prepared once (eigendecompositions included)."""

    gram: torch.Tensor  # [B, I, K, N, N]
    lam: torch.Tensor  # [B, I, K] threshold, clipped where infeasible
    pos: torch.Tensor  # [B, I, K] bool, Lambda > 0
    over: torch.Tensor  # [B, I, K] bool, Lambda > P lambda_max (clipped)
    vmax: torch.Tensor  # [B, I, K, N] sqrt(P) * top eigenvector (zero where not pos)
    on: torch.Tensor  # [B, I, K] bool, constrained: pos and served

    def index(self, idx: torch.Tensor) -> _Sensing:
        return _Sensing(self.gram[idx], self.lam[idx], self.pos[idx], self.over[idx],
                        self.vmax[idx], self.on[idx])

    def with_xi(self, xi: torch.Tensor) -> _Sensing:
        return _Sensing(self.gram, self.lam, self.pos, self.over, self.vmax, self.pos & xi)

    @property
    def infeasible(self) -> torch.Tensor:
        return self.on & self.over


def _prepare_sensing(gram: torch.Tensor | None, threshold: torch.Tensor | None,
                     h: torch.Tensor, p: torch.Tensor, margin: float) -> _Sensing | None:
    """Validate (gram, threshold); eigendecompose the pairs with Lambda > 0; clip."""
    if gram is None and threshold is None:
        return None
    if gram is None or threshold is None:
        raise ConfigError("gram and threshold must be given together (or neither)")
    bsz, ni, nk, n = h.shape
    if not isinstance(gram, torch.Tensor) or gram.shape != (bsz, ni, nk, n, n):
        got = tuple(gram.shape) if isinstance(gram, torch.Tensor) else type(gram).__name__
        raise ShapeError(f"gram must have shape [B, I, K, N, N] = {(bsz, ni, nk, n, n)}, got "
                         f"{got}")
    if not isinstance(threshold, torch.Tensor) or threshold.shape != (bsz, ni, nk):
        got = tuple(threshold.shape) if isinstance(threshold, torch.Tensor) else \
            type(threshold).__name__
        raise ShapeError(f"threshold must have shape [B, I, K] = {(bsz, ni, nk)}, got {got}")
    if threshold.is_complex() or not gram.is_complex():
        raise ValueRangeError("gram must be complex and threshold real")
    check_finite(gram, "gram")
    check_finite(threshold, "threshold")
    a = gram.to(h.dtype)
    lam = threshold.to(real_dtype(h.dtype))
    pos = lam > 0
    vmax = torch.zeros_like(h)
    lmax = torch.zeros_like(lam)
    if bool(pos.any()):
        ev, vec = torch.linalg.eigh(a[pos])
        lmax[pos] = ev[..., -1]
        vmax[pos] = vec[..., -1] * p.expand(lam.shape)[pos].sqrt()[..., None]
    cap = p.expand(lam.shape) * lmax
    over = pos & (lam > cap)
    lam = torch.where(over, cap * (1.0 - margin), lam)
    return _Sensing(a, lam, pos, over, vmax, pos)


def _restore(f: torch.Tensor, sens: _Sensing, radius: torch.Tensor) -> torch.Tensor:
    """Make the served, constrained beams feasible for f^H A f >= Lambda (see module Notes)."""
    c, b = sca_halfspace(sens.gram, f, sens.lam)
    rad = radius.expand(sens.lam.shape)
    empty = sens.on & (b > rad * _sqnorm(c).sqrt())
    f = torch.where(empty[..., None], sens.vmax, f)
    c, b = sca_halfspace(sens.gram, f, sens.lam)
    c = torch.where(sens.on[..., None], c, torch.zeros_like(c))
    b = torch.where(sens.on, b, -torch.ones_like(b))
    return _project(f, c, b, rad)


def _halfspace(f: torch.Tensor, sens: _Sensing | None
               ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    if sens is None:
        return None, None
    c, b = sca_halfspace(sens.gram, f, sens.lam)
    c = torch.where(sens.on[..., None], c, torch.zeros_like(c))
    b = torch.where(sens.on, b, -torch.ones_like(b))
    return c, b


def fp_beamforming(
    h: torch.Tensor,
    assign_or_xi: torch.Tensor,
    noise_var: torch.Tensor | float,
    power: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    gram: torch.Tensor | None = None,
    threshold: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    pgd_steps: int = 10,
    armijo: float = 1e-4,
    max_backtracks: int = 40,
    step_tol: float = 1e-10,
    clip_margin: float = 1e-6,
    active_rtol: float = 1e-3,
) -> tuple[torch.Tensor, FPInfo]:
    r"""Beams for a fixed RSU assignment by FP (quadratic transform) + PGD (ding_dt Sec. V).

    Runs the loop of the module docstring — (43), (46), F step with SCA of (37) — for all batch
    elements, RSUs and vehicles at once; an element stops when its sum rate changes by less than
    ``tol`` relative (the others continue).

    Parameters
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex, channel rows :math:`\mathbf h_{[i,k]} = \kappa'
        \sqrt{\alpha_{[i,k]}}\mathbf a^H(\varphi_{[i,k]})` (predicted), at every RSU.
    assign_or_xi : torch.Tensor
        ``[B, K]`` int serving RSU per vehicle, or ``[B, I, K]`` bool :math:`\xi` (a vehicle
        with no True is not served, e.g. not yet placed by Alg. 2).
    noise_var : torch.Tensor or float
        :math:`\sigma_c^2` (linear), scalar or ``[B]``.
    power : torch.Tensor or float
        Per-beam power :math:`P` (``||f||^2 <= P``), scalar or ``[B]``.
    mask : torch.Tensor, optional
        ``[B, K]`` bool, True for real vehicles (padding False).
    gram : torch.Tensor, optional
        ``[B, I, K, N, N]`` :math:`\mathbf A = \Pi^H\Pi` of each pair (sensing constraint (37)).
    threshold : torch.Tensor, optional
        ``[B, I, K]`` :math:`\Lambda` (``<= 0``: inactive). Only served pairs are constrained.
    init : torch.Tensor, optional
        ``[B, I, K, N]`` initial beams; default :func:`mrt_beams` (:math:`\sqrt P\mathbf a`).
    max_iter, tol, pgd_steps, armijo, max_backtracks, step_tol, clip_margin, active_rtol
        See :class:`FPOptions`.

    Returns
    -------
    beams : torch.Tensor
        ``[B, I, K, N]``, zero for unserved pairs, :math:`\|\mathbf f\|^2\le P`.
    info : FPInfo
        Objective trace, iterations, convergence, constraint masks.

    Raises
    ------
    ShapeError, ValueRangeError, ConfigError
        Bad shapes, values or options.

    Notes
    -----
    See the module docstring for the paper's typos and our corrections. The loop over
    iterations is Python; everything inside is batched. Converged elements are dropped from the
    working set.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> h = torch.randn(2, 2, 3, 4, dtype=torch.complex128, generator=g)
    >>> f, info = fp_beamforming(h, torch.tensor([[0, 1, 0], [1, 1, 0]]), 0.1, 1.0)
    >>> f.shape, bool(((f.abs() ** 2).sum(-1) <= 1 + 1e-12).all())
    (torch.Size([2, 2, 3, 4]), True)
    >>> bool((info.objective[:, -1] >= info.objective[:, 0]).all())
    True
    """
    _check_h(h)
    for name, val in (("max_iter", max_iter), ("pgd_steps", pgd_steps),
                      ("max_backtracks", max_backtracks)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {val!r}")
    if not tol > 0 or not 0 <= clip_margin < 1:
        raise ConfigError(f"tol must be > 0 and clip_margin in [0, 1), got {tol}, {clip_margin}")
    if not 0.0 < armijo <= 0.5:
        raise ConfigError(f"armijo must lie in (0, 0.5], got {armijo}")
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool
                             or mask.shape != h.shape[:1] + h.shape[2:3]):
        raise ShapeError(f"mask must be a bool tensor of shape [B, K] = "
                         f"{tuple(h.shape[:1] + h.shape[2:3])}")
    xi = _as_xi(assign_or_xi, h, mask)
    noise = _per_batch(noise_var, h, "noise_var")
    p = _per_batch(power, h, "power")
    if init is None:
        f = mrt_beams(h, p.reshape(-1))
    else:
        _check_beams(init, h, "init")
        f = init.to(h.dtype)
    sens = _prepare_sensing(gram, threshold, h, p, clip_margin)
    if sens is not None:
        sens = sens.with_xi(xi)
    return _fp_loop(h, xi, noise, p, f, sens, FPOptions(
        max_iter=max_iter, tol=tol, pgd_steps=pgd_steps, armijo=armijo,
        max_backtracks=max_backtracks, step_tol=step_tol, clip_margin=clip_margin,
        active_rtol=active_rtol))


def _fp_loop(h: torch.Tensor, xi: torch.Tensor, noise: torch.Tensor, p: torch.Tensor,
             f: torch.Tensor, sens: _Sensing | None, opt: FPOptions
             ) -> tuple[torch.Tensor, FPInfo]:
    """The FP loop on validated tensors (``noise``, ``p`` are ``[B, 1, 1]``)."""
    bsz = h.shape[0]
    radius = p.sqrt()
    xf = xi[..., None]
    f = _project(f, None, None, radius.expand(xi.shape)) * xf
    if sens is not None:
        f = _restore(f, sens, radius) * xf

    def aux(hh: torch.Tensor, ff: torch.Tensor, xx: torch.Tensor, nn: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
        s, u, d, _ = _signals(hh, ff, xx, nn)
        g = (s.real**2 + s.imag**2) * xx / u
        return g, torch.sqrt(1.0 + g) * s * xx / d

    def fq(hh: torch.Tensor, ff: torch.Tensor, xx: torch.Tensor, g: torch.Tensor,
           yy: torch.Tensor, nn: torch.Tensor) -> torch.Tensor:
        return fq_objective(hh, ff, xx, g, yy, nn.reshape(-1))

    gamma, y = aux(h, f, xi, noise)
    rate = fq(h, f, xi, gamma, y, noise)
    objective = [rate.clone()]
    trace = [rate.clone()]
    iters = torch.zeros(bsz, dtype=torch.long, device=h.device)
    converged = torch.zeros(bsz, dtype=torch.bool, device=h.device)
    tiny = torch.finfo(rate.dtype).tiny
    for _ in range(opt.max_iter):
        idx = (~converged).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        hs, fs, xs, ns, ps = h[idx], f[idx], xi[idx], noise[idx], p[idx]
        gs, ys = gamma[idx], y[idx]
        ss = None if sens is None else sens.index(idx)
        c, b = _halfspace(fs, ss)
        coef = ys.conj() * torch.sqrt(1.0 + gs) * xs
        fs, _ = _pgd(hs, fs, xs, coef, ys.real**2 + ys.imag**2, ps.sqrt(), c, b,
                     opt.pgd_steps, opt.armijo, opt.max_backtracks, opt.step_tol)
        q_f = fq(hs, fs, xs, gs, ys, ns)
        s_, u_, d_, _ = _signals(hs, fs, xs, ns)
        gs = (s_.real**2 + s_.imag**2) * xs / u_
        q_g = fq(hs, fs, xs, gs, ys, ns)
        ys = torch.sqrt(1.0 + gs) * s_ * xs / d_
        q_y = fq(hs, fs, xs, gs, ys, ns)
        prev = rate[idx]
        f[idx], gamma[idx], y[idx] = fs, gs, ys
        rate = rate.clone()
        rate[idx] = q_y
        iters[idx] += 1
        conv = (q_y - prev).abs() <= opt.tol * q_y.abs().clamp_min(tiny)
        converged[idx] = conv
        for lst, val in ((trace, q_f), (trace, q_g), (trace, q_y)):
            row = lst[-1].clone()
            row[idx] = val
            lst.append(row)
        objective.append(rate.clone())

    constrained = torch.zeros_like(xi) if sens is None else sens.on
    infeasible = torch.zeros_like(xi) if sens is None else sens.infeasible
    if sens is None:
        active = torch.zeros_like(xi)
    else:
        afa = _rdot(f, (sens.gram @ f[..., None])[..., 0])
        active = sens.on & (afa <= sens.lam * (1.0 + opt.active_rtol))
    info = FPInfo(
        objective=torch.stack(objective, 1),
        trace=torch.stack(trace, 1),
        iterations=iters,
        converged=converged,
        constrained=constrained,
        infeasible=infeasible,
        active=active,
        threshold=None if sens is None else torch.where(sens.on, sens.lam, 0.0),
    )
    return f, info
