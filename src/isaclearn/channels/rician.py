r"""Rician multi-user MISO channel with log-distance path loss and log-normal shadowing.

Model (temiz_unsup, ``shared/papers/003_...txt``, eqs. (1)–(4)):

.. math::
    \mathbf h_k = \sqrt{g_k}\Big(\sqrt{\tfrac{\mathcal K}{1+\mathcal K}}\,\mathbf h_{L,k}
      + \sqrt{\tfrac{1}{1+\mathcal K}}\,\mathbf h_{F,k}\Big),\qquad
    h_{L,k,m} = e^{j 2\pi d_{k,m}/\lambda},\quad h_{F,k,m}\sim\mathcal{CN}(0,1),

where :math:`d_{k,m}` is the exact distance from user ``k`` to antenna ``m`` of a
half-wavelength ULA centred at the origin, and the large-scale power gain is
:math:`\beta_k = 10^{-PL_k/10}` with
:math:`PL_k = 20\log_{10}(4\pi f_c d_0/c_0) + 10\varphi\log_{10}(d_k/d_0) + \zeta_{sh}`.

Phase convention: the distance from a user at azimuth :math:`\varphi` to the antenna at
position :math:`x` along the array axis is :math:`d - x\sin\varphi + O(x^2/d)`, so for a
distant user the LOS row is :math:`e^{jc}\,\mathbf a^H(\varphi)` with
``a = isaclearn.arrays.ula(M, φ)`` (centre reference, ``sign=+1``), the same convention as the
radar model: MRT towards the user is :math:`\mathbf w \propto \mathbf a(\varphi)` and the
beampattern :math:`\mathbf a^H\mathbf R_X\mathbf a` peaks there.

Choices where the paper is silent or inconsistent (all parameters):

* Eq. (2) multiplies only the LOS part by :math:`\beta_k`, and calls :math:`\beta_k` a power
  gain while using it as an amplitude. We apply the power gain :math:`\beta_k` to the whole
  channel (amplitude :math:`\sqrt{\beta_k}` on both parts), which is the standard reading.
* **Gain normalization.** With the paper's absolute path loss (≈ 46 dB at 1 m and 5 GHz, ≈ 122 dB
  at 400 m before shadowing), ``P_t = 1 W`` and ``σ² = 1e-3 W`` the receive SNR would be far below
  0 dB, which contradicts "SNR = 20 dB". We therefore normalize the large-scale gains:
  ``gain_normalization="instance_mean"`` (default) divides every :math:`\beta_k` of an instance
  by their mean over the ``K`` users, so that :math:`\frac1K\sum_k g_k = 1` and
  ``SNR = P_t/σ²`` is the mean per-user, per-antenna receive SNR, while the dB spread between
  users is kept exactly. ``"cell_mean"`` divides by a fixed constant, the cell-average gain
  :math:`\mathbb E[\beta]` over the user distribution (spread and inter-instance variation kept);
  ``"none"`` keeps absolute gains.
* The Rician factor :math:`\mathcal K` is not given in the paper; default ``rician_k = 1``
  (0 dB), a moderate LOS for an NLOS-dominated urban macrocell.
* Users are uniform in area over the annular sector ``min_distance_m ≤ d ≤ max_distance_m``,
  azimuth uniform in ``[-sector_rad, sector_rad]`` from broadside (default ±90°: the half plane
  a ULA serves without front/back ambiguity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError
from isaclearn.core.random import complex_normal
from isaclearn.core.units import db_to_lin

SPEED_OF_LIGHT = 299_792_458.0

GainNormalization = Literal["instance_mean", "cell_mean", "none"]


@dataclass
class ChannelSample:
    """A batch of sampled channels.

    Attributes
    ----------
    h : torch.Tensor
        ``[B, K, M]`` complex channel (row ``k`` is user ``k``'s channel ``h_k``).
    gain : torch.Tensor
        ``[B, K]`` real large-scale power gain applied to each user (after normalization).
    distance_m : torch.Tensor
        ``[B, K]`` user distances from the array centre in metres.
    angle_rad : torch.Tensor
        ``[B, K]`` user azimuths from broadside in radians.
    """

    h: torch.Tensor
    gain: torch.Tensor
    distance_m: torch.Tensor
    angle_rad: torch.Tensor


@dataclass
class RicianChannel:
    """Configuration of the Rician multi-user channel; ``sample`` draws a batch.

    Attributes
    ----------
    num_antennas : int
        Transmit antennas ``M`` (half-wavelength ULA, ``spacing`` in wavelengths).
    num_users : int
        Single-antenna users ``K``.
    rician_k : float
        Rician factor (linear), the LOS-to-scattered power ratio.
    carrier_hz : float
        Carrier frequency ``f_c`` in Hz (5 GHz in temiz_unsup).
    ref_distance_m : float
        Reference distance ``d_0`` in metres.
    pathloss_exponent : float
        Path-loss exponent ``φ``.
    shadowing_db : float
        Standard deviation ``σ_sh`` of the log-normal shadowing in dB.
    min_distance_m, max_distance_m : float
        Annulus in which users are dropped.
    sector_rad : float
        Half-width of the angular sector of user positions, radians from broadside.
    spacing : float
        Array element spacing in wavelengths.
    gain_normalization : {"instance_mean", "cell_mean", "none"}
        How the absolute large-scale gains are normalized (see module docstring).
    """

    num_antennas: int = 10
    num_users: int = 10
    rician_k: float = 1.0
    carrier_hz: float = 5e9
    ref_distance_m: float = 1.0
    pathloss_exponent: float = 2.9
    shadowing_db: float = 5.7
    min_distance_m: float = 30.0
    max_distance_m: float = 400.0
    sector_rad: float = math.pi / 2
    spacing: float = 0.5
    gain_normalization: GainNormalization = "instance_mean"

    def __post_init__(self) -> None:
        if self.num_antennas < 1 or self.num_users < 1:
            raise ConfigError(
                f"num_antennas and num_users must be >= 1, got {self.num_antennas}, "
                f"{self.num_users}"
            )
        if self.rician_k < 0:
            raise ConfigError(f"rician_k must be >= 0, got {self.rician_k}")
        if not 0 < self.min_distance_m <= self.max_distance_m:
            raise ConfigError(
                "need 0 < min_distance_m <= max_distance_m, got "
                f"{self.min_distance_m}, {self.max_distance_m}"
            )
        if not 0.0 <= self.sector_rad <= math.pi:
            raise ConfigError(f"sector_rad must lie in [0, pi], got {self.sector_rad}")
        if not (self.carrier_hz > 0 and self.ref_distance_m > 0 and self.spacing > 0):
            raise ConfigError(
                "carrier_hz, ref_distance_m and spacing must be positive, got "
                f"{self.carrier_hz}, {self.ref_distance_m}, {self.spacing}"
            )
        if self.shadowing_db < 0:
            raise ConfigError(f"shadowing_db must be >= 0, got {self.shadowing_db}")
        if self.gain_normalization not in ("instance_mean", "cell_mean", "none"):
            raise ConfigError(
                "gain_normalization must be 'instance_mean', 'cell_mean' or 'none', got "
                f"{self.gain_normalization!r}"
            )

    @property
    def wavelength_m(self) -> float:
        """Carrier wavelength in metres."""
        return SPEED_OF_LIGHT / self.carrier_hz

    def pathloss_db(self, distance_m: torch.Tensor) -> torch.Tensor:
        """Deterministic part of eq. (4) in dB (no shadowing), same shape as ``distance_m``."""
        fspl_d0 = 20.0 * math.log10(4.0 * math.pi * self.carrier_hz * self.ref_distance_m
                                    / SPEED_OF_LIGHT)
        return fspl_d0 + 10.0 * self.pathloss_exponent * torch.log10(
            distance_m / self.ref_distance_m
        )

    def cell_mean_gain(self) -> float:
        r"""Cell-average large-scale gain :math:`\mathbb E[\beta]` over the user distribution.

        Closed form: area-uniform distance on the annulus and log-normal shadowing,
        :math:`\mathbb E[d^{-\varphi}] = \frac{2(d_2^{2-\varphi}-d_1^{2-\varphi})}
        {(2-\varphi)(d_2^2-d_1^2)}` and
        :math:`\mathbb E[10^{-\zeta/10}] = e^{(\sigma_{sh}\ln 10/10)^2/2}`.
        """
        d1, d2, phi = self.min_distance_m, self.max_distance_m, self.pathloss_exponent
        d0 = self.ref_distance_m
        if d1 == d2:
            e_d = d1 ** (-phi)
        elif abs(phi - 2.0) < 1e-12:
            e_d = 2.0 * math.log(d2 / d1) / (d2**2 - d1**2)
        else:
            e_d = 2.0 * (d2 ** (2 - phi) - d1 ** (2 - phi)) / ((2 - phi) * (d2**2 - d1**2))
        fspl_d0 = (4.0 * math.pi * self.carrier_hz * d0 / SPEED_OF_LIGHT) ** 2
        shadow = math.exp(0.5 * (self.shadowing_db * math.log(10.0) / 10.0) ** 2)
        return e_d * d0**phi / fspl_d0 * shadow

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
    ) -> ChannelSample:
        """Draw ``batch_size`` independent channel instances.

        Returns
        -------
        ChannelSample
            ``h`` is ``[B, K, M]`` with the requested complex ``dtype``.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if device is None:
            device = generator.device if generator is not None else "cpu"
        rdt = real_dtype(dtype)
        b, k, m = batch_size, self.num_users, self.num_antennas
        # Area-uniform radius on the annulus, uniform azimuth on the sector.
        u = torch.rand((b, k), generator=generator, dtype=rdt, device=device)
        d1, d2 = self.min_distance_m, self.max_distance_m
        dist = torch.sqrt(d1**2 + u * (d2**2 - d1**2))
        ang = (2.0 * torch.rand((b, k), generator=generator, dtype=rdt, device=device) - 1.0) * (
            self.sector_rad
        )
        shadow_db = self.shadowing_db * torch.randn((b, k), generator=generator, dtype=rdt,
                                                    device=device)
        pl_db = self.pathloss_db(dist) + shadow_db
        gain = db_to_lin(-pl_db)
        if self.gain_normalization == "instance_mean":
            gain = gain / gain.mean(dim=-1, keepdim=True)
        elif self.gain_normalization == "cell_mean":
            gain = gain / self.cell_mean_gain()
        # Exact spherical-wave LOS phase from each user to each antenna.
        lam = self.wavelength_m
        x_ant = (torch.arange(m, dtype=rdt, device=device) - (m - 1) / 2.0) * self.spacing * lam
        ux = dist * torch.sin(ang)  # along the array axis
        uy = dist * torch.cos(ang)  # broadside
        d_km = torch.sqrt((ux[..., None] - x_ant) ** 2 + uy[..., None] ** 2)
        # Reduce the phase modulo one wavelength before scaling to keep float32 accuracy.
        phase = 2.0 * math.pi * torch.remainder(d_km, lam) / lam
        h_los = torch.polar(torch.ones_like(phase), phase).to(dtype)
        h_nlos = complex_normal((b, k, m), generator=generator, dtype=dtype, device=device)
        kf = self.rician_k
        h_small = math.sqrt(kf / (1.0 + kf)) * h_los + math.sqrt(1.0 / (1.0 + kf)) * h_nlos
        h = torch.sqrt(gain).to(dtype)[..., None] * h_small
        return ChannelSample(h=h, gain=gain, distance_m=dist, angle_rad=ang)


def csi_error(
    h: torch.Tensor,
    mu: float,
    *,
    generator: torch.Generator | None = None,
    error_var: float = 1.0,
) -> torch.Tensor:
    r"""Estimated channel of temiz_unsup eq. (11): :math:`\hat H = \mu E + (1-\mu) H`.

    Parameters
    ----------
    h : torch.Tensor
        True channel ``[..., K, M]`` complex.
    mu : float
        Error ratio in ``[0, 1]`` (0 = perfect CSI).
    error_var : float
        Variance :math:`\sigma_h^2` of the entries of ``E`` (1 for a normalized channel).

    Returns
    -------
    torch.Tensor
        ``[..., K, M]`` with ``h``'s dtype and device.
    """
    if not 0.0 <= mu <= 1.0:
        raise ConfigError(f"mu must be in [0, 1], got {mu}")
    if not error_var >= 0.0:
        raise ConfigError(f"error_var must be >= 0, got {error_var}")
    if mu == 0.0:
        return h.clone()
    e = complex_normal(tuple(h.shape), generator=generator, dtype=h.dtype, device=h.device)
    return mu * math.sqrt(error_var) * e + (1.0 - mu) * h
