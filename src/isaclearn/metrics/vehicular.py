r"""Metrics of multi-RSU vehicular ISAC: per-vehicle rate at the serving RSU, assignment
accuracy, beam MSE, tracking RMSE and NEES (ding_dt, ``shared/papers/004_...txt``).

Rate (10). Vehicle ``k`` is served by RSU :math:`i(k)` (:math:`\xi_{[i,k]} = 1` iff
:math:`i = i(k)`). With the communication row
:math:`\mathbf h_{[i,k]} = \kappa'\sqrt{\alpha_{[i,k]}}\mathbf a^H(\varphi_{[i,k]})` (8)/(9)
and the beam :math:`\mathbf f_{[i,m]}` of vehicle ``m`` at RSU ``i``,

.. math::
    \mathrm{SINR}_k = \frac{|\mathbf h_{[i,k]}\mathbf f_{[i,k]}|^2}
    {\sum_{m\ne k}\xi_{[i,m]}|\mathbf h_{[i,k]}\mathbf f_{[i,m]}|^2 + \sigma_c^2}
    \Big|_{i = i(k)},\qquad R_k = \log_2(1 + \mathrm{SINR}_k)\ \text{bit/s/Hz}.

Since :math:`|\kappa'\sqrt{\alpha}\,\mathbf a^H\mathbf f|^2 = \kappa'^2|\alpha||\mathbf a^H
\mathbf f|^2`, this is (10) exactly. Only the serving RSU's own beams interfere, as in (10)
(``inter_rsu_interference=False``). With ``inter_rsu_interference=True`` the beams of every other
RSU ``j`` also reach vehicle ``k`` through its row :math:`\mathbf h_{[j,k]}`: the denominator gains
:math:`\sum_{j\ne i(k)}\sum_m \xi_{[j,m]}|\mathbf h_{[j,k]}\mathbf f_{[j,m]}|^2` (all RSUs
share the band and the vehicle cannot separate them; beyond the paper).

Padded vehicles (``mask`` False) have no beam anywhere (they neither interfere nor receive) and
get rate 0; whatever their rows, beams or RSU index hold is ignored.

Learning and tracking metrics (spec §2): assignment accuracy (Fig. 5), beam MSE (Fig. 6),
per-component tracking MSE/RMSE and the normalized estimation error squared (NEES) against a
filter covariance; these average over the valid vehicles (and any other axes named by ``dim``)
and give NaN where there is none.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from isaclearn.core.checks import check_last_dims
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ShapeError, ValueRangeError
from isaclearn.core.linalg import abs_sq
from isaclearn.metrics.comm import sinr as _sinr

__all__ = [
    "assignment_accuracy",
    "assignment_indicator",
    "beam_mse",
    "nees",
    "rsu_rates",
    "rsu_sinr",
    "tracking_mse",
    "tracking_rmse",
]


def _vehicle_mask(mask: torch.Tensor | None, shape: torch.Size, device: torch.device,
                  name: str = "mask") -> torch.Tensor:
    """``mask`` as bool broadcast to ``shape`` (all True when None)."""
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ShapeError(f"{name} must be a bool tensor of shape {tuple(shape)}")
    try:
        return torch.broadcast_to(mask.to(device), shape)
    except RuntimeError:
        raise ShapeError(f"{name} of shape {tuple(mask.shape)} does not broadcast to the "
                         f"vehicle shape {tuple(shape)}") from None


def assignment_indicator(
    assign: torch.Tensor, num_rsus: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    r"""The assignment :math:`\xi_{[i,k]}` of (1) as a one-hot tensor.

    Parameters
    ----------
    assign : torch.Tensor
        Serving RSU index of each vehicle, ``[..., K]`` integer in ``[0, I)`` (ignored where
        ``mask`` is False).
    num_rsus : int
        Number of RSUs ``I``.
    mask : torch.Tensor, optional
        ``[..., K]`` bool, True for real vehicles; padded vehicles are served by no RSU.

    Returns
    -------
    torch.Tensor
        ``[..., I, K]`` bool, ``xi[..., i, k] = (assign[..., k] == i) & mask[..., k]``.

    Raises
    ------
    ShapeError
        ``assign`` is not an integer tensor with at least one dimension, or ``mask`` does not
        broadcast against it.
    ValueRangeError
        A valid vehicle's RSU index lies outside ``[0, I)``.

    Examples
    --------
    >>> import torch
    >>> assignment_indicator(torch.tensor([1, 0, 1]), 2).int()
    tensor([[0, 1, 0],
            [1, 0, 1]], dtype=torch.int32)
    """
    if not isinstance(assign, torch.Tensor) or assign.dim() < 1 or assign.is_floating_point() \
            or assign.is_complex() or assign.dtype == torch.bool:
        raise ShapeError("assign must be an integer tensor of shape [..., K] (RSU indices)")
    if isinstance(num_rsus, bool) or not isinstance(num_rsus, int) or num_rsus < 1:
        raise ShapeError(f"num_rsus must be an integer >= 1, got {num_rsus!r}")
    valid = _vehicle_mask(mask, assign.shape, assign.device)
    if bool((valid & ((assign < 0) | (assign >= num_rsus))).any()):
        raise ValueRangeError(f"assign must hold RSU indices in [0, {num_rsus}) for every valid "
                              f"vehicle")
    rsu = torch.arange(num_rsus, device=assign.device)
    return (assign[..., None, :] == rsu[:, None]) & valid[..., None, :]


def _noise(noise_var: torch.Tensor | float, per_vehicle: torch.Size,
           like: torch.Tensor) -> torch.Tensor:
    """``noise_var`` (scalar, ``[...]`` per instance or ``[..., K]`` per vehicle) shaped to
    broadcast against ``[..., K]``; real, on ``like``'s device."""
    if isinstance(noise_var, torch.Tensor) and noise_var.is_complex() \
            or isinstance(noise_var, complex):
        raise ValueRangeError("noise_var must be real")
    target = real_dtype(like.dtype)
    if isinstance(noise_var, torch.Tensor) and noise_var.is_floating_point():
        target = torch.promote_types(noise_var.dtype, target)
    n = torch.as_tensor(noise_var, dtype=target, device=like.device)  # no float32 detour
    if n.dim() == len(per_vehicle) - 1:
        n = n[..., None]
    elif n.dim() not in (0, len(per_vehicle)):
        raise ShapeError(f"noise_var must be a scalar, [...] per instance or [..., K] per "
                         f"vehicle for vehicles of shape {tuple(per_vehicle)}, got shape "
                         f"{tuple(n.shape)}")
    try:
        torch.broadcast_shapes(n.shape, per_vehicle)
    except RuntimeError:
        raise ShapeError(f"noise_var of shape {tuple(n.shape)} does not broadcast against the "
                         f"vehicles of shape {tuple(per_vehicle)}") from None
    if bool((torch.isnan(n) | (n <= 0)).any()):
        raise ValueRangeError("noise_var must be positive")
    return n


