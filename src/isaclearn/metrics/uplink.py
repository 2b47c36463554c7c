r"""Metrics of the uplink ISAC system of qi_uplink (``shared/papers/002_44f20366b67f6561.txt``).

Sensing rate (eqs. 4–5): the mutual information between the vectorized target response
:math:`\tilde{\mathbf g}=\mathrm{vec}(\mathbf G)` and the received block, per symbol,

.. math::
    \mathcal R_s(\mathbf S)=\frac1L\log_2\big|\mathbf I_{LN_r}
      +\mathbf R_I^{-1}\tilde{\mathbf S}\mathbf R_g\tilde{\mathbf S}^H\big|,\quad
    \tilde{\mathbf S}=\mathbf I_{N_r}\otimes\mathbf S,\;
    \mathbf R_g=\mathbf I_{N_r}\otimes\mathbf R_T,\;
    \mathbf R_I=(\mathbf H\tilde{\mathbf P}\mathbf H^H)\otimes\mathbf I_L+\sigma_n^2\mathbf I,

and its eigenvalue form (eq. 14) for the waveform :math:`\mathbf S=\mathbf U_s\boldsymbol\Sigma_s
\mathbf U_T^H` of eq. (31),
:math:`\bar{\mathcal R}_s(\boldsymbol\sigma_s)=\frac1L\sum_{i,j}\log_2(1+\sigma_{t,i}\sigma_{s,i}
\sigma_{h,j})` with :math:`\sigma_{h,j}` the eigenvalues of
:math:`\mathbf R_H=(\mathbf H\tilde{\mathbf P}\mathbf H^H+\sigma_n^2\mathbf I)^{-1}`.

Communication (eqs. 7–8): for any receive beams :math:`\mathbf w_k`

.. math::
    \gamma_k=\frac{p_k|\mathbf h_k^T\mathbf w_k|^2}{\sum_{i\ne k}p_i|\mathbf h_i^T\mathbf w_k|^2
      +(\mathrm{tr}(\mathbf S\mathbf R_T\mathbf S^H)/L+\sigma_n^2)\|\mathbf w_k\|^2},\qquad
    \mathcal R_c=\frac1K\sum_k\log_2(1+\gamma_k),

maximized by the MMSE beams of eq. (25), which give
:math:`\gamma_k^{\rm opt}=p_k\mathbf h_k^T\tilde{\mathbf R}_k^{-1}\mathbf h_k^*` (eq. 26).

Objective (eq. 28, "WSNR"): :math:`\frac{\alpha}{M_s}\bar{\mathcal R}_s+\frac{1-\alpha}{M_c}
\bar{\mathcal R}_c` with the per-instance maxima :math:`M_s` (Appendix C, eqs. 35–39) and
:math:`M_c` (eq. 40).

Notes
-----
* **Conjugation.** ``h`` is ``[..., N_r, K]`` with column ``k`` equal to :math:`\mathbf h_k`; the
  user signal arrives as :math:`\mathbf h_k^T` (eq. 6), so the beam output is
  :math:`\mathbf h_k^T\mathbf w_k` (no conjugate on ``w``) and the interference covariance seen
  by the beams is :math:`\sum_i p_i\mathbf h_i^*\mathbf h_i^T`, the conjugate of the one seen by
  the sensing receiver (same eigenvalues).
* **Sensing interference in eq. (7).** The paper writes :math:`\|\mathbf S\mathbf R_T\mathbf S^H\|`
  and then uses :math:`\mathrm{tr}(\boldsymbol\Lambda)=\sum_i\sigma_{s,i}\sigma_{t,i}` (eq. 19).
  The echo power at a beam output, averaged over the ``L`` symbols, is
  :math:`\mathrm{tr}(\mathbf S\mathbf R_T\mathbf S^H)\|\mathbf w_k\|^2/L`, so the trace is used.
* :math:`M_s` is, as in Appendix C, the sensing rate maximized over the waveform *without* users
  (``ms_mode="interference_free"``), solved by exact water-filling (eq. 38's water level
  :math:`\hat\mu=(P_s+\sum_i\sigma_n^2/\sigma_{t,i})/N_t` is only right when every direction
  is active; the active set is found here). ``ms_mode="with_interference"`` instead maximizes
  eq. (14) with the users present (a concave, water-filling-like problem solved exactly by
  :func:`solve_sensing_kkt`); then the best waveform reaches WSNR = 1 at α = 1.
* Functions follow the dtype and device of their inputs; real outputs have the real dtype
  matching the complex input. Nothing is reduced over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import torch

from isaclearn.core.checks import check_last_dims
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import abs_sq, herm

if TYPE_CHECKING:
    from isaclearn.channels.uplink import UplinkProblem

MsMode = Literal["interference_free", "with_interference"]
_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _real(x: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``x`` as a real tensor with ``like``'s real dtype and device (float64 kept)."""
    rdt = real_dtype(like.dtype)
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise ShapeError("expected a real tensor, got a complex one")
        return x.to(device=like.device, dtype=torch.promote_types(x.dtype, rdt))
    return torch.as_tensor(float(x), dtype=rdt, device=like.device)


def _per_instance(x: torch.Tensor | float, like: torch.Tensor, batch_dims: int,
                  name: str) -> torch.Tensor:
    """A scalar or ``[...]`` per-instance value shaped to broadcast against a batch of
    ``batch_dims`` leading dimensions."""
    t = _real(x, like)
    if t.dim() not in (0, batch_dims):
        raise ShapeError(f"{name} must be a scalar or have the batch shape (…), got shape "
                         f"{tuple(t.shape)}")
    return t


