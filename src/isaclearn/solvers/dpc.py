r"""Sum capacity of the MISO broadcast channel (dirty-paper coding), an upper bound on every
precoder's sum rate.

With single-antenna users, a sum-power budget :math:`P` and noise :math:`\sigma^2`, the sum
capacity of the broadcast channel (achieved by dirty-paper coding) equals, by BC–MAC duality,
the sum capacity of the dual multiple-access channel with the same sum power
(Vishwanath, Jindal, Goldsmith, IEEE T-IT 2003):

.. math::
    C_{\mathrm{DPC}} = \max_{\mathbf q \ge 0,\ \sum_k q_k \le P}\
    \log_2\det\Big(\mathbf I_M + \frac{1}{\sigma^2}\sum_{k=1}^K q_k\,\mathbf h_k^H\mathbf h_k\Big),

a concave program in the dual uplink powers :math:`\mathbf q`. No linear or non-linear
precoder with :math:`\|\mathbf W\|_F^2 \le P` exceeds :math:`C_{\mathrm{DPC}}`.

It is solved by the sum-power iterative water-filling of N. Jindal, W. Rhee, S. Vishwanath,
S. A. Jafar and A. Goldsmith, "Sum power iterative water-filling for multi-antenna Gaussian
broadcast channels", IEEE T-IT 51(4):1570–1580, 2005, in the averaged form whose convergence
they prove. For single-antenna users, iteration ``n``:

1. Effective gains seeing the other users as noise:
   :math:`\gamma_k = \mathbf a_k(\mathbf I + \sum_{j\ne k} q_j\mathbf a_j^H\mathbf a_j)^{-1}
   \mathbf a_k^H`, :math:`\mathbf a_k = \mathbf h_k/\sigma`, computed from
   :math:`g_k = \mathbf a_k\mathbf S^{-1}\mathbf a_k^H`,
   :math:`\mathbf S = \mathbf I + \sum_j q_j\mathbf a_j^H\mathbf a_j`, as
   :math:`\gamma_k = g_k/(1 - q_k g_k)` (Sherman–Morrison).
2. Joint water-filling over the users: :math:`\bar q_k = (\nu - 1/\gamma_k)^+`,
   :math:`\sum_k\bar q_k = P`.
3. Averaging: :math:`\mathbf q \leftarrow \frac1K\bar{\mathbf q} + \frac{K-1}{K}\mathbf q`.

Stopping uses a certificate: since the objective :math:`f` (in nats) is concave with
:math:`\partial f/\partial q_k = g_k`, the optimum satisfies
:math:`f^\star \le f(\mathbf q) + P\max_k g_k - \sum_k q_k g_k` (the Frank–Wolfe duality gap).
The iteration stops when this gap is at most ``tol`` times :math:`f(\mathbf q)` in every
instance.

Notes
-----
The iteration runs in complex128 whatever the input precision, and the result is returned in
``h``'s real dtype: at high SNR the effective gains :math:`\gamma_k = g_k/(1 - q_k g_k)` and the
gap suffer cancellation that float32 cannot resolve (the iteration would stall short of the
tolerance). The bound is an evaluation tool, not part of a training loop, so the cost is
acceptable on every device.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import torch

from isaclearn.core.checks import as_batch_param, check_complex_matrices
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError
from isaclearn.core.linalg import abs_sq, eye_like, herm
from isaclearn.solvers.allocation import water_filling

__all__ = ["dpc_sum_capacity"]


def _dual_mac_terms(a: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``log det S`` in nats ``[...]`` and :math:`g_k = \mathbf a_k\mathbf S^{-1}\mathbf a_k^H`
    ``[..., K]`` for :math:`\mathbf S = \mathbf I + \mathbf a^H\mathrm{diag}(q)\mathbf a`."""
    ah = herm(a)  # [..., M, K]
    s = eye_like(a, a.shape[-1]) + ah @ (q.to(a.dtype)[..., :, None] * a)
    # S >= I is always positive definite; cholesky_ex skips the per-call error check, which
    # costs more than the factorization itself for small batched matrices.
    chol = torch.linalg.cholesky_ex(s).L
    x = torch.linalg.solve_triangular(chol, ah, upper=False)  # L^{-1} a^H
    g = abs_sq(x).sum(dim=-2)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1).real).sum(dim=-1)
    return logdet, g


