r"""The per-slot digital-twin loop of ding_dt (Alg. 1, Fig. 2; spec §1 "Per-slot DT loop").

:func:`run_twin` runs ``num_slots`` slots of length ``T`` on a batch of ``B`` traffic
realizations (seeds), all vehicles of all seeds at once (padded with a mask). Each slot ``n``
(time :math:`t_n = nT`):

1. **Predict.** Every continuing track (state :math:`\tilde{\mathbf x}_{n-1}`, MSE matrix
   :math:`\tilde{\mathbf M}_{n-1}`, relative to the RSU that served it last) is first expressed
   relative to *every* RSU through Cartesian coordinates (spec §3 "Handover":
   :func:`isaclearn.channels.highway.handover`, covariance through the conversion Jacobian), then
   predicted with the EKF in each frame: :math:`\hat{\mathbf x}_n = \mathbf g(\tilde{\mathbf
   x}_{n-1})` (19) with the φ = 0 guard (the DT's stored speed), :math:`\hat{\mathbf M}_n =
   \mathbf G\tilde{\mathbf M}_{n-1}\mathbf G^T + \mathbf E` (25)
   (:func:`isaclearn.tracking.ekf_predict`). A vehicle that has just entered the segment starts
   a track at the previous slot, at truth + :math:`\mathcal N(\mathbf 0, \tilde{\mathbf M}_0)`
   in the frame of its nearest RSU (spec §6.10; the detection that starts the track), with a
   stored speed drawn with the standard deviation ``init_std_v_mps``, and is predicted like
   every other track; a vehicle that has left is dropped (a re-entering vehicle of constant
   traffic starts a new track).
2. **Design.** The designer gets a :class:`~isaclearn.systems.ding_dt.evaluation.TwinProblem`:
   predicted channels of both RSUs, the predicted states and MSE matrices, the vehicle mask
   and, for ``sensing_constraint`` ``"paper"``/``"slack"``, :math:`\mathbf\Pi^H\mathbf\Pi` at
   :math:`\hat\varphi` and Λ of (54)–(58) (:func:`isaclearn.metrics.pcrb.sensing_threshold`)
   with :math:`\tilde m^{(11)}_{n-1}` (times :math:`1 + \epsilon_s` for ``"slack"``) and the
   design-time information of (16)/(17) at :math:`|\eta|^2 = P` (the paper's
   :math:`\eta\approx 1` at its budget :math:`\|\mathbf f\|\le 1`: a full-power beam pointed at
   the vehicle). It returns beams ``w`` ``[B, I, K, N_t]`` and ``extras["assign"]`` ``[B, K]``.
3. **Score** the rate (10) on the *true* channels
   (:func:`~isaclearn.systems.ding_dt.evaluation.slot_metrics`).
4. **Echo and update.** The serving RSU's beam illuminates the vehicle; the measurement
   :math:`\mathbf y_n` is drawn from (12)–(17) at the true state with the actual gain
   :math:`\eta` (:func:`isaclearn.channels.highway.sample_measurement`); the EKF update
   (26)/(31) with the Joseph covariance (or the paper's gain, ``ekf_gain="paper"``) runs in the
   serving RSU's frame, with β known from :math:`\hat d` (22) and the filter's ``Q`` from the
   prediction. The track is stored in that frame: a change of serving RSU is a handover. The
   stored speed is :func:`~isaclearn.channels.highway.kinematic_speed` of the corrected state.
5. **Store** per-slot rows: sum rate, rate per vehicle, number of vehicles, RCRB, the
   infeasible / active / violated fractions of the sensing constraint among served vehicles,
   the design time.

The posterior Cramér–Rao bound is propagated beside the filter along the *true* trajectory
with the actual beams (:math:`\mathbf G` and the measurement information at the true state,
the same handover Jacobians): it is the RCRB of Fig. 11 (``rcrb_m``).

Vehicles are processed in a compacted window: at each slot only the vehicles on the road in
some seed are gathered (``K_act`` = the largest count over the batch), designed, scored and
filtered, and their tracks are scattered back. Randomness (track starts, measurement noise)
comes from one ``torch.Generator`` whose draws do not depend on the designer, so designers run
with the same seed see the same traffic and the same noise (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol

import torch

from isaclearn.channels.highway import (
    HighwayConfig,
    Traffic,
    cartesian_to_state,
    comm_channel,
    handover,
    kinematic_speed,
    lap_index,
    measurement_mean,
    measurement_noise_var,
    positions,
    sample_measurement,
    states_at,
    steering,
    transition,
)
from isaclearn.core.design import Design
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.learn.bilstm import vehicle_features
from isaclearn.metrics.pcrb import (
    angle_derivative_gram,
    angle_derivative_matrix,
    angle_information_gain,
    measurement_information,
    sensing_threshold,
)
from isaclearn.systems.ding_dt.config import DtSettings
from isaclearn.systems.ding_dt.evaluation import (
    SlotMetrics,
    TwinProblem,
    at_rsu,
    slot_metrics,
)
from isaclearn.tracking import ekf_predict, ekf_update

DUMMY_STATE = (0.5, 30.0, 10.0)
"""A valid state ``[φ, d, v̇]`` written into unused (padded) entries so that conversions and
Jacobians of masked entries stay finite."""


class TwinDesigner(Protocol):
    """What :func:`run_twin` calls: ``design(problem) -> Design``; ``needs_features`` (optional
    attribute) asks for the Bi-LSTM features."""

    name: str

    def design(self, problem: TwinProblem) -> Design:  # pragma: no cover - protocol
        ...


@dataclass
class TwinTrace:
    """What :func:`run_twin` returns: per-slot summaries ``[T, B]`` and, on request, per-vehicle
    records.

    Attributes
    ----------
    time_s : torch.Tensor
        ``[T]`` slot times :math:`t_n = nT` in s.
    sum_rate : torch.Tensor
        ``[T, B]`` total rate of the slot (bit/s/Hz; 0 without vehicles).
    num_vehicles : torch.Tensor
        ``[T, B]`` vehicles on the road (int64).
    rcrb_m : torch.Tensor
        ``[T, B]`` mean over the vehicles of the range RCRB after the echo (m; NaN without
        vehicles).
    infeasible, active, violated : torch.Tensor
        ``[T, B]`` counts of served vehicles whose sensing constraint is infeasible, binding,
        or not met (:class:`~isaclearn.systems.ding_dt.evaluation.SlotMetrics`).
    constrained : torch.Tensor
        ``[T, B]`` count of served vehicles with Λ > 0.
    design_s : torch.Tensor
        ``[T]`` wall-clock seconds of the designer's call (the whole batch).
    records : list of dict or None
        Per slot (``record=True``), compacted per-vehicle tensors ``[B, K_act, ...]``:
        ``ids``, ``mask``, ``age`` (slots since the track started, 0 at its first slot),
        ``assign``, ``rate``, ``bound_diag`` (PCRB diagonal after the echo), ``err``
        (:math:`\\tilde{\\mathbf x}-\\mathbf x` in the serving frame), ``cov``
        (:math:`\\tilde{\\mathbf M}_n`), ``x_pred`` (:math:`\\hat{\\mathbf x}_n` in the serving
        frame), ``y`` (the measurement), ``state_true`` (serving frame).
    """

    time_s: torch.Tensor
    sum_rate: torch.Tensor
    num_vehicles: torch.Tensor
    rcrb_m: torch.Tensor
    infeasible: torch.Tensor
    active: torch.Tensor
    violated: torch.Tensor
    constrained: torch.Tensor
    design_s: torch.Tensor
    records: list[dict[str, torch.Tensor]] | None = None

    @property
    def rate_per_vehicle(self) -> torch.Tensor:
        """``[T, B]`` sum rate over the number of vehicles (NaN without vehicles)."""
        n = self.num_vehicles.to(self.sum_rate.dtype)
        return torch.where(n > 0, self.sum_rate / n.clamp_min(1), torch.nan)

    def slot_rows(self, seed_offset: int = 0) -> list[dict[str, Any]]:
        """One tidy row per slot and instance: ``seed`` (``seed_offset + b``), ``slot``,
        ``time_s``, ``sum_rate``, ``rate_per_vehicle``, ``num_vehicles``, ``rcrb_m``,
        ``infeasible_frac``, ``active_frac``, ``violated_frac`` (fractions of the served
        vehicles)."""
        rows = []
        n_served = self.num_vehicles.clamp_min(1).double()
        frac = {name: (getattr(self, name).double() / n_served)
                for name in ("infeasible", "active", "violated")}
        rpv = self.rate_per_vehicle
        for t in range(self.time_s.shape[0]):
            for b in range(self.sum_rate.shape[1]):
                rows.append({
                    "seed": seed_offset + b, "slot": t, "time_s": float(self.time_s[t]),
                    "sum_rate": float(self.sum_rate[t, b]),
                    "rate_per_vehicle": float(rpv[t, b]),
                    "num_vehicles": int(self.num_vehicles[t, b]),
                    "rcrb_m": float(self.rcrb_m[t, b]),
                    **{f"{k}_frac": float(v[t, b]) for k, v in frac.items()},
                })
        return rows


@dataclass
class _Tracks:
    """The digital twin's memory, full size ``[B, K]`` (``K`` = every vehicle of the traffic)."""

    has: torch.Tensor  # [B, K] bool
    lap: torch.Tensor  # [B, K] int64
    frame: torch.Tensor  # [B, K] int64
    x: torch.Tensor  # [B, K, 3]
    cov: torch.Tensor  # [B, K, 3, 3]
    speed: torch.Tensor  # [B, K]
    bound: torch.Tensor  # [B, K, 3, 3]
    age: torch.Tensor  # [B, K] int64
    f_prev: torch.Tensor  # [B, I, K, N_t] complex
    r_last: torch.Tensor  # [B, I, K, N_r] complex
    nu_last: torch.Tensor  # [B, I, K]
    mu_last: torch.Tensor  # [B, I, K]

    @classmethod
    def empty(cls, b: int, k: int, cfg: HighwayConfig, dtype: torch.dtype,
              device: torch.device) -> _Tracks:
        cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
        i = cfg.num_rsus
        eye = torch.eye(3, dtype=dtype, device=device).expand(b, k, 3, 3).clone()
        dummy = torch.tensor(DUMMY_STATE, dtype=dtype, device=device).expand(b, k, 3).clone()
        return cls(
            has=torch.zeros(b, k, dtype=torch.bool, device=device),
            lap=torch.zeros(b, k, dtype=torch.int64, device=device),
            frame=torch.zeros(b, k, dtype=torch.int64, device=device),
            x=dummy, cov=eye, speed=torch.zeros(b, k, dtype=dtype, device=device),
            bound=eye.clone(), age=torch.zeros(b, k, dtype=torch.int64, device=device),
            f_prev=torch.zeros(b, i, k, cfg.num_tx, dtype=cdt, device=device),
            r_last=torch.zeros(b, i, k, cfg.num_rx, dtype=cdt, device=device),
            nu_last=torch.zeros(b, i, k, dtype=dtype, device=device),
            mu_last=torch.zeros(b, i, k, dtype=dtype, device=device),
        )


