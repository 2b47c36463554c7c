r"""CVXPY building blocks shared by the convex programs of :mod:`isaclearn.solvers.convex` and
:mod:`isaclearn.solvers.convex_sdr`.

* Program data: :func:`functional` (coefficients of :math:`\operatorname{tr}(\mathbf Q\mathbf R)`
  on the real vector of a Hermitian matrix), :func:`sensing_data` (the scaled Fisher functionals
  of the CRB, see the scaling notes of :mod:`isaclearn.solvers.convex`), :func:`hermitian_vec` and
  :func:`sensing_part` (the DPP-compliant Schur-complement form of the sum CRB).
* Solving: :func:`solver_names` (validated solver list), :func:`solve` (first solver with a
  conclusive status, warnings captured), the status sets :data:`SOLVED` and :data:`INFEASIBLE`.
* Inputs and outputs: :func:`batch_theta`, :func:`power_vector`, :func:`psd_part`.
* Loops: :data:`InstanceLoop` and :func:`instance_loop` (the per-instance loop, optionally
  wrapped by a caller's progress display).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

InstanceLoop = Callable[[range], Iterable[int]]
"""A wrapper of a solver's loop over instances (``progress`` arguments): given ``range(B)`` it
yields ``0, ..., B-1`` in order, e.g. showing progress meanwhile."""

__all__ = [
    "DEFAULT_SOLVERS",
    "InstanceLoop",
    "INFEASIBLE",
    "SOLVED",
    "SOLVER_OPTIONS",
    "SensingData",
    "batch_theta",
    "functional",
    "hermitian_vec",
    "instance_loop",
    "power_vector",
    "psd_part",
    "sensing_data",
    "sensing_part",
    "solve",
    "solver_names",
]

DEFAULT_SOLVERS = ("CLARABEL", "SCS")
"""Solvers tried in order when the caller names none."""
SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
"""CVXPY statuses that count as solved."""
INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)
"""CVXPY statuses that count as a conclusive infeasibility verdict."""


# --------------------------------------------------------------------------------------------
# Program data (float64)
# --------------------------------------------------------------------------------------------


def functional(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Coefficients of :math:`\operatorname{tr}(\mathbf Q\mathbf R)` for Hermitian ``R``.

    With ``r = [vec(Re R), vec(Im R)]`` (column-major), ``tr(Q R) = Σ_ij Q_ij conj(R_ij)``, so
    ``Re tr(QR) = [vec Re Q, vec Im Q] · r`` and ``Im tr(QR) = [vec Im Q, -vec Re Q] · r``.
    ``q`` is ``[..., M, M]``; both results are ``[..., 2 M²]`` float64.
    """
    qr = q.real.transpose(-2, -1).reshape(*q.shape[:-2], -1)  # column-major vec
    qi = q.imag.transpose(-2, -1).reshape(*q.shape[:-2], -1)
    return torch.cat([qr, qi], dim=-1), torch.cat([qi, -qr], dim=-1)


@dataclass
class SensingData:
    """Scaled sensing data of a batch: rows ``[f̃, Re c̃, Im c̃, ã]`` per target, and weights."""

    coef: np.ndarray  # [B, 4T, 2M²] float64
    weight: np.ndarray  # [B, T] float64, sums to 1 over T
    crb_scale: np.ndarray  # [B] float64: sum CRB = crb_scale * Σ_t weight_t / ũ_t


