r"""SINR and spectral efficiency of multi-user OFDM with inter-carrier interference (yang_som,
``shared/papers/000_e47146536a3e5322.txt``, eqs. 6–8).

Model
-----
One OFDM symbol with ICI channels :math:`\mathbf H_m[k]` (``channels.doubly_selective``,
eq. 5) and per-subcarrier precoders :math:`\mathbf F_k` (``[M, K]``): user ``u`` on subcarrier
``m`` receives (6)

.. math:: y_{m,u} = \sum_{k=0}^{S-1}\mathbf h_{m,k,u}\mathbf F_k\mathbf s_k + n_{m,u},
   \qquad \mathbf h_{m,k,u} = \mathbf H_m[k][u,:],\ \mathbf E[\mathbf s_k\mathbf s_k^H] =
   \mathbf I_K,\ n\sim\mathcal{CN}(0,\sigma^2),

with independent symbols on all subcarriers. The SINR (7) is

.. math::
   \gamma_{u,m} = \frac{|\mathbf h_{m,m,u}\mathbf f_{m,u}|^2}
   {\sum_{k\ne m}\sum_{u'}|\mathbf h_{m,k,u}\mathbf f_{k,u'}|^2
    + \sum_{i\ne u}|\mathbf h_{m,m,u}\mathbf f_{m,i}|^2 + \sigma^2},

and the SE (8) of the symbol is :math:`\sum_m\sum_u\log_2(1+\gamma_{u,m})` bit per OFDM symbol
(with :math:`T_s = 1/(S\Delta f)` the paper's division by :math:`L T_s S\Delta f` leaves the
average over the ``L`` symbols, which the caller takes over per-symbol channels).

Notes
-----
* **ICI sum (spec §2).** (7) reuses ``u`` as the summation index of its ICI term; the symbols
  of all users on every other subcarrier ``k`` interfere, so the ICI term sums over all streams
  ``u'`` (a single-stream reading would ignore most of the ICI).
* **Power scaling (spec §6.1).** ``f`` is the precoder actually applied
  (:math:`\mathbf x_m = \mathbf F_m\mathbf s_m`, watts) and ``noise_var`` is :math:`\sigma_c^2`.
  The paper's form of (7), with :math:`\mathbf F_m = \mathbf F_{RF}\mathbf F_{BB,m}`,
  unit-modulus :math:`\mathbf F_{RF}` and :math:`\sum|p|^2 = KS`, is the same value with
  ``noise_var`` :math:`= N_tUM\sigma_c^2/P_t` (paper letters).
* **SE units (spec §6.2).** :func:`se` is bit per OFDM symbol (summed over subcarriers and
  users, CP overhead ignored as in (8)); :func:`se_per_hz` divides by ``S`` (bit/s/Hz).
* Indices are 0-based.
"""

from __future__ import annotations

import torch

from isaclearn.core.dtypes import as_real_tensor
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq

__all__ = ["ofdm_link_gains", "se", "se_per_hz", "sinr_ici"]


