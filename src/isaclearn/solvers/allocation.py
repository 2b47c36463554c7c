r"""Power allocation over a capped simplex :math:`\{\mathbf x\ge0,\ \sum_ix_i\le P\}`:
exact water-filling, the water-filling-like KKT solver of a weighted sum of logarithms with
linear penalties, and the Euclidean projection onto the set.

No wireless knowledge: the gains are whatever the caller's model makes them (eigen-mode SNRs
of a sensing waveform in qi_uplink, effective user gains of the dual MAC in
:mod:`isaclearn.solvers.dpc`). Everything is batched over the leading dimensions and follows
the dtype and device of its inputs (:func:`solve_sensing_kkt` works in float64 internally).
"""

from __future__ import annotations

import math

import torch

from isaclearn.core.checks import as_per_instance
from isaclearn.core.errors import ShapeError

__all__ = ["project_capped_simplex", "solve_sensing_kkt", "water_filling"]

_LN2 = math.log(2.0)


def water_filling(gain: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    r"""Exact water-filling: :math:`\arg\max_{\mathbf x\ge0,\sum x_i\le P}\sum_i\log(1+g_ix_i)`.

    :math:`x_i=\max(\mu-1/g_i,0)` with the water level :math:`\mu` of the active set (the
    largest ``m`` such that :math:`\mu_m=(P+\sum_{i\le m}1/g_{(i)})/m>1/g_{(m)}`, gains sorted
    in descending order); eq. (38) of qi_uplink assumes every direction is active. The one
    water-filling routine of the package (also the inner step of
    :func:`~isaclearn.solvers.dpc.dpc_sum_capacity`).

    Parameters
    ----------
    gain : torch.Tensor
        ``[..., N]`` real, non-negative (a zero gain is never active).
    budget : float or torch.Tensor
        :math:`P>0`, scalar or ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., N]`` allocation with :math:`\sum_i x_i=P`, same order as ``gain``.

    Notes
    -----
    The floors :math:`1/g_i` of positive gains are capped at ``finfo.max / (4 N)`` so that
    their sums stay finite; a gain that small (about ``1e-37`` in float32) is never active for
    any finite budget, so the cap changes no allocation, it only prevents an overflow to
    ``inf`` when several such gains occur.
    """
    g = gain
    fi = torch.finfo(g.dtype)
    big = fi.max / (4.0 * g.shape[-1])  # keeps the sums of the floors 1/g finite
    inv = torch.where(g > 0, (1.0 / g.clamp_min(fi.tiny)).clamp_max(big),
                      torch.full_like(g, float("inf")))
    inv_sorted, _ = torch.sort(inv, dim=-1)  # ascending 1/g = descending g
    pb = as_per_instance(budget, g, g.dim() - 1, "budget")
    pb = pb[..., None] if pb.dim() else pb
    m = torch.arange(1, g.shape[-1] + 1, dtype=g.dtype, device=g.device)
    finite = torch.isfinite(inv_sorted)
    csum = torch.cumsum(torch.where(finite, inv_sorted, torch.zeros_like(inv_sorted)), -1)
    mu = (pb + csum) / m
    valid = finite & (mu > inv_sorted)
    # the valid set is a prefix; take its last element
    idx = (valid.to(torch.int64) * torch.arange(g.shape[-1], device=g.device)).amax(-1,
                                                                                     keepdim=True)
    level = torch.gather(mu, -1, idx)
    return torch.where(torch.isfinite(inv) & (inv < level), level - inv, torch.zeros_like(g))


def solve_sensing_kkt(
    gain_t: torch.Tensor,
    gain_h: torch.Tensor,
    weight: torch.Tensor | float,
    penalty: torch.Tensor | float,
    budget: torch.Tensor | float = 1.0,
    *,
    max_outer: int = 60,
    newton_iters: int = 3,
    rtol: float = 1e-12,
) -> torch.Tensor:
    r"""Exact solution of the concave, water-filling-like allocation problem

    .. math::
        \max_{\mathbf x\ge0,\ \sum_i x_i\le P}\ \ \omega\sum_{i=1}^{N_t}\sum_{j=1}^{N_r}
        \log_2(1+g_iv_jx_i)-\sum_i c_ix_i .

    With :math:`c=0,\ \omega=1` it is the sensing maximum of eq. (14) (``ms_mode=
    "with_interference"``); with :math:`c_i=\lambda g_i` it is the sensing/interference
    trade-off behind eq. (28), and the SCA step of the traditional scheme.

    KKT: :math:`\frac{\omega}{\ln2}\varphi_i(x_i)=c_i+\nu` on the active set, with
    :math:`\varphi_i(x)=\sum_j a_{ij}/(1+a_{ij}x)`, :math:`a_{ij}=g_iv_j`, and
    :math:`x_i=0` where :math:`\frac{\omega}{\ln 2}\varphi_i(0)\le c_i+\nu`. For a given
    multiplier :math:`\nu` each :math:`x_i` solves a scalar equation by Newton's method on
    :math:`1/\varphi_i`, which is concave and increasing (a parallel sum of affine functions), so
    Newton converges from any start (after at most one step it approaches the root monotonically
    from below). The allocated power :math:`P(\nu)=\sum_ix_i(\nu)` is convex and decreasing;
    :math:`\nu\ge0` with :math:`P(\nu)=P` (or :math:`\nu=0` if :math:`P(0)\le P`) is found by
    Newton's method safeguarded by bisection. Computed in float64, returned in the input's dtype.

    Parameters
    ----------
    gain_t : torch.Tensor
        :math:`g_i\ge0` ``[..., N_t]``.
    gain_h : torch.Tensor
        :math:`v_j>0` ``[..., N_r]``.
    weight : float or torch.Tensor
        :math:`\omega\ge0`, scalar or ``[...]``; zero gives :math:`\mathbf x=0`.
    penalty : float or torch.Tensor
        :math:`c_i\ge0`, scalar, ``[...]`` or ``[..., N_t]``.
    budget : float or torch.Tensor
        :math:`P>0`, scalar or ``[...]``.
    max_outer : int
        Iteration limit of the search for :math:`\nu`.
    newton_iters : int
        Newton steps on the :math:`x_i` per outer iteration (warm-started).
    rtol : float
        Relative tolerance on the power constraint.

    Returns
    -------
    torch.Tensor
        ``[..., N_t]`` optimal allocation (:math:`\sum_i x_i\le P`).
    """
    out_dtype = gain_t.dtype
    g = gain_t.to(torch.float64)
    v = gain_h.to(torch.float64)
    batch = torch.broadcast_shapes(g.shape[:-1], v.shape[:-1])
    g = g.expand(*batch, g.shape[-1])
    v = v.expand(*batch, v.shape[-1])

    def per(x: torch.Tensor | float, name: str, allow_vec: bool = False) -> torch.Tensor:
        t = torch.as_tensor(x, dtype=torch.float64, device=g.device)
        if allow_vec and t.dim() == len(batch) + 1:
            return t.expand(*batch, g.shape[-1])
        if t.dim() not in (0, len(batch)):
            raise ShapeError(f"{name} must be a scalar or have the batch shape {tuple(batch)}, "
                             f"got shape {tuple(t.shape)}")
        return t.expand(*batch)[..., None]

    w = per(weight, "weight") / _LN2  # [..., 1]
    c = per(penalty, "penalty", allow_vec=True)
    if c.shape[-1] == 1:
        c = c.expand(*batch, g.shape[-1])
    pb = per(budget, "budget")[..., 0]
    zero_w = w[..., 0] <= 0
    w = torch.where(w > 0, w, torch.ones_like(w))
    a = g[..., :, None] * v[..., None, :]  # [..., N_t, N_r]
    phi0 = a.sum(-1)
    tau_min = 1e-15 * phi0.amax(-1, keepdim=True).clamp_min(1e-300)

    def solve_x(nu: torch.Tensor, x: torch.Tensor, iters: int) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
        """x(nu) and dP/dnu."""
        tau = ((c + nu[..., None]) / w).clamp_min(tau_min)
        active = phi0 > tau
        x = torch.where(active, x, torch.zeros_like(x))
        dphi = torch.ones_like(x)
        for _ in range(iters):
            den = 1.0 + a * x[..., None]
            phi = (a / den).sum(-1)
            dphi = (a * a / (den * den)).sum(-1).clamp_min(1e-300)
            step = phi * (phi - tau) / (tau * dphi)
            x = torch.where(active, (x + step).clamp_min(0.0), x)
        den = 1.0 + a * x[..., None]
        dphi = (a * a / (den * den)).sum(-1).clamp_min(1e-300)
        dp = torch.where(active, -1.0 / (w * dphi), torch.zeros_like(x)).sum(-1)
        return x, dp

    x = torch.zeros_like(g)
    lo = torch.zeros(batch, dtype=torch.float64, device=g.device)
    hi = (w * phi0 - c).amax(-1).clamp_min(0.0) * (1.0 + 1e-9) + 1e-300
    x0, _ = solve_x(lo, x, 12)
    done = (x0.sum(-1) <= pb) | zero_w  # nu = 0 is optimal, or nothing to allocate
    nu = torch.where(done, lo, 0.5 * hi)
    x = x0
    for _ in range(max_outer):
        x, dp = solve_x(nu, x, newton_iters)
        p = x.sum(-1)
        err = p - pb
        conv = done | (err.abs() <= rtol * pb)
        if bool(conv.all()):
            break
        lo = torch.where(err > 0, nu, lo)
        hi = torch.where(err > 0, hi, nu)
        cand = nu - err / torch.where(dp < 0, dp, -torch.ones_like(dp))
        inside = (cand > lo) & (cand < hi) & (dp < 0)
        nu = torch.where(conv, nu, torch.where(inside, cand, 0.5 * (lo + hi)))
    x, _ = solve_x(nu, x, 6)
    x0, _ = solve_x(lo, x0, 6)
    x = torch.where(done[..., None], x0, x)
    tot = x.sum(-1, keepdim=True)
    x = torch.where(tot > pb[..., None], x * (pb[..., None] / tot.clamp_min(1e-300)), x)
    x = torch.where(zero_w[..., None], torch.zeros_like(x), x)
    return x.to(out_dtype)


def project_capped_simplex(x: torch.Tensor, budget: float = 1.0) -> torch.Tensor:
    r"""Euclidean projection of ``x`` ``[..., N]`` onto
    :math:`\{\mathbf y\ge0,\ \sum y_i\le P\}`."""
    y = x.clamp_min(0.0)
    inside = y.sum(-1, keepdim=True) <= budget
    u, _ = torch.sort(x, dim=-1, descending=True)
    css = torch.cumsum(u, -1) - budget
    k = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)
    cond = u - css / k > 0
    rho = (cond.to(torch.int64) * torch.arange(x.shape[-1], device=x.device)).amax(-1,
                                                                                    keepdim=True)
    theta = torch.gather(css, -1, rho) / (rho + 1).to(x.dtype)
    return torch.where(inside, y, (x - theta).clamp_min(0.0))

