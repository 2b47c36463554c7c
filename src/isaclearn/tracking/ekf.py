r"""Batched extended Kalman filter (EKF) with ``torch.func`` Jacobians.

The filter of ding_dt (``shared/papers/004_c28dc1e34dc31f1a.txt``, Sec. III-C, Alg. 1), written
for any model: the caller passes the transition ``g`` and the observation ``h`` as functions of
ONE state, and the filter runs every element of a batch ``[...]`` (ding_dt: ``[B, K]`` seeds ×
vehicles) in one call.

Model, eqs. (18) and (21):

.. math::
    \mathbf x_n = \mathbf g(\mathbf x_{n-1}) + \boldsymbol\epsilon_x,\quad
    \boldsymbol\epsilon_x\sim\mathcal N(\mathbf 0, \mathbf E),\qquad
    \mathbf y_n = \mathbf h(\mathbf x_n) + \boldsymbol\chi_n,\quad
    \boldsymbol\chi_n\sim\mathcal N(\mathbf 0, \mathbf Q_n).

Predict, eq. (25), with :math:`\mathbf G = \partial\mathbf g/\partial\mathbf x` at
:math:`\tilde{\mathbf x}_{n-1}` (eq. (20)):

.. math::
    \hat{\mathbf x}_n = \mathbf g(\tilde{\mathbf x}_{n-1}),\qquad
    \hat{\mathbf M}_n = \mathbf G\tilde{\mathbf M}_{n-1}\mathbf G^T + \mathbf E .

Update, eqs. (26) and (31), with :math:`\mathbf H = \partial\mathbf h/\partial\mathbf x` at
:math:`\hat{\mathbf x}_n` (eq. (22)) and the innovation
:math:`\mathbf e_n = \mathbf y_n - \mathbf h(\hat{\mathbf x}_n)`:

.. math::
    \mathbf S = \mathbf Q + \mathbf H\hat{\mathbf M}\mathbf H^T,\quad
    \mathbf K = \hat{\mathbf M}\mathbf H^T\mathbf S^{-1},\quad
    \tilde{\mathbf x}_n = \hat{\mathbf x}_n + \mathbf K\mathbf e_n,\quad
    \tilde{\mathbf M}_n = (\mathbf I-\mathbf K\mathbf H)\hat{\mathbf M}
    (\mathbf I-\mathbf K\mathbf H)^T + \mathbf K\mathbf Q\mathbf K^T .

Shapes: states ``x`` ``[..., n]`` and covariances ``[..., n, n]``, real ``float32`` or ``float64``
(every tensor argument must share ``x``'s dtype and device; nothing is cast). Measurements ``y``
``[..., m]`` are REAL: a complex measurement (ding_dt's echo :math:`\tilde{\mathbf r}`) is stacked
as ``[Re, Im]`` by the caller, each part with half the complex variance. Noise covariances are
given either as variances (diagonal) or as full matrices; *the number of dimensions decides*, so
that a batch dimension of size ``n`` is never mistaken for a vector: ``process_cov`` with as many
dimensions as ``x`` is ``[..., n]`` (diagonal), with one more ``[..., n, n]``; ``measurement_cov``
likewise against ``y``. Leading dimensions broadcast against the batch (size 1 is shared).

Model functions act on one element and are mapped over the flattened batch with
``torch.func.vmap``; Jacobians come from ``torch.func.jacfwd`` (``n`` forward passes, cheap for
ding_dt's ``n = 3``) unless the caller supplies Jacobian functions. Extra per-element arguments
(ding_dt: the beam ``f`` and the reflection coefficient ``β``) are tensors whose leading
dimensions broadcast to the batch; they are mapped along with the state and may be complex.
Inside a model function use only batched-safe torch operations (``torch.where``, not ``if`` on a
value; no ``.item()``), as ``vmap`` requires.

Notes
-----
**Joseph form.** The covariance update is the Joseph form, which keeps :math:`\tilde{\mathbf M}`
symmetric positive semi-definite under rounding and is exact for any gain; with the optimal gain
(26) it equals the information form (36),
:math:`(\hat{\mathbf M}^{-1} + \mathbf H^T\mathbf Q^{-1}\mathbf H)^{-1}` (tested to 1e-9).

**The gain in state space.** (26) is evaluated without forming or factoring the ``m × m``
matrix :math:`\mathbf S`: with the whitened Jacobian :math:`\mathbf H_w = \mathbf Q^{-1/2}
\mathbf H`, a square root :math:`\hat{\mathbf M} = \mathbf L\mathbf L^T` (Cholesky; an
eigen-root if :math:`\hat{\mathbf M}` is singular) and the symmetric positive definite
:math:`\mathbf C = \mathbf I + (\mathbf H_w\mathbf L)^T\mathbf H_w\mathbf L` (all its eigenvalues
are at least 1),

.. math::
    \mathbf A = \mathbf L\mathbf C^{-1}\mathbf L^T
    = (\hat{\mathbf M}^{-1} + \mathbf H^T\mathbf Q^{-1}\mathbf H)^{-1},\qquad
    \mathbf K = \hat{\mathbf M}\mathbf H^T(\mathbf Q + \mathbf H\hat{\mathbf M}\mathbf H^T)^{-1}
    = \mathbf A\mathbf H^T\mathbf Q^{-1},

(Woodbury / push-through identities, exact; Cholesky solves with ``C``, no explicit inverse, no
:math:`\hat{\mathbf M}^{-1}`). In the Joseph form :math:`\mathbf K\mathbf H = \mathbf A
\mathbf W` and :math:`\mathbf K\mathbf Q\mathbf K^T = \mathbf A\mathbf W\mathbf A` with
:math:`\mathbf W = \mathbf H^T\mathbf Q^{-1}\mathbf H`, and the NIS is
:math:`\|\mathbf e_w\|^2 - \mathbf b^T\mathbf A\mathbf b` with :math:`\mathbf b = \mathbf H^T
\mathbf Q^{-1}\mathbf e`. Two reasons: cost, ``O(m n^2)`` instead of ``O(m^3)`` per element
(ding_dt: ``m = 2 N_r + 2`` against ``n = 3``); and accuracy, because ding_dt's
:math:`\mathbf S` mixes variances some 14 orders of magnitude apart (delay against echo), where
an ``m × m`` Cholesky of :math:`\mathbf S` loses digits, while the whitened ``n × n`` system is
well scaled. A diagonal ``Q`` is whitened by division; a full ``Q`` by its Cholesky factor (one
``m × m`` factorization). :math:`\mathbf S` itself is computed only when
:attr:`EkfUpdate.innovation_cov` is read.

**No information.** An entry ``+inf`` in ``measurement_cov`` (a diagonal variance, or a diagonal
entry of a full matrix) means the component carries no information (ding_dt: no echo, so
:math:`\sigma_\nu = \infty`). Such a component is removed exactly: its row of ``H`` and its
innovation are set to 0, its row and column of ``Q`` to those of the identity, so that its column
of ``K`` is 0; ``y`` may hold anything there, NaN included. The result equals the update with the
component deleted. In the returned innovation covariance the component has ``+inf`` on the
diagonal and 0 elsewhere; ``nis`` ignores it and ``dof`` does not count it.

**Mask.** ``mask[...]`` (bool, ``True`` = active) selects the elements to filter; an inactive
(padded) element keeps its state and covariance bit for bit, whatever garbage its inputs hold,
and its outputs are NaN-free: innovation, gain, ``H`` and ``h(x̂)`` 0, innovation covariance
the identity, ``nis = 0``, ``dof = 0``; the prediction reports ``G`` as the identity.

**The paper's gain** (``gain="paper"``, eqs. (27)–(30) and the unnumbered :math:`\tilde{\mathbf M}`
the spec calls (32)). Lemma 1 writes the prediction error as
:math:`\mathbf H_L^{-1}(\mathbf e-\boldsymbol\chi)` with the left inverse
:math:`\mathbf H_L^{-1} = (\mathbf H^T\mathbf H)^{-1}\mathbf H^T` and replaces
:math:`\hat{\mathbf M}` by the single-sample estimate (29)
:math:`\mathbf M_e = \mathbf H_L^{-1}(\mathbf e\mathbf e^T-\mathbf Q)\mathbf H_L^{-T}` in (26),
which gives (30); the covariance becomes
:math:`\tilde{\mathbf M} = \mathbf K\mathbf Q\mathbf H_L^{-T}`. Implemented literally, with two
readings: :math:`\mathbf H_L^{-1}` is the Moore–Penrose pseudo-inverse (equal to the left
inverse at full column rank, defined also when a no-information component leaves ``H`` rank
deficient), and the inverse in (30) is a pseudo-inverse, because
:math:`\mathbf S_e = \mathbf Q + \mathbf H\mathbf M_e\mathbf H^T` is often singular: with
:math:`\mathbf P = \mathbf H\mathbf H_L^{-1}`, :math:`\mathbf S_e = \mathbf Q -
\mathbf P\mathbf Q\mathbf P + \mathbf P\mathbf e\mathbf e^T\mathbf P` loses rank ``n - 1``
whenever ``Q`` is isotropic on each block of a block-diagonal ``H`` (ding_dt's (22) is such a
case; a square invertible ``H`` gives :math:`\mathbf S_e = \mathbf e\mathbf e^T`). The
pseudo-inverse is taken after scaling by :math:`\mathbf D = \mathrm{diag}(\mathbf Q)^{-1/2}`
(eigenvalues below :math:`\sqrt{\epsilon}` times the largest count as zero), so that it is
:math:`\mathbf S_e^{-1}` whenever that exists and components on very different scales are not
lost to the threshold. With an isotropic :math:`\mathbf Q = \sigma^2\mathbf I` the result
has the closed form :math:`\tilde{\mathbf x} = \hat{\mathbf x} + (1 - \sigma^2/\|\mathbf
P\mathbf e\|^2)\,\boldsymbol\delta` and :math:`\tilde{\mathbf M} = \sigma^2(\|\mathbf
P\mathbf e\|^2 - \sigma^2)\,\boldsymbol\delta\boldsymbol\delta^T/\|\mathbf P\mathbf
e\|^4` with the least-squares step :math:`\boldsymbol\delta = \mathbf H_L^{-1}\mathbf e`
(tested). This is *not* an estimate of the error
covariance: :math:`\mathbf e\mathbf e^T-\mathbf Q` is indefinite, and (32) is neither symmetric
nor positive semi-definite in general (for ``n = m = 1`` it is
:math:`q(e^2-q)/(h^2e^2)`, negative whenever :math:`e^2 < q`). It is kept only to reproduce the
paper (spec ``ding_dt.md`` §3, §6.6); the default is the standard gain (26). The returned
``cov`` is (32) as is (not symmetrized); the returned innovation covariance is still the standard
:math:`\mathbf S`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, get_args

import torch
from torch.func import jacfwd, vmap

from isaclearn.core.errors import ConfigError, ShapeError, SolverError, ValueRangeError

ModelFn = Callable[..., torch.Tensor]
"""A model function ``fn(x, *args) -> value`` acting on ONE state ``x`` ``[n]``."""

Gain = Literal["standard", "paper"]
GAINS: tuple[str, ...] = get_args(Gain)

__all__ = [
    "GAINS",
    "EkfPrediction",
    "EkfTrace",
    "EkfUpdate",
    "ExtendedKalmanFilter",
    "ekf_predict",
    "ekf_update",
    "value_and_jacobian",
]


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EkfPrediction:
    """Result of :func:`ekf_predict`, eq. (25).

    Attributes
    ----------
    x : torch.Tensor
        Predicted state :math:`\\hat{\\mathbf x}_n` ``[..., n]``.
    cov : torch.Tensor
        Predicted covariance :math:`\\hat{\\mathbf M}_n` ``[..., n, n]``.
    jacobian : torch.Tensor
        Transition Jacobian ``G`` ``[..., n, n]`` at the input state (eq. (20)); the identity for
        inactive elements.
    """

    x: torch.Tensor
    cov: torch.Tensor
    jacobian: torch.Tensor


@dataclass(frozen=True)
class EkfUpdate:
    """Result of :func:`ekf_update`, eqs. (26)/(31) and the Joseph covariance.

    Attributes
    ----------
    x : torch.Tensor
        Corrected state :math:`\\tilde{\\mathbf x}_n` ``[..., n]``.
    cov : torch.Tensor
        Corrected covariance :math:`\\tilde{\\mathbf M}_n` ``[..., n, n]`` (Joseph form, or
        (32) with ``gain="paper"``).
    innovation : torch.Tensor
        ``e = y - h(x̂)`` ``[..., m]``; 0 in no-information components and inactive elements.
    gain : torch.Tensor
        Kalman gain ``K`` ``[..., n, m]`` (eq. (26), or (30) with ``gain="paper"``); 0 for
        inactive elements.
    jacobian : torch.Tensor
        Observation Jacobian ``H`` ``[..., m, n]`` at :math:`\\hat{\\mathbf x}_n` (eq. (22)), with
        the rows of no-information components set to 0; 0 for inactive elements.
    y_pred : torch.Tensor
        Predicted measurement ``h(x̂)`` ``[..., m]`` (0 for inactive elements).
    nis : torch.Tensor
        Normalized innovation squared ``eᵀ S⁻¹ e`` ``[...]`` over the informative components;
        χ² with ``dof`` degrees of freedom for a consistent filter.
    dof : torch.Tensor
        Number of informative components ``[...]`` (int64); 0 for inactive elements.
    innovation_cov : torch.Tensor
        ``S = Q + H M̂ Hᵀ`` ``[..., m, m]``, computed on first access (the update itself never
        forms it); ``+inf`` on the diagonal of no-information components (0 off the
        diagonal), the identity for inactive elements.
    """

    x: torch.Tensor
    cov: torch.Tensor
    innovation: torch.Tensor
    gain: torch.Tensor
    jacobian: torch.Tensor
    y_pred: torch.Tensor
    nis: torch.Tensor
    dof: torch.Tensor
    _innovation_cov_fn: Callable[[], torch.Tensor] = field(repr=False, compare=False)

    @cached_property
    def innovation_cov(self) -> torch.Tensor:
        """``S = Q + H M̂ Hᵀ`` ``[..., m, m]`` (see the class docstring)."""
        return self._innovation_cov_fn()


@dataclass(frozen=True)
class EkfTrace:
    """Result of :meth:`ExtendedKalmanFilter.forward_filter`, time first.

    Attributes
    ----------
    x, cov : torch.Tensor
        Filtered states ``[T, ..., n]`` and covariances ``[T, ..., n, n]`` (after the update
        with ``y[t]``).
    x_pred, cov_pred : torch.Tensor
        Predictions for the next slot ``[T, ..., n]``, ``[T, ..., n, n]`` (``g`` applied to the
        filtered state of slot ``t``).
    innovation, nis, dof : torch.Tensor
        As in :class:`EkfUpdate`, stacked over time (``S`` is not kept: ``[T, ..., m, m]`` is
        large; call :meth:`ExtendedKalmanFilter.update` for it).
    """

    x: torch.Tensor
    cov: torch.Tensor
    x_pred: torch.Tensor
    cov_pred: torch.Tensor
    innovation: torch.Tensor
    nis: torch.Tensor
    dof: torch.Tensor


# --------------------------------------------------------------------------------------------
# checks and shaping
# --------------------------------------------------------------------------------------------


def _check_state(x: object, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape [..., n], got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] < 1:
        raise ShapeError(f"{name} must have shape [..., n] with n >= 1, got {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64):
        raise ShapeError(f"{name} must be real float32 or float64, got {x.dtype}")
    return x


def _check_like(t: object, x: torch.Tensor, name: str, layout: str) -> torch.Tensor:
    """``t`` must be a tensor with ``x``'s dtype and device (nothing is cast)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got "
                        f"{type(t).__name__}")
    if t.dtype != x.dtype:
        raise ShapeError(f"{name} must have the state's dtype {x.dtype}, got {t.dtype}")
    if t.device != x.device:
        raise ShapeError(f"{name} must be on the state's device {x.device}, got {t.device}")
    return t