def _check(h: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if h.dim() < 4:
        raise ShapeError(f"h must have shape [..., S, S, K, M], got shape {tuple(h.shape)}")
    if f.dim() < 3:
        raise ShapeError(f"f must have shape [..., S, M, K], got shape {tuple(f.shape)}")
    s, s2, k, m = h.shape[-4:]
    if s != s2:
        raise ShapeError(f"h must have shape [..., S, S, K, M] (square in S), got shape "
                         f"{tuple(h.shape)}")
    if tuple(f.shape[-3:]) != (s, m, k):
        raise ShapeError(f"f must have shape [..., S, M, K] = [..., {s}, {m}, {k}] for h of shape "
                         f"{tuple(h.shape)}, got shape {tuple(f.shape)}")
    try:
        torch.broadcast_shapes(h.shape[:-4], f.shape[:-3])
    except RuntimeError:
        raise ShapeError(f"batch dimensions of h {tuple(h.shape)} and f {tuple(f.shape)} do not "
                         f"broadcast") from None
    if not h.is_complex():
        h = h.to(torch.complex64 if h.dtype != torch.float64 else torch.complex128)
    if not f.is_complex():
        f = f.to(torch.complex64 if f.dtype != torch.float64 else torch.complex128)
    dt = torch.promote_types(h.dtype, f.dtype)
    return h.to(dt), f.to(dt)


def ofdm_link_gains(h: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    r"""Powers :math:`|\mathbf h_{m,k,u}\mathbf f_{k,u'}|^2` of every link of (7).

    Parameters
    ----------
    h : torch.Tensor
        ``[..., S, S, K, M]`` complex ICI channels, ``h[..., m, k, u, :]`` =
        :math:`\mathbf h_{m,k,u}` (receive bin ``m``, transmit subcarrier ``k``).
    f : torch.Tensor
        ``[..., S, M, K]`` complex precoders, ``f[..., k, :, u']`` = :math:`\mathbf f_{k,u'}`.

    Returns
    -------
    torch.Tensor
        ``[..., S(m), S(k), K(u), K(u')]`` real.
    """
    h, f = _check(h, f)
    # sum over antennas a of h[m, k, u, a] f[k, a, u']
    return abs_sq(torch.einsum("...mkua,...kav->...mkuv", h, f))


def sinr_ici(h: torch.Tensor, f: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""SINR (7) of every user on every subcarrier, with ICI and inter-user interference.

    Parameters
    ----------
    h : torch.Tensor
        ``[..., S, S, K, M]`` complex ICI channels of one symbol (:func:`ofdm_link_gains`).
    f : torch.Tensor
        ``[..., S, M, K]`` complex precoders applied to unit-power symbols (watts).
    noise_var : float or torch.Tensor
        :math:`\sigma^2` (watts): a scalar or ``[...]`` per instance, ``> 0``.

    Returns
    -------
    torch.Tensor
        ``[..., S, K]`` real (linear SINR of user ``u`` on subcarrier ``m``).

    Raises
    ------
    ShapeError
        Incompatible shapes.
    ValueRangeError
        ``noise_var`` not positive.

    Examples
    --------
    >>> import torch
    >>> h = torch.zeros(2, 2, 1, 1, dtype=torch.complex128)
    >>> h[0, 0] = h[1, 1] = 1.0
    >>> h[0, 1] = 0.5  # ICI from subcarrier 1 into bin 0
    >>> f = torch.ones(2, 1, 1, dtype=torch.complex128)
    >>> sinr_ici(h, f, 0.25)
    tensor([[2.],
            [4.]], dtype=torch.float64)
    """
    g = ofdm_link_gains(h, f)  # [..., S, S, K, K]
    s, k = g.shape[-3], g.shape[-1]
    eye_s = torch.eye(s, dtype=torch.bool, device=g.device)
    eye_k = torch.eye(k, dtype=torch.bool, device=g.device)
    diag = torch.diagonal(g, dim1=-4, dim2=-3)  # [..., K, K, S(m)]: the k = m blocks
    diag = diag.movedim(-1, -3)  # [..., S, K(u), K(u')]
    signal = torch.diagonal(diag, dim1=-2, dim2=-1)  # [..., S, K]
    iui = (diag * ~eye_k).sum(-1)  # sum over i != u on subcarrier m
    ici = (g * (~eye_s)[:, :, None, None]).sum(dim=(-3, -1))  # sum over k != m and all u'
    nv = as_real_tensor(noise_var, like=signal)
    if not bool((nv > 0).all()):
        raise ValueRangeError("noise_var must be > 0")
    if nv.dim() > 0:
        if nv.dim() != signal.dim() - 2:
            raise ShapeError(f"noise_var must be a scalar or [...] per instance (batch shape "
                             f"{tuple(signal.shape[:-2])}), got shape {tuple(nv.shape)}")
        nv = nv[..., None, None]
    return signal / (ici + iui + nv)


def se(h: torch.Tensor, f: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    r"""Spectral efficiency (8) of one OFDM symbol: :math:`\sum_m\sum_u\log_2(1+\gamma_{u,m})`.

    Arguments as in :func:`sinr_ici`. Returns ``[...]`` real, bit per OFDM symbol (average the
    per-symbol values over the ``L`` symbols of a subframe for the paper's
    :math:`\mathcal R^{(n)}`).
    """
    return torch.log2(1.0 + sinr_ici(h, f, noise_var)).sum(dim=(-2, -1))


def se_per_hz(h: torch.Tensor, f: torch.Tensor, noise_var: torch.Tensor | float) -> torch.Tensor:
    """:func:`se` divided by the number of subcarriers ``S``: bit/s/Hz. Returns ``[...]``."""
    return se(h, f, noise_var) / h.shape[-4]
