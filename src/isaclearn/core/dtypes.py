"""Dtype and device policy.

Complex tensors default to ``complex64``; ``complex128`` is used whenever an input asks for it.
Functions follow the dtype and device of their inputs and never downcast silently.
"""

from __future__ import annotations

import torch

DEFAULT_COMPLEX = torch.complex64
DEFAULT_REAL = torch.float32

_REAL_OF = {
    torch.complex64: torch.float32,
    torch.complex128: torch.float64,
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
}
_COMPLEX_OF = {
    torch.float32: torch.complex64,
    torch.float64: torch.complex128,
    torch.complex64: torch.complex64,
    torch.complex128: torch.complex128,
    torch.float16: torch.complex64,
    torch.bfloat16: torch.complex64,
}


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """Real dtype matching ``dtype`` (``complex128`` → ``float64``, ``complex64`` → ``float32``)."""
    return _REAL_OF.get(dtype, DEFAULT_REAL)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """Complex dtype matching ``dtype`` (``float64`` → ``complex128``, otherwise ``complex64``)."""
    return _COMPLEX_OF.get(dtype, DEFAULT_COMPLEX)


def as_real_tensor(
    x: torch.Tensor | float | int,
    *,
    like: torch.Tensor,
) -> torch.Tensor:
    """``x`` as a real tensor on ``like``'s device with the real dtype matching ``like``.

    Integer or Python scalars are promoted; a real tensor of higher precision than ``like`` is kept.
    """
    target = real_dtype(like.dtype)
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError("expected a real-valued tensor, got a complex one")
        if x.dtype == torch.float64 or x.dtype == target:
            return x.to(device=like.device)
        return x.to(device=like.device, dtype=target)
    return torch.as_tensor(x, dtype=target, device=like.device)
