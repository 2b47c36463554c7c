r"""The two-RSU highway scene of ding_dt (``shared/papers/004_c28dc1e34dc31f1a.txt``, Secs. II–III).

Scene
-----
Two road-side units (RSUs, ``I = 2``) at :math:`\mathbf p_1 = (0, 30)` m and
:math:`\mathbf p_2 = (0, -30)` m watch a straight highway segment ``x ∈ [-L, L]`` (``L = 30`` m)
centred on ``y = 0``. Each RSU has an ``N_t``-element transmit and an ``N_r``-element receive
half-wavelength ULA along the road (``x``). Vehicles drive on one lane per direction
(:attr:`HighwayConfig.lane_y_m`); by default traffic keeps right: vehicles moving towards ``+x``
use the lane at ``y = -2.5`` m, vehicles moving towards ``-x`` the lane at ``y = +2.5`` m.

Traffic (spec §1 "Traffic", §6.10, §6.12) is held in :class:`Traffic`, ``[B, K]`` tensors padded
with a boolean ``mask``:

* :func:`sample_poisson_traffic`: Poisson arrivals per direction (exponential inter-arrival
  times), speeds drawn per vehicle from a normal law truncated below at
  :attr:`HighwayConfig.speed_min_mps` and held constant; the road starts empty; a vehicle is on
  the segment from its arrival at the entry end until it passes the exit end.
* :func:`constant_traffic`: ``K`` vehicles placed uniformly on the segment; a vehicle leaving at
  one end re-enters at the other end in the same lane (spec §6.12), so the count stays ``K``.

State and kinematics
--------------------
The state of vehicle ``k`` relative to RSU ``i`` is :math:`\mathbf x = [\varphi, d, \dot v]^T`:

* :math:`\varphi = (x_k - x_i)/d` is the direction cosine to the ``+x`` axis (the array axis),
* :math:`d = \|\mathbf p_k - \mathbf p_i\|` the distance in metres,
* :math:`\dot v = -\mathrm d d/\mathrm dt` the *closing* radial speed in m/s (``> 0`` while the
  vehicle approaches the RSU).

For a vehicle with velocity :math:`v_x` along the road,
:math:`\dot v = -(x_k - x_i)\,v_x/d = -\varphi\,v_x`. Eq. (19) keeps
:math:`v = \dot v/\varphi` constant, so

.. math:: v = \dot v/\varphi = -v_x ,

the signed speed along :math:`-x`: ``v = -speed`` for traffic moving towards ``+x`` and
``v = +speed`` for traffic moving towards ``-x``, whatever the RSU (the same ``v`` holds for both
RSUs, so a speed stored by the digital twin survives a handover). With :math:`u = d\varphi - vT`
(the new ``x``-offset from the RSU) eq. (19) reads

.. math::
    d_n = \sqrt{d^2 + v^2T^2 - 2 d\dot v T},\qquad \varphi_n = u/d_n,\qquad \dot v_n = v\varphi_n,

which is exact straight-line motion at constant velocity :math:`v_x = -v` (tests compare it to
Cartesian motion to ``1e-12``). :func:`transition` evaluates it with
:math:`d^2 - 2d\dot vT` written as :math:`d^2 - 2d\varphi vT` (identical whenever
:math:`v = \dot v/\varphi`), i.e. :math:`d_n^2 = u^2 + d^2(1-\varphi^2)`, a sum of squares that
stays valid when ``v`` is the stored speed of the φ = 0 guard.

**φ = 0 guard** (spec §3). Both RSUs sit at ``x = 0``, so every track crosses
:math:`\varphi = 0`, where :math:`v = \dot v/\varphi` is ``0/0``. When :math:`|\varphi|` is
below ``phi_guard`` (default ``1e-3``) the speed comes from ``prev_speed``, the speed the digital
twin stored at the previous slot (:func:`kinematic_speed` gives the speed to store).

**Handover.** :func:`state_to_cartesian` and :func:`cartesian_to_state` convert a state between
RSUs through Cartesian ``(x, y, v_x)``; the side of the road relative to the RSU
(:attr:`HighwayConfig.vehicle_side`) gives the sign of :math:`y_k - y_i`. :func:`handover`
propagates a covariance through the Jacobian of the conversion (``torch.func`` forward mode).

Measurement model (eqs. 12–17)
------------------------------
For a beam :math:`\mathbf f` (``[..., N_t]``) the noiseless measurement is

.. math::
    \tilde{\mathbf r} = \kappa\beta G\,\mathbf b(\varphi)\mathbf a^H(\varphi)\mathbf f,\qquad
    \tilde\nu = 2d/c,\qquad \tilde\mu = 2\dot v f_c/c,

with :math:`\kappa = \sqrt{N_tN_r}`, :math:`\beta = \varrho/(2d)` and the steering vectors of
eqs. (4)/(5) (first-element reference, phase sign ``-``, unit norm; identical to
:func:`isaclearn.arrays.ula_u`). It is returned as a *real* vector of size ``2N_r + 2``:
``[Re r̃ (N_r), Im r̃ (N_r), ν̃, μ̃]``. The noise variances (15)–(17) are
:math:`\sigma_r^2/2` per real and imaginary part, :math:`\sigma_r^2 = \rho_r^2\sigma_e^2/G`, and
:math:`\sigma_{\nu,\mu}^2 = \rho_{\nu,\mu}^2\sigma_e^2/(G\kappa^2|\beta|^2|\eta|^2)` with the
beamforming gain :math:`\eta = \mathbf a^H(\varphi)\mathbf f`; where :math:`\eta = 0` they are
infinite (no information), and :func:`sample_measurement` returns NaN there.

Eq. (22) treats β as known (:math:`\partial\tilde{\mathbf r}/\partial d = 0`): pass ``beta``
(e.g. :func:`reflection_coefficient` of the predicted distance) or ``beta_from`` (that distance,
real, convenient as a ``vmap``-ped argument) to :func:`measurement_mean`, and a Jacobian taken
with ``torch.func.jacfwd`` reproduces (22).

Communication (eqs. 8–10)
-------------------------
:func:`comm_channel` gives the row :math:`\mathbf h = \kappa'\sqrt{\tilde\alpha/d^2}\,
\mathbf a^H(\varphi)` (:math:`\kappa' = \sqrt{N_t}`), so that
:math:`|\mathbf h\mathbf f_k|^2 = \kappa'^2|\alpha||\mathbf a^H\mathbf f_k|^2` and
:func:`isaclearn.metrics.comm.sinr` with these rows and the serving RSU's masked beams
:math:`\mathbf F_i` is eq. (10). The transmit power is carried by the beams,
:math:`\|\mathbf f\|^2 \le P` (:attr:`HighwayConfig.power_db`, spec §6.1).

All kinematic and measurement functions are batched over leading dimensions ``[...]``, use no
data-dependent Python branching (``torch.where`` only) and work under ``torch.func.jacfwd`` and
``torch.func.vmap``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from isaclearn.arrays.ula import ula_u
from isaclearn.channels.rician import SPEED_OF_LIGHT
from isaclearn.core.checks import check_count, check_last_dims
from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.core.units import db_to_lin

SPEED_OF_LIGHT_MPS = SPEED_OF_LIGHT
"""Speed of light ``c`` in m/s (exact SI value), used by eqs. (13)/(14)."""

__all__ = [
    "SPEED_OF_LIGHT_MPS",
    "HighwayConfig",
    "Traffic",
    "cartesian_to_state",
    "comm_channel",
    "constant_traffic",
    "convert_state",
    "handover",
    "kinematic_speed",
    "lap_index",
    "measurement_mean",
    "measurement_noise_var",
    "positions",
    "reflection_coefficient",
    "sample_measurement",
    "sample_poisson_traffic",
    "split_measurement",
    "state_to_cartesian",
    "states_at",
    "steering",
    "transition",
]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _bad(name: str, what: str, value: Any) -> ConfigError:
    return ConfigError(f"HighwayConfig.{name} must be {what}, got {value!r}")


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad(name, "a real number", value)
    out = float(value)
    if not math.isfinite(out):
        raise _bad(name, "finite", value)
    return out


@dataclass(frozen=True)
class HighwayConfig:
    """Parameters of the ding_dt highway scene (paper Table I and spec §1 defaults).

    All fields are validated on construction; a bad value raises :class:`ConfigError` naming the
    field. Sequences (e.g. from JSON) are stored as tuples.

    Attributes
    ----------
    rsu_positions_m : tuple of (float, float)
        RSU positions :math:`(x_i, y_i)` in metres, ``I`` entries; default ``((0, 30), (0, -30))``
        (Table I). Each RSU must lie strictly on one side of every lane.
    half_length_m : float
        Half length ``L`` of the segment ``x ∈ [-L, L]`` in metres (default 30: the 60 m segment
        implied by Little's law, spec §1).
    lane_y_m : (float, float)
        ``y`` of the lane of the ``+x`` direction and of the ``-x`` direction, in metres. Default
        ``(-2.5, 2.5)``: one lane per direction at ``±2.5`` m (spec §1), traffic keeping right
        (a vehicle heading ``+x`` has ``-y`` on its right).
    speed_mean_mps : float
        Mean vehicle speed in m/s (Table I: 30).
    speed_std_mps : float
        Standard deviation of the vehicle speed in m/s (not in the paper; spec default 2). Zero
        gives every vehicle the mean speed.
    speed_min_mps : float
        Speeds are drawn from the normal law truncated below at this value (m/s, default 1), so
        every vehicle moves forward; ``0 < speed_min_mps < speed_mean_mps``.
    slot_s : float
        Slot duration ``T`` in seconds (Table I: 0.02).
    num_tx, num_rx : int
        Transmit and receive antennas ``N_t``, ``N_r`` per RSU (default 32 each).
    carrier_hz : float
        Carrier frequency :math:`f_c` in Hz (Table I: 30 GHz).
    fading : complex
        Complex fading coefficient :math:`\\varrho` of the reflection coefficient
        :math:`\\beta = \\varrho/(2d)` (Table I: ``10+10j``); a pair ``(re, im)`` (e.g. from
        JSON) is accepted and stored as ``complex``.
    alpha_tilde_db : float
        Channel power gain :math:`\\tilde\\alpha` at the reference distance 1 m, in dB (eq. 9;
        Table I: -70).
    sensing_noise_db : float
        Echo noise variance per receive element :math:`\\sigma_e^2` in dB (Table I: -70).
    comm_noise_db : float
        Communication noise variance :math:`\\sigma_c^2` in dB (Table I: -70).
    mf_gain : float
        Matched-filter gain ``G`` (eq. 12; Table I: 10).
    rho_r, rho_nu, rho_mu : float
        Constants :math:`\\rho_r, \\rho_\\nu, \\rho_\\mu` of eqs. (15)–(17) (Table I: 1, 6.7e-7,
        2e4).
    power_db : float
        Per-beam transmit power ``P`` in dB, :math:`\\|\\mathbf f\\|^2 \\le P` (spec §6.1: the paper
        omits the transmit power and writes :math:`\\|\\mathbf f\\| \\le 1`, i.e. the default 0 dB;
        the ``paper`` profile of the system uses 40 dB, and the experiments sweep it).
    process_std_phi, process_std_d_m, process_std_v_mps : float
        Standard deviations :math:`\\sigma_\\varphi, \\sigma_d, \\sigma_v` of the process noise
        :math:`\\epsilon_x` of eq. (18), ``E = diag(σ_φ², σ_d², σ_v²)`` (not in the paper; spec
        defaults 1e-3, 0.02 m, 0.05 m/s). Non-negative.
    init_std_phi, init_std_d_m, init_std_v_mps : float
        Standard deviations of the track-start error, :math:`\\tilde{\\mathbf M}_0 =
        \\mathrm{diag}(\\sigma_{\\varphi 0}^2, 0.1^2, \\sigma_{v0}^2)` (spec §6.10; 0.1 m is the
        initial RCRB of Fig. 11). Our choices for the two the paper does not give:
        ``σ_φ0 = 5e-3`` (the angle error of a 0.1 m position error at about 20–30 m, a tenth of
        the 32-element beam width in φ) and ``σ_v0 = 0.5`` m/s (a coarse first Doppler
        estimate, a quarter of the speed spread). Positive (the information form needs
        :math:`\\tilde{\\mathbf M}_0^{-1}`).
    phi_guard : float
        Threshold on :math:`|\\varphi|` below which eq. (19) uses the stored speed instead of
        :math:`\\dot v/\\varphi` (spec §3, default 1e-3); ``0 < phi_guard < 1``.

    Examples
    --------
    >>> cfg = HighwayConfig()
    >>> cfg.num_rsus, cfg.segment_length_m, cfg.vehicle_side
    (2, 60.0, (-1.0, 1.0))
    >>> HighwayConfig(num_tx=0)
    Traceback (most recent call last):
    ...
    isaclearn.core.errors.ConfigError: HighwayConfig.num_tx must be an integer >= 1, got 0
    """

    rsu_positions_m: tuple[tuple[float, float], ...] = ((0.0, 30.0), (0.0, -30.0))
    half_length_m: float = 30.0
    lane_y_m: tuple[float, float] = (-2.5, 2.5)
    speed_mean_mps: float = 30.0
    speed_std_mps: float = 2.0
    speed_min_mps: float = 1.0
    slot_s: float = 0.02
    num_tx: int = 32
    num_rx: int = 32
    carrier_hz: float = 30e9
    fading: complex = 10 + 10j
    alpha_tilde_db: float = -70.0
    sensing_noise_db: float = -70.0
    comm_noise_db: float = -70.0
    mf_gain: float = 10.0
    rho_r: float = 1.0
    rho_nu: float = 6.7e-7
    rho_mu: float = 2e4
    power_db: float = 0.0
    process_std_phi: float = 1e-3
    process_std_d_m: float = 0.02
    process_std_v_mps: float = 0.05
    init_std_phi: float = 5e-3
    init_std_d_m: float = 0.1
    init_std_v_mps: float = 0.5
    phi_guard: float = 1e-3

    def __post_init__(self) -> None:
        # RSU positions: a non-empty sequence of (x, y) pairs, stored as tuples of floats.
        try:
            rsus = tuple((_real("rsu_positions_m", p[0]), _real("rsu_positions_m", p[1]))
                         for p in self.rsu_positions_m if len(p) == 2)
            ok = len(rsus) == len(self.rsu_positions_m) >= 1
        except (TypeError, IndexError):
            ok = False
        if not ok:
            raise _bad("rsu_positions_m", "a non-empty sequence of (x, y) pairs",
                       self.rsu_positions_m)
        object.__setattr__(self, "rsu_positions_m", rsus)
        try:
            lanes = tuple(_real("lane_y_m", y) for y in self.lane_y_m)
        except TypeError:
            lanes = ()
        if len(lanes) != 2:
            raise _bad("lane_y_m", "a pair (y of the +x lane, y of the -x lane)", self.lane_y_m)
        object.__setattr__(self, "lane_y_m", lanes)
        for _, yi in rsus:
            sides = {math.copysign(1.0, y - yi) if y != yi else 0.0 for y in lanes}
            if len(sides) != 1 or 0.0 in sides:
                raise _bad("rsu_positions_m", "strictly on one side of both lanes "
                           f"(lane_y_m={lanes})", self.rsu_positions_m)

        for name in ("num_tx", "num_rx"):
            try:
                check_count(getattr(self, name), name)
            except ConfigError:
                raise _bad(name, "an integer >= 1", getattr(self, name)) from None
            object.__setattr__(self, name, int(getattr(self, name)))

        positive = ("half_length_m", "speed_mean_mps", "speed_min_mps", "slot_s", "carrier_hz",
                    "mf_gain", "rho_r", "rho_nu", "rho_mu", "init_std_phi", "init_std_d_m",
                    "init_std_v_mps")
        non_negative = ("speed_std_mps", "process_std_phi", "process_std_d_m",
                        "process_std_v_mps")
        finite = ("alpha_tilde_db", "sensing_noise_db", "comm_noise_db", "power_db")
        for name in positive + non_negative + finite:
            value = _real(name, getattr(self, name))
            if name in positive and not value > 0:
                raise _bad(name, "positive", getattr(self, name))
            if name in non_negative and not value >= 0:
                raise _bad(name, ">= 0", getattr(self, name))
            object.__setattr__(self, name, value)
        if not self.speed_min_mps < self.speed_mean_mps:
            raise _bad("speed_min_mps", f"below speed_mean_mps={self.speed_mean_mps}",
                       self.speed_min_mps)
        guard = _real("phi_guard", self.phi_guard)
        if not 0.0 < guard < 1.0:
            raise _bad("phi_guard", "in (0, 1)", self.phi_guard)
        object.__setattr__(self, "phi_guard", guard)
        fading: Any = self.fading
        if isinstance(fading, list | tuple) and len(fading) == 2:  # (re, im), e.g. from JSON
            fading = complex(_real("fading", fading[0]), _real("fading", fading[1]))
        if isinstance(fading, bool) or not isinstance(fading, numbers.Complex):
            raise _bad("fading", "a complex number or a pair (re, im)", self.fading)
        rho = complex(fading)
        if not (math.isfinite(rho.real) and math.isfinite(rho.imag)) or rho == 0:
            raise _bad("fading", "finite and non-zero", self.fading)
        object.__setattr__(self, "fading", rho)

    # ---- geometry ----------------------------------------------------------------------------

    @property
    def num_rsus(self) -> int:
        """Number of RSUs ``I``."""
        return len(self.rsu_positions_m)

    @property
    def segment_length_m(self) -> float:
        """Length ``2L`` of the segment in metres."""
        return 2.0 * self.half_length_m

    @property
    def vehicle_side(self) -> tuple[float, ...]:
        """Per RSU, the sign of :math:`y_k - y_i` for every vehicle on the road (``-1`` for an
        RSU above the road, ``+1`` below): the ``y_sign`` of :func:`state_to_cartesian`."""
        return tuple(math.copysign(1.0, self.lane_y_m[0] - yi) for _, yi in self.rsu_positions_m)

    def rsu_xy(self, dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> torch.Tensor:
        """RSU positions as a ``[I, 2]`` real tensor in metres."""
        return torch.tensor(self.rsu_positions_m, dtype=dtype, device=device)

    # ---- linear values of the dB parameters and derived constants ----------------------------

    @property
    def power(self) -> float:
        """Per-beam power budget ``P`` (linear), :math:`\\|\\mathbf f\\|^2 \\le P`."""
        return db_to_lin(self.power_db)

    @property
    def alpha_tilde(self) -> float:
        """:math:`\\tilde\\alpha` (linear power gain at 1 m, eq. 9)."""
        return db_to_lin(self.alpha_tilde_db)

    @property
    def sensing_noise_var(self) -> float:
        """:math:`\\sigma_e^2` (linear)."""
        return db_to_lin(self.sensing_noise_db)

    @property
    def comm_noise_var(self) -> float:
        """:math:`\\sigma_c^2` (linear), the noise of eq. (10)."""
        return db_to_lin(self.comm_noise_db)

    @property
    def kappa(self) -> float:
        """Radar antenna gain :math:`\\kappa = \\sqrt{N_tN_r}` (eq. 3)."""
        return math.sqrt(self.num_tx * self.num_rx)

    @property
    def kappa_comm(self) -> float:
        """Transmit antenna gain :math:`\\kappa' = \\sqrt{N_t}` (eq. 8)."""
        return math.sqrt(self.num_tx)

    @property
    def echo_noise_var(self) -> float:
        """:math:`\\sigma_r^2 = \\rho_r^2\\sigma_e^2/G` (eq. 15), the variance of each complex
        entry of the matched-filter noise :math:`\\tilde{\\mathbf z}`."""
        return self.rho_r**2 * self.sensing_noise_var / self.mf_gain

    def process_noise_cov(self, dtype: torch.dtype = torch.float64,
                          device: torch.device | str | None = None) -> torch.Tensor:
        """Process-noise covariance ``E = diag(σ_φ², σ_d², σ_v²)`` of eq. (18), ``[3, 3]``."""
        std = torch.tensor([self.process_std_phi, self.process_std_d_m, self.process_std_v_mps],
                           dtype=dtype, device=device)
        return torch.diag(std**2)

    def initial_cov(self, dtype: torch.dtype = torch.float64,
                    device: torch.device | str | None = None) -> torch.Tensor:
        """Track-start covariance ``M̃₀ = diag(σ_φ0², σ_d0², σ_v0²)`` (spec §6.10), ``[3, 3]``."""
        std = torch.tensor([self.init_std_phi, self.init_std_d_m, self.init_std_v_mps],
                           dtype=dtype, device=device)
        return torch.diag(std**2)


# --------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------


@dataclass
class Traffic(BatchedProblem):
    """A batch of vehicle populations, ``[B, K]`` tensors padded with ``mask``.

    ``batch_size``, ``subset``, ``to`` and ``cat`` come from
    :class:`~isaclearn.core.problem.BatchedProblem` (``cat`` needs equal ``K``).

    Attributes
    ----------
    arrival_s : torch.Tensor
        ``[B, K]`` real, the time in seconds at which the vehicle enters the segment at its entry
        end (``x = -L`` for direction ``+1``, ``x = +L`` for ``-1``). For
        :func:`constant_traffic` it is ``≤ 0`` (the vehicle was already on the road at
        ``t = 0``). Padded entries hold ``+inf``.
    direction : torch.Tensor
        ``[B, K]`` real, ``+1.0`` (moving towards ``+x``) or ``-1.0`` (towards ``-x``).
    speed_mps : torch.Tensor
        ``[B, K]`` real, the speed *magnitude* in m/s (``> 0``, constant per vehicle). The
        velocity is ``direction * speed_mps`` along ``x`` (:attr:`velocity_x_mps`); the signed
        speed of eq. (19) is ``v = -velocity_x_mps``.
    lane_y_m : torch.Tensor
        ``[B, K]`` real, the ``y`` of the vehicle's lane in metres.
    mask : torch.Tensor
        ``[B, K]`` bool, True for a real vehicle, False for padding.
    wrap : bool
        True for a constant population (a vehicle leaving re-enters at the other end), False
        for Poisson traffic (a vehicle is gone once it has left).
    """

    arrival_s: torch.Tensor = field(metadata=BATCHED)
    direction: torch.Tensor = field(metadata=BATCHED)
    speed_mps: torch.Tensor = field(metadata=BATCHED)
    lane_y_m: torch.Tensor = field(metadata=BATCHED)
    mask: torch.Tensor = field(metadata=BATCHED)
    wrap: bool = False

    def __post_init__(self) -> None:
        shape = self.arrival_s.shape
        if len(shape) != 2:
            raise ShapeError(f"Traffic.arrival_s must have shape [B, K], got {tuple(shape)}")
        for name in ("direction", "speed_mps", "lane_y_m", "mask"):
            if getattr(self, name).shape != shape:
                raise ShapeError(f"Traffic.{name} must have the shape of arrival_s "
                                 f"{tuple(shape)}, got {tuple(getattr(self, name).shape)}")
        if self.mask.dtype != torch.bool:
            raise ShapeError(f"Traffic.mask must be bool, got {self.mask.dtype}")

    @property
    def num_vehicles(self) -> int:
        """Padded number of vehicles ``K``."""
        return int(self.arrival_s.shape[1])

    @property
    def counts(self) -> torch.Tensor:
        """``[B]`` int64, the number of real vehicles per instance."""
        return self.mask.sum(dim=-1)

    @property
    def velocity_x_mps(self) -> torch.Tensor:
        """``[B, K]`` velocity along ``x`` in m/s, ``direction * speed_mps``."""
        return self.direction * self.speed_mps


def _check_generator_dtype(dtype: torch.dtype) -> None:
    if dtype not in (torch.float32, torch.float64):
        raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype}")


def _draw_speeds(config: HighwayConfig, shape: tuple[int, ...], generator: torch.Generator | None,
                 dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
    """Speeds ``N(mean, std²)`` truncated below at ``speed_min_mps`` (inverse-CDF sampling of
    :func:`torch.nn.init.trunc_normal_`)."""
    out = torch.empty(shape, dtype=dtype, device=device)
    if config.speed_std_mps == 0.0:
        return out.fill_(config.speed_mean_mps)
    return torch.nn.init.trunc_normal_(out, config.speed_mean_mps, config.speed_std_mps,
                                       config.speed_min_mps, math.inf, generator=generator)


def _lanes(config: HighwayConfig, direction: torch.Tensor) -> torch.Tensor:
    up, down = config.lane_y_m
    return torch.where(direction > 0, torch.full_like(direction, up),
                       torch.full_like(direction, down))


def sample_poisson_traffic(
    config: HighwayConfig,
    rate_per_s: float,
    duration_s: float,
    batch: int,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float64,
) -> Traffic:
    r"""Poisson traffic on an initially empty road (spec §1 "Traffic", Figs. 9/10).

    In each direction vehicles arrive at the entry end as a Poisson process of rate
    ``rate_per_s``: inter-arrival times are i.i.d. exponential (``Tensor.exponential_``), and the
    arrivals in ``[0, duration_s)`` are kept. Speeds are drawn per vehicle (normal, truncated
    below at ``speed_min_mps``) and held constant (spec §6.10). In steady state the number of
    vehicles on the segment is Poisson with mean :math:`2\lambda\cdot 2L\cdot\mathbb E[1/s]`
    (Little's law; ≈ 20 at λ = 5 /s, ≈ 50 at λ = 12.5 /s).

    Parameters
    ----------
    config : HighwayConfig
        Scene parameters (segment, lanes, speed law).
    rate_per_s : float
        Arrival rate λ *per direction* in vehicles per second, positive.
    duration_s : float
        Length of the arrival window in seconds, positive.
    batch : int
        Number of independent instances ``B``.
    generator : torch.Generator or None
        Source of randomness; the outputs live on its device.
    dtype : torch.dtype
        ``float64`` (default: the ground truth is compared with mm-level estimates) or ``float32``.

    Returns
    -------
    Traffic
        ``[B, K]`` with ``K`` the largest number of arrivals over the batch; the vehicles of
        each instance are sorted by arrival time, padding at the end (``mask`` False,
        ``arrival_s = +inf``). ``wrap`` is False.

    Raises
    ------
    ValueRangeError
        ``rate_per_s`` or ``duration_s`` not finite and positive.
    ConfigError
        ``batch`` not an integer ``≥ 1`` or an unsupported ``dtype``.

    Examples
    --------
    >>> from isaclearn.core import make_generator
    >>> tr = sample_poisson_traffic(HighwayConfig(), 5.0, 4.0, 3, make_generator(0))
    >>> tr.batch_size, bool((tr.counts <= tr.num_vehicles).all())
    (3, True)
    """
    for name, value in (("rate_per_s", rate_per_s), ("duration_s", duration_s)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                math.isfinite(value) and value > 0):
            raise ValueRangeError(f"{name} must be a finite positive number, got {value!r}")
    check_count(batch, "batch")
    _check_generator_dtype(dtype)
    batch = int(batch)
    device = generator.device if generator is not None else None
    mean = rate_per_s * duration_s
    chunk = int(math.ceil(mean + 8.0 * math.sqrt(mean) + 16.0))
    # Cumulative sums of exponential gaps, per (instance, direction), until every sequence has
    # passed the end of the window (one chunk almost always suffices).
    gaps = torch.empty((batch, 2, chunk), dtype=dtype, device=device)
    times = gaps.exponential_(rate_per_s, generator=generator).cumsum(dim=-1)
    while bool((times[..., -1] < duration_s).any()):
        more = torch.empty((batch, 2, chunk), dtype=dtype, device=device)
        more = more.exponential_(rate_per_s, generator=generator).cumsum(dim=-1)
        times = torch.cat([times, times[..., -1:] + more], dim=-1)
    n = times.shape[-1]
    direction = torch.tensor([1.0, -1.0], dtype=dtype, device=device)[None, :, None]
    direction = direction.expand(batch, 2, n).reshape(batch, 2 * n)
    key = times.reshape(batch, 2 * n)
    key = torch.where(key < duration_s, key, torch.full_like(key, math.inf))
    key, order = torch.sort(key, dim=-1, stable=True)
    mask = torch.isfinite(key)
    k = int(mask.sum(dim=-1).max().item())
    arrival = key[:, :k].contiguous()
    mask = mask[:, :k].contiguous()
    direction = torch.gather(direction, 1, order[:, :k])
    direction = torch.where(mask, direction, torch.ones_like(direction))
    speed = _draw_speeds(config, (batch, k), generator, dtype, device)
    return Traffic(arrival_s=arrival, direction=direction, speed_mps=speed,
                   lane_y_m=_lanes(config, direction), mask=mask, wrap=False)


def constant_traffic(
    config: HighwayConfig,
    num_vehicles: int,
    batch: int,
    generator: torch.Generator | None,
    *,
    dtype: torch.dtype = torch.float64,
) -> Traffic:
    r"""A constant population of ``K`` vehicles (spec §6.12, Figs. 5–8).

    At ``t = 0`` the vehicles are uniform on the segment, each moving towards ``+x`` or ``-x``
    with probability 1/2, with speeds as in :func:`sample_poisson_traffic`. A vehicle that leaves
    the segment re-enters at the other end in the same lane (``wrap=True``), so the count stays
    ``K``; :func:`lap_index` counts the re-entries (a new track for the digital twin).

    Parameters
    ----------
    config : HighwayConfig
        Scene parameters.
    num_vehicles : int
        ``K ≥ 0``.
    batch : int
        ``B ≥ 1``.
    generator : torch.Generator or None
        Source of randomness; the outputs live on its device.
    dtype : torch.dtype
        ``float64`` (default) or ``float32``.

    Returns
    -------
    Traffic
        ``[B, K]``, ``mask`` all True, ``arrival_s ≤ 0``, ``wrap=True``.

    Raises
    ------
    ConfigError
        ``num_vehicles`` not an integer ``≥ 0``, ``batch`` not an integer ``≥ 1`` or an
        unsupported ``dtype``.

    Examples
    --------
    >>> from isaclearn.core import make_generator
    >>> tr = constant_traffic(HighwayConfig(), 5, 2, make_generator(0))
    >>> x, y, active = positions(tr, 0.0, HighwayConfig())
    >>> x.shape, bool(active.all()), bool((x.abs() <= 30).all())
    (torch.Size([2, 5]), True, True)
    """
    if isinstance(num_vehicles, bool) or not isinstance(num_vehicles, int) or num_vehicles < 0:
        raise ConfigError(f"num_vehicles must be an integer >= 0, got {num_vehicles!r}")
    check_count(batch, "batch")
    _check_generator_dtype(dtype)
    batch = int(batch)
    device = generator.device if generator is not None else None
    shape = (batch, num_vehicles)
    half = config.half_length_m
    x0 = torch.rand(shape, generator=generator, dtype=dtype, device=device) * (2 * half) - half
    up = torch.rand(shape, generator=generator, dtype=dtype, device=device) < 0.5
    direction = torch.where(up, torch.ones(shape, dtype=dtype, device=device),
                            -torch.ones(shape, dtype=dtype, device=device))
    speed = _draw_speeds(config, shape, generator, dtype, device)
    travelled = direction * x0 + half  # distance since the entry end, in [0, 2L]
    arrival = -travelled / speed
    return Traffic(arrival_s=arrival, direction=direction, speed_mps=speed,
                   lane_y_m=_lanes(config, direction),
                   mask=torch.ones(shape, dtype=torch.bool, device=device), wrap=True)


def _travelled(traffic: Traffic, t_s: torch.Tensor | float) -> torch.Tensor:
    """Distance ``[B, K]`` driven since the (first) entry; padding behaves as arrival 0."""
    t = torch.as_tensor(t_s, dtype=traffic.arrival_s.dtype, device=traffic.arrival_s.device)
    if t.dim() == 1:
        t = t[:, None]  # one time per instance
    arrival = torch.where(traffic.mask, traffic.arrival_s, torch.zeros_like(traffic.arrival_s))
    return traffic.speed_mps * (t - arrival)


def positions(
    traffic: Traffic, t_s: torch.Tensor | float, config: HighwayConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Vehicle positions at time ``t_s``.

    A vehicle that has driven :math:`s = v_{abs}(t - t_{arr})` metres since its entry is at
    :math:`x = \mathrm{dir}\,(s - L)`; for ``wrap`` traffic ``s`` is taken modulo ``2L``.

    Parameters
    ----------
    traffic : Traffic
        ``[B, K]`` vehicles.
    t_s : float or torch.Tensor
        Time in seconds: a scalar, ``[B]`` (one per instance) or ``[B, K]``.
    config : HighwayConfig
        Scene parameters (``half_length_m``).

    Returns
    -------
    x, y : torch.Tensor
        ``[B, K]`` real positions in metres. Outside ``active`` they are the straight-line
        extrapolation (finite, meaningless).
    active : torch.Tensor
        ``[B, K]`` bool: a real vehicle on the segment (Poisson: ``0 ≤ s ≤ 2L``, i.e. entered
        and not yet left; ``wrap``: every real vehicle).
    """
    s = _travelled(traffic, t_s)
    length = config.segment_length_m
    if traffic.wrap:
        s = torch.remainder(s, length)
        active = traffic.mask.clone()
    else:
        active = traffic.mask & (s >= 0) & (s <= length)
    x = traffic.direction * (s - config.half_length_m)
    y = traffic.lane_y_m.expand_as(x).clone()
    return x, y, active


def lap_index(traffic: Traffic, t_s: torch.Tensor | float, config: HighwayConfig) -> torch.Tensor:
    """``[B, K]`` int64: how many times each vehicle has re-entered the segment by ``t_s``
    (``wrap`` traffic; always 0 for Poisson traffic). A change marks a new track."""
    if not traffic.wrap:
        return torch.zeros(traffic.arrival_s.shape, dtype=torch.int64,
                           device=traffic.arrival_s.device)
    s = _travelled(traffic, t_s)
    return torch.floor(s / config.segment_length_m).to(torch.int64)


def states_at(traffic: Traffic, t_s: torch.Tensor | float, config: HighwayConfig) -> torch.Tensor:
    r"""True states :math:`[\varphi, d, \dot v]` of every vehicle relative to every RSU.

    Returns
    -------
    torch.Tensor
        ``[B, I, K, 3]`` real (dtype of the traffic). Use :func:`positions` for the
        ``active`` mask.
    """
    x, y, _ = positions(traffic, t_s, config)
    xy = torch.stack([x, y], dim=-1)[:, None]  # [B, 1, K, 2]
    rsu = config.rsu_xy(dtype=x.dtype, device=x.device)[None, :, None, :]  # [1, I, 1, 2]
    vx = traffic.velocity_x_mps[:, None].expand(-1, config.num_rsus, -1)
    return cartesian_to_state(xy, vx, rsu)


# --------------------------------------------------------------------------------------------
# Kinematics
# --------------------------------------------------------------------------------------------


def _check_state(state: torch.Tensor, name: str = "state") -> None:
    if not isinstance(state, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [..., 3], got "
                        f"{type(state).__name__}")
    check_last_dims(state, (3,), name, "[..., 3]")
    if not state.is_floating_point():
        raise ShapeError(f"{name} must be real floating point, got {state.dtype}")


def cartesian_to_state(xy: torch.Tensor, vx: torch.Tensor | float,
                       rsu_xy: torch.Tensor) -> torch.Tensor:
    r"""State :math:`[\varphi, d, \dot v]` relative to an RSU from Cartesian position and velocity.

    .. math:: d = \|\mathbf p - \mathbf p_i\|,\quad \varphi = (x - x_i)/d,\quad
              \dot v = -\varphi v_x \;(\text{closing speed, }> 0\text{ when approaching}).

    Parameters
    ----------
    xy : torch.Tensor
        ``[..., 2]`` vehicle position in metres.
    vx : torch.Tensor or float
        ``[...]`` velocity along ``x`` in m/s (broadcasts against ``xy[..., 0]``).
    rsu_xy : torch.Tensor
        ``[..., 2]`` RSU position in metres (e.g. ``[2]`` or ``config.rsu_xy()[i]``).

    Returns
    -------
    torch.Tensor
        ``[..., 3]`` real. Differentiable (``torch.func`` compatible).

    Examples
    --------
    >>> import torch
    >>> cartesian_to_state(torch.tensor([-30.0, -2.5]), 30.0, torch.tensor([0.0, 30.0]))
    tensor([-0.6783, 44.2295, 20.3484])
    """
    check_last_dims(xy, (2,), "xy", "[..., 2]")
    check_last_dims(rsu_xy, (2,), "rsu_xy", "[..., 2]")
    delta = xy - rsu_xy
    dx, dy = delta[..., 0], delta[..., 1]
    d = torch.hypot(dx, dy)
    phi = dx / d
    vdot = -phi * vx
    phi, d, vdot = torch.broadcast_tensors(phi, d, vdot)
    return torch.stack([phi, d, vdot], dim=-1)


def kinematic_speed(
    state: torch.Tensor,
    prev_speed: torch.Tensor | float | None = None,
    phi_guard: float = 1e-3,
) -> torch.Tensor:
    r"""The signed speed :math:`v = \dot v/\varphi = -v_x` of eq. (19), with the φ = 0 guard.

    Where :math:`|\varphi| \ge` ``phi_guard`` this is :math:`\dot v/\varphi`. Where
    :math:`|\varphi| <` ``phi_guard`` it is ``prev_speed`` (the speed stored at the previous
    slot); without ``prev_speed`` it stays :math:`\dot v/\varphi`, which is exact on noiseless
    states (:math:`\dot v = v\varphi` holds identically) except at :math:`\varphi = 0` exactly,
    where no speed can be recovered from the state and ``0`` is returned. The digital twin
    stores the value returned here at every slot and passes it as ``prev_speed`` next slot.

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real :math:`[\varphi, d, \dot v]`.
    prev_speed : torch.Tensor or float or None
        ``[...]`` stored signed speed in m/s.
    phi_guard : float
        Guard threshold on :math:`|\varphi|`.

    Returns
    -------
    torch.Tensor
        ``[...]`` signed speed in m/s (``< 0`` for traffic towards ``+x``).
    """
    _check_state(state)
    phi, vdot = state[..., 0], state[..., 2]
    small = phi.abs() < phi_guard
    if prev_speed is None:
        # Double where: no 0/0 (and no NaN gradient) at phi == 0.
        safe = torch.where(phi == 0, torch.ones_like(phi), phi)
        return torch.where(phi == 0, torch.zeros_like(phi), vdot / safe)
    prev = torch.as_tensor(prev_speed, dtype=state.dtype, device=state.device)
    safe = torch.where(small, torch.ones_like(phi), phi)
    return torch.where(small, prev, vdot / safe)


def transition(
    state: torch.Tensor,
    slot_s: torch.Tensor | float,
    prev_speed: torch.Tensor | float | None = None,
    phi_guard: float = 1e-3,
) -> torch.Tensor:
    r"""State transition ``g`` of eq. (19): one slot of straight-line motion at constant speed.

    With :math:`v` from :func:`kinematic_speed` (:math:`\dot v/\varphi`, or the stored speed
    when :math:`|\varphi| <` ``phi_guard``) and :math:`u = d\varphi - vT`:

    .. math::
        d_n = \sqrt{u^2 + d^2(1-\varphi^2)}\;\big(= \sqrt{d^2 + v^2T^2 - 2d\dot vT}\big),\qquad
        \varphi_n = u/d_n,\qquad \dot v_n = v\varphi_n .

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real :math:`[\varphi, d, \dot v]` relative to one RSU.
    slot_s : float or torch.Tensor
        Slot duration ``T`` in seconds (scalar or ``[...]``).
    prev_speed : torch.Tensor or float or None
        ``[...]`` stored signed speed (m/s) used inside the guard, see :func:`kinematic_speed`.
    phi_guard : float
        Guard threshold on :math:`|\varphi|`.

    Returns
    -------
    torch.Tensor
        ``[..., 3]`` the state one slot later. No Python branching on values:
        ``torch.func.jacfwd``/``vmap`` give the Jacobian ``G`` of eq. (20).

    Notes
    -----
    :math:`d^2 - 2d\dot vT` is written :math:`d^2 - 2d\varphi vT`, identical when
    :math:`v = \dot v/\varphi` (as functions, so their Jacobians agree); inside the guard, where
    ``v`` is the stored speed and :math:`\dot v` a noisy estimate near 0, the geometric form
    keeps :math:`d_n` consistent with the predicted position. :math:`1-\varphi^2` is clamped at
    0 for estimates with :math:`|\varphi| > 1`.

    Examples
    --------
    >>> import torch
    >>> s0 = torch.tensor([-0.6, 50.0, 18.0], dtype=torch.float64)  # v = -30 m/s (towards +x)
    >>> s1 = transition(s0, 0.02)
    >>> round(float(s1[1]), 4)  # sqrt((-30 + 0.6)^2 + 40^2): moved 0.6 m towards +x
    49.6423
    """
    _check_state(state)
    phi, d = state[..., 0], state[..., 1]
    v = kinematic_speed(state, prev_speed, phi_guard)
    t = torch.as_tensor(slot_s, dtype=state.dtype, device=state.device)
    u = d * phi - v * t
    across_sq = (d * d * (1.0 - phi * phi)).clamp_min(0.0)
    d_n = torch.sqrt(u * u + across_sq)
    phi_n = u / d_n
    return torch.stack(torch.broadcast_tensors(phi_n, d_n, v * phi_n), dim=-1)


def state_to_cartesian(
    state: torch.Tensor,
    rsu_xy: torch.Tensor,
    y_sign: torch.Tensor | float,
    prev_speed: torch.Tensor | float | None = None,
    phi_guard: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Cartesian position and velocity from a state relative to an RSU.

    .. math:: x = x_i + d\varphi,\quad y = y_i + s_y\,d\sqrt{1-\varphi^2},\quad v_x = -v,

    with :math:`s_y` = ``y_sign`` the sign of :math:`y - y_i` (the road side,
    :attr:`HighwayConfig.vehicle_side`) and ``v`` from :func:`kinematic_speed`.

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real :math:`[\varphi, d, \dot v]`.
    rsu_xy : torch.Tensor
        ``[..., 2]`` RSU position in metres.
    y_sign : float or torch.Tensor
        ``±1`` (scalar or ``[...]``).
    prev_speed, phi_guard
        As in :func:`kinematic_speed` (the speed near :math:`\varphi = 0`).

    Returns
    -------
    xy : torch.Tensor
        ``[..., 2]`` position in metres.
    vx : torch.Tensor
        ``[...]`` velocity along ``x`` in m/s.
    """
    _check_state(state)
    check_last_dims(rsu_xy, (2,), "rsu_xy", "[..., 2]")
    phi, d = state[..., 0], state[..., 1]
    across = d * torch.sqrt((1.0 - phi * phi).clamp_min(torch.finfo(state.dtype).tiny))
    x = rsu_xy[..., 0] + d * phi
    y = rsu_xy[..., 1] + y_sign * across
    vx = -kinematic_speed(state, prev_speed, phi_guard)
    x, y = torch.broadcast_tensors(x, y)
    return torch.stack([x, y], dim=-1), vx


def convert_state(
    state: torch.Tensor,
    rsu_from: torch.Tensor,
    rsu_to: torch.Tensor,
    y_sign_from: torch.Tensor | float,
    prev_speed: torch.Tensor | float | None = None,
    phi_guard: float = 1e-3,
) -> torch.Tensor:
    """A state relative to ``rsu_from`` expressed relative to ``rsu_to`` (handover, spec §3):
    :func:`state_to_cartesian` then :func:`cartesian_to_state`. Shapes as there; returns
    ``[..., 3]``. The signed speed ``v`` is the same for both RSUs."""
    xy, vx = state_to_cartesian(state, rsu_from, y_sign_from, prev_speed, phi_guard)
    return cartesian_to_state(xy, vx, rsu_to)


def _batched_jacobian(fn: Callable[[torch.Tensor], torch.Tensor],
                      x: torch.Tensor) -> torch.Tensor:
    """Per-element Jacobian ``[..., n_out, n_in]`` of a function applied independently to each
    ``[..., n_in]`` row (forward mode, one JVP per input coordinate)."""
    n = x.shape[-1]
    basis = torch.eye(n, dtype=x.dtype, device=x.device)
    basis = basis.reshape(n, *([1] * (x.dim() - 1)), n).expand(n, *x.shape)

    def column(t: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(fn, (x,), (t,))[1]

    return torch.func.vmap(column, out_dims=-1)(basis)  # type: ignore[no-any-return]


def handover(
    state: torch.Tensor,
    cov: torch.Tensor,
    rsu_from: torch.Tensor,
    rsu_to: torch.Tensor,
    y_sign_from: torch.Tensor | float,
    prev_speed: torch.Tensor | float | None = None,
    phi_guard: float = 1e-3,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Hand a track over to another RSU: convert the state and propagate its covariance.

    .. math:: \mathbf x' = c(\mathbf x),\qquad \mathbf M' = \mathbf J\mathbf M\mathbf J^T,
              \qquad \mathbf J = \partial c/\partial\mathbf x ,

    with ``c`` = :func:`convert_state` and ``J`` from ``torch.func`` (forward mode).

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real state relative to ``rsu_from``.
    cov : torch.Tensor
        ``[..., 3, 3]`` its covariance.
    rsu_from, rsu_to : torch.Tensor
        ``[2]`` (or ``[..., 2]``) RSU positions in metres.
    y_sign_from : float or torch.Tensor
        Sign of :math:`y - y_{from}` (:attr:`HighwayConfig.vehicle_side`).
    prev_speed, phi_guard
        As in :func:`kinematic_speed`. Inside the guard the stored speed is a constant, so the
        new :math:`\dot v` inherits uncertainty from the position only.

    Returns
    -------
    state : torch.Tensor
        ``[..., 3]`` relative to ``rsu_to``.
    cov : torch.Tensor
        ``[..., 3, 3]``.
    """
    _check_state(state)
    check_last_dims(cov, (3, 3), "cov", "[..., 3, 3]")

    def fn(x: torch.Tensor) -> torch.Tensor:
        return convert_state(x, rsu_from, rsu_to, y_sign_from, prev_speed, phi_guard)

    jac = _batched_jacobian(fn, state)
    return fn(state), jac @ cov @ jac.mT


# --------------------------------------------------------------------------------------------
# Measurement model (12)–(17) and communication channel (8)–(10)
# --------------------------------------------------------------------------------------------


def steering(num_antennas: int, phi: torch.Tensor) -> torch.Tensor:
    r"""Steering vector of eqs. (4)/(5), :math:`N^{-1/2}[1, e^{-j\pi\varphi}, \dots,
    e^{-j\pi(N-1)\varphi}]^T`: :func:`isaclearn.arrays.ula_u` with its defaults (runs under
    ``torch.func.vmap``/``jacfwd``; estimates with :math:`|\varphi| > 1` are evaluated as written).

    Parameters
    ----------
    num_antennas : int
        ``N``.
    phi : torch.Tensor
        ``[...]`` real direction cosines.

    Returns
    -------
    torch.Tensor
        ``[..., N]`` complex (complex128 for float64 input, else complex64).
    """
    return ula_u(num_antennas, phi)


def reflection_coefficient(distance_m: torch.Tensor, config: HighwayConfig) -> torch.Tensor:
    r"""Reflection coefficient :math:`\beta = \varrho/(2d)` (below eq. 3), ``[...]`` complex."""
    rho = torch.tensor(config.fading, dtype=complex_dtype(distance_m.dtype),
                       device=distance_m.device)
    return rho / (2.0 * distance_m)


def _beam_terms(state: torch.Tensor, f: torch.Tensor, config: HighwayConfig,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Checked inputs: ``b(φ)`` ``[..., N_r]``, ``η = aᴴ(φ) f`` ``[...]`` and the complex dtype
    (the promotion of ``state``'s and ``f``'s; never lower than either)."""
    _check_state(state)
    if not isinstance(f, torch.Tensor) or not f.is_complex():
        raise ShapeError("f must be a complex tensor of shape [..., N_t]")
    check_last_dims(f, (config.num_tx,), "f", f"[..., N_t={config.num_tx}]")
    try:
        torch.broadcast_shapes(state.shape[:-1], f.shape[:-1])
    except RuntimeError:
        raise ShapeError(f"the batch dimensions of state {tuple(state.shape)} and f "
                         f"{tuple(f.shape)} do not broadcast") from None
    cdt = torch.promote_types(complex_dtype(state.dtype), f.dtype)
    phi = state[..., 0].to(real_dtype(cdt))
    a = steering(config.num_tx, phi).to(cdt)
    b = steering(config.num_rx, phi).to(cdt)
    eta = (a.conj() * f.to(cdt)).sum(dim=-1)
    return b, eta, cdt


def measurement_mean(
    state: torch.Tensor,
    f: torch.Tensor,
    config: HighwayConfig,
    beta: torch.Tensor | complex | None = None,
    *,
    beta_from: torch.Tensor | float | None = None,
) -> torch.Tensor:
    r"""Noiseless measurement :math:`\mathbf h(\mathbf x)` of eq. (21), stacked as real numbers.

    .. math::
        \tilde{\mathbf r} = \kappa\beta G\,\mathbf b(\varphi)\mathbf a^H(\varphi)\mathbf f
        \;(12),\qquad \tilde\nu = 2d/c\;(13),\qquad \tilde\mu = 2\dot v f_c/c\;(14).

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real :math:`[\varphi, d, \dot v]`.
    f : torch.Tensor
        ``[..., N_t]`` complex beam (batch dimensions broadcast against ``state``).
    config : HighwayConfig
        ``N_t, N_r``, ``G``, ϱ, :math:`f_c`.
    beta : complex or torch.Tensor or None
        ``[...]`` reflection coefficient to use in (12). ``None`` (default) computes
        :math:`\beta = \varrho/(2d)` from the state; passing it (e.g.
        ``reflection_coefficient(d_hat, config)``) treats β as known, so that
        :math:`\partial\tilde{\mathbf r}/\partial d = 0` and a ``jacfwd`` Jacobian is eq. (22).
    beta_from : float or torch.Tensor or None
        ``[...]`` distance in metres at which to evaluate :math:`\beta = \varrho/(2d)` instead of
        the state's (same effect as ``beta``, but real, so it can be a ``vmap``-ped argument of
        ``torch.func.jacfwd``, which rejects complex inputs). Not together with ``beta``.

    Returns
    -------
    torch.Tensor
        ``[..., 2N_r + 2]`` real: ``[Re r̃ (N_r), Im r̃ (N_r), ν̃ (s), μ̃ (Hz)]``, in the real
        dtype of the promoted complex dtype of ``state`` and ``f``.

    Examples
    --------
    >>> import torch
    >>> cfg = HighwayConfig(num_tx=4, num_rx=4)
    >>> x = torch.tensor([0.3, 30.0, 10.0], dtype=torch.float64)
    >>> y = measurement_mean(x, steering(4, x[0]), cfg)
    >>> y.shape, round(float(y[-2]) * SPEED_OF_LIGHT_MPS / 2, 9)  # nu = 2d/c
    (torch.Size([10]), 30.0)
    """
    b, eta, cdt = _beam_terms(state, f, config)
    rdt = real_dtype(cdt)
    d = state[..., 1].to(rdt)
    if beta is not None and beta_from is not None:
        raise ConfigError("give at most one of beta and beta_from")
    if beta_from is not None:
        beta_t = reflection_coefficient(torch.as_tensor(beta_from, dtype=rdt, device=d.device),
                                        config)
    elif beta is None:
        beta_t = reflection_coefficient(d, config)
    else:
        beta_t = torch.as_tensor(beta, device=state.device)
        if not beta_t.is_complex():
            beta_t = beta_t.to(cdt)
    r = (config.kappa * config.mf_gain) * (beta_t.to(cdt) * eta)[..., None] * b
    nu = 2.0 * d / SPEED_OF_LIGHT_MPS
    mu = 2.0 * state[..., 2].to(rdt) * config.carrier_hz / SPEED_OF_LIGHT_MPS
    nu, mu = torch.broadcast_tensors(nu, mu)
    batch = torch.broadcast_shapes(r.shape[:-1], nu.shape)
    r = r.expand(*batch, config.num_rx)
    nu = nu.expand(batch)
    mu = mu.expand(batch)
    return torch.cat([r.real, r.imag, nu[..., None], mu[..., None]], dim=-1)


def measurement_noise_var(state: torch.Tensor, f: torch.Tensor,
                          config: HighwayConfig) -> torch.Tensor:
    r"""Variances of the entries of the stacked measurement (eqs. 15–17).

    .. math::
        \sigma_r^2 = \frac{\rho_r^2\sigma_e^2}{G},\qquad
        \sigma_{\nu}^2 = \frac{\rho_\nu^2\sigma_e^2}{G\kappa^2|\beta|^2|\eta|^2},\qquad
        \sigma_{\mu}^2 = \frac{\rho_\mu^2\sigma_e^2}{G\kappa^2|\beta|^2|\eta|^2},

    with :math:`\beta = \varrho/(2d)` and :math:`\eta = \mathbf a^H(\varphi)\mathbf f`.

    Parameters
    ----------
    state, f, config
        As in :func:`measurement_mean`.

    Returns
    -------
    torch.Tensor
        ``[..., 2N_r + 2]`` real: :math:`\sigma_r^2/2` for each of the ``2N_r`` real and
        imaginary parts of :math:`\tilde{\mathbf r}` (circular noise), then
        :math:`\sigma_\nu^2` (s²) and :math:`\sigma_\mu^2` (Hz²). Infinite where
        :math:`\eta = 0` (no echo information).
    """
    _, eta, cdt = _beam_terms(state, f, config)
    rdt = real_dtype(cdt)
    d = state[..., 1].to(rdt)
    beta_sq = abs(config.fading) ** 2 / (4.0 * d * d)
    snr = config.mf_gain * config.kappa**2 * beta_sq * eta.abs() ** 2  # G κ² |β|² |η|²
    base = config.sensing_noise_var / snr
    batch = torch.broadcast_shapes(state.shape[:-1], f.shape[:-1])
    var_r = torch.full((*batch, 2 * config.num_rx), config.echo_noise_var / 2.0, dtype=rdt,
                       device=state.device)
    var_nu = (config.rho_nu**2 * base).expand(batch)
    var_mu = (config.rho_mu**2 * base).expand(batch)
    return torch.cat([var_r, var_nu[..., None], var_mu[..., None]], dim=-1)


def sample_measurement(
    state: torch.Tensor,
    f: torch.Tensor,
    config: HighwayConfig,
    generator: torch.Generator | None,
) -> torch.Tensor:
    r"""A noisy measurement ``y = h(x) + χ`` (eq. 21) with the variances of eqs. (15)–(17).

    Parameters
    ----------
    state, f, config
        As in :func:`measurement_mean` (β from the true distance).
    generator : torch.Generator or None
        Source of randomness (on the device of ``state``).

    Returns
    -------
    torch.Tensor
        ``[..., 2N_r + 2]`` real, stacked as in :func:`measurement_mean`; NaN in the entries
        whose variance is infinite (:math:`\eta = 0`: no delay/Doppler measurement).
    """
    mean = measurement_mean(state, f, config)
    var = measurement_noise_var(state, f, config)
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    finite = torch.isfinite(var)
    std = torch.sqrt(torch.where(finite, var, torch.zeros_like(var)))
    return torch.where(finite, mean + std * noise, torch.full_like(mean, math.nan))


def split_measurement(y: torch.Tensor, num_rx: int) -> tuple[torch.Tensor, torch.Tensor,
                                                             torch.Tensor]:
    """Unstack ``[..., 2N_r + 2]`` into ``r̃`` ``[..., N_r]`` complex, ``ν̃`` and ``μ̃`` ``[...]``."""
    check_last_dims(y, (2 * num_rx + 2,), "y", f"[..., 2*N_r+2={2 * num_rx + 2}]")
    r = torch.complex(y[..., :num_rx], y[..., num_rx:2 * num_rx])
    return r, y[..., 2 * num_rx], y[..., 2 * num_rx + 1]


def comm_channel(state: torch.Tensor, config: HighwayConfig) -> torch.Tensor:
    r"""Communication channel rows of eqs. (8)/(9).

    .. math:: \mathbf h = \kappa'\sqrt{\tilde\alpha/d^2}\;\mathbf a^H(\varphi),\qquad
              \kappa' = \sqrt{N_t},

    so that :math:`|\mathbf h\mathbf f|^2 = \kappa'^2|\alpha||\mathbf a^H(\varphi)\mathbf f|^2`
    and ``isaclearn.metrics.comm.sinr(h_rows, F)`` with the rows of the vehicles of one RSU and
    its beams ``F`` ``[..., N_t, K]`` (columns masked by ξ) is eq. (10).

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` real :math:`[\varphi, d, \dot v]` relative to the RSU.
    config : HighwayConfig
        ``N_t`` and :math:`\tilde\alpha`.

    Returns
    -------
    torch.Tensor
        ``[..., N_t]`` complex rows (no further conjugation: :math:`\mathbf h\mathbf f =`
        ``(h * f).sum(-1)``).
    """
    _check_state(state)
    phi, d = state[..., 0], state[..., 1]
    gain = config.kappa_comm * math.sqrt(config.alpha_tilde) / d
    return gain[..., None].to(complex_dtype(state.dtype)) * steering(config.num_tx, phi).conj()
