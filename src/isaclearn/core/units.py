"""Decibel helpers for power ratios (a Python float gives a float, a tensor a tensor) and the
text form of durations."""

from __future__ import annotations

import math
from typing import overload

import torch


@overload
def db_to_lin(x_db: torch.Tensor) -> torch.Tensor: ...


@overload
def db_to_lin(x_db: float) -> float: ...


def db_to_lin(x_db: torch.Tensor | float) -> torch.Tensor | float:
    """Power ratio from decibels: ``10 ** (x_db / 10)``."""
    if isinstance(x_db, torch.Tensor):
        return torch.pow(10.0, x_db / 10.0)
    return 10.0 ** (float(x_db) / 10.0)


@overload
def lin_to_db(x: torch.Tensor) -> torch.Tensor: ...


@overload
def lin_to_db(x: float) -> float: ...


def lin_to_db(x: torch.Tensor | float) -> torch.Tensor | float:
    """Decibels of a power ratio: ``10 log10(x)``."""
    if isinstance(x, torch.Tensor):
        return 10.0 * torch.log10(x)
    return 10.0 * math.log10(float(x))


def format_duration(seconds: float) -> str:
    """A duration as text for progress lines: ``"8 s"``, ``"3 min 20 s"``, ``"1 h 05 min"``.

    Examples
    --------
    >>> format_duration(8.4), format_duration(200), format_duration(3900)
    ('8 s', '3 min 20 s', '1 h 05 min')
    """
    s = max(0, int(round(seconds))) if math.isfinite(seconds) else 0
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
