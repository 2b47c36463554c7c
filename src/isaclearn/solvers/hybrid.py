r"""Hybrid (analog + per-subcarrier digital) precoders: representation, quantizer, the
alternating decomposition of Alg. 1 (Stage II), an OMP decomposition and the DRL update rules.

Representation (yang_som, ``shared/papers/000_e47146536a3e5322.txt``, eqs. 1–2)
-----------------------------------------------------------------------------
One analog precoder shared by all subcarriers and a diagonal digital precoder per subcarrier:

.. math::
   \mathbf F_m = \mathbf F_{\rm RF}\,\mathbf F_{{\rm BB},m},\qquad
   \mathbf F_{{\rm BB},m} = \operatorname{diag}(p_{m,1},\dots,p_{m,K}),\qquad
   |[\mathbf F_{\rm RF}]_{ij}| = 1,\ \ \angle[\mathbf F_{\rm RF}]_{ij}\in
   \mathcal B = \{2\pi b/2^{\rm bits}: b = 0,\dots,2^{\rm bits}-1\}.

Tensors: ``f_rf`` ``[B, M, K]`` complex (``M`` antennas = :math:`N_t`, ``K`` RF chains = users
= streams), ``p`` ``[B, S, K]`` complex (``S`` subcarriers; the diagonal of
:math:`\mathbf F_{{\rm BB},m}` — the paper calls it "power allocation", but the least-squares fit
(21) makes it complex, so it is kept complex), ``F_m`` ``[B, S, M, K]``
(:func:`hybrid_precoder`). Indices are 0-based (the paper's ``i = 1..N_t``, ``u = 1..U``,
``m = 1..M`` are 1-based).

Power invariant (spec §6.1)
---------------------------
The paper's power statements disagree ((1), (7)/(10), (12a), (20a), (22)). We enforce the
physical one: the transmit signal on subcarrier ``m`` is
:math:`\mathbf x_m = \sqrt{P_t/(N_t K S)}\,\mathbf F_m\mathbf s_m` with
:math:`E[\mathbf s\mathbf s^H] = \mathbf I_K`, so with a unit-modulus :math:`\mathbf F_{\rm RF}`

.. math::
   \sum_m E\|\mathbf x_m\|^2 = \frac{P_t}{N_t K S}\sum_m\|\mathbf F_m\|_F^2
   = \frac{P_t}{K S}\sum_{m,u}|p_{m,u}|^2 = P_t
   \iff \sum_{m,u}|p_{m,u}|^2 = K S ,

which is exactly the scaling of the SINR (7) (noise term :math:`N_t U M\sigma_c^2/P_t`) and of
the :math:`\mathbf F_{{\rm BB},m} = \mathbf I` start of Alg. 1. Every function here takes the
budget ``power`` of :math:`\sum_{m,u}|p_{m,u}|^2` (dimensionless; :math:`KS` for the invariant,
with ``K`` the number of *real* users when some RF chains are padding) and
:func:`normalize_power` restores it.

Quantizer (37): nearest point of :math:`\mathcal B` on the unit circle, i.e.
``b = round(angle · 2^bits / 2π) mod 2^bits`` (:func:`quantize_phases`).

Notes
-----
All functions are batched over ``B`` without Python loops over instances (the OMP selection is
a batched arg-max; the DRL rules sample one index per instance with one
``torch.multinomial`` call). The SDR Stage I (14)–(15) lives in
:mod:`isaclearn.solvers.isac_ofdm_sdr` (it needs CVXPY and loops over instances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from isaclearn.arrays import ula_u
from isaclearn.core.checks import check_count
from isaclearn.core.errors import ConfigError, ShapeError, ValueRangeError

__all__ = [
    "HybridResult",
    "HybridUpdate",
    "angular_dictionary",
    "apply_au",
    "apply_uu",
    "check_hybrid",
    "hybrid_decompose",
    "hybrid_precoder",
    "normalize_power",
    "omp_decompose",
    "quantize_phases",
]


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def _check_bits(bits: int | None) -> None:
    if bits is None:
        return
    check_count(bits, "bits")


def _check_pair(f_rf: torch.Tensor, p: torch.Tensor) -> tuple[int, int, int, int]:
    """Validate ``f_rf`` ``[B, M, K]`` and ``p`` ``[B, S, K]``; return ``(B, S, M, K)``."""
    if not isinstance(f_rf, torch.Tensor) or f_rf.dim() != 3 or not f_rf.is_complex():
        raise ShapeError(f"f_rf must be a complex tensor [B, M, K], got "
                         f"{getattr(f_rf, 'shape', type(f_rf))}")
    if not isinstance(p, torch.Tensor) or p.dim() != 3:
        raise ShapeError(f"p must be a tensor [B, S, K], got {getattr(p, 'shape', type(p))}")
    b, m, k = f_rf.shape
    if p.shape[0] != b or p.shape[2] != k:
        raise ShapeError(f"p must be [B, S, K] = [{b}, S, {k}] to match f_rf {tuple(f_rf.shape)},"
                         f" got {tuple(p.shape)}")
    return b, int(p.shape[1]), m, k


def _power_budget(power: torch.Tensor | float | None, p: torch.Tensor,
                  mask: torch.Tensor | None) -> torch.Tensor:
    """Budget of ``Σ|p|²`` per instance ``[B]`` (real dtype of ``p``); ``None``: ``K_real · S``."""
    rdt = p.real.dtype
    b, s, k = p.shape
    if power is None:
        users = mask.sum(-1).to(rdt) if mask is not None else torch.full((b,), float(k), dtype=rdt,
                                                                         device=p.device)
        return users * s
    t = torch.as_tensor(power, dtype=rdt, device=p.device)
    if t.is_complex() or not bool(torch.isfinite(t).all()) or not bool((t > 0).all()):
        raise ValueRangeError("power must be finite and positive (budget of Σ|p|²)")
    if t.dim() > 1 or (t.dim() == 1 and t.shape[0] not in (1, b)):
        raise ShapeError(f"power must be a scalar or [B] with B = {b}, got shape {tuple(t.shape)}")
    return t.expand(b)


def _user_mask(mask: torch.Tensor | None, b: int, k: int, device: torch.device) -> torch.Tensor:
    if mask is None:
        return torch.ones(b, k, dtype=torch.bool, device=device)
    if mask.shape != (b, k):
        raise ShapeError(f"num_users_mask must be [B, K] = [{b}, {k}] bool, got "
                         f"{tuple(mask.shape)}")
    m = mask.to(torch.bool)
    if not bool(m.any(-1).all()):
        raise ValueRangeError("num_users_mask must mark at least one real user per instance")
    return m


# --------------------------------------------------------------------------------------------
# Representation, quantizer, power
# --------------------------------------------------------------------------------------------


def quantize_phases(x: torch.Tensor, bits: int | None) -> torch.Tensor:
    r"""Nearest-neighbour phase quantizer (37) onto :math:`\{2\pi b/2^{\rm bits}\}`.

    .. math:: \mathcal Q(\phi) = \arg\min_{\theta\in\mathcal B}|e^{j\theta} - e^{j\phi}|^2
              = \frac{2\pi}{2^{\rm bits}}\Big(\operatorname{round}\frac{2^{\rm bits}\phi}{2\pi}
              \bmod 2^{\rm bits}\Big)

    Parameters
    ----------
    x : torch.Tensor
        Complex entries (their phases are quantized; the result is unit-modulus, a zero entry
        gets phase 0) or real angles in radians (the result is the quantized angle in
        ``[0, 2π)``). Any shape.
    bits : int or None
        Phase-shifter resolution ``B`` (eq. 2); ``None`` = continuous phases (complex input is
        only projected onto the unit circle, real input is wrapped to ``[0, 2π)``).

    Returns
    -------
    torch.Tensor
        Same shape as ``x``; same dtype.

    Examples
    --------
    >>> import torch
    >>> q = quantize_phases(torch.tensor([0.1, 0.5, 6.2], dtype=torch.float64), 3)
    >>> [round(v / (torch.pi / 4), 6) for v in q.tolist()]
    [0.0, 1.0, 0.0]
    """
    _check_bits(bits)
    ang = torch.angle(x) if x.is_complex() else x
    two_pi = 2.0 * math.pi
    if bits is None:
        q = torch.remainder(ang, two_pi)
    else:
        levels = 2**bits
        idx = torch.remainder(torch.round(ang * (levels / two_pi)), levels)
        q = idx * (two_pi / levels)
    if x.is_complex():
        return torch.polar(torch.ones_like(q), q).to(x.dtype)
    return q


def hybrid_precoder(f_rf: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    r"""Per-subcarrier precoders :math:`\mathbf F_m = \mathbf F_{\rm RF}\operatorname{diag}(\mathbf
    p_m)` (eq. 1).

    Parameters
    ----------
    f_rf : torch.Tensor
        Analog precoder ``[B, M, K]`` complex.
    p : torch.Tensor
        Digital diagonals ``[B, S, K]`` (complex or real).

    Returns
    -------
    torch.Tensor
        ``F`` ``[B, S, M, K]`` in ``f_rf``'s dtype; ``F[b, m, :, u] = f_rf[b, :, u] p[b, m, u]``.

    Examples
    --------
    >>> import torch
    >>> hybrid_precoder(torch.ones(2, 4, 3, dtype=torch.complex64), torch.ones(2, 5, 3)).shape
    torch.Size([2, 5, 4, 3])
    """
    _check_pair(f_rf, p)
    return f_rf.unsqueeze(1) * p.to(f_rf.dtype).unsqueeze(-2)


def normalize_power(p: torch.Tensor, power: torch.Tensor | float | None = None, *,
                    num_users_mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Scale ``p`` so that :math:`\sum_{m,u}|p_{m,u}|^2` equals the budget (eq. 22, §6.1).

    Parameters
    ----------
    p : torch.Tensor
        Digital diagonals ``[B, S, K]``.
    power : float or torch.Tensor or None
        Budget of :math:`\sum_{m,u}|p_{m,u}|^2`: scalar or ``[B]``; ``None`` = ``K_real · S``
        (the physical invariant :math:`\sum_m E\|\mathbf x_m\|^2 = P_t`, module docstring).
    num_users_mask : torch.Tensor, optional
        ``[B, K]`` bool, real users; padded users' entries are set to 0.

    Returns
    -------
    torch.Tensor
        ``[B, S, K]``, same dtype. An instance whose (masked) ``p`` is all zero gets equal power
        on its real users.
    """
    if p.dim() != 3:
        raise ShapeError(f"p must be [B, S, K], got shape {tuple(p.shape)}")
    b, s, k = p.shape
    mask = _user_mask(num_users_mask, b, k, p.device)
    budget = _power_budget(power, p, mask if num_users_mask is not None else None)
    p = p * mask[:, None, :].to(p.dtype)
    tot = (p.abs() ** 2).sum(dim=(-2, -1))
    zero = tot <= 0
    if bool(zero.any()):
        flat = mask[:, None, :].to(p.dtype).expand(b, s, k)
        p = torch.where(zero[:, None, None], flat, p)
        tot = (p.abs() ** 2).sum(dim=(-2, -1))
    return p * torch.sqrt(budget / tot)[:, None, None].to(p.dtype)


