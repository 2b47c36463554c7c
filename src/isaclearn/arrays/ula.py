r"""Steering vectors of uniform linear and planar arrays.

Conventions
-----------
Element ``m`` (0-based) of an ``M``-element ULA with spacing ``d`` (in wavelengths) sits at
``(m - m_0) d`` along the array axis, where the reference ``m_0`` is ``(M - 1) / 2`` for
``reference="center"`` and ``0`` for ``reference="first"``. For a plane wave from angle
:math:`\theta` (radians, measured from broadside) the steering vector is

.. math:: a_m(\theta) = c \, \exp\big(s \, j 2\pi d (m - m_0) \sin\theta\big),

with phase sign ``s = sign`` (``+1`` by default) and ``c = 1`` (unit-modulus entries) or
``c = 1/\sqrt{M}`` when ``normalize=True``.

With ``reference="center"``, ``spacing=0.5`` and ``sign=+1`` this is eq. (10) of temiz_unsup
(``shared/papers/003_...txt``): the first entry is :math:`e^{-j\frac{M-1}{2}\pi\sin\theta}`.
"""

from __future__ import annotations

import math
import operator
from typing import Literal

import torch

from isaclearn.core.dtypes import complex_dtype
from isaclearn.core.errors import ConfigError

Reference = Literal["center", "first"]


