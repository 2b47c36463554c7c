"""Small batched linear-algebra helpers (no wireless knowledge)."""

from __future__ import annotations

import torch

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
