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
