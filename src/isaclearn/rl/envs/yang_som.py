r"""YangSom: wideband vehicular ISAC hybrid precoding under double dynamics, the POMDP (23)–(42)
of yang_som (``shared/papers/000_e47146536a3e5322.txt``, Secs. IV–V; spec
``shared/specs/yang_som.md`` §3) as a batched torch environment.

A base station with ``M`` [:math:`N_t`] transmit and ``N`` [:math:`N_r`] receive antennas serves
``K`` [U] single-antenna vehicles on ``S`` [M] OFDM subcarriers over the doubly-selective channel
of :mod:`isaclearn.channels.doubly_selective` (ICI, eq. 5) and senses one moving target (echo
(9)). Its precoder is hybrid (:mod:`isaclearn.solvers.hybrid`): a unit-modulus analog
``F_RF`` ``[M, K]`` with ``bits``-bit phases shared by all subcarriers and a diagonal digital
``diag(p_m)`` per subcarrier, ``p`` ``[S, K]``, with :math:`\sum_{m,u}|p_{m,u}|^2 = KS` (the power
invariant of spec §6.1: :math:`\mathbf x_m = \sqrt{P_t/(MKS)}\,\mathbf F_{RF}\,
\mathrm{diag}(\mathbf p_m)\mathbf s_m` carries :math:`P_t` in total). One episode is one frame of
``T`` subframes (``max_episode_steps``); each step is one subframe: the agent updates the
precoder from the observation (no instantaneous CSI), the BS transmits, and is scored on the
true channel of that subframe. Indices are 0-based (the paper counts from 1).

Action space
    A flat ``Box(-1, 1)`` (SB3 has no Dict actions, spec §8), decoded in the env; parts living
    in ``[0, 1]`` are mapped affinely, :math:`a = (x + 1)/2`. Actions are clipped to the box.

    * ``scheme="uu"`` (DRL-UU, (30)–(32)), dimension :math:`U^{max} + M + S`:
      ``[a_RF,1 (U^max), a_RF,2 (M), a_BB (S)]``. The column :math:`u^*` is drawn with
      :math:`P(u)\propto a_{RF,1}[u]` over the real users ``u < K`` (entries ``u ≥ K`` are
      padding and ignored), the phases of column :math:`u^*` step by :math:`\pm 2\pi/2^{bits}`
      by the sign of ``a_RF,2``, :math:`p_{m,u^*} \mathrel{+}= \eta_{BB} a_{BB}[m]`, then ``p``
      is renormalized (:func:`~isaclearn.solvers.hybrid.apply_uu`).
    * ``scheme="au"`` (DRL-AU, (33)–(37)), dimension :math:`M + S`: ``[a_RF (M), a_BB (S)]``.
      The row :math:`i^*` is drawn with :math:`P(i)\propto a_{RF}[i]` and updated by (34)–(37)
      with rate :math:`\eta_r` (:func:`~isaclearn.solvers.hybrid.apply_au`).

    The draw is an inverse-CDF lookup of a uniform drawn at reset (one per step), so a step is a
    deterministic function of the episode data, the state and the action; all-zero weights
    select uniformly.
Observation space
    ``Dict(S_H, S_P)`` (24):

    * ``S_H`` (25): ``Box(0, inf, (N_d, U^max, G))``, channel ``d`` = :math:`|\hat{\mathbf
      H}_d^{(0)}\mathbf D_t|` with :math:`\hat{\mathbf H}_d^{(0)}` ``[K, M]`` the preamble
      estimate of the time-domain taps (true taps at the frame's first sample plus complex
      Gaussian error of NMSE ``csi_nmse_db``) and :math:`\mathbf D_t` ``[M, G]`` the angular
      dictionary (:func:`~isaclearn.solvers.hybrid.angular_dictionary`); rows ``u ≥ K`` are
      zero. Constant over the frame. (The paper's one ``(U G) × N_d`` image holds the same
      numbers.)
    * ``S_P`` (28)–(29): ``Box(0, 2, (3, N_x, N_y))``, the last three occupancy grids
      :math:`\{P^{(n-3)}, P^{(n-2)}, P^{(n-1)}\}` (oldest first) over angle
      ``[-90°, 90°)`` (``N_x`` cells) × range ``[0, d_max)`` (``N_y`` cells); cell value
      1 = a user, 2 = the target (the target wins a shared cell), 0 = empty; positions outside
      the grid are clamped to the border cells. At the start of a frame the preamble scan's grid
      is repeated three times.

    Position "estimates" are synthetic (spec §6.14: a 0.96 MHz echo cannot resolve range): the
    estimate after subframe ``n`` is the truth plus Gaussian noise, users :math:`1°` in angle,
    every object ``1`` m in range, the target :math:`\sqrt{\min(\mathrm{CRLB}^{(n)},
    (5°)^2)}` in angle, with :math:`\mathrm{CRLB}^{(n)}` the bound (11) of the precoder just
    used (the preamble scan uses the :math:`5°` cap); the standard normals are drawn at reset and
    scaled at step time. The ``K + 1`` points are unlabeled (26)–(27): every ``T_fb``
    subframes (``n % T_fb == 0``, and at the preamble) the users' GPS feedback (true position
    plus ``gps_std_m`` Cartesian error) labels them, otherwise the previous subframe's user
    estimates do: users in order each take the nearest unclaimed point under the metric
    :math:`((\theta-\theta')/\pi)^2 + ((d-d')/d_{max})^2` and the remaining point is the target.
Reward
    (38): :math:`r = \psi\,R/R^* + (1-\psi)\,J/J^*` on the subframe just transmitted, with

    * :math:`R` the SE (8) with ICI (:func:`isaclearn.metrics.ofdm.se`, bit per OFDM symbol,
      summed over subcarriers and users) of the true ICI channel of the subframe:
      ``rate_symbols="first"`` (default) scores symbol 0 only, ``"all"`` averages the ``L``
      symbols of the subframe (``L`` times the cost; the symbols differ only by the Doppler
      phase of each path, so the first symbol is a cheap and unbiased proxy of the ICI level);
    * :math:`J = \sum_m J_m(\theta_s)` (10) (:func:`isaclearn.metrics.sensing.fisher_angle` at
      the true target angle, ``num_symbols = L``, radar SNR :math:`|\alpha|^2/\sigma_s^2`) with
      :math:`\mathbf R_{x,m} = \mathbf f_m\mathbf f_m^H` the applied precoder's covariance;
      ``crlb`` = :math:`1/J` (11);
    * ``normalizer="optimal"`` (default): :math:`R^*` = fully digital WMMSE
      (:func:`isaclearn.solvers.wmmse.wmmse`) on the ICI-free :math:`\mathbf H_m[m]` of the same
      symbol(s) with :math:`P_t/S` per subcarrier, its sum rate over subcarriers (WMMSE is local
      and ignores ICI, so :math:`R/R^* > 1` is possible); :math:`J^*` the sensing-only optimum
      (closed form, :func:`sensing_optimum`: :math:`2\eta L P_t\max(\|\dot{\mathbf
      a}_{t\perp}\|^2, \|\dot{\mathbf a}_{r\perp}\|^2)`, so :math:`J \le J^*` for every
      design). ``normalizer="constant"``: :math:`R^* = 20`, :math:`J^* = 100` (the authors'
      code).

    ``info`` (``[B]`` tensors): ``se`` (bit per OFDM symbol), ``se_per_hz`` (bit/s/Hz),
    ``fisher`` (rad⁻²), ``crlb`` (rad²), ``crlb_db`` (dB of rad²), ``reward_rate``
    (:math:`R/R^*`), ``reward_sense`` (:math:`J/J^*`), ``rate_star`` (:math:`R^*`),
    ``fisher_star`` (:math:`J^*`).
Starting state
    A new frame (scenario, :meth:`DoublySelectiveConfig.sample` with ``materialize=False``) per
    episode. ``init="beam"`` (default, spec §6.15): column ``u`` of ``F_RF`` is the quantized
    steering vector :math:`\mathcal Q(\sqrt M\mathbf a_t(\hat\theta_u))` to the preamble estimate
    of user ``u``'s angle, equal power ``p = 1``; ``init="ones"``: ``F_RF = 1``, ``p = 1``
    (the authors' code).
Episode end
    Never terminated; truncated after ``T = max_episode_steps`` subframes (one frame).

Registered as ``isaclearn/YangSom-v0`` (scheme UU, the spec's default for the input-variant
comparison) and ``isaclearn/YangSomAU-v0`` with the small :class:`YangSomConfig` defaults (the
spec §7.9 quick sizes); :func:`paper_config` gives Table II's sizes (pass its fields as
overrides, or build ``YangSomCore(B, paper_config())``).

Cost: :math:`R^*` does not depend on the actions, so it is computed for the whole frame at reset
(one batched WMMSE over ``B × T × S`` subcarrier problems on the ICI-free diagonal blocks,
:meth:`YangSomCore.frame_rate_star`) and stored in the episode data; it dominates the cost of an
episode (``normalizer="constant"`` skips it). A step builds one ``[B, S, S, K, M]`` ICI channel
per scored symbol.

Units: SNR := :math:`P_t/\sigma_c^2` (spec §1), :math:`\sigma_c^2 = \sigma_s^2` =
``noise_dbm``; :math:`P_t` [dBm] = ``snr_db + noise_dbm``.

Designers: :meth:`YangSomCore.score_precoder` scores any hybrid ``(F_RF, p)`` on the current
subframe with the same metric code (no state change) and :meth:`YangSomCore.step_precoder`
advances all episodes with given precoders instead of actions (observations evolve as under
:meth:`~isaclearn.rl.core.BatchedEnvCore.step`), so classical baselines run on the same frames;
:meth:`YangSomCore.current_problem` exposes the current subframe.

:class:`YangSomNumpy` is a per-sample NumPy implementation of the same step with explicit loops
(ICI matrix by the double sum (5), SINR (7), traces of (10), the update rules, a NumPy WMMSE):
an oracle for the tests and the reference of the speed benchmark.

Examples
--------
>>> import torch
>>> core = YangSomCore(batch_size=2)
>>> obs, _ = core.reset(seed=0)
>>> obs["S_H"].shape, obs["S_P"].shape
(torch.Size([2, 4, 4, 16]), torch.Size([2, 3, 60, 60]))
>>> obs, reward, terminated, truncated, info = core.step(torch.zeros(2, 20))
>>> sorted(info)[:4]
['crlb', 'crlb_db', 'fisher', 'fisher_star']
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from gymnasium import spaces

from isaclearn.arrays import ula, ula_derivative
from isaclearn.channels.doubly_selective import (
    DoublySelectiveConfig,
    ici_channel,
    time_domain_taps,
)
from isaclearn.channels.mobility import MobilityConfig, cartesian_to_polar, polar_to_cartesian
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.metrics.comm import rates
from isaclearn.metrics.ofdm import se
from isaclearn.metrics.sensing import fisher_angle
from isaclearn.rl.core import Action, BatchedEnvCore, Info, Obs, StepResult
from isaclearn.solvers.hybrid import (
    angular_dictionary,
    apply_au,
    apply_uu,
    hybrid_precoder,
    quantize_phases,
)
from isaclearn.solvers.wmmse import wmmse

__all__ = [
    "YangSomConfig",
    "YangSomCore",
    "YangSomEpisodes",
    "YangSomNumpy",
    "YangSomProblem",
    "numpy_steps_per_second",
    "occupancy_grid",
    "paper_config",
    "sensing_optimum",
]

_DEG = math.pi / 180.0
_INFO_KEYS = ("se", "se_per_hz", "fisher", "crlb", "crlb_db", "reward_rate", "reward_sense",
              "rate_star", "fisher_star")


# --------------------------------------------------------------------------------------------
# configuration and episode data
# --------------------------------------------------------------------------------------------


@dataclass
class YangSomConfig:
    """Configuration of :class:`YangSomCore` (paper names in brackets; defaults: the spec §7.9
    quick sizes, :func:`paper_config` for Table II)."""

    num_antennas: int = 8
    """``M`` transmit antennas [:math:`N_t`]."""
    num_rx: int = 8
    """``N`` radar receive antennas [:math:`N_r`]."""
    num_subcarriers: int = 8
    """``S`` subcarriers [M]."""
    num_users: int = 2
    """``K`` users [U] (= RF chains = streams)."""
    max_users: int = 4
    """Pad size :math:`U^{max}` of ``S_H`` and of the UU action."""
    num_taps: int = 4
    """Delay taps :math:`N_d`."""
    num_paths: int = 4
    """Paths per user ``P`` [:math:`P_u`]."""
    cp_len: int = 8
    """Cyclic prefix :math:`L_{CP}` (samples)."""
    num_symbols: int = 4
    """OFDM symbols per subframe ``L``."""
    max_episode_steps: int = 10
    """Subframes per frame ``T`` (one episode)."""
    num_grid: int = 16
    """Angular dictionary size ``G`` [:math:`G_t`] of ``S_H``."""
    bits: int = 3
    """Phase-shifter resolution ``B`` (eq. 2)."""
    scheme: Literal["uu", "au"] = "uu"
    """Action type I (DRL-UU) or II (DRL-AU)."""
    eta_r: float = 0.1
    """:math:`\\eta_r` of AU (35) (Table III)."""
    step_bb: float = 1.0
    """:math:`\\eta_{BB}` of UU (32) (spec §6.9: 1, literal)."""
    weight: float = 0.5
    """:math:`\\psi` of (38)."""
    snr_db: float = 0.0
    """:math:`P_t/\\sigma_c^2` in dB."""
    noise_dbm: float = -10.0
    """:math:`\\sigma_c^2 = \\sigma_s^2` in dBm."""
    normalizer: Literal["optimal", "constant"] = "optimal"
    """:math:`R^*, J^*` from WMMSE / the sensing optimum, or the constants below."""
    rate_constant: float = 20.0
    """:math:`R^*` of ``normalizer="constant"``."""
    fisher_constant: float = 100.0
    """:math:`J^*` of ``normalizer="constant"``."""
    rate_symbols: Literal["first", "all"] = "first"
    """SE (and :math:`R^*`) of symbol 0 of the subframe, or the mean over its ``L`` symbols."""
    wmmse_iter: int = 30
    """WMMSE iterations of :math:`R^*` (a fixed count: ``tol = 0``)."""
    wmmse_init: Literal["mrt", "zf", "rzf", "best"] = "mrt"
    """WMMSE initialization of :math:`R^*` (``"best"`` runs MRT, RZF and ZF and keeps the best:
    3 times the cost of the step's dominant part; the NumPy reference implements ``"mrt"``)."""
    init: Literal["beam", "ones"] = "beam"
    """Initial precoder of each frame (spec §6.15)."""
    csi_nmse_db: float | None = -20.0
    """NMSE of the preamble CSI estimate (dB); ``None`` = perfect."""
    grid_x: int = 60
    """``N_x`` angle cells over ``[-90°, 90°)``."""
    grid_y: int = 60
    """``N_y`` range cells over ``[0, max_range_m)``."""
    max_range_m: float = 150.0
    """:math:`d_{max}` (m) of the grid and of the labelling metric."""
    user_angle_std_deg: float = 1.0
    """Angle error of the users' position estimates (degrees)."""
    range_std_m: float = 1.0
    """Range error of every position estimate (m)."""
    target_angle_cap_deg: float = 5.0
    """Cap of the target's angle error std (degrees; spec §1)."""
    gps_period: int = 10
    """:math:`T_{fb}`: GPS feedback every ``gps_period`` subframes."""
    gps_std_m: float = 0.5
    """GPS error per Cartesian coordinate (m)."""
    carrier_hz: float = 28e9
    """:math:`f_c` (Hz)."""
    subcarrier_spacing_hz: float = 30e3
    """:math:`\\Delta f` (Hz)."""
    user_mobility: MobilityConfig = field(default_factory=MobilityConfig)
    """Initial positions and velocities of the users (speeds: Figs. 10/13)."""
    target_mobility: MobilityConfig = field(default_factory=MobilityConfig)
    """Initial position and velocity of the target."""
    channel_options: dict[str, Any] = field(default_factory=dict)
    """Further fields of :class:`DoublySelectiveConfig` (``gain_walk_std``, ``rcs``, ...)."""
    device: str = "cpu"
    """Device of every tensor."""
    dtype: torch.dtype = torch.complex64
    """``complex64`` or ``complex128``."""

    def __post_init__(self) -> None:
        for name in ("num_antennas", "num_rx", "num_subcarriers", "num_users", "max_users",
                     "num_taps", "num_paths", "num_symbols", "max_episode_steps", "num_grid",
                     "bits", "wmmse_iter", "grid_x", "grid_y", "gps_period"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        choices = {"scheme": ("uu", "au"), "normalizer": ("optimal", "constant"),
                   "rate_symbols": ("first", "all"), "init": ("beam", "ones"),
                   "wmmse_init": ("mrt", "zf", "rzf", "best")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0.0 <= float(self.weight) <= 1.0:
            raise ConfigError(f"weight must lie in [0, 1], got {self.weight!r}")
        for name in ("snr_db", "noise_dbm"):
            if not math.isfinite(float(getattr(self, name))):
                raise ConfigError(f"{name} must be finite, got {getattr(self, name)!r}")
        for name in ("eta_r", "step_bb", "user_angle_std_deg", "range_std_m",
                     "target_angle_cap_deg", "gps_std_m"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"{name} must be finite and >= 0, got {value!r}")
        for name in ("rate_constant", "fisher_constant", "max_range_m"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0.0):
                raise ConfigError(f"{name} must be positive and finite, got {value!r}")
        if self.csi_nmse_db is not None and not math.isfinite(float(self.csi_nmse_db)):
            raise ConfigError(f"csi_nmse_db must be finite or None, got {self.csi_nmse_db!r}")
        self.channel  # noqa: B018  (validates the channel fields)

    @property
    def channel(self) -> DoublySelectiveConfig:
        """The :class:`DoublySelectiveConfig` of the frames (``num_subframes = T``)."""
        try:
            return DoublySelectiveConfig(
                num_antennas=self.num_antennas, num_rx=self.num_rx,
                num_subcarriers=self.num_subcarriers, num_users=self.num_users,
                max_users=self.max_users, carrier_hz=self.carrier_hz,
                subcarrier_spacing_hz=self.subcarrier_spacing_hz, num_taps=self.num_taps,
                num_paths=self.num_paths, cp_len=self.cp_len, num_symbols=self.num_symbols,
                num_subframes=self.max_episode_steps, user_mobility=self.user_mobility,
                target_mobility=self.target_mobility, **dict(self.channel_options))
        except TypeError as exc:
            raise ConfigError(f"bad channel_options: {exc}") from None

    @property
    def noise_var(self) -> float:
        """:math:`\\sigma_c^2 = \\sigma_s^2` in watts."""
        return 10.0 ** ((float(self.noise_dbm) - 30.0) / 10.0)

    @property
    def power(self) -> float:
        """:math:`P_t` in watts (``snr_db`` above the noise)."""
        return self.noise_var * 10.0 ** (float(self.snr_db) / 10.0)

    @property
    def action_dim(self) -> int:
        """Length of the flat action: :math:`U^{max} + M + S` (UU) or :math:`M + S` (AU)."""
        base = self.num_antennas + self.num_subcarriers
        return base + (self.max_users if self.scheme == "uu" else 0)


def paper_config(**overrides: Any) -> YangSomConfig:
    """:class:`YangSomConfig` with the paper's sizes (Tables II/III): ``N_t = N_r = 32``,
    ``M = 32`` subcarriers, ``U = 8``, ``U^max = 16``, ``N_d = P_u = 8``, ``L_CP = 8``,
    ``L = 32``, ``T = 100``, ``G_t = 64``; ``overrides`` replace fields."""
    base = YangSomConfig(num_antennas=32, num_rx=32, num_subcarriers=32, num_users=8,
                         max_users=16, num_taps=8, num_paths=8, cp_len=8, num_symbols=32,
                         max_episode_steps=100, num_grid=64)
    return dataclasses.replace(base, **overrides)


@dataclass
class YangSomEpisodes(BatchedProblem):
    """Episode data of YangSom: one frame's path parameters and every noise draw of it.

    Shapes: ``B`` episodes, ``T`` subframes, ``K`` users, ``P`` paths, ``N_d`` taps, ``M``
    antennas. Slot ``j`` of the position-estimate draws (``T + 1`` slots) is the preamble scan
    for ``j = 0`` and the echo after subframe ``j - 1`` otherwise.

    Attributes
    ----------
    gains : torch.Tensor
        ``[B, T, K, P]`` complex path gains.
    delays_s, doppler_rad, phase_rad, aod_rad : torch.Tensor
        ``[B, T, K, P]`` real: delays (s), Doppler (rad/sample), Doppler phase at each
        subframe's first sample (rad, reduced mod 2π), angles of departure (rad).
    user_theta_rad, user_distance_m : torch.Tensor
        ``[B, T, K]`` true user positions.
    target_theta_rad, target_distance_m : torch.Tensor
        ``[B, T]`` true target position.
    alpha : torch.Tensor
        ``[B, T]`` complex echo coefficient.
    h_est : torch.Tensor
        ``[B, N_d, K, M]`` complex preamble estimate of the taps :math:`\\hat{\\mathbf H}_d^{(0)}`.
    user_noise : torch.Tensor
        ``[B, T + 1, K, 2]`` standard normals of the users' (angle, range) estimates.
    target_noise : torch.Tensor
        ``[B, T + 1, 2]`` standard normals of the target's (angle, range) estimate.
    gps_noise : torch.Tensor
        ``[B, T + 1, K, 2]`` standard normals of the GPS (x, y) errors.
    pick : torch.Tensor
        ``[B, T]`` uniforms in ``[0, 1)`` of the column/row draw of each step.
    rate_star : torch.Tensor
        ``[B, T]`` :math:`R^*` of each subframe (WMMSE on the ICI-free :math:`\\mathbf H_m[m]`,
        computed for the whole frame at reset: it does not depend on the actions); zeros for
        ``normalizer="constant"``.
    """

    gains: torch.Tensor = field(metadata=BATCHED)
    delays_s: torch.Tensor = field(metadata=BATCHED)
    doppler_rad: torch.Tensor = field(metadata=BATCHED)
    phase_rad: torch.Tensor = field(metadata=BATCHED)
    aod_rad: torch.Tensor = field(metadata=BATCHED)
    user_theta_rad: torch.Tensor = field(metadata=BATCHED)
    user_distance_m: torch.Tensor = field(metadata=BATCHED)
    target_theta_rad: torch.Tensor = field(metadata=BATCHED)
    target_distance_m: torch.Tensor = field(metadata=BATCHED)
    alpha: torch.Tensor = field(metadata=BATCHED)
    h_est: torch.Tensor = field(metadata=BATCHED)
    user_noise: torch.Tensor = field(metadata=BATCHED)
    target_noise: torch.Tensor = field(metadata=BATCHED)
    gps_noise: torch.Tensor = field(metadata=BATCHED)
    pick: torch.Tensor = field(metadata=BATCHED)
    rate_star: torch.Tensor = field(metadata=BATCHED)

    def __post_init__(self) -> None:
        if self.gains.dim() != 4 or not self.gains.is_complex():
            raise ShapeError(f"gains must be complex [B, T, K, P], got {self.gains.dtype} of "
                             f"shape {list(self.gains.shape)}")


@dataclass
class YangSomProblem(BatchedProblem):
    """The current subframe of every episode, for classical designers
    (:meth:`YangSomCore.current_problem`).

    Attributes
    ----------
    h : torch.Tensor
        ``[B, S, S, K, M]`` true ICI channel (5) of symbol 0 of the subframe (perfect CSI, what
        the Opt and greedy baselines assume).
    h_est : torch.Tensor
        ``[B, N_d, K, M]`` preamble tap estimate.
    target_theta_rad, alpha : torch.Tensor
        ``[B]`` true target angle and echo coefficient.
    user_theta_rad : torch.Tensor
        ``[B, K]`` true user angles.
    est_user_theta_rad, est_target_theta_rad : torch.Tensor
        ``[B, K]`` / ``[B]`` latest labelled position estimates (what the agent's grid shows).
    f_rf, p : torch.Tensor
        ``[B, M, K]``, ``[B, S, K]`` the precoder of the previous subframe.
    subframe : torch.Tensor
        ``[B]`` int64 index ``n`` of the current subframe.
    power, noise_var : float
        :math:`P_t` and :math:`\\sigma_c^2 = \\sigma_s^2` (watts).
    bits : int
        Phase resolution.
    """

    h: torch.Tensor = field(metadata=BATCHED)
    h_est: torch.Tensor = field(metadata=BATCHED)
    target_theta_rad: torch.Tensor = field(metadata=BATCHED)
    alpha: torch.Tensor = field(metadata=BATCHED)
    user_theta_rad: torch.Tensor = field(metadata=BATCHED)
    est_user_theta_rad: torch.Tensor = field(metadata=BATCHED)
    est_target_theta_rad: torch.Tensor = field(metadata=BATCHED)
    f_rf: torch.Tensor = field(metadata=BATCHED)
    p: torch.Tensor = field(metadata=BATCHED)
    subframe: torch.Tensor = field(metadata=BATCHED)
    power: float = 1.0
    noise_var: float = 1.0
    bits: int = 3


# --------------------------------------------------------------------------------------------
# building blocks (batched)
# --------------------------------------------------------------------------------------------


def sensing_optimum(theta_rad: torch.Tensor, *, num_antennas: int, num_rx: int,
                    radar_snr: torch.Tensor | float, num_symbols: int,
                    power: torch.Tensor | float) -> torch.Tensor:
    r"""Sensing-only optimum :math:`J^* = \max_{\mathbf R\succeq 0,\ \mathrm{tr}\mathbf R\le P}
    J(\mathbf R)` of the Fisher information (10), in closed form.

    With unit-norm :math:`\mathbf a = \mathbf a_t(\theta)`, :math:`\mathbf b = \mathbf
    a_r(\theta)` and :math:`\mathbf A = \mathbf b\mathbf a^H`, (10) is

    .. math::
       J(\mathbf R) = 2\eta L\Big[\|\dot{\mathbf b}_\perp\|^2\,\mathbf a^H\mathbf R\mathbf a
       + \dot{\mathbf a}_\perp^H\mathbf R\dot{\mathbf a}_\perp
       - \frac{|\mathbf a^H\mathbf R\dot{\mathbf a}_\perp|^2}{\mathbf a^H\mathbf R\mathbf a}
       \Big],\qquad \dot{\mathbf x}_\perp = \dot{\mathbf x} - \mathbf x\,\mathbf x^H\dot{\mathbf x}

    (the components of the derivatives along the steering vectors are absorbed by the unknown
    :math:`\alpha`). Dropping the non-negative last term bounds it by
    :math:`2\eta L\,\mathrm{tr}(\mathbf R\mathbf Q)`, :math:`\mathbf Q = \|\dot{\mathbf
    b}_\perp\|^2\mathbf a\mathbf a^H + \dot{\mathbf a}_\perp\dot{\mathbf a}_\perp^H` with
    :math:`\mathbf a\perp\dot{\mathbf a}_\perp`, hence

    .. math:: J^* = 2\eta L P\max(\|\dot{\mathbf b}_\perp\|^2, \|\dot{\mathbf a}_\perp\|^2),

    attained by the rank-one :math:`\mathbf R = P\mathbf a\mathbf a^H` when
    :math:`N_r \ge N_t` (then :math:`\|\dot{\mathbf b}_\perp\| \ge \|\dot{\mathbf a}_\perp\|`)
    and approached by :math:`P(\epsilon\mathbf a\mathbf a^H + (1-\epsilon)\hat{\dot{\mathbf
    a}}_\perp\hat{\dot{\mathbf a}}_\perp^H)` otherwise. It equals ``1 / min CRB`` of the CVXPY
    program :func:`isaclearn.solvers.convex.sensing_only_covariance` divided by ``M N`` (that
    module's arrays are not normalized; tested), so no per-step solve is needed. It does not
    depend on the steering convention (reference element, phase sign). Being linear in ``P``,
    the sum over subcarriers with any split of :math:`P_t` is :math:`J^*` at ``power``
    :math:`= P_t`.

    Parameters
    ----------
    theta_rad : torch.Tensor
        ``[...]`` target angles (real).
    num_antennas, num_rx : int
        ``M`` [:math:`N_t`] and ``N`` [:math:`N_r`].
    radar_snr : float or torch.Tensor
        :math:`\eta = |\alpha|^2/\sigma_s^2`, broadcastable against ``theta_rad``.
    num_symbols : int
        ``L`` (as in :func:`~isaclearn.metrics.sensing.fisher_angle`).
    power : float or torch.Tensor
        Total power :math:`P` (watts) of the covariance.

    Returns
    -------
    torch.Tensor
        ``[...]`` real (rad⁻²).

    Examples
    --------
    >>> import torch
    >>> float(sensing_optimum(torch.tensor(0.0, dtype=torch.float64), num_antennas=2,
    ...                       num_rx=2, radar_snr=1.0, num_symbols=1, power=1.0))  # 2 (pi/2)^2
    4.934802200544679
    """
    th = theta_rad
    kw: dict[str, Any] = {"reference": "first", "sign": -1, "normalize": True}

    def perp_sq(n: int) -> torch.Tensor:
        a = ula(n, th, **kw)
        da = ula_derivative(n, th, **kw)
        proj = (a.conj() * da).sum(-1, keepdim=True)
        return (da - a * proj).abs().square().sum(-1)

    c = torch.maximum(perp_sq(num_antennas), perp_sq(num_rx))
    return 2.0 * num_symbols * c * radar_snr * power


def _grid_index(theta_rad: torch.Tensor, dist_m: torch.Tensor, nx: int, ny: int,
                max_range_m: float) -> torch.Tensor:
    """Flat cell index ``x * N_y + y`` of positions (clamped to the grid)."""
    x = torch.floor((theta_rad / _DEG + 90.0) * (nx / 180.0)).clamp(0, nx - 1)
    y = torch.floor(dist_m * (ny / max_range_m)).clamp(0, ny - 1)
    return (x * ny + y).long()


def occupancy_grid(user_theta_rad: torch.Tensor, user_distance_m: torch.Tensor,
                   target_theta_rad: torch.Tensor, target_distance_m: torch.Tensor, *,
                   grid_x: int, grid_y: int, max_range_m: float,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Occupancy grid (29) of labelled positions: 1 = a user, 2 = the target (wins a shared
    cell), 0 = empty.

    Parameters
    ----------
    user_theta_rad, user_distance_m : torch.Tensor
        ``[B, K]`` user positions (angle from broadside in radians, range in m).
    target_theta_rad, target_distance_m : torch.Tensor
        ``[B]`` target position.
    grid_x, grid_y : int
        ``N_x`` cells over ``[-90°, 90°)`` and ``N_y`` over ``[0, max_range_m)``; positions
        outside are clamped to the border cells.
    max_range_m : float
        :math:`d_{max}`.
    dtype : torch.dtype
        Real dtype of the result.

    Returns
    -------
    torch.Tensor
        ``[B, N_x, N_y]``.

    Examples
    --------
    >>> import torch
    >>> g = occupancy_grid(torch.tensor([[0.0, 0.0]]), torch.tensor([[10.0, 80.0]]),
    ...                    torch.tensor([0.0]), torch.tensor([10.0]), grid_x=4, grid_y=3,
    ...                    max_range_m=150.0)
    >>> g[0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    b = user_theta_rad.shape[0]
    grid = torch.zeros(b, grid_x * grid_y, dtype=dtype, device=user_theta_rad.device)
    iu = _grid_index(user_theta_rad, user_distance_m, grid_x, grid_y, max_range_m)
    grid.scatter_(1, iu, 1.0)
    it = _grid_index(target_theta_rad, target_distance_m, grid_x, grid_y, max_range_m)
    grid.scatter_(1, it[:, None], 2.0)
    return grid.reshape(b, grid_x, grid_y)


def _label(points: torch.Tensor, refs: torch.Tensor, max_range_m: float
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy nearest-neighbour labelling (26)–(27).

    ``points`` ``[B, K + 1, 2]`` unlabeled (angle, range) estimates, ``refs`` ``[B, K, 2]`` the
    users' reference positions. Users in order take the nearest unclaimed point under
    ``((Δθ)/π)² + (Δd/d_max)²``; returns ``(users [B, K, 2], target [B, 2])``. A loop over the
    ``K`` users (sequential by definition), batched over ``B``.
    """
    b, kp1, _ = points.shape
    scale = torch.tensor([1.0 / math.pi, 1.0 / max_range_m], dtype=points.dtype,
                         device=points.device)
    diff = (points[:, None, :, :] - refs[:, :, None, :]) * scale  # [B, K, K+1, 2]
    dist = diff.square().sum(-1)
    claimed = torch.zeros(b, kp1, dtype=torch.bool, device=points.device)
    rows = torch.arange(b, device=points.device)
    chosen = []
    for u in range(refs.shape[1]):
        d = torch.where(claimed, torch.full_like(dist[:, u], math.inf), dist[:, u])
        j = d.argmin(-1)
        claimed[rows, j] = True
        chosen.append(points[rows, j])
    users = torch.stack(chosen, dim=1)
    target_idx = (~claimed).to(torch.int64).argmax(-1)
    return users, points[rows, target_idx]


def _inverse_cdf(weights: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Index drawn with probability ∝ ``weights`` ``[B, n]`` (uniform if all zero) from
    ``uniform`` ``[B]`` in ``[0, 1)``."""
    w = weights.to(torch.float64).clamp_min(0.0)
    total = w.sum(-1, keepdim=True)
    w = torch.where(total > 0, w, torch.ones_like(w))
    cdf = torch.cumsum(w, -1)
    cdf = cdf / cdf[:, -1:]
    idx = torch.searchsorted(cdf, uniform.to(torch.float64)[:, None], right=True)[:, 0]
    return idx.clamp(0, w.shape[-1] - 1)


# --------------------------------------------------------------------------------------------
# the core
# --------------------------------------------------------------------------------------------


class YangSomCore(BatchedEnvCore[YangSomEpisodes]):
    """Batched YangSom core (the environment of the module docstring).

    Parameters
    ----------
    batch_size : int
        Number ``B`` of episodes (frames).
    config : YangSomConfig, optional
        Configuration (default ``YangSomConfig()``, the quick sizes).
    **overrides
        Fields of the config to replace (``scheme="au"``, ``device="cuda"``, ...).

    Attributes
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` current analog precoder (after the last step).
    p : torch.Tensor
        ``[B, S, K]`` current digital diagonals, :math:`\\sum|p|^2 = KS`.
    """

    config_class = YangSomConfig
    episodes_class = YangSomEpisodes
    config: YangSomConfig

    def __init__(self, batch_size: int = 1, config: YangSomConfig | None = None,
                 **overrides: Any) -> None:
        super().__init__(batch_size, config, **overrides)
        c = self.config
        self.channel = c.channel
        self._dictionary = angular_dictionary(c.num_antennas, c.num_grid, dtype=self.dtype,
                                              device=self.device)
        b, k = self.batch_size, c.num_users
        rdt = self.real_dtype
        self.f_rf = torch.ones(b, c.num_antennas, k, dtype=self.dtype, device=self.device)
        self.p = torch.ones(b, c.num_subcarriers, k, dtype=self.dtype, device=self.device)
        # the last three grids as a ring (uint8 labels); slot (head + j) % 3 holds P^(n-3+j)
        self._grids = torch.zeros(b, 3, c.grid_x, c.grid_y, dtype=torch.uint8,
                                  device=self.device)
        self._head = 0
        self._user_est = torch.zeros(b, k, 2, dtype=rdt, device=self.device)
        self._target_est = torch.zeros(b, 2, dtype=rdt, device=self.device)
        self._s_h = torch.zeros(b, c.num_taps, c.max_users, c.num_grid, dtype=rdt,
                                device=self.device)

    # ---- spaces and episode data ---------------------------------------------------------

    def make_spaces(self) -> tuple[spaces.Space[Any], spaces.Space[Any]]:
        c = self.config
        np_dtype = np.float64 if self.dtype == torch.complex128 else np.float32
        obs = spaces.Dict({
            "S_H": spaces.Box(0.0, np.inf, shape=(c.num_taps, c.max_users, c.num_grid),
                              dtype=np_dtype),
            "S_P": spaces.Box(0.0, 2.0, shape=(3, c.grid_x, c.grid_y), dtype=np_dtype),
        })
        act = spaces.Box(-1.0, 1.0, shape=(c.action_dim,), dtype=np_dtype)
        return obs, act

    def sample_episodes(self, num: int, generator: torch.Generator) -> YangSomEpisodes:
        c, ch = self.config, self.channel
        frame = ch.sample(num, generator=generator, dtype=torch.complex128, device=self.device,
                          materialize=False)
        f64 = torch.float64
        t, k = c.max_episode_steps, c.num_users
        taps = time_domain_taps(
            frame.gains[:, 0], frame.delays_s[:, 0], frame.doppler_rad[:, 0],
            frame.phase_rad[:, 0], frame.aod_rad[:, 0],
            torch.zeros(1, dtype=torch.int64, device=self.device), num_antennas=c.num_antennas,
            num_taps=c.num_taps, sample_period_s=ch.sample_period_s, rolloff=ch.rolloff,
            steering=ch.steering)[:, 0]  # [B, N_d, K, M]
        err = (torch.complex(torch.randn(taps.shape, generator=generator, dtype=f64,
                                         device=self.device),
                             torch.randn(taps.shape, generator=generator, dtype=f64,
                                         device=self.device)) * math.sqrt(0.5))
        if c.csi_nmse_db is not None:
            level = taps.abs().square().mean(dim=(1, 2, 3), keepdim=True)
            taps = taps + err * torch.sqrt(level * 10.0 ** (float(c.csi_nmse_db) / 10.0))
        user_noise = torch.randn((num, t + 1, k, 2), generator=generator, dtype=f64,
                                 device=self.device)
        target_noise = torch.randn((num, t + 1, 2), generator=generator, dtype=f64,
                                   device=self.device)
        gps_noise = torch.randn((num, t + 1, k, 2), generator=generator, dtype=f64,
                                device=self.device)
        pick = torch.rand((num, t), generator=generator, dtype=f64, device=self.device)
        episodes = YangSomEpisodes(
            gains=frame.gains, delays_s=frame.delays_s, doppler_rad=frame.doppler_rad,
            phase_rad=torch.remainder(frame.phase_rad, 2.0 * math.pi), aod_rad=frame.aod_rad,
            user_theta_rad=frame.user_theta_rad, user_distance_m=frame.user_distance_m,
            target_theta_rad=frame.target_theta_rad, target_distance_m=frame.target_distance_m,
            alpha=frame.alpha, h_est=taps, user_noise=user_noise, target_noise=target_noise,
            gps_noise=gps_noise, pick=pick, rate_star=torch.zeros((num, t), dtype=f64,
                                                                   device=self.device))
        episodes = episodes.to(self.device, self.dtype)
        if c.normalizer == "optimal":
            episodes.rate_star = self.frame_rate_star(episodes)
        # one precision for drawn and replayed episodes (reset(options={"scenario": ...}))
        return episodes.to(self.device, self.dtype)

    def validate_episodes(self, episodes: YangSomEpisodes) -> None:
        c = self.config
        want = (c.max_episode_steps, c.num_users, c.num_paths)
        if tuple(episodes.gains.shape[1:]) != want:
            raise ShapeError(f"scenario gains must have shape [n, {want[0]}, {want[1]}, "
                             f"{want[2]}] ([n, T, K, P]), got {list(episodes.gains.shape)}")
        if c.normalizer == "optimal" and not bool((episodes.rate_star > 0).all()):
            raise ConfigError("scenario rate_star must be positive for normalizer='optimal' "
                              "(episodes drawn by a core with normalizer='constant'?)")
        if tuple(episodes.h_est.shape[1:]) != (c.num_taps, c.num_users, c.num_antennas):
            raise ShapeError(f"scenario h_est must have shape [n, {c.num_taps}, {c.num_users}, "
                             f"{c.num_antennas}], got {list(episodes.h_est.shape)}")

    # ---- position estimates and grids ----------------------------------------------------

    def _estimates(self, index: torch.Tensor, slot: torch.Tensor, target_var: torch.Tensor,
                   refs: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Labelled estimates of slot ``slot`` ``[n]`` for the episodes ``index`` ``[n]``:
        ``(users [n, K, 2], target [n, 2], grid [n, N_x, N_y])``; ``refs`` = previous user
        estimates (``None``: GPS everywhere)."""
        c, e = self.config, self._require_episodes()
        sub = (slot - 1).clamp_min(0)  # subframe whose positions the slot observes
        th_u = e.user_theta_rad[index, sub]
        d_u = e.user_distance_m[index, sub]
        th_s = e.target_theta_rad[index, sub]
        d_s = e.target_distance_m[index, sub]
        un = e.user_noise[index, slot]
        tn = e.target_noise[index, slot]
        users = torch.stack([th_u + c.user_angle_std_deg * _DEG * un[..., 0],
                             d_u + c.range_std_m * un[..., 1]], dim=-1)
        target = torch.stack([th_s + torch.sqrt(target_var) * tn[:, 0],
                              d_s + c.range_std_m * tn[:, 1]], dim=-1)
        gps_xy = polar_to_cartesian(th_u, d_u) + c.gps_std_m * e.gps_noise[index, slot]
        g_th, g_d = cartesian_to_polar(gps_xy)
        gps = torch.stack([g_th, g_d], dim=-1)
        use_gps = (sub % c.gps_period == 0) | (slot == 0)
        ref = gps if refs is None else torch.where(use_gps[:, None, None], gps, refs)
        points = torch.cat([users, target[:, None]], dim=1)
        lab_users, lab_target = _label(points, ref, c.max_range_m)
        grid = occupancy_grid(lab_users[..., 0], lab_users[..., 1], lab_target[:, 0],
                              lab_target[:, 1], grid_x=c.grid_x, grid_y=c.grid_y,
                              max_range_m=c.max_range_m, dtype=self.real_dtype)
        return lab_users, lab_target, grid

    # ---- state ---------------------------------------------------------------------------

    def begin(self, index: torch.Tensor) -> None:
        c, e = self.config, self._require_episodes()
        n = int(index.numel())
        cap = (c.target_angle_cap_deg * _DEG) ** 2
        var = torch.full((n,), cap, dtype=self.real_dtype, device=self.device)
        slot0 = torch.zeros(n, dtype=torch.int64, device=self.device)
        users, target, grid = self._estimates(index, slot0, var, None)
        self._user_est[index] = users
        self._target_est[index] = target
        self._grids[index] = grid.to(torch.uint8)[:, None].expand(n, 3, c.grid_x, c.grid_y)
        s_h = (e.h_est[index] @ self._dictionary).abs()  # [n, N_d, K, G]
        pad = torch.zeros(n, c.num_taps, c.max_users, c.num_grid, dtype=self.real_dtype,
                          device=self.device)
        pad[:, :, : c.num_users] = s_h
        self._s_h[index] = pad
        if c.init == "beam":
            a = ula(c.num_antennas, users[..., 0], reference="first", sign=-1,
                    normalize=False).to(self.dtype)  # [n, K, M], unit modulus
            self.f_rf[index] = quantize_phases(a.transpose(1, 2), c.bits)
        else:
            self.f_rf[index] = torch.ones(n, c.num_antennas, c.num_users, dtype=self.dtype,
                                          device=self.device)
        self.p[index] = torch.ones(n, c.num_subcarriers, c.num_users, dtype=self.dtype,
                                   device=self.device)

    def observe(self) -> Obs:
        s_p = torch.empty(self._grids.shape, dtype=self.real_dtype, device=self.device)
        for j in range(3):  # oldest first
            s_p[:, j].copy_(self._grids[:, (self._head + j) % 3])
        return {"S_H": self._s_h.clone(), "S_P": s_p}

    def decode_action(self, action: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parts of a flat action ``[B, action_dim]`` (clipped to ``[-1, 1]``; ``[0, 1]``
        parts mapped affinely): UU ``{"a_rf1" [B, K], "a_rf2" [B, M], "a_bb" [B, S]}`` (only
        the real users' ``K`` of the ``U^max`` weights), AU ``{"a_rf" [B, M], "a_bb" [B, S]}``."""
        c = self.config
        x = action.to(self.real_dtype).clamp(-1.0, 1.0)
        m, s, u = c.num_antennas, c.num_subcarriers, c.max_users
        if c.scheme == "uu":
            return {"a_rf1": ((x[:, :u] + 1.0) / 2.0)[:, : c.num_users].clamp(0.0, 1.0),
                    "a_rf2": x[:, u:u + m], "a_bb": x[:, u + m:u + m + s]}
        return {"a_rf": ((x[:, :m] + 1.0) / 2.0).clamp(0.0, 1.0), "a_bb": x[:, m:m + s]}

    def _subframe(self) -> torch.Tensor:
        return self.elapsed.clamp_max(self.config.max_episode_steps - 1)

    def apply_action(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                            torch.Tensor]:
        """``(f_rf, p, index)`` after applying ``action`` ``[B, action_dim]`` to the current
        precoder (no state change); ``index`` ``[B]`` is the column ``u*`` (UU) or row ``i*``
        (AU)."""
        c, e = self.config, self._require_episodes()
        parts = self.decode_action(action)
        rows = torch.arange(self.batch_size, device=self.device)
        u = e.pick[rows, self._subframe()]
        if c.scheme == "uu":
            idx = _inverse_cdf(parts["a_rf1"], u)
            out = apply_uu(self.f_rf, self.p, parts["a_rf1"], parts["a_rf2"], parts["a_bb"],
                           None, c.bits, None, None, index=idx, step_bb=c.step_bb)
        else:
            idx = _inverse_cdf(parts["a_rf"], u)
            out = apply_au(self.f_rf, self.p, parts["a_rf"], parts["a_bb"], c.eta_r, c.bits,
                           None, None, index=idx)
        return out.f_rf, out.p.to(self.dtype), out.index

    def advance(self, action: Action) -> tuple[torch.Tensor, torch.Tensor, Info]:
        if isinstance(action, dict):
            raise ConfigError("YangSom takes a flat Box action")
        f_rf, p, _ = self.apply_action(action)
        return self._advance_with(f_rf, p)

    def step_precoder(self, f_rf: torch.Tensor, p: torch.Tensor) -> StepResult:
        """Advance all episodes by one subframe transmitting the given hybrid precoders instead
        of applying an action (a classical designer's rollout; observations, truncation and the
        target-estimate feedback evolve exactly as under :meth:`step`).

        Parameters
        ----------
        f_rf : torch.Tensor
            ``[B, M, K]`` complex analog precoder (used as given: quantize it first).
        p : torch.Tensor
            ``[B, S, K]`` digital diagonals (used as given: normalize to ``Σ|p|² = KS``).

        Returns
        -------
        tuple
            ``(obs, reward, terminated, truncated, info)`` as :meth:`step`.
        """
        self._require_episodes()
        reward, terminated, info = self._advance_with(*self._check_precoder(f_rf, p))
        self._elapsed += 1
        truncated = self._elapsed >= self.config.max_episode_steps
        return self.observe(), reward, terminated, truncated, info

    def _check_precoder(self, f_rf: torch.Tensor, p: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        c, b = self.config, self.batch_size
        want_rf, want_p = (b, c.num_antennas, c.num_users), (b, c.num_subcarriers, c.num_users)
        if tuple(f_rf.shape) != want_rf or tuple(p.shape) != want_p:
            raise ShapeError(f"f_rf must be {list(want_rf)} and p {list(want_p)}, got "
                             f"{list(f_rf.shape)} and {list(p.shape)}")
        return (f_rf.to(device=self.device, dtype=self.dtype),
                p.to(device=self.device, dtype=self.dtype))

    def _advance_with(self, f_rf: torch.Tensor, p: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, Info]:
        c = self.config
        info = self._score(f_rf, p)
        reward = c.weight * info["reward_rate"] + (1.0 - c.weight) * info["reward_sense"]
        self.f_rf, self.p = f_rf, p
        # echo of this subframe -> estimates for the next one (slot n + 1)
        cap = (c.target_angle_cap_deg * _DEG) ** 2
        crlb = info["crlb"].to(self.real_dtype)
        # a design with no angle information (J = 0, or J rounding below 0) leaves the cap
        var = torch.where(crlb > 0, torch.clamp(crlb, max=cap), torch.full_like(crlb, cap))
        rows = torch.arange(self.batch_size, device=self.device)
        users, target, grid = self._estimates(rows, self._subframe() + 1, var, self._user_est)
        self._user_est, self._target_est = users, target
        self._grids[:, self._head] = grid.to(torch.uint8)  # overwrite the oldest grid
        self._head = (self._head + 1) % 3
        terminated = torch.zeros(self.batch_size, dtype=torch.bool, device=self.device)
        return reward, terminated, info

    # ---- scoring -------------------------------------------------------------------------

    def channel_now(self, symbols: torch.Tensor | None = None) -> torch.Tensor:
        """True ICI channels (5) of the current subframe of every episode.

        Parameters
        ----------
        symbols : torch.Tensor, optional
            ``[L']`` int64 symbol indices (default ``[0]``).

        Returns
        -------
        torch.Tensor
            ``[B, L', S, S, K, M]`` complex.
        """
        c, e = self.config, self._require_episodes()
        sym = (torch.zeros(1, dtype=torch.int64, device=self.device) if symbols is None
               else symbols.to(self.device))
        rows = torch.arange(self.batch_size, device=self.device)
        n = self._subframe()
        sel = (lambda x: x[rows, n][:, None])  # noqa: E731  [B, 1, K, P]
        offset = (sym.to(e.doppler_rad.dtype) * self.channel.symbol_samples)[None, :, None, None]
        phase = sel(e.phase_rad) + sel(e.doppler_rad) * offset
        return ici_channel(sel(e.gains), sel(e.delays_s), sel(e.doppler_rad), phase,
                           sel(e.aod_rad), num_antennas=c.num_antennas,
                           num_subcarriers=c.num_subcarriers, num_taps=c.num_taps,
                           cp_len=c.cp_len, sample_period_s=self.channel.sample_period_s,
                           rolloff=self.channel.rolloff, steering=self.channel.steering)

    def score_precoder(self, f_rf: torch.Tensor, p: torch.Tensor) -> Info:
        """The metrics and reward of transmitting ``(f_rf, p)`` in the current subframe of every
        episode (no state change; the same code as :meth:`step`).

        Parameters
        ----------
        f_rf : torch.Tensor
            ``[B, M, K]`` complex analog precoder.
        p : torch.Tensor
            ``[B, S, K]`` digital diagonals (the power invariant is ``Σ|p|² = KS``).

        Returns
        -------
        dict of str to torch.Tensor
            ``[B]`` tensors: the step's ``info`` keys plus ``reward``.
        """
        self._require_episodes()
        info = self._score(*self._check_precoder(f_rf, p))
        w = self.config.weight
        info["reward"] = w * info["reward_rate"] + (1.0 - w) * info["reward_sense"]
        return info

    def _score(self, f_rf: torch.Tensor, p: torch.Tensor) -> Info:
        c, e = self.config, self._require_episodes()
        k, s = c.num_users, c.num_subcarriers
        rows = torch.arange(self.batch_size, device=self.device)
        n = self._subframe()
        h = self.channel_now(self._symbols())  # [B, L', S, S, K, M]
        f = hybrid_precoder(f_rf, p) * math.sqrt(c.power / (c.num_antennas * k * s))
        nv = c.noise_var
        rate = se(h, f[:, None], nv).mean(dim=1)  # [B]
        r_x = f @ f.conj().transpose(-2, -1)  # [B, S, M, M]
        theta = e.target_theta_rad[rows, n]
        eta = e.alpha[rows, n].abs().square() / nv
        fisher = fisher_angle(r_x, theta[:, None], num_rx=c.num_rx, radar_snr=eta[:, None],
                              num_symbols=c.num_symbols).sum(-1)
        if c.normalizer == "optimal":
            rate_star = e.rate_star[rows, n]
            fisher_star = sensing_optimum(theta, num_antennas=c.num_antennas, num_rx=c.num_rx,
                                          radar_snr=eta, num_symbols=c.num_symbols,
                                          power=c.power)
        else:
            rate_star = torch.full_like(rate, c.rate_constant)
            fisher_star = torch.full_like(rate, c.fisher_constant)
        crlb = 1.0 / fisher
        return {"se": rate, "se_per_hz": rate / s, "fisher": fisher, "crlb": crlb,
                "crlb_db": 10.0 * torch.log10(crlb), "reward_rate": rate / rate_star,
                "reward_sense": fisher / fisher_star, "rate_star": rate_star,
                "fisher_star": fisher_star}

    def _symbols(self) -> torch.Tensor:
        """Symbol indices ``[L']`` the SE is averaged over (``rate_symbols``)."""
        c = self.config
        if c.rate_symbols == "all":
            return torch.arange(c.num_symbols, device=self.device)
        return torch.zeros(1, dtype=torch.int64, device=self.device)

    def diagonal_channel(self, episodes: YangSomEpisodes,
                         symbols: torch.Tensor | None = None) -> torch.Tensor:
        r"""ICI-free channels :math:`\mathbf H_m[m]` (the diagonal blocks of (5)) of every
        subframe of ``episodes``, without building the ``S × S`` ICI matrices:

        .. math:: \mathbf H_m[m] = \sum_d\Big(\frac1S\sum_{i=0}^{S-1}
                  \tilde{\mathbf H}_d(i+L_{CP})\Big)e^{-j2\pi md/S},

        the symbol-averaged taps (each path's Doppler rotation averaged over the ``S`` samples,
        then :func:`~isaclearn.channels.doubly_selective.time_domain_taps` with no Doppler) and
        a zero-padded FFT over the taps. Equals ``torch.diagonal`` of
        :func:`~isaclearn.channels.doubly_selective.ici_channel` (tested).

        Parameters
        ----------
        episodes : YangSomEpisodes
            ``n`` frames.
        symbols : torch.Tensor, optional
            ``[L']`` symbol indices (default: those of ``rate_symbols``).

        Returns
        -------
        torch.Tensor
            ``[n, T, L', S, K, M]`` complex.
        """
        c, ch = self.config, self.channel
        sym = self._symbols() if symbols is None else symbols.to(self.device)
        f64 = torch.float64
        i = torch.arange(c.cp_len, c.cp_len + c.num_subcarriers, device=self.device, dtype=f64)
        start = (episodes.phase_rad.to(f64)[:, :, None]
                 + episodes.doppler_rad.to(f64)[:, :, None]
                 * (sym.to(f64) * ch.symbol_samples)[None, None, :, None, None])  # [n,T,L',K,P]
        ph = start[..., None] + episodes.doppler_rad.to(f64)[:, :, None, :, :, None] * i
        avg = torch.polar(torch.ones_like(ph), torch.remainder(ph, 2.0 * math.pi)).mean(-1)
        gains = episodes.gains[:, :, None] * avg.to(episodes.gains.dtype)
        zero = torch.zeros_like(avg.real)
        taps = time_domain_taps(
            gains, episodes.delays_s[:, :, None], zero, zero, episodes.aod_rad[:, :, None],
            torch.zeros(1, dtype=torch.int64, device=self.device), num_antennas=c.num_antennas,
            num_taps=c.num_taps, sample_period_s=ch.sample_period_s, rolloff=ch.rolloff,
            steering=ch.steering)[..., 0, :, :, :]  # [n, T, L', N_d, K, M]
        return torch.fft.fft(taps, n=c.num_subcarriers, dim=-3)

    def frame_rate_star(self, episodes: YangSomEpisodes, *, reduced: bool = True
                        ) -> torch.Tensor:
        r""":math:`R^*` ``[n, T]`` of every subframe of ``episodes``: fully digital WMMSE
        (``wmmse_init``, ``wmmse_iter`` iterations, ``tol = 0``) per subcarrier on the ICI-free
        :meth:`diagonal_channel` with :math:`P_t/S` each, its sum rate over subcarriers and users,
        averaged over the ``rate_symbols``. One batched call for the whole frame.

        ``reduced=True`` (default, when ``K < M``) runs WMMSE in the ``K``-dimensional range of
        :math:`\mathbf H^H`: with the thin QR :math:`\mathbf H^H = \mathbf Q\mathbf R`, the
        ``K × K`` channel :math:`\mathbf H\mathbf Q = \mathbf R^H` has the same Gram matrix
        :math:`\mathbf H\mathbf H^H`. Every WMMSE iterate lies in the range of
        :math:`\mathbf H^H` (the MRT/ZF/RZF starts are :math:`\mathbf H^H\mathbf X`, and the
        update :math:`(\mathbf H^H\mathbf D\mathbf H + \mu\mathbf I)^{-1}\mathbf H^H
        \mathbf C` maps that range into itself, with the same eigenvalues and power function
        of μ there), so :math:`\mathbf W = \mathbf Q\mathbf W'` and the rates are equal up to
        rounding (tested to 1e-8 against ``reduced=False``); the eigendecompositions shrink
        from ``M × M`` to ``K × K``. The reduced problem is solved in complex128 whatever
        ``dtype`` (its ``K × K`` eigendecompositions are cheap, and complex64 ``eigh`` can fail
        to converge on the near-singular reduced matrices of weak users); the result is cast
        back to the real dtype of the episodes."""
        c = self.config
        h_diag = self.diagonal_channel(episodes)
        out_dtype = h_diag.real.dtype
        if reduced and c.num_users < c.num_antennas:
            h64 = h_diag.to(torch.complex128)
            r = torch.linalg.qr(h64.conj().transpose(-2, -1), mode="r")[1]  # [..., K, K]
            h_diag = r.conj().transpose(-2, -1)
        w_star = wmmse(h_diag, c.power / c.num_subcarriers, c.noise_var, init=c.wmmse_init,
                       max_iter=c.wmmse_iter, tol=0.0)
        rate = rates(h_diag, w_star, c.noise_var).sum(dim=(-2, -1)).mean(dim=-1)
        return rate.to(out_dtype)

    # ---- designers -----------------------------------------------------------------------

    def current_problem(self) -> YangSomProblem:
        """The current subframe (:class:`YangSomProblem`): true channel of symbol 0, preamble
        estimate, true and estimated angles, echo coefficient and the previous precoder."""
        c, e = self.config, self._require_episodes()
        rows = torch.arange(self.batch_size, device=self.device)
        n = self._subframe()
        return YangSomProblem(
            h=self.channel_now()[:, 0], h_est=e.h_est, target_theta_rad=e.target_theta_rad[
                rows, n], alpha=e.alpha[rows, n], user_theta_rad=e.user_theta_rad[rows, n],
            est_user_theta_rad=self._user_est[..., 0].clone(),
            est_target_theta_rad=self._target_est[:, 0].clone(), f_rf=self.f_rf.clone(),
            p=self.p.clone(), subframe=n.clone(), power=c.power, noise_var=c.noise_var,
            bits=c.bits)


# --------------------------------------------------------------------------------------------
# per-sample NumPy reference
# --------------------------------------------------------------------------------------------


def _np_steer(n: int, theta: float) -> np.ndarray:
    return np.exp(-1j * math.pi * np.arange(n) * math.sin(theta)) / math.sqrt(n)


def _np_dsteer(n: int, theta: float) -> np.ndarray:
    i = np.arange(n)
    return -1j * math.pi * i * math.cos(theta) * _np_steer(n, theta)


def _np_raised_cosine(x: np.ndarray, rho: float) -> np.ndarray:
    s = np.sinc(x)
    if rho == 0.0:
        return np.asarray(s)
    z = 2.0 * rho * x
    edge = np.abs(np.abs(z) - 1.0) < 1e-8
    den = np.where(edge, 1.0, 1.0 - z * z)
    return np.where(edge, math.pi / 4.0 * np.sinc(1.0 / (2.0 * rho)),
                    s * np.cos(math.pi * rho * x) / den)


def _np_ici(gains: np.ndarray, delays: np.ndarray, omega: np.ndarray, phase: np.ndarray,
            aod: np.ndarray, cfg: YangSomConfig, ch: DoublySelectiveConfig) -> np.ndarray:
    """ICI channel (5) ``[S, S, K, M]`` of one symbol by the explicit double sum."""
    s, nd, k, m = cfg.num_subcarriers, cfg.num_taps, cfg.num_users, cfg.num_antennas
    num_paths = gains.shape[-1]
    ts = ch.sample_period_s
    taps = np.zeros((s, nd, k, m), dtype=complex)  # taps[i, d] = H_d(i + L_CP)
    for u in range(k):
        for q in range(num_paths):
            a = _np_steer(m, float(aod[u, q])).conj()
            for d in range(nd):
                g = _np_raised_cosine(np.array(d - delays[u, q] / ts), ch.rolloff)
                for i in range(s):
                    rot = np.exp(1j * (phase[u, q] + omega[u, q] * (i + cfg.cp_len)))
                    taps[i, d, u] += (math.sqrt(m / num_paths) * gains[u, q] * g * rot) * a
    h = np.zeros((s, s, k, m), dtype=complex)
    ii = np.arange(s)
    for mm in range(s):
        for kk in range(s):
            for d in range(nd):
                w = np.exp(-2j * math.pi * (kk * d + (mm - kk) * ii) / s)  # [S(i)]
                h[mm, kk] += np.einsum("i,ikm->km", w, taps[:, d])
    return h / s


def _np_se(h: np.ndarray, f: np.ndarray, noise: float) -> float:
    s, _, k, _ = h.shape
    total = 0.0
    for mm in range(s):
        for u in range(k):
            sig = abs(complex(h[mm, mm, u] @ f[mm][:, u])) ** 2
            iui = sum(abs(complex(h[mm, mm, u] @ f[mm][:, i])) ** 2 for i in range(k) if i != u)
            ici = sum(abs(complex(h[mm, kk, u] @ f[kk][:, v])) ** 2
                      for kk in range(s) if kk != mm for v in range(k))
            total += math.log2(1.0 + sig / (ici + iui + noise))
    return total


def _np_fisher(r: np.ndarray, theta: float, num_rx: int, eta: float, num_symbols: int) -> float:
    m = r.shape[0]
    a, da = _np_steer(m, theta), _np_dsteer(m, theta)
    b, db = _np_steer(num_rx, theta), _np_dsteer(num_rx, theta)
    big_a = np.outer(b, a.conj())
    dot_a = np.outer(db, a.conj()) + np.outer(b, da.conj())
    t_dd = np.trace(dot_a.conj().T @ dot_a @ r).real
    t_aa = np.trace(big_a.conj().T @ big_a @ r).real
    t_da = np.trace(dot_a.conj().T @ big_a @ r)
    if t_aa <= 0:
        return 0.0
    return float(2.0 * eta * num_symbols * (t_dd * t_aa - abs(t_da) ** 2) / t_aa)


def _np_wmmse_rate(h: np.ndarray, power: float, noise: float, iters: int) -> float:
    """Sum rate of WMMSE from MRT (``h`` ``[K, M]``), the updates of
    :mod:`isaclearn.solvers.wmmse` with μ by bisection."""
    k, _ = h.shape
    w = h.conj().T.copy()
    w *= math.sqrt(power) / np.linalg.norm(w)

    def stats(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = h @ w  # [K(user), K(stream)]
        tot = (np.abs(g) ** 2).sum(1) + noise
        return g, tot

    for _ in range(iters):
        g, tot = stats(w)
        desired = np.diag(g)
        u = desired / tot
        sinr = np.abs(desired) ** 2 / (tot - np.abs(desired) ** 2)
        v = 1.0 + sinr
        a = sum(v[j] * abs(u[j]) ** 2 * np.outer(h[j].conj(), h[j]) for j in range(k))
        bmat = h.conj().T * (v * u)[None, :]
        lam, vecs = np.linalg.eigh(a)
        phi = np.abs(vecs.conj().T @ bmat) ** 2
        phi = phi.sum(1)
        keep = lam > lam.max() * 1e-10

        def pw(mu: float, lam: np.ndarray = lam, phi: np.ndarray = phi,
               keep: np.ndarray = keep) -> float:
            return float((phi[keep] / (lam[keep] + mu) ** 2).sum())

        mu = 0.0
        if pw(0.0) > power:
            lo, hi = 0.0, 1.0
            while pw(hi) > power:
                hi *= 2.0
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if pw(mid) > power else (lo, mid)
            mu = 0.5 * (lo + hi)
        scale = np.where(keep, 1.0 / np.where(keep, lam + mu, 1.0), 0.0)
        w = vecs @ (scale[:, None] * (vecs.conj().T @ bmat))
    g, tot = stats(w)
    sig = np.abs(np.diag(g)) ** 2
    return float(np.log2(1.0 + sig / (tot - sig)).sum())


def _np_label(points: list[tuple[float, float]], refs: list[tuple[float, float]],
              dmax: float) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    claimed: set[int] = set()
    users = []
    for ref in refs:
        best, best_d = -1, math.inf
        for j, pt in enumerate(points):
            if j in claimed:
                continue
            d = ((pt[0] - ref[0]) / math.pi) ** 2 + ((pt[1] - ref[1]) / dmax) ** 2
            if d < best_d:
                best, best_d = j, d
        claimed.add(best)
        users.append(points[best])
    rest = [j for j in range(len(points)) if j not in claimed][0]
    return users, points[rest]


class YangSomNumpy:
    """YangSom for ``B`` episodes as a Python loop over per-sample NumPy steps (the oracle of
    the tests and the per-sample reference of the speed benchmark; no autoreset).

    Everything is per episode with explicit loops: the ICI matrix by the double sum (5), the SE
    by the SINR (7) loop, the Fisher information by the traces of (10), the UU/AU rules, the
    labelling and the grid. :math:`R^*` uses a NumPy WMMSE started from MRT (the core matches
    it with the default ``wmmse_init="mrt"``).

    Parameters
    ----------
    config : YangSomConfig
        The configuration.
    episodes : YangSomEpisodes
        Episode data, e.g. ``core.episodes`` after a reset.
    """

    def __init__(self, config: YangSomConfig, episodes: YangSomEpisodes) -> None:
        self.config = config
        self.ch = config.channel
        self.ep = {f.name: getattr(episodes, f.name).detach().cpu().numpy().astype(
            complex if getattr(episodes, f.name).is_complex() else np.float64)
            for f in dataclasses.fields(episodes)}
        b = episodes.batch_size
        self.t = np.zeros(b, dtype=np.int64)
        c = config
        self.f_rf = np.zeros((b, c.num_antennas, c.num_users), dtype=complex)
        self.p = np.ones((b, c.num_subcarriers, c.num_users), dtype=complex)
        self.grids = np.zeros((b, 3, c.grid_x, c.grid_y))
        self.user_est: list[list[tuple[float, float]]] = []
        dictionary = np.stack([_np_steer(c.num_antennas, math.asin(-1.0 + 2.0 * g / c.num_grid))
                               for g in range(c.num_grid)], axis=1)
        self.s_h = np.zeros((b, c.num_taps, c.max_users, c.num_grid))
        for i in range(b):
            users, target = self._estimates(i, 0, (c.target_angle_cap_deg * _DEG) ** 2, None)
            self.user_est.append(users)
            grid = self._grid(users, target)
            self.grids[i] = grid[None]
            for d in range(c.num_taps):
                self.s_h[i, d, : c.num_users] = np.abs(self.ep["h_est"][i, d] @ dictionary)
            for u in range(c.num_users):
                if c.init == "beam":
                    ang = np.angle(_np_steer(c.num_antennas, users[u][0]))
                    q = np.round(ang * 2**c.bits / (2 * math.pi)) % 2**c.bits
                    self.f_rf[i, :, u] = np.exp(1j * q * 2 * math.pi / 2**c.bits)
                else:
                    self.f_rf[i, :, u] = 1.0

    def _estimates(self, i: int, slot: int, target_var: float,
                   refs: list[tuple[float, float]] | None
                   ) -> tuple[list[tuple[float, float]], tuple[float, float]]:
        c, ep = self.config, self.ep
        sub = max(slot - 1, 0)
        points = []
        for u in range(c.num_users):
            th = ep["user_theta_rad"][i, sub, u]
            d = ep["user_distance_m"][i, sub, u]
            nz = ep["user_noise"][i, slot, u]
            points.append((th + c.user_angle_std_deg * _DEG * nz[0], d + c.range_std_m * nz[1]))
        tz = ep["target_noise"][i, slot]
        points.append((ep["target_theta_rad"][i, sub] + math.sqrt(target_var) * tz[0],
                       ep["target_distance_m"][i, sub] + c.range_std_m * tz[1]))
        if refs is None or sub % c.gps_period == 0 or slot == 0:
            refs = []
            for u in range(c.num_users):
                th = ep["user_theta_rad"][i, sub, u]
                d = ep["user_distance_m"][i, sub, u]
                x = d * math.sin(th) + c.gps_std_m * ep["gps_noise"][i, slot, u, 0]
                y = d * math.cos(th) + c.gps_std_m * ep["gps_noise"][i, slot, u, 1]
                refs.append((math.atan2(x, y), math.hypot(x, y)))
        return _np_label(points, refs, c.max_range_m)

    def _grid(self, users: list[tuple[float, float]], target: tuple[float, float]) -> np.ndarray:
        c = self.config
        grid = np.zeros((c.grid_x, c.grid_y))

        def cell(pt: tuple[float, float]) -> tuple[int, int]:
            x = math.floor((pt[0] / _DEG + 90.0) * c.grid_x / 180.0)
            y = math.floor(pt[1] * c.grid_y / c.max_range_m)
            return min(max(x, 0), c.grid_x - 1), min(max(y, 0), c.grid_y - 1)

        for pt in users:
            grid[cell(pt)] = 1.0
        grid[cell(target)] = 2.0
        return grid

    def _apply(self, i: int, x: np.ndarray, n: int) -> None:
        c = self.config
        x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
        m, s, umax, k = c.num_antennas, c.num_subcarriers, c.max_users, c.num_users
        w = ((x[:umax] + 1.0) / 2.0)[:k] if c.scheme == "uu" else (x[:m] + 1.0) / 2.0
        if w.sum() <= 0:
            w = np.ones_like(w)
        cdf = np.cumsum(w) / w.sum()
        idx = min(int(np.searchsorted(cdf, self.ep["pick"][i, n], side="right")), len(w) - 1)
        f_rf, p = self.f_rf[i], self.p[i]
        if c.scheme == "uu":
            a2, abb = x[umax:umax + m], x[umax + m:umax + m + s]
            dth = 2 * math.pi / 2**c.bits
            for ant in range(m):
                ang = np.angle(f_rf[ant, idx]) + (dth if a2[ant] >= 0 else -dth)
                q = round(ang * 2**c.bits / (2 * math.pi)) % 2**c.bits
                f_rf[ant, idx] = np.exp(1j * q * dth)
            for sc in range(s):
                p[sc, idx] += c.step_bb * abb[sc]
        else:
            abb = x[m:m + s]
            new_p = p.copy()
            for u in range(k):
                z = 0j
                for sc in range(s):
                    f_old = f_rf[idx, u] * p[sc, u]
                    f_upd = f_old + c.eta_r * abs(f_old) * np.exp(1j * math.pi * abb[sc])
                    unit = p[sc, u] / abs(p[sc, u]) if abs(p[sc, u]) > 0 else 0.0
                    z += f_upd * np.conj(unit)
                    new_p[sc, u] = abs(f_upd) * unit
                if abs(z) > 0:
                    q = round(np.angle(z) * 2**c.bits / (2 * math.pi)) % 2**c.bits
                    f_rf[idx, u] = np.exp(1j * q * 2 * math.pi / 2**c.bits)
                else:
                    q = round(np.angle(f_rf[idx, u]) * 2**c.bits / (2 * math.pi)) % 2**c.bits
                    f_rf[idx, u] = np.exp(1j * q * 2 * math.pi / 2**c.bits)
            p[:] = new_p
        tot = float((np.abs(p) ** 2).sum())
        if tot <= 0:
            p[:] = 1.0
            tot = float(k * s)
        p *= math.sqrt(k * s / tot)

    def step_one(self, i: int, action: np.ndarray) -> tuple[dict[str, np.ndarray], float,
                                                             dict[str, float]]:
        """Step episode ``i`` with its action ``[action_dim]``: ``(obs, reward, info)``."""
        c, ep, ch = self.config, self.ep, self.ch
        n = min(int(self.t[i]), c.max_episode_steps - 1)
        self._apply(i, action, n)
        k, s = c.num_users, c.num_subcarriers
        f = np.stack([self.f_rf[i] * self.p[i, sc][None, :] for sc in range(s)]) * math.sqrt(
            c.power / (c.num_antennas * k * s))  # [S, M, K]
        syms = range(c.num_symbols) if c.rate_symbols == "all" else range(1)
        rate, rate_star = 0.0, 0.0
        for sym in syms:
            phase = ep["phase_rad"][i, n] + ep["doppler_rad"][i, n] * sym * ch.symbol_samples
            h = _np_ici(ep["gains"][i, n], ep["delays_s"][i, n], ep["doppler_rad"][i, n], phase,
                        ep["aod_rad"][i, n], c, ch)
            rate += _np_se(h, f, c.noise_var) / len(syms)
            if c.normalizer == "optimal":
                rate_star += sum(_np_wmmse_rate(h[sc, sc], c.power / s, c.noise_var,
                                                c.wmmse_iter) for sc in range(s)) / len(syms)
        theta = float(ep["target_theta_rad"][i, n])
        eta = abs(ep["alpha"][i, n]) ** 2 / c.noise_var
        fisher = sum(_np_fisher(f[sc] @ f[sc].conj().T, theta, c.num_rx, eta, c.num_symbols)
                     for sc in range(s))
        if c.normalizer == "optimal":
            def perp(nn: int) -> float:
                a, da = _np_steer(nn, theta), _np_dsteer(nn, theta)
                return float(np.linalg.norm(da - a * (a.conj() @ da)) ** 2)
            fisher_star = 2.0 * c.num_symbols * max(perp(c.num_antennas), perp(c.num_rx)) * (
                eta * c.power)
        else:
            rate_star, fisher_star = c.rate_constant, c.fisher_constant
        crlb = 1.0 / fisher if fisher != 0 else math.inf
        info = {"se": rate, "se_per_hz": rate / s, "fisher": fisher, "crlb": crlb,
                "crlb_db": (10.0 * math.log10(crlb) if crlb > 0 else math.nan),
                "reward_rate": rate / rate_star,
                "reward_sense": fisher / fisher_star, "rate_star": rate_star,
                "fisher_star": fisher_star}
        reward = c.weight * info["reward_rate"] + (1.0 - c.weight) * info["reward_sense"]
        cap = (c.target_angle_cap_deg * _DEG) ** 2
        var = min(crlb, cap) if crlb > 0 else cap
        users, target = self._estimates(i, n + 1, var, self.user_est[i])
        self.user_est[i] = users
        self.grids[i] = np.concatenate([self.grids[i, 1:], self._grid(users, target)[None]])
        self.t[i] += 1
        return {"S_H": self.s_h[i].copy(), "S_P": self.grids[i].copy()}, reward, info

    def step(self, actions: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                 np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Step every episode with its row of ``actions`` ``[B, action_dim]``."""
        rows = [self.step_one(i, actions[i]) for i in range(self.t.shape[0])]
        obs = {key: np.stack([r[0][key] for r in rows]) for key in ("S_H", "S_P")}
        reward = np.array([r[1] for r in rows])
        truncated = self.t >= self.config.max_episode_steps
        info = {key: np.array([r[2][key] for r in rows]) for key in _INFO_KEYS}
        return obs, reward, np.zeros_like(truncated), truncated, info


def numpy_steps_per_second(batch: int, steps: int, config: YangSomConfig | None = None,
                           seed: int = 0) -> float:
    """Environment steps per second (``batch * steps / seconds``) of :class:`YangSomNumpy`
    with random actions drawn before the clock starts (``steps ≤ T``: no resets)."""
    cfg = YangSomConfig() if config is None else config
    core = YangSomCore(batch, cfg, device="cpu")
    core.reset(seed=seed)
    assert core.episodes is not None
    env = YangSomNumpy(core.config, core.episodes)
    rng = np.random.default_rng(seed)
    actions = [rng.uniform(-1.0, 1.0, (batch, cfg.action_dim)) for _ in range(steps)]
    start = time.perf_counter()
    for a in actions:
        env.step(a)
    return batch * steps / max(time.perf_counter() - start, 1e-12)