# ------------------------------------------------------------------------------- helpers


def _take(x: torch.Tensor, sel: torch.Tensor) -> torch.Tensor:
    """``x[b, sel[b, j], ...]`` for ``x`` ``[B, K, ...]`` → ``[B, K_act, ...]``."""
    bi = torch.arange(sel.shape[0], device=sel.device)[:, None]
    return x[bi, sel]


def _take_rsu(x: torch.Tensor, sel: torch.Tensor) -> torch.Tensor:
    """``x[b, i, sel[b, j], ...]`` for ``x`` ``[B, I, K, ...]`` → ``[B, I, K_act, ...]``."""
    bi = torch.arange(sel.shape[0], device=sel.device)[:, None, None]
    ii = torch.arange(x.shape[1], device=sel.device)[None, :, None]
    return x[bi, ii, sel[:, None, :]]


def _put(full: torch.Tensor, sel: torch.Tensor, value: torch.Tensor,
         mask: torch.Tensor) -> None:
    """``full[b, sel[b, j]] = value[b, j]`` where ``mask[b, j]`` (in place)."""
    bi = torch.arange(sel.shape[0], device=sel.device)[:, None]
    old = full[bi, sel]
    m = mask.reshape(*mask.shape, *([1] * (value.dim() - mask.dim())))
    full[bi, sel] = torch.where(m, value.to(full.dtype), old)


