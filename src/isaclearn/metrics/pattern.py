r"""Beampattern matching: the desired pattern, the beampattern error and constraint violations
(liu_irs_ppo, ``shared/papers/001_...txt``, eqs. 16–18).

.. math::
    L_r(\mathbf R) = \frac1L\sum_{l=1}^{L}|d(\psi_l) - P(\psi_l)|^2 \quad (16),\qquad
    P(\psi) = \mathbf a^H(\psi)\mathbf R\,\mathbf a(\psi),\quad \mathbf R = \mathbf W\mathbf W^H,

    d(\psi) = \begin{cases}1 & |\psi - \psi_p| \le \Delta/2 \text{ for some } p\\
      0 & \text{otherwise}\end{cases} \quad (17),\qquad L_r(\mathbf R) \le \ell \quad (18),

on the grid :math:`\psi_l` from −90° to 90° in steps of 0.1° (``L = 1801``), with the
:math:`1/\sqrt M` steering of (5) read with :math:`\sin\theta` (spec §6.1):
:math:`\mathbf a(\psi) = M^{-1/2}[1, e^{-j\pi\sin\psi}, \dots, e^{-j\pi(M-1)\sin\psi}]^T`.

Notes
-----
* (16) compares a 0/1 mask with a power in watts, with no scale factor (spec §6.2). With
  three 10° beams the mask has 3·101 ones out of 1801 points (fraction 0.1682), so
  :math:`\mathbf R = 0` gives :math:`L_r = 0.1682` and the isotropic
  :math:`\mathbf R = (P/M)\mathbf I` gives :math:`0.168(1-P/M)^2 + 0.832(P/M)^2`. By Jensen,
  :math:`L_r \ge (\bar P - \bar d)^2`, so ℓ caps the radiated power. ``height`` scales the mask
  (option ``pattern_scale="power"``: :math:`P_{\max}/M`).
* A grid point counts as inside a beam if :math:`|\psi - \psi_p| \le \Delta/2 + 10^{-6}` rad;
  the tolerance (far below the 0.1° step) makes the beam edges exact despite rounding, so each
  beam has 101 points.
* The MIMO reading (spec §6.16) applies the same error per user to :math:`\mathbf R_k =
  \mathbf W_k\mathbf W_k^H`: pass ``w`` ``[B, K, M, N]`` and get ``[B, K]``.
"""

from __future__ import annotations

import torch

from isaclearn.arrays import Reference
from isaclearn.core.checks import check_last_dims
from isaclearn.core.dtypes import as_real_tensor, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.metrics.sensing import beampattern

__all__ = [
    "angle_grid",
    "beampattern_error",
    "beampattern_mse",
    "constraint_violation",
    "ula_beampattern_mse",
    "desired_pattern",
    "paper_beampattern",
]

_EDGE_TOL_RAD = 1e-6


