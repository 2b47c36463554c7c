r"""Unsupervised ISAC training loss of temiz_unsup (``shared/papers/003_...txt``, eqs. 17–25).

Every term is built from :mod:`isaclearn.metrics`, the same functions that score the designs,
so that what is optimized and what is reported cannot drift apart:

.. math::
   \mathcal L_2 = -\rho\hat\beta\sum_k C_k
     - \frac{(1-\rho)\hat\gamma}{\sum_t\tilde\psi(\theta_t)}
     + \big|P_t - \|\hat{\mathbf W}\|_F^2\big|
     + \delta(1-\rho)(1 - F_T),\qquad \hat\beta = \beta/\alpha,\ \hat\gamma = \gamma/\alpha,

with the sum rate :math:`\sum_k C_k` (eq. 16, :func:`isaclearn.metrics.sum_rate`), the
approximate CRB :math:`\tilde\psi` (eq. 22, :func:`isaclearn.metrics.crb_angle_approx`) and
Jain's index :math:`F_T` of the targets' approximate CRBs (eq. 24,
:func:`isaclearn.metrics.jain_fairness`).

Normalizations (eqs. 18–19), computed by :func:`compute_beta` and :func:`compute_gamma`:

* :math:`\beta = 1/\mathbb E[\sum_k C_k]_{\rho=1}`: the reciprocal of the mean sum rate that a
  sum-rate maximizer reaches on a sample of the training channels. The paper's "sum rate at
  ``ρ = 1``" is that of its own network, which does not exist before training; we use WMMSE
  (100 iterations or converged, best of the MRT/ZF/RZF initializations), the strongest
  sum-rate designer available.
* :math:`\gamma`: the minimum sum CRB at ``ρ = 0``, taken as the minimum of the *approximate*
  sum CRB of eq. (22) over all transmit covariances (:func:`min_approx_sum_crb`, a small convex
  program). The loss divides :math:`\gamma` by the approximate sum CRB, so :math:`\gamma` must
  be the minimum of that quantity for the sensing reward to lie in ``(0, 1/α]``. The exact-CRB
  minimum of :class:`isaclearn.solvers.SensingOnly` (eq. 5) is not usable here: the exact CRB is
  smaller than the approximate one by a factor of order :math:`N\pi^2 M^2/12` (hundreds), and
  its optimal covariance can put almost no power on :math:`\mathbf a(\theta_t)` near endfire
  (the Fisher information then comes from :math:`\dot{\mathbf a}`), so its approximate CRB is
  off by orders of magnitude. For fixed test angles :math:`\gamma` is computed once; for the
  random training angles it is the mean over a sample of angle draws (the per-instance minimum
  varies by at most a factor ``T`` between coinciding and orthogonal targets).

Choices where the paper gives no value (configurable in :class:`LossConfig`): ``α = 7.5`` (the
middle of the paper's "5 < α < 10"), ``δ = 0.1`` and the scoring of the rate and CRB terms on the
raw network output :math:`\hat{\mathbf W}` as eqs. (20) and (23) write it (``score_on="raw"``);
``score_on="scaled"`` scores the power-scaled :math:`\mathbf W` of eq. (21) instead (used by the
structured network, whose raw output has no meaningful scale).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch

from isaclearn.channels.downlink import DownlinkProblem
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import fro_norm_sq
from isaclearn.metrics import crb_angle_approx, jain_fairness, sum_rate

if TYPE_CHECKING:
    from isaclearn.solvers.cvx_tools import InstanceLoop

ScoreOn = Literal["raw", "scaled"]

LOSS_TERMS = ("rate", "sensing", "power", "fairness")
"""Names of the four terms of eq. (25), in order."""


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss of eq. (25).

    Attributes
    ----------
    beta : float
        :math:`\\beta` of eq. (18), 1/(bit/s/Hz).
    gamma : float
        :math:`\\gamma` of eq. (19), rad² (minimum approximate sum CRB, see module docstring).
    alpha : float
        :math:`\\alpha` of eq. (20): the rate and sensing rewards are divided by it.
    delta : float
        :math:`\\delta` of eq. (25): weight of the fairness penalty.
    score_on : {"raw", "scaled"}
        Precoder the rate, CRB and fairness terms are computed on.
    power_weight : float
        Weight of the power penalty ``|P_t - ||W_raw||_F^2|`` (1 in the paper).
    """

    beta: float
    gamma: float
    alpha: float = 7.5
    delta: float = 0.1
    score_on: ScoreOn = "raw"
    power_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("beta", "gamma", "alpha"):
            v = float(getattr(self, name))
            if not v > 0 or v != v or v == float("inf"):
                raise ConfigError(f"{name} must be positive and finite, got {v}")
        if not self.delta >= 0 or not self.power_weight >= 0:
            raise ConfigError(
                f"delta and power_weight must be >= 0, got {self.delta}, {self.power_weight}"
            )
        if self.score_on not in ("raw", "scaled"):
            raise ConfigError(f"score_on must be 'raw' or 'scaled', got {self.score_on!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable dict."""
        return asdict(self)


def isac_loss_terms(
    problem: DownlinkProblem,
    w_raw: torch.Tensor,
    w: torch.Tensor,
    rho: torch.Tensor | float,
    config: LossConfig,
) -> dict[str, torch.Tensor]:
    r"""Per-instance terms of eq. (25) and the metrics they come from.

    Parameters
    ----------
    problem : DownlinkProblem
        ``B`` instances; the loss scores the *true* channels ``problem.h`` (the paper trains on
        ground-truth channels, Fig. 2).
    w_raw : torch.Tensor
        :math:`\hat{\mathbf W}` ``[B, M, K]`` complex, the network output before eq. (21).
    w : torch.Tensor
        ``[B, M, K]`` complex, the power-scaled precoder of eq. (21).
    rho : float or torch.Tensor
        Trade-off weight, scalar or ``[B]``, in ``[0, 1]``.
    config : LossConfig
        Weights.

    Returns
    -------
    dict of str to torch.Tensor
        ``[B]`` real each: ``rate`` :math:`-\rho\hat\beta C_{sum}`, ``sensing``
        :math:`-(1-\rho)\hat\gamma/\sum_t\tilde\psi_t`, ``power``
        :math:`|P_t-\|\hat{\mathbf W}\|_F^2|`, ``fairness`` :math:`\delta(1-\rho)(1-F_T)`,
        ``total`` (their sum, eq. 25), and the diagnostics ``sum_rate`` (bit/s/Hz),
        ``sum_crb_approx`` (rad²) and ``crb_fairness`` (:math:`F_T`).
    """
    if w_raw.shape != w.shape:
        raise ShapeError(f"w_raw {tuple(w_raw.shape)} and w {tuple(w.shape)} must match")
    scored = w_raw if config.score_on == "raw" else w
    rdt = w.real.dtype
    r = torch.as_tensor(rho, dtype=rdt, device=w.device)
    if bool(((r < 0) | (r > 1)).any()):
        raise ConfigError("rho must lie in [0, 1]")
    h = problem.h.to(w.dtype)
    rate = sum_rate(h, scored, problem.noise_var)
    crb = crb_angle_approx(scored, problem.theta, radar_snr=problem.radar_snr,
                           num_symbols=problem.num_symbols)
    sum_crb = crb.sum(-1)
    fairness = jain_fairness(crb)
    alpha = config.alpha
    terms = {
        "rate": -r * (config.beta / alpha) * rate,
        "sensing": -(1.0 - r) * (config.gamma / alpha) / sum_crb,
        "power": config.power_weight * (problem.power - fro_norm_sq(w_raw)).abs(),
        "fairness": config.delta * (1.0 - r) * (1.0 - fairness),
    }
    terms["total"] = terms["rate"] + terms["sensing"] + terms["power"] + terms["fairness"]
    terms["sum_rate"] = rate
    terms["sum_crb_approx"] = sum_crb
    terms["crb_fairness"] = fairness
    return terms


def compute_beta(
    problem: DownlinkProblem, *, max_iter: int = 100
) -> tuple[float, dict[str, Any]]:
    r""":math:`\beta` of eq. (18) from WMMSE on a sample of channels (see module docstring).

    Parameters
    ----------
    problem : DownlinkProblem
        A sample of the training channels (a few hundred instances suffice: the standard error
        of the mean sum rate is then well under 1 %).
    max_iter : int
        WMMSE iterations (it stops earlier when converged).

    Returns
    -------
    beta : float
        ``1 / mean sum rate`` in 1/(bit/s/Hz).
    info : dict
        ``mean_sum_rate``, ``std_err``, ``num_instances``, ``reference`` (a description of the
        WMMSE run).
    """
    from isaclearn.solvers.wmmse import wmmse

    h = problem.h
    w = wmmse(h, problem.power, problem.noise_var, init="best", max_iter=max_iter)
    rate = sum_rate(h, w, problem.noise_var).double()
    mean = float(rate.mean())
    std_err = float(rate.std() / rate.numel() ** 0.5) if rate.numel() > 1 else float("nan")
    if not mean > 0:
        raise ConfigError(f"the WMMSE mean sum rate on the sample is {mean}; cannot normalize")
    return 1.0 / mean, {
        "mean_sum_rate": mean,
        "std_err": std_err,
        "num_instances": int(rate.numel()),
        "reference": f"WMMSE, best of MRT/ZF/RZF initializations, {max_iter} iterations or "
        "converged",
    }


def min_approx_sum_crb(
    theta: torch.Tensor,
    num_antennas: int,
    power: float,
    *,
    radar_snr: float,
    num_symbols: int,
    progress: InstanceLoop | None = None,
) -> torch.Tensor:
    r"""Minimum of the approximate sum CRB (eq. 22) over transmit covariances, per instance.

    .. math::
       \min_{\mathbf R\succeq 0,\ \operatorname{tr}\mathbf R\le P}\
       \sum_t \frac{1}{2\eta L\,\mathbf a^H(\theta_t)\mathbf R\,\mathbf a(\theta_t)}

    a convex program (``1/x`` is convex and decreasing, ``a^H R a`` linear), solved with CVXPY
    for :math:`\tilde{\mathbf R} = \mathbf R/P` (Clarabel, then SCS). One solve per instance:
    the Python loop over the batch is forced by the algorithm. Closed forms for checks: one
    target gives :math:`1/(2\eta L M P)`; ``T`` targets with mutually orthogonal steering vectors
    give :math:`T^2/(2\eta L M P)`.

    Parameters
    ----------
    theta : torch.Tensor
        ``[B, T]`` target angles, radians (endfire allowed: the approximate CRB stays bounded).
    num_antennas : int
        ``M``.
    power : float
        ``P`` in watts.
    radar_snr : float
        :math:`\eta` (linear).
    num_symbols : int
        ``L``.
    progress : callable, optional
        Wraps the loop over the instances: ``progress(range(B))`` must yield ``0, ..., B-1`` in
        order (e.g. to show progress); ``None``: a plain loop.

    Returns
    -------
    torch.Tensor
        ``[B]`` float64, rad².
    """
    import cvxpy as cp
    import numpy as np

    from isaclearn.arrays import ula
    from isaclearn.core.errors import SolverError
    from isaclearn.solvers.cvx_tools import instance_loop

    th = torch.as_tensor(theta, dtype=torch.float64).detach().cpu()
    if th.dim() != 2:
        raise ShapeError(f"theta must have shape [B, T], got {tuple(th.shape)}")
    m, t_count = int(num_antennas), int(th.shape[1])
    a = ula(m, th).numpy()  # [B, T, M] complex128
    r_var = cp.Variable((m, m), hermitian=True)
    c_par = [cp.Parameter((m, m), hermitian=True) for _ in range(t_count)]
    gains = [cp.real(cp.trace(c @ r_var)) / m for c in c_par]  # a^H R a / M, order 1
    program = cp.Problem(
        cp.Minimize(sum(cp.inv_pos(g) for g in gains)),
        [r_var >> 0, cp.real(cp.trace(r_var)) <= 1.0],
    )
    out = np.empty(th.shape[0])
    for i in instance_loop(th.shape[0], progress):  # one program per instance (forced)
        for t in range(t_count):
            c_par[t].value = np.outer(a[i, t], a[i, t].conj())
        status = None
        for solver in ("CLARABEL", "SCS"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    program.solve(solver=solver)
                status = program.status
            except cp.SolverError:
                status = None
            if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and r_var.value is not None:
                break
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or r_var.value is None:
            raise SolverError(f"approximate-CRB sensing program failed on instance {i} ({status})")
        # Recompute the objective from the returned covariance (trace scaled to exactly 1).
        r = np.asarray(r_var.value)
        r = 0.5 * (r + r.conj().T)
        r = r / np.real(np.trace(r))
        g = np.real(np.einsum("tm,mn,tn->t", a[i].conj(), r, a[i]))
        out[i] = float(np.sum(1.0 / g))
    return torch.from_numpy(out) / (2.0 * radar_snr * num_symbols * power)


def compute_gamma(problem: DownlinkProblem, *, progress: InstanceLoop | None = None
                  ) -> tuple[float, dict[str, Any]]:
    r""":math:`\gamma` of eq. (19): the minimum approximate sum CRB (eq. 22) at ``ρ = 0``.

    Parameters
    ----------
    problem : DownlinkProblem
        Instances whose target angles define the sensing problem (one convex program each: use
        one instance for fixed angles, a few dozen for random ones).
    progress : callable, optional
        Wrapper of the loop over the instances (see :func:`min_approx_sum_crb`).

    Returns
    -------
    gamma : float
        Mean over the instances of :func:`min_approx_sum_crb`, rad².
    info : dict
        ``num_instances``, ``min``, ``max`` (spread over the instances), ``reference``.
    """
    g = min_approx_sum_crb(problem.theta, problem.num_antennas, problem.power,
                           radar_snr=problem.radar_snr, num_symbols=problem.num_symbols,
                           progress=progress)
    return float(g.mean()), {
        "num_instances": int(g.numel()),
        "min": float(g.min()),
        "max": float(g.max()),
        "reference": "minimum approximate sum CRB (eq. 22) over covariances with tr R <= P "
        "(convex program)",
    }