def _put_rsu(full: torch.Tensor, sel: torch.Tensor, value: torch.Tensor,
             mask: torch.Tensor) -> None:
    """``full[b, i, sel[b, j]] = value[b, i, j]`` where ``mask[b, j]`` (in place)."""
    bi = torch.arange(sel.shape[0], device=sel.device)[:, None, None]
    ii = torch.arange(full.shape[1], device=sel.device)[None, :, None]
    idx = (bi, ii, sel[:, None, :])
    old = full[idx]
    m = mask[:, None, :].reshape(*mask.shape[:1], 1, mask.shape[1],
                                 *([1] * (value.dim() - 3)))
    full[idx] = torch.where(m, value.to(full.dtype), old)


def to_frames(x: torch.Tensor, cov: torch.Tensor, frame: torch.Tensor, speed: torch.Tensor,
              cfg: HighwayConfig) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A state and covariance relative to RSU ``frame`` expressed relative to every RSU.

    Through Cartesian coordinates (:func:`isaclearn.channels.highway.handover`): the state is
    converted exactly, the covariance through the conversion Jacobian; entries already in the
    target frame are kept as they are.

    Parameters
    ----------
    x : torch.Tensor
        ``[B, K, 3]`` states relative to RSU ``frame``.
    cov : torch.Tensor
        ``[B, K, 3, 3]``.
    frame : torch.Tensor
        ``[B, K]`` int64 RSU index of each state.
    speed : torch.Tensor
        ``[B, K]`` stored signed speed (m/s), used inside the φ = 0 guard.
    cfg : HighwayConfig
        RSU positions, road side, guard.

    Returns
    -------
    x_all : torch.Tensor
        ``[B, I, K, 3]``.
    cov_all : torch.Tensor
        ``[B, I, K, 3, 3]``.
    """
    rsu = cfg.rsu_xy(dtype=x.dtype, device=x.device)  # [I, 2]
    side = torch.tensor(cfg.vehicle_side, dtype=x.dtype, device=x.device)  # [I]
    rsu_from, y_sign = rsu[frame], side[frame]
    xs, cs = [], []
    for i in range(cfg.num_rsus):
        xi, ci = handover(x, cov, rsu_from, rsu[i], y_sign, speed, cfg.phi_guard)
        same = frame == i
        xs.append(torch.where(same[..., None], x, xi))
        cs.append(torch.where(same[..., None, None], cov, 0.5 * (ci + ci.mT)))
    return torch.stack(xs, dim=1), torch.stack(cs, dim=1)


def design_information(state: torch.Tensor, cfg: HighwayConfig, c_f: float
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Measurement information of the design (spec §3): (16)/(17) at :math:`|\eta|^2 = P`.

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` predicted states.
    cfg : HighwayConfig
    c_f : float

    Returns
    -------
    j_meas : torch.Tensor
        ``[..., 3, 3]`` diagonal (its (1, 1) entry, the only one that depends on the beam, is
        left at 0: :func:`~isaclearn.metrics.pcrb.sensing_threshold` ignores it).
    angle_gain : torch.Tensor
        ``[...]`` :math:`g_\varphi = c_f\kappa^2|\beta|^2G^2/\sigma_r^2`.
    """
    d = state[..., 1]
    beta_sq = abs(cfg.fading) ** 2 / (4.0 * d * d)
    snr = cfg.mf_gain * cfg.kappa**2 * beta_sq * cfg.power  # G κ² |β|² |η|², |η|² = P
    base = cfg.sensing_noise_var / snr
    j = measurement_information(
        torch.zeros_like(d), beta_sq=beta_sq, kappa=cfg.kappa, gain=cfg.mf_gain,
        sigma_r2=cfg.echo_noise_var, sigma_nu2=cfg.rho_nu**2 * base,
        sigma_mu2=cfg.rho_mu**2 * base, carrier_hz=cfg.carrier_hz, c_f=c_f)
    g = angle_information_gain(beta_sq, kappa=cfg.kappa, gain=cfg.mf_gain,
                               sigma_r2=cfg.echo_noise_var, c_f=c_f)
    return j, g