def angle_grid(
    step_deg: float = 0.1,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The beampattern grid −90°…90° in steps of ``step_deg`` (must divide 90), in radians,
    ``[G]`` (``G = 1801`` for 0.1°), computed in float64 and cast to ``dtype``.

    Examples
    --------
    >>> angle_grid().shape
    torch.Size([1801])
    """
    if not step_deg > 0:
        raise ConfigError(f"step_deg must be positive, got {step_deg}")
    n = 90.0 / step_deg
    if abs(n - round(n)) > 1e-9:
        raise ConfigError(f"step_deg must divide 90, got {step_deg}")
    half = round(n)
    idx = torch.arange(-half, half + 1, dtype=torch.float64, device=device)
    return torch.deg2rad(idx * (90.0 / half)).to(dtype)


def desired_pattern(
    angles: torch.Tensor,
    target_angles: torch.Tensor,
    beam_width_rad: float,
    *,
    height: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    r"""Desired beampattern (17): ``height`` within :math:`\Delta/2` of a target, else 0.

    Parameters
    ----------
    angles : torch.Tensor
        Grid ``[G]`` in radians (:func:`angle_grid`).
    target_angles : torch.Tensor
        Beam centres :math:`\psi_p` ``[T]`` or ``[..., T]`` in radians.
    beam_width_rad : float
        Full beam width :math:`\Delta` in radians (10° in eq. 17).
    height : float or torch.Tensor
        Value inside the beams (1 in eq. 17), a scalar or ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., G]`` real, ``angles``' dtype.

    Examples
    --------
    >>> import math
    >>> g = angle_grid()
    >>> t = torch.deg2rad(torch.tensor([-40.0, 0.0, 40.0]))
    >>> int(desired_pattern(g, t, math.radians(10)).sum())
    303
    """
    if angles.dim() != 1 or angles.is_complex():
        raise ShapeError(f"angles must be a real grid [G], got shape {tuple(angles.shape)}")
    if target_angles.dim() < 1 or target_angles.is_complex():
        raise ShapeError("target_angles must be real [T] or [..., T]")
    if not beam_width_rad >= 0:
        raise ValueRangeError(f"beam_width_rad must be >= 0, got {beam_width_rad}")
    t = target_angles.to(device=angles.device, dtype=torch.float64)
    diff = (angles.to(torch.float64)[..., None, :] - t[..., :, None]).abs()  # [..., T, G]
    inside = (diff <= beam_width_rad / 2.0 + _EDGE_TOL_RAD).any(dim=-2)
    h = as_real_tensor(height, like=angles)
    if h.dim() > 0:
        h = h[..., None]
    return inside.to(angles.dtype) * h


def paper_beampattern(
    w: torch.Tensor,
    angles: torch.Tensor,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Beampattern :math:`P(\psi) = \mathbf a^H(\psi)\mathbf W\mathbf W^H\mathbf a(\psi)` with
    the :math:`1/\sqrt M`, sign −1, sin steering of eq. (5) (spec §6.1):
    :func:`isaclearn.metrics.beampattern` with ``sign=-1, normalize=True``.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex (``[B, K, M, N]`` gives per-user patterns).
    angles : torch.Tensor
        Grid ``[G]`` in radians.

    Returns
    -------
    torch.Tensor
        ``[..., G]`` real, watts (at most :math:`\mathrm{tr}\,\mathbf R`).
    """
    return beampattern(w, angles, reference=reference, spacing=spacing, sign=-1,
                       normalize=True)


def beampattern_error(pattern: torch.Tensor, desired: torch.Tensor) -> torch.Tensor:
    r"""Mean squared difference (16) between a beampattern ``[..., G]`` and the desired one
    ``[G]`` or ``[..., G]`` (broadcast), ``[...]`` real."""
    check_last_dims(pattern, (None,), "pattern", "[..., G]")
    if desired.shape[-1] != pattern.shape[-1]:
        raise ShapeError(f"desired [..., G] has G = {desired.shape[-1]}, the pattern "
                         f"{pattern.shape[-1]}")
    d = desired.to(device=pattern.device, dtype=torch.promote_types(pattern.dtype, desired.dtype))
    return (d - pattern).square().mean(dim=-1)