def rsu_sinr(
    h: torch.Tensor,
    f: torch.Tensor,
    assign: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    inter_rsu_interference: bool = False,
) -> torch.Tensor:
    r"""Per-vehicle SINR (10) at the serving RSU (linear); see :func:`rsu_rates`.

    Returns
    -------
    torch.Tensor
        ``[..., K]`` real; 0 for padded vehicles.
    """
    check_last_dims(h, (None, None, None), "h", "[..., I, K, N_t]")
    if not h.is_complex() or not f.is_complex():
        raise ShapeError("h and f must be complex tensors of shape [..., I, K, N_t]")
    try:
        batch = torch.broadcast_shapes(h.shape, f.shape)
    except RuntimeError:
        raise ShapeError(f"h {tuple(h.shape)} and f {tuple(f.shape)} must both have shape "
                         f"[..., I, K, N_t]") from None
    if f.dim() < 3 or f.shape[-3:] != h.shape[-3:]:
        raise ShapeError(f"h and f must both have shape [..., I, K, N_t], got {tuple(h.shape)} "
                         f"and {tuple(f.shape)}")
    num_rsus, k = h.shape[-3], h.shape[-2]
    check_last_dims(assign, (k,), "assign", "[..., K]")
    vehicles = torch.broadcast_shapes(batch[:-3] + (k,), assign.shape)
    valid = _vehicle_mask(mask, vehicles, h.device)
    xi = assignment_indicator(torch.broadcast_to(assign, vehicles), num_rsus, valid)
    dt = torch.promote_types(h.dtype, f.dtype)
    zero = torch.zeros((), dtype=dt, device=h.device)
    full = vehicles[:-1] + h.shape[-3:]
    h, f = h.broadcast_to(full), f.broadcast_to(full)
    # Padded vehicles: no row (they receive nothing) and no beam (they interfere with nobody).
    # torch.where (not a product) keeps NaN/Inf padding out of the result.
    h = torch.where(valid[..., None, :, None], h.to(dt), zero)
    fx = torch.where(xi[..., None], f.to(dt), zero)  # beams of unserved pairs are off
    noise = _noise(noise_var, vehicles, h)
    serving = torch.where(valid, assign, 0)[..., None, :]  # [..., 1, K]
    if not inter_rsu_interference:
        # Each RSU is a downlink MISO (metrics.comm.sinr) with its served beams as columns.
        per_rsu = _sinr(h, fx.mT, noise[..., None, :] if noise.dim() else noise)  # [..., I, K]
        out = torch.gather(per_rsu, -2, serving.expand(*per_rsu.shape[:-2], 1, k))[..., 0, :]
    else:
        g = abs_sq(h @ fx.mT)  # [..., I, K, K]: |h_[i,k] f_[i,m]|^2 xi_[i,m]
        own = torch.diagonal(g, dim1=-2, dim2=-1)  # [..., I, K]
        signal = torch.gather(own, -2, serving.expand(*own.shape[:-2], 1, k))[..., 0, :]
        eye = torch.eye(k, dtype=torch.bool, device=h.device)
        not_signal = ~(xi[..., :, :, None] & eye)  # drop (i(k), k, k), the wanted stream
        interference = torch.where(not_signal, g, 0.0).sum(dim=(-3, -1))  # [..., K]
        out = signal / (interference + noise)
    return torch.where(valid, out, 0.0)


