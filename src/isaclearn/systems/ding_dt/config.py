r"""System-level settings of ding_dt: the highway scene plus the choices the paper leaves open.

:class:`DtSettings` bundles a :class:`~isaclearn.channels.highway.HighwayConfig` (geometry,
Table I constants, transmit power ``power_db``, process and track-start noise) with the
settings of the digital-twin loop and its designers: the sensing-constraint mode (spec §6.2),
the slack :math:`\epsilon_s`, the Fisher factor :math:`c_f` of the angle information (spec §2),
the EKF gain rule (spec §3), the inter-RSU interference flag (spec §6.9) and the iteration
controls of FP + PGD. :func:`make_settings` builds one from flat keyword arguments (the way the
experiments' ``--set`` fields arrive).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from isaclearn.channels.highway import HighwayConfig
from isaclearn.core.errors import ConfigError

SensingMode = Literal["paper", "slack", "none"]
"""How the sensing constraint (37) enters the design (spec §6.2)."""
SENSING_MODES: tuple[str, ...] = get_args(SensingMode)

EkfGain = Literal["standard", "paper"]
"""The EKF gain rule (spec §3): the standard gain (26) with the Joseph covariance, or the
paper's (27)–(32)."""
EKF_GAINS: tuple[str, ...] = get_args(EkfGain)