@overload
def dpc_sum_capacity(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    max_iter: int = ...,
    tol: float = ...,
    return_gap: Literal[False] = ...,
) -> torch.Tensor: ...


@overload
def dpc_sum_capacity(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    max_iter: int = ...,
    tol: float = ...,
    return_gap: Literal[True],
) -> tuple[torch.Tensor, torch.Tensor]: ...


def dpc_sum_capacity(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    max_iter: int = 2000,
    tol: float = 1e-6,
    return_gap: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Sum capacity (DPC) of the MISO broadcast channel in bit/s/Hz, batched.

    See the module docstring for the equations, the algorithm and its source.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]``, complex64 or complex128, one row :math:`\mathbf h_k` per
        single-antenna user.
    power : float or torch.Tensor
        Sum power :math:`P` in watts, a scalar or ``[...]``.
    noise_var : float or torch.Tensor
        Noise variance :math:`\sigma^2` at each user in watts, a scalar or ``[...]``.
    max_iter : int
        Maximum number of water-filling iterations.
    tol : float
        Relative accuracy: stop when the certified gap is at most ``tol`` times the value in
        every instance (the value itself is typically far more accurate than the gap).
    return_gap : bool
        Also return the certified gap.

    Returns
    -------
    torch.Tensor or (torch.Tensor, torch.Tensor)
        ``[...]`` real (``h``'s real dtype): the sum rate of the final dual-MAC power allocation,
        which is achievable by DPC and lies within ``gap`` below the sum capacity, i.e.
        :math:`C_{\mathrm{DPC}} \in [\text{value}, \text{value} + \text{gap}]`; and the gap
        ``[...]`` in bit/s/Hz.

    Raises
    ------
    ShapeError, ValueRangeError
        Bad shapes, non-positive power or noise.
    ConfigError
        Non-positive ``max_iter`` or negative ``tol``.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[[3.0 + 4.0j, 0.0]]])  # K = 1: log2(1 + P ||h||^2 / σ²)
    >>> dpc_sum_capacity(h, 1.0, 1.0)
    tensor([4.7004])
    """
    check_complex_matrices(h, "h", "[..., K, M]")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ConfigError(f"max_iter must be a positive integer, got {max_iter}")
    if not tol >= 0:
        raise ConfigError(f"tol must be non-negative, got {tol}")
    out_dtype = real_dtype(h.dtype)
    # Computed in float64 whatever the input precision (see Notes); returned in h's precision.
    h64 = h.to(torch.complex128)
    p = as_batch_param(power, h64, "power")
    sigma2 = as_batch_param(noise_var, h64, "noise_var")
    rtol = max(float(tol), 32.0 * torch.finfo(p.dtype).eps)
    k = h.shape[-2]
    a = h64 / torch.sqrt(sigma2).to(h64.dtype)[..., None, None]
    batch = h.shape[:-2]
    total = p.expand(batch)
    q = (total / k)[..., None].expand(*batch, k).clone()
    tiny = torch.finfo(p.dtype).tiny
    for _ in range(int(max_iter)):
        logdet, g = _dual_mac_terms(a, q)
        gap = total * g.amax(dim=-1) - (q * g).sum(dim=-1)
        if bool((gap <= rtol * logdet).all()):
            break
        # Effective gain of user k with the others as noise, then joint water-filling
        # (floors 1/gamma_k, capped by water_filling so that their sums stay finite).
        gamma = g / (1.0 - q * g).clamp_min(tiny)
        q_wf = water_filling(gamma.clamp_min(tiny), total)
        q = q + (q_wf - q) / k
    else:
        logdet, g = _dual_mac_terms(a, q)
        gap = total * g.amax(dim=-1) - (q * g).sum(dim=-1)
    value = (logdet / math.log(2.0)).to(out_dtype)
    if return_gap:
        return value, (gap.clamp_min(0.0) / math.log(2.0)).to(out_dtype)
    return value
