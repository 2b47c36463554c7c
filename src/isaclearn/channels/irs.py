r"""The IRS-aided THz ISAC scenario of liu_irs_ppo (``shared/papers/001_...txt``, sections II and
IV-A): the IRS reflection model, the batched problem and its scenario.

IRS model
---------
Element ``n`` reflects with :math:`v_n = \gamma_n(\beta_n)\,e^{j\beta_n}`,
:math:`\mathbf V = \mathrm{diag}(\mathbf v)`, where the amplitude depends on the phase
(Abeywickrama et al., the paper's [8]):

.. math::
    \gamma(\beta) = (1-\gamma_{\min})\Big(\frac{\sin(\beta-\varphi)+1}{2}\Big)^{\epsilon}
      + \gamma_{\min} \quad (3),

and the phases are quantized to ``b`` bits, :math:`\beta = 2\pi i/2^b`,
:math:`i \in \{0,\dots,2^b-1\}` (eq. 30 as corrected in spec §6.7; the literal
:math:`2\pi i/(2^b-1)`, which maps ``0`` and ``2^b - 1`` to the same phase, is
``phase_levels="literal"``).

Channels and shapes
-------------------
Shape letters of DESIGN.md: ``B`` batch, ``K`` users, ``M`` BS antennas, ``N`` receive antennas
per MIMO user (the paper's ``R``), ``T`` targets, and ``E`` IRS elements (``num_irs_elements``,
the paper's ``N``; renamed because DESIGN's ``N`` is the receive antennas). The matrices are
stored as the paper writes them:

========  ===============  ================  ==================================
field     MISO             MIMO              paper
========  ===============  ================  ==================================
``h0``    ``[B, M, K]``    ``[B, K, M, N]``  :math:`\mathbf H_0`, :math:`\mathbf H_{0,k}`
``h1``    ``[B, E, M]``    ``[B, E, M]``     :math:`\mathbf H_1` (BS → IRS)
``h2``    ``[B, E, K]``    ``[B, K, E, N]``  :math:`\mathbf H_2`, :math:`\mathbf H_{2,k}`
========  ===============  ================  ==================================

and the effective channel (12)/(42, with the Hermitians of (12) restored, spec §6.10) is

.. math::
    \mathbf h_k^H = \mathbf h_{0,k}^H + \mathbf h_{2,k}^H\mathbf V\mathbf H_1
    \in \mathbb C^{1\times M}, \qquad
    \mathbf H_k = \mathbf H_{0,k}^H + \mathbf H_{2,k}^H\mathbf V\mathbf H_1
    \in \mathbb C^{N\times M},

returned by :func:`effective_channel` as rows ``[B, K, M]`` (MISO; the layout of
:mod:`isaclearn.metrics.comm`, so ``sinr(h, w, σ²)`` is (13)) or ``[B, K, N, M]`` (MIMO). ``h0``
already carries the blockage ``direct_link_db``.

Geometry (chosen; the paper says only "users randomly distributed")
-------------------------------------------------------------------
Coordinates in metres. The BS ULA lies along the ``y`` axis with its first element at the
origin (broadside ``+x``, :class:`~isaclearn.channels.thz.UlaSteering`). Users stand on the floor
(``z = 0``) at distance ``r ~ U[2, 10]`` m and azimuth ``φ ~ U[-60°, 60°]`` from broadside (their
ULA, in MIMO, also along ``y``). The IRS is a ceiling-mounted ``√E × √E`` UPA (``x–y`` plane,
facing down) centred at ``(0, 4, 3)``: 5 m from the BS (spec §1 table), 3 m above the users so
that no user stands on it, and seen from the BS at 53° (outside the sensing beams at −40°, 0°,
40°, so that serving users through the IRS competes with the beampattern). Every link (BS→user,
BS→IRS, IRS→user) is a :class:`~isaclearn.channels.thz.ThzLink` Rician link with the LOS
directions of this geometry.

Noise (spec §6.13)
------------------
The paper gives neither noise power nor bandwidth. ``noise="snr"`` (default) sets

.. math::
    \sigma^2 = \frac{P_{\max}\,\mathbb E\|\mathbf h_{0,k}\|^2}{M\,10^{\mathrm{snr\_db}/10}}
      = \frac{P_{\max}\,\bar g_0}{10^{\mathrm{snr\_db}/10}},

where :math:`\bar g_0 = \mathbb E|[\mathbf H_0]_{m,k}|^2` is the mean power of one entry of the
attenuated direct link over the user distribution (:attr:`IrsIsacConfig.mean_direct_gain`, a
deterministic quadrature). The rule fixing ``snr_db``: MRT with the random ``V^0`` of Alg. 1
gives about 1 bit/s/Hz of sum rate at the defaults, as ZF and MRT do in the paper's Fig. 4.
``noise="thermal"`` uses :math:`\sigma^2 = -174\,\mathrm{dBm/Hz} + 10\log_{10}B + NF` instead.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from isaclearn.channels.thz import ThzLink, UlaSteering, UpaSteering, unit_vectors
from isaclearn.core.checks import check_count, check_finite
from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq, fro_norm_sq, herm
from isaclearn.core.problem import BATCHED, BatchedProblem

__all__ = [
    "IrsIsacConfig",
    "IrsIsacProblem",
    "IrsIsacScenario",
    "PhaseLevels",
    "cascade_channel",
    "cascade_direct_ratio",
    "co_phasing_phases",
    "direct_channel",
    "effective_channel",
    "irs_amplitude",
    "phase_levels",
    "phases_from_indices",
    "quantize_phases",
    "random_initial_phases",
    "reflection_vector",
]

PhaseLevels = Literal["uniform", "literal"]
NoiseModel = Literal["snr", "thermal"]
PatternScale = Literal["none", "power"]


# --------------------------------------------------------------------------------------------
# IRS reflection model


def irs_amplitude(
    beta: torch.Tensor,
    *,
    gamma_min: float = 0.2,
    phase_offset_rad: float = 0.0,
    exponent: float = 1.6,
) -> torch.Tensor:
    r"""Phase-dependent reflection amplitude (3):
    :math:`\gamma(\beta) = (1-\gamma_{\min})((\sin(\beta-\varphi)+1)/2)^{\epsilon} + \gamma_{\min}`.

    Parameters
    ----------
    beta : torch.Tensor
        Phases :math:`\beta` in radians, any shape, real.
    gamma_min : float
        Minimum amplitude :math:`\gamma_{\min} \in [0, 1]` (chosen 0.2 from [8]; 1 gives an
        ideal unit-amplitude IRS).
    phase_offset_rad : float
        :math:`\varphi \ge 0` (chosen 0): the amplitude is minimal at :math:`\varphi - \pi/2`
        and 1 at :math:`\varphi + \pi/2`.
    exponent : float
        :math:`\epsilon \ge 0` (chosen 1.6 from [8]).

    Returns
    -------
    torch.Tensor
        Shape and real dtype of ``beta``, values in ``[γ_min, 1]``.

    Examples
    --------
    >>> import math, torch
    >>> irs_amplitude(torch.tensor([-math.pi / 2, math.pi / 2]))
    tensor([0.2000, 1.0000])
    """
    if not 0.0 <= gamma_min <= 1.0:
        raise ValueRangeError(f"gamma_min must lie in [0, 1], got {gamma_min}")
    if not exponent >= 0 or not math.isfinite(exponent):
        raise ValueRangeError(f"exponent must be finite and >= 0, got {exponent}")
    if beta.is_complex():
        raise ValueRangeError("beta must be real (radians)")
    base = ((torch.sin(beta - phase_offset_rad) + 1.0) / 2.0).clamp(0.0, 1.0)
    return (1.0 - gamma_min) * base.pow(exponent) + gamma_min


def phase_levels(
    bits: int,
    *,
    levels: PhaseLevels = "uniform",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""The :math:`2^b` phases of (30): :math:`2\pi i/2^b` (``"uniform"``, spec §6.7) or the
    printed :math:`2\pi i/(2^b-1)` (``"literal"``; its first and last levels coincide modulo
    :math:`2\pi`), ``[2^b]`` real.

    Examples
    --------
    >>> phase_levels(2)
    tensor([0.0000, 1.5708, 3.1416, 4.7124])
    """
    check_count(bits, "bits")
    if levels not in ("uniform", "literal"):
        raise ConfigError(f"levels must be 'uniform' or 'literal', got {levels!r}")
    n = 2 ** int(bits)
    den = n if levels == "uniform" else n - 1
    return 2.0 * math.pi * torch.arange(n, dtype=dtype, device=device) / den


