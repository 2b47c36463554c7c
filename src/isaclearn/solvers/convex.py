r"""Convex sensing bound: the sensing-only minimum sum CRB and its designer.

Model (temiz_unsup, ``shared/papers/003_...txt``, section II-B, eq. 5): target ``t`` at angle
:math:`\theta_t`, :math:`\mathbf A_t = \mathbf b(\theta_t)\mathbf a^H(\theta_t)` with transmit
and receive ULAs (centre-referenced by default, eq. 10), radar SNR :math:`\eta_t`, ``L``
snapshots and transmit covariance :math:`\mathbf R \succeq 0`. Eq. (5) is

.. math::
   \mathrm{CRB}_t(\mathbf R) = \frac{1}{2\eta_t L\, J_t(\mathbf R)},\qquad
   J_t(\mathbf R) = \operatorname{tr}(\dot{\mathbf A}_t^H\dot{\mathbf A}_t\mathbf R)
   - \frac{|\operatorname{tr}(\dot{\mathbf A}_t^H\mathbf A_t\mathbf R)|^2}
          {\operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R)} .

:math:`J_t` is concave in :math:`\mathbf R` (a linear function minus a quadratic-over-linear
one), so :math:`\min_{\mathbf R}\sum_t\mathrm{CRB}_t(\mathbf R)` is a convex program. It is
written exactly, without approximation, as

.. math::
   \min_{\mathbf R\succeq 0,\,u}\ \sum_t \frac{1}{2\eta_t L\,u_t}\quad\text{s.t.}\quad
   \begin{bmatrix}\operatorname{tr}(\dot{\mathbf A}_t^H\dot{\mathbf A}_t\mathbf R) - u_t &
   \operatorname{tr}(\dot{\mathbf A}_t^H\mathbf A_t\mathbf R)\\ \cdot &
   \operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R)\end{bmatrix}\succeq 0,\quad
   \operatorname{tr}(\mathbf R)\le P,

where the 2×2 Hermitian Schur-complement LMI is passed to CVXPY in its equivalent
second-order-cone form ``quad_over_lin(tr(Ȧ^H A R), tr(A^H A R)) <= tr(Ȧ^H Ȧ R) - u_t``.
The power constraint is active at the optimum (every CRB is homogeneous of degree -1 in R).

Scaling
-------
The Fisher terms differ by orders of magnitude (``||ȧ||² ∝ M³``, ``η L`` from 1e2 to 1e6), which
conic solvers do not tolerate. The program is solved for :math:`\tilde{\mathbf R} = \mathbf R/P`
(``tr ≤ 1``) with every trace divided by a per-target constant: ``f_t = tr(Ȧ^HȦ R̃)`` by
:math:`s_{f,t} = \operatorname{tr}(\dot{\mathbf A}_t^H\dot{\mathbf A}_t)/M` (its value at the
isotropic :math:`\tilde{\mathbf R} = \mathbf I/M`), ``a_t = tr(A^H A R̃)`` by
:math:`s_{a,t} = \operatorname{tr}(\mathbf A_t^H\mathbf A_t)/M` and the cross term by
:math:`\sqrt{s_{f,t}s_{a,t}}` (so that the Schur complement only gains the factor
:math:`s_{f,t}`); the objective weights are then normalized to sum to one. All data are formed
in float64, and every returned bound is **recomputed in float64** from the returned matrices
(:func:`~isaclearn.metrics.sensing.crb_from_covariance`), not read off the solver's objective;
the relative difference is reported as a diagnostic. The program data and the solver loop are
in :mod:`isaclearn.solvers.cvx_tools`.

Notes
-----
These are per-instance CVXPY solves: the Python loop over the batch is forced by the algorithm
(one conic program per instance). Each program is built once per call as a DPP-compliant
parametrized problem, so its canonicalization is reused by every instance of the batch.
Solves use Clarabel by default and fall back to SCS when Clarabel fails; nothing is printed
(solver warnings are captured and turned into per-instance status strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import torch

from isaclearn.core.checks import as_positive_per_item, check_count
from isaclearn.core.design import Design
from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import SolverError
from isaclearn.metrics.sensing import crb_from_covariance
from isaclearn.solvers.cvx_tools import (
    SOLVED,
    InstanceLoop,
    batch_theta,
    hermitian_vec,
    instance_loop,
    power_vector,
    psd_part,
    sensing_data,
    sensing_part,
    solve,
    solver_names,
)

__all__ = ["SensingOnly", "sensing_only_covariance"]


# --------------------------------------------------------------------------------------------
# Sensing-only minimum sum CRB
# --------------------------------------------------------------------------------------------


def sensing_only_covariance(
    theta: torch.Tensor | float,
    num_antennas: int,
    power: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    solver: str | Sequence[str] | None = None,
    reference: str = "center",
    spacing: float = 0.5,
    progress: InstanceLoop | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Transmit covariance of minimum sum CRB: :math:`\min \sum_t \mathrm{CRB}_t(\mathbf R)`
    s.t. :math:`\mathbf R\succeq 0,\ \operatorname{tr}(\mathbf R)\le P` (eqs. 5 and 19).

    The minimum is :math:`\gamma` of eq. (19) of temiz_unsup (with the exact CRB of eq. 5 and an
    unconstrained-rank covariance, i.e. a bound on what any ``M × K`` precoder can reach). The
    program is solved exactly in its Schur-complement form (see the module docstring), one
    CVXPY solve per instance: the Python loop over the batch is forced by the algorithm.

    Parameters
    ----------
    theta : torch.Tensor or float
        Target angles ``[..., T]`` in radians (``|θ| < 90°``).
    num_antennas : int
        Transmit antennas ``M``.
    power : float or torch.Tensor
        Power budget ``P`` (watts): scalar or ``[...]``.
    num_rx : int
        Radar receive antennas ``N``.
    radar_snr : float or torch.Tensor
        :math:`\eta` (linear): scalar, ``[...]`` or ``[..., T]``.
    num_symbols : int
        Snapshots ``L``.
    solver : str or sequence of str, optional
        CVXPY solver name(s) tried in order; default Clarabel, then SCS.
    reference, spacing
        Array convention of both ULAs.
    progress : callable, optional
        Wraps the loop over the instances: ``progress(range(B))`` must yield ``0, ..., B-1`` in
        order (e.g. ``functools.partial(ctx.progress, desc=...)`` of an experiment, to show
        how far the solves are); the solver itself never prints. ``None``: a plain loop.

    Returns
    -------
    r_x : torch.Tensor
        ``[..., M, M]`` complex (complex128 for float64 ``theta``, else complex64), Hermitian
        PSD with ``tr(r_x) = P``, on ``theta``'s device.
    min_sum_crb : torch.Tensor
        ``[...]`` real (rad²): :math:`\sum_t \mathrm{CRB}_t` of ``r_x``, recomputed in float64
        with :func:`crb_from_covariance`.

    Raises
    ------
    ValueRangeError
        If an angle is at endfire (unbounded CRB) or an argument is out of range.
    SolverError
        If every solver fails (the program is always feasible, so this is numerical).

    Examples
    --------
    >>> import torch
    >>> r, crb = sensing_only_covariance(torch.tensor([[-0.2, 0.4]], dtype=torch.float64), 6,
    ...                                  1.0, num_rx=6, radar_snr=100.0, num_symbols=1)
    >>> r.shape, crb.shape
    (torch.Size([1, 6, 6]), torch.Size([1]))
    """
    t_in = batch_theta(theta)
    check_count(num_antennas, "num_antennas")
    check_count(num_rx, "num_rx")
    check_count(num_symbols, "num_symbols")
    batch, m, t_count = tuple(t_in.shape[:-1]), int(num_antennas), int(t_in.shape[-1])
    th = t_in.detach().to(device="cpu", dtype=torch.float64).reshape(-1, t_count)
    p = power_vector(power, batch)
    eta = as_positive_per_item(radar_snr, t_in.detach().to("cpu", torch.float64),
                               "radar_snr").to(torch.float64)
    eta = eta.expand(*batch, t_count).reshape(-1, t_count)
    data = sensing_data(th, m, p, num_rx=int(num_rx), radar_snr=eta,
                         num_symbols=int(num_symbols), reference=reference, spacing=spacing)
    solvers = solver_names(solver)

    # One parametrized program, reused by every instance.
    r_var = cp.Variable((m, m), hermitian=True, name="r")
    objective, cons, coef, weight = sensing_part(hermitian_vec(r_var), m, t_count)
    cons += [r_var >> 0, cp.real(cp.trace(r_var)) <= 1.0]
    program = cp.Problem(cp.Minimize(objective), cons)

    out = torch.empty(th.shape[0], m, m, dtype=torch.complex128)
    for i in instance_loop(th.shape[0], progress):  # per-instance solve (forced by the algorithm)
        coef.value, weight.value = data.coef[i], data.weight[i]
        status, used, _ = solve(program, solvers)
        if status not in SOLVED or r_var.value is None:
            raise SolverError(
                f"sensing-only program failed on instance {i} (status {status!r} with {used}); "
                "the program is always feasible, so this is a numerical failure"
            )
        out[i] = torch.from_numpy(np.asarray(r_var.value, dtype=np.complex128))
    r = psd_part(out)
    tr = torch.diagonal(r, dim1=-2, dim2=-1).real.sum(-1)
    r = r * (p / tr)[:, None, None].to(r.dtype)  # tr = P exactly (the constraint is active)
    crb = crb_from_covariance(r, th, num_rx=num_rx, radar_snr=eta, num_symbols=num_symbols,
                              reference=reference, spacing=spacing).sum(-1)
    cdt = complex_dtype(t_in.dtype)
    return (r.reshape(*batch, m, m).to(device=t_in.device, dtype=cdt),
            crb.reshape(batch).to(device=t_in.device, dtype=real_dtype(cdt)))