def sensing_terms(state: torch.Tensor, cov: torch.Tensor, m_prev_11: torch.Tensor,
                  settings: DtSettings) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    r""":math:`\mathbf\Pi^H\mathbf\Pi` at :math:`\hat\varphi` and Λ for the constraint mode.

    Parameters
    ----------
    state : torch.Tensor
        ``[..., 3]`` predicted states.
    cov : torch.Tensor
        ``[..., 3, 3]`` predicted MSE matrices :math:`\hat{\mathbf M}_n`.
    m_prev_11 : torch.Tensor
        ``[...]`` :math:`\tilde m^{(11)}_{n-1}` in the same frame.
    settings : DtSettings

    Returns
    -------
    gram : torch.Tensor or None
        ``[..., N_t, N_t]`` complex (``None`` for ``"none"``).
    threshold : torch.Tensor or None
        ``[...]`` Λ (``None`` for ``"none"``).
    """
    if settings.sensing_constraint == "none":
        return None, None
    cfg = settings.highway
    pi = angle_derivative_matrix(state[..., 0].clamp(-1.0, 1.0), cfg.num_tx, cfg.num_rx)
    gram = angle_derivative_gram(pi)
    j, g = design_information(state, cfg, settings.c_f)
    prev = m_prev_11
    if settings.sensing_constraint == "slack":
        prev = prev * (1.0 + settings.slack_eps)
    lam = sensing_threshold(prev, cov, j, g)
    return gram, lam


