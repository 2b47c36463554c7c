r"""Communication metrics of the downlink multi-user MISO link.

SINR and rate of user ``k`` (temiz_unsup eqs. (14)–(16), unit-power uncorrelated symbols):

.. math::
    \mathrm{SINR}_k = \frac{|\mathbf h_k \mathbf w_k|^2}{\sum_{i\ne k}|\mathbf h_k\mathbf w_i|^2
    + \sigma_k^2},\qquad C_k = \log_2(1 + \mathrm{SINR}_k),\qquad C_{sum} = \sum_k C_k .

Notes
-----
``h`` holds the channels as *rows* (``h[..., k, :]`` is :math:`\mathbf h_k`, no conjugation is
applied), ``w`` the beamformers as *columns*; the effective gain of stream ``i`` at user ``k`` is
``(h @ w)[..., k, i]``.
"""

from __future__ import annotations

import torch

from isaclearn.core.checks import check_last_dims
from isaclearn.core.dtypes import as_real_tensor
from isaclearn.core.errors import ShapeError
from isaclearn.core.linalg import abs_sq


def _check_hw(h: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the shapes of ``h`` and ``w`` and bring them to a common complex dtype."""
    check_last_dims(h, (None, None), "h", "[..., K, M]")
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    if h.shape[-1] != w.shape[-2] or h.shape[-2] != w.shape[-1]:
        raise ShapeError(
            f"h [..., K, M] and w [..., M, K] disagree: h has shape {tuple(h.shape)}, w has shape "
            f"{tuple(w.shape)}"
        )
    try:
        torch.broadcast_shapes(h.shape[:-2], w.shape[:-2])
    except RuntimeError:
        raise ShapeError(
            f"the batch dimensions of h {tuple(h.shape)} and w {tuple(w.shape)} do not broadcast"
        ) from None
    # Follow the more precise input; never downcast (complex64 h with complex128 w -> complex128).
    dt = torch.promote_types(h.dtype, w.dtype)
    return h.to(dt), w.to(dt)


def _noise(noise_var: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``noise_var`` shaped to broadcast against the per-user values ``like`` ``[..., K]``.

    The number of dimensions decides, so that a batch of size ``K`` is never mistaken for a
    per-user vector: a scalar is shared, ``[...]`` (one dimension fewer than ``like``) is per
    instance, ``[..., K]`` (as many dimensions as ``like``) is per user.
    """
    n = as_real_tensor(noise_var, like=like)
    if n.dim() == like.dim() - 1:
        n = n[..., None]  # per instance: broadcast over users
    elif n.dim() not in (0, like.dim()):
        raise ShapeError(
            f"noise_var must be a scalar, [...] per instance or [..., K] per user for per-user "
            f"values of shape {tuple(like.shape)}, got shape {tuple(n.shape)}"
        )
    try:
        torch.broadcast_shapes(n.shape, like.shape)
    except RuntimeError:
        raise ShapeError(
            f"noise_var of shape {tuple(n.shape)} does not broadcast against the per-user values "
            f"of shape {tuple(like.shape)} (scalar, [...] per instance or [..., K] per user)"
        ) from None
    return n


def sinr(h: torch.Tensor, w: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""Per-user SINR, eq. (15) of temiz_unsup.

    Parameters
    ----------
    h : torch.Tensor
        Channels ``[..., K, M]`` complex, one row per user.
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex, one column per user stream.
    noise_var : float or torch.Tensor
        Noise variance :math:`\sigma^2` (watts): a scalar, ``[...]`` per instance (one
        dimension fewer than the result), or ``[..., K]`` per user (as many dimensions as the
        result; a per-user vector shared by a batch is ``[1, K]``).

    Returns
    -------
    torch.Tensor
        ``[..., K]`` real, linear SINR; ``float32`` for ``complex64`` inputs, ``float64`` for
        ``complex128`` (inputs of mixed precision are promoted, never downcast).

    Raises
    ------
    ShapeError
        If ``h``, ``w`` or ``noise_var`` have incompatible shapes (the message names them).

    Examples
    --------
    >>> import torch
    >>> h = torch.eye(2, dtype=torch.complex64)[None]
    >>> sinr(h, h.mT, 0.5)
    tensor([[2., 2.]])
    """
    h, w = _check_hw(h, w)
    g = abs_sq(h @ w)  # [..., K, K]: |h_k w_i|^2
    signal = torch.diagonal(g, dim1=-2, dim2=-1)
    interference = g.sum(dim=-1) - signal
    return signal / (interference + _noise(noise_var, signal))


def rates(h: torch.Tensor, w: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    """Per-user rate ``log2(1 + SINR_k)`` in bit/s/Hz, ``[..., K]`` (eq. 15)."""
    return torch.log2(1.0 + sinr(h, w, noise_var))


def sum_rate(h: torch.Tensor, w: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    """Sum rate in bit/s/Hz, ``[...]`` (eq. 16). Arguments as in :func:`sinr`."""
    return rates(h, w, noise_var).sum(dim=-1)


def jain_fairness(x: torch.Tensor) -> torch.Tensor:
    r"""Jain's fairness index over the last dimension (temiz_unsup eq. 24).

    .. math:: F = \frac{(\sum_t x_t)^2}{T \sum_t x_t^2},
        \qquad 1/T \le F \le 1 \text{ for } x \ge 0,\ x \ne 0.

    Parameters
    ----------
    x : torch.Tensor
        ``[..., T]`` real, non-negative values (CRBs, rates).

    Returns
    -------
    torch.Tensor
        ``[...]`` real.
    """
    if x.dim() < 1:
        raise ShapeError("x must have at least one dimension [..., T]")
    if x.is_complex():
        raise ShapeError("x must be real")
    t = x.shape[-1]
    if t < 1:
        raise ShapeError(f"x must have shape [..., T] with T >= 1, got shape {tuple(x.shape)}")
    return x.sum(dim=-1).square() / (t * x.square().sum(dim=-1))


def mimo_rates(
    h: torch.Tensor, w: torch.Tensor, noise_var: torch.Tensor | float
) -> torch.Tensor:
    r"""Per-user rate of the multi-user MIMO downlink (log-det, liu_irs_ppo spec §2):

    .. math::
        C_k = \log_2\det\Big(\mathbf I_N + \mathbf H_k\mathbf W_k\mathbf W_k^H\mathbf H_k^H
          \big(\textstyle\sum_{l\ne k}\mathbf H_k\mathbf W_l\mathbf W_l^H\mathbf H_k^H
          + \sigma^2\mathbf I_N\big)^{-1}\Big),

    computed as :math:`\log_2\det\mathbf J_k - \log_2\det\mathbf C_k` with
    :math:`\mathbf C_k` the interference-plus-noise covariance and
    :math:`\mathbf J_k = \mathbf C_k + \mathbf H_k\mathbf W_k\mathbf W_k^H\mathbf H_k^H`, both
    by Cholesky factors. With ``N = 1`` receive antenna and one stream per user it equals
    ``log2(1 + SINR_k)`` of :func:`sinr` (eq. 13).

    Parameters
    ----------
    h : torch.Tensor
        Per-user channels ``[..., K, N, M]`` complex (user ``k`` receives
        :math:`\mathbf H_k\mathbf x`).
    w : torch.Tensor
        Per-user precoders ``[..., K, M, S]`` complex (``S`` streams per user).
    noise_var : float or torch.Tensor
        :math:`\sigma^2` per receive antenna (watts): a scalar or ``[...]`` per instance.

    Returns
    -------
    torch.Tensor
        ``[..., K]`` real, bit/s/Hz.

    Raises
    ------
    ShapeError
        If the shapes disagree.
    """
    check_last_dims(h, (None, None, None), "h", "[..., K, N, M]")
    check_last_dims(w, (None, None, None), "w", "[..., K, M, S]")
    k, n, m = h.shape[-3:]
    if w.shape[-3] != k or w.shape[-2] != m:
        raise ShapeError(
            f"h [..., K, N, M] and w [..., K, M, S] disagree: h has shape {tuple(h.shape)}, "
            f"w has shape {tuple(w.shape)}")
    dt = torch.promote_types(h.dtype, w.dtype)
    if not dt.is_complex:
        dt = torch.complex64 if dt != torch.float64 else torch.complex128
    h, w = h.to(dt), w.to(dt)
    # G[..., k, l] = H_k W_l: [..., K, 1, N, M] @ [..., 1, K, M, S] -> [..., K, K, N, S]
    g = h.unsqueeze(-3) @ w.unsqueeze(-4)
    cov = g @ g.conj().transpose(-2, -1)  # [..., K, K, N, N]: H_k W_l W_l^H H_k^H
    total = cov.sum(dim=-3)  # [..., K, N, N]
    own = torch.diagonal(cov, dim1=-4, dim2=-3).permute(*range(cov.dim() - 4), -1, -3, -2)
    noise = as_real_tensor(noise_var, like=total)
    if noise.dim() > 0:
        noise = noise[..., None, None, None]
    eye = torch.eye(n, dtype=dt, device=h.device)
    c = total - own + noise * eye
    j = total + noise * eye

    def logdet2(a: torch.Tensor) -> torch.Tensor:
        a = 0.5 * (a + a.conj().transpose(-2, -1))
        chol = torch.linalg.cholesky(a)
        return 2.0 * torch.log2(torch.diagonal(chol, dim1=-2, dim2=-1).real).sum(dim=-1)

    return logdet2(j) - logdet2(c)


def mimo_sum_rate(
    h: torch.Tensor, w: torch.Tensor, noise_var: torch.Tensor | float
) -> torch.Tensor:
    """Sum over users of :func:`mimo_rates`, ``[...]`` bit/s/Hz."""
    return mimo_rates(h, w, noise_var).sum(dim=-1)