def _positions(
    num_antennas: int, reference: Reference, spacing: float, dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    try:
        ok = not isinstance(num_antennas, bool) and operator.index(num_antennas) >= 1
    except TypeError:
        ok = False
    if not ok:
        raise ConfigError(f"num_antennas must be an integer >= 1, got {num_antennas!r}")
    if reference == "center":
        m0 = (num_antennas - 1) / 2.0
    elif reference == "first":
        m0 = 0.0
    else:
        raise ConfigError(f"reference must be 'center' or 'first', got {reference!r}")
    if not (spacing > 0 and math.isfinite(spacing)):
        raise ConfigError(f"spacing must be positive (in wavelengths), got {spacing}")
    idx = torch.arange(num_antennas, dtype=dtype, device=device)
    return (idx - m0) * spacing


def _check_sign(sign: int) -> None:
    if sign not in (1, -1):
        raise ConfigError(f"sign must be +1 or -1, got {sign}")


def _as_angle(theta: torch.Tensor | float) -> torch.Tensor:
    t = torch.as_tensor(theta)
    if t.is_complex():
        raise ConfigError("theta must be real (radians)")
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    return t


def _steering(
    num_antennas: int, u: torch.Tensor, reference: Reference, spacing: float, sign: int,
    normalize: bool,
) -> torch.Tensor:
    """``c·exp(s·j2πd(m − m0)·u)`` for the direction sine/cosine ``u`` (shared by :func:`ula`
    and :func:`ula_u`)."""
    _check_sign(sign)
    pos = _positions(num_antennas, reference, spacing, u.dtype, u.device)
    phase = sign * 2.0 * math.pi * pos * u[..., None]
    out = torch.polar(torch.ones_like(phase), phase).to(complex_dtype(u.dtype))
    if normalize:
        out = out / math.sqrt(num_antennas)
    return out


def ula(
    num_antennas: int,
    theta: torch.Tensor | float,
    *,
    reference: Reference = "center",
    spacing: float = 0.5,
    sign: int = 1,
    normalize: bool = False,
) -> torch.Tensor:
    r"""Steering vector of a uniform linear array.

    Parameters
    ----------
    num_antennas : int
        Number of elements ``M``.
    theta : torch.Tensor or float
        Angles from broadside in radians, any shape ``[...]``, real. ``float64`` input gives a
        ``complex128`` result, anything else ``complex64``.
    reference : {"center", "first"}
        Phase reference: the array centre (temiz_unsup eq. 10) or the first element.
    spacing : float
        Element spacing in wavelengths (0.5 = half-wavelength).
    sign : {+1, -1}
        Sign of the phase progression.
    normalize : bool
        If True, scale to unit norm (entries ``1/sqrt(M)``); otherwise unit-modulus entries.

    Returns
    -------
    torch.Tensor
        ``[..., M]`` complex.

    Examples
    --------
    >>> import torch
    >>> a = ula(4, torch.tensor([0.0, 0.3]))
    >>> a.shape
    torch.Size([2, 4])
    """
    t = _as_angle(theta)
    return _steering(num_antennas, torch.sin(t), reference, spacing, sign, normalize)


def ula_derivative(
    num_antennas: int,
    theta: torch.Tensor | float,
    *,
    reference: Reference = "center",
    spacing: float = 0.5,
    sign: int = 1,
    normalize: bool = False,
) -> torch.Tensor:
    r"""Derivative :math:`\partial a(\theta) / \partial\theta` of :func:`ula` (same arguments).

    .. math:: \dot a_m(\theta) = s\, j 2\pi d (m - m_0) \cos\theta \; a_m(\theta)

    Returns
    -------
    torch.Tensor
        ``[..., M]`` complex, same dtype as :func:`ula` would give.
    """
    _check_sign(sign)
    t = _as_angle(theta)
    a = ula(num_antennas, t, reference=reference, spacing=spacing, sign=sign, normalize=normalize)
    pos = _positions(num_antennas, reference, spacing, t.dtype, t.device)
    factor = sign * 2.0 * math.pi * pos * torch.cos(t)[..., None]
    return a * torch.complex(torch.zeros_like(factor), factor).to(a.dtype)


def ula_u(
    num_antennas: int,
    u: torch.Tensor | float,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
    sign: int = -1,
    normalize: bool = True,
) -> torch.Tensor:
    r"""Steering vector of a ULA as a function of the direction cosine ``u`` (no arcsin).

    .. math:: a_m(u) = c\, \exp\big(s\, j 2\pi d (m - m_0)\, u\big)

    With the defaults (first-element reference, ``d = 1/2``, ``s = -1``, ``c = 1/\sqrt{M}``) this is
    eqs. (4)/(5) of ding_dt (``shared/papers/004_...txt``):
    :math:`a(\varphi) = N^{-1/2}[1, e^{-j\pi\varphi}, \dots, e^{-j\pi(N-1)\varphi}]^T`, where
    :math:`\varphi = \cos\theta` is measured from the array axis. It equals :func:`ula` at
    ``theta = arcsin(u)`` but stays smooth as ``|u| -> 1``.

    Parameters
    ----------
    num_antennas : int
        Number of elements ``N``.
    u : torch.Tensor or float
        Direction cosines, any shape ``[...]``, real. Values are not range-checked, so that the
        function runs under ``torch.func.vmap``/``jacfwd`` and accepts estimates with
        ``|u| > 1`` (the formula is evaluated as written).
    reference, spacing, sign, normalize
        As in :func:`ula` (note the different defaults).

    Returns
    -------
    torch.Tensor
        ``[..., N]`` complex (``complex128`` for ``float64`` input, else ``complex64``).

    Examples
    --------
    >>> import torch
    >>> ula_u(4, torch.tensor([0.0, 0.5])).shape
    torch.Size([2, 4])
    """
    return _steering(num_antennas, _as_angle(u), reference, spacing, sign, normalize)


def ula_u_derivative(
    num_antennas: int,
    u: torch.Tensor | float,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
    sign: int = -1,
    normalize: bool = True,
) -> torch.Tensor:
    r"""Derivative :math:`\partial a(u)/\partial u` of :func:`ula_u` (same arguments).

    .. math:: \dot a_m(u) = s\, j 2\pi d (m - m_0)\, a_m(u)

    Returns
    -------
    torch.Tensor
        ``[..., N]`` complex, same dtype as :func:`ula_u`.
    """
    a = ula_u(num_antennas, u, reference=reference, spacing=spacing, sign=sign,
              normalize=normalize)
    t = _as_angle(u)
    pos = _positions(num_antennas, reference, spacing, t.dtype, t.device)
    factor = (sign * 2.0 * math.pi * pos).expand(a.shape)
    return a * torch.complex(torch.zeros_like(factor), factor).to(a.dtype)


def upa(
    num_x: int,
    num_y: int,
    azimuth: torch.Tensor | float,
    elevation: torch.Tensor | float,
    *,
    spacing: float = 0.5,
    reference: Reference = "center",
    sign: int = 1,
    normalize: bool = False,
) -> torch.Tensor:
    r"""Steering vector of a uniform planar array in the x–y plane.

    Element ``(p, q)`` sits at ``((p - p_0) d, (q - q_0) d)``; its phase is
    :math:`s\,2\pi d\,[(p-p_0)\sin\phi_e\cos\phi_a + (q-q_0)\sin\phi_e\sin\phi_a]`, with
    azimuth :math:`\phi_a` and elevation :math:`\phi_e` measured from the array normal (z axis).
    Entries are ordered with ``q`` fastest (``index = p * num_y + q``).

    Parameters
    ----------
    num_x, num_y : int
        Elements along x and y.
    azimuth, elevation : torch.Tensor or float
        Angles in radians, broadcastable shapes ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., num_x * num_y]`` complex.
    """
    _check_sign(sign)
    az = _as_angle(azimuth)
    el = _as_angle(elevation)
    az, el = torch.broadcast_tensors(az, el)
    px = _positions(num_x, reference, spacing, az.dtype, az.device)
    py = _positions(num_y, reference, spacing, az.dtype, az.device)
    ux = (torch.sin(el) * torch.cos(az))[..., None, None]
    uy = (torch.sin(el) * torch.sin(az))[..., None, None]
    phase = sign * 2.0 * math.pi * (px[:, None] * ux + py[None, :] * uy)
    phase = phase.reshape(*phase.shape[:-2], num_x * num_y)
    out = torch.polar(torch.ones_like(phase), phase).to(complex_dtype(az.dtype))
    if normalize:
        out = out / math.sqrt(num_x * num_y)
    return out
