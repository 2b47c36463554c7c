r"""The design problem of one digital-twin slot and its scoring (ding_dt, spec §1, §2).

A :class:`TwinProblem` is what a designer sees at slot ``n`` of the loop of Alg. 1
(:mod:`isaclearn.systems.ding_dt.twin`): the *predicted* states :math:`\hat{\mathbf x}_n` of
every tracked vehicle relative to every RSU, the predicted channels
:math:`\hat{\mathbf h}_{[i,k]} = \kappa'\sqrt{\tilde\alpha/\hat d^2}\,\mathbf a^H(\hat\varphi)`,
their MSE matrices :math:`\hat{\mathbf M}_n`, the sensing-constraint data
(:math:`\mathbf\Pi^H\mathbf\Pi` at :math:`\hat\varphi` and Λ of (54)–(58) for the chosen mode)
and the vehicle mask. It also carries what the designer must *not* use — the true channels and
states and the prior of the posterior Cramér–Rao bound — because :func:`evaluate` scores the
design on them (step 3 of the loop), exactly as the twin does.

Scoring (:func:`slot_metrics`, :func:`evaluate`), per instance:

* ``sum_rate`` = :math:`\sum_k\log_2(1+\mathrm{SINR}_k)` on the *true* channels at each
  vehicle's serving RSU, eq. (10) (:func:`isaclearn.metrics.vehicular.rsu_rates`); bit/s/Hz;
* ``rate_per_vehicle`` = ``sum_rate`` over the number of vehicles (Figs. 7, 8);
* ``rcrb_m`` = mean over the vehicles of :math:`\sqrt{\tilde m^{(22)}_n}`, the range entry of
  the PCRB after this slot's echo, :math:`\tilde{\mathbf M}_n = (\mathbf J^{meas}_n(\mathbf f)
  + \hat{\mathbf M}^{bound\,-1}_n)^{-1}` (35) evaluated on the true state with the designed
  serving beam and its actual beamforming gain :math:`\eta` (Fig. 11), in metres;
* ``accuracy`` = share of vehicles whose serving RSU equals ``reference_assign`` (Alg. 3's
  labels, Fig. 5) when the problem holds one, else NaN.

Beams of a design: ``w`` ``[B, I, K, N_t]`` (``w[b, i, k]`` is vehicle ``k``'s beam at RSU
``i``; only the serving RSU's beam is used) and ``extras["assign"]`` ``[B, K]`` int64, the
serving RSU of each vehicle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from isaclearn.channels.highway import (
    HighwayConfig,
    measurement_noise_var,
    reflection_coefficient,
)
from isaclearn.core.design import Design
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.metrics.pcrb import (
    angle_derivative_gram,
    angle_derivative_matrix,
    angle_information_max,
    measurement_information,
    spd_inverse,
)
from isaclearn.metrics.vehicular import rsu_rates

METRIC_UNITS: dict[str, str] = {
    "sum_rate": "bit/s/Hz",
    "rate_per_vehicle": "bit/s/Hz",
    "rcrb_m": "m",
    "accuracy": "1",
}
"""Metrics of :func:`evaluate` with their units (the first ranks the leaderboard)."""

HIGHER_IS_BETTER: dict[str, bool] = {"sum_rate": True, "rate_per_vehicle": True,
                                     "rcrb_m": False, "accuracy": True}


@dataclass
class TwinProblem(BatchedProblem):
    """One slot of the digital twin as a designer sees it (module docstring).

    Shapes: ``B`` instances (seeds), ``I`` RSUs, ``K`` vehicle positions (padded; ``mask``),
    ``N`` = ``N_t`` transmit antennas. Every predicted field refers to the *prediction*
    :math:`\\hat{\\mathbf x}_n = \\mathbf g(\\tilde{\\mathbf x}_{n-1})` of the EKF.

    Attributes
    ----------
    h : torch.Tensor
        ``[B, I, K, N]`` complex predicted channel rows :math:`\\hat{\\mathbf h}_{[i,k]}`
        (eq. 8, gain of a beam ``f`` is ``(h * f).sum(-1)``).
    state : torch.Tensor
        ``[B, I, K, 3]`` real predicted states :math:`[\\hat\\varphi, \\hat d, \\hat{\\dot v}]`
        relative to each RSU.
    cov : torch.Tensor
        ``[B, I, K, 3, 3]`` predicted MSE matrices :math:`\\hat{\\mathbf M}_n` in each RSU's
        frame.
    mask : torch.Tensor
        ``[B, K]`` bool, True for a tracked vehicle.
    x_m : torch.Tensor
        ``[B, K]`` predicted position along the road in m (the Bi-LSTM's vehicle order).
    h_true, state_true : torch.Tensor
        The true rows and states (same shapes as ``h``, ``state``): for scoring and for the
        genie designer only.
    gram : torch.Tensor or None
        ``[B, I, K, N, N]`` :math:`\\mathbf\\Pi^H\\mathbf\\Pi` at :math:`\\hat\\varphi` (``None``
        when ``sensing_constraint="none"``).
    threshold : torch.Tensor or None
        ``[B, I, K]`` Λ of (54)–(58) for the chosen mode (``≤ 0``: inactive); ``None`` with
        ``gram``.
    prev_assign : torch.Tensor or None
        ``[B, K]`` int64 serving RSU of the previous slot (``-1`` for a new track).
    prev_beams : torch.Tensor or None
        ``[B, I, K, N]`` beams of the previous slot (zero where none).
    features : torch.Tensor or None
        ``[B, K, F]`` raw Bi-LSTM input (:func:`isaclearn.learn.bilstm.vehicle_features`) when
        the designer asked for it.
    bound_pred : torch.Tensor or None
        ``[B, I, K, 3, 3]`` predicted PCRB matrix of the bound along the true trajectory (the
        prior of ``rcrb_m``).
    reference_assign : torch.Tensor or None
        ``[B, K]`` int64 reference assignment (Alg. 3's labels) for ``accuracy``.
    vehicle_ids : torch.Tensor or None
        ``[B, K]`` int64 index of each vehicle in the twin's traffic.
    config : HighwayConfig
        Scene constants (scoring and the PCRB).
    c_f : float
        Fisher factor of the angle information.
    inter_rsu_interference : bool
        Score with the other RSU's beams as interference.
    """

    h: torch.Tensor = field(metadata=BATCHED)
    state: torch.Tensor = field(metadata=BATCHED)
    cov: torch.Tensor = field(metadata=BATCHED)
    mask: torch.Tensor = field(metadata=BATCHED)
    x_m: torch.Tensor = field(metadata=BATCHED)
    h_true: torch.Tensor = field(metadata=BATCHED)
    state_true: torch.Tensor = field(metadata=BATCHED)
    gram: torch.Tensor | None = field(default=None, metadata=BATCHED)
    threshold: torch.Tensor | None = field(default=None, metadata=BATCHED)
    prev_assign: torch.Tensor | None = field(default=None, metadata=BATCHED)
    prev_beams: torch.Tensor | None = field(default=None, metadata=BATCHED)
    features: torch.Tensor | None = field(default=None, metadata=BATCHED)
    bound_pred: torch.Tensor | None = field(default=None, metadata=BATCHED)
    reference_assign: torch.Tensor | None = field(default=None, metadata=BATCHED)
    vehicle_ids: torch.Tensor | None = field(default=None, metadata=BATCHED)
    config: HighwayConfig = field(default_factory=HighwayConfig)
    c_f: float = 2.0
    inter_rsu_interference: bool = False

    def __post_init__(self) -> None:
        if self.h.dim() != 4 or not self.h.is_complex():
            raise ShapeError(f"TwinProblem.h must be complex [B, I, K, N], got {self.h.dtype} "
                             f"{tuple(self.h.shape)}")
        b, i, k, n = self.h.shape
        want = {"state": (b, i, k, 3), "cov": (b, i, k, 3, 3), "mask": (b, k), "x_m": (b, k),
                "h_true": (b, i, k, n), "state_true": (b, i, k, 3), "gram": (b, i, k, n, n),
                "threshold": (b, i, k), "prev_assign": (b, k), "prev_beams": (b, i, k, n),
                "bound_pred": (b, i, k, 3, 3), "reference_assign": (b, k),
                "vehicle_ids": (b, k)}
        for name, shape in want.items():
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != shape:
                raise ShapeError(f"TwinProblem.{name} must have shape {list(shape)}, got "
                                 f"{list(value.shape)}")
        if self.mask.dtype != torch.bool:
            raise ShapeError(f"TwinProblem.mask must be bool, got {self.mask.dtype}")
        if (self.gram is None) != (self.threshold is None):
            raise ShapeError("TwinProblem.gram and threshold must be given together")
        if self.features is not None and tuple(self.features.shape[:2]) != (b, k):
            raise ShapeError(f"TwinProblem.features must have shape [B, K, F] = [{b}, {k}, F], "
                             f"got {list(self.features.shape)}")
        if i != self.config.num_rsus or n != self.config.num_tx:
            raise ShapeError(f"TwinProblem.h has I = {i}, N = {n}; the config has "
                             f"I = {self.config.num_rsus}, N_t = {self.config.num_tx}")

    # ---- sizes and shortcuts --------------------------------------------------------------

    @property
    def num_rsus(self) -> int:
        """``I``."""
        return int(self.h.shape[1])

    @property
    def num_vehicles(self) -> int:
        """Padded ``K``."""
        return int(self.h.shape[2])

    @property
    def num_tx(self) -> int:
        """``N_t``."""
        return int(self.h.shape[3])

    @property
    def power(self) -> float:
        """Per-beam power budget ``P`` (linear)."""
        return self.config.power

    @property
    def noise_var(self) -> float:
        """:math:`\\sigma_c^2` (linear)."""
        return self.config.comm_noise_var

    @property
    def distance_m(self) -> torch.Tensor:
        """``[B, I, K]`` predicted distances :math:`\\hat d_{[i,k]}` in m."""
        return self.state[..., 1]

    def genie(self) -> TwinProblem:
        """The same slot with every predicted quantity replaced by the truth (the ``genie``
        designer: bounds the loss caused by prediction errors). Λ is kept; ``gram`` is
        recomputed at the true angles."""
        gram = None
        if self.gram is not None:
            cfg = self.config
            pi = angle_derivative_matrix(self.state_true[..., 0], cfg.num_tx, cfg.num_rx)
            gram = angle_derivative_gram(pi).to(self.gram.dtype)
        x_true = self.state_true[:, 0, :, 1] * self.state_true[:, 0, :, 0] \
            + self.config.rsu_positions_m[0][0]
        return replace(self, h=self.h_true, state=self.state_true, gram=gram, x_m=x_true)


# ------------------------------------------------------------------------------------ scoring


def design_assign(design: Design, problem: TwinProblem) -> torch.Tensor:
    """The checked ``[B, K]`` serving-RSU indices of a design (``extras["assign"]``).

    Raises
    ------
    ShapeError
        Missing ``assign``, wrong shapes, or beams ``w`` not ``[B, I, K, N]`` complex.
    ValueRangeError
        An RSU index outside ``[0, I)`` at a tracked vehicle.
    """
    b, i, k, n = problem.h.shape
    w = design.w
    if w.dim() != 4 or tuple(w.shape) != (b, i, k, n) or not w.is_complex():
        raise ShapeError(f"ding_dt designs need complex beams w of shape [B, I, K, N] = "
                         f"{[b, i, k, n]}, got {w.dtype} {list(w.shape)}")
    assign = design.extras.get("assign")
    if assign is None:
        raise ShapeError("a ding_dt design needs extras['assign'] [B, K] (serving RSU per "
                         "vehicle)")
    if tuple(assign.shape) != (b, k) or assign.is_floating_point() or assign.is_complex():
        raise ShapeError(f"extras['assign'] must be an integer tensor [B, K] = {[b, k]}, got "
                         f"{assign.dtype} {list(assign.shape)}")
    bad = problem.mask & ((assign < 0) | (assign >= i))
    if bool(bad.any()):
        raise ValueRangeError(f"extras['assign'] must hold RSU indices in [0, {i}) for every "
                              f"tracked vehicle")
    return torch.where(problem.mask, assign.to(torch.int64), 0)


def at_rsu(x: torch.Tensor, assign: torch.Tensor) -> torch.Tensor:
    """``x[b, assign[b, k], k, ...]``: the entries of each vehicle's serving RSU.

    Parameters
    ----------
    x : torch.Tensor
        ``[B, I, K, ...]``.
    assign : torch.Tensor
        ``[B, K]`` int64 RSU indices in ``[0, I)``.

    Returns
    -------
    torch.Tensor
        ``[B, K, ...]``.
    """
    b, k = assign.shape
    bi = torch.arange(b, device=x.device)[:, None]
    ki = torch.arange(k, device=x.device)[None, :]
    return x[bi, assign.to(x.device), ki]


def posterior_bound(bound_pred: torch.Tensor, state_true: torch.Tensor, beam: torch.Tensor,
                    config: HighwayConfig, c_f: float = 2.0) -> torch.Tensor:
    r"""PCRB after one echo, information form of (35):
    :math:`(\mathbf J^{meas}(\mathbf f) + \hat{\mathbf M}^{-1})^{-1}`.

    The measurement information is taken at the true state with the actual beam (its gain
    :math:`\eta = \mathbf a^H(\varphi)\mathbf f` enters σ_ν, σ_μ of (16)/(17)).

    Parameters
    ----------
    bound_pred : torch.Tensor
        ``[..., 3, 3]`` predicted bound :math:`\hat{\mathbf M}_n` (SPD).
    state_true : torch.Tensor
        ``[..., 3]`` true state relative to the serving RSU.
    beam : torch.Tensor
        ``[..., N_t]`` complex serving beam.
    config : HighwayConfig
        Scene constants.
    c_f : float
        Fisher factor of the angle information.

    Returns
    -------
    torch.Tensor
        ``[..., 3, 3]``.
    """
    pi = angle_derivative_matrix(state_true[..., 0], config.num_tx, config.num_rx)
    var = measurement_noise_var(state_true, beam, config)
    beta = reflection_coefficient(state_true[..., 1], config)
    j = measurement_information(
        pi=pi, f=beam.to(pi.dtype), beta_sq=beta.abs().square(), kappa=config.kappa,
        gain=config.mf_gain, sigma_r2=config.echo_noise_var, sigma_nu2=var[..., -2],
        sigma_mu2=var[..., -1], carrier_hz=config.carrier_hz, c_f=c_f)
    return spd_inverse(j + spd_inverse(bound_pred))


@dataclass
class SlotMetrics:
    """Per-vehicle scores of one slot (:func:`slot_metrics`); padded vehicles hold 0."""

    rate: torch.Tensor
    """``[B, K]`` bit/s/Hz at the serving RSU (10)."""
    bound: torch.Tensor | None
    """``[B, K, 3, 3]`` PCRB after the echo (``None`` without ``bound_pred``)."""
    served_beam: torch.Tensor
    """``[B, K, N]`` each vehicle's beam at its serving RSU."""
    assign: torch.Tensor
    """``[B, K]`` int64 serving RSU (0 at padded positions)."""
    constrained: torch.Tensor
    """``[B, K]`` bool: Λ > 0 at the serving RSU."""
    infeasible: torch.Tensor
    """``[B, K]`` bool: Λ > P λ_max(ΠᴴΠ) (no beam meets (37))."""
    active: torch.Tensor
    """``[B, K]`` bool: feasible, constrained and binding (‖Πf‖² ≤ Λ(1 + 1e-3))."""
    violated: torch.Tensor
    """``[B, K]`` bool: ‖Πf‖² below min(Λ, P λ_max)(1 − 1e-3)."""


def slot_metrics(problem: TwinProblem, design: Design) -> SlotMetrics:
    """Score a design on its slot (module docstring): rates, PCRB, constraint status."""
    assign = design_assign(design, problem)
    mask = problem.mask
    w = design.w.to(problem.h_true.dtype)
    rate = rsu_rates(problem.h_true, w, assign, problem.noise_var, mask=mask,
                     inter_rsu_interference=problem.inter_rsu_interference)
    beam = at_rsu(w, assign)
    bound = None
    if problem.bound_pred is not None:
        bound = posterior_bound(at_rsu(problem.bound_pred, assign),
                                at_rsu(problem.state_true, assign), beam, problem.config,
                                problem.c_f)
    zeros = torch.zeros_like(mask)
    if problem.threshold is None or problem.gram is None:
        return SlotMetrics(rate, bound, beam, assign, zeros, zeros, zeros, zeros)
    lam = at_rsu(problem.threshold, assign)
    gram = at_rsu(problem.gram, assign).to(beam.dtype)
    pf = (beam.conj()[..., None, :] @ gram @ beam[..., :, None])[..., 0, 0].real
    cfg = problem.config
    cap = problem.power * angle_information_max(at_rsu(problem.state, assign)[..., 0],
                                                cfg.num_tx, cfg.num_rx)
    constrained = mask & (lam > 0)
    infeasible = constrained & (lam > cap)
    active = constrained & ~infeasible & (pf <= lam * (1 + 1e-3))
    violated = constrained & (pf < torch.minimum(lam, cap) * (1 - 1e-3))
    return SlotMetrics(rate, bound, beam, assign, constrained, infeasible, active, violated)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n = mask.sum(-1)
    total = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device)).sum(-1)
    return torch.where(n > 0, total / n.clamp_min(1).to(x.dtype),
                       torch.full_like(total, float("nan")))


