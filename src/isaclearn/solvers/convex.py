r"""Convex sensing bounds: the exact CRB of a covariance and the sensing-only minimum sum CRB.

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
(:func:`crb_from_covariance`), not read off the solver's objective; the relative difference is
reported as a diagnostic.

Notes
-----
These are per-instance CVXPY solves: the Python loop over the batch is forced by the algorithm
(one conic program per instance). Each program is built once per call as a DPP-compliant
parametrized problem, so its canonicalization is reused by every instance of the batch.
Solves use Clarabel by default and fall back to SCS when Clarabel fails; nothing is printed
(solver warnings are captured and turned into per-instance status strings).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import torch

from isaclearn.arrays import ula, ula_derivative
from isaclearn.core.checks import check_last_dims
from isaclearn.core.design import Design
from isaclearn.core.dtypes import complex_dtype, real_dtype
from isaclearn.core.errors import ConfigError, ShapeError, SolverError, ValueRangeError

__all__ = ["SensingOnly", "crb_from_covariance", "sensing_only_covariance"]

_DEFAULT_SOLVERS = ("CLARABEL", "SCS")
_SOLVED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


# --------------------------------------------------------------------------------------------
# Exact CRB of a covariance
# --------------------------------------------------------------------------------------------


def _steering(
    m: int, n: int, theta: torch.Tensor, reference: str, spacing: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``a, ȧ`` ``[..., T, M]`` and ``b, ḃ`` ``[..., T, N]`` in ``theta``'s complex dtype."""
    kw: dict[str, Any] = {"reference": reference, "spacing": spacing}
    return (ula(m, theta, **kw), ula_derivative(m, theta, **kw),
            ula(n, theta, **kw), ula_derivative(n, theta, **kw))