def beampattern_mse(
    w: torch.Tensor,
    desired: torch.Tensor,
    angles: torch.Tensor,
    *,
    reference: Reference = "first",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Beampattern error :math:`L_r(\mathbf W\mathbf W^H)` of (16), the ``beampattern_mse``
    result column.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex (MIMO: ``[B, K, M, N]`` gives ``L_r(R_k)`` ``[B, K]``).
    desired : torch.Tensor
        Desired pattern ``[G]`` or broadcasting to ``[..., G]`` (:func:`desired_pattern`).
    angles : torch.Tensor
        Grid ``[G]`` in radians (:func:`angle_grid`).

    Returns
    -------
    torch.Tensor
        ``[...]`` real (watts², no scale factor; spec §6.2).

    Examples
    --------
    >>> import math
    >>> g = angle_grid(dtype=torch.float64)
    >>> d = desired_pattern(g, torch.deg2rad(torch.tensor([-40.0, 0.0, 40.0])), math.radians(10))
    >>> round(float(beampattern_mse(torch.zeros(5, 4, dtype=torch.complex128), d, g)), 4)
    0.1682
    """
    return beampattern_error(paper_beampattern(w, angles, reference=reference,
                                               spacing=spacing), desired)


def ula_beampattern_mse(
    w: torch.Tensor,
    desired: torch.Tensor,
    angles: torch.Tensor,
    *,
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""The beampattern error :math:`L_r` of :func:`beampattern_mse` (same steering, same
    value), computed from the lag sums of :math:`\mathbf R = \mathbf W\mathbf W^H` in
    :math:`O(M^2)` per instance, whatever the grid size (the fast path of the batched
    environments).

    With :math:`a_m(\psi) = M^{-1/2}e^{-j x m}`, :math:`x = 2\pi d\sin\psi`, the pattern of
    a Hermitian :math:`\mathbf R` depends on it only through the sums along its diagonals,
    :math:`r_\delta = \sum_m R_{m,m+\delta}`:

    .. math::
        P(\psi) = \frac1M\Big(r_0 + 2\sum_{\delta=1}^{M-1}
          \big(\Re r_\delta\cos(\delta x) + \Im r_\delta\sin(\delta x)\big)\Big)
          = \mathbf c^T\boldsymbol\phi(\psi),

    linear in ``F = 2M - 1`` real coefficients :math:`\mathbf c` over the basis
    :math:`\boldsymbol\phi = [1, \cos\delta x, \sin\delta x]/M`. So
    :math:`L_r = \overline{d^2} - 2\mathbf c^T\overline{d\boldsymbol\phi}
    + \mathbf c^T\overline{\boldsymbol\phi\boldsymbol\phi^T}\mathbf c` (bars: means over
    the grid), with the grid averages computed once per call. The quadratic form is evaluated
    in float64 and cast back.

    Parameters
    ----------
    w : torch.Tensor
        Precoder ``[..., M, K]`` complex.
    desired : torch.Tensor
        Desired pattern ``[G]`` or broadcasting to ``[..., G]``.
    angles : torch.Tensor
        Grid ``[G]`` in radians.
    spacing : float
        Element spacing :math:`d` in wavelengths.

    Returns
    -------
    torch.Tensor
        ``[...]`` real, equal to ``beampattern_mse(w, desired, angles, spacing=spacing)`` up to
        rounding.
    """
    check_last_dims(w, (None, None), "w", "[..., M, K]")
    if angles.dim() != 1 or angles.is_complex():
        raise ShapeError(f"angles must be a real grid [G], got shape {tuple(angles.shape)}")
    if desired.shape[-1] != angles.shape[0]:
        raise ShapeError(f"desired [..., G] has G = {desired.shape[-1]}, the grid "
                         f"{angles.shape[0]}")
    if not w.is_complex():
        w = w.to(torch.complex128 if w.dtype == torch.float64 else torch.complex64)
    m = w.shape[-2]
    f64 = torch.float64
    r = (w @ w.conj().transpose(-2, -1)).to(torch.complex128)  # [..., M, M]
    parts = [torch.diagonal(r, dim1=-2, dim2=-1).real.sum(-1, keepdim=True)]
    if m > 1:
        lags = torch.stack([torch.diagonal(r, offset=d, dim1=-2, dim2=-1).sum(-1)
                            for d in range(1, m)], dim=-1)  # [..., M-1]
        parts += [2.0 * lags.real, 2.0 * lags.imag]
    c = torch.cat(parts, dim=-1)  # [..., F]
    x = 2.0 * torch.pi * spacing * torch.sin(angles.to(device=w.device, dtype=f64))  # [G]
    phase = torch.arange(1, m, device=w.device, dtype=f64)[:, None] * x[None, :]
    basis = torch.cat([torch.ones_like(x)[None], torch.cos(phase), torch.sin(phase)]) / m
    g = x.shape[0]
    d = desired.to(device=w.device, dtype=f64)
    gram = basis @ basis.T / g  # [F, F]
    cross = d @ basis.T / g  # [..., F]
    err = (d.square().mean(-1) - 2.0 * (c * cross).sum(-1)
           + ((c @ gram) * c).sum(-1)).clamp_min(0.0)
    return err.to(real_dtype(w.dtype))


def constraint_violation(value: torch.Tensor, bound: torch.Tensor | float) -> torch.Tensor:
    r"""Violation :math:`\max(0, \text{value} - \text{bound})` of a constraint
    ``value ≤ bound`` (e.g. (18): ``constraint_violation(L_r, ℓ)``), same shape as ``value``."""
    if value.is_complex():
        raise ValueRangeError("value must be real")
    b = torch.as_tensor(bound, dtype=value.dtype if value.is_floating_point()
                        else real_dtype(value.dtype), device=value.device)
    if not bool(torch.isfinite(b).all()):
        raise ValueRangeError("bound must be finite")
    return (value - b).clamp_min(0.0)