def phases_from_indices(
    indices: torch.Tensor, bits: int, *, levels: PhaseLevels = "uniform",
    dtype: torch.dtype = torch.float32, check: bool = True,
) -> torch.Tensor:
    r"""Phases :math:`\beta_n = 2\pi i_n/2^b` (30) of integer indices ``[...]`` in
    ``{0, …, 2^b − 1}``, real ``[...]`` (``dtype``).

    ``check=False`` skips the range check (which reads the indices back to the host, a
    synchronization per call on a GPU) for indices valid by construction."""
    if indices.is_floating_point() or indices.is_complex():
        raise ValueRangeError("indices must be an integer tensor")
    n = 2 ** int(bits)
    if check and indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n):
        raise ValueRangeError(f"indices must lie in [0, {n - 1}] for {bits} bits")
    return phase_levels(bits, levels=levels, dtype=dtype, device=indices.device)[indices]


def quantize_phases(
    beta: torch.Tensor, bits: int, *, levels: PhaseLevels = "uniform"
) -> torch.Tensor:
    """Index ``[...]`` (int64) of the level of (30) nearest to each phase on the circle."""
    lv = phase_levels(bits, levels=levels, dtype=beta.dtype, device=beta.device)
    diff = torch.remainder(beta[..., None] - lv + math.pi, 2.0 * math.pi) - math.pi
    return diff.abs().argmin(dim=-1)