def _top_factor(r: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Factor ``W`` ``[B, M, k]`` of the ``k`` strongest eigen-directions of ``r`` ``[B, M, M]``.

    Returns ``(w, rank, discarded)``: ``w = U_k Λ_k^{1/2}``, the numerical rank of ``r``
    (eigenvalues above ``1e-6 λ_max``) and the fraction of ``tr(r)`` in the dropped directions.
    """
    lam, vec = torch.linalg.eigh(r)  # ascending
    lam, vec = lam.flip(-1).clamp_min(0.0), vec.flip(-1)
    m = r.shape[-1]
    keep = min(k, m)
    w = vec[..., :keep] * lam[..., :keep].sqrt().to(vec.dtype).unsqueeze(-2)
    if keep < k:
        w = torch.cat([w, w.new_zeros(*w.shape[:-1], k - keep)], dim=-1)
    total = lam.sum(-1).clamp_min(torch.finfo(lam.dtype).tiny)
    rank = (lam > 1e-6 * lam[..., :1]).sum(-1)
    return w, rank, lam[..., keep:].sum(-1) / total


@dataclass
class SensingOnly:
    """Sensing-only designer: the covariance of minimum sum CRB (:func:`sensing_only_covariance`)
    factored into an ``M × K`` precoder.

    ``design(problem)`` solves the convex program for each instance's target angles and returns
    ``w`` ``[B, M, K]`` with ``w w^H`` equal to the optimal covariance when its rank is at most
    ``K`` (the usual case: the optimum lies in the span of ``a(θ_t), ȧ(θ_t)``, rank ``≤ 2T``).
    Otherwise ``w`` keeps the ``K`` strongest eigen-directions, rescaled to the full power (which
    only lowers the CRB), and ``info`` states the loss. The users' channels are ignored.

    Attributes
    ----------
    solver : str or sequence of str or None
        CVXPY solver(s) tried in order; ``None`` means Clarabel, then SCS.
    progress : callable or None
        Wrapper of the per-instance loop (see :func:`sensing_only_covariance`); not part of
        the design's definition (left out of comparisons and ``repr``).

    Notes
    -----
    ``design`` returns ``info`` with ``sum_crb_bound`` ``[B]`` (the minimum sum CRB, γ of
    eq. 19, of the unconstrained-rank covariance), ``rank`` ``[B]`` (numerical rank of the
    optimal covariance), ``discarded_power_fraction`` ``[B]`` and ``rank_loss`` ``[B]`` bool
    (``rank > K``); ``extras["r_x"]`` holds the optimal covariance ``[B, M, M]``.
    """

    solver: str | Sequence[str] | None = None
    progress: InstanceLoop | None = field(default=None, compare=False, repr=False)
    name: str = field(default="sensing_only", init=False)

    def design(self, problem: Any) -> Design:
        """Solve one sensing-only program per instance of ``problem`` (a ``DownlinkProblem``)."""
        h = problem.csi
        r, bound = sensing_only_covariance(
            problem.theta.to(torch.float64), problem.num_antennas, problem.power,
            num_rx=problem.num_rx, radar_snr=problem.radar_snr,
            num_symbols=problem.num_symbols, solver=self.solver, progress=self.progress,
        )
        w, rank, discarded = _top_factor(r, problem.num_users)
        norm = (w.real.square() + w.imag.square()).sum(dim=(-2, -1))
        w = w * torch.sqrt(problem.power / norm)[:, None, None].to(w.dtype)
        rdt = real_dtype(h.dtype)
        return Design(
            w=w.to(device=h.device, dtype=h.dtype),
            extras={"r_x": r.to(device=h.device, dtype=h.dtype)},
            info={
                "sum_crb_bound": bound.to(device=h.device, dtype=rdt),
                "rank": rank.to(h.device),
                "rank_loss": (rank > problem.num_users).to(h.device),
                "discarded_power_fraction": discarded.to(device=h.device, dtype=rdt),
            },
        )

