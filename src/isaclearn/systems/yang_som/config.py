r"""Settings of the yang_som experiments: the env sizes of the two profiles and the designers'
options, as one flat dataclass (:class:`YangSomRunConfig`) that the experiments extend.

``quick`` (spec §7.9): N_t = N_r = 8, U = 2 (U^max = 4), M = 8 subcarriers, N_d = P_u = 4,
L = 4, T = 10, G_t = 16, 5 held-out frames; ``paper`` (Tables II/III): N_t = N_r = 32, U = 8
(U^max = 16), M = 32, N_d = P_u = 8, L = 32, T = 100, G_t = 64, 100 held-out frames. Both: B = 3
phase bits, SNR 0 dB, ψ = 0.5, speeds U[10, 30] m/s, the held-out frames drawn from seed
``seed`` (1000 by default, apart from training seeds).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from isaclearn.channels.mobility import MobilityConfig
from isaclearn.core.errors import ConfigError
from isaclearn.rl.envs.yang_som import YangSomConfig
from isaclearn.solvers.isac_ofdm_sdr import ICI_MODES, JOINT_MAX_SIZE
from isaclearn.systems.base import check_fields

__all__ = ["PAPER_SIZES", "QUICK_SIZES", "YangSomRunConfig", "check_opt_ici"]

QUICK_SIZES: dict[str, Any] = {
    "num_antennas": 8, "num_rx": 8, "num_subcarriers": 8, "num_users": 2, "max_users": 4,
    "num_taps": 4, "num_paths": 4, "num_symbols": 4, "subframes": 10, "num_grid": 16,
    "frames": 5, "batch_size": 5,
}
"""The quick profile's sizes (spec §7.9)."""

PAPER_SIZES: dict[str, Any] = {
    "num_antennas": 32, "num_rx": 32, "num_subcarriers": 32, "num_users": 8, "max_users": 16,
    "num_taps": 8, "num_paths": 8, "num_symbols": 32, "subframes": 100, "num_grid": 64,
    "frames": 100, "batch_size": 20,
}
"""The paper profile's sizes (Tables II/III); the dataclass defaults."""


def check_opt_ici(opt_ici: str, num_subcarriers: int, num_users: int, num_antennas: int
                  ) -> None:
    """Raise :class:`~isaclearn.core.errors.ConfigError` for an unknown ``opt_ici`` or for
    ``"joint"`` beyond the toy sizes (``S·U·N_t² > JOINT_MAX_SIZE``)."""
    if opt_ici not in ICI_MODES:
        raise ConfigError(f"opt_ici must be one of {ICI_MODES}, got {opt_ici!r}")
    size = num_subcarriers * num_users * num_antennas ** 2
    if opt_ici == "joint" and size > JOINT_MAX_SIZE:
        raise ConfigError(f"opt_ici='joint' is for toy sizes: num_subcarriers*num_users*"
                          f"num_antennas^2 = {size} > {JOINT_MAX_SIZE}")


