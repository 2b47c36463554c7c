r"""Planar vehicle and target mobility of yang_som (``shared/papers/000_e47146536a3e5322.txt``,
Sec. V-D, eq. 41).

Geometry
--------
The BS ULA lies along the ``x`` axis at the origin; broadside is ``+y``. A point at polar
position :math:`(\theta, d)` (angle from broadside in radians, positive towards ``+x``, distance
in metres) sits at

.. math:: \mathbf p = d\,[\sin\theta, \cos\theta],

the convention of the steering vector :math:`[\mathbf a_t(\theta)]_i = N_t^{-1/2}
e^{-j i\pi\sin\theta}` (0-based ``i``). A velocity has a speed :math:`|\mathbf v|` (m/s) and a
heading :math:`\angle\mathbf v` in the *same* polar convention:
:math:`\mathbf v = |\mathbf v|\,[\sin\angle\mathbf v, \cos\angle\mathbf v]`. A heading of
:math:`\pi/2` runs along the array axis (``+x``), which is the road axis by default.

Kinematics
----------
Within a frame velocities are constant and a subframe of duration :math:`\Delta T` moves every
object by :math:`\mathbf p' = \mathbf p + \mathbf v\Delta T`. This Cartesian step is what
:func:`step` computes; it satisfies the paper's polar relations (41)

.. math::
    \sin(\theta' - \theta) = |\mathbf v|\Delta T \sin(\theta - \angle\mathbf v + \pi)/d', \qquad
    d'^2 - d^2 = (|\mathbf v|\Delta T)^2 - 2 d|\mathbf v|\Delta T\cos(\theta-\angle\mathbf v+\pi),

exactly (tests check both on random draws to ``1e-12``). The polar form alone does not fix
:math:`\theta'` (``arcsin`` is two-valued), the Cartesian form does.

Notes
-----
* The paper gives no initial positions or headings. Defaults (spec §1, all fields of
  :class:`MobilityConfig`): :math:`\theta \sim U(-60°, 60°)`, :math:`d \sim U(20, 150)` m,
  heading = road axis + :math:`U(-10°, 10°)`, speed :math:`U[10, 30]` m/s (or one fixed speed,
  Figs. 10/13), straight lines (no yaw rate).
* The target moves by the same law ("a unidirectional curve with an orientation offset").
* The Doppler of (3)/(42) uses :math:`\sin\theta` (velocity perpendicular to broadside, spec
  §6.4); :func:`radial_speed` gives the general :math:`|\mathbf v|\cos(\theta - \angle\mathbf v)`,
  which equals :math:`|\mathbf v|\sin\theta` for a heading of :math:`\pi/2`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from isaclearn.core.errors import ConfigError, ShapeError

__all__ = [
    "MobilityConfig",
    "cartesian_to_polar",
    "polar_to_cartesian",
    "radial_speed",
    "sample_motion",
    "step",
    "trajectory",
    "velocity_vector",
]


def polar_to_cartesian(theta_rad: torch.Tensor, distance_m: torch.Tensor) -> torch.Tensor:
    r"""Cartesian position :math:`d[\sin\theta, \cos\theta]` of polar points.

    Parameters
    ----------
    theta_rad : torch.Tensor
        ``[...]`` angle from broadside (radians, positive towards ``+x``).
    distance_m : torch.Tensor
        ``[...]`` distance (metres), broadcastable against ``theta_rad``.

    Returns
    -------
    torch.Tensor
        ``[..., 2]`` ``(x, y)`` in metres (``x`` along the array axis, ``y`` broadside).

    Examples
    --------
    >>> import torch
    >>> polar_to_cartesian(torch.tensor(0.0), torch.tensor(10.0))
    tensor([ 0., 10.])
    """
    return torch.stack(torch.broadcast_tensors(distance_m * torch.sin(theta_rad),
                                               distance_m * torch.cos(theta_rad)), dim=-1)


def cartesian_to_polar(xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Inverse of :func:`polar_to_cartesian`: :math:`\theta = \operatorname{atan2}(x, y)`,
    :math:`d = \|\mathbf p\|`.

    Parameters
    ----------
    xy : torch.Tensor
        ``[..., 2]`` positions in metres.

    Returns
    -------
    theta_rad, distance_m : torch.Tensor
        ``[...]`` each; ``theta_rad`` in ``(-π, π]``.
    """
    if xy.dim() < 1 or xy.shape[-1] != 2:
        raise ShapeError(f"xy must have shape [..., 2], got shape {tuple(xy.shape)}")
    x, y = xy[..., 0], xy[..., 1]
    return torch.atan2(x, y), torch.hypot(x, y)


def velocity_vector(speed_mps: torch.Tensor, heading_rad: torch.Tensor) -> torch.Tensor:
    r"""Velocity :math:`|\mathbf v|[\sin\angle\mathbf v, \cos\angle\mathbf v]`, ``[..., 2]`` m/s."""
    return polar_to_cartesian(heading_rad, speed_mps)


def radial_speed(theta_rad: torch.Tensor, speed_mps: torch.Tensor,
                 heading_rad: torch.Tensor) -> torch.Tensor:
    r"""Radial (range-rate) speed :math:`|\mathbf v|\cos(\theta - \angle\mathbf v)`, m/s,
    positive when the object moves away from the BS."""
    return speed_mps * torch.cos(theta_rad - heading_rad)


