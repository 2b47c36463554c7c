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
  is active; the active set is found there). ``ms_mode="with_interference"`` instead maximizes
  eq. (14) with the users present (a concave, water-filling-like problem solved exactly by
  :func:`~isaclearn.solvers.allocation.solve_sensing_kkt`); then the best waveform reaches
  WSNR = 1 at α = 1. Being optima, :math:`M_s` and everything that optimizes (receive beams,
  the reduced problem (28)) live in :mod:`isaclearn.solvers.uplink_reduced`; this module holds
  only the measures. :math:`M_c` (eq. 40) is a closed form and stays here
  (:func:`max_comm_rate`).
* Functions follow the dtype and device of their inputs; real outputs have the real dtype
  matching the complex input. Nothing is reduced over the batch.
"""

from __future__ import annotations

import math

import torch

from isaclearn.core.checks import as_per_instance, as_real, check_last_dims
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ShapeError
from isaclearn.core.linalg import abs_sq, batched_kron, herm

__all__ = [
    "comm_covariance",
    "comm_rate",
    "comm_rate_mmse",
    "comm_sinr",
    "interference_plus_noise",
    "max_comm_rate",
    "mmse_sinr",
    "rt_eig",
    "sensing_echo_covariance",
    "sensing_gains",
    "sensing_interference_power",
    "sensing_rate",
    "sensing_rate_eig",
    "sensing_rate_logdet",
    "wsnr",
]

_LN2 = math.log(2.0)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


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
    hp = h * as_real(p, h, "p").to(h.dtype)[..., None, :]
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
    kappa = as_per_instance(interference_scale, lam, lam.dim() - 1, "interference_scale")
    s2 = as_per_instance(noise_var, lam, lam.dim() - 1, "noise_var")
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
    kappa = as_per_instance(interference_scale, h.real, len(batch), "interference_scale")
    s2 = as_per_instance(noise_var, h.real, len(batch), "noise_var")
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
    pg = as_real(p, g, "p")[..., :, None] * g
    sig = torch.diagonal(pg, dim1=-2, dim2=-1)
    interf = pg.sum(-2) - sig
    nb = g.dim() - 2
    c = as_per_instance(noise_var, g, nb, "noise_var") + as_per_instance(
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


def interference_plus_noise(h: torch.Tensor, p: torch.Tensor,
                            noise_plus: torch.Tensor | float) -> torch.Tensor:
    r""":math:`\tilde{\mathbf R}_k=\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T+c\,\mathbf I`
    of eq. (20) for every ``k``: ``[..., K, N_r, N_r]`` (``h`` ``[..., N_r, K]``, ``p``
    ``[..., K]`` in W, ``noise_plus`` :math:`c` in W, scalar or per instance)."""
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    nr, k = h.shape[-2:]
    pr = as_real(p, h.real, "p")
    hc = h.conj().transpose(-2, -1)  # [..., K, N_r]: row k is h_k^*
    outer = pr[..., :, None, None].to(h.dtype) * (hc[..., :, :, None] * h.transpose(-2, -1)[
        ..., :, None, :])  # [..., K, N_r, N_r] = p_k h_k^* h_k^T
    total = outer.sum(-3, keepdim=True)
    c = as_per_instance(noise_plus, h.real, h.dim() - 2, "noise_plus")
    eye = torch.eye(nr, dtype=h.dtype, device=h.device)
    cc = c[..., None, None, None] if c.dim() else c
    return total - outer + cc.to(h.dtype) * eye


def mmse_sinr(h: torch.Tensor, p: torch.Tensor,
              noise_plus: torch.Tensor | float) -> torch.Tensor:
    r"""SINR of the MMSE beams, :math:`\gamma_k^{\rm opt}=p_k\mathbf h_k^T\tilde{\mathbf R}_k^{-1}
    \mathbf h_k^*` (eq. 26) ``[..., K]``; arguments as :func:`mmse_beams`. It is the maximum of
    eq. (7) over :math:`\mathbf w_k` (a generalized Rayleigh quotient)."""
    r = interference_plus_noise(h, p, noise_plus)
    hk = h.conj().transpose(-2, -1)[..., None]
    x = torch.linalg.solve(r, hk)[..., 0]
    q = (h.transpose(-2, -1) * x).sum(-1).real
    return as_real(p, h.real, "p") * q


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
    c = (sigma_s * sigma_t).sum(-1) / num_symbols + as_per_instance(noise_var, h.real, nb,
                                                                  "noise_var")
    return torch.log2(1.0 + mmse_sinr(h, p, c)).mean(-1)


def max_comm_rate(h: torch.Tensor, p: torch.Tensor,
                  noise_var: torch.Tensor | float) -> torch.Tensor:
    r""":math:`M_c` of eq. (40): the MMSE rate without sensing signal ``[...]`` (bit/s/Hz)."""
    return torch.log2(1.0 + mmse_sinr(h, p, noise_var)).mean(-1)


# ---------------------------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------------------------


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