def evaluate(problem: TwinProblem, design: Design) -> dict[str, torch.Tensor]:
    """Per-instance metrics of a design (module docstring), each ``[B]``.

    Returns
    -------
    dict
        ``sum_rate`` and ``rate_per_vehicle`` (bit/s/Hz), ``rcrb_m`` (m; NaN without
        ``bound_pred``), ``accuracy`` (NaN without ``reference_assign``), ``num_vehicles``.
    """
    m = slot_metrics(problem, design)
    mask = problem.mask
    dt = m.rate.dtype
    n = mask.sum(-1)
    sum_rate = m.rate.sum(-1)
    per_vehicle = torch.where(n > 0, sum_rate / n.clamp_min(1).to(dt),
                              torch.full_like(sum_rate, float("nan")))
    if m.bound is not None:
        rcrb = _masked_mean(m.bound[..., 1, 1].clamp_min(0).sqrt().to(dt), mask)
    else:
        rcrb = torch.full_like(sum_rate, float("nan"))
    if problem.reference_assign is not None:
        hit = (m.assign == problem.reference_assign.to(m.assign.device)).to(dt)
        accuracy = _masked_mean(hit, mask)
    else:
        accuracy = torch.full_like(sum_rate, float("nan"))
    return {"sum_rate": sum_rate, "rate_per_vehicle": per_vehicle, "rcrb_m": rcrb,
            "accuracy": accuracy, "num_vehicles": n.to(dt)}


def row_metrics(metrics: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Result-row columns from :func:`evaluate` (finite means over the instances)."""
    from isaclearn.systems.toolkit import finite_mean

    return {k: finite_mean(v) for k, v in metrics.items()}


__all__ = [
    "HIGHER_IS_BETTER",
    "METRIC_UNITS",
    "SlotMetrics",
    "TwinProblem",
    "at_rsu",
    "design_assign",
    "evaluate",
    "posterior_bound",
    "row_metrics",
    "slot_metrics",
]