def rsu_rates(
    h: torch.Tensor,
    f: torch.Tensor,
    assign: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    mask: torch.Tensor | None = None,
    inter_rsu_interference: bool = False,
) -> torch.Tensor:
    r"""Per-vehicle rate :math:`\log_2(1+\mathrm{SINR}_k)` at the serving RSU, eq. (10).

    Parameters
    ----------
    h : torch.Tensor
        Communication rows ``[..., I, K, N_t]`` complex: ``h[..., i, k, :]`` is
        :math:`\kappa'\sqrt{\alpha_{[i,k]}}\mathbf a^H(\varphi_{[i,k]})` (already conjugated;
        the gain of beam ``f`` is ``h @ f``), in √W-normalized amplitude units.
    f : torch.Tensor
        Beams ``[..., I, K, N_t]`` complex: ``f[..., i, k, :]`` is vehicle ``k``'s beam at RSU
        ``i`` (only the serving RSU's beam is used).
    assign : torch.Tensor
        ``[..., K]`` integer serving RSU index in ``[0, I)``.
    noise_var : float or torch.Tensor
        :math:`\sigma_c^2` (W): a scalar, ``[...]`` per instance or ``[..., K]`` per vehicle.
    mask : torch.Tensor, optional
        ``[..., K]`` bool, False for padded vehicles (no beam, no interference, rate 0).
    inter_rsu_interference : bool
        False (default, eq. 10): only the serving RSU's other beams interfere. True: the beams
        of the other RSUs interfere too (module docstring).

    Returns
    -------
    torch.Tensor
        ``[..., K]`` real, bit/s/Hz (``float64`` for ``complex128`` inputs). The sum over ``K``
        is the sum rate; Figs. 7/8 divide it by the number of vehicles.

    Raises
    ------
    ShapeError
        Inconsistent shapes, real ``h``/``f``, non-integer ``assign``, non-bool ``mask``.
    ValueRangeError
        An RSU index outside ``[0, I)`` for a valid vehicle, or a non-positive ``noise_var``.

    Examples
    --------
    >>> import torch
    >>> h = torch.ones(1, 2, 1, 1, dtype=torch.complex128)  # 2 RSUs, 1 vehicle, 1 antenna
    >>> rsu_rates(h, h, torch.tensor([[1]]), 1.0)
    tensor([[1.]], dtype=torch.float64)
    """
    s = rsu_sinr(h, f, assign, noise_var, mask=mask,
                 inter_rsu_interference=inter_rsu_interference)
    return torch.log2(1.0 + s)


# ----------------------------------------------------------------------------------------------
# learning and tracking metrics


