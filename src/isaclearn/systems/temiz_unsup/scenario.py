"""Scenario defaults of temiz_unsup (shared/papers/003_2bee3e7928861829.txt, sections II, V)."""

from __future__ import annotations

from isaclearn.channels.downlink import DownlinkIsacScenario
from isaclearn.channels.rician import GainNormalization, RicianChannel


def make_scenario(
    num_antennas: int = 10,
    num_users: int = 10,
    *,
    target_angles_deg: tuple[float, ...] | None = (-10.0, 25.0),
    snr_db: float = 20.0,
    num_rx: int = 10,
    num_symbols: int = 1,
    radar_snr_db: float | None = None,
    rician_k: float = 1.0,
    gain_normalization: GainNormalization = "instance_mean",
    csi_error_mu: float = 0.0,
) -> DownlinkIsacScenario:
    """The paper's test scenario: ``M = 10`` (or 20) antennas, ``K = 10`` users, ``T = 2``
    targets at −10° and 25°, ``R = 10`` radar receive antennas, ``SNR = P_t/σ² = 20 dB``,
    ``P_t = 1 W``, users at 30–400 m with ``f_c = 5 GHz``, ``φ = 2.9``, ``σ_sh = 5.7 dB``.

    Choices where the paper is silent (see :mod:`isaclearn.channels.rician` and
    :class:`isaclearn.channels.DownlinkIsacScenario`): Rician factor 1, gains normalized to a
    mean of 1 per instance, ``L = 1`` snapshot and radar SNR ``η = 1/σ²``.
    """
    channel = RicianChannel(
        num_antennas=num_antennas,
        num_users=num_users,
        rician_k=rician_k,
        gain_normalization=gain_normalization,
    )
    return DownlinkIsacScenario(
        channel=channel,
        target_angles_deg=target_angles_deg,
        snr_db=snr_db,
        power=1.0,
        radar_snr_db=radar_snr_db,
        num_rx=num_rx,
        num_symbols=num_symbols,
        csi_error_mu=csi_error_mu,
    )