def _fisher_traces(
    r_x: torch.Tensor, a: torch.Tensor, da: torch.Tensor, b: torch.Tensor, db: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``tr(Ȧ^H Ȧ R)``, ``tr(Ȧ^H A R)``, ``tr(A^H A R)`` for ``A = b a^H``, each ``[..., T]``.

    With :math:`\dot{\mathbf A} = \dot{\mathbf b}\mathbf a^H + \mathbf b\dot{\mathbf a}^H`:
    ``tr(A^H A R) = ||b||² a^H R a``,
    ``tr(Ȧ^H Ȧ R) = ||ḃ||² a^H R a + ||b||² ȧ^H R ȧ + 2 Re{(ḃ^H b)(ȧ^H R a)}`` and
    ``tr(Ȧ^H A R) = (ḃ^H b) a^H R a + ||b||² a^H R ȧ``.
    """
    ra = (r_x.unsqueeze(-3) @ a.unsqueeze(-1)).squeeze(-1)  # R a: [..., T, M]
    rda = (r_x.unsqueeze(-3) @ da.unsqueeze(-1)).squeeze(-1)  # R ȧ
    q_aa = (a.conj() * ra).sum(-1).real  # a^H R a
    q_dd = (da.conj() * rda).sum(-1).real  # ȧ^H R ȧ
    q_da = (da.conj() * ra).sum(-1)  # ȧ^H R a
    bb = (b.conj() * b).sum(-1).real
    dbdb = (db.conj() * db).sum(-1).real
    dbb = (db.conj() * b).sum(-1)  # ḃ^H b
    t_aa = bb * q_aa
    t_dd = dbdb * q_aa + bb * q_dd + 2.0 * (dbb * q_da).real
    t_da = dbb * q_aa + bb * q_da.conj()
    return t_dd, t_da, t_aa


def _eta(radar_snr: torch.Tensor | float, like: torch.Tensor, name: str = "radar_snr"
         ) -> torch.Tensor:
    """``radar_snr`` as a real tensor broadcasting against ``like`` ``[..., T]``."""
    eta = torch.as_tensor(radar_snr, device=like.device)
    if eta.is_complex():
        raise ValueRangeError(f"{name} must be real and positive")
    eta = eta.to(torch.float64 if eta.dtype == torch.float64 else like.dtype)
    if not bool(torch.isfinite(eta).all()) or not bool((eta > 0).all()):
        raise ValueRangeError(f"{name} must be finite and positive")
    if eta.dim() == like.dim() - 1:
        eta = eta[..., None]  # per instance: broadcast over targets
    try:
        torch.broadcast_shapes(eta.shape, like.shape)
    except RuntimeError:
        raise ShapeError(
            f"{name} of shape {tuple(eta.shape)} does not broadcast against the per-target "
            f"values of shape {tuple(like.shape)} (scalar, [...] per instance or [..., T])"
        ) from None
    return eta


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or int(value) != value or int(value) < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def crb_from_covariance(
    r_x: torch.Tensor,
    theta: torch.Tensor | float,
    *,
    num_rx: int,
    radar_snr: torch.Tensor | float,
    num_symbols: int,
    reference: str = "center",
    spacing: float = 0.5,
) -> torch.Tensor:
    r"""Exact CRB of each target angle for a general transmit covariance, eq. (5) of temiz_unsup.

    .. math::
       \mathrm{CRB}_t = \frac{\operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R_X)}
       {2\eta_t L\big(\operatorname{tr}(\dot{\mathbf A}_t^H\dot{\mathbf A}_t\mathbf R_X)
       \operatorname{tr}(\mathbf A_t^H\mathbf A_t\mathbf R_X)
       - |\operatorname{tr}(\dot{\mathbf A}_t^H\mathbf A_t\mathbf R_X)|^2\big)}

    It equals :func:`isaclearn.metrics.crb_angle` ``(w, ...)`` when ``r_x = w w^H``, and is
    needed for covariances that have no ``M × K`` factor (semidefinite-relaxation solutions).

    Parameters
    ----------
    r_x : torch.Tensor
        Transmit covariance ``[..., M, M]`` complex, Hermitian positive semidefinite (watts).
        Only its Hermitian part is used.
    theta : torch.Tensor or float
        Target angles ``[T]`` or ``[..., T]`` in radians.
    num_rx : int
        Radar receive antennas ``N``.
    radar_snr : float or torch.Tensor
        :math:`\eta` (linear): scalar, ``[...]`` per instance or ``[..., T]`` per target.
    num_symbols : int
        Snapshots ``L``.
    reference, spacing
        Array convention of both ULAs (see :func:`isaclearn.arrays.ula`).

    Returns
    -------
    torch.Tensor
        ``[..., T]`` real (rad²), in the real dtype of ``r_x``.

    Raises
    ------
    ShapeError
        If ``r_x`` is not square ``[..., M, M]`` or ``theta``/``radar_snr`` do not broadcast.
    ConfigError
        If ``num_rx`` or ``num_symbols`` is not a positive integer.

    Examples
    --------
    >>> import torch
    >>> r = torch.eye(4, dtype=torch.complex128) / 4
    >>> crb_from_covariance(r, torch.tensor([0.0, 0.3]), num_rx=4, radar_snr=10.0,
    ...                     num_symbols=1).shape
    torch.Size([2])
    """
    check_last_dims(r_x, (None, None), "r_x", "[..., M, M]")
    if r_x.shape[-1] != r_x.shape[-2]:
        raise ShapeError(f"r_x must be square [..., M, M], got shape {tuple(r_x.shape)}")
    _check_counts(num_rx=num_rx, num_symbols=num_symbols)
    r = r_x if r_x.is_complex() else r_x.to(complex_dtype(r_x.dtype))
    r = 0.5 * (r + r.conj().transpose(-2, -1))
    t = torch.as_tensor(theta, device=r.device)
    if t.is_complex():
        raise ValueRangeError("theta must be real (radians)")
    if t.dim() == 0:
        t = t[None]
    t = t.to(real_dtype(r.dtype))
    a, da, b, db = (v.to(r.dtype) for v in _steering(r.shape[-1], int(num_rx), t, reference,
                                                      spacing))
    t_dd, t_da, t_aa = _fisher_traces(r, a, da, b, db)
    eta = _eta(radar_snr, t_aa)
    t_da_sq = t_da.real.square() + t_da.imag.square()
    return t_aa / (2.0 * eta * num_symbols * (t_dd * t_aa - t_da_sq))


# --------------------------------------------------------------------------------------------
# Program data (float64) shared with the SDR in convex_sdr.py
# --------------------------------------------------------------------------------------------


def _functional(q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Coefficients of :math:`\operatorname{tr}(\mathbf Q\mathbf R)` for Hermitian ``R``.

    With ``r = [vec(Re R), vec(Im R)]`` (column-major), ``tr(Q R) = Σ_ij Q_ij conj(R_ij)``, so
    ``Re tr(QR) = [vec Re Q, vec Im Q] · r`` and ``Im tr(QR) = [vec Im Q, -vec Re Q] · r``.
    ``q`` is ``[..., M, M]``; both results are ``[..., 2 M²]`` float64.
    """
    qr = q.real.transpose(-2, -1).reshape(*q.shape[:-2], -1)  # column-major vec
    qi = q.imag.transpose(-2, -1).reshape(*q.shape[:-2], -1)
    return torch.cat([qr, qi], dim=-1), torch.cat([qi, -qr], dim=-1)


