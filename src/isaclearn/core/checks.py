"""Input checks that raise errors naming the argument and what was expected."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from isaclearn.core.errors import ShapeError, ValueRangeError


def check_ndim_at_least(x: torch.Tensor, ndim: int, name: str, layout: str) -> None:
    """Raise :class:`ShapeError` unless ``x`` has at least ``ndim`` dimensions."""
    if x.dim() < ndim:
        raise ShapeError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")


def check_last_dims(
    x: torch.Tensor, dims: Sequence[int | None], name: str, layout: str
) -> None:
    """Raise :class:`ShapeError` unless the trailing dimensions of ``x`` equal ``dims``
    (``None`` matches any size)."""
    check_ndim_at_least(x, len(dims), name, layout)
    tail = x.shape[x.dim() - len(dims) :]
    for got, want in zip(tail, dims):
        if want is not None and got != want:
            raise ShapeError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise :class:`ValueRangeError` if ``x`` holds NaN or Inf."""
    if not bool(torch.isfinite(x).all()):
        raise ValueRangeError(f"{name} contains NaN or Inf")


def check_positive(x: torch.Tensor | float, name: str, *, allow_zero: bool = False) -> None:
    """Raise :class:`ValueRangeError` unless every entry of ``x`` is positive (or ≥ 0)."""
    t = torch.as_tensor(x)
    if t.is_complex():
        raise ValueRangeError(f"{name} must be real, got a complex value")
    if not bool(torch.isfinite(t).all()):
        raise ValueRangeError(f"{name} contains NaN or Inf")
    ok = (t >= 0).all() if allow_zero else (t > 0).all()
    if not bool(ok):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueRangeError(f"{name} must be {bound}, got {t.min().item():g}")