def check_hybrid(f_rf: torch.Tensor, p: torch.Tensor, bits: int | None,
                 power: torch.Tensor | float | None = None, *,
                 num_users_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    r"""Violations of the hybrid constraints (spec §7 check 4), one value per instance.

    Parameters
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` complex.
    p : torch.Tensor
        ``[B, S, K]`` diagonals, or full digital matrices ``[B, S, K, K]`` (then their
        off-diagonal part is measured).
    bits : int or None
        Phase resolution; ``None`` skips the grid check (reported as 0).
    power : float or torch.Tensor or None
        Budget of :math:`\sum|p|^2` (see :func:`normalize_power`).
    num_users_mask : torch.Tensor, optional
        ``[B, K]`` bool; used for the default budget only.

    Returns
    -------
    dict of str to torch.Tensor
        Each ``[B]`` real: ``modulus`` = :math:`\max_{ij}||[\mathbf F_{\rm RF}]_{ij}| - 1|`;
        ``phase_grid`` = max distance of :math:`\angle\cdot 2^{\rm bits}/2\pi` to the nearest
        integer; ``off_diagonal`` = max modulus of an off-diagonal digital entry (0 for
        ``[B, S, K]`` input); ``power`` = :math:`|\sum|p|^2 - \text{budget}|/\text{budget}`.
        Satisfied means: ``modulus ≤ 1e-6``, ``phase_grid ≤ 1e-5``, ``off_diagonal == 0``,
        ``power ≤ 1e-5``.

    Examples
    --------
    >>> import torch
    >>> v = check_hybrid(torch.ones(1, 4, 2, dtype=torch.complex128),
    ...                  torch.ones(1, 3, 2, dtype=torch.complex128), 3)
    >>> {k: float(x[0]) for k, x in v.items()}
    {'modulus': 0.0, 'phase_grid': 0.0, 'off_diagonal': 0.0, 'power': 0.0}
    """
    if p.dim() == 4:
        if p.shape[-1] != p.shape[-2]:
            raise ShapeError(f"p must be [B, S, K] or [B, S, K, K], got {tuple(p.shape)}")
        eye = torch.eye(p.shape[-1], dtype=torch.bool, device=p.device)
        off = torch.where(eye, torch.zeros_like(p), p).abs().flatten(1).amax(-1)
        diag = torch.diagonal(p, dim1=-2, dim2=-1)
    else:
        diag = p
        off = torch.zeros(p.shape[0], dtype=p.real.dtype, device=p.device)
    _check_pair(f_rf, diag)
    _check_bits(bits)
    modulus = (f_rf.abs() - 1.0).abs().flatten(1).amax(-1)
    if bits is None:
        grid = torch.zeros_like(modulus)
    else:
        x = torch.angle(f_rf) * (2**bits / (2.0 * math.pi))
        grid = (x - torch.round(x)).abs().flatten(1).amax(-1)
    mask = None if num_users_mask is None else _user_mask(
        num_users_mask, int(diag.shape[0]), int(diag.shape[2]), diag.device)
    budget = _power_budget(power, diag, mask)
    tot = (diag.abs() ** 2).sum(dim=(-2, -1))
    return {"modulus": modulus, "phase_grid": grid, "off_diagonal": off.to(modulus.dtype),
            "power": ((tot - budget).abs() / budget).to(modulus.dtype)}


# --------------------------------------------------------------------------------------------
# Stage II of Alg. 1 (16)–(22) and OMP
# --------------------------------------------------------------------------------------------


@dataclass
class HybridResult:
    """Result of :func:`hybrid_decompose` / :func:`omp_decompose`.

    Attributes
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` unit modulus, phases on the ``bits`` grid.
    p : torch.Tensor
        ``[B, S, K]`` complex, :math:`\\sum|p|^2` = the budget.
    f : torch.Tensor
        ``[B, S, M, K]`` = :func:`hybrid_precoder` ``(f_rf, p)``.
    error : torch.Tensor
        ``[B]`` relative error :math:`\\sum_m\\|\\tilde{\\mathbf F}_m - \\mathbf F_{\\rm RF}
        \\operatorname{diag}\\mathbf p_m\\|_F^2/\\sum_m\\|\\tilde{\\mathbf F}_m\\|_F^2` with
        :math:`\\tilde{\\mathbf F}` the target scaled to the budget (objective (16)).
    error_history : torch.Tensor
        ``[B, n_iter + 1]`` (Stage II; column 0 = the :math:`\\mathbf F_{{\\rm BB},m} =
        \\mathbf I` start) or ``[B, 1]`` (OMP).
    """

    f_rf: torch.Tensor
    p: torch.Tensor
    f: torch.Tensor
    error: torch.Tensor
    error_history: torch.Tensor


def _target(f_digital: torch.Tensor, power: torch.Tensor | float | None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``[B, S, M, K]`` and scale it to the budget; return (target, budget ``[B]``)."""
    if not isinstance(f_digital, torch.Tensor) or f_digital.dim() != 4 or \
            not f_digital.is_complex():
        raise ShapeError(f"f_digital must be a complex tensor [B, S, M, K], got "
                         f"{getattr(f_digital, 'shape', type(f_digital))}")
    if not bool(torch.isfinite(f_digital).all()):
        raise ValueRangeError("f_digital contains NaN or Inf")
    m = f_digital.shape[-2]
    energy = (f_digital.abs() ** 2).sum(dim=(1, 2, 3))  # [B]
    if not bool((energy > 0).all()):
        raise ValueRangeError("f_digital must not be all zero in any instance")
    if power is None:
        return f_digital, energy / m
    dummy = f_digital[:, :, 0, :]
    budget = _power_budget(power, dummy, None)
    scale = torch.sqrt(m * budget / energy)
    return f_digital * scale[:, None, None, None].to(f_digital.dtype), budget


def _rel_error(target: torch.Tensor, f_rf: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    diff = target - hybrid_precoder(f_rf, p)
    return (diff.abs() ** 2).sum(dim=(1, 2, 3)) / (target.abs() ** 2).sum(dim=(1, 2, 3))


def _ls_digital(target: torch.Tensor, f_rf: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """(21)–(22): ``p̂_{m,u} = f_RF,u^H f_{m,u} / ||f_RF,u||²`` then scaled to the budget."""
    num = (f_rf.conj().unsqueeze(1) * target).sum(-2)  # [B, S, K]
    p_hat = num / (f_rf.abs() ** 2).sum(-2).unsqueeze(1).to(num.dtype)
    return normalize_power(p_hat, budget)


def hybrid_decompose(f_digital: torch.Tensor, bits: int | None = 3, n_iter: int = 20,
                     power: torch.Tensor | float | None = None) -> HybridResult:
    r"""Alternating hybrid decomposition, Stage II of Alg. 1 (eqs. 16–22) with the quantizer (37).

    Approximates the per-subcarrier digital precoders :math:`\mathbf F_m` by
    :math:`\mathbf F_{\rm RF}\operatorname{diag}(\mathbf p_m)` (objective (16)): start from
    :math:`\mathbf F_{{\rm BB},m} = \mathbf I`; then ``n_iter`` times

    .. math::
       \mathbf F_{\rm RF} = \mathcal Q\Big(\exp\big\{j\angle\textstyle\sum_m
       \|\mathbf F_{{\rm BB},m}\|_F^2\,\mathbf F_m\mathbf F_{{\rm BB},m}^{-1}\big\}\Big)
       \quad(19, 37),\qquad
       \hat p_{m,u} = \frac{\mathbf f_{{\rm RF},u}^H\mathbf f_{m,u}}{N_t}\quad(21),

    and :math:`\mathbf p` scaled to the budget (22).

    Parameters
    ----------
    f_digital : torch.Tensor
        Target precoders ``[B, S, M, K]`` complex (any scale).
    bits : int or None
        Phase resolution ``B``; ``None`` = continuous phases (no quantization).
    n_iter : int
        Number of alternating iterations :math:`N_{\rm iter}` (paper/spec default 20).
    power : float or torch.Tensor or None
        Budget of :math:`\sum_{m,u}|p_{m,u}|^2` (scalar or ``[B]``; ``K S`` is the physical
        invariant of the module docstring). ``None`` keeps the target's own scale
        (budget :math:`\sum_m\|\mathbf F_m\|_F^2/N_t`), so a realizable target is returned
        exactly. The target is scaled to the budget before decomposing, so the returned error
        is scale-free.

    Returns
    -------
    HybridResult
        ``error_history[:, 0]`` is the error of the start (``F_RF`` of (19) with
        :math:`\mathbf F_{{\rm BB},m} = \mathbf I`, equal power scaled to the budget); column
        ``n`` the error after iteration ``n``; the returned design is the last iterate.

    Raises
    ------
    ShapeError, ValueRangeError, ConfigError
        For malformed arguments.

    Notes
    -----
    Readings: (19) is continuous, so its phases are quantized by (37) (spec §6.8); the
    inverse of a diagonal :math:`\mathbf F_{{\rm BB},m}` with a zero entry is taken as the
    pseudo-inverse (that entry contributes nothing). The pseudo-inverse in (21) is
    :math:`\mathbf f^H/N_t` because :math:`\|\mathbf f_{{\rm RF},u}\|^2 = N_t`. The paper's
    (20a)/(22) budgets (:math:`1/N_t`, 1) are replaced by the invariant of spec §6.1. The
    iteration is the paper's and is not guaranteed monotone (the (17) bound is minimized, not
    (16)); its first iteration is optimal over :math:`\mathbf p` at fixed power, so
    ``error_history[:, 1] ≤ error_history[:, 0]``. Cost per iteration
    :math:`O(S M K)`; batched over ``B``.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> f = torch.randn(2, 4, 8, 2, dtype=torch.complex128, generator=g)
    >>> res = hybrid_decompose(f, bits=3, n_iter=5, power=8.0)
    >>> res.f.shape, round(float((res.p.abs() ** 2).sum(dim=(1, 2))[0]), 6)
    (torch.Size([2, 4, 8, 2]), 8.0)
    """
    _check_bits(bits)
    if not isinstance(n_iter, int) or isinstance(n_iter, bool) or n_iter < 1:
        raise ConfigError(f"n_iter must be an integer >= 1, got {n_iter!r}")
    target, budget = _target(f_digital, power)
    b, s, m, k = target.shape
    p = torch.ones(b, s, k, dtype=target.dtype, device=target.device)  # F_BB,m = I
    f_rf = quantize_phases(target.sum(1), bits)  # (19) with F_BB,m = I (weights constant)
    history = [_rel_error(target, f_rf, normalize_power(p, budget))]
    for _ in range(n_iter):
        weight = (p.abs() ** 2).sum(-1, keepdim=True)  # ||F_BB,m||_F²: [B, S, 1]
        inv = torch.where(p != 0, 1.0 / torch.where(p != 0, p, torch.ones_like(p)),
                          torch.zeros_like(p))
        f_rf = quantize_phases((target * (weight * inv).unsqueeze(-2)).sum(1), bits)  # (19)
        p = _ls_digital(target, f_rf, budget)  # (21)–(22)
        history.append(_rel_error(target, f_rf, p))
    err = torch.stack(history, dim=-1)
    return HybridResult(f_rf=f_rf, p=p, f=hybrid_precoder(f_rf, p), error=err[:, -1],
                        error_history=err)


def angular_dictionary(num_antennas: int, num_grid: int, *, dtype: torch.dtype = torch.complex128,
                       device: torch.device | str | None = None) -> torch.Tensor:
    r"""Angular dictionary :math:`\mathbf D_t` ``[M, G]`` of eq. (25) / [26].

    Column ``g`` is :math:`\mathbf a_t(\theta_g)`,
    :math:`[\mathbf a_t(\theta)]_i = M^{-1/2}e^{-j i\pi\sin\theta}` (0-based ``i``; first-element
    reference, sign −1, unit norm: :func:`isaclearn.arrays.ula_u` defaults), with
    :math:`\sin\theta_g = -1 + 2g/G`, ``g = 0..G-1`` (uniform on ``[−1, 1)``).

    Parameters
    ----------
    num_antennas : int
        ``M`` (:math:`N_t`).
    num_grid : int
        ``G`` (:math:`G_t`).
    dtype, device
        Of the result (complex).

    Returns
    -------
    torch.Tensor
        ``[M, G]`` complex, unit-norm columns.

    Examples
    --------
    >>> d = angular_dictionary(4, 8)
    >>> d.shape, round(float(d[:, 3].abs().square().sum()), 12)
    (torch.Size([4, 8]), 1.0)
    """
    check_count(num_antennas, "num_antennas")
    check_count(num_grid, "num_grid")
    u = -1.0 + 2.0 * torch.arange(num_grid, dtype=torch.float64) / num_grid
    return ula_u(num_antennas, u).transpose(0, 1).to(dtype=dtype, device=device)


def omp_decompose(f_digital: torch.Tensor, bits: int | None = 3, num_grid: int = 64,
                  power: torch.Tensor | float | None = None,
                  dictionary: torch.Tensor | None = None) -> HybridResult:
    r"""OMP hybrid decomposition (El Ayach et al. 2014) over a quantized steering dictionary.

    Candidates are the columns of :math:`\sqrt{M}\,\mathbf D_t` (:func:`angular_dictionary`)
    with their phases quantized by (37), i.e. unit-modulus analog beams
    :math:`\mathbf c_g`. Because :math:`\mathbf F_{{\rm BB},m}` is diagonal, objective (16)
    separates over the streams, and OMP with one atom per RF chain becomes, for every stream
    ``u``,

    .. math::
       g_u = \arg\max_g \sum_m |\mathbf c_g^H\mathbf f_{m,u}|^2,\qquad
       \mathbf f_{{\rm RF},u} = \mathbf c_{g_u},\qquad
       \hat p_{m,u} = \mathbf c_{g_u}^H\mathbf f_{m,u}/M,

    then :math:`\mathbf p` is scaled to the budget (22).

    Parameters
    ----------
    f_digital : torch.Tensor
        Target precoders ``[B, S, M, K]`` complex.
    bits : int or None
        Phase resolution of the candidates (``None``: unquantized steering vectors).
    num_grid : int
        ``G`` of the dictionary (ignored when ``dictionary`` is given).
    power : float or torch.Tensor or None
        Budget of :math:`\sum|p|^2` as in :func:`hybrid_decompose`.
    dictionary : torch.Tensor, optional
        ``[M, G]`` candidate directions (their phases are used), default
        :func:`angular_dictionary` ``(M, num_grid)``.

    Returns
    -------
    HybridResult
        ``error_history`` is ``[B, 1]``.

    Notes
    -----
    The selection uses the quantized candidates themselves (all have norm :math:`\sqrt M`, so
    the largest correlation is the best one-atom least-squares fit); a precoder whose every
    column is a multiple of one candidate per subcarrier-independent stream is recovered
    exactly. Two streams may pick the same atom (no exclusion: the streams are decoupled).
    Batched over ``B``.

    Examples
    --------
    >>> import torch
    >>> d = quantize_phases(4 ** 0.5 * angular_dictionary(4, 8), 3)
    >>> f = (d[:, [1, 5]] * torch.tensor([1.0, 2.0], dtype=torch.complex128))[None, None]
    >>> res = omp_decompose(f, bits=3, num_grid=8)
    >>> float(res.error[0]) < 1e-20
    True
    """
    _check_bits(bits)
    target, budget = _target(f_digital, power)
    m = target.shape[-2]
    if dictionary is None:
        dictionary = angular_dictionary(m, num_grid, dtype=target.dtype, device=target.device)
    if dictionary.dim() != 2 or dictionary.shape[0] != m or not dictionary.is_complex():
        raise ShapeError(f"dictionary must be complex [M, G] with M = {m}, got "
                         f"{tuple(dictionary.shape)}")
    cand = quantize_phases(dictionary.to(device=target.device, dtype=target.dtype), bits)
    corr = (torch.einsum("mg,bsmk->bsgk", cand.conj(), target).abs() ** 2).sum(1)  # [B, G, K]
    best = corr.argmax(1)  # [B, K]
    f_rf = cand.transpose(0, 1)[best].transpose(-2, -1)  # [B, M, K]
    p = _ls_digital(target, f_rf, budget)
    err = _rel_error(target, f_rf, p)
    return HybridResult(f_rf=f_rf, p=p, f=hybrid_precoder(f_rf, p), error=err,
                        error_history=err[:, None])


# --------------------------------------------------------------------------------------------
# DRL action rules: UU (30)–(32) and AU (33)–(37)
# --------------------------------------------------------------------------------------------


@dataclass
class HybridUpdate:
    """Result of :func:`apply_uu` / :func:`apply_au`.

    Attributes
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` updated analog precoder (unit modulus, on the phase grid).
    p : torch.Tensor
        ``[B, S, K]`` updated digital diagonals, :math:`\\sum|p|^2` = the budget.
    index : torch.Tensor
        ``[B]`` int64: the sampled column ``u*`` (UU) or row ``i*`` (AU), 0-based.
    """

    f_rf: torch.Tensor
    p: torch.Tensor
    index: torch.Tensor


def _check_action(x: torch.Tensor, shape: tuple[int, int], name: str, low: float,
                  high: float) -> None:
    if not isinstance(x, torch.Tensor) or tuple(x.shape) != shape or x.is_complex():
        raise ShapeError(f"{name} must be a real tensor of shape {list(shape)}, got "
                         f"{getattr(x, 'shape', type(x))}")
    if not bool(torch.isfinite(x).all()) or not bool(((x >= low) & (x <= high)).all()):
        raise ValueRangeError(f"{name} must lie in [{low:g}, {high:g}]")


def _sample(weights: torch.Tensor, allowed: torch.Tensor, generator: torch.Generator | None,
            index: torch.Tensor | None) -> torch.Tensor:
    """One index per row with probability ∝ ``weights`` on ``allowed`` entries (30)/(33);
    a row whose allowed weights are all zero is sampled uniformly over ``allowed``."""
    b, n = weights.shape
    if index is not None:
        idx = torch.as_tensor(index, device=weights.device)
        if idx.shape != (b,) or idx.dtype not in (torch.int64, torch.int32):
            raise ShapeError(f"index must be an integer tensor [B] = [{b}], got "
                             f"{tuple(idx.shape)} {idx.dtype}")
        if not bool(((idx >= 0) & (idx < n)).all()) or \
                not bool(allowed.gather(1, idx.long()[:, None]).all()):
            raise ValueRangeError(f"index must select an allowed entry in [0, {n})")
        return idx.long()
    w = weights.to(torch.float64) * allowed
    w = torch.where((w.sum(-1, keepdim=True) > 0), w, allowed.to(torch.float64))
    return torch.multinomial(w, 1, generator=generator).squeeze(-1)


def apply_uu(f_rf: torch.Tensor, p: torch.Tensor, a_rf1: torch.Tensor, a_rf2: torch.Tensor,
             a_bb: torch.Tensor, num_users_mask: torch.Tensor | None, bits: int,
             power: torch.Tensor | float | None, generator: torch.Generator | None, *,
             index: torch.Tensor | None = None, step_bb: float = 1.0) -> HybridUpdate:
    r"""Action type I, update across the user dimension (DRL-UU, eqs. 30–32).

    .. math::
       P(u^* = u) = \frac{a_{\rm RF,1}[u]}{\|a_{\rm RF,1}\|_1}\ (30),\quad
       \angle\mathbf F_{\rm RF}[i,u^*] \mathrel{+}= \pm\Delta\theta\ \text{by the sign of }
       a_{\rm RF,2}[i]\ (31),\quad p_{m,u^*} \mathrel{+}= a_{\rm BB}[m]\ (32),

    with :math:`\Delta\theta = 2\pi/2^{\rm bits}`, then :math:`\mathbf p` renormalized to the
    budget.

    Parameters
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` complex, unit modulus on the ``bits`` grid (``K`` = :math:`U^{\max}`).
    p : torch.Tensor
        ``[B, S, K]`` complex digital diagonals.
    a_rf1 : torch.Tensor
        ``[B, K]`` in ``[0, 1]``: column selection weights (masked to the real users).
    a_rf2 : torch.Tensor
        ``[B, M]`` in ``[−1, 1]``: sign of the phase step per antenna (``≥ 0`` → ``+Δθ``).
    a_bb : torch.Tensor
        ``[B, S]`` in ``[−1, 1]``: increment of :math:`p_{m,u^*}`.
    num_users_mask : torch.Tensor or None
        ``[B, K]`` bool, real users (``None``: all). Padded users keep ``p = 0``.
    bits : int
        Phase resolution ``B``.
    power : float or torch.Tensor or None
        Budget of :math:`\sum|p|^2` (``None``: real users × ``S``, spec §6.1).
    generator : torch.Generator or None
        Source of the sampling of ``u*`` (one ``torch.multinomial`` draw per instance).
    index : torch.Tensor, optional
        ``[B]`` column to update instead of sampling one.
    step_bb : float
        Step :math:`\eta_{\rm BB}` multiplying ``a_bb`` (spec §6.9: 1, the literal (32)).

    Returns
    -------
    HybridUpdate
        Only column ``u*`` of ``f_rf`` changes; ``p`` changes in column ``u*`` and by the
        common renormalization factor.

    Notes
    -----
    Readings (spec §6.9): ``a_RF,2`` is taken in ``[−1, 1]`` (the text says ``[0, 1]`` but (31)
    tests its sign); ``a_BB`` is added to the complex :math:`p` literally. A row of
    ``a_rf1`` with zero weight on every real user selects uniformly among them. The phase
    step is taken on the grid (the result is re-quantized, which is exact for on-grid input).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> c = torch.complex128
    >>> f_rf, p = torch.ones(1, 4, 2, dtype=c), torch.ones(1, 3, 2, dtype=c)
    >>> out = apply_uu(f_rf, p, torch.tensor([[0.0, 1.0]]), torch.ones(1, 4), torch.zeros(1, 3),
    ...                None, 3, None, g)
    >>> int(out.index[0]), bool((out.f_rf[0, :, 0] == 1).all())
    (1, True)
    """
    b, s, m, k = _check_pair(f_rf, p)
    if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1:
        raise ConfigError(f"bits must be an integer >= 1 for the UU phase step, got {bits!r}")
    rdt = f_rf.real.dtype
    _check_action(a_rf1, (b, k), "a_rf1", 0.0, 1.0)
    _check_action(a_rf2, (b, m), "a_rf2", -1.0, 1.0)
    _check_action(a_bb, (b, s), "a_bb", -1.0, 1.0)
    mask = _user_mask(num_users_mask, b, k, f_rf.device)
    u_star = _sample(a_rf1, mask, generator, index)
    sel = torch.nn.functional.one_hot(u_star, k).to(torch.bool)  # [B, K]
    step = torch.where(a_rf2 >= 0, 1.0, -1.0).to(rdt) * (2.0 * math.pi / 2**bits)  # (31)
    rotated = quantize_phases(f_rf * torch.polar(torch.ones_like(step), step).unsqueeze(-1), bits)
    f_new = torch.where(sel[:, None, :], rotated, f_rf)
    p_new = p + (step_bb * a_bb).to(p.dtype).unsqueeze(-1) * sel[:, None, :].to(p.dtype)  # (32)
    p_new = normalize_power(p_new, power, num_users_mask=mask if num_users_mask is not None
                            else None)
    return HybridUpdate(f_rf=f_new, p=p_new, index=u_star)


def apply_au(f_rf: torch.Tensor, p: torch.Tensor, a_rf: torch.Tensor, a_bb: torch.Tensor,
             eta_r: float, bits: int | None, power: torch.Tensor | float | None,
             generator: torch.Generator | None, *, index: torch.Tensor | None = None,
             num_users_mask: torch.Tensor | None = None) -> HybridUpdate:
    r"""Action type II, update across the antenna dimension (DRL-AU, eqs. 33–37).

    .. math::
       P(i^* = i) = \frac{a_{\rm RF}[i]}{\|a_{\rm RF}\|_1}\ (33),\qquad
       g_{m,u} = |\mathbf F_m[i^*,u]|\,e^{j\pi a_{\rm BB}[m]}\ (34),\qquad
       \mathbf F_m'[i^*,u] = \mathbf F_m[i^*,u] + \eta_r g_{m,u}\ (35),

    then (36) :math:`\angle\mathbf F_{\rm RF}[i^*,u] \leftarrow \angle\sum_m
    \mathbf F_m'[i^*,u]\,\overline{p_{m,u}}/|p_{m,u}|` and
    :math:`|p_{m,u}| \leftarrow |\mathbf F_m'[i^*,u]|` (phase of :math:`p_{m,u}` kept),
    :math:`\mathbf p` renormalized to the budget and row ``i*`` quantized by (37).

    Parameters
    ----------
    f_rf : torch.Tensor
        ``[B, M, K]`` complex, unit modulus.
    p : torch.Tensor
        ``[B, S, K]`` complex digital diagonals.
    a_rf : torch.Tensor
        ``[B, M]`` in ``[0, 1]``: antenna selection weights.
    a_bb : torch.Tensor
        ``[B, S]`` in ``[−1, 1]``: phase (in units of π) of the differential per subcarrier.
    eta_r : float
        Update rate :math:`\eta_r` (Table III: 0.1).
    bits : int or None
        Phase resolution (``None``: continuous).
    power : float or torch.Tensor or None
        Budget of :math:`\sum|p|^2` (``None``: real users × ``S``).
    generator : torch.Generator or None
        Source of the sampling of ``i*``.
    index : torch.Tensor, optional
        ``[B]`` row to update instead of sampling one.
    num_users_mask : torch.Tensor, optional
        ``[B, K]`` bool, real users (padded users keep ``p = 0``; by (34) a zero ``p`` stays
        zero anyway).

    Returns
    -------
    HybridUpdate
        Only row ``i*`` of ``f_rf`` changes; ``p`` changes everywhere (the magnitudes of the
        updated entries and the renormalization).

    Notes
    -----
    Readings (spec §6.10): (34)'s :math:`e^{j\pi\angle(a_{\rm BB}[m])}` is read as the phase
    :math:`\pi a_{\rm BB}[m]` (the same for all users); (36) needs one phase from ``S`` values,
    so the least-squares common phase above is used; a user with :math:`p_{m,u} = 0` on every
    subcarrier keeps its analog phase. Order as in the paper: renormalize, then quantize.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> c = torch.complex128
    >>> f_rf, p = torch.ones(1, 4, 2, dtype=c), torch.ones(1, 3, 2, dtype=c)
    >>> out = apply_au(f_rf, p, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), torch.full((1, 3), 0.5),
    ...                0.1, 3, None, g)
    >>> int(out.index[0]), round(float((out.p.abs() ** 2).sum()), 9)
    (2, 6.0)
    """
    b, s, m, k = _check_pair(f_rf, p)
    _check_bits(bits)
    if not (isinstance(eta_r, (int, float)) and math.isfinite(eta_r) and eta_r >= 0):
        raise ValueRangeError(f"eta_r must be finite and non-negative, got {eta_r!r}")
    _check_action(a_rf, (b, m), "a_rf", 0.0, 1.0)
    _check_action(a_bb, (b, s), "a_bb", -1.0, 1.0)
    mask = _user_mask(num_users_mask, b, k, f_rf.device)
    allowed = torch.ones(b, m, dtype=torch.bool, device=f_rf.device)
    i_star = _sample(a_rf, allowed, generator, index)
    rows = torch.arange(b, device=f_rf.device)
    row = f_rf[rows, i_star]  # [B, K]
    pc = p.to(f_rf.dtype)
    f_old = row.unsqueeze(1) * pc  # F_m[i*, u]: [B, S, K]
    rdt = f_rf.real.dtype
    phase_bb = (math.pi * a_bb).to(rdt)
    g = f_old.abs() * torch.polar(torch.ones_like(phase_bb), phase_bb).unsqueeze(-1)  # (34)
    f_upd = f_old + eta_r * g  # (35)
    p_abs = pc.abs()
    unit_p = torch.where(p_abs > 0, pc / torch.where(p_abs > 0, p_abs, 1.0).to(pc.dtype),
                         torch.zeros_like(pc))  # e^{j∠p}, 0 where p = 0
    z = (f_upd * unit_p.conj()).sum(1)  # LS common phase (36): [B, K]
    z_abs = z.abs()
    new_row = torch.where(z_abs > 0, z / torch.where(z_abs > 0, z_abs, 1.0).to(z.dtype), row)
    p_new = f_upd.abs().to(pc.dtype) * unit_p  # |p_{m,u}| ← |F'_m[i*, u]| (36)
    p_new = normalize_power(p_new, power,
                            num_users_mask=mask if num_users_mask is not None else None)
    new_row = quantize_phases(new_row, bits)  # (37)
    f_new = f_rf.clone()
    f_new[rows, i_star] = new_row
    return HybridUpdate(f_rf=f_new, p=p_new.to(p.dtype), index=i_star)
