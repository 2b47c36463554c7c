r"""Receive beams, the sensing maximum :math:`M_s` and the reduced problem (28) of the uplink
ISAC system of qi_uplink (``shared/papers/002_44f20366b67f6561.txt``).

The measures (sensing rate of eqs. 4–5 and 14, SINR of eq. 7, rates, WSNR) are in
:mod:`isaclearn.metrics.uplink`, whose module notes give the conventions (``h`` ``[..., N_r, K]``
with the user signal arriving as :math:`\mathbf h_k^T`). Here is what *optimizes*:

* the MMSE receive beams of eq. (25) and the zero-forcing beams;
* :math:`M_s` (Appendix C, eqs. 35–39): the sensing rate maximized over the waveform, by exact
  water-filling (``ms_mode="interference_free"``) or by
  :func:`~isaclearn.solvers.allocation.solve_sensing_kkt` with the users present
  (``"with_interference"``);
* :class:`ReducedUplink`: problem (28) in normalized units with a generic communication model
  (MMSE, zero-forcing or fixed beams), on which the designers of
  :mod:`isaclearn.solvers.uplink` and the ISACNN of :mod:`isaclearn.learn.isacnn` work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from isaclearn.channels.uplink import MsMode, UplinkProblem
from isaclearn.core.checks import as_per_instance, as_real, check_last_dims
from isaclearn.core.dtypes import real_dtype
from isaclearn.core.errors import ConfigError, ShapeError
from isaclearn.core.linalg import abs_sq, herm
from isaclearn.core.problem import BATCHED, BatchedProblem
from isaclearn.metrics.uplink import (
    interference_plus_noise,
    rt_eig,
    sensing_gains,
    sensing_rate_eig,
    wsnr,
)
from isaclearn.solvers.allocation import solve_sensing_kkt, water_filling

__all__ = [
    "CommModel",
    "ReducedUplink",
    "fixed_beam_spectrum",
    "max_sensing_rate",
    "mmse_beams",
    "mmse_spectrum",
    "reduce_problem",
    "zf_beams",
]

CommModel = Literal["mmse", "zf"]


# ---------------------------------------------------------------------------------------------
# receive beams
# ---------------------------------------------------------------------------------------------


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
    r = interference_plus_noise(h, p, noise_plus)
    hk = h.conj().transpose(-2, -1)[..., None]  # [..., K, N_r, 1] = h_k^*
    x = torch.linalg.solve(r, hk)[..., 0]  # [..., K, N_r]
    den = (h.transpose(-2, -1) * x).sum(-1)  # h_k^T R_k^{-1} h_k^*
    den = den * torch.sqrt(as_real(p, h.real, "p")).to(h.dtype)
    return (x / den[..., None]).transpose(-2, -1)


def zf_beams(h: torch.Tensor) -> torch.Tensor:
    r"""Zero-forcing receive beams :math:`\mathbf W=\mathbf H^*(\mathbf H^T\mathbf H^*)^{-1}`
    ``[..., N_r, K]`` (:math:`\mathbf h_i^T\mathbf w_k=\delta_{ik}`; needs ``K ≤ N_r``)."""
    check_last_dims(h, (None, None), "h", "[..., N_r, K]")
    if h.shape[-1] > h.shape[-2]:
        raise ShapeError(f"zero-forcing needs K <= N_r, got h of shape {tuple(h.shape)}")
    hc = h.conj()
    gram = h.transpose(-2, -1) @ hc
    return hc @ torch.linalg.inv(gram)


# ---------------------------------------------------------------------------------------------
# the sensing maximum M_s
# ---------------------------------------------------------------------------------------------


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
    ps = as_per_instance(power_s, sigma_t, nb, "power_s")
    s2 = as_per_instance(noise_var, sigma_t, nb, "noise_var")
    ps_e = ps[..., None] if ps.dim() else ps
    s2_e = s2[..., None] if s2.dim() else s2
    g = sigma_t * ps_e / s2_e  # per-direction sensing SNR
    if sigma_h is None:
        x = water_filling(g, 1.0)
        return num_rx / num_symbols * torch.log2(1.0 + g * x).sum(-1)
    v = sigma_h * s2_e
    x = solve_sensing_kkt(g, v, 1.0, 0.0, 1.0)
    return sensing_rate_eig(x, g, v, num_symbols)


# ---------------------------------------------------------------------------------------------
# the reduced problem (28) in normalized units
# ---------------------------------------------------------------------------------------------


@dataclass
class ReducedUplink(BatchedProblem):
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
    convex and decreasing in it; the solvers exploit this. ``batch_size``, ``subset``, ``to``
    and ``cat`` come from :class:`~isaclearn.core.problem.BatchedProblem`.

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

    gain_t: torch.Tensor = field(metadata=BATCHED)
    gain_h: torch.Tensor = field(metadata=BATCHED)
    spec_d: torch.Tensor = field(metadata=BATCHED)
    spec_q: torch.Tensor = field(metadata=BATCHED)
    num_symbols: int
    alpha: float
    m_s: torch.Tensor = field(metadata=BATCHED)
    m_c: torch.Tensor = field(metadata=BATCHED)

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

    def with_comm(self, spec_d: torch.Tensor, spec_q: torch.Tensor) -> ReducedUplink:
        """The same problem with another communication model."""
        return replace(self, spec_d=spec_d, spec_q=spec_q)


def mmse_spectrum(h: torch.Tensor, p: torch.Tensor,
                  noise_var: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(d, q)`` ``[..., K, N_r]`` with
    :math:`\gamma_k^{\rm opt}=\sum_m q_{km}/(d_{km}+\tilde c)`, :math:`\tilde c=c/\sigma_n^2`
    (eq. 26 via the eigen-decomposition of
    :math:`\sum_{i\ne k}p_i\mathbf h_i^*\mathbf h_i^T/\sigma_n^2`)."""
    nb = h.dim() - 2
    s2 = as_per_instance(noise_var, h.real, nb, "noise_var")
    s2e = s2[..., None, None, None] if s2.dim() else s2
    a = (interference_plus_noise(h, p, 0.0) / s2e.to(h.dtype))
    a = 0.5 * (a + herm(a))
    d, vec = torch.linalg.eigh(a)
    hk = h.conj().transpose(-2, -1)[..., None]  # [..., K, N_r, 1]
    proj = abs_sq((herm(vec) @ hk)[..., 0])
    s2q = s2[..., None, None] if s2.dim() else s2
    q = as_real(p, h.real, "p")[..., None] * proj / s2q
    return d.clamp_min(0.0), q


def fixed_beam_spectrum(w: torch.Tensor, h: torch.Tensor, p: torch.Tensor,
                        noise_var: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(d, q)`` ``[..., K, 1]`` of eq. (7) for fixed beams ``w`` on channels ``h``:
    :math:`\gamma_k=q_k/(d_k+\tilde c)`."""
    g = abs_sq(h.transpose(-2, -1) @ w)
    pg = as_real(p, g, "p")[..., :, None] * g
    sig = torch.diagonal(pg, dim1=-2, dim2=-1)
    interf = pg.sum(-2) - sig
    e = abs_sq(w).sum(-2)
    nb = g.dim() - 2
    s2 = as_per_instance(noise_var, g, nb, "noise_var")
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