def reflection_vector(
    beta: torch.Tensor,
    *,
    gamma_min: float = 0.2,
    phase_offset_rad: float = 0.0,
    exponent: float = 1.6,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    r"""IRS reflection coefficients :math:`v_n = \gamma(\beta_n) e^{j\beta_n}` (the diagonal of
    :math:`\mathbf V`, eqs. 2–3).

    Parameters
    ----------
    beta : torch.Tensor
        Phases ``[..., E]`` in radians, real.
    gamma_min, phase_offset_rad, exponent : float
        Parameters of (3) (see :func:`irs_amplitude`).
    dtype : torch.dtype, optional
        Complex dtype (default: from ``beta``).

    Returns
    -------
    torch.Tensor
        ``[..., E]`` complex, :math:`|v_n| = \gamma(\beta_n)`.
    """
    amp = irs_amplitude(beta, gamma_min=gamma_min, phase_offset_rad=phase_offset_rad,
                        exponent=exponent)
    out = torch.polar(amp, beta)
    return out.to(dtype if dtype is not None else complex_dtype(beta.dtype))


def random_initial_phases(
    shape: tuple[int, ...],
    *,
    generator: torch.Generator | None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""The initial IRS phases :math:`\mathbf V^0` of Alg. 1: uniform in :math:`[-\pi/2, \pi/2]`
    (section V-A), ``shape`` real (drawn in float64, then cast)."""
    if device is None:
        device = generator.device if generator is not None else "cpu"
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    return ((u - 0.5) * math.pi).to(dtype)


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class IrsIsacConfig:
    r"""Every parameter of the IRS-aided THz ISAC scenario (spec §1 table), with the chosen
    defaults for those the paper omits.

    Attributes
    ----------
    carrier_hz : float
        Carrier :math:`f` (§VI: 0.55 THz, λ = 0.545 mm).
    k_abs_per_m : float
        Molecular absorption coefficient (§VI: 6.7141e-4, unit not given, read as m⁻¹).
    num_antennas : int
        BS antennas ``M`` (§VI-A: 5).
    num_users : int
        Users ``K`` (§VI-A: 4).
    num_irs_elements : int
        IRS elements ``E`` (the paper's ``N``; not given, swept in Fig. 9; chosen 16 = 4×4). A
        perfect square (spec §6.11).
    phase_bits : int
        Phase resolution ``b`` of (30) (not given; chosen 3).
    phase_levels : {"uniform", "literal"}
        :math:`2\pi i/2^b` (default, spec §6.7) or the printed :math:`2\pi i/(2^b-1)`.
    gamma_min, amp_phase_offset_rad, amp_exponent : float
        :math:`\gamma_{\min}, \varphi, \epsilon` of (3) (not given; chosen from [8]: 0.2, 0,
        1.6).
    p_max_w : float
        Total power budget :math:`P_{\max}` in watts; (22) caps each antenna at
        :math:`P_{\max}/M` (not given; chosen 10 W so that ℓ ∈ [1, 10] binds, spec §6.2).
    direct_link_db : float
        Blockage loss on the direct BS→user link :math:`\mathbf H_0`, dB (chosen −60 so that the
        IRS matters, spec §6.12; 0 gives the literal model).
    noise : {"snr", "thermal"}
        How the noise variance is set (module docstring, spec §6.13).
    snr_db : float
        :math:`P_{\max}\bar g_0/\sigma^2` in dB for ``noise="snr"``, chosen by the rule "MRT with
        random :math:`V^0` gives ≈ 1 bit/s/Hz" (spec §6.13); :attr:`noise_var` gives σ².
    bandwidth_hz, noise_figure_db : float
        Bandwidth and receiver noise figure for ``noise="thermal"``.
    rician_factor : float
        :math:`\gamma_{AI}` of (4), linear (not given; chosen 10).
    num_nlos : int
        NLOS rays :math:`n_{NL}` per link (not given; chosen 2).
    nlos_reflection_db : float
        :math:`|\Gamma|^2` of each NLOS ray in dB (not given; chosen −10 dB).
    nlos_length_factor : tuple of float
        NLOS ray length / LOS length, uniform on this range (chosen (1, 1.5)).
    gain_tx, gain_rx : float
        Antenna gains :math:`G_t, G_r` of (4), amplitude (not given; 1).
    spacing : float
        Element spacing of every array in wavelengths (not given; λ/2, spec §6.1).
    irs_position_m : tuple of float
        IRS centre ``(x, y, z)`` in metres (chosen ``(0, 4, 3)``: 5 m from the BS).
    user_min_distance_m, user_max_distance_m : float
        Users' distance range from the BS (chosen 2–10 m), uniform in distance.
    user_sector_deg : float
        Users' azimuth range ±this from broadside (chosen 60°).
    mimo : bool
        MIMO users (section IV-A) with ``num_rx_antennas`` each; else single-antenna users.
    num_rx_antennas : int
        Receive antennas per MIMO user, DESIGN's ``N`` (the paper's ``R``; §VI-B: 4).
    target_angles_deg : tuple of float
        Sensing directions :math:`\psi_p` of (17) (§VI: −40°, 0°, 40°).
    beam_width_deg : float
        :math:`\Delta` of (17) (eq. 17: 10°; §VI says 5°; chosen 10°).
    grid_step_deg : float
        Step of the beampattern grid over −90°…90° (0.1°, L = 1801).
    ell : float
        Sensing threshold ℓ of (18) (default not given; chosen 3).
    pattern_scale : {"none", "power"}
        Height of the desired pattern: 1 (literal (17)) or :math:`P_{\max}/M` (spec §6.2).
    """

    carrier_hz: float = 0.55e12
    k_abs_per_m: float = 6.7141e-4
    num_antennas: int = 5
    num_users: int = 4
    num_irs_elements: int = 16
    phase_bits: int = 3
    phase_levels: PhaseLevels = "uniform"
    gamma_min: float = 0.2
    amp_phase_offset_rad: float = 0.0
    amp_exponent: float = 1.6
    p_max_w: float = 10.0
    direct_link_db: float = -60.0
    noise: NoiseModel = "snr"
    snr_db: float = -8.5
    bandwidth_hz: float = 10e9
    noise_figure_db: float = 10.0
    rician_factor: float = 10.0
    num_nlos: int = 2
    nlos_reflection_db: float = -10.0
    nlos_length_factor: tuple[float, float] = (1.0, 1.5)
    gain_tx: float = 1.0
    gain_rx: float = 1.0
    spacing: float = 0.5
    irs_position_m: tuple[float, float, float] = (0.0, 4.0, 3.0)
    user_min_distance_m: float = 2.0
    user_max_distance_m: float = 10.0
    user_sector_deg: float = 60.0
    mimo: bool = False
    num_rx_antennas: int = 4
    target_angles_deg: tuple[float, ...] = (-40.0, 0.0, 40.0)
    beam_width_deg: float = 10.0
    grid_step_deg: float = 0.1
    ell: float = 3.0
    pattern_scale: PatternScale = "none"

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_users", "num_irs_elements", "phase_bits",
                     "num_rx_antennas"):
            check_count(getattr(self, name), name)
        root = math.isqrt(int(self.num_irs_elements))
        if root * root != self.num_irs_elements:
            raise ConfigError(
                f"num_irs_elements must be a perfect square (a √E × √E UPA), got "
                f"{self.num_irs_elements}")
        if self.phase_levels not in ("uniform", "literal"):
            raise ConfigError(f"phase_levels must be 'uniform' or 'literal', got "
                              f"{self.phase_levels!r}")
        if self.noise not in ("snr", "thermal"):
            raise ConfigError(f"noise must be 'snr' or 'thermal', got {self.noise!r}")
        if self.pattern_scale not in ("none", "power"):
            raise ConfigError(f"pattern_scale must be 'none' or 'power', got "
                              f"{self.pattern_scale!r}")
        if not 0.0 <= self.gamma_min <= 1.0:
            raise ConfigError(f"gamma_min must lie in [0, 1], got {self.gamma_min}")
        if not self.amp_exponent >= 0:
            raise ConfigError(f"amp_exponent must be >= 0, got {self.amp_exponent}")
        for name in ("p_max_w", "bandwidth_hz", "spacing", "beam_width_deg", "grid_step_deg",
                     "ell"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name} must be positive and finite, got {v}")
        for name in ("direct_link_db", "snr_db", "noise_figure_db"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"{name} must be finite")
        if not 0 < self.user_min_distance_m <= self.user_max_distance_m < math.inf:
            raise ConfigError(
                "need 0 < user_min_distance_m <= user_max_distance_m, got "
                f"{self.user_min_distance_m}, {self.user_max_distance_m}")
        if not 0.0 <= self.user_sector_deg <= 90.0:
            raise ConfigError(f"user_sector_deg must lie in [0, 90], got {self.user_sector_deg}")
        if len(self.irs_position_m) != 3 or not all(math.isfinite(x)
                                                    for x in self.irs_position_m):
            raise ConfigError(f"irs_position_m must be three finite numbers, got "
                              f"{self.irs_position_m}")
        if self.irs_position_m[2] <= 0:
            raise ConfigError("irs_position_m must lie above the users (z > 0), got "
                              f"{self.irs_position_m}")
        if not self.target_angles_deg or any(abs(a) > 90 for a in self.target_angles_deg):
            raise ConfigError(f"target_angles_deg must be non-empty and in [-90, 90], got "
                              f"{self.target_angles_deg}")
        step = 90.0 / self.grid_step_deg
        if abs(step - round(step)) > 1e-9:
            raise ConfigError(f"grid_step_deg must divide 90, got {self.grid_step_deg}")
        self.link  # validates the link parameters  # noqa: B018

    @property
    def link(self) -> ThzLink:
        """The THz link model shared by every link (H_0, H_1, H_2)."""
        return ThzLink(
            carrier_hz=self.carrier_hz, k_abs_per_m=self.k_abs_per_m,
            rician_factor=self.rician_factor, num_nlos=self.num_nlos,
            nlos_reflection_db=self.nlos_reflection_db, gain_tx=self.gain_tx,
            gain_rx=self.gain_rx, nlos_length_factor=tuple(self.nlos_length_factor),  # type: ignore[arg-type]
        )

    @property
    def num_rx(self) -> int:
        """Receive antennas per user: ``num_rx_antennas`` (MIMO) or 1 (MISO)."""
        return int(self.num_rx_antennas) if self.mimo else 1

    @property
    def mean_direct_gain(self) -> float:
        r""":math:`\bar g_0 = \mathbb E|[\mathbf H_0]_{m,k}|^2`: mean power of one entry of the
        attenuated direct link, over users uniform in distance on
        ``[user_min_distance_m, user_max_distance_m]`` (64-point Gauss–Legendre rule over the
        distance of :meth:`ThzLink.mean_entry_power`)."""
        lo, hi = self.user_min_distance_m, self.user_max_distance_m
        link = self.link
        if lo == hi:
            g = float(link.mean_entry_power(lo))
        else:
            nodes, weights = np.polynomial.legendre.leggauss(64)
            r = torch.as_tensor(lo + (hi - lo) * (nodes + 1.0) / 2.0, dtype=torch.float64)
            g = float((link.mean_entry_power(r) * torch.as_tensor(weights / 2.0)).sum())
        return g * 10.0 ** (self.direct_link_db / 10.0)

    @property
    def noise_var(self) -> float:
        r"""Noise variance :math:`\sigma^2` in watts: :math:`P_{\max}\bar g_0/10^{snr/10}`
        (``noise="snr"``) or :math:`10^{(-174 + 10\log_{10}B + NF)/10}` mW (``"thermal"``)."""
        if self.noise == "thermal":
            dbm = -174.0 + 10.0 * math.log10(self.bandwidth_hz) + self.noise_figure_db
            return 10.0 ** (dbm / 10.0) * 1e-3
        return self.p_max_w * self.mean_direct_gain / 10.0 ** (self.snr_db / 10.0)

    @property
    def pattern_height(self) -> float:
        """Height of the desired pattern (17): 1 or ``P_max / M`` (``pattern_scale``)."""
        return 1.0 if self.pattern_scale == "none" else self.p_max_w / self.num_antennas


# --------------------------------------------------------------------------------------------
# Problem


@dataclass
class IrsIsacProblem(BatchedProblem):
    r"""A batch of IRS-aided ISAC instances (channels fixed within an episode, Alg. 1).

    ``batch_size``, ``subset``, ``to`` and ``cat`` come from
    :class:`~isaclearn.core.problem.BatchedProblem`. Shapes in the module docstring table.

    Attributes
    ----------
    h0 : torch.Tensor
        Direct BS→user channel :math:`\mathbf H_0` ``[B, M, K]`` (MISO; column ``k`` is
        :math:`\mathbf h_{0,k}`, user ``k`` receives :math:`\mathbf h_{0,k}^H\mathbf x`) or
        :math:`\mathbf H_{0,k}` ``[B, K, M, N]`` (MIMO), complex, including ``direct_link_db``.
    h1 : torch.Tensor
        BS→IRS channel :math:`\mathbf H_1` ``[B, E, M]`` complex.
    h2 : torch.Tensor
        IRS→user channel :math:`\mathbf H_2` ``[B, E, K]`` (MISO) or :math:`\mathbf H_{2,k}`
        ``[B, K, E, N]`` (MIMO), complex.
    target_angles : torch.Tensor
        Sensing directions :math:`\psi_p` ``[B, T]`` in radians.
    phases0 : torch.Tensor
        Initial IRS phases :math:`\mathbf V^0` of Alg. 1 ``[B, E]`` in radians (uniform in
        :math:`[-\pi/2, \pi/2]`).
    user_distance_m, user_angle_rad : torch.Tensor or None
        Users' distances ``[B, K]`` (m) and azimuths from broadside ``[B, K]`` (rad).
    noise_var : float
        Noise variance :math:`\sigma^2` at each receive antenna, watts.
    p_max : float
        :math:`P_{\max}` in watts; (22) caps :math:`[\mathbf R]_{mm}` (per user in MIMO) at
        :math:`P_{\max}/M`.
    ell : float
        Sensing threshold ℓ of (18).
    beam_width_rad : float
        :math:`\Delta` of (17) in radians.
    pattern_height : float
        Height of the desired pattern (17) (1, or :math:`P_{\max}/M`).
    grid_step_deg : float
        Beampattern grid step in degrees (−90°…90°).
    phase_bits : int
        ``b`` of (30).
    phase_levels : {"uniform", "literal"}
        Level rule of (30).
    gamma_min, amp_phase_offset_rad, amp_exponent : float
        Parameters of (3).
    """

    h0: torch.Tensor = field(metadata=BATCHED)
    h1: torch.Tensor = field(metadata=BATCHED)
    h2: torch.Tensor = field(metadata=BATCHED)
    target_angles: torch.Tensor = field(metadata=BATCHED)
    phases0: torch.Tensor = field(metadata=BATCHED)
    user_distance_m: torch.Tensor | None = field(default=None, metadata=BATCHED)
    user_angle_rad: torch.Tensor | None = field(default=None, metadata=BATCHED)
    noise_var: float = 1.0
    p_max: float = 10.0
    ell: float = 3.0
    beam_width_rad: float = math.radians(10.0)
    pattern_height: float = 1.0
    grid_step_deg: float = 0.1
    phase_bits: int = 3
    phase_levels: PhaseLevels = "uniform"
    gamma_min: float = 0.2
    amp_phase_offset_rad: float = 0.0
    amp_exponent: float = 1.6

    def __post_init__(self) -> None:
        for name in ("h0", "h1", "h2"):
            x = getattr(self, name)
            if not isinstance(x, torch.Tensor) or not x.is_complex():
                raise ShapeError(f"{name} must be a complex tensor")
        if self.h1.dim() != 3:
            raise ShapeError(f"h1 must have shape [B, E, M], got {tuple(self.h1.shape)}")
        b, e, m = self.h1.shape
        if self.h0.dim() == 3:
            k = self.h0.shape[2]
            ok = tuple(self.h0.shape) == (b, m, k) and tuple(self.h2.shape) == (b, e, k)
            layout = "MISO h0 [B, M, K], h1 [B, E, M], h2 [B, E, K]"
        elif self.h0.dim() == 4:
            k, n = self.h0.shape[1], self.h0.shape[3]
            ok = (tuple(self.h0.shape) == (b, k, m, n)
                  and tuple(self.h2.shape) == (b, k, e, n))
            layout = "MIMO h0 [B, K, M, N], h1 [B, E, M], h2 [B, K, E, N]"
        else:
            ok, layout = False, "h0 [B, M, K] (MISO) or [B, K, M, N] (MIMO)"
        if not ok:
            raise ShapeError(
                f"channel shapes disagree: need {layout}, got h0 {tuple(self.h0.shape)}, "
                f"h1 {tuple(self.h1.shape)}, h2 {tuple(self.h2.shape)}")
        if self.target_angles.dim() == 1:
            self.target_angles = self.target_angles.expand(b, -1)
        if self.target_angles.dim() != 2 or self.target_angles.shape[0] != b:
            raise ShapeError(f"target_angles must have shape [T] or [B, T] with B = {b}, got "
                             f"{tuple(self.target_angles.shape)}")
        if tuple(self.phases0.shape) != (b, e) or self.phases0.is_complex():
            raise ShapeError(f"phases0 must be real [B, E] = {(b, e)}, got "
                             f"{tuple(self.phases0.shape)}")
        for name in ("user_distance_m", "user_angle_rad"):
            x = getattr(self, name)
            if x is not None and tuple(x.shape) != (b, self.num_users):
                raise ShapeError(f"{name} must have shape [B, K] = {(b, self.num_users)}, got "
                                 f"{tuple(x.shape)}")
        for name in ("h0", "h1", "h2"):
            check_finite(getattr(self, name), name)
        for name in ("noise_var", "p_max", "ell", "beam_width_rad", "pattern_height",
                     "grid_step_deg"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueRangeError(f"{name} must be positive and finite, got {v}")
        check_count(self.phase_bits, "phase_bits")

    @property
    def is_mimo(self) -> bool:
        """Whether the users have several receive antennas (4-D ``h0``)."""
        return self.h0.dim() == 4

    @property
    def num_antennas(self) -> int:
        """BS antennas ``M``."""
        return int(self.h1.shape[2])

    @property
    def num_irs_elements(self) -> int:
        """IRS elements ``E``."""
        return int(self.h1.shape[1])

    @property
    def num_users(self) -> int:
        """Users ``K``."""
        return int(self.h0.shape[1] if self.is_mimo else self.h0.shape[2])

    @property
    def num_rx(self) -> int:
        """Receive antennas per user ``N`` (1 for MISO)."""
        return int(self.h0.shape[3]) if self.is_mimo else 1

    @property
    def num_targets(self) -> int:
        """Sensing directions ``T``."""
        return int(self.target_angles.shape[1])

    @property
    def num_phase_levels(self) -> int:
        """``2^b`` phase indices per element."""
        return 2 ** int(self.phase_bits)

    def reflection(self, beta: torch.Tensor) -> torch.Tensor:
        """Reflection coefficients ``[..., E]`` (complex, the channels' dtype) of phases
        ``[..., E]`` under this problem's amplitude model (3)."""
        return reflection_vector(
            beta.to(device=self.h1.device, dtype=real_dtype(self.h1.dtype)),
            gamma_min=self.gamma_min, phase_offset_rad=self.amp_phase_offset_rad,
            exponent=self.amp_exponent, dtype=self.h1.dtype)

    def reflection_from_indices(self, indices: torch.Tensor, *,
                                check: bool = True) -> torch.Tensor:
        """Reflection coefficients ``[..., E]`` of phase indices ``[..., E]`` (30) + (3)
        (``check``: see :func:`phases_from_indices`)."""
        beta = phases_from_indices(indices, self.phase_bits, levels=self.phase_levels,
                                   dtype=real_dtype(self.h1.dtype), check=check)
        return self.reflection(beta)


# --------------------------------------------------------------------------------------------
# Effective channel and diagnostics


def _as_reflection(problem: IrsIsacProblem, v: torch.Tensor) -> torch.Tensor:
    b, e = problem.batch_size, problem.num_irs_elements
    if not isinstance(v, torch.Tensor) or not v.is_complex():
        raise ShapeError("v must be a complex tensor of reflection coefficients [B, E] or [E]")
    if v.dim() == 1:
        v = v.expand(b, -1)
    if tuple(v.shape) != (b, e):
        raise ShapeError(f"v must have shape [B, E] = {(b, e)} or [E], got {tuple(v.shape)}")
    return v.to(device=problem.h1.device, dtype=torch.promote_types(v.dtype, problem.h1.dtype))


def direct_channel(problem: IrsIsacProblem) -> torch.Tensor:
    r"""Direct part :math:`\mathbf h_{0,k}^H` as rows, ``[B, K, M]`` (MISO) or
    :math:`\mathbf H_{0,k}^H` ``[B, K, N, M]`` (MIMO)."""
    return herm(problem.h0)


def cascade_channel(problem: IrsIsacProblem, v: torch.Tensor) -> torch.Tensor:
    r"""IRS part :math:`\mathbf h_{2,k}^H\mathbf V\mathbf H_1` as rows, ``[B, K, M]`` (MISO) or
    :math:`\mathbf H_{2,k}^H\mathbf V\mathbf H_1` ``[B, K, N, M]`` (MIMO).

    Parameters
    ----------
    problem : IrsIsacProblem
        The channels.
    v : torch.Tensor
        Reflection coefficients (diagonal of :math:`\mathbf V`) ``[B, E]`` or ``[E]``, complex.
    """
    v = _as_reflection(problem, v)
    h1 = problem.h1.to(v.dtype)
    if problem.is_mimo:
        g = problem.h2.to(v.dtype).conj() * v[:, None, :, None]  # [B, K, E, N]
        return g.transpose(-2, -1) @ h1[:, None]  # [B, K, N, M]
    g = problem.h2.to(v.dtype).conj() * v[:, :, None]  # [B, E, K]
    return g.transpose(-2, -1) @ h1  # [B, K, M]


def effective_channel(problem: IrsIsacProblem, v: torch.Tensor) -> torch.Tensor:
    r"""Effective channel (12): rows :math:`\mathbf h_k^H = \mathbf h_{0,k}^H +
    \mathbf h_{2,k}^H\mathbf V\mathbf H_1`, ``[B, K, M]`` (MISO), or per-user matrices
    :math:`\mathbf H_k = \mathbf H_{0,k}^H + \mathbf H_{2,k}^H\mathbf V\mathbf H_1`
    ``[B, K, N, M]`` (MIMO, (42) with the Hermitians of (12)).

    Parameters
    ----------
    problem : IrsIsacProblem
        The channels.
    v : torch.Tensor
        Reflection coefficients ``[B, E]`` or ``[E]``, complex (``0`` switches the IRS off).

    Returns
    -------
    torch.Tensor
        Complex; with the MISO layout ``metrics.sinr(h, w, noise_var)`` is (13).

    Examples
    --------
    >>> from isaclearn.core import make_generator
    >>> p = IrsIsacScenario(IrsIsacConfig()).sample(2, generator=make_generator(0))
    >>> effective_channel(p, p.reflection(p.phases0)).shape
    torch.Size([2, 4, 5])
    """
    return direct_channel(problem).to(torch.promote_types(problem.h0.dtype, v.dtype)) + (
        cascade_channel(problem, v))


def cascade_direct_ratio(problem: IrsIsacProblem, v: torch.Tensor) -> torch.Tensor:
    r"""IRS diagnostic of spec §2: :math:`\|\mathbf H_2^H\mathbf V\mathbf H_1\|_F^2 /
    \|\mathbf H_0^H\|_F^2` per instance (summed over users in MIMO), ``[B]`` real, with the
    ``direct_link_db`` attenuation in :math:`\mathbf H_0` and ``v`` the phases in use."""
    c = cascade_channel(problem, v)
    d = direct_channel(problem)
    if problem.is_mimo:
        return fro_norm_sq(c).sum(-1) / fro_norm_sq(d).sum(-1)
    return fro_norm_sq(c) / fro_norm_sq(d)


def co_phasing_phases(
    h0: torch.Tensor,
    h1: torch.Tensor,
    h2: torch.Tensor,
    w: torch.Tensor | None = None,
    *,
    iterations: int = 10,
) -> torch.Tensor:
    r"""IRS phases that align every reflected path with the direct one, for a single user.

    For a fixed transmit vector :math:`\mathbf w` the received amplitude is
    :math:`\mathbf h_0^H\mathbf w + \sum_n \overline{h_{2,n}}\,v_n\,[\mathbf H_1\mathbf w]_n`;
    with unit amplitudes it is maximal, equal to
    :math:`|\mathbf h_0^H\mathbf w| + \sum_n |h_{2,n}[\mathbf H_1\mathbf w]_n|`, at

    .. math::
        \beta_n = \arg(\mathbf h_0^H\mathbf w) - \arg(\overline{h_{2,n}}[\mathbf H_1\mathbf w]_n),

    which for ``M = 1``, ``w = 1`` is the closed form of spec §7,
    :math:`\beta_n = \arg(h_0^*) - \arg(h_{2,n}^* h_{1,n})`. For ``M > 1`` and no ``w``, the
    phases and :math:`\mathbf w` are alternated (co-phasing, then MRT
    :math:`\mathbf w \propto \mathbf h^*` on the resulting channel with unit amplitudes),
    starting from the dominant right singular vector of :math:`\mathrm{diag}(\mathbf h_2^*)
    \mathbf H_1`; each step cannot lower :math:`|\mathbf h^H\mathbf w|`, so the received power
    increases monotonically to a stationary point.

    Parameters
    ----------
    h0 : torch.Tensor
        The user's direct channel :math:`\mathbf h_0` ``[..., M]`` (a column of ``H_0``).
    h1 : torch.Tensor
        BS→IRS channel ``[..., E, M]``.
    h2 : torch.Tensor
        The user's IRS→user channel :math:`\mathbf h_2` ``[..., E]`` (a column of ``H_2``).
    w : torch.Tensor, optional
        Transmit vector ``[..., M]``; default ``1`` for ``M = 1``, else alternated.
    iterations : int
        Alternations for ``M > 1`` without ``w``.

    Returns
    -------
    torch.Tensor
        Phases ``[..., E]`` in radians, real, in :math:`(-\pi, \pi]`.

    Notes
    -----
    With the phase-dependent amplitude (3) active the optimum moves off co-phasing; these
    phases are then a reference, not the optimum (the brute-force test of spec §7 uses
    :math:`\gamma_{\min} = 1`).
    """
    m = h1.shape[-1]
    if h0.shape[-1] != m or h2.shape[-1] != h1.shape[-2]:
        raise ShapeError(f"h0 [..., M], h1 [..., E, M] and h2 [..., E] disagree: "
                         f"{tuple(h0.shape)}, {tuple(h1.shape)}, {tuple(h2.shape)}")

    def phases_for(wv: torch.Tensor) -> torch.Tensor:
        direct = (h0.conj() * wv).sum(-1, keepdim=True)  # h0^H w
        refl = h2.conj() * (h1 @ wv[..., None])[..., 0]  # conj(h2_n) [H1 w]_n
        return torch.angle(direct) - torch.angle(refl)

    if w is not None:
        return torch.remainder(phases_for(w.to(h1.dtype)) + math.pi, 2 * math.pi) - math.pi
    if m == 1:
        return phases_for(torch.ones_like(h0))
    g = h2.conj()[..., None] * h1  # diag(h2^*) H1: [..., E, M]
    wv = torch.linalg.svd(g, full_matrices=False).Vh[..., 0, :].conj()
    beta = phases_for(wv)
    for _ in range(int(iterations)):
        h = h0.conj() + (g * torch.polar(torch.ones_like(beta), beta)[..., None]).sum(-2)
        wv = h.conj() / torch.sqrt(abs_sq(h).sum(-1, keepdim=True)).clamp_min(1e-300)
        beta = phases_for(wv)
    return torch.remainder(beta + math.pi, 2 * math.pi) - math.pi


# --------------------------------------------------------------------------------------------
# Scenario


def _plain(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` in ``dtype`` as an ordinary contiguous tensor (no lazy conjugation)."""
    return x.to(dtype).resolve_conj().contiguous()


@dataclass(frozen=True)
class IrsIsacScenario:
    """The IRS-aided THz ISAC scenario; ``sample`` draws an :class:`IrsIsacProblem`.

    Attributes
    ----------
    config : IrsIsacConfig
        Every parameter (module docstring for the geometry and the noise rule).

    Examples
    --------
    >>> from isaclearn.core import make_generator
    >>> p = IrsIsacScenario(IrsIsacConfig()).sample(3, generator=make_generator(0))
    >>> p.h0.shape, p.h1.shape, p.h2.shape
    (torch.Size([3, 5, 4]), torch.Size([3, 16, 5]), torch.Size([3, 16, 4]))
    >>> p = IrsIsacScenario(IrsIsacConfig(mimo=True)).sample(3, generator=make_generator(0))
    >>> p.h0.shape, p.h2.shape
    (torch.Size([3, 4, 5, 4]), torch.Size([3, 4, 16, 4]))
    """

    config: IrsIsacConfig = field(default_factory=IrsIsacConfig)

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
    ) -> IrsIsacProblem:
        """Draw ``batch_size`` instances.

        The draws are made in float64 in a fixed order (user positions; BS→IRS, BS→user and
        IRS→user NLOS rays; the initial phases ``V^0``) and cast to ``dtype``, so the same
        seed gives the same instances (to rounding) in complex64 and complex128, and the
        channels do not depend on ``direct_link_db``, ``p_max_w`` or the noise settings.

        Parameters
        ----------
        batch_size : int
            ``B``.
        generator : torch.Generator, optional
            Source of randomness (its device is used unless ``device`` is given).
        dtype : torch.dtype
            ``complex64`` (default) or ``complex128``.
        device : torch.device or str, optional
            Device of the tensors.
        """
        check_count(batch_size, "batch_size")
        if not dtype.is_complex:
            raise ConfigError(f"dtype must be complex64 or complex128, got {dtype}")
        if device is None:
            device = generator.device if generator is not None else "cpu"
        cfg = self.config
        b, k, m, e = int(batch_size), cfg.num_users, cfg.num_antennas, cfg.num_irs_elements
        f64 = torch.float64
        link = cfg.link
        side = math.isqrt(e)
        bs_arr = UlaSteering(m, cfg.spacing)
        irs_arr = UpaSteering(side, side, cfg.spacing)
        ue_arr = UlaSteering(cfg.num_rx, cfg.spacing)

        lo, hi = cfg.user_min_distance_m, cfg.user_max_distance_m
        r = lo + (hi - lo) * torch.rand((b, k), generator=generator, dtype=f64, device=device)
        sector = math.radians(cfg.user_sector_deg)
        phi = (2.0 * torch.rand((b, k), generator=generator, dtype=f64, device=device)
               - 1.0) * sector
        users = torch.stack([r * torch.cos(phi), r * torch.sin(phi), torch.zeros_like(r)], -1)
        bs = torch.zeros(3, dtype=f64, device=device)
        irs = torch.tensor(cfg.irs_position_m, dtype=f64, device=device)

        d1, u1 = unit_vectors(bs, irs)
        h1 = link.sample(d1.expand(b), bs_arr, irs_arr, u1.expand(b, 3), (-u1).expand(b, 3),
                         generator=generator, dtype=torch.complex128)  # [B, E, M]
        d0, u0 = unit_vectors(bs, users)
        g0 = link.sample(d0, bs_arr, ue_arr, u0, -u0, generator=generator,
                         dtype=torch.complex128)  # [B, K, N, M]
        d2, u2 = unit_vectors(irs, users)
        g2 = link.sample(d2, irs_arr, ue_arr, u2, -u2, generator=generator,
                         dtype=torch.complex128)  # [B, K, N, E]
        phases0 = random_initial_phases((b, e), generator=generator, dtype=f64, device=device)

        g0 = g0 * 10.0 ** (cfg.direct_link_db / 20.0)
        if cfg.mimo:
            h0, h2 = herm(g0), herm(g2)  # [B, K, M, N], [B, K, E, N]
        else:
            h0 = g0[:, :, 0, :].conj().transpose(-2, -1)  # [B, M, K]
            h2 = g2[:, :, 0, :].conj().transpose(-2, -1)  # [B, E, K]
        rdt = real_dtype(dtype)
        targets = torch.deg2rad(torch.tensor(cfg.target_angles_deg, dtype=f64, device=device))
        return IrsIsacProblem(
            h0=_plain(h0, dtype), h1=_plain(h1, dtype), h2=_plain(h2, dtype),
            target_angles=targets.to(rdt).expand(b, -1).clone(),
            phases0=phases0.to(rdt),
            user_distance_m=r.to(rdt), user_angle_rad=phi.to(rdt),
            noise_var=cfg.noise_var, p_max=cfg.p_max_w, ell=cfg.ell,
            beam_width_rad=math.radians(cfg.beam_width_deg),
            pattern_height=cfg.pattern_height, grid_step_deg=cfg.grid_step_deg,
            phase_bits=cfg.phase_bits, phase_levels=cfg.phase_levels,
            gamma_min=cfg.gamma_min, amp_phase_offset_rad=cfg.amp_phase_offset_rad,
            amp_exponent=cfg.amp_exponent,
        )

    def replace(self, **changes: object) -> IrsIsacScenario:
        """A scenario with some config fields changed (``dataclasses.replace`` on the config)."""
        return IrsIsacScenario(dataclasses.replace(self.config, **changes))  # type: ignore[arg-type]
