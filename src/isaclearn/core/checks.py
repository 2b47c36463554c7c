"""Input checks that raise errors naming the argument and what was expected.

Two kinds live here: ``check_*`` functions only raise; ``as_*`` functions also convert (a
scalar or a tensor to a real tensor on a given device, shaped for broadcasting). None of them
knows anything about a particular system.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch

from isaclearn.core.dtypes import as_real_tensor, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError


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


def check_count(value: Any, name: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer ``≥ 1`` (``bool`` and
    non-integral numbers such as ``2.0`` are rejected; NumPy and 0-d integer tensors pass)."""
    try:
        ok = not isinstance(value, bool) and operator.index(value) >= 1
    except TypeError:
        ok = False
    if not ok:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def check_complex_matrices(x: Any, name: str, layout: str) -> None:
    """Raise unless ``x`` is a finite complex tensor of at least two dimensions, both of them
    non-empty (a batch of matrices ``layout``, e.g. ``"[..., K, M]"``).

    Raises
    ------
    TypeError
        ``x`` is not a tensor.
    ShapeError
        Fewer than two dimensions, an empty matrix dimension, or a real dtype.
    ValueRangeError
        NaN or Inf.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got "
                        f"{type(x).__name__}")
    if x.dim() < 2:
        raise ShapeError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if not x.is_complex():
        raise ShapeError(f"{name} must be complex (complex64 or complex128), got {x.dtype}")
    if x.shape[-1] < 1 or x.shape[-2] < 1:
        raise ShapeError(f"{name} must have non-empty matrix dimensions {layout}, got shape "
                         f"{tuple(x.shape)}")
    check_finite(x, name)


def as_real(x: torch.Tensor | float, like: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` as a real tensor on ``like``'s device with ``like``'s real dtype (a more precise
    real tensor is kept: the dtype is promoted, never lowered).

    Raises
    ------
    ValueRangeError
        ``x`` is complex.
    """
    if isinstance(x, torch.Tensor) and x.is_complex():
        raise ValueRangeError(f"{name} must be real, got a complex tensor")
    return as_real_tensor(x, like=like)


def as_per_instance(
    x: torch.Tensor | float, like: torch.Tensor, batch_dims: int, name: str
) -> torch.Tensor:
    """``x``, a scalar or one value per instance of a batch with ``batch_dims`` leading
    dimensions, as a real tensor (:func:`as_real`) of shape ``[]`` or ``[...]``.

    Raises
    ------
    ValueRangeError
        ``x`` is complex.
    ShapeError
        ``x`` has neither 0 nor ``batch_dims`` dimensions.
    """
    t = as_real(x, like, name)
    if t.dim() not in (0, batch_dims):
        raise ShapeError(f"{name} must be a scalar or have the batch shape (…), got shape "
                         f"{tuple(t.shape)}")
    return t


def as_batch_param(
    x: torch.Tensor | float,
    like: torch.Tensor,
    name: str,
    *,
    matrix_dims: int = 2,
    allow_zero: bool = False,
) -> torch.Tensor:
    """``x``, a positive scalar or a tensor broadcasting to the batch shape
    ``like.shape[:-matrix_dims]``, as a real tensor with ``like``'s real dtype and device.

    Raises
    ------
    ValueRangeError
        ``x`` is complex, not finite, or not positive (not non-negative with ``allow_zero``).
    ShapeError
        ``x`` does not broadcast to the batch shape.
    """
    check_positive(x, name, allow_zero=allow_zero)
    t = torch.as_tensor(x, dtype=real_dtype(like.dtype), device=like.device)
    batch = like.shape[: like.dim() - matrix_dims]
    try:
        ok = torch.broadcast_shapes(t.shape, batch) == batch
    except RuntimeError:
        ok = False
    if not ok:
        raise ShapeError(
            f"{name} must be a scalar or a tensor broadcasting to the batch shape "
            f"{tuple(batch)}, got shape {tuple(t.shape)}"
        )
    return t


def as_positive_per_item(
    x: torch.Tensor | float, like: torch.Tensor, name: str
) -> torch.Tensor:
    """``x``, finite and positive, shaped to broadcast against per-item values ``like``
    ``[..., T]``: a scalar, ``[...]`` per instance (one dimension fewer than ``like``; a trailing
    axis is added) or any shape that broadcasts against ``like``.

    The result is on ``like``'s device, float64 if ``x`` is float64, else ``like``'s dtype.

    Raises
    ------
    ValueRangeError
        ``x`` is complex, not finite or not positive.
    ShapeError
        ``x`` does not broadcast against ``like``.
    """
    t = torch.as_tensor(x, device=like.device)
    if t.is_complex():
        raise ValueRangeError(f"{name} must be real and positive")
    t = t.to(torch.float64 if t.dtype == torch.float64 else like.dtype)
    if not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    if t.dim() == like.dim() - 1:
        t = t[..., None]  # per instance: broadcast over the items
    try:
        torch.broadcast_shapes(t.shape, like.shape)
    except RuntimeError:
        raise ShapeError(
            f"{name} of shape {tuple(t.shape)} does not broadcast against the per-item "
            f"values of shape {tuple(like.shape)} (scalar, [...] per instance or [..., T])"
        ) from None
    return t
