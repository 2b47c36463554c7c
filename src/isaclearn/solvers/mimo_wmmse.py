r"""WMMSE for the multi-user MIMO downlink (Shi, Razaviyayn, Luo and He 2011, matrix form).

Problem (``K`` users with ``N`` receive antennas and ``S`` streams each, total power ``P``):

.. math::
    \max_{\{\mathbf V_k\}}\ \sum_k \alpha_k \log_2\det\big(\mathbf I + \mathbf H_k\mathbf V_k
      \mathbf V_k^H\mathbf H_k^H\mathbf C_k^{-1}\big)
    \quad\text{s.t.}\quad \sum_k \|\mathbf V_k\|_F^2 \le P,

with :math:`\mathbf C_k = \sum_{l\ne k}\mathbf H_k\mathbf V_l\mathbf V_l^H\mathbf H_k^H +
\sigma^2\mathbf I` (the rate of :func:`isaclearn.metrics.comm.mimo_rates`). One iteration of
the block coordinate descent on the equivalent weighted-MSE problem:

1. MMSE receivers :math:`\mathbf U_k = \mathbf J_k^{-1}\mathbf H_k\mathbf V_k`,
   :math:`\mathbf J_k = \sum_l \mathbf H_k\mathbf V_l\mathbf V_l^H\mathbf H_k^H
   + \sigma^2\mathbf I`;
2. MSE weights :math:`\mathbf W_k = \mathbf E_k^{-1} = \mathbf I + \mathbf V_k^H\mathbf H_k^H
   \mathbf C_k^{-1}\mathbf H_k\mathbf V_k` (the same matrix, Hermitian by construction);
3. transmitters :math:`\mathbf V_k = \alpha_k(\mathbf A + \mu\mathbf I)^{-1}\mathbf H_k^H
   \mathbf U_k\mathbf W_k`, :math:`\mathbf A = \sum_l\alpha_l\mathbf H_l^H\mathbf U_l
   \mathbf W_l\mathbf U_l^H\mathbf H_l`, with :math:`\mu \ge 0` the root of the power equation
   found by the eigendecomposition and Newton method of :mod:`isaclearn.solvers.wmmse`.

Each block update is exact, so :math:`\sum_k\alpha_k\log_2\det\mathbf W_k` (the weighted sum
rate) never decreases. With ``N = 1`` and ``S = 1`` this is the MISO algorithm of
:func:`isaclearn.solvers.wmmse`.

Notes
-----
* The channels are divided by :math:`\sigma` internally (noise 1): the precoders are invariant
  and the tiny THz path gains (:math:`\sim 10^{-8}`) stay well scaled in complex64.
* Only a total (sum) power budget is handled. A per-antenna budget such as liu_irs_ppo's (22) is
  met afterwards by scaling (:class:`isaclearn.solvers.irs.MimoWmmse`).
* Eigenvalues of :math:`\mathbf A` below ``1e-10`` (complex128) or ``1e-5`` (complex64) times the
  largest are treated as its null space, where :math:`\mathbf B` has no component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

import torch

from isaclearn.core.checks import as_batch_param, check_count, check_last_dims
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq, herm
from isaclearn.solvers.wmmse import _lagrange_multiplier

__all__ = ["MimoWmmseInfo", "mimo_wmmse"]


@dataclass
class MimoWmmseInfo:
    """Diagnostics of a :func:`mimo_wmmse` run.

    Attributes
    ----------
    objective : torch.Tensor
        ``[..., iterations + 1]`` weighted sum rate (bit/s/Hz), at the initialization and after
        each iteration. Non-decreasing.
    iterations : int
        Iterations performed.
    converged : torch.Tensor
        ``[...]`` bool: relative improvement at most ``tol`` in the last iteration.
    """

    objective: torch.Tensor
    iterations: int
    converged: torch.Tensor


def _herm_part(a: torch.Tensor) -> torch.Tensor:
    return 0.5 * (a + herm(a))


def _stats(
    h: torch.Tensor, v: torch.Tensor, alpha: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``U_k`` ``[..., K, N, S]``, ``W_k`` ``[..., K, S, S]`` and the weighted sum rate
    ``[...]`` for precoders ``v`` ``[..., K, M, S]`` (noise 1)."""
    n = h.shape[-2]
    g = h.unsqueeze(-3) @ v.unsqueeze(-4)  # [..., K, K, N, S]: H_k V_l
    cov = g @ herm(g)  # [..., K, K, N, N]
    eye = torch.eye(n, dtype=h.dtype, device=h.device)
    j = _herm_part(cov.sum(dim=-3) + eye)  # J_k
    hv = torch.diagonal(g, dim1=-4, dim2=-3).permute(*range(g.dim() - 4), -1, -3, -2)
    own = hv @ herm(hv)
    c = _herm_part(j - own)  # C_k
    lj = torch.linalg.cholesky(j)
    lc = torch.linalg.cholesky(c)
    u = torch.cholesky_solve(hv, lj)  # J^{-1} H_k V_k
    x = torch.linalg.solve_triangular(lc, hv, upper=False)  # L_C^{-1} H V
    s = hv.shape[-1]
    w = _herm_part(torch.eye(s, dtype=h.dtype, device=h.device) + herm(x) @ x)
    logdet = 2.0 * torch.log2(torch.diagonal(torch.linalg.cholesky(w), dim1=-2,
                                             dim2=-1).real).sum(-1)  # [..., K]
    return u, w, (alpha * logdet).sum(-1)


