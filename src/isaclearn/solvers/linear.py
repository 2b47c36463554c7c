r"""Closed-form linear precoders of the downlink multi-user MISO channel: MRT, ZF, MMSE (RZF).

Signal model: user ``k`` receives :math:`y_k = \mathbf h_k \mathbf W \mathbf s + n_k` with
:math:`n_k \sim \mathcal{CN}(0, \sigma^2)` and unit-power symbols :math:`\mathbf s`; the channels
are the rows of ``h`` ``[..., K, M]`` and the beamformers the columns of ``w`` ``[..., M, K]``,
so the gain of stream ``i`` at user ``k`` is ``(h @ w)[..., k, i]`` (as in
:mod:`isaclearn.metrics.comm`). Every precoder is scaled so that
:math:`\|\mathbf W\|_F^2 = P` (one common factor; no per-user power allocation):

.. math::
    \mathbf W_{\mathrm{MRT}} \propto \mathbf H^H,\qquad
    \mathbf W_{\mathrm{ZF}} \propto \mathbf H^H(\mathbf H\mathbf H^H)^{-1},\qquad
    \mathbf W_{\mathrm{MMSE}} \propto \mathbf H^H\Big(\mathbf H\mathbf H^H
        + \tfrac{K\sigma^2}{P}\mathbf I_K\Big)^{-1}.

The MMSE precoder is the regularized ZF of Peel, Hochwald and Swindlehurst (IEEE T-COM 2005),
the sum-MSE-optimal linear precoder under a total power constraint; it is the "MMSE precoder"
used as a benchmark in temiz_unsup (``shared/papers/003_...txt``, section V).

Notes
-----
Linear systems are solved with :func:`torch.linalg.solve` (no explicit inverse):
:math:`\mathbf W^H \propto (\mathbf H\mathbf H^H + \alpha\mathbf I)^{-1}\mathbf H`, because
:math:`\mathbf H\mathbf H^H` is Hermitian.
"""

from __future__ import annotations

import torch

from isaclearn.core.checks import as_batch_param, check_complex_matrices
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.linalg import eye_like, herm, scale_to_power

__all__ = ["mmse", "mrt", "zf"]


def _regularized_zf(h: torch.Tensor, reg: torch.Tensor | None) -> torch.Tensor:
    r"""Unnormalized :math:`\mathbf H^H(\mathbf H\mathbf H^H + \alpha\mathbf I)^{-1}`,
    ``[..., M, K]``."""
    gram = h @ herm(h)  # [..., K, K]
    if reg is not None:
        gram = gram + reg[..., None, None] * eye_like(gram, gram.shape[-1])
    try:
        return herm(torch.linalg.solve(gram, h))
    except torch.linalg.LinAlgError as exc:
        raise ValueRangeError(
            "h H^H is singular: the channel h [..., K, M] must have full row rank for zero-forcing "
            "(two users with parallel channels?)"
        ) from exc


def mrt(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float | None = None,
) -> torch.Tensor:
    r"""Maximum-ratio transmission :math:`\mathbf W \propto \mathbf H^H` (column ``k`` is
    :math:`\mathbf h_k^H`), scaled to :math:`\|\mathbf W\|_F^2 = P`.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]``, complex64 or complex128, one row :math:`\mathbf h_k` per user.
    power : float or torch.Tensor
        Total transmit power :math:`P` in watts, a scalar or ``[...]``.
    noise_var : float or torch.Tensor, optional
        Ignored (accepted so that every precoder has the same call shape).

    Returns
    -------
    torch.Tensor
        ``w`` ``[..., M, K]`` with ``h``'s dtype and device.

    Examples
    --------
    >>> import torch
    >>> h = torch.tensor([[[1.0 + 1.0j, 0.0]]])
    >>> mrt(h, 2.0)
    tensor([[[1.-1.j],
             [0.+0.j]]])
    """
    check_complex_matrices(h, "h", "[..., K, M]")
    p = as_batch_param(power, h, "power")
    return scale_to_power(herm(h), p)


def zf(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float | None = None,
) -> torch.Tensor:
    r"""Zero-forcing :math:`\mathbf W \propto \mathbf H^H(\mathbf H\mathbf H^H)^{-1}` (channel
    pseudo-inverse), scaled to :math:`\|\mathbf W\|_F^2 = P`; ``h @ w`` is diagonal.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]`` complex with ``K <= M`` and full row rank.
    power : float or torch.Tensor
        Total transmit power in watts, a scalar or ``[...]``.
    noise_var : float or torch.Tensor, optional
        Ignored (same call shape as the other precoders).

    Returns
    -------
    torch.Tensor
        ``w`` ``[..., M, K]`` with ``h``'s dtype and device.

    Raises
    ------
    ShapeError
        If ``K > M``: the channel cannot be inverted (use :func:`mmse` or WMMSE).
    ValueRangeError
        If :math:`\mathbf H\mathbf H^H` is exactly singular (rank-deficient channel).

    Notes
    -----
    The common scaling makes every user's effective gain
    :math:`\mathbf h_k\mathbf w_k = \sqrt{P/\mathrm{tr}((\mathbf H\mathbf H^H)^{-1})}` equal;
    with an ill-conditioned channel this gain, and ZF's rate, collapse.
    """
    check_complex_matrices(h, "h", "[..., K, M]")
    k, m = h.shape[-2], h.shape[-1]
    if k > m:
        raise ShapeError(
            f"zf needs at most as many users as antennas (K <= M), got h of shape "
            f"{tuple(h.shape)} with K={k} users and M={m} antennas; use mmse (regularized ZF) "
            "or wmmse instead"
        )
    p = as_batch_param(power, h, "power")
    return scale_to_power(_regularized_zf(h, None), p)


def mmse(
    h: torch.Tensor,
    power: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    *,
    reg: torch.Tensor | float | None = None,
) -> torch.Tensor:
    r"""MMSE (regularized ZF) precoder
    :math:`\mathbf W \propto \mathbf H^H(\mathbf H\mathbf H^H + \alpha\mathbf I_K)^{-1}`,
    :math:`\alpha = K\sigma^2/P`, scaled to :math:`\|\mathbf W\|_F^2 = P`.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]``, complex64 or complex128 (any ``K``, ``M``).
    power : float or torch.Tensor
        Total transmit power :math:`P` in watts, a scalar or ``[...]``.
    noise_var : float or torch.Tensor
        Noise variance :math:`\sigma^2` at each user in watts, a scalar or ``[...]``.
    reg : float or torch.Tensor, optional
        Regularizer :math:`\alpha \ge 0` (scalar or ``[...]``) replacing :math:`K\sigma^2/P`;
        ``reg=0`` gives ZF (for ``K <= M``).

    Returns
    -------
    torch.Tensor
        ``w`` ``[..., M, K]`` with ``h``'s dtype and device.

    Examples
    --------
    >>> import torch
    >>> h = torch.eye(2, dtype=torch.complex128)[None]
    >>> mmse(h, 2.0, 0.1)
    tensor([[[1.+0.j, 0.+0.j],
             [0.+0.j, 1.+0.j]]], dtype=torch.complex128)
    """
    check_complex_matrices(h, "h", "[..., K, M]")
    p = as_batch_param(power, h, "power")
    if reg is None:
        n = as_batch_param(noise_var, h, "noise_var")
        alpha = h.shape[-2] * n / p
    else:
        alpha = as_batch_param(reg, h, "reg", allow_zero=True)
    return scale_to_power(_regularized_zf(h, alpha), p)