def batched_kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kronecker product of the last two dimensions, batched: ``[..., m, n] ⊗ [..., p, q]`` →
    ``[..., m p, n q]``."""
    m, n = a.shape[-2:]
    p, q = b.shape[-2:]
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(*out.shape[:-4], m * p, n * q)


def rt_eig(r_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Eigenvalues and eigenvectors of :math:`\mathbf R_T`, sorted in *descending* order.

    Parameters
    ----------
    r_t : torch.Tensor
        ``[..., N_t, N_t]`` complex Hermitian PSD.

    Returns
    -------
    sigma_t : torch.Tensor
        ``[..., N_t]`` real, :math:`\sigma_{t,1}\ge\dots\ge\sigma_{t,N_t}\ge0` (clamped at 0).
    u_t : torch.Tensor
        ``[..., N_t, N_t]`` complex, column ``i`` the eigenvector of :math:`\sigma_{t,i}`.
    """
    check_last_dims(r_t, (None, None), "r_t", "[..., N_t, N_t]")
    ev, vec = torch.linalg.eigh(r_t)
    return ev.flip(-1).clamp_min(0.0), vec.flip(-1)


def comm_covariance(h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbf H\tilde{\mathbf P}\mathbf H^H` ``[..., N_r, N_r]`` (W) for ``h``
    ``[..., N_r, K]`` and ``p`` ``[..., K]``."""
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    if p.shape[-1] != h.shape[-1]:
        raise ShapeError(f"p must have shape [..., K={h.shape[-1]}], got {tuple(p.shape)}")
    hp = h * _real(p, h).to(h.dtype)[..., None, :]
    return hp @ herm(h)


def sensing_gains(
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    interference_scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    r"""Eigenvalues :math:`\sigma_{h,j}` of :math:`\mathbf R_H=(\kappa\mathbf H\tilde{\mathbf P}
    \mathbf H^H+\sigma_n^2\mathbf I)^{-1}` (eq. 11), descending.

    Parameters
    ----------
    h : torch.Tensor
        ``[..., N_r, K]`` complex channels.
    p : torch.Tensor
        ``[..., K]`` user powers, W.
    noise_var : float or torch.Tensor
        :math:`\sigma_n^2`, W (scalar or per instance).
    interference_scale : float or torch.Tensor
        :math:`\kappa\in[0,1]`: fraction of the users' power left in the sensing stage (1 in the
        paper; below 1 models a successive-interference-cancellation stage that removes the
        users' signals before sensing, 0 being perfect).

    Returns
    -------
    torch.Tensor
        ``[..., N_r]`` real, 1/W.
    """
    cov = comm_covariance(h, p)
    lam = torch.linalg.eigvalsh(cov).clamp_min(0.0)  # ascending
    kappa = _per_instance(interference_scale, lam, lam.dim() - 1, "interference_scale")
    s2 = _per_instance(noise_var, lam, lam.dim() - 1, "noise_var")
    if kappa.dim():
        kappa = kappa[..., None]
    if s2.dim():
        s2 = s2[..., None]
    return 1.0 / (kappa * lam + s2)


# ---------------------------------------------------------------------------------------------
# sensing rate
# ---------------------------------------------------------------------------------------------


def _check_waveform(s: torch.Tensor, r_t: torch.Tensor) -> None:
    check_last_dims(s, (None, None), "s", "[..., L, N_t]")
    check_last_dims(r_t, (None, None), "r_t", "[..., N_t, N_t]")
    if s.shape[-1] != r_t.shape[-1] or r_t.shape[-1] != r_t.shape[-2]:
        raise ShapeError(f"s [..., L, N_t] and r_t [..., N_t, N_t] disagree: {tuple(s.shape)} vs "
                         f"{tuple(r_t.shape)}")


def sensing_rate_logdet(
    s: torch.Tensor,
    r_t: torch.Tensor,
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    interference_scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    r"""Sensing rate by the literal log-determinant of eqs. (4)–(5).

    .. math::
        \mathcal R_s=\frac1L\log_2\big|\mathbf I_{LN_r}+\mathbf R_I^{-1}\tilde{\mathbf S}
        \mathbf R_g\tilde{\mathbf S}^H\big|

    built with explicit Kronecker products (cost :math:`O((LN_r)^3)` per instance: a reference
    implementation; :func:`sensing_rate` gives the same value cheaply).

    Parameters
    ----------
    s : torch.Tensor
        Waveform :math:`\mathbf S` ``[..., L, N_t]`` complex (rows are symbols), √W.
    r_t : torch.Tensor
        :math:`\mathbf R_T` ``[..., N_t, N_t]`` complex Hermitian PSD.
    h : torch.Tensor
        ``[..., N_r, K]`` complex channels.
    p : torch.Tensor
        ``[..., K]`` user powers, W.
    noise_var : float or torch.Tensor
        :math:`\sigma_n^2`, W.
    interference_scale : float or torch.Tensor
        :math:`\kappa` of :func:`sensing_gains` (1 in the paper).

    Returns
    -------
    torch.Tensor
        ``[...]`` real, bit/s/Hz (bits per symbol).
    """
    _check_waveform(s, r_t)
    dt = torch.promote_types(torch.promote_types(s.dtype, r_t.dtype), h.dtype)
    s, r_t, h = s.to(dt), r_t.to(dt), h.to(dt)
    num_symbols = s.shape[-2]
    nr = h.shape[-2]
    eye_nr = torch.eye(nr, dtype=dt, device=s.device)
    eye_l = torch.eye(num_symbols, dtype=dt, device=s.device)
    batch = torch.broadcast_shapes(s.shape[:-2], r_t.shape[:-2], h.shape[:-2])
    s_t = batched_kron(eye_nr.expand(*batch, nr, nr), s.expand(*batch, *s.shape[-2:]))
    r_g = batched_kron(eye_nr.expand(*batch, nr, nr), r_t.expand(*batch, *r_t.shape[-2:]))
    kappa = _per_instance(interference_scale, h.real, len(batch), "interference_scale")
    s2 = _per_instance(noise_var, h.real, len(batch), "noise_var")
    cov = comm_covariance(h, p.to(real_dtype(dt)))
    if kappa.dim():
        cov = cov * kappa[..., None, None].to(dt)
    r_i = batched_kron(cov, eye_l.expand(*batch, num_symbols, num_symbols))
    n = num_symbols * nr
    eye_n = torch.eye(n, dtype=dt, device=s.device)
    r_i = r_i + (s2[..., None, None] if s2.dim() else s2).to(dt) * eye_n
    m = eye_n + torch.linalg.solve(r_i, s_t @ r_g @ herm(s_t))
    return torch.linalg.slogdet(m)[1] / (_LN2 * num_symbols)


def sensing_echo_covariance(s: torch.Tensor, r_t: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbf S\mathbf R_T\mathbf S^H` ``[..., L, L]`` (Hermitian PSD, W)."""
    _check_waveform(s, r_t)
    dt = torch.promote_types(s.dtype, r_t.dtype)
    s = s.to(dt)
    a = s @ r_t.to(dt) @ herm(s)
    return 0.5 * (a + herm(a))


def sensing_rate(
    s: torch.Tensor,
    r_t: torch.Tensor,
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    *,
    interference_scale: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    r"""Sensing rate of eqs. (4)–(5) for any waveform, evaluated exactly and cheaply.

    By eq. (11), :math:`\mathcal R_s=\frac1L\log_2|\mathbf I+\mathbf R_H\otimes\mathbf S\mathbf R_T
    \mathbf S^H|`, and the eigenvalues of a Kronecker product of Hermitian PSD matrices are the
    products of their eigenvalues, so

    .. math::
        \mathcal R_s=\frac1L\sum_{j=1}^{N_r}\sum_{l=1}^{L}\log_2(1+\sigma_{h,j}\lambda_l),

    :math:`\lambda_l` the eigenvalues of :math:`\mathbf S\mathbf R_T\mathbf S^H`. Equal to
    :func:`sensing_rate_logdet` for every ``S`` (tested), at the cost of an ``L × L``
    eigen-decomposition. Differentiable in ``s``, ``r_t``, ``h`` and ``p``.

    Parameters and returns as :func:`sensing_rate_logdet`.
    """
    a = sensing_echo_covariance(s, r_t)
    dt = torch.promote_types(a.dtype, h.dtype)
    lam = torch.linalg.eigvalsh(a.to(dt)).clamp_min(0.0)
    sig_h = sensing_gains(h.to(dt), p, noise_var, interference_scale=interference_scale)
    lam, sig_h = torch.broadcast_tensors(lam[..., :, None], sig_h[..., None, :])
    return torch.log2(1.0 + lam * sig_h).sum(dim=(-2, -1)) / a.shape[-1]


def sensing_rate_eig(
    sigma_s: torch.Tensor,
    sigma_t: torch.Tensor,
    sigma_h: torch.Tensor,
    num_symbols: int,
) -> torch.Tensor:
    r"""Sensing rate in the eigenvalue form of eq. (14).

    .. math::
        \bar{\mathcal R}_s(\boldsymbol\sigma_s)=\frac1L\sum_{i=1}^{N_t}\sum_{j=1}^{N_r}
        \log_2(1+\sigma_{t,i}\sigma_{s,i}\sigma_{h,j})

    It equals :math:`\mathcal R_s(\mathbf S)` of eqs. (4)–(5) for
    :math:`\mathbf S=\mathbf U_s\boldsymbol\Sigma_s\mathbf U_T^H` (eq. 31) with *any* unitary
    :math:`\mathbf U_s`, when :math:`\sigma_{s,i}` is paired with the eigenvector of
    :math:`\sigma_{t,i}`.

    Parameters
    ----------
    sigma_s : torch.Tensor
        ``[..., N_t]`` squared singular values of ``S`` (power per direction), W.
    sigma_t : torch.Tensor
        ``[..., N_t]`` eigenvalues of :math:`\mathbf R_T` (same order as ``sigma_s``).
    sigma_h : torch.Tensor
        ``[..., N_r]`` eigenvalues of :math:`\mathbf R_H` (:func:`sensing_gains`), 1/W.
    num_symbols : int
        ``L``.

    Returns
    -------
    torch.Tensor
        ``[...]`` real, bit/s/Hz.
    """
    if sigma_s.shape[-1] != sigma_t.shape[-1]:
        raise ShapeError(f"sigma_s [..., N_t] and sigma_t [..., N_t] disagree: "
                         f"{tuple(sigma_s.shape)} vs {tuple(sigma_t.shape)}")
    x = (sigma_s * sigma_t)[..., :, None] * sigma_h[..., None, :]
    return torch.log2(1.0 + x).sum(dim=(-2, -1)) / num_symbols


# ---------------------------------------------------------------------------------------------
# communication rate
# ---------------------------------------------------------------------------------------------


def sensing_interference_power(s: torch.Tensor, r_t: torch.Tensor) -> torch.Tensor:
    r"""Echo power per receive antenna and symbol, :math:`\mathrm{tr}(\mathbf S\mathbf R_T
    \mathbf S^H)/L` ``[...]`` (W), the interference term of eq. (7)."""
    a = sensing_echo_covariance(s, r_t)
    return torch.diagonal(a, dim1=-2, dim2=-1).real.sum(-1) / a.shape[-1]


def comm_sinr(
    w: torch.Tensor,
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    sensing_interference: torch.Tensor | float,
) -> torch.Tensor:
    r"""Per-user SINR of eq. (7) for any receive beams.

    .. math::
        \gamma_k=\frac{p_k|\mathbf h_k^T\mathbf w_k|^2}{\sum_{i\ne k}p_i|\mathbf h_i^T
        \mathbf w_k|^2+(\mathrm{tr}(\mathbf S\mathbf R_T\mathbf S^H)/L+\sigma_n^2)
        \|\mathbf w_k\|^2}

    Parameters
    ----------
    w : torch.Tensor
        Receive beams ``[..., N_r, K]`` complex, column ``k`` is :math:`\mathbf w_k`.
    h : torch.Tensor
        Channels ``[..., N_r, K]`` complex (true channels when scoring).
    p : torch.Tensor
        ``[..., K]`` user powers, W.
    noise_var : float or torch.Tensor
        :math:`\sigma_n^2`, W.
    sensing_interference : float or torch.Tensor
        :math:`\mathrm{tr}(\mathbf S\mathbf R_T\mathbf S^H)/L` (:func:`sensing_interference_power`),
        W, scalar or per instance.

    Returns
    -------
    torch.Tensor
        ``[..., K]`` real, linear.
    """
    check_last_dims(w, (None, None), "w", "[..., N_r, K]")
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    if w.shape[-2:] != h.shape[-2:]:
        raise ShapeError(f"w and h must both be [..., N_r, K], got {tuple(w.shape)} and "
                         f"{tuple(h.shape)}")
    dt = torch.promote_types(w.dtype, h.dtype)
    w, h = w.to(dt), h.to(dt)
    g = abs_sq(h.transpose(-2, -1) @ w)  # [..., i, k] = |h_i^T w_k|^2
    pg = _real(p, g)[..., :, None] * g
    sig = torch.diagonal(pg, dim1=-2, dim2=-1)
    interf = pg.sum(-2) - sig
    nb = g.dim() - 2
    c = _per_instance(noise_var, g, nb, "noise_var") + _per_instance(
        sensing_interference, g, nb, "sensing_interference")
    if c.dim():
        c = c[..., None]
    return sig / (interf + c * abs_sq(w).sum(-2))


def comm_rate(
    w: torch.Tensor,
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    sensing_interference: torch.Tensor | float,
) -> torch.Tensor:
    r"""Average user rate of eq. (8), :math:`\frac1K\sum_k\log_2(1+\gamma_k)` ``[...]``
    (bit/s/Hz); arguments as :func:`comm_sinr`."""
    return torch.log2(1.0 + comm_sinr(w, h, p, noise_var, sensing_interference)).mean(-1)


def _interference_plus_noise(h: torch.Tensor, p: torch.Tensor,
                             noise_plus: torch.Tensor | float) -> torch.Tensor:
    r""":math:`\tilde{\mathbf R}_k` of eq. (20) for every ``k``: ``[..., K, N_r, N_r]``."""
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    nr, k = h.shape[-2:]
    pr = _real(p, h.real)
    hc = h.conj().transpose(-2, -1)  # [..., K, N_r]: row k is h_k^*
    outer = pr[..., :, None, None].to(h.dtype) * (hc[..., :, :, None] * h.transpose(-2, -1)[
        ..., :, None, :])  # [..., K, N_r, N_r] = p_k h_k^* h_k^T
    total = outer.sum(-3, keepdim=True)
    c = _per_instance(noise_plus, h.real, h.dim() - 2, "noise_plus")
    eye = torch.eye(nr, dtype=h.dtype, device=h.device)
    cc = c[..., None, None, None] if c.dim() else c
    return total - outer + cc.to(h.dtype) * eye


def mmse_beams(h: torch.Tensor, p: torch.Tensor,
               noise_plus: torch.Tensor | float) -> torch.Tensor:
    r"""Optimal (MMSE) receive beams of eq. (25), also the recovery of eq. (32).

    .. math::
        \mathbf w_k=\frac{\tilde{\mathbf R}_k^{-1}\mathbf h_k^*}{\sqrt{p_k}\,\mathbf h_k^T
        \tilde{\mathbf R}_k^{-1}\mathbf h_k^*},\qquad
        \tilde{\mathbf R}_k=\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T+c\,\mathbf I_{N_r}

    Parameters
    ----------
    h : torch.Tensor
        ``[..., N_r, K]`` complex channels (the designer's CSI).
    p : torch.Tensor
        ``[..., K]`` user powers, W.
    noise_plus : float or torch.Tensor
        :math:`c=\sum_i\sigma_{s,i}\sigma_{t,i}/L+\sigma_n^2` (sensing interference plus noise),
        W, scalar or per instance.

    Returns
    -------
    torch.Tensor
        ``[..., N_r, K]`` complex; :math:`\sqrt{p_k}\mathbf h_k^T\mathbf w_k=1` (eq. 20b).
    """
    r = _interference_plus_noise(h, p, noise_plus)
    hk = h.conj().transpose(-2, -1)[..., None]  # [..., K, N_r, 1] = h_k^*
    x = torch.linalg.solve(r, hk)[..., 0]  # [..., K, N_r]
    den = (h.transpose(-2, -1) * x).sum(-1)  # h_k^T R_k^{-1} h_k^*
    den = den * torch.sqrt(_real(p, h.real)).to(h.dtype)
    return (x / den[..., None]).transpose(-2, -1)


def mmse_sinr(h: torch.Tensor, p: torch.Tensor,
              noise_plus: torch.Tensor | float) -> torch.Tensor:
    r"""SINR of the MMSE beams, :math:`\gamma_k^{\rm opt}=p_k\mathbf h_k^T\tilde{\mathbf R}_k^{-1}
    \mathbf h_k^*` (eq. 26) ``[..., K]``; arguments as :func:`mmse_beams`. It is the maximum of
    eq. (7) over :math:`\mathbf w_k` (a generalized Rayleigh quotient)."""
    r = _interference_plus_noise(h, p, noise_plus)
    hk = h.conj().transpose(-2, -1)[..., None]
    x = torch.linalg.solve(r, hk)[..., 0]
    q = (h.transpose(-2, -1) * x).sum(-1).real
    return _real(p, h.real) * q


def comm_rate_mmse(
    sigma_s: torch.Tensor,
    sigma_t: torch.Tensor,
    h: torch.Tensor,
    p: torch.Tensor,
    noise_var: torch.Tensor | float,
    num_symbols: int,
) -> torch.Tensor:
    r"""Communication rate with the optimal beams, eq. (26):
    :math:`\bar{\mathcal R}_c(\boldsymbol\sigma_s)=\frac1K\sum_k\log_2(1+\gamma_k^{\rm opt})`,
    with :math:`c=\boldsymbol\sigma_t^T\boldsymbol\sigma_s/L+\sigma_n^2`.

    Parameters
    ----------
    sigma_s, sigma_t : torch.Tensor
        ``[..., N_t]`` waveform powers (W) and :math:`\mathbf R_T` eigenvalues (paired).
    h : torch.Tensor
        ``[..., N_r, K]`` complex channels.
    p : torch.Tensor
        ``[..., K]`` user powers, W.
    noise_var : float or torch.Tensor
        :math:`\sigma_n^2`, W.
    num_symbols : int
        ``L``.

    Returns
    -------
    torch.Tensor
        ``[...]`` real, bit/s/Hz.
    """
    nb = h.dim() - 2
    c = (sigma_s * sigma_t).sum(-1) / num_symbols + _per_instance(noise_var, h.real, nb,
                                                                  "noise_var")
    return torch.log2(1.0 + mmse_sinr(h, p, c)).mean(-1)


def max_comm_rate(h: torch.Tensor, p: torch.Tensor,
                  noise_var: torch.Tensor | float) -> torch.Tensor:
    r""":math:`M_c` of eq. (40): the MMSE rate without sensing signal ``[...]`` (bit/s/Hz)."""
    return torch.log2(1.0 + mmse_sinr(h, p, noise_var)).mean(-1)


# ---------------------------------------------------------------------------------------------
# sensing maxima: water-filling and the water-filling-like KKT solver
# ---------------------------------------------------------------------------------------------


def water_filling(gain: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    r"""Exact water-filling: :math:`\arg\max_{\mathbf x\ge0,\sum x_i\le P}\sum_i\log(1+g_ix_i)`.

    :math:`x_i=\max(\mu-1/g_i,0)` with the water level :math:`\mu` of the active set (the
    largest ``m`` such that :math:`\mu_m=(P+\sum_{i\le m}1/g_{(i)})/m>1/g_{(m)}`, gains sorted
    in descending order); eq. (38) of qi_uplink assumes every direction is active.

    Parameters
    ----------
    gain : torch.Tensor
        ``[..., N]`` real, non-negative (a zero gain is never active).
    budget : float or torch.Tensor
        :math:`P>0`, scalar or ``[...]``.

    Returns
    -------
    torch.Tensor
        ``[..., N]`` allocation with :math:`\sum_i x_i=P`, same order as ``gain``.
    """
    g = gain
    inv = torch.where(g > 0, 1.0 / g.clamp_min(torch.finfo(g.dtype).tiny),
                      torch.full_like(g, float("inf")))
    inv_sorted, _ = torch.sort(inv, dim=-1)  # ascending 1/g = descending g
    pb = _per_instance(budget, g, g.dim() - 1, "budget")
    pb = pb[..., None] if pb.dim() else pb
    m = torch.arange(1, g.shape[-1] + 1, dtype=g.dtype, device=g.device)
    finite = torch.isfinite(inv_sorted)
    csum = torch.cumsum(torch.where(finite, inv_sorted, torch.zeros_like(inv_sorted)), -1)
    mu = (pb + csum) / m
    valid = finite & (mu > inv_sorted)
    # the valid set is a prefix; take its last element
    idx = (valid.to(torch.int64) * torch.arange(g.shape[-1], device=g.device)).amax(-1,
                                                                                     keepdim=True)
    level = torch.gather(mu, -1, idx)
    return torch.where(finite & (inv < level), level - inv, torch.zeros_like(g))


def solve_sensing_kkt(
    gain_t: torch.Tensor,
    gain_h: torch.Tensor,
    weight: torch.Tensor | float,
    penalty: torch.Tensor | float,
    budget: torch.Tensor | float = 1.0,
    *,
    max_outer: int = 60,
    newton_iters: int = 3,
    rtol: float = 1e-12,
) -> torch.Tensor:
    r"""Exact solution of the concave, water-filling-like allocation problem

    .. math::
        \max_{\mathbf x\ge0,\ \sum_i x_i\le P}\ \ \omega\sum_{i=1}^{N_t}\sum_{j=1}^{N_r}
        \log_2(1+g_iv_jx_i)-\sum_i c_ix_i .

    With :math:`c=0,\ \omega=1` it is the sensing maximum of eq. (14) (``ms_mode=
    "with_interference"``); with :math:`c_i=\lambda g_i` it is the sensing/interference
    trade-off behind eq. (28), and the SCA step of the traditional scheme.

    KKT: :math:`\frac{\omega}{\ln2}\varphi_i(x_i)=c_i+\nu` on the active set, with
    :math:`\varphi_i(x)=\sum_j a_{ij}/(1+a_{ij}x)`, :math:`a_{ij}=g_iv_j`, and
    :math:`x_i=0` where :math:`\frac{\omega}{\ln 2}\varphi_i(0)\le c_i+\nu`. For a given
    multiplier :math:`\nu` each :math:`x_i` solves a scalar equation by Newton's method on
    :math:`1/\varphi_i`, which is concave and increasing (a parallel sum of affine functions), so
    Newton converges from any start (after at most one step it approaches the root monotonically
    from below). The allocated power :math:`P(\nu)=\sum_ix_i(\nu)` is convex and decreasing;
    :math:`\nu\ge0` with :math:`P(\nu)=P` (or :math:`\nu=0` if :math:`P(0)\le P`) is found by
    Newton's method safeguarded by bisection. Computed in float64, returned in the input's dtype.

    Parameters
    ----------
    gain_t : torch.Tensor
        :math:`g_i\ge0` ``[..., N_t]``.
    gain_h : torch.Tensor
        :math:`v_j>0` ``[..., N_r]``.
    weight : float or torch.Tensor
        :math:`\omega\ge0`, scalar or ``[...]``; zero gives :math:`\mathbf x=0`.
    penalty : float or torch.Tensor
        :math:`c_i\ge0`, scalar, ``[...]`` or ``[..., N_t]``.
    budget : float or torch.Tensor
        :math:`P>0`, scalar or ``[...]``.
    max_outer : int
        Iteration limit of the search for :math:`\nu`.
    newton_iters : int
        Newton steps on the :math:`x_i` per outer iteration (warm-started).
    rtol : float
        Relative tolerance on the power constraint.

    Returns
    -------
    torch.Tensor
        ``[..., N_t]`` optimal allocation (:math:`\sum_i x_i\le P`).
    """
    out_dtype = gain_t.dtype
    g = gain_t.to(torch.float64)
    v = gain_h.to(torch.float64)
    batch = torch.broadcast_shapes(g.shape[:-1], v.shape[:-1])
    g = g.expand(*batch, g.shape[-1])
    v = v.expand(*batch, v.shape[-1])

    def per(x: torch.Tensor | float, name: str, allow_vec: bool = False) -> torch.Tensor:
        t = torch.as_tensor(x, dtype=torch.float64, device=g.device)
        if allow_vec and t.dim() == len(batch) + 1:
            return t.expand(*batch, g.shape[-1])
        if t.dim() not in (0, len(batch)):
            raise ShapeError(f"{name} must be a scalar or have the batch shape {tuple(batch)}, "
                             f"got shape {tuple(t.shape)}")
        return t.expand(*batch)[..., None]

    w = per(weight, "weight") / _LN2  # [..., 1]
    c = per(penalty, "penalty", allow_vec=True)
    if c.shape[-1] == 1:
        c = c.expand(*batch, g.shape[-1])
    pb = per(budget, "budget")[..., 0]
    zero_w = w[..., 0] <= 0
    w = torch.where(w > 0, w, torch.ones_like(w))
    a = g[..., :, None] * v[..., None, :]  # [..., N_t, N_r]
    phi0 = a.sum(-1)
    tau_min = 1e-15 * phi0.amax(-1, keepdim=True).clamp_min(1e-300)

    def solve_x(nu: torch.Tensor, x: torch.Tensor, iters: int) -> tuple[torch.Tensor,
                                                                        torch.Tensor]:
        """x(nu) and dP/dnu."""
        tau = ((c + nu[..., None]) / w).clamp_min(tau_min)
        active = phi0 > tau
        x = torch.where(active, x, torch.zeros_like(x))
        dphi = torch.ones_like(x)
        for _ in range(iters):
            den = 1.0 + a * x[..., None]
            phi = (a / den).sum(-1)
            dphi = (a * a / (den * den)).sum(-1).clamp_min(1e-300)
            step = phi * (phi - tau) / (tau * dphi)
            x = torch.where(active, (x + step).clamp_min(0.0), x)
        den = 1.0 + a * x[..., None]
        dphi = (a * a / (den * den)).sum(-1).clamp_min(1e-300)
        dp = torch.where(active, -1.0 / (w * dphi), torch.zeros_like(x)).sum(-1)
        return x, dp

    x = torch.zeros_like(g)
    lo = torch.zeros(batch, dtype=torch.float64, device=g.device)
    hi = (w * phi0 - c).amax(-1).clamp_min(0.0) * (1.0 + 1e-9) + 1e-300
    x0, _ = solve_x(lo, x, 12)
    done = (x0.sum(-1) <= pb) | zero_w  # nu = 0 is optimal, or nothing to allocate
    nu = torch.where(done, lo, 0.5 * hi)
    x = x0
    for _ in range(max_outer):
        x, dp = solve_x(nu, x, newton_iters)
        p = x.sum(-1)
        err = p - pb
        conv = done | (err.abs() <= rtol * pb)
        if bool(conv.all()):
            break
        lo = torch.where(err > 0, nu, lo)
        hi = torch.where(err > 0, hi, nu)
        cand = nu - err / torch.where(dp < 0, dp, -torch.ones_like(dp))
        inside = (cand > lo) & (cand < hi) & (dp < 0)
        nu = torch.where(conv, nu, torch.where(inside, cand, 0.5 * (lo + hi)))
    x, _ = solve_x(nu, x, 6)
    x0, _ = solve_x(lo, x0, 6)
    x = torch.where(done[..., None], x0, x)
    tot = x.sum(-1, keepdim=True)
    x = torch.where(tot > pb[..., None], x * (pb[..., None] / tot.clamp_min(1e-300)), x)
    x = torch.where(zero_w[..., None], torch.zeros_like(x), x)
    return x.to(out_dtype)


def max_sensing_rate(
    sigma_t: torch.Tensor,
    power_s: torch.Tensor | float,
    noise_var: torch.Tensor | float,
    num_rx: int,
    num_symbols: int,
    *,
    sigma_h: torch.Tensor | None = None,
) -> torch.Tensor:
    r""":math:`M_s`, the maximum sensing rate over :math:`\boldsymbol\sigma_s` under the budget.

    Without ``sigma_h`` (``ms_mode="interference_free"``, Appendix C eqs. 35–39):
    :math:`M_s=\frac{N_r}{L}\sum_i\log_2(1+\sigma_{t,i}\sigma_{s,i}^{\rm opt}/\sigma_n^2)` with
    exact water-filling. With ``sigma_h`` (``"with_interference"``): the maximum of eq. (14),
    solved exactly by :func:`solve_sensing_kkt`.

    Parameters
    ----------
    sigma_t : torch.Tensor
        ``[..., N_t]`` eigenvalues of :math:`\mathbf R_T`.
    power_s : float or torch.Tensor
        :math:`P_s`, W.
    noise_var : float or torch.Tensor
        :math:`\sigma_n^2`, W.
    num_rx, num_symbols : int
        ``N_r`` and ``L``.
    sigma_h : torch.Tensor or None
        ``[..., N_r]`` eigenvalues of :math:`\mathbf R_H` (:func:`sensing_gains`).

    Returns
    -------
    torch.Tensor
        ``[...]`` bit/s/Hz.
    """
    nb = sigma_t.dim() - 1
    ps = _per_instance(power_s, sigma_t, nb, "power_s")
    s2 = _per_instance(noise_var, sigma_t, nb, "noise_var")
    ps_e = ps[..., None] if ps.dim() else ps
    s2_e = s2[..., None] if s2.dim() else s2
    g = sigma_t * ps_e / s2_e  # per-direction sensing SNR
    if sigma_h is None:
        x = water_filling(g, 1.0)
        return num_rx / num_symbols * torch.log2(1.0 + g * x).sum(-1)
    v = sigma_h * s2_e
    x = solve_sensing_kkt(g, v, 1.0, 0.0, 1.0)
    return sensing_rate_eig(x, g, v, num_symbols)


def wsnr(
    r_s: torch.Tensor,
    r_c: torch.Tensor,
    m_s: torch.Tensor,
    m_c: torch.Tensor,
    alpha: torch.Tensor | float,
) -> torch.Tensor:
    r"""Weighted sum of normalized sensing and communication rates, eq. (9a)/(28):
    :math:`\frac{\alpha}{M_s}\mathcal R_s+\frac{1-\alpha}{M_c}\mathcal R_c` ``[...]``."""
    return alpha * r_s / m_s + (1.0 - alpha) * r_c / m_c


# ---------------------------------------------------------------------------------------------
# the reduced problem (28) in normalized units
# ---------------------------------------------------------------------------------------------


@dataclass
class ReducedUplink:
    r"""Problem (28) of an instance batch in normalized units, with a generic communication model.

    The variable is :math:`\mathbf x=\boldsymbol\sigma_s/P_s` (:math:`\mathbf x\ge0`,
    :math:`\sum_ix_i\le1`). With :math:`g_i=\sigma_{t,i}P_s/\sigma_n^2` and
    :math:`v_j=\sigma_n^2\sigma_{h,j}`:

    * sensing (eq. 14): :math:`\bar{\mathcal R}_s=\frac1L\sum_{i,j}\log_2(1+g_iv_jx_i)`;
    * sensing interference plus noise relative to the noise:
      :math:`\tilde c=\sum_ig_ix_i/L+1`;
    * communication: :math:`\gamma_k(\tilde c)=\sum_m q_{km}/(d_{km}+\tilde c)`, which covers the
      MMSE beams of eq. (26) (:math:`d,q` from the eigen-decomposition of
      :math:`\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T/\sigma_n^2`), zero-forcing beams
      (:math:`d=0`, :math:`q=p_k/(\sigma_n^2\|\mathbf w_k\|^2)`) and any fixed beams
      (:math:`d=b_k/\|\mathbf w_k\|^2,\ q=a_k/\|\mathbf w_k\|^2` from eq. 7).

    Every communication model depends on :math:`\mathbf x` only through :math:`\tilde c` and is
    convex and decreasing in it; the solvers exploit this.

    Attributes
    ----------
    gain_t : torch.Tensor
        :math:`g` ``[B, N_t]``.
    gain_h : torch.Tensor
        :math:`v` ``[B, N_r]`` (in ``(0, 1]``).
    spec_d, spec_q : torch.Tensor
        ``[B, K, M]`` communication model (``M = N_r`` for MMSE, 1 otherwise).
    num_symbols : int
        ``L``.
    alpha : float
        :math:`\alpha`.
    m_s, m_c : torch.Tensor
        ``[B]`` normalizers :math:`M_s`, :math:`M_c`.
    """

    gain_t: torch.Tensor
    gain_h: torch.Tensor
    spec_d: torch.Tensor
    spec_q: torch.Tensor
    num_symbols: int
    alpha: float
    m_s: torch.Tensor
    m_c: torch.Tensor

    def sensing_rate(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. (14) at ``x`` ``[..., B, N_t]`` → ``[..., B]``."""
        return sensing_rate_eig(x, self.gain_t, self.gain_h, self.num_symbols)

    def noise_factor(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\tilde c=\sum_i g_ix_i/L+1` ``[..., B]``."""
        return (self.gain_t * x).sum(-1) / self.num_symbols + 1.0

    def comm_rate_at(self, c: torch.Tensor) -> torch.Tensor:
        r"""Communication rate as a function of :math:`\tilde c` ``[..., B]`` → ``[..., B]``."""
        gam = (self.spec_q / (self.spec_d + c[..., None, None])).sum(-1)
        return torch.log2(1.0 + gam).mean(-1)

    def comm_rate(self, x: torch.Tensor) -> torch.Tensor:
        """Communication rate at ``x`` ``[..., B, N_t]`` → ``[..., B]``."""
        return self.comm_rate_at(self.noise_factor(x))

    def wsnr(self, x: torch.Tensor) -> torch.Tensor:
        """Objective (28) at ``x`` ``[..., B, N_t]`` → ``[..., B]``."""
        return wsnr(self.sensing_rate(x), self.comm_rate(x), self.m_s, self.m_c, self.alpha)

    @property
    def batch_size(self) -> int:
        return int(self.gain_t.shape[0])

    def subset(self, index: slice | torch.Tensor) -> ReducedUplink:
        return replace(self, gain_t=self.gain_t[index], gain_h=self.gain_h[index],
                       spec_d=self.spec_d[index], spec_q=self.spec_q[index],
                       m_s=self.m_s[index], m_c=self.m_c[index])

    def with_comm(self, spec_d: torch.Tensor, spec_q: torch.Tensor) -> ReducedUplink:
        """The same problem with another communication model."""
        return replace(self, spec_d=spec_d, spec_q=spec_q)


CommModel = Literal["mmse", "zf"]


def mmse_spectrum(h: torch.Tensor, p: torch.Tensor,
                  noise_var: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(d, q)`` ``[..., K, N_r]`` with
    :math:`\gamma_k^{\rm opt}=\sum_m q_{km}/(d_{km}+\tilde c)`, :math:`\tilde c=c/\sigma_n^2`
    (eq. 26 via the eigen-decomposition of
    :math:`\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T/\sigma_n^2`)."""
    nb = h.dim() - 2
    s2 = _per_instance(noise_var, h.real, nb, "noise_var")
    s2e = s2[..., None, None, None] if s2.dim() else s2
    a = (_interference_plus_noise(h, p, 0.0) / s2e.to(h.dtype))
    a = 0.5 * (a + herm(a))
    d, vec = torch.linalg.eigh(a)
    hk = h.conj().transpose(-2, -1)[..., None]  # [..., K, N_r, 1]
    proj = abs_sq((herm(vec) @ hk)[..., 0])
    s2q = s2[..., None, None] if s2.dim() else s2
    q = _real(p, h.real)[..., None] * proj / s2q
    return d.clamp_min(0.0), q


def zf_beams(h: torch.Tensor) -> torch.Tensor:
    r"""Zero-forcing receive beams :math:`\mathbf W=\mathbf H^*(\mathbf H^T\mathbf H^*)^{-1}`
    ``[..., N_r, K]`` (:math:`\mathbf h_i^T\mathbf w_k=\delta_{ik}`; needs ``K ≤ N_r``)."""
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    if h.shape[-1] > h.shape[-2]:
        raise ShapeError(f"zero-forcing needs K <= N_r, got h of shape {tuple(h.shape)}")
    hc = h.conj()
    gram = h.transpose(-2, -1) @ hc
    return hc @ torch.linalg.inv(gram)


def fixed_beam_spectrum(w: torch.Tensor, h: torch.Tensor, p: torch.Tensor,
                        noise_var: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(d, q)`` ``[..., K, 1]`` of eq. (7) for fixed beams ``w`` on channels ``h``:
    :math:`\gamma_k=q_k/(d_k+\tilde c)`."""
    g = abs_sq(h.transpose(-2, -1) @ w)
    pg = _real(p, g)[..., :, None] * g
    sig = torch.diagonal(pg, dim1=-2, dim2=-1)
    interf = pg.sum(-2) - sig
    e = abs_sq(w).sum(-2)
    nb = g.dim() - 2
    s2 = _per_instance(noise_var, g, nb, "noise_var")
    s2 = s2[..., None] if s2.dim() else s2
    return (interf / (e * s2))[..., None], (sig / (e * s2))[..., None]


def reduce_problem(
    problem: UplinkProblem,
    *,
    use_csi: bool = True,
    comm: CommModel = "mmse",
    interference_scale: float = 1.0,
    ms_mode: MsMode | None = None,
    alpha: float | None = None,
    m_c: torch.Tensor | None = None,
) -> ReducedUplink:
    r"""The :class:`ReducedUplink` of an :class:`~isaclearn.channels.uplink.UplinkProblem`.

    Parameters
    ----------
    problem : UplinkProblem
        The instances.
    use_csi : bool
        Use the designer's channel estimate ``problem.csi`` (default) or the true ``problem.h``.
    comm : {"mmse", "zf"}
        Receive beams of the communication model: optimal (eq. 26) or zero-forcing.
    interference_scale : float
        :math:`\kappa` of :func:`sensing_gains`.
    ms_mode : {"interference_free", "with_interference"} or None
        Definition of :math:`M_s` (module notes); ``None`` uses ``problem.ms_mode``.
    alpha : float or None
        Overrides ``problem.alpha``.
    m_c : torch.Tensor or None
        Use these :math:`M_c` ``[B]`` instead of eq. (40) on the chosen channel.

    Returns
    -------
    ReducedUplink
        In the real dtype matching ``problem.h``.
    """
    h = problem.csi if use_csi else problem.h
    rdt = real_dtype(h.dtype)
    s2 = float(problem.noise_var)
    if ms_mode is None:
        ms_mode = problem.ms_mode
    sigma_t, _ = rt_eig(problem.r_t)
    g = sigma_t.to(rdt) * (float(problem.power_s) / s2)
    v = sensing_gains(h, problem.p, s2, interference_scale=interference_scale) * s2
    if ms_mode == "interference_free":
        m_s = max_sensing_rate(g, 1.0, 1.0, problem.num_rx, problem.num_symbols)
    elif ms_mode == "with_interference":
        v1 = sensing_gains(h, problem.p, s2) * s2
        m_s = max_sensing_rate(g, 1.0, 1.0, problem.num_rx, problem.num_symbols, sigma_h=v1)
    else:
        raise ConfigError(f"ms_mode must be 'interference_free' or 'with_interference', got "
                          f"{ms_mode!r}")
    d, q = mmse_spectrum(h, problem.p, s2)
    if m_c is None:
        m_c = torch.log2(1.0 + (q / d.add(1.0)).sum(-1)).mean(-1)
    if comm == "zf":
        w = zf_beams(h)
        e = abs_sq(w).sum(-2)
        d = torch.zeros_like(e)[..., None]
        q = (problem.p.to(rdt) / (s2 * e))[..., None]
    elif comm != "mmse":
        raise ConfigError(f"comm must be 'mmse' or 'zf', got {comm!r}")
    return ReducedUplink(
        gain_t=g, gain_h=v.to(rdt), spec_d=d.to(rdt), spec_q=q.to(rdt),
        num_symbols=problem.num_symbols,
        alpha=float(problem.alpha if alpha is None else alpha),
        m_s=m_s.to(rdt), m_c=m_c.to(rdt),
    )


def project_capped_simplex(x: torch.Tensor, budget: float = 1.0) -> torch.Tensor:
    r"""Euclidean projection of ``x`` ``[..., N]`` onto
    :math:`\{\mathbf y\ge0,\ \sum y_i\le P\}`."""
    y = x.clamp_min(0.0)
    inside = y.sum(-1, keepdim=True) <= budget
    u, _ = torch.sort(x, dim=-1, descending=True)
    css = torch.cumsum(u, -1) - budget
    k = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)
    cond = u - css / k > 0
    rho = (cond.to(torch.int64) * torch.arange(x.shape[-1], device=x.device)).amax(-1,
                                                                                    keepdim=True)
    theta = torch.gather(css, -1, rho) / (rho + 1).to(x.dtype)
    return torch.where(inside, y, (x - theta).clamp_min(0.0))