def _masked_mean(x: torch.Tensor, valid: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Mean of ``x`` over ``dims`` where ``valid`` (broadcast); NaN where nothing is valid."""
    v = valid.to(x.dtype)
    total = torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device)).sum(dims)
    return total / v.sum(dims)


def _dims(dim: int | Sequence[int], ndim: int, name: str = "dim") -> tuple[int, ...]:
    """``dim`` (axes of a per-item shape of ``ndim`` dimensions) as sorted non-negative ints."""
    ds = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in ds:
        if not -ndim <= d < ndim:
            raise ShapeError(f"{name} {d} is out of range for per-vehicle values with {ndim} "
                             f"dimensions")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{name} names an axis twice: {dim!r}")
    return tuple(sorted(out))


def assignment_accuracy(
    pred: torch.Tensor,
    label: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dim: int | Sequence[int] = -1,
) -> torch.Tensor:
    r"""Share of vehicles whose predicted serving RSU equals the label (Fig. 5).

    Parameters
    ----------
    pred, label : torch.Tensor
        ``[..., K]`` integer (or bool) RSU indices, e.g. the network's ``argmax`` and Alg. 3's
        assignment.
    mask : torch.Tensor, optional
        ``[..., K]`` bool, False for padded vehicles (not counted).
    dim : int or sequence of int
        Axes of ``[..., K]`` to average over (default: the vehicle axis).

    Returns
    -------
    torch.Tensor
        Accuracy in [0, 1], the input shape without ``dim`` (``[...]`` by default), in the
        default float dtype; NaN where no vehicle is valid.

    Examples
    --------
    >>> import torch
    >>> assignment_accuracy(torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 1]),
    ...                     torch.tensor([True, True, True, False]))
    tensor(0.6667)
    """
    if pred.is_floating_point() or label.is_floating_point() or pred.is_complex() \
            or label.is_complex():
        raise ShapeError("pred and label must be integer or bool tensors of RSU indices")
    try:
        shape = torch.broadcast_shapes(pred.shape, label.shape)
    except RuntimeError:
        raise ShapeError(f"pred {tuple(pred.shape)} and label {tuple(label.shape)} do not "
                         f"broadcast") from None
    if len(shape) < 1:
        raise ShapeError("pred and label must have shape [..., K]")
    valid = _vehicle_mask(mask, shape, pred.device)
    hit = (pred == label).to(torch.get_default_dtype())
    return _masked_mean(torch.broadcast_to(hit, shape), valid, _dims(dim, len(shape)))


def beam_mse(
    f_hat: torch.Tensor,
    f: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dim: int | Sequence[int] = -1,
) -> torch.Tensor:
    r"""Beam MSE of Fig. 6: mean over vehicles of :math:`\|[\mathrm{Re},\mathrm{Im}]
    (\hat{\mathbf f}-\mathbf f)\|^2/(2N_t)`, the MSE per real output of the beam network.

    Parameters
    ----------
    f_hat, f : torch.Tensor
        ``[..., K, N_t]`` complex, or ``[..., K, 2 N_t]`` real (``[Re, Im]`` stacked).
    mask : torch.Tensor, optional
        ``[..., K]`` bool, False for padded vehicles.
    dim : int or sequence of int
        Axes of ``[..., K]`` to average over (default: the vehicle axis).

    Returns
    -------
    torch.Tensor
        ``[...]`` real (the vehicle shape without ``dim``); NaN where no vehicle is valid.

    Examples
    --------
    >>> import torch
    >>> beam_mse(torch.tensor([[1 + 1j, 0]]), torch.zeros(1, 2, dtype=torch.complex64))
    tensor(0.5000)
    """
    if f_hat.is_complex() != f.is_complex():
        raise ShapeError("f_hat and f must both be complex [..., K, N_t] or both real "
                         "[..., K, 2 N_t]")
    check_last_dims(f_hat, (None, None), "f_hat", "[..., K, N_t]")
    check_last_dims(f, (f_hat.shape[-2], f_hat.shape[-1]), "f", "[..., K, N_t] like f_hat")
    dt = torch.promote_types(f_hat.dtype, f.dtype)
    diff = f_hat.to(dt) - f.to(dt)
    if diff.is_complex():
        per = abs_sq(diff).sum(-1) / (2 * diff.shape[-1])
    else:
        per = diff.square().sum(-1) / diff.shape[-1]
    valid = _vehicle_mask(mask, per.shape, per.device)
    return _masked_mean(per, valid, _dims(dim, per.dim()))


def tracking_mse(
    est: torch.Tensor,
    truth: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dim: int | Sequence[int] = -1,
) -> torch.Tensor:
    r"""Per-component mean squared tracking error :math:`\mathbb E[(\tilde x_j - x_j)^2]`.

    Compare with the PCRB diagonal :math:`\tilde m^{(jj)}` (spec §7).

    Parameters
    ----------
    est, truth : torch.Tensor
        ``[..., K, D]`` real states (ding_dt: ``D = 3``, cosine, m, m/s).
    mask : torch.Tensor, optional
        ``[..., K]`` bool (the per-vehicle shape ``est.shape[:-1]``), False where there is no
        track.
    dim : int or sequence of int
        Axes of the per-vehicle shape ``[..., K]`` to average over: the vehicle axis by default;
        e.g. ``(0, -1)`` for ``[R, T, K, D]`` averages over Monte Carlo runs and vehicles.

    Returns
    -------
    torch.Tensor
        ``[..., D]``: the per-vehicle shape without ``dim``, then ``D``; NaN where no vehicle
        is valid.
    """
    if est.is_complex() or truth.is_complex():
        raise ShapeError("est and truth must be real")
    check_last_dims(est, (None, None), "est", "[..., K, D]")
    try:
        shape = torch.broadcast_shapes(est.shape, truth.shape)
    except RuntimeError:
        raise ShapeError(f"est {tuple(est.shape)} and truth {tuple(truth.shape)} do not "
                         f"broadcast") from None
    err = (est - truth).broadcast_to(shape)
    if not err.is_floating_point():
        err = err.to(torch.get_default_dtype())
    valid = _vehicle_mask(mask, shape[:-1], err.device)
    dims = _dims(dim, len(shape) - 1)
    return _masked_mean(err.square(), valid[..., None], dims)


def tracking_rmse(
    est: torch.Tensor,
    truth: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dim: int | Sequence[int] = -1,
) -> torch.Tensor:
    """Per-component root mean squared tracking error, ``sqrt(tracking_mse(...))``, ``[..., D]``
    (same arguments as :func:`tracking_mse`; units of the state components)."""
    return tracking_mse(est, truth, mask, dim=dim).sqrt()


def nees(
    err: torch.Tensor,
    cov: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dim: int | Sequence[int] | None = -1,
) -> torch.Tensor:
    r"""Normalized estimation error squared :math:`\boldsymbol\epsilon^T\mathbf P^{-1}
    \boldsymbol\epsilon`, averaged over valid vehicles.

    For a consistent filter each term is :math:`\chi^2_D`; the mean of ``R`` independent terms
    lies in :math:`[\chi^2_{DR}(0.025), \chi^2_{DR}(0.975)]/R` with 95 % probability.

    Parameters
    ----------
    err : torch.Tensor
        Estimation errors :math:`\tilde{\mathbf x} - \mathbf x`, ``[..., K, D]`` real.
    cov : torch.Tensor
        Filter covariances :math:`\tilde{\mathbf M}`, ``[..., K, D, D]`` real SPD (broadcast
        against ``err``).
    mask : torch.Tensor, optional
        ``[..., K]`` bool, False where there is no track.
    dim : int, sequence of int or None
        Axes of the per-vehicle shape ``[..., K]`` to average over (default: vehicles); None
        returns the NEES of every vehicle (NaN where masked).

    Returns
    -------
    torch.Tensor
        The per-vehicle shape without ``dim``; NaN where no vehicle is valid.
    """
    if err.is_complex() or cov.is_complex():
        raise ShapeError("err and cov must be real")
    check_last_dims(err, (None,), "err", "[..., K, D]")
    d = err.shape[-1]
    check_last_dims(cov, (d, d), "cov", f"[..., K, {d}, {d}]")
    dt = torch.promote_types(err.dtype, cov.dtype)
    if not dt.is_floating_point:
        dt = torch.get_default_dtype()
    try:
        batch = torch.broadcast_shapes(err.shape[:-1], cov.shape[:-2])
    except RuntimeError:
        raise ShapeError(f"err {tuple(err.shape)} and cov {tuple(cov.shape)} do not "
                         f"broadcast") from None
    e = err.to(dt).broadcast_to(batch + (d,))
    p = cov.to(dt).broadcast_to(batch + (d, d))
    valid = _vehicle_mask(mask, batch, e.device)
    # Masked entries may hold any (even singular) covariance: replace them by the identity.
    eye = torch.eye(d, dtype=dt, device=e.device)
    p = torch.where(valid[..., None, None], p, eye)
    e = torch.where(valid[..., None], e, 0.0)
    q = (e[..., None, :] @ torch.linalg.solve(p, e[..., None]))[..., 0, 0]
    if dim is None:
        return torch.where(valid, q, torch.nan)
    return _masked_mean(q, valid, _dims(dim, q.dim()))