@dataclass
class YangSomRunConfig:
    """Fields shared by the yang_som experiments (defaults: the ``paper`` profile)."""

    methods: tuple[str, ...] = ("drl_uu", "drl_au", "opt", "mp", "greedy")
    """Methods scored: classical (``opt``, ``omp``, ``ideal``, ``mp``, ``greedy``,
    ``orthogonal``) and learned ones (names the learned-designer hook provides)."""
    frames: int = 100
    """Held-out test frames per method and sweep point (spec §5: 100 paper, 5 quick)."""
    batch_size: int = 20
    """Frames run side by side."""
    seed: int = 1000
    """Seed of the held-out frames (the same frames for every method)."""
    num_antennas: int = 32
    """N_t."""
    num_rx: int = 32
    """N_r."""
    num_subcarriers: int = 32
    """M (paper) = S."""
    num_users: int = 8
    """U."""
    max_users: int = 16
    """U^max."""
    num_taps: int = 8
    """N_d."""
    num_paths: int = 8
    """P_u."""
    num_symbols: int = 32
    """L."""
    subframes: int = 100
    """T (subframes per frame)."""
    num_grid: int = 64
    """G_t (S_H dictionary, greedy/OMP codebooks)."""
    bits: int = 3
    """Phase-shifter bits B."""
    snr_db: float = 0.0
    """P_t/σ_c² (dB)."""
    weight: float = 0.5
    """ψ."""
    speed_mps: float = 0.0
    """Fixed speed of users and target (m/s); 0 = U[10, 30] (the default)."""
    opt_tau: str = "relative"
    """Stage I's SINR targets: ``relative`` (per frame, the fractions ``opt_fractions`` of the
    WMMSE rate R* shared equally) or ``db`` (the fixed grid ``opt_sinr_db``)."""
    opt_fractions: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4)
    """Fractions f of R* of ``opt_tau="relative"`` (τ = 0 always added). Small: (15d) asks
    the one τ of every user on every subcarrier, so the weakest (user, subcarrier) pair caps
    it (at the quick sizes and 0 dB only f ≲ 0.1 is feasible)."""
    opt_sinr_db: tuple[float, ...] = (-5.0, 0.0, 5.0, 10.0)
    """SINR targets τ (dB) of ``opt_tau="db"`` (τ = 0 linear always added)."""
    opt_stride: int = 10
    """Opt's SDR solved every ``opt_stride`` subframes (1 = the paper's algorithm)."""
    opt_subcarrier_stride: int = 1
    """Opt's SDR solved on every ``opt_subcarrier_stride``-th subcarrier (1 = all)."""
    opt_iter: int = 20
    """N_iter of Stage II."""
    opt_ici_rounds: int = 1
    """ICI-aware rounds of Stage I (1 = ICI ignored in the SINR constraints)."""
    opt_ici: str = "iterate"
    """Stage I's ICI: ``iterate`` (per-subcarrier SDPs, the ICI of the previous round in the
    noise, ``opt_ici_rounds``) or ``joint`` (one coupled SDP over all subcarriers with the
    exact ICI; toy sizes only, S·U·N_t² ≤ 4096 = 4× the quick sizes, spec §4; needs
    ``opt_ici_rounds = 1`` and ``opt_subcarrier_stride = 1``)."""
    mp_rate_std_deg: float = 0.01
    """MP tracker's process noise std of the angle rate (degrees per subframe)."""
    greedy_csi: str = "instant"
    """Greedy's CSI: ``instant`` (true subframe channel) or ``preamble``."""
    train_episodes: int = 2000
    """Training episodes (frames) of each learned method (paper: 2000)."""
    train_seed: int = 0
    """Training seed of the learned methods scored in the sweeps."""
    train_batch: int = 1
    """Frames per training episode of the learned methods."""
    retrain_per_point: bool = True
    """Learned methods are retrained at every sweep point (spec reading 16, the ``paper``
    profile); ``False``: trained once at this config's own point and evaluated at every point
    (the ``quick`` profile; the observation and action shapes do not depend on the swept SNR,
    ψ, U ≤ U^max or speed)."""
    agents_dir: str = ""
    """Folder of the learned methods' agents (``<agents_dir>/<point>/``); ``""``: the run's
    own ``<out>/agents``. Point several runs at one folder to train each agent once."""
    workers: int = 0
    """Ray workers that train the learned methods side by side (0: in this process)."""
    device: str = "cpu"
    """Torch device of the env."""
    num_threads: int = 1
    """Torch threads."""

    def __post_init__(self) -> None:
        check_fields(self, at_least_1=("frames", "batch_size", "num_antennas", "num_rx",
                                       "num_subcarriers", "num_users", "max_users", "num_taps",
                                       "num_paths", "num_symbols", "subframes", "num_grid",
                                       "bits", "opt_stride", "opt_subcarrier_stride",
                                       "opt_iter", "opt_ici_rounds", "num_threads",
                                       "train_episodes", "train_batch"),
                     unit_interval=("weight",))
        check_opt_ici(self.opt_ici, self.num_subcarriers, self.num_users, self.num_antennas)
        if self.opt_tau not in ("relative", "db"):
            raise ConfigError(f"opt_tau must be 'relative' or 'db', got {self.opt_tau!r}")
        check_fields(self, positive=("opt_fractions",))
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")
        if not self.methods:
            raise ConfigError("methods must name at least one method")
        if self.greedy_csi not in ("instant", "preamble"):
            raise ConfigError(f"greedy_csi must be 'instant' or 'preamble', got "
                              f"{self.greedy_csi!r}")
        if not (math.isfinite(self.speed_mps) and self.speed_mps >= 0):
            raise ConfigError(f"speed_mps must be finite and >= 0, got {self.speed_mps!r}")
        if self.num_users > self.max_users:
            raise ConfigError(f"num_users ({self.num_users}) must be <= max_users "
                              f"({self.max_users})")

    def env_kwargs(self, **changes: Any) -> dict[str, Any]:
        """Keyword arguments of :class:`~isaclearn.rl.envs.yang_som.YangSomConfig` (``changes``
        override fields of this config first: ``snr_db``, ``weight``, ``num_users``,
        ``speed_mps``)."""
        cfg = dataclasses.replace(self, **changes) if changes else self
        kw: dict[str, Any] = {
            "num_antennas": cfg.num_antennas, "num_rx": cfg.num_rx,
            "num_subcarriers": cfg.num_subcarriers, "num_users": cfg.num_users,
            "max_users": cfg.max_users, "num_taps": cfg.num_taps, "num_paths": cfg.num_paths,
            "num_symbols": cfg.num_symbols, "max_episode_steps": cfg.subframes,
            "num_grid": cfg.num_grid, "bits": cfg.bits, "snr_db": cfg.snr_db,
            "weight": cfg.weight, "device": cfg.device,
        }
        if cfg.speed_mps > 0:
            v = float(cfg.speed_mps)
            kw["user_mobility"] = MobilityConfig(speed_range_mps=(v, v))
            kw["target_mobility"] = MobilityConfig(speed_range_mps=(v, v))
        return kw

    def env_config(self, **changes: Any) -> YangSomConfig:
        """The env configuration of a sweep point."""
        return YangSomConfig(**self.env_kwargs(**changes))

    def designer_options(self) -> dict[str, Any]:
        """Keyword arguments of
        :func:`~isaclearn.systems.yang_som.designers.classical_designers`."""
        return {"num_grid": self.num_grid, "sinr_db": self.opt_sinr_db,
                "opt_tau": self.opt_tau, "opt_fractions": self.opt_fractions,
                "opt_stride": self.opt_stride,
                "opt_subcarrier_stride": self.opt_subcarrier_stride,
                "opt_iter": self.opt_iter, "opt_ici_rounds": self.opt_ici_rounds,
                "opt_ici": self.opt_ici,
                "mp_rate_std_deg": self.mp_rate_std_deg, "greedy_csi": self.greedy_csi}