@dataclass(frozen=True)
class DtSettings:
    """Everything the digital-twin loop and its designers need besides the traffic.

    Attributes
    ----------
    highway : HighwayConfig
        The scene: RSUs, segment, lanes, speeds, slot ``T``, antennas ``N_t``/``N_r``, Table I
        constants, the per-beam power ``power_db`` (spec §6.1), process noise ``E`` and the
        track-start covariance ``M̃₀``.
    sensing_constraint : {"paper", "slack", "none"}
        ``"paper"``: (37) as written, :math:`\\tilde m^{(11)}_n \\le \\tilde m^{(11)}_{n-1}`,
        with Λ clipped to the largest achievable :math:`P\\lambda_{max}(\\Pi^H\\Pi)` where it is
        infeasible; ``"slack"``: :math:`\\tilde m^{(11)}_n \\le (1+\\epsilon_s)\\tilde
        m^{(11)}_{n-1}`; ``"none"``: no sensing constraint (rate-only design).
    slack_eps : float
        :math:`\\epsilon_s \\ge 0` of the ``"slack"`` mode.
    c_f : float
        Fisher factor of the angle information (2: circular complex noise, exact; 1: (35) as
        printed).
    ekf_gain : {"standard", "paper"}
        EKF gain rule (:func:`isaclearn.tracking.ekf_update`).
    inter_rsu_interference : bool
        Score the rate with the other RSU's beams as interference (beyond (10); default False).
    fp_max_iter : int
        Outer FP iterations (γ, Y, F) at most.
    fp_tol : float
        FP stops when the sum rate changes by less than this, relative.
    pgd_steps : int
        Projected-gradient steps per F step.
    max_exhaustive : int
        Largest ``K`` the exhaustive assignment oracle accepts (``2^K`` FP runs).
    """

    highway: HighwayConfig = field(default_factory=HighwayConfig)
    sensing_constraint: SensingMode = "paper"
    slack_eps: float = 0.1
    c_f: float = 2.0
    ekf_gain: EkfGain = "standard"
    inter_rsu_interference: bool = False
    fp_max_iter: int = 100
    fp_tol: float = 1e-5
    pgd_steps: int = 10
    max_exhaustive: int = 12

    def __post_init__(self) -> None:
        if not isinstance(self.highway, HighwayConfig):
            raise ConfigError(f"DtSettings.highway must be a HighwayConfig, got "
                              f"{type(self.highway).__name__}")
        if self.sensing_constraint not in SENSING_MODES:
            raise ConfigError(f"sensing_constraint must be one of {', '.join(SENSING_MODES)}, "
                              f"got {self.sensing_constraint!r}")
        if self.ekf_gain not in EKF_GAINS:
            raise ConfigError(f"ekf_gain must be one of {', '.join(EKF_GAINS)}, got "
                              f"{self.ekf_gain!r}")
        for name in ("slack_eps", "c_f", "fp_tol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number, got {v!r}")
        if self.slack_eps < 0:
            raise ConfigError(f"slack_eps must be >= 0, got {self.slack_eps!r}")
        if self.c_f <= 0 or self.fp_tol <= 0:
            raise ConfigError(f"c_f and fp_tol must be > 0, got c_f={self.c_f!r}, "
                              f"fp_tol={self.fp_tol!r}")
        for name in ("fp_max_iter", "pgd_steps", "max_exhaustive"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        if not isinstance(self.inter_rsu_interference, bool):
            raise ConfigError(f"inter_rsu_interference must be a bool, got "
                              f"{self.inter_rsu_interference!r}")

    # ---- shortcuts ----------------------------------------------------------------------------

    @property
    def power(self) -> float:
        """Per-beam power budget ``P`` (linear), :math:`\\|\\mathbf f\\|^2\\le P`."""
        return self.highway.power

    @property
    def noise_var(self) -> float:
        """Communication noise :math:`\\sigma_c^2` (linear) of (10)."""
        return self.highway.comm_noise_var

    @property
    def num_tx(self) -> int:
        """``N_t``."""
        return self.highway.num_tx

    @property
    def num_rx(self) -> int:
        """``N_r``."""
        return self.highway.num_rx

    @property
    def num_rsus(self) -> int:
        """``I``."""
        return self.highway.num_rsus

    @property
    def fp_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`isaclearn.solvers.fractional.fp_beamforming`."""
        return {"max_iter": self.fp_max_iter, "tol": self.fp_tol, "pgd_steps": self.pgd_steps}

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON form: the highway fields and the settings (``highway`` spelled out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "highway"}
        hw = {f.name: getattr(self.highway, f.name) for f in dataclasses.fields(self.highway)}
        hw["fading"] = [hw["fading"].real, hw["fading"].imag]
        out["highway"] = hw
        return out


HIGHWAY_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(HighwayConfig))
"""Keyword names :func:`make_settings` forwards to :class:`HighwayConfig`."""
SETTINGS_FIELDS: frozenset[str] = frozenset(
    f.name for f in dataclasses.fields(DtSettings) if f.name != "highway")
"""Keyword names :func:`make_settings` keeps for :class:`DtSettings`."""


def make_settings(*, num_antennas: int | None = None, **kwargs: Any) -> DtSettings:
    """A :class:`DtSettings` from flat keyword arguments.

    Parameters
    ----------
    num_antennas : int or None
        Shortcut for ``num_tx = num_rx`` (every case of the paper has ``N_t = N_r``).
    **kwargs
        Fields of :class:`HighwayConfig` (``power_db``, ``num_tx``, ``speed_std_mps``, ...) and
        of :class:`DtSettings` (``sensing_constraint``, ``slack_eps``, ``c_f``, ...).

    Returns
    -------
    DtSettings

    Raises
    ------
    ConfigError
        An unknown keyword or a value out of range (one line naming the field).

    Examples
    --------
    >>> s = make_settings(num_antennas=16, power_db=20.0, sensing_constraint="none")
    >>> (s.num_tx, s.num_rx, s.highway.power_db, s.sensing_constraint)
    (16, 16, 20.0, 'none')
    >>> make_settings(powr_db=3.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    isaclearn.core.errors.ConfigError: unknown ding_dt setting 'powr_db' ...
    """
    unknown = sorted(set(kwargs) - HIGHWAY_FIELDS - SETTINGS_FIELDS)
    if unknown:
        raise ConfigError(f"unknown ding_dt setting {unknown[0]!r} (known: highway fields "
                          f"{', '.join(sorted(HIGHWAY_FIELDS))}; settings "
                          f"{', '.join(sorted(SETTINGS_FIELDS))})")
    hw = {k: v for k, v in kwargs.items() if k in HIGHWAY_FIELDS}
    if num_antennas is not None:
        hw.setdefault("num_tx", num_antennas)
        hw.setdefault("num_rx", num_antennas)
    st = {k: v for k, v in kwargs.items() if k in SETTINGS_FIELDS}
    return DtSettings(highway=HighwayConfig(**hw), **st)


__all__ = [
    "EKF_GAINS",
    "SENSING_MODES",
    "DtSettings",
    "EkfGain",
    "SensingMode",
    "make_settings",
]