@dataclass
class _SensingData:
    """Scaled sensing data of a batch: rows ``[f̃, Re c̃, Im c̃, ã]`` per target, and weights."""

    coef: np.ndarray  # [B, 4T, 2M²] float64
    weight: np.ndarray  # [B, T] float64, sums to 1 over T
    crb_scale: np.ndarray  # [B] float64: sum CRB = crb_scale * Σ_t weight_t / ũ_t


def _sensing_data(
    theta: torch.Tensor,
    num_antennas: int,
    power: torch.Tensor,
    *,
    num_rx: int,
    radar_snr: torch.Tensor,
    num_symbols: int,
    reference: str,
    spacing: float,
) -> _SensingData:
    """Scaled Fisher functionals for ``theta`` ``[B, T]`` (float64), see the module Notes."""
    m = num_antennas
    a, da, b, db = _steering(m, num_rx, theta, reference, spacing)  # complex128
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
    f_re, _ = _functional(d / s_f[..., None, None].to(d.dtype))
    c_re, c_im = _functional(c / s_c[..., None, None].to(c.dtype))
    a_re, _ = _functional(g / s_a[..., None, None].to(g.dtype))
    coef = torch.stack([f_re, c_re, c_im, a_re], dim=-2)  # [B, T, 4, 2M²]
    coef = coef.reshape(coef.shape[0], -1, coef.shape[-1])
    w = 1.0 / (2.0 * radar_snr * num_symbols * power[:, None] * s_f)  # [B, T]
    scale = w.sum(-1)
    return _SensingData(coef=coef.cpu().numpy(), weight=(w / scale[:, None]).cpu().numpy(),
                        crb_scale=scale.cpu().numpy())


def _hermitian_vec(r: cp.Variable) -> cp.Expression:
    """``[vec(Re R), vec(Im R)]`` (column-major) of a Hermitian CVXPY variable, ``[2 M²]``."""
    return cp.hstack([cp.vec(cp.real(r), order="F"), cp.vec(cp.imag(r), order="F")])


def _sensing_part(
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


def _solver_names(solver: str | Sequence[str] | None) -> tuple[str, ...]:
    if solver is None:
        return _DEFAULT_SOLVERS
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


# Clarabel runs single-threaded: these programs are small (its threads cost more than they
# save) and the batch loop is what one parallelizes.
_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"max_threads": 1},
    "SCS": {"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 50_000},
}


