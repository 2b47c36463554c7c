"""The downlink multi-user, multi-target ISAC problem (temiz_unsup section II) and its scenario.

A :class:`DownlinkIsacScenario` samples a :class:`DownlinkProblem`: the channels the precoder is
scored on, the (possibly erroneous) channel estimate the precoder sees, the target angles and the
scalars needed to score it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from isaclearn.channels.rician import RicianChannel, csi_error
from isaclearn.core.checks import check_finite, check_last_dims, check_positive
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.core.units import db_to_lin


@dataclass
class DownlinkProblem(BatchedProblem):
    """A batch of downlink ISAC instances.

    ``batch_size``, ``subset``, ``to`` and ``cat`` come from
    :class:`~isaclearn.core.problem.BatchedProblem` (batched fields: ``h``, ``theta``,
    ``h_est``).

    Attributes
    ----------
    h : torch.Tensor
        True channel ``[B, K, M]`` complex (used for scoring).
    theta : torch.Tensor
        Target angles ``[B, T]`` in radians, real.
    power : float
        Transmit power budget ``P_t`` (``||W||_F^2 = P_t``), watts.
    noise_var : float
        Noise variance ``σ²`` at each user, watts.
    radar_snr : float
        Radar SNR ``η = |α|²/σ_r²`` of each target echo per unit transmit covariance (the
        transmit power enters through ``R_X = W W^H``), linear.
    num_rx : int
        Radar receive antennas ``N`` (``R`` in temiz_unsup).
    num_symbols : int
        Snapshots ``L`` per frame.
    h_est : torch.Tensor or None
        Channel estimate ``[B, K, M]`` seen by the designer; ``None`` means perfect CSI.
    """

    h: torch.Tensor = field(metadata=BATCHED)
    theta: torch.Tensor = field(metadata=BATCHED)
    power: float = 1.0
    noise_var: float = 1e-2
    radar_snr: float = 1.0
    num_rx: int = 10
    num_symbols: int = 1
    h_est: torch.Tensor | None = field(default=None, metadata=BATCHED)

    def __post_init__(self) -> None:
        check_last_dims(self.h, (None, None, None), "h", "[B, K, M]")
        if self.h.dim() != 3:
            raise ShapeError(f"h must have shape [B, K, M], got shape {tuple(self.h.shape)}")
        if not self.h.is_complex():
            raise ShapeError("h must be complex")
        if self.theta.is_complex():
            raise ValueRangeError("theta must be real (radians)")
        if self.theta.dim() == 1:
            self.theta = self.theta.expand(self.h.shape[0], -1)
        if self.theta.dim() != 2 or self.theta.shape[0] != self.h.shape[0]:
            raise ShapeError(
                f"theta must have shape [T] or [B, T] with B = {self.h.shape[0]}, got shape "
                f"{tuple(self.theta.shape)}"
            )
        if self.h_est is not None and self.h_est.shape != self.h.shape:
            raise ShapeError(
                f"h_est must have the shape of h {tuple(self.h.shape)}, got "
                f"{tuple(self.h_est.shape)}"
            )
        check_finite(self.h, "h")
        check_finite(self.theta, "theta")
        if self.h_est is not None:
            check_finite(self.h_est, "h_est")
        check_positive(self.power, "power")
        check_positive(self.noise_var, "noise_var")
        check_positive(self.radar_snr, "radar_snr")
        if int(self.num_rx) < 1 or int(self.num_symbols) < 1:
            raise ConfigError(
                f"num_rx and num_symbols must be >= 1, got {self.num_rx}, {self.num_symbols}"
            )

    @property
    def csi(self) -> torch.Tensor:
        """The channel a designer may use: ``h_est`` if given, else ``h``."""
        return self.h if self.h_est is None else self.h_est

    @property
    def num_users(self) -> int:
        return int(self.h.shape[1])

    @property
    def num_antennas(self) -> int:
        return int(self.h.shape[2])

    @property
    def num_targets(self) -> int:
        return int(self.theta.shape[1])


@dataclass
class DownlinkIsacScenario:
    """Scenario of temiz_unsup section II; ``sample`` draws a :class:`DownlinkProblem`.

    Attributes
    ----------
    channel : RicianChannel
        Channel model (``M``, ``K``, path loss, normalization).
    target_angles_deg : tuple of float or None
        Fixed target angles in degrees (``(-10, 25)`` in the paper's tests); ``None`` draws
        ``num_targets`` angles per instance uniformly on the integer-degree grid
        ``[-max_random_angle_deg, max_random_angle_deg]``.
    max_random_angle_deg : int
        Limit of the random angle grid. The paper draws from [−90°, 90°] at 1° resolution, but at
        endfire (±90°) the angle CRB is infinite (the steering derivative is proportional to
        cos θ = 0) and one such instance swamps any mean; default 89.
    num_targets : int
        Number of targets when angles are drawn at random.
    snr_db : float
        ``P_t / σ²`` in dB.
    power : float
        Transmit power budget ``P_t`` in watts.
    radar_snr_db : float or None
        Radar SNR ``η`` in dB (``|α|²/σ_r²``; see :class:`DownlinkProblem`). The paper does not
        state it. ``None`` (default) ties it to the link SNR: a unit reflection coefficient and
        radar noise equal to the users' noise, ``η = 1/σ²``, so that sweeping the SNR moves the
        CRB as in the paper's Fig. 8. A fixed value only shifts every CRB by the same factor.
    num_rx : int
        Radar receive antennas ``R``.
    num_symbols : int
        Snapshots ``L``. The paper does not state it; default 1 (it scales every CRB equally).
    csi_error_mu : float
        CSI error ratio ``μ`` of eq. (11) applied to the designer's estimate.
    """

    channel: RicianChannel = field(default_factory=RicianChannel)
    target_angles_deg: tuple[float, ...] | None = (-10.0, 25.0)
    num_targets: int = 2
    max_random_angle_deg: int = 89
    snr_db: float = 20.0
    power: float = 1.0
    radar_snr_db: float | None = None
    num_rx: int = 10
    num_symbols: int = 1
    csi_error_mu: float = 0.0

    def __post_init__(self) -> None:
        if self.target_angles_deg is not None:
            self.target_angles_deg = tuple(float(a) for a in self.target_angles_deg)
            if any(abs(a) > 90 for a in self.target_angles_deg):
                raise ConfigError("target angles must lie in [-90, 90] degrees")
            self.num_targets = len(self.target_angles_deg)
        if self.num_targets < 1:
            raise ConfigError(f"num_targets must be >= 1, got {self.num_targets}")
        if not 0 <= self.max_random_angle_deg <= 90:
            raise ConfigError(
                f"max_random_angle_deg must lie in [0, 90], got {self.max_random_angle_deg}"
            )
        if self.power <= 0:
            raise ConfigError(f"power must be positive, got {self.power}")

    @property
    def noise_var(self) -> float:
        """User noise variance ``σ² = P_t / 10^(SNR/10)``."""
        return self.power / db_to_lin(self.snr_db)

    @property
    def radar_snr(self) -> float:
        """Radar SNR ``η`` (linear): ``10^(radar_snr_db/10)``, or ``1/σ²`` when unset."""
        if self.radar_snr_db is None:
            return 1.0 / self.noise_var
        return db_to_lin(self.radar_snr_db)

    def sample(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
    ) -> DownlinkProblem:
        """Draw ``batch_size`` instances (channels, estimates, target angles)."""
        ch = self.channel.sample(batch_size, generator=generator, dtype=dtype, device=device)
        h = ch.h
        rdt = ch.gain.dtype
        if self.target_angles_deg is not None:
            theta = torch.tensor(self.target_angles_deg, dtype=rdt, device=h.device)
            theta = torch.deg2rad(theta).expand(batch_size, -1).clone()
        else:
            lim = int(self.max_random_angle_deg)
            deg = torch.randint(-lim, lim + 1, (batch_size, self.num_targets), generator=generator,
                                device=h.device)
            theta = torch.deg2rad(deg.to(rdt))
        h_est = None
        if self.csi_error_mu > 0:
            h_est = csi_error(h, self.csi_error_mu, generator=generator)
        return DownlinkProblem(
            h=h,
            theta=theta,
            power=self.power,
            noise_var=self.noise_var,
            radar_snr=self.radar_snr,
            num_rx=self.num_rx,
            num_symbols=self.num_symbols,
            h_est=h_est,
        )