def step(
    theta_rad: torch.Tensor,
    distance_m: torch.Tensor,
    speed_mps: torch.Tensor,
    heading_rad: torch.Tensor,
    dt_s: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One subframe of straight-line motion, the Cartesian form of eq. (41).

    Parameters
    ----------
    theta_rad, distance_m : torch.Tensor
        ``[...]`` current polar position (radians from broadside, metres).
    speed_mps, heading_rad : torch.Tensor
        ``[...]`` speed (m/s) and heading (radians, same polar convention), broadcastable.
    dt_s : float or torch.Tensor
        Step :math:`\Delta T` in seconds (the subframe duration), a scalar or ``[...]``.

    Returns
    -------
    theta_rad, distance_m : torch.Tensor
        ``[...]`` the position after :math:`\Delta T`.

    Examples
    --------
    >>> import math, torch
    >>> th, d = step(torch.tensor(0.0), torch.tensor(10.0), torch.tensor(10.0),
    ...              torch.tensor(math.pi / 2), 1.0)
    >>> round(float(th), 6), round(float(d), 6)
    (0.785398, 14.142136)
    """
    dt = torch.as_tensor(dt_s, dtype=theta_rad.dtype, device=theta_rad.device)
    p = polar_to_cartesian(theta_rad, distance_m) + velocity_vector(speed_mps, heading_rad) * dt[
        ..., None]
    return cartesian_to_polar(p)


@dataclass(frozen=True)
class MobilityConfig:
    """Initial positions and velocities of the vehicles and the target (spec §1 defaults)."""

    theta_range_deg: tuple[float, float] = (-60.0, 60.0)
    """Initial angle from broadside, uniform (degrees)."""
    distance_range_m: tuple[float, float] = (20.0, 150.0)
    """Initial distance, uniform (metres); ``d_max = 150`` m (Table II)."""
    speed_range_mps: tuple[float, float] = (10.0, 30.0)
    """Speed, uniform (m/s); equal bounds give a fixed speed (Figs. 10/13)."""
    road_axis_deg: float = 90.0
    """Road direction in the polar convention (90° = along the array axis, ``+x``)."""
    heading_spread_deg: float = 10.0
    """Heading = road axis + U(-spread, spread) (degrees)."""
    two_way: bool = False
    """If True, each object drives along or against the road axis with probability 1/2."""

    def __post_init__(self) -> None:
        for name in ("theta_range_deg", "distance_range_m", "speed_range_mps"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ConfigError(f"{name} must be a finite (low, high) with low <= high, "
                                  f"got {(lo, hi)}")
        if self.distance_range_m[0] <= 0:
            raise ConfigError(f"distance_range_m must be positive, got {self.distance_range_m}")
        if self.speed_range_mps[0] < 0:
            raise ConfigError(f"speed_range_mps must be >= 0, got {self.speed_range_mps}")
        if not (0.0 <= self.heading_spread_deg <= 180.0):
            raise ConfigError(f"heading_spread_deg must be in [0, 180], got "
                              f"{self.heading_spread_deg}")


def _uniform(lo: float, hi: float, shape: tuple[int, ...], generator: torch.Generator | None,
             dtype: torch.dtype, device: torch.device | str | None) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    return lo + (hi - lo) * u


def sample_motion(
    config: MobilityConfig,
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw initial ``(theta_rad, distance_m, speed_mps, heading_rad)``, each of ``shape``.

    The draws happen in this order (angle, distance, speed, heading, direction), so a seed fixes
    them all. ``dtype`` is real (float64 by default: positions are small differences of large
    numbers over a frame).
    """
    if device is None and generator is not None:
        device = generator.device
    deg = math.pi / 180.0
    th = _uniform(config.theta_range_deg[0] * deg, config.theta_range_deg[1] * deg, shape,
                  generator, dtype, device)
    d = _uniform(*config.distance_range_m, shape, generator, dtype, device)
    v = _uniform(*config.speed_range_mps, shape, generator, dtype, device)
    spread = config.heading_spread_deg * deg
    hd = config.road_axis_deg * deg + _uniform(-spread, spread, shape, generator, dtype, device)
    if config.two_way:
        flip = torch.rand(shape, generator=generator, dtype=dtype, device=device) < 0.5
        hd = torch.where(flip, hd + math.pi, hd)
    return th, d, v, hd


def trajectory(
    theta_rad: torch.Tensor,
    distance_m: torch.Tensor,
    speed_mps: torch.Tensor,
    heading_rad: torch.Tensor,
    *,
    num_steps: int,
    dt_s: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Positions at ``n = 0 .. num_steps - 1`` under constant velocity (eq. 41 iterated).

    Computed in closed form :math:`\mathbf p_n = \mathbf p_0 + n\Delta T\,\mathbf v` (equal to
    ``num_steps - 1`` calls of :func:`step` up to rounding), vectorized over time.

    Parameters
    ----------
    theta_rad, distance_m, speed_mps, heading_rad : torch.Tensor
        ``[...]`` initial position and constant velocity.
    num_steps : int
        ``T`` (number of subframes).
    dt_s : float
        Subframe duration in seconds.

    Returns
    -------
    theta_rad, distance_m : torch.Tensor
        ``[..., T]`` each.
    """
    if isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 1:
        raise ConfigError(f"num_steps must be an integer >= 1, got {num_steps!r}")
    p0 = polar_to_cartesian(theta_rad, distance_m)  # [..., 2]
    v = velocity_vector(speed_mps, heading_rad)
    n = torch.arange(int(num_steps), dtype=p0.dtype, device=p0.device) * dt_s  # [T]
    p = p0[..., None, :] + n[:, None] * v[..., None, :]  # [..., T, 2]
    return cartesian_to_polar(p)