def _transmitters(
    h: torch.Tensor, u: torch.Tensor, w: torch.Tensor, alpha: torch.Tensor,
    power: torch.Tensor,
) -> torch.Tensor:
    """Step 3: the new precoders ``[..., K, M, S]`` meeting the sum-power budget."""
    k, m, s = h.shape[-3], h.shape[-1], u.shape[-1]
    hu = herm(h) @ u  # [..., K, M, S]: H_k^H U_k
    a_al = alpha.to(h.dtype)[..., None, None]
    a = _herm_part((a_al * hu @ w @ herm(hu)).sum(dim=-3))  # [..., M, M]
    b = a_al * hu @ w  # [..., K, M, S]
    lam, q = torch.linalg.eigh(a)
    proj = herm(q).unsqueeze(-3) @ b  # [..., K, M, S]
    phi = abs_sq(proj).sum(dim=(-3, -1))  # [..., M]
    rel = 1e-10 if h.dtype == torch.complex128 else 1e-5
    lam = lam.clamp_min(0.0)
    keep = lam > rel * lam.amax(dim=-1, keepdim=True)
    structural = torch.ones(m, dtype=torch.bool, device=h.device)
    rank = min(m, k * min(s, h.shape[-2]))
    if rank < m:
        structural[: m - rank] = False
    keep = keep & structural
    phi = torch.where(keep, phi, torch.zeros_like(phi))
    mu = _lagrange_multiplier(lam, phi, power)
    den = lam + mu[..., None]
    scale = torch.where(keep & (den > 0), 1.0 / den.clamp_min(torch.finfo(den.dtype).tiny),
                        torch.zeros_like(den))
    return q.unsqueeze(-3) @ (scale.to(h.dtype)[..., None, :, None] * proj)


def _initial(h: torch.Tensor, s: int, power: torch.Tensor) -> torch.Tensor:
    """Eigen-beamforming start: ``V_k`` = top-``S`` right singular vectors of ``H_k`` weighted
    by the singular values, scaled to the budget."""
    _, sv, vh = torch.linalg.svd(h, full_matrices=False)  # vh [..., K, min(N,M), M]
    r = vh.shape[-2]
    v = herm(vh[..., : min(s, r), :]) * sv[..., None, : min(s, r)].to(h.dtype)
    if s > r:
        pad = torch.zeros((*v.shape[:-1], s - r), dtype=h.dtype, device=h.device)
        v = torch.cat([v, pad], dim=-1)
    norm = abs_sq(v).sum(dim=(-3, -2, -1)).clamp_min(torch.finfo(power.dtype).tiny)
    return v * torch.sqrt(power / norm).to(h.dtype)[..., None, None, None]