def _broadcast(t: torch.Tensor, shape: tuple[int, ...], name: str, layout: str) -> torch.Tensor:
    try:
        return torch.broadcast_to(t, shape)
    except RuntimeError:
        raise ShapeError(f"{name} must have shape {layout} broadcasting to {shape}, got "
                         f"{tuple(t.shape)}") from None


def _state_cov(cov: object, x: torch.Tensor, name: str) -> torch.Tensor:
    """A full ``[..., n, n]`` covariance broadcast to ``x``'s batch."""
    n = x.shape[-1]
    c = _check_like(cov, x, name, "[..., n, n]")
    if c.dim() != x.dim() + 1 or c.shape[-2:] != (n, n):
        raise ShapeError(f"{name} must have shape [..., {n}, {n}] with {x.dim() + 1} dimensions "
                         f"for a state of shape {tuple(x.shape)}, got {tuple(c.shape)}")
    return _broadcast(c, (*x.shape, n), name, "[..., n, n]")


def _noise_cov(cov: object, ref: torch.Tensor, name: str, *, full: bool = True,
               no_info: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``cov`` (variances ``[..., d]`` or a full ``[..., d, d]``, decided by the number of
    dimensions against ``ref`` ``[..., d]``) broadcast to ``ref``'s batch and the bool mask
    ``[..., d]`` of its ``+inf`` (no-information) components, which are replaced by those of
    the identity when ``no_info`` (else kept as they are). Variances are returned as a full
    matrix if ``full``, else as they are."""
    d = ref.shape[-1]
    c = _check_like(cov, ref, name, "[..., d] or [..., d, d]")
    layout = f"[..., {d}] (variances) or [..., {d}, {d}] (full)"
    if c.dim() == ref.dim() and c.shape[-1] == d:
        var = _broadcast(c, tuple(ref.shape), name, layout)
        noinfo = torch.isposinf(var) if no_info else torch.zeros_like(var, dtype=torch.bool)
        var = torch.where(noinfo, 1.0, var)
        return (torch.diag_embed(var) if full else var), noinfo
    if c.dim() == ref.dim() + 1 and c.shape[-2:] == (d, d):
        mat = _broadcast(c, (*ref.shape, d), name, layout)
        noinfo = torch.isposinf(torch.diagonal(mat, dim1=-2, dim2=-1))
        if not no_info:
            return mat, torch.zeros_like(noinfo)
        drop = noinfo[..., :, None] | noinfo[..., None, :]
        mat = torch.where(drop, 0.0, mat) + torch.diag_embed(noinfo.to(mat.dtype))
        return mat, noinfo
    raise ShapeError(f"{name} must have shape {layout} with {ref.dim()} or {ref.dim() + 1} "
                     f"dimensions for a vector of shape {tuple(ref.shape)}, got {tuple(c.shape)}")


def _mask(mask: object, x: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ShapeError(f"mask must be a bool tensor of shape [...], got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    return _broadcast(mask.to(x.device), tuple(x.shape[:-1]), "mask", "[...]")


def _flat_args(args: Sequence[object], batch: tuple[int, ...], x: torch.Tensor
               ) -> list[torch.Tensor]:
    """Each extra argument ``[..., *per_element]`` broadcast to the batch and flattened to
    ``[N, *per_element]``."""
    out = []
    nb = len(batch)
    for i, a in enumerate(args):
        if not isinstance(a, torch.Tensor):
            raise TypeError(f"extra argument {i} must be a torch.Tensor with the batch "
                            f"dimensions {batch} first, got {type(a).__name__} (close over "
                            "constants instead)")
        if a.device != x.device:
            raise ShapeError(f"extra argument {i} must be on the state's device {x.device}, got "
                             f"{a.device}")
        if a.dim() < nb:
            raise ShapeError(f"extra argument {i} must have the batch dimensions {batch} first, "
                             f"got shape {tuple(a.shape)}")
        tail = tuple(a.shape[nb:])
        a = _broadcast(a, (*batch, *tail), f"extra argument {i}", f"[{batch}, ...]")
        out.append(a.reshape(-1, *tail))
    return out


def _sym(a: torch.Tensor) -> torch.Tensor:
    return 0.5 * (a + a.mT)


# --------------------------------------------------------------------------------------------
# Jacobians
# --------------------------------------------------------------------------------------------


def value_and_jacobian(
    fn: ModelFn,
    x: torch.Tensor,
    *args: torch.Tensor,
    jacobian_fn: ModelFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched value and Jacobian of a function of one state.

    ``fn`` is evaluated on every element of the batch with ``torch.func.vmap``; its Jacobian with
    respect to the state comes from ``torch.func.jacfwd`` (one forward pass per state
    component), or from ``jacobian_fn`` when given.

    Parameters
    ----------
    fn : callable
        ``fn(x, *args) -> value``, ``x`` ``[n]`` real, ``value`` ``[p]`` real, batched-safe torch
        operations only.
    x : torch.Tensor
        States ``[..., n]``, float32 or float64.
    *args : torch.Tensor
        Extra per-element arguments ``[..., *shape_i]`` (any dtype, complex allowed) whose
        leading dimensions broadcast to ``x.shape[:-1]``; ``fn`` receives ``[*shape_i]``.
    jacobian_fn : callable, optional
        ``jacobian_fn(x, *args) -> [p, n]``, the Jacobian of ``fn`` on one element.

    Returns
    -------
    value : torch.Tensor
        ``fn`` on each element, ``[..., p]``.
    jacobian : torch.Tensor
        ``∂fn/∂x`` on each element, ``[..., p, n]``.

    Raises
    ------
    ShapeError
        ``fn`` returns something other than a real vector of the state's dtype, or
        ``jacobian_fn`` a matrix of the wrong shape.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=torch.float64)
    >>> y, j = value_and_jacobian(lambda s: s.norm().reshape(1), x)
    >>> y[:, 0].tolist(), j[:, 0].tolist()
    ([5.0, 1.0], [[0.6, 0.8], [1.0, 0.0]])
    """
    x = _check_state(x)
    batch = tuple(x.shape[:-1])
    n = x.shape[-1]
    flat = x.reshape(-1, n)
    fargs = _flat_args(args, batch, x)
    if flat.shape[0] == 0:  # vmap cannot map over an empty batch: learn p from one dummy element
        dummy = [a.new_zeros((1, *a.shape[1:])) for a in fargs]
        p = _evaluate(fn, flat.new_zeros(1, n), dummy, None)[0].shape[-1]
        return x.new_zeros(*batch, p), x.new_zeros(*batch, p, n)
    value, jac = _evaluate(fn, flat, fargs, jacobian_fn)
    p = value.shape[-1]
    return value.reshape(*batch, p), jac.reshape(*batch, p, n)


def _evaluate(fn: ModelFn, flat: torch.Tensor, fargs: list[torch.Tensor],
              jacobian_fn: ModelFn | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Value ``[N, p]`` and Jacobian ``[N, p, n]`` on a flat batch ``[N, n]``."""
    n = flat.shape[-1]
    if jacobian_fn is None:
        def one(xi: torch.Tensor, *ai: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            def both(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                v = fn(z, *ai)
                return v, v
            jac_i, val_i = jacfwd(both, has_aux=True)(xi)
            return val_i, jac_i
        value, jac = vmap(one)(flat, *fargs)
    else:
        value = vmap(fn)(flat, *fargs)
        jac = vmap(jacobian_fn)(flat, *fargs)
    if value.dim() != 2 or value.dtype != flat.dtype:
        raise ShapeError(f"a model function must return a real vector [p] of dtype {flat.dtype} "
                         f"per element (stack complex values as [Re, Im]), got per-element shape "
                         f"{tuple(value.shape[1:])} and dtype {value.dtype}")
    if jac.shape != (*value.shape, n) or jac.dtype != flat.dtype:
        raise ShapeError(f"a Jacobian function must return a real [{value.shape[-1]}, {n}] "
                         f"matrix of dtype {flat.dtype} per element, got "
                         f"{tuple(jac.shape[1:])} {jac.dtype}")
    return value, jac


# --------------------------------------------------------------------------------------------
# predict and update
# --------------------------------------------------------------------------------------------


def ekf_predict(
    x: torch.Tensor,
    cov: torch.Tensor,
    transition_fn: ModelFn,
    process_cov: torch.Tensor,
    *args: torch.Tensor,
    transition_jacobian_fn: ModelFn | None = None,
    mask: torch.Tensor | None = None,
) -> EkfPrediction:
    r"""EKF prediction, eq. (25): :math:`\hat{\mathbf x} = \mathbf g(\tilde{\mathbf x})`,
    :math:`\hat{\mathbf M} = \mathbf G\tilde{\mathbf M}\mathbf G^T + \mathbf E`.

    Parameters
    ----------
    x : torch.Tensor
        Corrected states :math:`\tilde{\mathbf x}_{n-1}` ``[..., n]``, float32 or float64.
    cov : torch.Tensor
        Their covariances :math:`\tilde{\mathbf M}_{n-1}` ``[..., n, n]`` (leading dimensions
        broadcast).
    transition_fn : callable
        ``g(x, *args) -> [n]`` on one state (eq. (18)/(19)).
    process_cov : torch.Tensor
        ``E``: variances ``[..., n]`` (as many dimensions as ``x``) or a full ``[..., n, n]``;
        leading dimensions broadcast.
    *args : torch.Tensor
        Extra per-element arguments of ``g`` (see :func:`value_and_jacobian`).
    transition_jacobian_fn : callable, optional
        ``G(x, *args) -> [n, n]`` on one state; default ``torch.func.jacfwd`` of ``g``.
    mask : torch.Tensor, optional
        Bool ``[...]``, ``True`` for the elements to predict; the others keep ``x`` and ``cov``.

    Returns
    -------
    EkfPrediction
        ``x`` ``[..., n]``, ``cov`` ``[..., n, n]`` (symmetrized), ``jacobian`` ``G``.

    Raises
    ------
    ShapeError
        Shapes, dtypes or devices that do not fit.
    """
    x = _check_state(x)
    n = x.shape[-1]
    cov = _state_cov(cov, x, "cov")
    e, _ = _noise_cov(process_cov, x, "process_cov", no_info=False)
    active = _mask(mask, x)
    x_pred, g = value_and_jacobian(transition_fn, x, *args, jacobian_fn=transition_jacobian_fn)
    if x_pred.shape != x.shape:
        raise ShapeError(f"transition_fn must return a state [{n}], got [{x_pred.shape[-1]}]")
    cov_pred = _sym(g @ cov @ g.mT + e)
    if active is not None:
        x_pred = torch.where(active[..., None], x_pred, x)
        cov_pred = torch.where(active[..., None, None], cov_pred, cov)
        g = torch.where(active[..., None, None], g, torch.eye(n, dtype=x.dtype, device=x.device))
    return EkfPrediction(x=x_pred, cov=cov_pred, jacobian=g)


def ekf_update(
    x: torch.Tensor,
    cov: torch.Tensor,
    y: torch.Tensor,
    observation_fn: ModelFn,
    measurement_cov: torch.Tensor,
    *args: torch.Tensor,
    observation_jacobian_fn: ModelFn | None = None,
    mask: torch.Tensor | None = None,
    gain: Gain = "standard",
) -> EkfUpdate:
    r"""EKF update: gain (26), correction (31), Joseph covariance (or the paper's (30)/(32)).

    Parameters
    ----------
    x : torch.Tensor
        Predicted states :math:`\hat{\mathbf x}_n` ``[..., n]``, float32 or float64.
    cov : torch.Tensor
        Predicted covariances :math:`\hat{\mathbf M}_n` ``[..., n, n]``, positive
        semi-definite (leading dimensions broadcast).
    y : torch.Tensor
        Measurements ``[..., m]``, real (complex parts stacked as ``[Re, Im]``); leading
        dimensions broadcast. Entries of no-information components may be anything.
    observation_fn : callable
        ``h(x, *args) -> [m]`` on one state (eq. (21)), real.
    measurement_cov : torch.Tensor
        ``Q``: positive variances ``[..., m]`` (as many dimensions as ``y``) or a positive
        definite ``[..., m, m]``; ``+inf`` marks a component without information (module Notes).
    *args : torch.Tensor
        Extra per-element arguments of ``h`` (see :func:`value_and_jacobian`).
    observation_jacobian_fn : callable, optional
        ``H(x, *args) -> [m, n]`` on one state; default ``torch.func.jacfwd`` of ``h``.
    mask : torch.Tensor, optional
        Bool ``[...]``, ``True`` for the elements to update; the others keep ``x`` and ``cov``
        bit for bit and never produce NaN.
    gain : {"standard", "paper"}
        ``"standard"``: (26) and the Joseph form. ``"paper"``: (30) and (32), which is not a
        covariance (module Notes).

    Returns
    -------
    EkfUpdate
        Corrected ``x`` ``[..., n]`` and ``cov`` ``[..., n, n]``, with the innovation, ``K``,
        ``H``, ``h(x̂)``, NIS and its degrees of freedom; ``S`` is computed on first access.

    Raises
    ------
    ConfigError
        Unknown ``gain``.
    ShapeError
        Shapes, dtypes or devices that do not fit.
    ValueRangeError
        A variance that is not positive (nor ``+inf``), or a full ``Q`` that is not positive
        definite, for an active element.
    SolverError
        ``cov`` is not positive semi-definite for an active element.
    """
    if gain not in GAINS:
        raise ConfigError(f"gain must be one of {GAINS}, got {gain!r}")
    x = _check_state(x)
    n = x.shape[-1]
    batch = tuple(x.shape[:-1])
    cov = _state_cov(cov, x, "cov")
    y = _check_like(y, x, "y", "[..., m]")
    if y.dim() != x.dim() or y.shape[-1] < 1:
        raise ShapeError(f"y must have shape [..., m] with {x.dim()} dimensions like the state "
                         f"{tuple(x.shape)}, got {tuple(y.shape)}")
    m = y.shape[-1]
    y = _broadcast(y, (*batch, m), "y", "[..., m]")
    q, noinfo = _noise_cov(measurement_cov, y, "measurement_cov", full=False)
    diagonal = q.dim() == y.dim()
    active = _mask(mask, x)
    if active is None:
        active = torch.ones(batch, dtype=torch.bool, device=x.device)

    y_pred, h = value_and_jacobian(observation_fn, x, *args, jacobian_fn=observation_jacobian_fn)
    if y_pred.shape[-1] != m:
        raise ShapeError(f"observation_fn returns [{y_pred.shape[-1]}] but y has m = {m}")

    eye_n = torch.eye(n, dtype=x.dtype, device=x.device)
    a1, a2 = active[..., None], active[..., None, None]
    use = a1 & ~noinfo  # the components that inform the update
    e = torch.where(use, y - y_pred, 0.0)
    h = torch.where(use[..., None], h, 0.0)
    cov_a = torch.where(a2, cov, eye_n)  # inactive: a harmless stand-in, discarded below

    # Whitening, H_w = Q^(-1/2) H and e_w = Q^(-1/2) e.
    if diagonal:
        q = torch.where(a1, q, 1.0)
        if bool((use & ~(q > 0)).any()):
            raise ValueRangeError("measurement_cov must hold positive variances (or +inf for no "
                                  "information)")
        inv_sd = q.rsqrt()
        hw, ew = h * inv_sd[..., None], e * inv_sd
        q_inv_h = h / q[..., None]  # Q⁻¹ H
    else:
        q = torch.where(a2, q, torch.eye(m, dtype=x.dtype, device=x.device))
        l_q, info_q = torch.linalg.cholesky_ex(q)
        if bool(((info_q != 0) & active).any()):
            raise ValueRangeError("measurement_cov must be positive definite (a component "
                                  "without information has +inf on the diagonal)")
        hw = torch.linalg.solve_triangular(l_q, h, upper=False)
        ew = torch.linalg.solve_triangular(l_q, e[..., None], upper=False)[..., 0]
        q_inv_h = torch.linalg.solve_triangular(l_q.mT, hw, upper=True)

    # State-space form of (26): with M̂ = L Lᵀ and C = I + (H_w L)ᵀ(H_w L) (SPD, >= I),
    # A = L C⁻¹ Lᵀ = (M̂⁻¹ + HᵀQ⁻¹H)⁻¹ and K = M̂Hᵀ(Q + HM̂Hᵀ)⁻¹ = A HᵀQ⁻¹ (push-through).
    root = _psd_root(cov_a, active)
    hl = hw @ root
    l_c, _ = torch.linalg.cholesky_ex(eye_n + hl.mT @ hl)
    a = _sym(root @ torch.cholesky_solve(root.mT, l_c))
    w = hw.mT @ hw  # HᵀQ⁻¹H
    b = (hw.mT @ ew[..., None])[..., 0]  # HᵀQ⁻¹e
    if gain == "standard":
        k = a @ q_inv_h.mT  # (26)
        aw = a @ w  # K H
        i_kh = eye_n - aw
        cov_new = _sym(i_kh @ cov_a @ i_kh.mT + aw @ a)  # Joseph form; K Q Kᵀ = A W A
        dx = (a @ b[..., None])[..., 0]  # K e
    else:
        q_full = torch.diag_embed(q) if diagonal else q
        k, cov_new = _paper_gain(h, q_full, e)
        dx = (k @ e[..., None])[..., 0]
    x_new = x + dx  # (31)
    # NIS eᵀS⁻¹e by Woodbury: ‖e_w‖² − bᵀ A b, with bᵀ A b = ‖L_C⁻¹ Lᵀ b‖².
    z = torch.linalg.solve_triangular(l_c, root.mT @ b[..., None], upper=False)
    nis = ew.square().sum(-1) - z.square().sum((-2, -1))

    x_new = torch.where(a1, x_new, x)
    cov_new = torch.where(a2, cov_new, cov)
    h_out = h  # rows of unused components and inactive elements are already 0
    q_noise = q

    def innovation_cov() -> torch.Tensor:
        s = _sym(h_out @ cov_a @ h_out.mT)
        if diagonal:
            s.diagonal(dim1=-2, dim2=-1).add_(q_noise)
        else:
            s = s + q_noise
        s.diagonal(dim1=-2, dim2=-1).masked_fill_(noinfo & a1, math.inf)
        return s

    return EkfUpdate(
        x=x_new,
        cov=cov_new,
        innovation=e,
        gain=torch.where(a2, k, 0.0),
        jacobian=h_out,
        y_pred=torch.where(a1, y_pred, 0.0),
        nis=torch.where(active, nis, 0.0),
        dof=use.sum(-1),
        _innovation_cov_fn=innovation_cov,
    )


def _psd_root(cov: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """A square root ``L`` with ``L Lᵀ = cov`` ``[..., n, n]``: the Cholesky factor, or, for a
    singular positive semi-definite matrix, ``V Λ^(1/2)`` from its eigendecomposition."""
    root, info = torch.linalg.cholesky_ex(cov)
    failed = info != 0
    if bool(failed.any()):
        try:
            lam, vec = torch.linalg.eigh(cov)
        except RuntimeError:  # NaN or Inf entries
            raise SolverError("cov is not a finite symmetric matrix for some element") from None
        tol = 1e3 * torch.finfo(cov.dtype).eps * lam.abs().amax(-1)
        bad = failed & active & ~(lam.amin(-1) >= -tol)
        if bool(bad.any()):
            raise SolverError(f"cov is not positive semi-definite for {int(bad.sum())} active "
                              "element(s)")
        eig_root = vec * lam.clamp_min(0.0).sqrt()[..., None, :]
        root = torch.where(failed[..., None, None], eig_root, root)
    return root


def _paper_gain(h: torch.Tensor, q: torch.Tensor, e: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The paper's "updated" gain (30) and its :math:`\tilde{\mathbf M} = \mathbf K\mathbf Q
    \mathbf H_L^{-T}` (32), literally (see the module Notes); ``[..., n, m]`` and
    ``[..., n, n]``."""
    h_l = torch.linalg.pinv(h)  # H_L^{-1} = (HᵀH)⁻¹Hᵀ at full column rank, [..., n, m]
    outer = e[..., :, None] * e[..., None, :] - q  # e eᵀ − Q, (29)
    m_e = h_l @ outer @ h_l.mT  # (29): the single-sample "error matrix"
    s_e = _sym(q + h @ m_e @ h.mT)  # Q + (H H_L⁻¹)(e eᵀ − Q)(H H_L⁻¹)ᵀ, often singular
    # Pseudo-inverse of s_e, equilibrated by D = diag(Q)^(-1/2) so that components on very
    # different scales (ding_dt: delay variances ~1e-22 s² beside echo variances ~1e-8) are not
    # cut by the relative threshold; equal to s_e⁻¹ whenever s_e is invertible.
    dq = torch.diagonal(q, dim1=-2, dim2=-1)
    d = torch.where(dq > 0, dq.rsqrt(), 1.0)
    rtol = torch.finfo(h.dtype).eps ** 0.5
    s_pinv = torch.linalg.pinv(d[..., :, None] * s_e * d[..., None, :], rtol=rtol,
                               hermitian=True)
    k = m_e @ h.mT @ (d[..., :, None] * s_pinv * d[..., None, :])  # (30)
    return k, k @ q @ h_l.mT  # (32)


# --------------------------------------------------------------------------------------------
# the filter object
# --------------------------------------------------------------------------------------------


class ExtendedKalmanFilter:
    r"""A batched EKF: the model (``g``, ``h``, ``E``) and the gain rule; the state lives with
    the caller.

    Mirrors the shape of TensorFlow Probability's ``extended_kalman_filter``
    (``transition_fn``, ``observation_fn``, optional Jacobian functions), with the noise given
    as covariances instead of distributions. The measurement covariance ``Q`` changes every slot
    in ding_dt (it depends on the beam, eqs. (15)–(17)), so it is an argument of
    :meth:`update`, not of the constructor. The constructor only stores its arguments.

    Parameters
    ----------
    transition_fn : callable
        ``g(x, *args) -> [n]`` on one state.
    observation_fn : callable
        ``h(x, *args) -> [m]`` on one state, real.
    process_cov : torch.Tensor
        ``E``, variances ``[..., n]`` or a full ``[..., n, n]`` (see :func:`ekf_predict`).
    transition_jacobian_fn, observation_jacobian_fn : callable, optional
        Jacobians on one state; default ``torch.func.jacfwd``.
    gain : {"standard", "paper"}
        The update rule (see :func:`ekf_update`).

    Examples
    --------
    A ``[B, K, 3]`` state with a per-element extra argument (here a range scale ``c`` ``[B, K]``)
    passed to ``h``, and padded vehicles masked out:

    >>> import torch
    >>> B, K = 2, 4
    >>> g = lambda x: torch.stack([x[0] + 0.02 * x[2], x[1], x[2]])
    >>> h = lambda x, c: torch.stack([torch.sin(x[0]), c * x[1], x[2]])
    >>> ekf = ExtendedKalmanFilter(g, h, torch.full((1, 1, 3), 1e-4, dtype=torch.float64))
    >>> x = torch.ones(B, K, 3, dtype=torch.float64)
    >>> cov = 0.1 * torch.eye(3, dtype=torch.float64).expand(B, K, 3, 3)
    >>> mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    >>> pred = ekf.predict(x, cov, mask=mask)
    >>> c = torch.full((B, K), 2.0, dtype=torch.float64)
    >>> y = torch.zeros(B, K, 3, dtype=torch.float64)
    >>> var = torch.full((B, K, 3), 1e-2, dtype=torch.float64)
    >>> upd = ekf.update(pred.x, pred.cov, y, var, c, mask=mask)
    >>> upd.x.shape, upd.cov.shape, upd.innovation_cov.shape, upd.nis.shape
    (torch.Size([2, 4, 3]), torch.Size([2, 4, 3, 3]), torch.Size([2, 4, 3, 3]), torch.Size([2, 4]))
    >>> bool((upd.x[1, 3] == x[1, 3]).all())
    True
    """

    def __init__(
        self,
        transition_fn: ModelFn,
        observation_fn: ModelFn,
        process_cov: torch.Tensor,
        *,
        transition_jacobian_fn: ModelFn | None = None,
        observation_jacobian_fn: ModelFn | None = None,
        gain: Gain = "standard",
    ) -> None:
        if gain not in GAINS:
            raise ConfigError(f"gain must be one of {GAINS}, got {gain!r}")
        self.transition_fn = transition_fn
        self.observation_fn = observation_fn
        self.process_cov = process_cov
        self.transition_jacobian_fn = transition_jacobian_fn
        self.observation_jacobian_fn = observation_jacobian_fn
        self.gain: Gain = gain

    def predict(self, x: torch.Tensor, cov: torch.Tensor, *args: torch.Tensor,
                mask: torch.Tensor | None = None) -> EkfPrediction:
        """Eq. (25); see :func:`ekf_predict` (``args`` go to ``transition_fn``)."""
        return ekf_predict(x, cov, self.transition_fn, self.process_cov, *args,
                           transition_jacobian_fn=self.transition_jacobian_fn, mask=mask)

    def update(self, x: torch.Tensor, cov: torch.Tensor, y: torch.Tensor,
               measurement_cov: torch.Tensor, *args: torch.Tensor,
               mask: torch.Tensor | None = None) -> EkfUpdate:
        """Eqs. (26)/(31) and Joseph form; see :func:`ekf_update` (``args`` go to
        ``observation_fn``)."""
        return ekf_update(x, cov, y, self.observation_fn, measurement_cov, *args,
                          observation_jacobian_fn=self.observation_jacobian_fn, mask=mask,
                          gain=self.gain)

    def forward_filter(
        self,
        x: torch.Tensor,
        cov: torch.Tensor,
        y: torch.Tensor,
        measurement_cov: torch.Tensor,
        *,
        observation_args: Sequence[torch.Tensor] = (),
        transition_args: Sequence[torch.Tensor] = (),
        mask: torch.Tensor | None = None,
    ) -> EkfTrace:
        """Filter a whole sequence: for each slot ``t``, update with ``y[t]``, then predict.

        The Python loop runs over time only (the recursion forces it); each slot is one batched
        call.

        Parameters
        ----------
        x, cov : torch.Tensor
            Prior of the first slot, ``[..., n]`` and ``[..., n, n]``.
        y : torch.Tensor
            Measurements ``[T, ..., m]``.
        measurement_cov : torch.Tensor
            ``Q`` per slot, ``[T, ..., m]`` or ``[T, ..., m, m]``.
        observation_args, transition_args : sequence of torch.Tensor
            Extra arguments per slot, each ``[T, ..., *shape]``.
        mask : torch.Tensor, optional
            Bool, ``[...]`` for all slots or ``[T, ...]`` per slot.

        Returns
        -------
        EkfTrace
            Filtered and predicted states and covariances and the innovation diagnostics,
            each with time first.
        """
        x = _check_state(x)
        if not isinstance(y, torch.Tensor) or y.dim() != x.dim() + 1:
            raise ShapeError(f"y must have shape [T, ..., m] with {x.dim() + 1} dimensions, got "
                             f"{tuple(getattr(y, 'shape', ()))}")
        steps = y.shape[0]
        if steps == 0:
            raise ShapeError("y must hold at least one slot (T >= 1)")
        per_slot_mask = mask is not None and mask.dim() == x.dim()
        rows: list[tuple[torch.Tensor, ...]] = []
        for t in range(steps):
            m_t = mask[t] if (mask is not None and per_slot_mask) else mask
            upd = self.update(x, cov, y[t], measurement_cov[t],
                              *[a[t] for a in observation_args], mask=m_t)
            pred = self.predict(upd.x, upd.cov, *[a[t] for a in transition_args], mask=m_t)
            rows.append((upd.x, upd.cov, pred.x, pred.cov, upd.innovation, upd.nis, upd.dof))
            x, cov = pred.x, pred.cov
        cols = [torch.stack(c) for c in zip(*rows)]
        return EkfTrace(*cols)