def _solve(problem: cp.Problem, solvers: tuple[str, ...]) -> tuple[str, str, float]:
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
                problem.solve(solver=name, **_SOLVER_OPTIONS.get(name, {}))
                status = str(problem.status)
            except cp.error.SolverError:
                status = "solver_error"
        seconds += time.perf_counter() - start
        used = name
        if status in _SOLVED or status in _INFEASIBLE:
            break
    return status, used, seconds


def _psd_part(r: torch.Tensor) -> torch.Tensor:
    """Nearest Hermitian PSD matrix (eigenvalues clipped at 0) of ``[..., M, M]``."""
    r = 0.5 * (r + r.conj().transpose(-2, -1))
    lam, vec = torch.linalg.eigh(r)
    return (vec * lam.clamp_min(0.0).to(vec.dtype).unsqueeze(-2)) @ vec.conj().transpose(-2, -1)


def _batch_theta(theta: torch.Tensor | float) -> torch.Tensor:
    t = torch.as_tensor(theta)
    if t.is_complex():
        raise ValueRangeError("theta must be real (radians)")
    if t.dim() == 0:
        t = t[None]
    if not bool(torch.isfinite(t).all()):
        raise ValueRangeError("theta contains NaN or Inf")
    return t


def _power_vector(power: torch.Tensor | float, batch: tuple[int, ...]) -> torch.Tensor:
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
    t_in = _batch_theta(theta)
    _check_counts(num_antennas=num_antennas, num_rx=num_rx, num_symbols=num_symbols)
    batch, m, t_count = tuple(t_in.shape[:-1]), int(num_antennas), int(t_in.shape[-1])
    th = t_in.detach().to(device="cpu", dtype=torch.float64).reshape(-1, t_count)
    p = _power_vector(power, batch)
    eta = _eta(radar_snr, t_in.detach().to("cpu", torch.float64)).to(torch.float64)
    eta = eta.expand(*batch, t_count).reshape(-1, t_count)
    data = _sensing_data(th, m, p, num_rx=int(num_rx), radar_snr=eta,
                         num_symbols=int(num_symbols), reference=reference, spacing=spacing)
    solvers = _solver_names(solver)

    # One parametrized program, reused by every instance.
    r_var = cp.Variable((m, m), hermitian=True, name="r")
    objective, cons, coef, weight = _sensing_part(_hermitian_vec(r_var), m, t_count)
    cons += [r_var >> 0, cp.real(cp.trace(r_var)) <= 1.0]
    program = cp.Problem(cp.Minimize(objective), cons)

    out = torch.empty(th.shape[0], m, m, dtype=torch.complex128)
    for i in range(th.shape[0]):  # per-instance conic solve (forced by the algorithm)
        coef.value, weight.value = data.coef[i], data.weight[i]
        status, used, _ = _solve(program, solvers)
        if status not in _SOLVED or r_var.value is None:
            raise SolverError(
                f"sensing-only program failed on instance {i} (status {status!r} with {used}); "
                "the program is always feasible, so this is a numerical failure"
            )
        out[i] = torch.from_numpy(np.asarray(r_var.value, dtype=np.complex128))
    r = _psd_part(out)
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

    Notes
    -----
    ``design`` returns ``info`` with ``sum_crb_bound`` ``[B]`` (the minimum sum CRB, γ of
    eq. 19, of the unconstrained-rank covariance), ``rank`` ``[B]`` (numerical rank of the
    optimal covariance), ``discarded_power_fraction`` ``[B]`` and ``rank_loss`` ``[B]`` bool
    (``rank > K``); ``extras["r_x"]`` holds the optimal covariance ``[B, M, M]``.
    """

    solver: str | Sequence[str] | None = None
    name: str = field(default="sensing_only", init=False)

    def design(self, problem: Any) -> Design:
        """Solve one sensing-only program per instance of ``problem`` (a ``DownlinkProblem``)."""
        h = problem.csi
        r, bound = sensing_only_covariance(
            problem.theta.to(torch.float64), problem.num_antennas, problem.power,
            num_rx=problem.num_rx, radar_snr=problem.radar_snr,
            num_symbols=problem.num_symbols, solver=self.solver,
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