# ------------------------------------------------------------------------------- the loop


def _transition_fn(slot_s: float, guard: float) -> Callable[..., torch.Tensor]:
    def g(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return transition(x, slot_s, v, guard)

    return g


def _observation_fn(cfg: HighwayConfig) -> Callable[..., torch.Tensor]:
    def h(x: torch.Tensor, f: torch.Tensor, d_hat: torch.Tensor) -> torch.Tensor:
        return measurement_mean(x, f, cfg, beta_from=d_hat)

    return h


def run_twin(
    settings: DtSettings,
    traffic: Traffic,
    designer: TwinDesigner,
    num_slots: int,
    *,
    generator: torch.Generator | None,
    start_slot: int = 0,
    record: bool = False,
    features: bool | None = None,
    on_slot: Callable[[int, TwinProblem, Design, SlotMetrics], None] | None = None,
    progress: Callable[[range], Any] | None = None,
) -> TwinTrace:
    """Run the digital-twin loop of Alg. 1 for ``num_slots`` slots (module docstring).

    Parameters
    ----------
    settings : DtSettings
        Scene and loop settings (constraint mode, EKF gain, ...).
    traffic : Traffic
        ``[B, K]`` vehicles (:func:`~isaclearn.channels.highway.sample_poisson_traffic` or
        :func:`~isaclearn.channels.highway.constant_traffic`), float64.
    designer : TwinDesigner
        ``design(TwinProblem) -> Design`` with ``extras["assign"]``.
    num_slots : int
        Slots to run (≥ 1).
    generator : torch.Generator or None
        Source of the track-start and measurement noise.
    start_slot : int
        Index of the first slot (time ``start_slot · T``); tracks start empty.
    record : bool
        Keep per-vehicle records (:attr:`TwinTrace.records`).
    features : bool or None
        Build the Bi-LSTM features of every problem; ``None``: when the designer asks for them
        (attribute ``needs_features``).
    on_slot : callable or None
        ``on_slot(n, problem, design, metrics)`` after scoring each slot that has vehicles
        (e.g. to collect Bi-LSTM training data).
    progress : callable or None
        Wraps the ``range`` of slots (e.g. a progress display).

    Returns
    -------
    TwinTrace

    Raises
    ------
    ConfigError
        ``num_slots`` below 1 or a traffic that is not float64.
    ShapeError, ValueRangeError
        A design of the wrong shape or with an RSU index out of range.
    """
    if isinstance(num_slots, bool) or not isinstance(num_slots, int) or num_slots < 1:
        raise ConfigError(f"num_slots must be an integer >= 1, got {num_slots!r}")
    if traffic.arrival_s.dtype != torch.float64:
        raise ConfigError("the digital twin needs float64 traffic (mm-level tracking on 30 m)")
    cfg = settings.highway
    dt = torch.float64
    device = traffic.arrival_s.device
    b, k_all = traffic.arrival_s.shape
    n_rsu = cfg.num_rsus
    tracks = _Tracks.empty(b, k_all, cfg, dt, device)
    proc_var = torch.tensor([cfg.process_std_phi, cfg.process_std_d_m, cfg.process_std_v_mps],
                            dtype=dt, device=device).square()
    init_std = torch.tensor([cfg.init_std_phi, cfg.init_std_d_m, cfg.init_std_v_mps],
                            dtype=dt, device=device)
    m0 = torch.diag(init_std.square())
    g_fn = _transition_fn(cfg.slot_s, cfg.phi_guard)
    h_fn = _observation_fn(cfg)
    dummy = torch.tensor(DUMMY_STATE, dtype=dt, device=device)
    eye3 = torch.eye(3, dtype=dt, device=device)
    rsu_xy = cfg.rsu_xy(dtype=dt, device=device)
    needs_features = (bool(getattr(designer, "needs_features", False)) if features is None
                      else features)

    out: dict[str, list[torch.Tensor]] = {n: [] for n in (
        "sum_rate", "num_vehicles", "rcrb_m", "infeasible", "active", "violated",
        "constrained")}
    design_s: list[float] = []
    records: list[dict[str, torch.Tensor]] | None = [] if record else None
    slots = range(start_slot, start_slot + num_slots)
    for n in (progress(slots) if progress is not None else slots):
        t = n * cfg.slot_s
        x_pos, y_pos, active = positions(traffic, t, cfg)
        lap = lap_index(traffic, t, cfg)
        tracks.has &= active
        ka = int(active.sum(1).max()) if k_all else 0
        if ka == 0:
            for name in out:
                out[name].append(torch.zeros(b, dtype=dt if name == "sum_rate" else torch.int64,
                                             device=device))
            out["rcrb_m"][-1] = torch.full((b,), math.nan, dtype=dt, device=device)
            design_s.append(0.0)
            if records is not None:
                records.append({})
            continue
        sel = torch.sort((~active).to(torch.int8), dim=1, stable=True).indices[:, :ka]
        m = _take(active, sel)
        truth = _take_rsu(states_at(traffic, t, cfg), sel)  # [B, I, ka, 3]
        # the true state one slot earlier on the same straight line (also right after a
        # constant-traffic vehicle re-entered the segment)
        vx = _take(traffic.velocity_x_mps, sel)
        xy = torch.stack([_take(x_pos, sel), _take(y_pos, sel)], dim=-1)
        xy_prev = xy - torch.stack([vx * cfg.slot_s, torch.zeros_like(vx)], dim=-1)
        truth_prev = cartesian_to_state(xy_prev[:, None], vx[:, None], rsu_xy[None, :, None])
        v_true = -vx  # signed speed v of (19)
        cont = m & _take(tracks.has, sel) & (_take(tracks.lap, sel) == _take(lap, sel))
        new = m & ~cont

        # ---- 1. predict in every RSU's frame ----------------------------------------------
        # A new track starts at the previous slot, at truth + N(0, M̃₀) in the frame of the
        # nearest RSU, and is predicted like every other track. Two blocks go through one
        # frame conversion and one prediction: the tracks (x̃, M̃ in their frame) and the
        # bound (true state, PCRB).
        near = truth_prev[..., 1].argmin(dim=1)  # [B, ka]
        z = torch.randn(b, ka, 3, generator=generator, dtype=dt, device=device)
        zv = torch.randn(b, ka, generator=generator, dtype=dt, device=device)
        x0 = torch.where(new[..., None], at_rsu(truth_prev, near) + init_std * z, dummy)
        spd0 = v_true + cfg.init_std_v_mps * zv
        new_c = new[..., None, None]
        fr = torch.where(cont, _take(tracks.frame, sel), near)
        x_prev = torch.where(cont[..., None], _take(tracks.x, sel), x0)
        c_prev = torch.where(cont[..., None, None], _take(tracks.cov, sel),
                             torch.where(new_c, m0, eye3))
        spd = torch.where(cont, _take(tracks.speed, sel), torch.where(new, spd0, v_true))
        tp_fr = torch.where(m[..., None], at_rsu(truth_prev, fr), dummy)
        bd_prev = torch.where(cont[..., None, None], _take(tracks.bound, sel),
                              torch.where(new_c, m0, eye3))
        x_all, c_all = to_frames(torch.cat([x_prev, tp_fr]), torch.cat([c_prev, bd_prev]),
                                 torch.cat([fr, fr]), torch.cat([spd, v_true]), cfg)
        x_fr, tp_all = x_all.split(b)
        c_fr, bd_fr = c_all.split(b)
        mask_i = m[:, None, :].expand(b, n_rsu, ka)
        spd_i = torch.cat([spd, v_true])[:, None, :].expand(2 * b, n_rsu, ka)
        # the EKF prediction (25) of the tracks and, along the truth, of the bound (35)
        pred = ekf_predict(torch.cat([x_fr, tp_all]), torch.cat([c_fr, bd_fr]), g_fn,
                           proc_var.expand(1, 1, 1, 3), spd_i,
                           mask=torch.cat([mask_i, mask_i]))
        x_hat, _ = pred.x.split(b)
        c_hat, bd_hat = pred.cov.split(b)
        valid_i = m[:, None, :, None]
        x_hat = torch.where(valid_i, x_hat, dummy)
        c_hat = torch.where(valid_i[..., None], c_hat, eye3)
        bd_hat = torch.where(valid_i[..., None], bd_hat, eye3)
        m11_prev = torch.where(m[:, None, :], c_fr[..., 0, 0], 1.0)

        # ---- 2. design on the prediction --------------------------------------------------
        gram, lam = sensing_terms(x_hat, c_hat, m11_prev, settings)
        h_hat = comm_channel(x_hat, cfg)
        h_true = comm_channel(torch.where(valid_i, truth, dummy), cfg)
        rsu_x0 = cfg.rsu_positions_m[0][0]
        x_m = x_hat[:, 0, :, 1] * x_hat[:, 0, :, 0] + rsu_x0
        prev_assign = torch.where(cont, fr, -1)
        f_prev = _take_rsu(tracks.f_prev, sel)
        feats = None
        if needs_features:
            feats = _features(tracks, sel, new, near, x0, cfg, f_prev)
        problem = TwinProblem(
            h=h_hat, state=x_hat, cov=c_hat, mask=m, x_m=torch.where(m, x_m, 0.0),
            h_true=h_true, state_true=torch.where(valid_i, truth, dummy), gram=gram,
            threshold=lam, prev_assign=prev_assign, prev_beams=f_prev, features=feats,
            bound_pred=bd_hat, vehicle_ids=sel, config=cfg, c_f=settings.c_f,
            inter_rsu_interference=settings.inter_rsu_interference)
        t0 = perf_counter()
        design = designer.design(problem)
        design_s.append(perf_counter() - t0)

        # ---- 3. score on the truth --------------------------------------------------------
        sm = slot_metrics(problem, design)
        if on_slot is not None:
            on_slot(n, problem, design, sm)

        # ---- 4. echo at the serving RSU, EKF update (handover = new frame) ---------------
        a = sm.assign
        beam = torch.where(m[..., None], sm.served_beam, 0.0)
        xs_true = at_rsu(problem.state_true, a)
        y = sample_measurement(xs_true, beam, cfg, generator)
        xs_hat, cs_hat = at_rsu(x_hat, a), at_rsu(c_hat, a)
        q = measurement_noise_var(xs_hat, beam, cfg)
        upd = ekf_update(xs_hat, cs_hat, y, h_fn, q, beam, xs_hat[..., 1], mask=m,
                         gain=settings.ekf_gain)
        spd_new = kinematic_speed(upd.x, spd, cfg.phi_guard)

        # ---- write back ----------------------------------------------------------------------
        _put(tracks.x, sel, upd.x, m)
        _put(tracks.cov, sel, upd.cov, m)
        _put(tracks.frame, sel, a, m)
        _put(tracks.speed, sel, spd_new, m)
        _put(tracks.lap, sel, _take(lap, sel), m)
        age = torch.where(cont, _take(tracks.age, sel) + 1, 0)
        _put(tracks.age, sel, age, m)
        if sm.bound is not None:
            _put(tracks.bound, sel, sm.bound, m)
        _put(tracks.has, sel, m, m)
        xi = (torch.arange(n_rsu, device=device)[None, :, None] == a[:, None, :]) \
            & m[:, None, :]
        w_served = torch.where(xi[..., None], design.w.to(tracks.f_prev.dtype), 0.0)
        _put_rsu(tracks.f_prev, sel, w_served, m)
        r, nu, mu = _split(y, cfg.num_rx)
        _put_rsu(tracks.r_last, sel, torch.where(xi[..., None], r[:, None], 0.0), m)
        _put_rsu(tracks.nu_last, sel, torch.where(xi, nu[:, None], 0.0), m)
        _put_rsu(tracks.mu_last, sel, torch.where(xi, mu[:, None], 0.0), m)

        # ---- 5. rows --------------------------------------------------------------------------
        out["sum_rate"].append(torch.where(m, sm.rate, 0.0).sum(-1).to(dt))
        out["num_vehicles"].append(m.sum(-1))
        if sm.bound is not None:
            rc = sm.bound[..., 1, 1].clamp_min(0).sqrt()
            nv = m.sum(-1)
            out["rcrb_m"].append(torch.where(
                nv > 0, torch.where(m, rc, 0.0).sum(-1) / nv.clamp_min(1), math.nan))
        else:
            out["rcrb_m"].append(torch.full((b,), math.nan, dtype=dt, device=device))
        for name in ("infeasible", "active", "violated", "constrained"):
            out[name].append(getattr(sm, name).sum(-1))
        if records is not None:
            bound_diag = (torch.diagonal(sm.bound, dim1=-2, dim2=-1) if sm.bound is not None
                          else torch.full((b, ka, 3), math.nan, dtype=dt, device=device))
            records.append({
                "ids": sel, "mask": m, "age": age, "assign": a, "rate": sm.rate,
                "bound_diag": bound_diag, "err": upd.x - xs_true, "cov": upd.cov,
                "x_pred": xs_hat, "y": y, "state_true": xs_true, "speed": spd_new,
                "nis": upd.nis, "dof": upd.dof,
            })
    return TwinTrace(
        time_s=torch.arange(start_slot, start_slot + num_slots, dtype=dt) * cfg.slot_s,
        **{name: torch.stack(v) for name, v in out.items()},
        design_s=torch.tensor(design_s, dtype=dt), records=records)


def _split(y: torch.Tensor, num_rx: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Echo, delay and Doppler of a stacked measurement, NaN (no information) read as 0."""
    y = torch.nan_to_num(y, nan=0.0)
    r = torch.complex(y[..., :num_rx], y[..., num_rx:2 * num_rx])
    return r, y[..., 2 * num_rx], y[..., 2 * num_rx + 1]


def _features(tracks: _Tracks, sel: torch.Tensor, new: torch.Tensor, near: torch.Tensor,
              x0: torch.Tensor, cfg: HighwayConfig, f_prev: torch.Tensor) -> torch.Tensor:
    """Bi-LSTM input (:func:`~isaclearn.learn.bilstm.vehicle_features`) of the compacted
    vehicles: the last echo (of beam ``f_{n-1}``) at the serving RSU, zero at the others. A new
    track has had no echo yet: its features are the noiseless detection echo of a full-power
    beam :math:`\\sqrt P\\mathbf a(\\hat\\varphi_0)` from its nearest RSU at the initial
    estimate."""
    r = _take_rsu(tracks.r_last, sel)
    nu = _take_rsu(tracks.nu_last, sel)
    mu = _take_rsu(tracks.mu_last, sel)
    b, n_rsu, ka = nu.shape
    f0 = steering(cfg.num_tx, x0[..., 0]).to(f_prev.dtype) * math.sqrt(cfg.power)
    r0, nu0, mu0 = _split(measurement_mean(x0, f0, cfg), cfg.num_rx)
    at_near = (torch.arange(n_rsu, device=sel.device)[None, :, None] == near[:, None, :]) \
        & new[:, None, :]
    zero = torch.zeros((), dtype=r.dtype, device=r.device)
    r = torch.where(new[:, None, :, None], torch.where(at_near[..., None], r0[:, None], zero), r)
    f_prev = torch.where(new[:, None, :, None],
                         torch.where(at_near[..., None], f0[:, None], 0.0), f_prev)
    nu = torch.where(new[:, None], torch.where(at_near, nu0[:, None], 0.0), nu)
    mu = torch.where(new[:, None], torch.where(at_near, mu0[:, None], 0.0), mu)
    return vehicle_features(r, f_prev, nu, mu)


def empty_design(problem: TwinProblem) -> Design:
    """Zero beams and the nearest-RSU assignment (a slot nobody designs for)."""
    assign = problem.distance_m.argmin(dim=1)
    return Design(w=torch.zeros_like(problem.h), extras={"assign": assign})


def check_problem(problem: Any) -> TwinProblem:
    """``problem`` if it is a :class:`TwinProblem`, else :class:`ShapeError`."""
    if not isinstance(problem, TwinProblem):
        raise ShapeError(f"ding_dt designers take a TwinProblem, got {type(problem).__name__}")
    return problem


__all__ = [
    "DUMMY_STATE",
    "TwinDesigner",
    "TwinTrace",
    "check_problem",
    "design_information",
    "empty_design",
    "run_twin",
    "sensing_terms",
    "to_frames",
]