def sensing_data(
    theta: torch.Tensor,
    num_antennas: int,
    power: torch.Tensor,
    *,
    num_rx: int,
    radar_snr: torch.Tensor,
    num_symbols: int,
    reference: str,
    spacing: float,
) -> SensingData:
    """Scaled Fisher functionals for ``theta`` ``[B, T]`` (float64), see the Scaling notes of
    :mod:`isaclearn.solvers.convex`."""
    m = num_antennas
    kw: dict[str, Any] = {"reference": reference, "spacing": spacing}
    a, da = ula(m, theta, **kw), ula_derivative(m, theta, **kw)  # [B, T, M] complex128
    b, db = ula(num_rx, theta, **kw), ula_derivative(num_rx, theta, **kw)  # [B, T, N]
    big_a = b.unsqueeze(-1) * a.conj().unsqueeze(-2)  # A = b a^H: [B, T, N, M]
    big_da = db.unsqueeze(-1) * a.conj().unsqueeze(-2) + b.unsqueeze(-1) * da.conj().unsqueeze(-2)
    d = big_da.conj().transpose(-2, -1) @ big_da  # Ȧ^H Ȧ [B, T, M, M]
    c = big_da.conj().transpose(-2, -1) @ big_a  # Ȧ^H A
    g = big_a.conj().transpose(-2, -1) @ big_a  # A^H A
    s_f = torch.diagonal(d, dim1=-2, dim2=-1).real.sum(-1) / m  # [B, T]
    s_a = torch.diagonal(g, dim1=-2, dim2=-1).real.sum(-1) / m
    if not bool((s_f > 0).all()) or not bool(torch.isfinite(s_f).all()):
        raise ValueRangeError(
            "theta contains an angle at which the steering derivative vanishes (cos θ = 0, "
            "endfire): its CRB is unbounded for every covariance"
        )
    s_c = torch.sqrt(s_f * s_a)
    f_re, _ = functional(d / s_f[..., None, None].to(d.dtype))
    c_re, c_im = functional(c / s_c[..., None, None].to(c.dtype))
    a_re, _ = functional(g / s_a[..., None, None].to(g.dtype))
    coef = torch.stack([f_re, c_re, c_im, a_re], dim=-2)  # [B, T, 4, 2M²]
    coef = coef.reshape(coef.shape[0], -1, coef.shape[-1])
    w = 1.0 / (2.0 * radar_snr * num_symbols * power[:, None] * s_f)  # [B, T]
    scale = w.sum(-1)
    return SensingData(coef=coef.cpu().numpy(), weight=(w / scale[:, None]).cpu().numpy(),
                       crb_scale=scale.cpu().numpy())


def hermitian_vec(r: cp.Variable) -> cp.Expression:
    """``[vec(Re R), vec(Im R)]`` (column-major) of a Hermitian CVXPY variable, ``[2 M²]``."""
    return cp.hstack([cp.vec(cp.real(r), order="F"), cp.vec(cp.imag(r), order="F")])


def sensing_part(
    r_vec: cp.Expression, num_antennas: int, num_targets: int
) -> tuple[cp.Expression, list[cp.Constraint], cp.Parameter, cp.Parameter]:
    """Objective ``Σ_t weight_t / u_t`` and the Schur-complement constraints (DPP-compliant).

    Returns the objective, the constraints and the parameters ``coef`` ``[4T, 2M²]`` and
    ``weight`` ``[T]``.
    """
    t = num_targets
    coef = cp.Parameter((4 * t, 2 * num_antennas**2), name="sensing_coef")
    weight = cp.Parameter(t, nonneg=True, name="sensing_weight")
    u = cp.Variable(t, name="fisher")
    z = cp.Variable(4 * t, name="traces")  # auxiliary: keeps the program DPP-compliant
    cons: list[cp.Constraint] = [z == coef @ r_vec]
    for i in range(t):
        f, c_re, c_im, a = z[4 * i], z[4 * i + 1], z[4 * i + 2], z[4 * i + 3]
        cons.append(cp.quad_over_lin(cp.hstack([c_re, c_im]), a) <= f - u[i])
    return weight @ cp.inv_pos(u), cons, coef, weight


# --------------------------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------------------------


def solver_names(solver: str | Sequence[str] | None) -> tuple[str, ...]:
    """The CVXPY solver names to try, upper-cased: ``solver`` (a name or a sequence of names),
    or :data:`DEFAULT_SOLVERS` for ``None``.

    Raises
    ------
    ConfigError
        An empty sequence or a solver that is not installed.
    """
    if solver is None:
        return DEFAULT_SOLVERS
    names = (solver,) if isinstance(solver, str) else tuple(solver)
    if not names:
        raise ConfigError("solver must name at least one CVXPY solver")
    installed = set(cp.installed_solvers())
    for n in names:
        if n.upper() not in installed:
            raise ConfigError(
                f"solver {n!r} is not an installed CVXPY solver (installed: {sorted(installed)})"
            )
    return tuple(n.upper() for n in names)


SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"max_threads": 1},
    "SCS": {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 50_000},
}
"""Options passed to each solver by :func:`solve`. Clarabel runs single-threaded: these
programs are small (its threads cost more than they save) and the batch loop is what one
parallelizes."""


def solve(problem: cp.Problem, solvers: tuple[str, ...]) -> tuple[str, str, float]:
    """Solve with the first solver that reaches a conclusive status.

    Returns ``(status, solver, seconds)``; ``status`` is a CVXPY status or ``"solver_error"``.
    A solver that raises or returns an inconclusive status hands over to the next one; an
    ``infeasible`` verdict is conclusive.
    """
    status, used, seconds = "solver_error", solvers[-1], 0.0
    for name in solvers:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                problem.solve(solver=name, **SOLVER_OPTIONS.get(name, {}))
                status = str(problem.status)
            except cp.error.SolverError:
                status = "solver_error"
        seconds += time.perf_counter() - start
        used = name
        if status in SOLVED or status in INFEASIBLE:
            break
    return status, used, seconds


# --------------------------------------------------------------------------------------------
# Inputs and outputs
# --------------------------------------------------------------------------------------------


def psd_part(r: torch.Tensor) -> torch.Tensor:
    """Nearest Hermitian PSD matrix (eigenvalues clipped at 0) of ``[..., M, M]``."""
    r = 0.5 * (r + r.conj().transpose(-2, -1))
    lam, vec = torch.linalg.eigh(r)
    return (vec * lam.clamp_min(0.0).to(vec.dtype).unsqueeze(-2)) @ vec.conj().transpose(-2, -1)


def batch_theta(theta: torch.Tensor | float) -> torch.Tensor:
    """Target angles ``theta`` (radians) as a real tensor of at least one dimension (a scalar
    becomes ``[1]``), dtype and device kept.

    Raises
    ------
    ValueRangeError
        Complex, NaN or Inf angles.
    """
    t = torch.as_tensor(theta)
    if t.is_complex():
        raise ValueRangeError("theta must be real (radians)")
    if t.dim() == 0:
        t = t[None]
    if not bool(torch.isfinite(t).all()):
        raise ValueRangeError("theta contains NaN or Inf")
    return t


def power_vector(power: torch.Tensor | float, batch: tuple[int, ...]) -> torch.Tensor:
    """Power budgets ``power`` (a scalar or broadcasting to ``batch``), flattened to
    ``[prod(batch)]`` float64 on the CPU (one per conic program).

    Raises
    ------
    ValueRangeError
        A complex, non-finite or non-positive power.
    ShapeError
        ``power`` does not broadcast to ``batch``.
    """
    p = torch.as_tensor(power, dtype=torch.float64).cpu()
    if p.is_complex() or not bool(torch.isfinite(p).all()) or not bool((p > 0).all()):
        raise ValueRangeError("power must be finite and positive")
    try:
        return p.expand(batch).reshape(-1).clone()
    except RuntimeError:
        raise ShapeError(
            f"power must be a scalar or broadcast to the batch shape {batch}, got shape "
            f"{tuple(p.shape)}"
        ) from None



def instance_loop(batch: int, progress: InstanceLoop | None = None) -> Iterable[int]:
    """The indices ``0, ..., batch-1`` of a per-instance solve loop, through ``progress`` when
    given (which must yield them unchanged and in order).

    Raises
    ------
    ConfigError
        If ``progress`` yields anything else.

    Examples
    --------
    >>> list(instance_loop(3)), list(instance_loop(2, lambda r: iter(r)))
    ([0, 1, 2], [0, 1])
    """
    if progress is None:
        yield from range(batch)
        return
    expected = 0
    for i in progress(range(batch)):
        if i != expected:
            raise ConfigError(f"progress wrapper yielded {i!r} where instance {expected} was "
                              f"expected; it must yield range(B) unchanged")
        yield i
        expected += 1
    if expected != batch:
        raise ConfigError(f"progress wrapper stopped after {expected} of {batch} instances")
