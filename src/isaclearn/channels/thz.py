r"""Terahertz propagation: spreading loss, molecular absorption, rough-surface reflection and the
Rician multi-antenna link of liu_irs_ppo (``shared/papers/001_...txt``, section II-A).

Equations (the paper's numbers):

.. math::
    L_{spread}(f, l) = \Big(\frac{c}{4\pi f l}\Big)^2 \quad (8), \qquad
    L_{abs}(f, l) = e^{-k_{abs}(f)\, l} \quad (9a),

    |\alpha_{LOS}|^2 = L_{spread} L_{abs} \quad (7),\qquad
    |\alpha_{NLOS}|^2 = \Gamma^2 L_{spread} L_{abs} \quad (9b),

    \iota = \frac{Z\cos\varphi_{in} - Z_0\cos\varphi_{ref}}
                 {Z\cos\varphi_{in} + Z_0\cos\varphi_{ref}},
    \ \varphi_{ref} = \arcsin\Big(\frac{Z}{Z_0}\sin\varphi_{in}\Big) \quad (10),\qquad
    \zeta = e^{-\frac12(4\pi f\sigma\cos\varphi_{in}/c)^2} \quad (11),\qquad \Gamma = \iota\,\zeta,

    \mathbf H = \sqrt{\tfrac{\gamma}{1+\gamma}}\,\alpha_{LOS} G_t G_r\,\mathbf b_r\mathbf a_t^H
      + \sqrt{\tfrac{1}{1+\gamma}}\sum_{i=1}^{n_{NL}} \alpha_i G_t G_r\,\mathbf b_{r,i}
        \mathbf a_{t,i}^H \quad (4).

A link matrix is ``[..., N_rx, N_tx]`` (receive × transmit), so that ``y = H x``.

Geometry and array conventions
------------------------------
Directions are 3-D unit vectors ``u``. A :class:`UlaSteering` lies along the ``y`` axis with its
first element at the reference point and spacing ``d`` wavelengths (broadside ``+x``); its phase
depends on :math:`u_y = \sin\theta`, :math:`\theta` from broadside, so that its transmit steering
vector is ``isaclearn.arrays.ula(M, θ, reference="first", sign=-1)`` with unit-modulus entries
:math:`[1, e^{-j2\pi d\sin\theta}, \dots]` (eq. 5 with sin; spec §6.1). A :class:`UpaSteering`
lies in the ``x–y`` plane (a ceiling-mounted IRS), referenced at its centre; its phase depends
on :math:`(u_x, u_y)` through ``isaclearn.arrays.upa(√E, √E, az, el, sign=-1)`` with
:math:`\sin(el)\cos(az) = u_x` and :math:`\sin(el)\sin(az) = u_y` (eq. 6 read as spec §6.11).

The transmit vector :math:`\mathbf a_t(\mathbf u) = [e^{-j2\pi d\,\mathbf p_n\cdot\mathbf u}]_n`
is evaluated at the direction from the transmitter towards the receiver, the receive vector
:math:`\mathbf b_r(\mathbf u) = [e^{+j2\pi d\,\mathbf p_n\cdot\mathbf u}]_n =
\overline{\mathbf a(\mathbf u)}` at the direction from the receiver towards the transmitter
(``p_n`` in wavelengths). Both follow from the path length
:math:`l - \lambda\,\mathbf p_n\cdot\mathbf u` of a far-field plane wave with the phase
:math:`e^{-j2\pi f l/c}`, so the model is physically consistent: the row
:math:`\alpha\,\mathbf a_t^H(\mathbf u)` of a transmitter is maximized in power by
:math:`\mathbf w \propto \mathbf a_t(\mathbf u)` (MRT), the beampattern
:math:`\mathbf a^H(\psi)\mathbf R\mathbf a(\psi)` (eq. 16) peaks at the user's angle, and an
IRS with equal phases reflects specularly (mirror direction).

Notes
-----
* **Amplitude reading (spec §6.12).** (7) names the power :math:`|\alpha|^2` while (9) names
  :math:`\alpha` and uses it as an amplitude in :math:`\mathbf H_{LOS}`. We take the complex
  path gain :math:`\alpha = \sqrt{L_{spread}}\,e^{-k_{abs} l/2}\,e^{-j2\pi f l/c}`, i.e. power
  :math:`L_{spread} L_{abs}`, and :math:`\alpha_i = |\Gamma|\sqrt{L_{spread}(l_i)}\,
  e^{-k_{abs} l_i/2} e^{-j2\pi f l_i/c} e^{j\vartheta_i}` for an NLOS ray of length
  :math:`l_i` with a uniform reflection phase :math:`\vartheta_i` (the phase of :math:`\Gamma`,
  unknown for an unspecified surface).
* **(9b) as printed** drops :math:`\Gamma^2` on its right-hand side; we keep it.
* **Unit-modulus steering inside channels (spec §6.12).** With the :math:`1/\sqrt M` and
  :math:`1/N` normalizations of (5)/(6) inside :math:`\mathbf H_i` the IRS array gain would
  vanish; channels use unit-modulus steering (entries of magnitude :math:`|\alpha|`). The
  normalized (5) is used only for the beampattern (:mod:`isaclearn.metrics.pattern`).
* :math:`c = 3\cdot10^8` m/s as in the paper (``SPEED_OF_LIGHT``); the exact value changes
  (8) by 0.006 dB.
* ``k_abs = 6.7141e-4`` (paper §VI, unit not given, read as m⁻¹) costs 0.029 dB at 10 m; the
  formula is kept and tested with a large ``k_abs`` (spec §6.18).
* NLOS rays: the paper gives no angles, lengths or surface data. Chosen (config fields of
  :class:`ThzLink`): ``n_NL = 2`` rays with a fixed :math:`\Gamma^2 = -10` dB, directions
  uniform (ULA: :math:`\theta \sim U[-\pi/2, \pi/2]`; UPA: azimuth :math:`U[-\pi, \pi)`,
  elevation from the normal :math:`U[0, \pi/2)`), lengths :math:`l_i = s_i l` with
  :math:`s_i \sim U[1, 1.5]`. :func:`fresnel_reflection` and :func:`roughness_factor` give
  :math:`\Gamma` for a known surface.
* Geometry is drawn in float64 and cast at the end, so ``complex64`` and ``complex128``
  samples of the same seed agree to rounding (the THz phase :math:`2\pi f l/c` is
  :math:`\sim 10^5` rad at 5 m, too large for float32 arithmetic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from isaclearn.arrays import ula, upa
from isaclearn.core.checks import check_count
from isaclearn.core.dtypes import complex_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

__all__ = [
    "FREE_SPACE_IMPEDANCE",
    "SPEED_OF_LIGHT",
    "ArraySteering",
    "ThzLink",
    "UlaSteering",
    "UpaSteering",
    "absorption_loss",
    "fresnel_reflection",
    "path_gain",
    "reflection_coefficient",
    "rician_channel",
    "roughness_factor",
    "spreading_loss",
    "unit_vectors",
]

SPEED_OF_LIGHT = 3e8
"""Speed of light in m/s as used by the paper (section II-A: "c = 3 × 10^8 m/s")."""

FREE_SPACE_IMPEDANCE = 377.0
"""Free-space wave impedance :math:`Z_0` in ohms (eq. 10)."""

TensorLike = torch.Tensor | float


def _real(x: TensorLike, name: str) -> torch.Tensor:
    """``x`` as a real tensor; Python numbers become float64 (the dB checks of spec §7 need
    more than float32), tensors keep their floating dtype."""
    if isinstance(x, complex):
        raise ValueRangeError(f"{name} must be real")
    t = torch.as_tensor(x) if isinstance(x, torch.Tensor) else torch.as_tensor(
        x, dtype=torch.float64)
    if t.is_complex():
        raise ValueRangeError(f"{name} must be real")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    return t


def _positive(x: TensorLike, name: str) -> torch.Tensor:
    t = _real(x, name)
    if not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    return t


def _non_negative(x: TensorLike, name: str) -> torch.Tensor:
    t = _real(x, name)
    if not bool(torch.isfinite(t).all()) or not bool((t >= 0).all()):
        raise ValueRangeError(f"{name} must be finite and non-negative")
    return t


def spreading_loss(
    freq_hz: TensorLike, distance_m: TensorLike, *, speed_of_light: float = SPEED_OF_LIGHT
) -> torch.Tensor:
    r"""Free-space spreading loss (8), a power ratio: :math:`L_{spread} = (c/(4\pi f l))^2`.

    Parameters
    ----------
    freq_hz : float or torch.Tensor
        Carrier frequency :math:`f` in Hz, positive.
    distance_m : float or torch.Tensor
        Path length :math:`l` in metres, positive; shapes broadcast.
    speed_of_light : float
        :math:`c` in m/s (the paper's :math:`3\cdot10^8` by default).

    Returns
    -------
    torch.Tensor
        Broadcast shape, real (linear power ratio, ``≤ 1`` beyond the near field).

    Examples
    --------
    >>> round(10 * math.log10(float(spreading_loss(0.55e12, 1.0))), 2)
    -87.25
    """
    f = _positive(freq_hz, "freq_hz")
    ell = _positive(distance_m, "distance_m")
    return (speed_of_light / (4.0 * math.pi * f * ell)).square()


def absorption_loss(k_abs_per_m: TensorLike, distance_m: TensorLike) -> torch.Tensor:
    r"""Molecular absorption loss of (9a), a power ratio: :math:`L_{abs} = e^{-k_{abs} l}`.

    Parameters
    ----------
    k_abs_per_m : float or torch.Tensor
        Absorption coefficient :math:`k_{abs}(f)` in m⁻¹, non-negative.
    distance_m : float or torch.Tensor
        Path length :math:`l` in metres, non-negative; shapes broadcast.

    Returns
    -------
    torch.Tensor
        Broadcast shape, real in ``(0, 1]``.
    """
    k = _non_negative(k_abs_per_m, "k_abs_per_m")
    ell = _non_negative(distance_m, "distance_m")
    return torch.exp(-k * ell)


def path_gain(
    freq_hz: TensorLike,
    distance_m: TensorLike,
    k_abs_per_m: TensorLike = 0.0,
    *,
    speed_of_light: float = SPEED_OF_LIGHT,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""Complex LOS path gain :math:`\alpha(f, l) = \sqrt{L_{spread}}\,e^{-k_{abs}l/2}\,
    e^{-j2\pi f l/c}` (eqs. 7–9a read as spec §6.12), so that
    :math:`|\alpha|^2 = L_{spread} L_{abs}`.

    Parameters
    ----------
    freq_hz, distance_m, k_abs_per_m : float or torch.Tensor
        As in :func:`spreading_loss` and :func:`absorption_loss`; shapes broadcast.
    speed_of_light : float
        :math:`c` in m/s.
    dtype : torch.dtype, optional
        Complex dtype of the result (default: from the real inputs, ``complex128`` for
        ``float64``). The phase is reduced modulo :math:`2\pi` in float64 before the cast.

    Returns
    -------
    torch.Tensor
        Broadcast shape, complex.
    """
    f = _positive(freq_hz, "freq_hz").to(torch.float64)
    ell = _positive(distance_m, "distance_m")
    out_dtype = dtype if dtype is not None else complex_dtype(ell.dtype)
    ell = ell.to(torch.float64)
    power = spreading_loss(f, ell, speed_of_light=speed_of_light) * absorption_loss(
        _non_negative(k_abs_per_m, "k_abs_per_m").to(torch.float64), ell)
    phase = -2.0 * math.pi * torch.remainder(f * ell / speed_of_light, 1.0)
    return torch.polar(torch.sqrt(power), phase).to(out_dtype)


def fresnel_reflection(
    impedance_ohm: torch.Tensor | complex,
    incidence_rad: TensorLike,
    *,
    z0_ohm: float = FREE_SPACE_IMPEDANCE,
) -> torch.Tensor:
    r"""Fresnel reflection coefficient :math:`\iota` of (10).

    .. math::
        \iota = \frac{Z\cos\varphi_{in} - Z_0\cos\varphi_{ref}}
                     {Z\cos\varphi_{in} + Z_0\cos\varphi_{ref}},\qquad
        \cos\varphi_{ref} = \sqrt{1 - (Z/Z_0)^2\sin^2\varphi_{in}},

    the principal complex square root: beyond the critical angle
    (:math:`(Z/Z_0)\sin\varphi_{in} > 1`, possible for real :math:`Z > Z_0`) the coefficient is
    complex with :math:`|\iota| = 1` (total reflection) instead of the NaN of the printed arcsin.

    Parameters
    ----------
    impedance_ohm : complex or torch.Tensor
        Wave impedance :math:`Z(f)` of the reflecting material in ohms (real or complex).
    incidence_rad : float or torch.Tensor
        Angle of incidence :math:`\varphi_{in}` in radians, in ``[0, π/2]``.
    z0_ohm : float
        Free-space impedance :math:`Z_0` (377 Ω).

    Returns
    -------
    torch.Tensor
        Broadcast shape, complex128 (real-valued below the critical angle for real ``Z``).
    """
    z = torch.as_tensor(impedance_ohm).to(torch.complex128)
    phi = _real(incidence_rad, "incidence_rad").to(torch.float64)
    if bool(((phi < 0) | (phi > math.pi / 2)).any()):
        raise ValueRangeError("incidence_rad must lie in [0, pi/2]")
    if not z0_ohm > 0:
        raise ValueRangeError(f"z0_ohm must be positive, got {z0_ohm}")
    sin_ref = (z / z0_ohm) * torch.sin(phi)
    cos_ref = torch.sqrt(1.0 - sin_ref * sin_ref)
    cos_in = torch.cos(phi)
    return (z * cos_in - z0_ohm * cos_ref) / (z * cos_in + z0_ohm * cos_ref)


def roughness_factor(
    freq_hz: TensorLike,
    roughness_m: TensorLike,
    incidence_rad: TensorLike,
    *,
    speed_of_light: float = SPEED_OF_LIGHT,
) -> torch.Tensor:
    r"""Rayleigh roughness factor (11):
    :math:`\zeta = \exp\big(-\tfrac12(4\pi f\sigma\cos\varphi_{in}/c)^2\big)`.

    Parameters
    ----------
    freq_hz : float or torch.Tensor
        Carrier frequency in Hz.
    roughness_m : float or torch.Tensor
        Surface height standard deviation :math:`\sigma` in metres (≥ 0).
    incidence_rad : float or torch.Tensor
        Angle of incidence in radians.

    Returns
    -------
    torch.Tensor
        Broadcast shape, real in ``(0, 1]``.
    """
    f = _positive(freq_hz, "freq_hz")
    sigma = _non_negative(roughness_m, "roughness_m")
    phi = _real(incidence_rad, "incidence_rad")
    g = 4.0 * math.pi * f * sigma * torch.cos(phi) / speed_of_light
    return torch.exp(-0.5 * g.square())


def reflection_coefficient(
    freq_hz: TensorLike,
    impedance_ohm: torch.Tensor | complex,
    roughness_m: TensorLike,
    incidence_rad: TensorLike,
    *,
    z0_ohm: float = FREE_SPACE_IMPEDANCE,
    speed_of_light: float = SPEED_OF_LIGHT,
) -> torch.Tensor:
    r"""Reflection coefficient :math:`\Gamma = \iota\,\zeta` of a rough surface ((10)·(11));
    :math:`|\Gamma|^2` is the power factor of (9b).

    Returns
    -------
    torch.Tensor
        Broadcast shape, complex128.
    """
    iota = fresnel_reflection(impedance_ohm, incidence_rad, z0_ohm=z0_ohm)
    zeta = roughness_factor(freq_hz, roughness_m, incidence_rad, speed_of_light=speed_of_light)
    return iota * zeta.to(torch.float64)


def rician_channel(
    los_gain: torch.Tensor,
    los_tx: torch.Tensor,
    los_rx: torch.Tensor,
    nlos_gain: torch.Tensor,
    nlos_tx: torch.Tensor,
    nlos_rx: torch.Tensor,
    rician_factor: float,
) -> torch.Tensor:
    r"""Rician link matrix (4) from its rays (deterministic; see :class:`ThzLink` for draws).

    .. math::
        \mathbf H = \sqrt{\tfrac{\gamma}{1+\gamma}}\,\alpha_0\,\mathbf b_0\mathbf a_0^H
          + \sqrt{\tfrac{1}{1+\gamma}}\sum_i \alpha_i\,\mathbf b_i\mathbf a_i^H

    Parameters
    ----------
    los_gain : torch.Tensor
        ``[...]`` complex LOS gain :math:`\alpha_0` (including :math:`G_t G_r`).
    los_tx, los_rx : torch.Tensor
        ``[..., N_tx]`` transmit and ``[..., N_rx]`` receive steering vectors of the LOS ray.
    nlos_gain : torch.Tensor
        ``[..., P]`` complex NLOS gains :math:`\alpha_i` (``P`` may be 0).
    nlos_tx, nlos_rx : torch.Tensor
        ``[..., P, N_tx]`` and ``[..., P, N_rx]`` steering vectors of the NLOS rays.
    rician_factor : float
        :math:`\gamma \ge 0` (linear); ``0`` gives the NLOS part only.

    Returns
    -------
    torch.Tensor
        ``[..., N_rx, N_tx]`` complex.
    """
    if not rician_factor >= 0 or not math.isfinite(rician_factor):
        raise ConfigError(f"rician_factor must be finite and >= 0, got {rician_factor}")
    if nlos_gain.shape[-1:] != nlos_tx.shape[-2:-1] or nlos_tx.shape[-2] != nlos_rx.shape[-2]:
        raise ShapeError(
            f"nlos_gain [..., P] {tuple(nlos_gain.shape)}, nlos_tx [..., P, N_tx] "
            f"{tuple(nlos_tx.shape)} and nlos_rx [..., P, N_rx] {tuple(nlos_rx.shape)} disagree"
        )
    k_los = math.sqrt(rician_factor / (1.0 + rician_factor))
    k_nlos = math.sqrt(1.0 / (1.0 + rician_factor))
    los = (los_gain[..., None, None] * los_rx[..., :, None]) * los_tx.conj()[..., None, :]
    # sum_i alpha_i b_i a_i^H = (b * alpha)^T conj(a): [..., N_rx, P] @ [..., P, N_tx]
    nlos = (nlos_rx * nlos_gain[..., None]).transpose(-2, -1) @ nlos_tx.conj()
    return k_los * los + k_nlos * nlos


class ArraySteering(Protocol):
    """An antenna array seen by a link: steering vectors towards directions or random ones."""

    @property
    def num_elements(self) -> int:  # pragma: no cover - protocol
        ...

    def steer(self, direction: torch.Tensor, *, receive: bool) -> torch.Tensor:
        """Steering vectors ``[..., n]`` (complex128) for unit directions ``[..., 3]``."""
        ...  # pragma: no cover - protocol

    def random_steer(
        self, shape: Sequence[int], *, receive: bool, generator: torch.Generator | None,
        device: torch.device | str,
    ) -> torch.Tensor:
        """Steering vectors ``[*shape, n]`` (complex128) of random directions."""
        ...  # pragma: no cover - protocol


def _check_direction(direction: torch.Tensor) -> torch.Tensor:
    if direction.is_complex() or direction.dim() < 1 or direction.shape[-1] != 3:
        raise ShapeError(
            f"direction must be real unit vectors [..., 3], got {direction.dtype} of shape "
            f"{tuple(direction.shape)}"
        )
    return direction.to(torch.float64)


@dataclass(frozen=True)
class UlaSteering:
    """Uniform linear array along the ``y`` axis, first element at the reference point.

    Attributes
    ----------
    num_antennas : int
        Elements ``M`` (1: a single antenna, steering vector ``[1]``).
    spacing : float
        Element spacing in wavelengths (``d = λ/2``: 0.5; spec §6.1).
    """

    num_antennas: int
    spacing: float = 0.5

    def __post_init__(self) -> None:
        check_count(self.num_antennas, "num_antennas")
        if not self.spacing > 0:
            raise ConfigError(f"spacing must be positive, got {self.spacing}")

    @property
    def num_elements(self) -> int:
        """Number of elements ``M``."""
        return int(self.num_antennas)

    def _vector(self, sin_theta: torch.Tensor, receive: bool) -> torch.Tensor:
        theta = torch.asin(sin_theta.clamp(-1.0, 1.0))
        a = ula(self.num_elements, theta, reference="first", spacing=self.spacing, sign=-1)
        return a.conj() if receive else a

    def steer(self, direction: torch.Tensor, *, receive: bool) -> torch.Tensor:
        r"""``ula(M, θ, reference="first", sign=-1)`` at :math:`\sin\theta = u_y` (transmit) or
        its conjugate (receive), ``[..., M]`` complex128."""
        u = _check_direction(direction)
        return self._vector(u[..., 1], receive)

    def random_steer(
        self, shape: Sequence[int], *, receive: bool, generator: torch.Generator | None,
        device: torch.device | str,
    ) -> torch.Tensor:
        r"""Steering vectors of angles :math:`\theta \sim U[-\pi/2, \pi/2]` from broadside,
        ``[*shape, M]`` complex128."""
        theta = (torch.rand(tuple(shape), generator=generator, dtype=torch.float64,
                            device=device) - 0.5) * math.pi
        return self._vector(torch.sin(theta), receive)


@dataclass(frozen=True)
class UpaSteering:
    """Uniform planar array in the ``x–y`` plane, ``num_x × num_y`` elements, centre reference,
    element ``(p, q)`` at index ``p * num_y + q`` (as :func:`isaclearn.arrays.upa`).

    Attributes
    ----------
    num_x, num_y : int
        Elements along ``x`` and ``y`` (``√E × √E`` for the IRS, spec §6.11).
    spacing : float
        Element spacing in wavelengths.
    """

    num_x: int
    num_y: int
    spacing: float = 0.5

    def __post_init__(self) -> None:
        check_count(self.num_x, "num_x")
        check_count(self.num_y, "num_y")
        if not self.spacing > 0:
            raise ConfigError(f"spacing must be positive, got {self.spacing}")

    @property
    def num_elements(self) -> int:
        """Number of elements ``num_x * num_y``."""
        return int(self.num_x) * int(self.num_y)

    def _vector(self, az: torch.Tensor, el: torch.Tensor, receive: bool) -> torch.Tensor:
        a = upa(self.num_x, self.num_y, az, el, spacing=self.spacing, reference="center",
                sign=-1)
        return a.conj() if receive else a

    def steer(self, direction: torch.Tensor, *, receive: bool) -> torch.Tensor:
        r"""``upa(num_x, num_y, az, el, sign=-1)`` with :math:`\sin(el)\cos(az) = u_x`,
        :math:`\sin(el)\sin(az) = u_y` (transmit) or its conjugate (receive), ``[..., E]``."""
        u = _check_direction(direction)
        az = torch.atan2(u[..., 1], u[..., 0])
        el = torch.atan2(torch.hypot(u[..., 0], u[..., 1]), u[..., 2].abs())
        return self._vector(az, el, receive)

    def random_steer(
        self, shape: Sequence[int], *, receive: bool, generator: torch.Generator | None,
        device: torch.device | str,
    ) -> torch.Tensor:
        r"""Steering vectors of directions with azimuth :math:`U[-\pi, \pi)` and elevation from
        the normal :math:`U[0, \pi/2)`, ``[*shape, E]`` complex128."""
        u = torch.rand((2, *shape), generator=generator, dtype=torch.float64, device=device)
        return self._vector((2.0 * u[0] - 1.0) * math.pi, 0.5 * math.pi * u[1], receive)


@dataclass(frozen=True)
class ThzLink:
    r"""The THz Rician link model (4)/(7)–(9); ``sample`` draws link matrices.

    Attributes
    ----------
    carrier_hz : float
        Carrier :math:`f` in Hz (paper §VI: 0.55 THz).
    k_abs_per_m : float
        Molecular absorption coefficient :math:`k_{abs}(f)` in m⁻¹ (paper §VI: 6.7141e-4).
    rician_factor : float
        :math:`\gamma_{AI}` of (4), linear (not given; chosen 10).
    num_nlos : int
        NLOS rays :math:`n_{NL}` (not given; chosen 2; 0 allowed).
    nlos_reflection_db : float
        :math:`10\log_{10}|\Gamma|^2` of every NLOS ray, dB (not given; chosen −10 dB; use
        :func:`reflection_coefficient` for a known surface).
    gain_tx, gain_rx : float
        Antenna gains :math:`G_t`, :math:`G_r` of (4), amplitude factors (not given; 1).
    nlos_length_factor : tuple of float
        ``(lo, hi)``: NLOS ray length :math:`l_i = s_i l`, :math:`s_i \sim U[lo, hi]`
        (chosen (1, 1.5); ``lo = hi`` gives a fixed length).
    speed_of_light : float
        :math:`c` in m/s.
    """

    carrier_hz: float = 0.55e12
    k_abs_per_m: float = 6.7141e-4
    rician_factor: float = 10.0
    num_nlos: int = 2
    nlos_reflection_db: float = -10.0
    gain_tx: float = 1.0
    gain_rx: float = 1.0
    nlos_length_factor: tuple[float, float] = (1.0, 1.5)
    speed_of_light: float = SPEED_OF_LIGHT

    def __post_init__(self) -> None:
        if not (self.carrier_hz > 0 and math.isfinite(self.carrier_hz)):
            raise ConfigError(f"carrier_hz must be positive, got {self.carrier_hz}")
        if not (self.k_abs_per_m >= 0 and math.isfinite(self.k_abs_per_m)):
            raise ConfigError(f"k_abs_per_m must be >= 0, got {self.k_abs_per_m}")
        if not (self.rician_factor >= 0 and math.isfinite(self.rician_factor)):
            raise ConfigError(f"rician_factor must be >= 0, got {self.rician_factor}")
        if isinstance(self.num_nlos, bool) or int(self.num_nlos) != self.num_nlos or (
                self.num_nlos < 0):
            raise ConfigError(f"num_nlos must be an integer >= 0, got {self.num_nlos}")
        if not math.isfinite(self.nlos_reflection_db):
            raise ConfigError("nlos_reflection_db must be finite")
        if not (self.gain_tx > 0 and self.gain_rx > 0):
            raise ConfigError(f"gain_tx and gain_rx must be positive, got {self.gain_tx}, "
                              f"{self.gain_rx}")
        lo, hi = self.nlos_length_factor
        if not 1.0 <= lo <= hi < math.inf:
            raise ConfigError(
                f"nlos_length_factor must be (lo, hi) with 1 <= lo <= hi, got "
                f"{self.nlos_length_factor}")
        if not self.speed_of_light > 0:
            raise ConfigError(f"speed_of_light must be positive, got {self.speed_of_light}")

    @property
    def wavelength_m(self) -> float:
        """Wavelength :math:`\\lambda = c/f` in metres."""
        return self.speed_of_light / self.carrier_hz

    def mean_entry_power(self, distance_m: TensorLike) -> torch.Tensor:
        r"""Expected power :math:`\mathbb E|H_{ij}|^2` of one entry of a link of LOS length
        ``l`` (unit-modulus steering, so :math:`\mathbb E\|\mathbf H\|_F^2` is this times
        :math:`N_{rx}N_{tx}`):

        .. math::
            G_t^2G_r^2\,\frac{\gamma\,L(l) + n_{NL}|\Gamma|^2\,\mathbb E_s[L(s\,l)]}{1+\gamma},
            \qquad L(l) = L_{spread}(f, l)\,e^{-k_{abs}l},

        with :math:`s \sim U[lo, hi]`; the expectation is a 64-point Gauss–Legendre rule
        (exact to rounding for these smooth integrands). Cross terms vanish because the ray
        phases are independent and uniform.

        Returns
        -------
        torch.Tensor
            Shape of ``distance_m``, float64.
        """
        ell = _positive(distance_m, "distance_m").to(torch.float64)
        f = self.carrier_hz

        def loss(x: torch.Tensor) -> torch.Tensor:
            return spreading_loss(f, x, speed_of_light=self.speed_of_light) * absorption_loss(
                self.k_abs_per_m, x)

        lo, hi = self.nlos_length_factor
        if lo == hi:
            e_nlos = loss(lo * ell)
        else:
            nodes, weights = np.polynomial.legendre.leggauss(64)
            s = torch.as_tensor(lo + (hi - lo) * (nodes + 1.0) / 2.0, dtype=torch.float64)
            wts = torch.as_tensor(weights / 2.0, dtype=torch.float64)
            e_nlos = (loss(s * ell[..., None]) * wts).sum(-1)
        gamma = self.rician_factor
        gamma2 = 10.0 ** (self.nlos_reflection_db / 10.0)
        g2 = (self.gain_tx * self.gain_rx) ** 2
        return g2 * (gamma * loss(ell) + self.num_nlos * gamma2 * e_nlos) / (1.0 + gamma)

    def sample(
        self,
        distance_m: torch.Tensor,
        tx: ArraySteering,
        rx: ArraySteering,
        tx_direction: torch.Tensor,
        rx_direction: torch.Tensor,
        *,
        generator: torch.Generator | None,
        dtype: torch.dtype = torch.complex64,
    ) -> torch.Tensor:
        r"""Draw link matrices (4) for LOS lengths and directions given by a geometry.

        Parameters
        ----------
        distance_m : torch.Tensor
            ``[...]`` LOS path lengths :math:`l` in metres, positive.
        tx, rx : ArraySteering
            Transmit and receive arrays (:class:`UlaSteering`, :class:`UpaSteering`).
        tx_direction : torch.Tensor
            ``[..., 3]`` unit vectors from the transmitter towards the receiver (LOS AoD).
        rx_direction : torch.Tensor
            ``[..., 3]`` unit vectors from the receiver towards the transmitter (LOS AoA).
        generator : torch.Generator or None
            Source of the NLOS draws (directions, lengths, reflection phases), in this order.
        dtype : torch.dtype
            ``complex64`` or ``complex128`` of the result (the draws are made in float64).

        Returns
        -------
        torch.Tensor
            ``[..., N_rx, N_tx]`` complex, on ``distance_m``'s device.
        """
        dist = _positive(distance_m, "distance_m").to(torch.float64)
        device = dist.device
        shape = tuple(dist.shape)
        for name, d in (("tx_direction", tx_direction), ("rx_direction", rx_direction)):
            if tuple(d.shape) != (*shape, 3):
                raise ShapeError(f"{name} must have shape [..., 3] = {(*shape, 3)}, got "
                                 f"{tuple(d.shape)}")
        g = self.gain_tx * self.gain_rx
        cdt = torch.complex128
        a0 = tx.steer(tx_direction.to(device), receive=False)
        b0 = rx.steer(rx_direction.to(device), receive=True)
        alpha0 = g * path_gain(self.carrier_hz, dist, self.k_abs_per_m,
                               speed_of_light=self.speed_of_light, dtype=cdt)
        p = int(self.num_nlos)
        ai = tx.random_steer((*shape, p), receive=False, generator=generator, device=device)
        bi = rx.random_steer((*shape, p), receive=True, generator=generator, device=device)
        lo, hi = self.nlos_length_factor
        s = lo + (hi - lo) * torch.rand((*shape, p), generator=generator, dtype=torch.float64,
                                        device=device)
        refl = torch.rand((*shape, p), generator=generator, dtype=torch.float64, device=device)
        gamma_amp = 10.0 ** (self.nlos_reflection_db / 20.0)
        alpha_i = (g * gamma_amp) * path_gain(
            self.carrier_hz, s * dist[..., None], self.k_abs_per_m,
            speed_of_light=self.speed_of_light, dtype=cdt,
        ) * torch.polar(torch.ones_like(refl), 2.0 * math.pi * refl)
        h = rician_channel(alpha0, a0, b0, alpha_i, ai, bi, self.rician_factor)
        return h.to(dtype if dtype.is_complex else complex_dtype(dtype))


def unit_vectors(src: torch.Tensor, dst: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances ``[...]`` and unit vectors ``[..., 3]`` from points ``src`` to ``dst``
    (``[..., 3]`` each, broadcast), float64."""
    d = (dst - src).to(torch.float64)
    dist = torch.linalg.vector_norm(d, dim=-1)
    if not bool((dist > 0).all()):
        raise ValueRangeError("two link ends coincide (zero distance)")
    return dist, d / dist[..., None]

