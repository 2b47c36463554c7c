"""Small batched linear-algebra helpers (no wireless knowledge)."""

from __future__ import annotations

import torch

from isaclearn.core.checks import as_batch_param, check_last_dims
from isaclearn.core.dtypes import real_dtype


def herm(x: torch.Tensor) -> torch.Tensor:
    """Conjugate transpose of the last two dimensions."""
    return x.conj().transpose(-2, -1)


def fro_norm_sq(x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm over the last two dimensions, ``[...]``, real."""
    return (x.real.square() + x.imag.square()).sum(dim=(-2, -1)) if x.is_complex() else (
        x.square().sum(dim=(-2, -1))
    )


def abs_sq(x: torch.Tensor) -> torch.Tensor:
    """Element-wise ``|x|^2`` as a real tensor (differentiable at 0, unlike ``abs()**2``)."""
    return x.real.square() + x.imag.square() if x.is_complex() else x.square()


def scale_to_power(w: torch.Tensor, power: torch.Tensor | float) -> torch.Tensor:
    """Scale each ``[..., M, K]`` matrix so that ``||w||_F^2 = power``.

    ``power`` is a scalar or broadcasts against ``w.shape[:-2]``.
    """
    p = torch.as_tensor(power, dtype=real_dtype(w.dtype), device=w.device)
    norm = fro_norm_sq(w).clamp_min(torch.finfo(p.dtype).tiny)
    return w * torch.sqrt(p / norm)[..., None, None]


def eye_like(x: torch.Tensor, n: int) -> torch.Tensor:
    """Identity ``[n, n]`` with ``x``'s dtype and device."""
    return torch.eye(n, dtype=x.dtype, device=x.device)


def batched_kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kronecker product of the last two dimensions, batched: ``[..., m, n] ⊗ [..., p, q]`` →
    ``[..., m p, n q]`` (leading dimensions broadcast)."""
    m, n = a.shape[-2:]
    p, q = b.shape[-2:]
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(*out.shape[:-4], m * p, n * q)


def _per_antenna_budget(w: torch.Tensor, p_max: torch.Tensor | float) -> torch.Tensor:
    """``P_max / M`` as a real tensor broadcasting against the rows ``[..., M]`` of ``w``."""
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    p = as_batch_param(p_max, w, "p_max")
    return (p / w.shape[-2])[..., None]


def project_per_antenna_power(w: torch.Tensor, p_max: torch.Tensor | float) -> torch.Tensor:
    r"""Euclidean projection of ``w`` onto the per-antenna power constraint
    :math:`[\mathbf W\mathbf W^H]_{mm} = \|\mathbf w_{m,:}\|^2 \le P_{\max}/M` (liu_irs_ppo
    eq. 22): every row whose power exceeds :math:`P_{\max}/M` is scaled onto that sphere, the
    other rows are kept.

    The constraint set is a product of balls, one per row, so the nearest point is found row by
    row, and the nearest point of a ball is the radial scaling.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` (real or complex; ``K`` columns, e.g. streams).
    p_max : float or torch.Tensor
        Total budget :math:`P_{\max}` in watts, a positive scalar or ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., M, K]``, same dtype and device; idempotent.

    Examples
    --------
    >>> w = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    >>> project_per_antenna_power(w, 2.0)
    tensor([[0.6000, 0.8000],
            [0.3000, 0.4000]])
    """
    cap = _per_antenna_budget(w, p_max)
    row = abs_sq(w).sum(dim=-1)  # [..., M]
    scale = torch.where(row > cap, torch.sqrt(cap / row.clamp_min(torch.finfo(row.dtype).tiny)),
                        torch.ones_like(row))
    return w * scale[..., None].to(w.dtype)


def scale_to_per_antenna_power(w: torch.Tensor, p_max: torch.Tensor | float) -> torch.Tensor:
    r"""Scale each ``[..., M, K]`` matrix by one factor so that its largest row power
    :math:`\max_m [\mathbf W\mathbf W^H]_{mm}` equals :math:`P_{\max}/M` (the uniform scaling
    of the ZF/MRT baselines of liu_irs_ppo, spec §4: it keeps the beam directions and the
    zero-forcing structure). An all-zero matrix stays zero.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]``.
    p_max : float or torch.Tensor
        Total budget :math:`P_{\max}` in watts, a positive scalar or ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., M, K]``, same dtype and device.
    """
    cap = _per_antenna_budget(w, p_max)[..., 0]
    peak = abs_sq(w).sum(dim=-1).amax(dim=-1)  # [...]
    scale = torch.where(peak > 0, torch.sqrt(cap / peak.clamp_min(torch.finfo(peak.dtype).tiny)),
                        torch.zeros_like(peak))
    return w * scale[..., None, None].to(w.dtype)