@overload
def mimo_wmmse(
    h: torch.Tensor, power: torch.Tensor | float, noise_var: torch.Tensor | float, *,
    num_streams: int | None = ..., max_iter: int = ..., tol: float = ...,
    weights: torch.Tensor | None = ..., init: torch.Tensor | None = ...,
    return_info: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def mimo_wmmse(
    h: torch.Tensor, power: torch.Tensor | float, noise_var: torch.Tensor | float, *,
    num_streams: int | None = ..., max_iter: int = ..., tol: float = ...,
    weights: torch.Tensor | None = ..., init: torch.Tensor | None = ...,
    return_info: Literal[True],
) -> tuple[torch.Tensor, MimoWmmseInfo]: ...


def mimo_wmmse(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    num_streams: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    weights: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    return_info: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, MimoWmmseInfo]:
    r"""Weighted sum-rate maximizing multi-user MIMO precoders by matrix WMMSE, batched.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, N, M]`` complex (user ``k`` receives :math:`\mathbf H_k\mathbf x`).
    power : float or torch.Tensor
        Total power :math:`P` in watts, a scalar or ``[...]``.
    noise_var : float or torch.Tensor
        :math:`\sigma^2` per receive antenna in watts, a scalar or ``[...]``.
    num_streams : int, optional
        Streams ``S`` per user (default ``N``).
    max_iter : int
        Maximum iterations (``0`` returns the initialization).
    tol : float
        Stop when every instance's objective improved by at most ``tol`` times its value.
    weights : torch.Tensor, optional
        Rate weights :math:`\alpha_k \ge 0` ``[K]`` or ``[..., K]`` (default ones).
    init : torch.Tensor, optional
        Initial precoders ``[..., K, M, S]`` (scaled to the budget); default eigen-beamforming.
    return_info : bool
        Also return a :class:`MimoWmmseInfo`.

    Returns
    -------
    torch.Tensor or (torch.Tensor, MimoWmmseInfo)
        ``w`` ``[..., K, M, S]`` with ``h``'s dtype, :math:`\sum_k\|\mathbf W_k\|_F^2 = P` up to
        rounding when the budget is active.

    Examples
    --------
    >>> from isaclearn.core import complex_normal, make_generator
    >>> h = complex_normal((2, 3, 2, 4), generator=make_generator(0), dtype=torch.complex128)
    >>> w, info = mimo_wmmse(h, 1.0, 0.1, return_info=True)
    >>> w.shape, bool((info.objective.diff(dim=-1) >= -1e-9).all())
    (torch.Size([2, 3, 4, 2]), True)
    """
    check_last_dims(h, (None, None, None), "h", "[..., K, N, M]")
    if not h.is_complex():
        raise ShapeError(f"h must be complex, got {h.dtype}")
    if int(max_iter) != max_iter or max_iter < 0:
        raise ConfigError(f"max_iter must be a non-negative integer, got {max_iter}")
    if not tol >= 0:
        raise ConfigError(f"tol must be non-negative, got {tol}")
    k, n, m = h.shape[-3:]
    s = n if num_streams is None else int(num_streams)
    check_count(s, "num_streams")
    p = as_batch_param(power, h, "power", matrix_dims=3)
    nv = as_batch_param(noise_var, h, "noise_var", matrix_dims=3)
    p = p.expand(h.shape[:-3])
    hn = h / torch.sqrt(nv).to(h.dtype)[..., None, None, None]
    rdt = real_dtype(h.dtype)
    if weights is None:
        alpha = torch.ones(k, dtype=rdt, device=h.device)
    else:
        alpha = torch.as_tensor(weights, dtype=rdt, device=h.device)
        if alpha.dim() < 1 or alpha.shape[-1] != k:
            raise ShapeError(f"weights must have shape [K] or [..., K] with K = {k}, got "
                             f"{tuple(alpha.shape)}")
        if not bool(torch.isfinite(alpha).all()) or bool((alpha < 0).any()):
            raise ValueRangeError("weights must be finite and non-negative")
    if init is None:
        v = _initial(hn, s, p)
    else:
        want = (*h.shape[:-3], k, m, s)
        if tuple(init.shape) != want or not init.is_complex():
            raise ShapeError(f"init must be complex [..., K, M, S] = {want}, got "
                             f"{tuple(init.shape)}")
        v0 = init.to(h.dtype)
        norm = abs_sq(v0).sum(dim=(-3, -2, -1))
        if not bool((norm > 0).all()):
            raise ValueRangeError("init must be nonzero in every instance")
        v = v0 * torch.sqrt(p / norm).to(h.dtype)[..., None, None, None]
    u, w, obj = _stats(hn, v, alpha)
    trace = [obj]
    converged = torch.zeros_like(obj, dtype=torch.bool)
    it = 0
    for it in range(1, int(max_iter) + 1):  # noqa: B007 - count is reported
        v = _transmitters(hn, u, w, alpha, p)
        u, w, obj_new = _stats(hn, v, alpha)
        trace.append(obj_new)
        converged = ~(obj_new - obj > tol * obj.abs())
        obj = obj_new
        if bool(converged.all()):
            break
    if not return_info:
        return v
    return v, MimoWmmseInfo(objective=torch.stack(trace, dim=-1), iterations=it,
                            converged=converged)
