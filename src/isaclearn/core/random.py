"""Seeding: all randomness flows through an explicit :class:`torch.Generator`."""

from __future__ import annotations

import random

import numpy as np
import torch


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded with ``seed``.

    The same seed gives the same numbers on the same device.
    """
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global generators (for code outside isaclearn's control,
    e.g. network weight initialization and dropout)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 (seeds third-party code using the legacy API)
    torch.manual_seed(seed)


def complex_normal(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.complex64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Samples of the circularly-symmetric complex Gaussian CN(0, 1) (unit variance in total).

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    generator : torch.Generator or None
        Source of randomness.
    dtype : torch.dtype
        ``complex64`` or ``complex128``.
    """
    from isaclearn.core.dtypes import real_dtype

    if device is None and generator is not None:
        device = generator.device
    rdt = real_dtype(dtype)
    re = torch.randn(shape, generator=generator, dtype=rdt, device=device)
    im = torch.randn(shape, generator=generator, dtype=rdt, device=device)
    return torch.complex(re, im) * (0.5**0.5)
